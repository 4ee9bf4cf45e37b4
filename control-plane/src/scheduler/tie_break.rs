//! Deterministic but fair choice among equally scored nodes.

use k8s_openapi::api::core::v1::Pod;

/// FNV-1a of pod UID (or namespace/name) and node name: stable for one pod,
/// different across pods, so equal nodes take turns.
pub fn tie_key(pod: &Pod, node_name: &str) -> u64 {
    let identity = match pod.metadata.uid.as_deref() {
        Some(uid) => uid.to_string(),
        None => format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default()
        ),
    };
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in identity.bytes().chain([0u8]).chain(node_name.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

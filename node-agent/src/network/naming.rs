//! Names derived from pod keys: validation and host-side veth names.

use super::error::NetworkError;

const MAX_POD_KEY_LEN: usize = 128;

/// Pod keys become file names (netns file, state record): allow only a safe character set.
pub(crate) fn validate_pod_key(pod_key: &str) -> Result<(), NetworkError> {
    let safe = pod_key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if pod_key.is_empty() || pod_key.len() > MAX_POD_KEY_LEN || !safe || pod_key.starts_with('.') {
        return Err(NetworkError::InvalidPodKey(pod_key.to_string()));
    }
    Ok(())
}

/// "veth" + 8 hex digits of a stable hash of the pod key (interface names are limited to 15
/// bytes). FNV-1a rather than std's hasher, whose output may change between Rust releases.
pub(crate) fn host_veth_name(pod_key: &str) -> String {
    let hash = pod_key.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    format!("veth{hash:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_names_are_short_stable_and_distinct() {
        let a = host_veth_name("6f1c1c1e-1111-4a4a-9b9b-000000000001");
        assert_eq!(a.len(), 12);
        assert_eq!(a, host_veth_name("6f1c1c1e-1111-4a4a-9b9b-000000000001"));
        assert_ne!(a, host_veth_name("6f1c1c1e-1111-4a4a-9b9b-000000000002"));
        assert_eq!(host_veth_name(""), "veth811c9dc5");
    }

    #[test]
    fn pod_keys_must_be_file_name_safe() {
        assert!(validate_pod_key("6f1c1c1e-1111-4a4a-9b9b-000000000001").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", ".hidden", &"x".repeat(129)] {
            assert!(validate_pod_key(bad).is_err(), "{bad:?} accepted");
        }
    }
}

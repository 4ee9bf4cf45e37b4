//! The pod template's identity across ReplicaSets: the `pod-template-hash`
//! that names a Deployment's ReplicaSets, template equality that ignores
//! it, and the revision annotations.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;
use std::collections::BTreeMap;

pub const HASH_LABEL: &str = "pod-template-hash";
pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

/// Deployment annotations that are not copied onto its ReplicaSets.
const NOT_COPIED: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// The characters Kubernetes uses for generated name suffixes (no vowels,
/// so no words; no 0, 1, 3 that look like letters).
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The `pod-template-hash` of a template: FNV-1a over its serialized form
/// and the collision count, spelled in the safe alphabet like upstream.
pub fn hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(template).unwrap_or_default();
    if let Some(c) = collision_count {
        bytes.extend_from_slice(&c.to_le_bytes());
    }
    fnv1a32(&bytes).to_string().bytes().map(|b| SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()] as char).collect()
}

/// The template without the hash label, as Deployments hold it.
pub fn without_hash(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = template.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(HASH_LABEL);
    }
    t
}

/// Whether two templates are the same once the hash label is set aside.
/// Like apimachinery's semantic equality, an empty map, list or object
/// counts the same as a missing one (clients written in Go send
/// `resources: {}` where we send nothing).
pub fn equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let norm = |t: &PodTemplateSpec| {
        let mut v = serde_json::to_value(without_hash(t)).unwrap_or_default();
        prune_empty(&mut v);
        v
    };
    norm(a) == norm(b)
}

/// Drop nulls and empty objects and lists, innermost first.
fn prune_empty(v: &mut Value) -> bool {
    match v {
        Value::Object(map) => {
            map.retain(|_, x| !prune_empty(x));
            map.is_empty()
        }
        Value::Array(items) => {
            for x in items.iter_mut() {
                prune_empty(x);
            }
            items.is_empty()
        }
        Value::Null => true,
        _ => false,
    }
}

/// A ReplicaSet's revision number (0 when it has none or it is garbled).
pub fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata.annotations.as_ref().and_then(|a| a.get(REVISION)).and_then(|r| r.parse().ok()).unwrap_or(0)
}

/// The annotations a ReplicaSet takes from its Deployment (change-cause and
/// the user's own), leaving out the controller's bookkeeping.
pub fn copied_annotations(d: &Deployment) -> BTreeMap<String, String> {
    d.metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| !NOT_COPIED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn template(image: &str, labels: &[(&str, &str)]) -> PodTemplateSpec {
        serde_json::from_value(serde_json::json!({
            "metadata": {"labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>()},
            "spec": {"containers": [{"name": "c", "image": image}]},
        }))
        .expect("template")
    }

    #[test]
    fn hash_is_stable_and_safe() {
        let t = template("echo:v1", &[("app", "a")]);
        let h = hash(&t, None);
        assert_eq!(h, hash(&t, None));
        assert!(!h.is_empty() && h.len() <= 10);
        assert!(h.bytes().all(|b| SAFE_ALPHABET.contains(&b)), "{h}");
    }

    #[test]
    fn hash_changes_with_template_and_collisions() {
        let a = template("echo:v1", &[("app", "a")]);
        let b = template("echo:v2", &[("app", "a")]);
        assert_ne!(hash(&a, None), hash(&b, None));
        assert_ne!(hash(&a, None), hash(&a, Some(1)));
        assert_ne!(hash(&a, Some(1)), hash(&a, Some(2)));
    }

    #[test]
    fn equality_ignores_only_the_hash_label() {
        let d = template("echo:v1", &[("app", "a")]);
        let rs = template("echo:v1", &[("app", "a"), (HASH_LABEL, "xyz")]);
        assert!(equal_ignoring_hash(&d, &rs));
        assert!(!equal_ignoring_hash(&template("echo:v2", &[("app", "a")]), &rs));
        assert!(!equal_ignoring_hash(&template("echo:v1", &[("app", "b")]), &rs));
        assert!(equal_ignoring_hash(&template("echo:v1", &[]), &template("echo:v1", &[(HASH_LABEL, "q")])));
        // `resources: {}` from a Go client equals no resources at all.
        let mut go = template("echo:v1", &[("app", "a")]);
        go.spec.as_mut().unwrap().containers[0].resources = Some(Default::default());
        assert!(equal_ignoring_hash(&go, &rs));
    }

    #[test]
    fn revisions_and_copied_annotations() {
        let mut rs = ReplicaSet::default();
        assert_eq!(revision(&rs), 0);
        rs.metadata.annotations = Some([(REVISION.to_string(), "7".to_string())].into());
        assert_eq!(revision(&rs), 7);
        rs.metadata.annotations = Some([(REVISION.to_string(), "x".to_string())].into());
        assert_eq!(revision(&rs), 0);
        let d = Deployment {
            metadata: ObjectMeta {
                annotations: Some(
                    [
                        ("kubernetes.io/change-cause", "v2"),
                        (REVISION, "3"),
                        ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ),
                ..Default::default()
            },
            ..Default::default()
        };
        let copied = copied_annotations(&d);
        assert_eq!(copied.len(), 1);
        assert_eq!(copied.get("kubernetes.io/change-cause").map(String::as_str), Some("v2"));
    }
}

//! Decoding, defaulting and validation of built-in objects, through the k8s-openapi types.
//!
//! Order of use on a write: [`decode_builtin`] (prunes unknown fields), [`default_builtin`],
//! then [`validate_object_meta`] and [`validate_builtin`] (and on update,
//! [`prepare_update_builtin`] before validation and [`validate_object_meta_update`]).
//! Validation expects defaulted objects, as the apiserver's does.

pub mod field_error;

mod apps;
mod batch;
mod common;
mod container;
mod core;
mod crd;
mod cron;
mod decode;
mod meta;
mod names;
mod networking;
mod other;
mod path;
mod pod;
pub mod quantity;
mod service;
mod storage;

use k8s_openapi::api::apps::v1 as apps_v1;
use k8s_openapi::api::batch::v1 as batch_v1;
use k8s_openapi::api::coordination::v1 as coordination_v1;
use k8s_openapi::api::core::v1 as core_v1;
use k8s_openapi::api::discovery::v1 as discovery_v1;
use k8s_openapi::api::events::v1 as events_v1;
use k8s_openapi::api::networking::v1 as networking_v1;
use k8s_openapi::api::policy::v1 as policy_v1;
use k8s_openapi::api::storage::v1 as storage_v1;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions_v1;
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope, Resource};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use field_error::FieldError;

pub use decode::{DecodeError, Decoded};
pub use meta::{validate_object_meta, validate_object_meta_update};
pub use names::{
    is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_path_segment_name, is_qualified_name,
    is_valid_label_value, name_rule, NameRule,
};

/// Whether a resource scope is namespaced.
pub(crate) trait Scope {
    const NAMESPACED: bool;
}

impl Scope for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}

impl Scope for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

/// What this module knows about one built-in type. Defaults and validation work on the typed
/// k8s-openapi struct; the JSON entry points below convert in and out.
pub(crate) trait Builtin: Resource<Scope: Scope> + Serialize + DeserializeOwned + JsonSchema {
    /// Kubernetes' defaults for this kind (`SetDefaults_*`), including nested pod templates.
    fn set_defaults(&mut self) {}

    /// Kind-specific rules; `old` is the stored object on update. Reports every problem.
    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        Vec::new()
    }

    /// Carries over on update what the apiserver's strategy keeps from the stored object
    /// (allocated IPs, generated selectors) when the request leaves it out.
    fn prepare_update(&mut self, _old: &Self) {}
}

/// An operation run on the type that a (group, kind) names.
trait KindOp {
    type Output;
    fn run<T: Builtin>(self) -> Self::Output;
}

/// The table of known kinds: adding a kind is one line here plus its `Builtin` impl.
macro_rules! builtin_kinds {
    ($($ty:ty),+ $(,)?) => {
        fn dispatch<Op: KindOp>(group: &str, kind: &str, op: Op) -> Option<Op::Output> {
            $(
                if group == <$ty as Resource>::GROUP && kind == <$ty as Resource>::KIND {
                    return Some(op.run::<$ty>());
                }
            )+
            None
        }
    };
}

builtin_kinds!(
    core_v1::Namespace,
    core_v1::Pod,
    core_v1::Service,
    core_v1::Endpoints,
    core_v1::ConfigMap,
    core_v1::Secret,
    core_v1::ServiceAccount,
    core_v1::Node,
    core_v1::Event,
    core_v1::PersistentVolume,
    core_v1::PersistentVolumeClaim,
    core_v1::ResourceQuota,
    core_v1::LimitRange,
    core_v1::PodTemplate,
    core_v1::ReplicationController,
    apps_v1::Deployment,
    apps_v1::ReplicaSet,
    apps_v1::StatefulSet,
    apps_v1::DaemonSet,
    apps_v1::ControllerRevision,
    batch_v1::Job,
    batch_v1::CronJob,
    networking_v1::Ingress,
    networking_v1::IngressClass,
    networking_v1::NetworkPolicy,
    discovery_v1::EndpointSlice,
    events_v1::Event,
    coordination_v1::Lease,
    storage_v1::StorageClass,
    policy_v1::PodDisruptionBudget,
    apiextensions_v1::CustomResourceDefinition,
);

/// Kinds this module knows, by API group (`""` = core) and kind.
pub fn is_builtin(group: &str, kind: &str) -> bool {
    struct Known;
    impl KindOp for Known {
        type Output = ();
        fn run<T: Builtin>(self) {}
    }
    dispatch(group, kind, Known).is_some()
}

/// Whether a known kind is namespaced; `None` for kinds this module does not know.
pub fn is_namespaced(group: &str, kind: &str) -> Option<bool> {
    struct Namespaced;
    impl KindOp for Namespaced {
        type Output = bool;
        fn run<T: Builtin>(self) -> bool {
            <T::Scope as Scope>::NAMESPACED
        }
    }
    dispatch(group, kind, Namespaced)
}

/// Decodes through the k8s-openapi type: the object as the type serializes it (unknown fields
/// dropped, as Kubernetes prunes them) and the unknown fields as dotted paths with indices.
pub fn decode_builtin(group: &str, kind: &str, obj: &Value) -> Result<Decoded, DecodeError> {
    struct Decode<'a>(&'a Value);
    impl KindOp for Decode<'_> {
        type Output = Result<Decoded, DecodeError>;
        fn run<T: Builtin>(self) -> Self::Output {
            decode::decode_as::<T>(self.0)
        }
    }
    dispatch(group, kind, Decode(obj))
        .unwrap_or_else(|| Err(DecodeError(format!("no built-in kind {kind} in group {group:?}"))))
}

/// Applies Kubernetes' defaults for the kind. Objects that do not decode are left unchanged
/// (decode first to report why).
pub fn default_builtin(group: &str, kind: &str, obj: &mut Value) {
    struct Defaults<'a>(&'a mut Value);
    impl KindOp for Defaults<'_> {
        type Output = ();
        fn run<T: Builtin>(self) {
            let Ok(mut typed) = decode::read_as::<T>(self.0) else { return };
            typed.set_defaults();
            if let Ok(value) = serde_json::to_value(&typed) {
                *self.0 = value;
            }
        }
    }
    dispatch(group, kind, Defaults(obj));
}

/// Kind-specific validation; `old` is the stored object on update. Reports every problem.
pub fn validate_builtin(group: &str, kind: &str, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    struct Validate<'a>(&'a Value, Option<&'a Value>);
    impl KindOp for Validate<'_> {
        type Output = Vec<FieldError>;
        fn run<T: Builtin>(self) -> Vec<FieldError> {
            let new = match decode::read_as::<T>(self.0) {
                Ok(new) => new,
                Err(e) => return vec![FieldError::new(field_error::ErrorType::Invalid, "", None, e.0)],
            };
            // A stored object that no longer decodes cannot constrain the update.
            let old = self.1.and_then(|old| decode::read_as::<T>(old).ok());
            new.validate(old.as_ref())
        }
    }
    dispatch(group, kind, Validate(obj, old)).unwrap_or_default()
}

/// Before validating an update: fills in what the request left out but the stored object has
/// and Kubernetes keeps (a Service's cluster IPs and node ports, a Job's generated selector).
pub fn prepare_update_builtin(group: &str, kind: &str, obj: &mut Value, old: &Value) {
    struct Prepare<'a>(&'a mut Value, &'a Value);
    impl KindOp for Prepare<'_> {
        type Output = ();
        fn run<T: Builtin>(self) {
            let (Ok(mut new), Ok(old)) = (decode::read_as::<T>(self.0), decode::read_as::<T>(self.1)) else {
                return;
            };
            new.prepare_update(&old);
            if let Ok(value) = serde_json::to_value(&new) {
                *self.0 = value;
            }
        }
    }
    dispatch(group, kind, Prepare(obj, old));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn knows_the_listed_kinds() {
        for (group, kind) in [
            ("", "Pod"),
            ("", "Event"),
            ("events.k8s.io", "Event"),
            ("apps", "Deployment"),
            ("batch", "CronJob"),
            ("networking.k8s.io", "Ingress"),
            ("discovery.k8s.io", "EndpointSlice"),
            ("coordination.k8s.io", "Lease"),
            ("storage.k8s.io", "StorageClass"),
            ("policy", "PodDisruptionBudget"),
            ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ] {
            assert!(is_builtin(group, kind), "{group}/{kind}");
        }
        assert!(!is_builtin("apps", "Pod"));
        assert!(!is_builtin("example.com", "Widget"));
        assert_eq!(is_namespaced("", "Pod"), Some(true));
        assert_eq!(is_namespaced("", "Namespace"), Some(false));
        assert_eq!(is_namespaced("example.com", "Widget"), None);
    }

    #[test]
    fn full_pipeline_on_a_deployment() {
        let input = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "imagee": "x"}]}}
            }
        });
        let decoded = decode_builtin("apps", "Deployment", &input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(decoded.unknown_fields, vec!["spec.template.spec.containers[0].imagee"]);
        let mut obj = decoded.object;
        default_builtin("apps", "Deployment", &mut obj);
        assert_eq!(obj["spec"]["replicas"], 1);
        assert_eq!(obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(validate_object_meta(&obj, true, name_rule("apps", "Deployment")), vec![]);
        assert_eq!(validate_builtin("apps", "Deployment", &obj, None), vec![]);
        assert_eq!(validate_builtin("apps", "Deployment", &obj, Some(&obj)), vec![]);
    }

    #[test]
    fn realistic_objects_have_no_spurious_unknown_fields() {
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com", "annotations": {"a": "b"}},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": ["wd"]},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object",
                        "x-kubernetes-validations": [{"rule": "self.size > 0", "message": "size"}],
                        "properties": {"size": {"type": "integer", "default": 1, "minimum": 0}, "port": {"x-kubernetes-int-or-string": true},
                            "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                            "extra": {"type": "object", "additionalProperties": {"type": "string"}}}}}}},
                    "subresources": {"status": {}}}]}
        });
        let decoded = decode_builtin("apiextensions.k8s.io", "CustomResourceDefinition", &crd).map_err(|e| e.0);
        assert_eq!(decoded.map(|d| d.unknown_fields), Ok(Vec::<String>::new()));

        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "labels": {"app": "x"}, "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u", "controller": true, "blockOwnerDeletion": true}]},
            "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {"limits": {"cpu": 1, "memory": "1Gi"}},
                "securityContext": {"runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "httpHeaders": [{"name": "X", "value": "y"}]}}}],
                "volumes": [{"name": "cfg", "configMap": {"name": "cfg", "items": [{"key": "a", "path": "a"}]}}],
                "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "x"}}}}]}}},
            "status": {"phase": "Running", "podIP": "10.0.0.1", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}]}
        });
        let decoded = decode_builtin("", "Pod", &pod).map_err(|e| e.0);
        assert_eq!(decoded.map(|d| d.unknown_fields), Ok(Vec::<String>::new()));
    }

    #[test]
    fn unknown_kinds_are_left_alone() {
        let mut obj = json!({"spec": {}});
        default_builtin("example.com", "Widget", &mut obj);
        assert_eq!(obj, json!({"spec": {}}));
        assert!(validate_builtin("example.com", "Widget", &obj, None).is_empty());
        assert!(decode_builtin("example.com", "Widget", &obj).is_err());
    }

    #[test]
    fn validation_of_undecodable_objects_reports_the_decode_error() {
        let obj = json!({"metadata": {"name": "p"}, "spec": {"containers": "nope"}});
        let errs = validate_builtin("", "Pod", &obj, None);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].detail.contains("cannot unmarshal string into Go struct field PodSpec.spec.containers"));
    }
}

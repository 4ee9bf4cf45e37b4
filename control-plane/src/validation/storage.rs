//! Storage: PersistentVolume, PersistentVolumeClaim (also used by StatefulSet claim templates)
//! and StorageClass.

use k8s_openapi::api::core::v1::{
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimStatus,
    PersistentVolumeSpec, PersistentVolumeStatus,
};
use k8s_openapi::api::storage::v1::StorageClass;
use serde_json::Value;

use super::common::{self, json};
use super::field_error::FieldError;
use super::path::FieldPath;
use super::quantity::parse_quantity;
use super::Builtin;

const ACCESS_MODES: &[&str] = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];
const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];
const MAX_PARAMETERS: usize = 512;
const MAX_PARAMETERS_SIZE: usize = 256 * 1024;

impl Builtin for PersistentVolume {
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(PersistentVolumeSpec::default);
        if spec.persistent_volume_reclaim_policy.as_deref().is_none_or(str::is_empty) {
            spec.persistent_volume_reclaim_policy = Some("Retain".to_string());
        }
        spec.volume_mode.get_or_insert_with(|| "Filesystem".to_string());
        let status = self.status.get_or_insert_with(PersistentVolumeStatus::default);
        status.phase.get_or_insert_with(|| "Pending".to_string());
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let empty = PersistentVolumeSpec::default();
        let spec = self.spec.as_ref().unwrap_or(&empty);
        let mut errs = validate_pv_spec(spec, &FieldPath::new("spec"));
        if let Some(old_spec) = old.map(|o| o.spec.as_ref().unwrap_or(&empty)) {
            errs.extend(validate_pv_update(spec, old_spec));
        }
        errs
    }
}

/// The volume source fields a PV spec sets.
fn pv_sources(spec: &PersistentVolumeSpec) -> Vec<String> {
    const NOT_SOURCES: &[&str] = &[
        "accessModes",
        "capacity",
        "claimRef",
        "mountOptions",
        "nodeAffinity",
        "persistentVolumeReclaimPolicy",
        "storageClassName",
        "volumeAttributesClassName",
        "volumeMode",
    ];
    match json(spec) {
        Value::Object(map) => map.into_iter().map(|(k, _)| k).filter(|k| !NOT_SOURCES.contains(&k.as_str())).collect(),
        _ => Vec::new(),
    }
}

fn validate_pv_spec(spec: &PersistentVolumeSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs =
        validate_access_modes(spec.access_modes.as_deref().unwrap_or_default(), &path.child("accessModes"), "");
    let capacity = spec.capacity.clone().unwrap_or_default();
    if capacity.is_empty() {
        errs.push(FieldError::required(path.child("capacity"), ""));
    }
    if !capacity.contains_key("storage") || capacity.len() > 1 {
        errs.push(FieldError::not_supported(path.child("capacity"), json(&capacity), &["storage"]));
    }
    for (name, value) in &capacity {
        errs.extend(positive_quantity(&value.0, &path.child("capacity").key(name)));
    }
    if let Some(class) = spec.storage_class_name.as_deref().filter(|c| !c.is_empty()) {
        errs.extend(common::dns1123_subdomain(class, &path.child("storageClassName")));
    }
    errs.extend(common::enum_value(spec.volume_mode.as_deref(), &path.child("volumeMode"), VOLUME_MODES, false));
    let policies = ["Delete", "Recycle", "Retain"];
    let policy_path = path.child("persistentVolumeReclaimPolicy");
    errs.extend(common::enum_value(spec.persistent_volume_reclaim_policy.as_deref(), &policy_path, &policies, false));
    let sources = pv_sources(spec);
    if sources.is_empty() {
        errs.push(FieldError::required(path, "must specify a volume type"));
    }
    for extra in sources.iter().skip(1) {
        errs.push(FieldError::forbidden(path.child(extra), "may not specify more than 1 volume type"));
    }
    if let Some(host_path) = &spec.host_path {
        if host_path.path.is_empty() {
            errs.push(FieldError::required(path.child("hostPath").child("path"), ""));
        }
    }
    if let Some(local) = &spec.local {
        if local.path.is_empty() {
            errs.push(FieldError::required(path.child("local").child("path"), ""));
        }
        if spec.node_affinity.is_none() {
            errs.push(FieldError::required(path.child("nodeAffinity"), "Local volume requires node affinity"));
        }
    }
    errs
}

fn validate_pv_update(new: &PersistentVolumeSpec, old: &PersistentVolumeSpec) -> Vec<FieldError> {
    let path = FieldPath::new("spec");
    let source = |spec: &PersistentVolumeSpec| -> Vec<Value> {
        let value = json(spec);
        pv_sources(spec).iter().map(|k| value[k.as_str()].clone()).collect()
    };
    let mut errs = Vec::new();
    if pv_sources(new) != pv_sources(old) || !common::semantic_eq(&source(new), &source(old)) {
        errs.push(FieldError::forbidden(
            path.child("persistentvolumesource"),
            "spec.persistentvolumesource is immutable after creation",
        ));
    }
    errs.extend(common::immutable(&new.volume_mode, &old.volume_mode, &path.child("volumeMode")));
    if old.node_affinity.is_some() {
        errs.extend(common::immutable(&new.node_affinity, &old.node_affinity, &path.child("nodeAffinity")));
    }
    errs
}

impl Builtin for PersistentVolumeClaim {
    fn set_defaults(&mut self) {
        default_pvc_spec(self.spec.get_or_insert_with(PersistentVolumeClaimSpec::default));
        let status = self.status.get_or_insert_with(PersistentVolumeClaimStatus::default);
        status.phase.get_or_insert_with(|| "Pending".to_string());
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let empty = PersistentVolumeClaimSpec::default();
        let spec = self.spec.as_ref().unwrap_or(&empty);
        let mut errs = validate_pvc_spec(spec, &FieldPath::new("spec"));
        if let Some(old) = old {
            errs.extend(validate_pvc_update(self, old));
        }
        errs
    }
}

pub fn default_pvc_spec(spec: &mut PersistentVolumeClaimSpec) {
    spec.volume_mode.get_or_insert_with(|| "Filesystem".to_string());
}

/// `ValidatePersistentVolumeClaimSpec`
pub fn validate_pvc_spec(spec: &PersistentVolumeClaimSpec, path: &FieldPath) -> Vec<FieldError> {
    let modes = spec.access_modes.as_deref().unwrap_or_default();
    let mut errs = validate_access_modes(modes, &path.child("accessModes"), "at least 1 access mode is required");
    if let Some(selector) = &spec.selector {
        errs.extend(common::label_selector(selector, &path.child("selector")));
    }
    let storage_path = path.child("resources").key("storage");
    match spec.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage")) {
        None => errs.push(FieldError::required(&storage_path, "")),
        Some(value) => errs.extend(positive_quantity(&value.0, &storage_path)),
    }
    if let Some(class) = spec.storage_class_name.as_deref().filter(|c| !c.is_empty()) {
        errs.extend(common::dns1123_subdomain(class, &path.child("storageClassName")));
    }
    errs.extend(common::enum_value(spec.volume_mode.as_deref(), &path.child("volumeMode"), VOLUME_MODES, false));
    errs
}

fn validate_access_modes(modes: &[String], path: &FieldPath, required_detail: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if modes.is_empty() {
        errs.push(FieldError::required(path, required_detail));
    }
    for mode in modes.iter().filter(|m| !ACCESS_MODES.contains(&m.as_str())) {
        errs.push(FieldError::not_supported(path, mode.as_str(), ACCESS_MODES));
    }
    if modes.len() > 1 && modes.iter().any(|m| m == "ReadWriteOncePod") {
        errs.push(FieldError::forbidden(path, "may not use ReadWriteOncePod with other access modes"));
    }
    errs
}

fn positive_quantity(text: &str, path: &FieldPath) -> Vec<FieldError> {
    match parse_quantity(text) {
        None => vec![FieldError::invalid(path, text, super::quantity::QUANTITY_FORMAT_ERROR)],
        Some(q) if q.is_negative() || q.is_zero() => vec![FieldError::invalid(path, text, "must be greater than zero")],
        Some(_) => Vec::new(),
    }
}

/// A claim's spec is fixed after creation, except a bound claim's storage request (which may
/// only grow), its attributes class, and the binder's one-time `volumeName`.
fn validate_pvc_update(new: &PersistentVolumeClaim, old: &PersistentVolumeClaim) -> Vec<FieldError> {
    let mut new_spec = new.spec.clone().unwrap_or_default();
    let mut old_spec = old.spec.clone().unwrap_or_default();
    let storage = |spec: &PersistentVolumeClaimSpec| {
        spec.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage")).cloned()
    };
    let (new_size, old_size) = (storage(&new_spec), storage(&old_spec));
    if old_spec.volume_name.as_deref().is_none_or(str::is_empty) {
        old_spec.volume_name.clone_from(&new_spec.volume_name);
    }
    let bound = new.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    if bound {
        if let (Some(requests), Some(old_size)) =
            (new_spec.resources.as_mut().and_then(|r| r.requests.as_mut()), old_size.clone())
        {
            requests.insert("storage".to_string(), old_size);
        }
        new_spec.volume_attributes_class_name.clone_from(&old_spec.volume_attributes_class_name);
    }
    let mut errs = Vec::new();
    if !common::semantic_eq(&new_spec, &old_spec) {
        errs.push(FieldError::forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        ));
    }
    let shrunk = match (new_size.and_then(|q| parse_quantity(&q.0)), old_size.and_then(|q| parse_quantity(&q.0))) {
        (Some(n), Some(o)) => n.compare(&o).is_lt(),
        _ => false,
    };
    if shrunk {
        let path = FieldPath::new("spec").child("resources").child("requests").child("storage");
        errs.push(FieldError::forbidden(path, "field can not be less than previous value"));
    }
    errs
}

impl Builtin for StorageClass {
    fn set_defaults(&mut self) {
        self.reclaim_policy.get_or_insert_with(|| "Delete".to_string());
        self.volume_binding_mode.get_or_insert_with(|| "Immediate".to_string());
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if self.provisioner.is_empty() {
            errs.push(FieldError::required("provisioner", ""));
        } else {
            errs.extend(common::qualified_name(&self.provisioner.to_lowercase(), &FieldPath::new("provisioner")));
        }
        errs.extend(validate_parameters(self));
        errs.extend(common::enum_value(
            self.reclaim_policy.as_deref(),
            &FieldPath::new("reclaimPolicy"),
            &["Delete", "Retain"],
            false,
        ));
        let modes = ["Immediate", "WaitForFirstConsumer"];
        errs.extend(common::enum_value(
            self.volume_binding_mode.as_deref(),
            &FieldPath::new("volumeBindingMode"),
            &modes,
            true,
        ));
        if let Some(old) = old {
            errs.extend(validate_storage_class_update(self, old));
        }
        errs
    }
}

fn validate_parameters(class: &StorageClass) -> Vec<FieldError> {
    let parameters = class.parameters.clone().unwrap_or_default();
    let path = FieldPath::new("parameters");
    if parameters.len() > MAX_PARAMETERS {
        return vec![FieldError::invalid(
            &path,
            "Provisioner Parameters exceeded max allowed",
            MAX_PARAMETERS.to_string(),
        )];
    }
    let mut errs = Vec::new();
    let mut total = 0;
    for (key, value) in &parameters {
        if key.is_empty() {
            errs.push(FieldError::invalid(&path, key.as_str(), "field can not be empty."));
        }
        total += key.len() + value.len();
    }
    if total > MAX_PARAMETERS_SIZE {
        errs.push(common::too_long(&path, MAX_PARAMETERS_SIZE));
    }
    errs
}

fn validate_storage_class_update(new: &StorageClass, old: &StorageClass) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if !common::semantic_eq(&new.parameters, &old.parameters) {
        errs.push(FieldError::forbidden("parameters", "updates to parameters are forbidden."));
    }
    if new.provisioner != old.provisioner {
        errs.push(FieldError::forbidden("provisioner", "updates to provisioner are forbidden."));
    }
    if new.reclaim_policy != old.reclaim_policy {
        errs.push(FieldError::forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."));
    }
    errs.extend(common::immutable(
        &new.volume_binding_mode,
        &old.volume_binding_mode,
        &FieldPath::new("volumeBindingMode"),
    ));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::{default_builtin, validate_builtin};
    use serde_json::json as j;

    fn run(group: &str, kind: &str, obj: Value, old: Option<Value>) -> Vec<String> {
        let mut obj = obj;
        default_builtin(group, kind, &mut obj);
        let old = old.map(|mut o| {
            default_builtin(group, kind, &mut o);
            o
        });
        validate_builtin(group, kind, &obj, old.as_ref()).iter().map(FieldError::message).collect()
    }

    fn claim() -> Value {
        j!({"metadata": {"name": "data", "namespace": "default"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    }

    #[test]
    fn claim_defaults_and_rules() {
        let mut c = claim();
        default_builtin("", "PersistentVolumeClaim", &mut c);
        assert_eq!(c["spec"]["volumeMode"], "Filesystem");
        assert_eq!(c["status"]["phase"], "Pending");
        assert!(run("", "PersistentVolumeClaim", claim(), None).is_empty());
        let bad = j!({"metadata": {"name": "d"}, "spec": {"accessModes": ["ReadWriteSometimes"], "volumeMode": "Raw", "storageClassName": "Fast_SSD"}});
        assert_eq!(
            run("", "PersistentVolumeClaim", bad, None),
            vec![
                "spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
                "spec.resources[storage]: Required value",
                "spec.storageClassName: Invalid value: \"Fast_SSD\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "spec.volumeMode: Unsupported value: \"Raw\": supported values: \"Block\", \"Filesystem\""
            ]
        );
        assert_eq!(
            run(
                "",
                "PersistentVolumeClaim",
                j!({"metadata": {"name": "d"}, "spec": {"resources": {"requests": {"storage": "0"}}}}),
                None
            ),
            vec![
                "spec.accessModes: Required value: at least 1 access mode is required",
                "spec.resources[storage]: Invalid value: \"0\": must be greater than zero"
            ]
        );
    }

    #[test]
    fn claim_updates() {
        let mut grown = claim();
        grown["spec"]["resources"]["requests"]["storage"] = j!("2Gi");
        assert_eq!(
            run("", "PersistentVolumeClaim", grown.clone(), Some(claim())),
            vec!["spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"]
        );
        let mut bound_old = claim();
        bound_old["status"] = j!({"phase": "Bound"});
        grown["status"] = j!({"phase": "Bound"});
        grown["spec"]["volumeName"] = j!("pv-1");
        assert!(run("", "PersistentVolumeClaim", grown, Some(bound_old.clone())).is_empty());
        let mut shrunk = bound_old.clone();
        shrunk["spec"]["resources"]["requests"]["storage"] = j!("512Mi");
        assert_eq!(
            run("", "PersistentVolumeClaim", shrunk, Some(bound_old)),
            vec!["spec.resources.requests.storage: Forbidden: field can not be less than previous value"]
        );
    }

    #[test]
    fn volumes() {
        let pv = j!({"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}}});
        let mut defaulted = pv.clone();
        default_builtin("", "PersistentVolume", &mut defaulted);
        assert_eq!(defaulted["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert_eq!(defaulted["status"]["phase"], "Pending");
        assert!(run("", "PersistentVolume", pv.clone(), None).is_empty());
        let bad = j!({"metadata": {"name": "pv1"}, "spec": {"capacity": {"cpu": "1"}, "accessModes": ["ReadWriteOncePod", "ReadOnlyMany"], "persistentVolumeReclaimPolicy": "Keep"}});
        assert_eq!(
            run("", "PersistentVolume", bad, None)
                .iter()
                .map(|m| m.split(':').next().unwrap_or_default().to_string())
                .collect::<Vec<_>>(),
            vec!["spec.accessModes", "spec.capacity", "spec.persistentVolumeReclaimPolicy", "spec"]
        );
        let mut moved = pv.clone();
        moved["spec"]["hostPath"]["path"] = j!("/elsewhere");
        assert_eq!(
            run("", "PersistentVolume", moved, Some(pv)),
            vec!["spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation"]
        );
    }

    #[test]
    fn storage_classes() {
        let class = j!({"metadata": {"name": "fast"}, "provisioner": "ebs.csi.aws.com", "parameters": {"type": "gp3"}});
        let mut defaulted = class.clone();
        default_builtin("storage.k8s.io", "StorageClass", &mut defaulted);
        assert_eq!(defaulted["reclaimPolicy"], "Delete");
        assert_eq!(defaulted["volumeBindingMode"], "Immediate");
        assert!(run("storage.k8s.io", "StorageClass", class.clone(), None).is_empty());
        assert_eq!(
            run("storage.k8s.io", "StorageClass", j!({"metadata": {"name": "x"}, "reclaimPolicy": "Recycle"}), None),
            vec![
                "provisioner: Required value",
                "reclaimPolicy: Unsupported value: \"Recycle\": supported values: \"Delete\", \"Retain\""
            ]
        );
        let mut changed = class.clone();
        changed["parameters"] = j!({"type": "io2"});
        changed["provisioner"] = j!("other.csi");
        assert_eq!(
            run("storage.k8s.io", "StorageClass", changed, Some(class)),
            vec![
                "parameters: Forbidden: updates to parameters are forbidden.",
                "provisioner: Forbidden: updates to provisioner are forbidden."
            ]
        );
    }
}

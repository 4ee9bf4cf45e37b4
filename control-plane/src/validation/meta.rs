//! `metadata` rules shared by every object, built-in or custom (`ValidateObjectMeta`).
//! Works on JSON so custom resources need no typed form.

use serde_json::{Map, Value};

use super::common::{self, json};
use super::field_error::FieldError;
use super::names::{self, NameRule};
use super::path::FieldPath;

/// Total size of all annotation keys and values.
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Validates `metadata` on create. Expects `generateName` to have been resolved into `name`.
pub fn validate_object_meta(obj: &Value, namespaced: bool, rule: NameRule) -> Vec<FieldError> {
    let path = FieldPath::new("metadata");
    let empty = Map::new();
    let meta = obj.get("metadata").and_then(Value::as_object).unwrap_or(&empty);
    let mut errs = validate_name(meta, rule, &path);
    errs.extend(validate_namespace(meta, namespaced, &path));
    if let Some(generation) = meta.get("generation").and_then(Value::as_i64) {
        errs.extend(common::non_negative(generation, &path.child("generation")));
    }
    errs.extend(validate_labels(meta.get("labels"), &path.child("labels")));
    errs.extend(validate_annotations(meta.get("annotations"), &path.child("annotations")));
    errs.extend(validate_owner_references(meta.get("ownerReferences"), &path.child("ownerReferences")));
    errs.extend(validate_finalizers(meta.get("finalizers"), &path.child("finalizers")));
    errs
}

/// Rules for `metadata` on update, in addition to [`validate_object_meta`] on the new object:
/// identity fields may not change and no finalizer may be added once deletion has started.
pub fn validate_object_meta_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let path = FieldPath::new("metadata");
    let mut errs = Vec::new();
    for field in ["name", "namespace", "uid", "creationTimestamp"] {
        let new_value = new.pointer(&format!("/metadata/{field}")).unwrap_or(&Value::Null);
        let old_value = old.pointer(&format!("/metadata/{field}")).unwrap_or(&Value::Null);
        errs.extend(common::immutable(new_value, old_value, &path.child(field)));
    }
    if old.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()) {
        errs.extend(no_new_finalizers(new, old, &path.child("finalizers")));
    }
    errs
}

fn no_new_finalizers(new: &Value, old: &Value, path: &FieldPath) -> Vec<FieldError> {
    let list = |v: &Value| -> Vec<String> {
        let items = v.pointer("/metadata/finalizers").and_then(Value::as_array);
        items.into_iter().flatten().filter_map(|f| f.as_str().map(str::to_string)).collect()
    };
    let old_list = list(old);
    let mut added: Vec<String> = list(new).into_iter().filter(|f| !old_list.contains(f)).collect();
    if added.is_empty() {
        return Vec::new();
    }
    added.sort();
    added.dedup();
    let quoted: Vec<String> = added.iter().map(|f| format!("{f:?}")).collect();
    vec![FieldError::forbidden(
        path,
        format!(
            "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
            quoted.join(", ")
        ),
    )]
}

fn validate_name(meta: &Map<String, Value>, rule: NameRule, path: &FieldPath) -> Vec<FieldError> {
    match meta.get("name").and_then(Value::as_str) {
        None | Some("") => vec![FieldError::required(path.child("name"), "name or generateName is required")],
        Some(name) => common::invalid_each(&path.child("name"), name, rule.check(name)),
    }
}

fn validate_namespace(meta: &Map<String, Value>, namespaced: bool, path: &FieldPath) -> Vec<FieldError> {
    let namespace = meta.get("namespace").and_then(Value::as_str).unwrap_or_default();
    match (namespaced, namespace.is_empty()) {
        (true, true) => vec![FieldError::required(path.child("namespace"), "")],
        (true, false) => common::dns1123_label(namespace, &path.child("namespace")),
        (false, false) => vec![FieldError::forbidden(path.child("namespace"), "not allowed on this type")],
        (false, true) => Vec::new(),
    }
}

/// A map of strings, reporting values of other types (custom resources are not typed).
fn string_map<'a>(value: Option<&'a Value>, path: &FieldPath, errs: &mut Vec<FieldError>) -> Vec<(&'a str, &'a str)> {
    let Some(map) = value.and_then(Value::as_object) else {
        if let Some(other) = value.filter(|v| !v.is_null()) {
            errs.push(FieldError::invalid(path, other.clone(), "must be a map of string keys to string values"));
        }
        return Vec::new();
    };
    let mut entries = Vec::new();
    for (key, value) in map {
        match value.as_str() {
            Some(s) => entries.push((key.as_str(), s)),
            None => errs.push(FieldError::invalid(path.key(key), value.clone(), "must be a string")),
        }
    }
    entries
}

fn validate_labels(value: Option<&Value>, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (key, value) in string_map(value, path, &mut errs) {
        errs.extend(common::qualified_name(key, path));
        errs.extend(common::invalid_each(path, value, names::is_valid_label_value(value)));
    }
    errs
}

fn validate_annotations(value: Option<&Value>, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let entries = string_map(value, path, &mut errs);
    let mut total = 0;
    for (key, value) in entries {
        // Annotation keys follow the qualified-name rule, ignoring case.
        errs.extend(common::invalid_each(path, key, names::is_qualified_name(&key.to_lowercase())));
        total += key.len() + value.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(common::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

fn validate_owner_references(value: Option<&Value>, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for reference in value.and_then(Value::as_array).into_iter().flatten() {
        errs.extend(validate_owner_reference(reference, path));
        let text = |field: &str| reference.get(field).and_then(Value::as_str).unwrap_or_default().to_string();
        if reference.get("controller").and_then(Value::as_bool) == Some(true) {
            let current = format!("{}/{}", text("kind"), text("name"));
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    value.cloned().unwrap_or(Value::Null),
                    format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

fn validate_owner_reference(reference: &Value, path: &FieldPath) -> Vec<FieldError> {
    let text = |field: &str| reference.get(field).and_then(Value::as_str).unwrap_or_default();
    let mut errs = Vec::new();
    let api_version = text("apiVersion");
    let version = api_version.rsplit('/').next().unwrap_or_default();
    if version.is_empty() {
        errs.push(FieldError::invalid(path.child("apiVersion"), api_version, "version must not be empty"));
    }
    for field in ["kind", "name", "uid"] {
        if text(field).is_empty() {
            errs.push(FieldError::invalid(path.child(field), "", "must not be empty"));
        }
    }
    if api_version == "v1" && text("kind") == "Event" {
        errs.push(FieldError::invalid(path, reference.clone(), "/v1, Kind=Event is disallowed from being an owner"));
    }
    errs
}

fn validate_finalizers(value: Option<&Value>, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let finalizers: Vec<&str> =
        value.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    for finalizer in &finalizers {
        errs.extend(common::qualified_name(finalizer, path));
    }
    if finalizers.contains(&"orphan") && finalizers.contains(&"foregroundDeletion") {
        errs.push(FieldError::invalid(
            path,
            json(&finalizers),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::field_error::ErrorType;
    use serde_json::json as j;

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    #[test]
    fn valid_metadata_passes() {
        let obj = j!({"metadata": {
            "name": "web-1", "namespace": "default", "generation": 2,
            "labels": {"app.kubernetes.io/name": "web", "tier": ""},
            "annotations": {"Example.com/Note": "anything at all"},
            "finalizers": ["example.com/cleanup", "kubernetes"],
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "123", "controller": true}]
        }});
        assert_eq!(validate_object_meta(&obj, true, NameRule::Dns1123Subdomain), vec![]);
    }

    #[test]
    fn name_is_required_and_checked() {
        let errs = validate_object_meta(&j!({"metadata": {}}), false, NameRule::Dns1123Subdomain);
        assert_eq!(messages(&errs), vec!["metadata.name: Required value: name or generateName is required"]);
        let errs = validate_object_meta(&j!({"metadata": {"name": "Web"}}), false, NameRule::Dns1123Subdomain);
        assert_eq!(errs[0].field, "metadata.name");
        assert!(errs[0].detail.starts_with("a lowercase RFC 1123 subdomain must consist of"));
        let errs = validate_object_meta(&j!({"metadata": {"name": "a/b"}}), false, NameRule::PathSegment);
        assert_eq!(messages(&errs), vec!["metadata.name: Invalid value: \"a/b\": may not contain '/'"]);
    }

    #[test]
    fn namespace_rules() {
        let errs = validate_object_meta(&j!({"metadata": {"name": "x"}}), true, NameRule::Dns1123Subdomain);
        assert_eq!(messages(&errs), vec!["metadata.namespace: Required value"]);
        let errs =
            validate_object_meta(&j!({"metadata": {"name": "x", "namespace": "a"}}), false, NameRule::Dns1123Subdomain);
        assert_eq!(messages(&errs), vec!["metadata.namespace: Forbidden: not allowed on this type"]);
        let errs = validate_object_meta(
            &j!({"metadata": {"name": "x", "namespace": "A_B"}}),
            true,
            NameRule::Dns1123Subdomain,
        );
        assert_eq!(errs[0].field, "metadata.namespace");
    }

    #[test]
    fn labels_annotations_and_finalizers() {
        let obj = j!({"metadata": {
            "name": "x",
            "generation": -1,
            "labels": {"bad key": "ok", "good": "bad value!", "n": 5},
            "annotations": {"ok": "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT)},
            "finalizers": ["no spaces allowed", "orphan", "foregroundDeletion"]
        }});
        let errs = validate_object_meta(&obj, false, NameRule::Dns1123Subdomain);
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "metadata.generation",
                "metadata.labels[n]",
                "metadata.labels",
                "metadata.labels",
                "metadata.annotations",
                "metadata.finalizers",
                "metadata.finalizers"
            ]
        );
        assert_eq!(errs[4].message(), "metadata.annotations: Too long: may not be more than 262144 bytes");
        assert_eq!(errs[4].kind, ErrorType::TooLong);
    }

    #[test]
    fn owner_references() {
        let obj = j!({"metadata": {"name": "x", "ownerReferences": [
            {"apiVersion": "", "kind": "", "name": "", "uid": ""},
            {"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "1", "controller": true},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "2", "controller": true}
        ]}});
        let errs = validate_object_meta(&obj, false, NameRule::Dns1123Subdomain);
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "metadata.ownerReferences.apiVersion",
                "metadata.ownerReferences.kind",
                "metadata.ownerReferences.name",
                "metadata.ownerReferences.uid",
                "metadata.ownerReferences",
                "metadata.ownerReferences"
            ]
        );
        assert!(errs[5].detail.contains("Event/e and ReplicaSet/rs"));
    }

    #[test]
    fn update_rules() {
        let old = j!({"metadata": {"name": "a", "uid": "1", "deletionTimestamp": "2024-01-01T00:00:00Z", "finalizers": ["a/b"]}});
        let new = j!({"metadata": {"name": "b", "uid": "1", "finalizers": ["a/b", "c/d"]}});
        let errs = validate_object_meta_update(&new, &old);
        assert_eq!(
            messages(&errs),
            vec![
                "metadata.name: Invalid value: \"b\": field is immutable",
                "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"c/d\"}"
            ]
        );
    }
}

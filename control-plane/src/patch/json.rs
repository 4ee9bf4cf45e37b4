//! RFC 6902 JSON patch and RFC 7386 JSON merge patch.

use serde_json::Value;

use super::values::kind_of;
use super::PatchError;

/// Applies an RFC 6902 JSON patch (a JSON array of operations) to `doc`.
///
/// The document is patched as a whole or not at all: on error `doc` is
/// untouched and the error names the failing operation and its path.
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    if !patch.is_array() {
        return Err(PatchError::invalid(format!(
            "JSON patch must be a JSON array of operations, got {}",
            kind_of(patch)
        )));
    }
    let operations: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|err| PatchError::invalid(format!("invalid JSON patch: {err}")))?;
    // Work on a copy: a failed patch leaves nothing half-applied, so the
    // crate's undo bookkeeping is not needed.
    let mut patched = doc.clone();
    json_patch::patch_unsafe(&mut patched, &operations).map_err(|err| describe_failure(&operations, &err))?;
    Ok(patched)
}

/// Applies an RFC 7386 JSON merge patch: objects merge key by key, `null`
/// deletes a key, anything else (lists included) replaces.
pub fn merge_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    if !patch.is_object() {
        return Err(PatchError::invalid(format!("JSON merge patch must be a JSON object, got {}", kind_of(patch))));
    }
    let mut patched = doc.clone();
    json_patch::merge(&mut patched, patch);
    Ok(patched)
}

fn describe_failure(operations: &json_patch::Patch, err: &json_patch::PatchError) -> PatchError {
    let op = operations.0.get(err.operation).map(operation_name).unwrap_or("?");
    let path = err.path.as_str();
    let path = if path.is_empty() { "\"\" (the whole document)".to_string() } else { format!("{path:?}") };
    PatchError::invalid(format!("JSON patch operation {} ({op}) failed at path {path}: {}", err.operation, err.kind))
}

fn operation_name(operation: &json_patch::PatchOperation) -> &'static str {
    match operation {
        json_patch::PatchOperation::Add(_) => "add",
        json_patch::PatchOperation::Remove(_) => "remove",
        json_patch::PatchOperation::Replace(_) => "replace",
        json_patch::PatchOperation::Move(_) => "move",
        json_patch::PatchOperation::Copy(_) => "copy",
        json_patch::PatchOperation::Test(_) => "test",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(err: PatchError) -> String {
        err.to_string()
    }

    #[test]
    fn json_patch_applies_all_operations() {
        let doc = json!({"a": 1, "list": [1, 2], "obj": {"x": "y"}});
        let patch = json!([
            {"op": "test", "path": "/a", "value": 1},
            {"op": "replace", "path": "/a", "value": 2},
            {"op": "add", "path": "/list/-", "value": 3},
            {"op": "remove", "path": "/list/0"},
            {"op": "copy", "from": "/obj", "path": "/copy"},
            {"op": "move", "from": "/obj/x", "path": "/moved"},
        ]);
        let out = json_patch(&doc, &patch).unwrap();
        assert_eq!(out, json!({"a": 2, "list": [2, 3], "obj": {}, "copy": {"x": "y"}, "moved": "y"}));
    }

    #[test]
    fn json_patch_escaped_pointer() {
        let doc = json!({"metadata": {"annotations": {"a/b": "1", "c~d": "2"}}});
        let patch = json!([
            {"op": "remove", "path": "/metadata/annotations/a~1b"},
            {"op": "replace", "path": "/metadata/annotations/c~0d", "value": "3"},
        ]);
        assert_eq!(json_patch(&doc, &patch).unwrap(), json!({"metadata": {"annotations": {"c~d": "3"}}}));
    }

    #[test]
    fn json_patch_failed_test_names_operation_and_path() {
        let doc = json!({"a": 1});
        let patch = json!([{"op": "add", "path": "/b", "value": 1}, {"op": "test", "path": "/a", "value": 2}]);
        let msg = message(json_patch(&doc, &patch).unwrap_err());
        assert!(msg.contains("operation 1 (test)"), "{msg}");
        assert!(msg.contains("\"/a\""), "{msg}");
        assert!(msg.contains("did not match"), "{msg}");
    }

    #[test]
    fn json_patch_bad_pointer_is_an_error() {
        let doc = json!({"a": {}});
        for patch in [
            json!([{"op": "remove", "path": "/missing"}]),
            json!([{"op": "replace", "path": "/a/b/c", "value": 1}]),
            json!([{"op": "add", "path": "/a/b/c", "value": 1}]),
            json!([{"op": "remove", "path": "/list/-"}]),
            json!([{"op": "move", "from": "/a", "path": "/a/inside"}]),
            json!([{"op": "copy", "from": "/nope", "path": "/x"}]),
        ] {
            assert!(json_patch(&doc, &patch).is_err(), "{patch}");
        }
    }

    #[test]
    fn json_patch_rejects_malformed_patches() {
        let doc = json!({});
        assert!(message(json_patch(&doc, &json!({"op": "add"})).unwrap_err()).contains("JSON array"));
        assert!(message(json_patch(&doc, &json!([{"op": "frobnicate", "path": "/a"}])).unwrap_err())
            .contains("invalid JSON patch"));
        assert!(json_patch(&doc, &json!([{"op": "add", "path": "/a"}])).is_err());
        assert!(json_patch(&doc, &json!([{"op": "add", "path": "no-slash", "value": 1}])).is_err());
        assert!(json_patch(&doc, &json!(["add"])).is_err());
    }

    #[test]
    fn json_patch_empty_patch_is_identity() {
        let doc = json!({"a": [1, {"b": null}]});
        assert_eq!(json_patch(&doc, &json!([])).unwrap(), doc);
    }

    #[test]
    fn json_patch_whole_document() {
        let doc = json!({"a": 1});
        assert_eq!(json_patch(&doc, &json!([{"op": "replace", "path": "", "value": [1]}])).unwrap(), json!([1]));
        let msg = message(json_patch(&doc, &json!([{"op": "remove", "path": ""}])).unwrap_err());
        assert!(msg.contains("whole document"), "{msg}");
    }

    #[test]
    fn merge_patch_follows_rfc7386() {
        let doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2], "keep": true});
        let patch = json!({"a": "z", "c": {"f": null, "new": 1}, "list": [3], "added": {"x": null, "y": 1}});
        let out = merge_patch(&doc, &patch).unwrap();
        assert_eq!(out, json!({"a": "z", "c": {"d": "e", "new": 1}, "list": [3], "keep": true, "added": {"y": 1}}));
    }

    #[test]
    fn merge_patch_replaces_non_objects() {
        assert_eq!(merge_patch(&json!([1]), &json!({"a": 1})).unwrap(), json!({"a": 1}));
        assert_eq!(merge_patch(&json!({"a": 1}), &json!({"a": {"b": 2}})).unwrap(), json!({"a": {"b": 2}}));
        assert_eq!(merge_patch(&json!({"a": {"b": 2}}), &json!({"a": 5})).unwrap(), json!({"a": 5}));
    }

    #[test]
    fn merge_patch_must_be_an_object() {
        for patch in [json!([]), json!("x"), json!(null), json!(1)] {
            let msg = message(merge_patch(&json!({}), &patch).unwrap_err());
            assert!(msg.contains("must be a JSON object"), "{msg}");
        }
    }
}

//! Decoding JSON through the k8s-openapi types: unknown fields are pruned and listed, type
//! errors are reported the way the apiserver words them.

use std::fmt;

use k8s_openapi::Resource;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::path::FieldPath;

/// An object as its k8s-openapi type serializes it, and the input fields that type dropped.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub object: Value,
    /// Dotted paths with indices, e.g. `spec.template.spec.containers[0].imagee`.
    pub unknown_fields: Vec<String>,
}

/// The object cannot be read as its kind (a field has the wrong JSON type, a value is malformed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Reads `obj` as `T` and returns `T`'s own serialization plus the input fields it dropped.
pub(crate) fn decode_as<T>(obj: &Value) -> Result<Decoded, DecodeError>
where
    T: Resource + Serialize + DeserializeOwned + JsonSchema,
{
    let typed = read_as::<T>(obj)?;
    let object = serde_json::to_value(&typed).map_err(|e| cannot_handle::<T>(&e.to_string()))?;
    let mut unknown_fields = Vec::new();
    collect_unknown(obj, &object, &FieldPath::new(""), &mut unknown_fields);
    Ok(Decoded { object, unknown_fields })
}

/// Deserializes `obj` as `T`, with a Kubernetes-style message on failure.
pub(crate) fn read_as<T>(obj: &Value) -> Result<T, DecodeError>
where
    T: Resource + DeserializeOwned + JsonSchema,
{
    serde_path_to_error::deserialize(obj).map_err(|e| type_error::<T>(&e))
}

/// `Deployment in version "v1" cannot be handled as a Deployment: <reason>`
fn cannot_handle<T: Resource>(reason: &str) -> DecodeError {
    DecodeError(format!("{kind} in version \"{}\" cannot be handled as a {kind}: {reason}", T::VERSION, kind = T::KIND))
}

/// Walks input and output together; an input key with a non-null value that the output lacks
/// was not part of the type.
fn collect_unknown(input: &Value, output: &Value, path: &FieldPath, unknown: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(input), Value::Object(output)) => {
            for (key, value) in input {
                match output.get(key) {
                    Some(kept) => collect_unknown(value, kept, &path.child(key), unknown),
                    None if !value.is_null() => unknown.push(path.child(key).into()),
                    None => {}
                }
            }
        }
        (Value::Array(input), Value::Array(output)) => {
            for (i, (value, kept)) in input.iter().zip(output).enumerate() {
                collect_unknown(value, kept, &path.index(i), unknown);
            }
        }
        _ => {}
    }
}

/// Turns a serde failure into the apiserver's wording where the failure is a type mismatch:
/// `json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`.
fn type_error<T: Resource + JsonSchema>(error: &serde_path_to_error::Error<serde_json::Error>) -> DecodeError {
    let segments = path_segments(error.path());
    let inner = error.inner().to_string();
    let Some(json_type) = mismatched_json_type(&inner) else {
        let reason = if segments.is_empty() { inner } else { format!("{}: {inner}", error.path()) };
        return cannot_handle::<T>(&reason);
    };
    let schema = schemars::SchemaGenerator::default().into_root_schema_for::<T>();
    let located = locate(schema.as_value(), T::KIND, &segments);
    let reason = match located {
        Some(found) if !found.go_path.is_empty() => format!(
            "json: cannot unmarshal {json_type} into Go struct field {}.{} of type {}",
            found.parent_struct, found.go_path, found.go_type
        ),
        Some(found) => format!("json: cannot unmarshal {json_type} into Go value of type {}", found.go_type),
        None => format!("json: cannot unmarshal {json_type} into Go struct field {} at {}", T::KIND, error.path()),
    };
    cannot_handle::<T>(&reason)
}

/// The JSON type serde found, from `invalid type: string "x", expected i32`.
fn mismatched_json_type(message: &str) -> Option<&'static str> {
    let found = message.strip_prefix("invalid type: ")?;
    let kinds = [
        ("string", "string"),
        ("integer", "number"),
        ("floating point", "number"),
        ("boolean", "bool"),
        ("map", "object"),
        ("sequence", "array"),
        ("null", "null"),
    ];
    kinds.iter().find(|(serde_name, _)| found.starts_with(serde_name)).map(|(_, json)| *json)
}

enum Segment {
    Field(String),
    Index,
}

fn path_segments(path: &serde_path_to_error::Path) -> Vec<Segment> {
    path.iter()
        .filter_map(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(Segment::Field(key.clone())),
            serde_path_to_error::Segment::Seq { .. } => Some(Segment::Index),
            _ => None,
        })
        .collect()
}

/// Where a decoding failure sits, in Go's terms.
struct Located {
    /// The Go struct holding the failing field, e.g. `DeploymentSpec`.
    parent_struct: String,
    /// The JSON path of struct fields without indices or map keys, e.g. `spec.replicas`.
    go_path: String,
    /// The Go type of the failing field, e.g. `int32`, `[]v1.Container`.
    go_type: String,
}

/// Follows `segments` through the type's JSON schema.
fn locate(root: &Value, root_kind: &str, segments: &[Segment]) -> Option<Located> {
    let mut node = root;
    let mut parent_struct = root_kind.to_string();
    let mut struct_name = root_kind.to_string();
    let mut go_path: Vec<&str> = Vec::new();
    for segment in segments {
        let (resolved, name) = resolve(root, node)?;
        if let Some(name) = name {
            struct_name = name;
        }
        node = match segment {
            Segment::Field(key) => match resolved.get("properties").and_then(|p| p.get(key)) {
                Some(property) => {
                    parent_struct = struct_name.clone();
                    go_path.push(key);
                    property
                }
                None => resolved.get("additionalProperties")?,
            },
            Segment::Index => resolved.get("items")?,
        };
    }
    Some(Located { parent_struct, go_path: go_path.join("."), go_type: go_type(node) })
}

/// Follows a `$ref`, returning the target and the short name of the referenced type.
fn resolve<'a>(root: &'a Value, node: &'a Value) -> Option<(&'a Value, Option<String>)> {
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let target = root.pointer(reference.trim_start_matches('#'))?;
            let name = reference.rsplit('/').next().and_then(|full| full.rsplit('.').next()).map(str::to_string);
            Some((target, name))
        }
        None => Some((node, None)),
    }
}

/// A Go spelling of the schema's type: `int32`, `string`, `[]v1.Container`, `map[string]string`.
fn go_type(node: &Value) -> String {
    if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let full = reference.rsplit('/').next().unwrap_or_default();
        let mut parts = full.rsplit('.');
        let name = parts.next().unwrap_or_default();
        let package = parts.next().unwrap_or_default();
        return format!("{package}.{name}");
    }
    let text = |field: &str| node.get(field).and_then(Value::as_str).unwrap_or_default();
    match (text("type"), text("format")) {
        ("integer", "int64") => "int64".to_string(),
        ("integer", _) => "int32".to_string(),
        ("number", _) => "float64".to_string(),
        ("boolean", _) => "bool".to_string(),
        ("string", "byte") => "[]uint8".to_string(),
        ("string", _) => "string".to_string(),
        ("array", _) => format!("[]{}", node.get("items").map(go_type).unwrap_or_default()),
        ("object", _) => match node.get("additionalProperties") {
            Some(values) => format!("map[string]{}", go_type(values)),
            None => "map[string]interface {}".to_string(),
        },
        _ => "interface {}".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": null},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}
                }
            }
        })
    }

    #[test]
    fn known_object_round_trips_without_unknown_fields() {
        let decoded = decode_as::<Deployment>(&deployment()).map_err(|e| e.0);
        let decoded = decoded.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(decoded.unknown_fields, Vec::<String>::new());
        assert_eq!(decoded.object["spec"]["replicas"], json!(2));
        assert_eq!(decoded.object["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"], json!(80));
    }

    #[test]
    fn unknown_fields_are_listed_and_pruned() {
        let mut obj = deployment();
        obj["spec"]["template"]["spec"]["containers"][0]["imagee"] = json!("typo");
        obj["spec"]["strategyy"] = json!({});
        obj["status"] = json!({"replicas": 1, "bogus": true});
        let decoded = decode_as::<Deployment>(&obj).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            decoded.unknown_fields,
            vec!["spec.template.spec.containers[0].imagee", "spec.strategyy", "status.bogus"]
        );
        assert!(decoded.object["spec"]["template"]["spec"]["containers"][0].get("imagee").is_none());
    }

    #[test]
    fn type_errors_use_apiserver_wording() {
        let mut obj = deployment();
        obj["spec"]["replicas"] = json!("3");
        let err = decode_as::<Deployment>(&obj).err().map(|e| e.0);
        assert_eq!(
            err.as_deref(),
            Some("Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32")
        );

        let mut obj = deployment();
        obj["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = json!("80");
        let err = decode_as::<Deployment>(&obj).err().map(|e| e.0).unwrap_or_default();
        assert!(err.ends_with("cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32"), "{err}");

        let mut obj = deployment();
        obj["spec"]["template"]["spec"]["containers"] = json!({"name": "x"});
        let err = decode_as::<Deployment>(&obj).err().map(|e| e.0).unwrap_or_default();
        assert!(err.ends_with("cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container"), "{err}");
    }

    #[test]
    fn map_values_and_other_failures() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": 1}});
        let err = decode_as::<ConfigMap>(&obj).err().map(|e| e.0).unwrap_or_default();
        assert_eq!(err, "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string");

        let obj =
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "not base64!"}});
        let err = decode_as::<Secret>(&obj).err().map(|e| e.0).unwrap_or_default();
        assert!(err.starts_with("Secret in version \"v1\" cannot be handled as a Secret: data.a: "), "{err}");

        let obj = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}}, "spec": {"containers": []}});
        let decoded = decode_as::<Pod>(&obj).unwrap_or_else(|e| panic!("{e}"));
        assert!(decoded.unknown_fields.is_empty());
    }
}

//! Definitions of custom resources, from their CRD's `openAPIV3Schema`.
//!
//! The schema is the user's; what kube-apiserver adds is added here too:
//! `apiVersion`, `kind`, `metadata` as a reference to `ObjectMeta`, the
//! group-version-kind tag, and a list type.

use super::definitions::{api_version_property, kind_property, list_definition, object_metadata_property};
use super::Gvk;
use crate::registry::{CustomInfo, ResourceType};
use serde_json::{json, Map, Value};

/// The definition name of a custom kind: the group's labels reversed, then
/// version and kind (`networking.istio.io` v1 `VirtualService` is
/// `io.istio.networking.v1.VirtualService`).
pub(super) fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// The definitions of one served version of a CRD: its kind and its list.
pub(super) fn definitions_for(resource: &ResourceType, info: &CustomInfo) -> Vec<(String, Value)> {
    let gvk = Gvk::new(&resource.group, &resource.version, &resource.kind);
    let name = definition_name(&resource.group, &resource.version, &resource.kind);
    let mut object = object_schema(info.schema.as_ref());
    if let Value::Object(map) = &mut object {
        map.insert("x-kubernetes-group-version-kind".into(), json!([gvk.to_json()]));
    }
    let list = list_definition(&name, &gvk);
    vec![(format!("{name}List"), list), (name, object)]
}

/// A CRD's schema completed into an object's: `apiVersion`, `kind` and
/// `metadata` first, then the user's properties. A missing or malformed
/// schema allows anything.
pub(super) fn object_schema(schema: Option<&Value>) -> Value {
    let mut object = match schema {
        Some(Value::Object(map)) => map.clone(),
        _ => open_object(),
    };
    let user_properties = match object.remove("properties") {
        Some(Value::Object(properties)) => properties,
        _ => Map::new(),
    };
    let mut properties = Map::new();
    properties.insert("apiVersion".into(), api_version_property());
    properties.insert("kind".into(), kind_property());
    properties.insert("metadata".into(), object_metadata_property());
    for (name, property) in user_properties {
        properties.entry(name).or_insert(property);
    }
    object.entry("type").or_insert_with(|| json!("object"));
    object.insert("properties".into(), Value::Object(properties));
    Value::Object(object)
}

fn open_object() -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("type".into(), json!("object"));
    map.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn refers_to_object_meta(schema: &Value) -> bool {
        let mut found = false;
        crate::openapi::for_each_ref(schema, &mut |r| found |= r.ends_with(crate::openapi::definitions::OBJECT_META));
        found
    }

    fn crontab(schema: Option<Value>) -> (ResourceType, CustomInfo) {
        let info = CustomInfo { schema, ..Default::default() };
        let resource = ResourceType {
            group: "stable.example.com".into(),
            version: "v1".into(),
            kind: "CronTab".into(),
            plural: "crontabs".into(),
            singular: "crontab".into(),
            namespaced: true,
            short_names: vec![],
            categories: vec![],
            has_status: false,
            scale: None,
            source: crate::registry::Source::Custom(Arc::new(info.clone())),
            storage_group: "stable.example.com".into(),
            storage_plural: "crontabs".into(),
        };
        (resource, info)
    }

    #[test]
    fn names_reverse_the_group() {
        assert_eq!(
            definition_name("networking.istio.io", "v1", "VirtualService"),
            "io.istio.networking.v1.VirtualService"
        );
        assert_eq!(definition_name("example", "v2", "Thing"), "example.v2.Thing");
    }

    #[test]
    fn user_schema_is_completed_and_tagged() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {"cronSpec": {"type": "string"}}},
            "metadata": {"type": "object"},
        }});
        let (resource, info) = crontab(Some(schema));
        let defs = definitions_for(&resource, &info);
        let (name, object) = &defs[1];
        assert_eq!(name, "com.example.stable.v1.CronTab");
        let keys: Vec<&String> = object["properties"].as_object().map(|m| m.keys().collect()).unwrap_or_default();
        assert_eq!(keys, ["apiVersion", "kind", "metadata", "spec"]);
        assert!(refers_to_object_meta(object));
        assert_eq!(object["x-kubernetes-group-version-kind"][0]["group"], "stable.example.com");
        assert_eq!(defs[0].0, "com.example.stable.v1.CronTabList");
        assert_eq!(defs[0].1["properties"]["items"]["items"]["$ref"], "#/definitions/com.example.stable.v1.CronTab");
    }

    #[test]
    fn missing_or_odd_schema_allows_anything() {
        for schema in [None, Some(json!("not a schema")), Some(json!(42))] {
            let object = object_schema(schema.as_ref());
            assert_eq!(object["x-kubernetes-preserve-unknown-fields"], true);
            assert_eq!(object["type"], "object");
        }
    }
}

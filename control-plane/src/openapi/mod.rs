//! OpenAPI documents (`/openapi/v2`, `/openapi/v3`) and the type schemas the
//! patch engines consult.
//!
//! Built-in schemas come from k8s-openapi's `JsonSchema` impls, renamed and
//! annotated the way kube-apiserver publishes them; custom resources get theirs
//! from their CRD's `openAPIV3Schema`. kubectl reads these documents to decide
//! whether the server validates fields (`fieldValidation` on PATCH), how to
//! build strategic merge patches, and what `kubectl explain` prints.
//!
//! - [`definitions`]: the built-in definitions, named like `io.k8s.api.core.v1.Pod`.
//! - [`builtin_schema`] / [`custom_schema`]: a [`SchemaNode`] for the patch engines.
//! - [`v2_document`], [`v3_index`], [`v3_group`]: the served documents.
//! - [`v2_protobuf`]: the v2 document as client-go reads it.
//!
//! Serving: client-go asks for `/openapi/v2` in protobuf and cannot read JSON
//! there, so a request whose `Accept` mentions protobuf gets
//! `v2_protobuf(&v2_document(..))` as
//! `application/com.github.proto-openapi.spec.v2.v1.0+protobuf`; others get
//! the JSON. The v3 index and documents are JSON; the `hash` query parameter
//! of a document URL only busts client caches and can be ignored.

mod custom;
mod definitions;
mod extensions;
mod node;
mod operations;
mod proto;
mod v2;
mod v3;

pub use definitions::definitions;
pub use node::{builtin_schema, custom_schema, SchemaNode};
pub use proto::v2_protobuf;
pub use v2::v2_document;
pub use v3::{v3_group, v3_index};

use crate::registry::{ResourceType, Source};
use operations::ResourceSchemas;
use serde_json::{json, Map, Value};

/// Where definitions live in the canonical (Swagger 2.0) form every schema
/// here is built in; v3 documents rewrite it to `#/components/schemas/`.
const DEFINITIONS_PREFIX: &str = "#/definitions/";

/// The Kubernetes release whose types these schemas describe.
const KUBERNETES_VERSION: &str = "v1.33.0";

/// A group/version/kind, as the `x-kubernetes-group-version-kind` extension
/// spells it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Gvk {
    group: String,
    version: String,
    kind: String,
}

impl Gvk {
    fn new(group: &str, version: &str, kind: &str) -> Self {
        Gvk { group: group.to_string(), version: version.to_string(), kind: kind.to_string() }
    }

    /// The extension's value; the key order matches kube-apiserver's output.
    fn to_json(&self) -> Value {
        json!({"group": self.group, "kind": self.kind, "version": self.version})
    }
}

/// `{"$ref": "#/definitions/<name>"}`.
fn definition_ref(name: &str) -> Value {
    json!({ "$ref": format!("{DEFINITIONS_PREFIX}{name}") })
}

/// The definition name a `$ref` in canonical form points at.
fn ref_target(reference: &str) -> Option<&str> {
    reference.strip_prefix(DEFINITIONS_PREFIX)
}

/// The URL prefix of a group/version: `/api/v1` or `/apis/apps/v1`.
fn group_version_prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// The `/openapi/v3` key of a group/version: `api/v1` or `apis/apps/v1`.
fn group_version_key(group: &str, version: &str) -> String {
    group_version_prefix(group, version).trim_start_matches('/').to_string()
}

/// The definitions a resource's operations take and return, if its kind has
/// a schema.
fn resource_schemas(resource: &ResourceType) -> Option<ResourceSchemas> {
    let (group, version, kind) = (&resource.group, &resource.version, &resource.kind);
    if resource.is_custom() {
        let object = custom::definition_name(group, version, kind);
        return Some(ResourceSchemas { list: format!("{object}List"), object });
    }
    let object = definitions::definition_for(group, version, kind)?.to_string();
    let list = definitions::definition_for(group, version, &format!("{kind}List"))?.to_string();
    Some(ResourceSchemas { object, list })
}

/// The definitions of the custom resources among these. A name that a
/// built-in already uses is left to the built-in.
fn custom_definitions<'a>(resources: impl IntoIterator<Item = &'a ResourceType>) -> Map<String, Value> {
    let mut out = Map::new();
    for resource in resources {
        let Source::Custom(info) = &resource.source else { continue };
        for (name, definition) in custom::definitions_for(resource, info) {
            if !definitions().contains_key(&name) {
                out.insert(name, definition);
            }
        }
    }
    out
}

/// A definition by name: custom ones first, then the built-ins.
fn lookup<'a>(custom: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    custom.get(name).or_else(|| definitions().get(name))
}

/// Calls every `$ref` string in a schema tree, depth first.
fn for_each_ref(value: &Value, found: &mut impl FnMut(&str)) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(reference)) => found(reference),
                    _ => for_each_ref(child, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| for_each_ref(item, found)),
        _ => {}
    }
}

#[cfg(test)]
mod testing {
    use crate::registry::{CustomInfo, Registry, ResourceType, Source};
    use serde_json::json;
    use std::sync::Arc;

    pub(super) fn registry_with_crd() -> Registry {
        let registry = Registry::new();
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "hosts": {"type": "array", "items": {"type": "string"}},
            "port": {"nullable": true, "anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": true},
        }}}});
        let info = CustomInfo { schema: Some(schema), ..Default::default() };
        let resource = ResourceType {
            group: "networking.istio.io".into(),
            version: "v1".into(),
            kind: "VirtualService".into(),
            plural: "virtualservices".into(),
            singular: "virtualservice".into(),
            namespaced: true,
            short_names: vec!["vs".into()],
            categories: vec![],
            has_status: true,
            scale: None,
            source: Source::Custom(Arc::new(info)),
            storage_group: "networking.istio.io".into(),
            storage_plural: "virtualservices".into(),
        };
        registry.set_custom("virtualservices.networking.istio.io", vec![resource]);
        registry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_version_paths() {
        assert_eq!(group_version_prefix("", "v1"), "/api/v1");
        assert_eq!(group_version_key("apps", "v1"), "apis/apps/v1");
    }

    #[test]
    fn refs_are_found() {
        let schema =
            json!({"properties": {"a": {"$ref": "#/definitions/A"}, "b": {"items": [{"$ref": "#/definitions/B"}]}}});
        let mut seen = Vec::new();
        for_each_ref(&schema, &mut |r| seen.push(r.to_string()));
        assert_eq!(seen, ["#/definitions/A", "#/definitions/B"]);
        assert_eq!(ref_target("#/definitions/X"), Some("X"));
        assert_eq!(ref_target("#/other/X"), None);
    }

    #[test]
    fn gvk_extension_shape() {
        assert_eq!(
            Gvk::new("apps", "v1", "Deployment").to_json(),
            json!({"group": "apps", "kind": "Deployment", "version": "v1"})
        );
    }

    /// Prints how big the documents are and how long they take to build
    /// (`cargo test document_costs -- --nocapture`); fails only if a build
    /// gets absurdly slow.
    #[test]
    fn document_costs() {
        use std::time::Instant;
        let registry = super::testing::registry_with_crd();
        let started = Instant::now();
        let count = definitions().len();
        let definitions_time = started.elapsed();
        let timed = |name: &str, build: &dyn Fn() -> Value| {
            let started = Instant::now();
            let document = build();
            let elapsed = started.elapsed();
            let bytes = serde_json::to_vec(&document).map(|b| b.len()).unwrap_or_default();
            eprintln!("{name}: {bytes} bytes of JSON in {elapsed:?}");
            assert!(elapsed.as_secs() < 30, "{name} took {elapsed:?}");
            document
        };
        eprintln!("definitions: {count} built in {definitions_time:?}");
        let v2 = timed("v2", &|| v2_document(&registry));
        let started = Instant::now();
        let proto = v2_protobuf(&v2);
        eprintln!("v2 protobuf: {} bytes in {:?}", proto.len(), started.elapsed());
        timed("v3 index (cold)", &|| v3_index(&registry));
        timed("v3 index (warm)", &|| v3_index(&registry));
        for key in ["api/v1", "apis/apps/v1", "apis/networking.istio.io/v1"] {
            timed(key, &|| v3_group(&registry, key).unwrap_or_default());
        }
    }
}

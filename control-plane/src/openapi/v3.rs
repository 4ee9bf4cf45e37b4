//! The OpenAPI 3.0 documents served under `/openapi/v3`: an index, and one
//! document per group version (plus `api`, `apis` and `apis/<group>`).
//!
//! kubectl fetches the index on every run and each document by the URL the
//! index gives, caching it under that URL; the `hash` in the URL changes
//! whenever the document does.

use super::operations::{self, Operation, Param, PathItem};
use super::{custom_definitions, for_each_ref, lookup, ref_target, resource_schemas};
use super::{group_version_key, DEFINITIONS_PREFIX, KUBERNETES_VERSION};
use crate::registry::{Registry, ResourceType, Source};
use serde_json::{json, Map, Value};
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

const SCHEMAS_PREFIX: &str = "#/components/schemas/";

/// `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=…"}, …}}`.
pub fn v3_index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for key in document_keys(registry) {
        let Some(hash) = document_hash(registry, &key) else { continue };
        let url = format!("/openapi/v3/{key}?hash={hash}");
        paths.insert(key, json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

/// The document of `api`, `api/v1`, `apis`, `apis/<group>` or
/// `apis/<group>/<version>`; `None` for anything not served.
pub fn v3_group(registry: &Registry, gv_path: &str) -> Option<Value> {
    let segments: Vec<&str> = gv_path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["api"] => Some(document(vec![operations::core_versions_path()], &Map::new())),
        ["apis"] => Some(document(vec![operations::groups_path()], &Map::new())),
        ["apis", group] => {
            let served = registry.groups().iter().any(|(g, _)| g == group);
            served.then(|| document(vec![operations::group_path(group)], &Map::new()))
        }
        ["api", version] => group_version_document(registry, "", version),
        ["apis", group, version] => group_version_document(registry, group, version),
        _ => None,
    }
}

/// Every document key, in discovery order.
fn document_keys(registry: &Registry) -> Vec<String> {
    let mut keys = vec!["api".to_string()];
    let core = registry.all().iter().any(|r| r.group.is_empty());
    if core {
        keys.push(group_version_key("", "v1"));
    }
    keys.push("apis".into());
    for (group, versions) in registry.groups() {
        keys.push(format!("apis/{group}"));
        keys.extend(versions.iter().map(|version| group_version_key(&group, version)));
    }
    keys
}

fn group_version_document(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let resources: Vec<Arc<ResourceType>> =
        registry.all().into_iter().filter(|r| r.group == group && r.version == version).collect();
    if resources.is_empty() {
        return None;
    }
    let mut items = vec![operations::group_version_path(group, version)];
    for resource in &resources {
        if let Some(schemas) = resource_schemas(resource) {
            items.extend(operations::resource_paths(resource, &schemas));
        }
    }
    let custom = custom_definitions(resources.iter().map(|r| r.as_ref()));
    Some(document(items, &custom))
}

/// A document from its paths, with every schema they reach.
fn document(items: Vec<PathItem>, custom: &Map<String, Value>) -> Value {
    let mut paths = Map::new();
    for item in &items {
        paths.insert(item.path.clone(), render_path(item));
    }
    let schemas: Map<String, Value> = reachable(&items, custom)
        .into_iter()
        .filter_map(|name| Some((name.clone(), to_v3(lookup(custom, &name)?))))
        .collect();
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"BearerToken": {
                "type": "apiKey",
                "description": "Bearer Token authentication",
                "name": "authorization",
                "in": "header",
            }},
        },
        "security": [{"BearerToken": []}],
    })
}

/// The names of every definition the operations use, directly or through
/// other definitions, sorted.
fn reachable(items: &[PathItem], custom: &Map<String, Value>) -> BTreeSet<String> {
    let mut pending: Vec<String> = items
        .iter()
        .flat_map(|item| &item.operations)
        .flat_map(|op| {
            op.body.iter().map(|b| b.schema.clone()).chain(op.responses.iter().filter_map(|r| r.schema.clone()))
        })
        .collect();
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = lookup(custom, &name) {
            for_each_ref(schema, &mut |reference| {
                if let Some(target) = ref_target(reference) {
                    pending.push(target.to_string());
                }
            });
        }
    }
    seen
}

/// A canonical schema in OpenAPI 3.0 form: references point into
/// `components/schemas`, and a reference with siblings (a description, an
/// extension) is wrapped in `allOf`, since 3.0 ignores a `$ref`'s siblings.
fn to_v3(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            let reference = map.get("$ref").and_then(Value::as_str).map(v3_reference);
            for (key, value) in map {
                if key != "$ref" {
                    out.insert(key.clone(), to_v3(value));
                }
            }
            match reference {
                Some(reference) if out.is_empty() => json!({"$ref": reference}),
                Some(reference) => {
                    let mut wrapped = Map::new();
                    wrapped.insert("allOf".into(), json!([{"$ref": reference}]));
                    wrapped.extend(out);
                    Value::Object(wrapped)
                }
                None => Value::Object(out),
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(to_v3).collect()),
        other => other.clone(),
    }
}

fn v3_reference(reference: &str) -> String {
    match reference.strip_prefix(DEFINITIONS_PREFIX) {
        Some(name) => format!("{SCHEMAS_PREFIX}{name}"),
        None => reference.to_string(),
    }
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("{SCHEMAS_PREFIX}{name}")})
}

fn render_path(item: &PathItem) -> Value {
    let mut out = Map::new();
    for operation in &item.operations {
        out.insert(operation.method.name().into(), render_operation(operation));
    }
    if !item.parameters.is_empty() {
        out.insert("parameters".into(), item.parameters.iter().map(render_param).collect());
    }
    Value::Object(out)
}

fn render_operation(operation: &Operation) -> Value {
    let mut out = Map::new();
    out.insert("tags".into(), json!([operation.tag]));
    out.insert("description".into(), json!(operation.description));
    out.insert("operationId".into(), json!(operation.id));
    if !operation.parameters.is_empty() {
        out.insert("parameters".into(), operation.parameters.iter().map(render_param).collect());
    }
    if let Some(body) = &operation.body {
        let content: Map<String, Value> = body
            .consumes
            .iter()
            .map(|media| (media.to_string(), json!({"schema": schema_ref(&body.schema)})))
            .collect();
        out.insert("requestBody".into(), json!({"content": content, "required": body.required}));
    }
    operation.finish_rendering(out, render_responses(operation))
}

fn render_responses(operation: &Operation) -> Value {
    let mut out = Map::new();
    for response in &operation.responses {
        let mut rendered = Map::new();
        rendered.insert("description".into(), json!(response.description));
        if let Some(schema) = &response.schema {
            let content: Map<String, Value> = operation
                .produces
                .iter()
                .map(|media| (media.to_string(), json!({"schema": schema_ref(schema)})))
                .collect();
            rendered.insert("content".into(), Value::Object(content));
        }
        out.insert(response.code.to_string(), Value::Object(rendered));
    }
    Value::Object(out)
}

fn render_param(param: &Param) -> Value {
    let location = param.location.name();
    let mut out = json!({
        "name": param.name,
        "in": location,
        "description": param.description,
        "schema": {"type": param.kind.name(), "uniqueItems": true},
    });
    if let (true, Value::Object(map)) = (param.required, &mut out) {
        map.insert("required".into(), json!(true));
    }
    out
}

/// A document's content hash as kube-apiserver writes it: SHA-512, upper
/// case hex. Hashes are remembered per document together with a fingerprint
/// of what the document is built from, so the index is cheap until a CRD
/// changes.
fn document_hash(registry: &Registry, key: &str) -> Option<String> {
    static CACHE: OnceLock<Mutex<HashMap<String, (u64, String)>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let fingerprint = fingerprint(registry, key);
    {
        let cached = cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((seen, hash)) = cached.get(key) {
            if *seen == fingerprint {
                return Some(hash.clone());
            }
        }
    }
    let document = v3_group(registry, key)?;
    let hash = content_hash(&document);
    cache.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), (fingerprint, hash.clone()));
    Some(hash)
}

fn content_hash(document: &Value) -> String {
    let bytes = serde_json::to_vec(document).unwrap_or_default();
    let digest = ring::digest::digest(&ring::digest::SHA512, &bytes);
    digest.as_ref().iter().map(|byte| format!("{byte:02X}")).collect()
}

/// What a document is built from: the resources of its group version,
/// including CRD schemas. Documents without resources depend only on the
/// key.
fn fingerprint(registry: &Registry, key: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    for resource in registry.all() {
        if group_version_key(&resource.group, &resource.version) != key {
            continue;
        }
        let shape =
            (&resource.kind, &resource.plural, resource.namespaced, resource.has_status, resource.scale.is_some());
        shape.hash(&mut hasher);
        if let Source::Custom(info) = &resource.source {
            info.schema.as_ref().map(Value::to_string).hash(&mut hasher);
        }
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::testing::registry_with_crd;

    fn patch_ops(doc: &Value) -> Vec<&Value> {
        doc["paths"].as_object().map(|p| p.values().filter_map(|item| item.get("patch")).collect()).unwrap_or_default()
    }

    #[test]
    fn index_lists_every_group_version_with_a_hash() {
        let index = v3_index(&registry_with_crd());
        let paths = index["paths"].as_object().cloned().unwrap_or_default();
        for key in ["api", "api/v1", "apis", "apis/apps", "apis/apps/v1", "apis/networking.istio.io/v1"] {
            let url = paths.get(key).and_then(|p| p["serverRelativeURL"].as_str()).unwrap_or_else(|| panic!("{key}"));
            let hash = url.strip_prefix(&format!("/openapi/v3/{key}?hash=")).unwrap_or_else(|| panic!("{url}"));
            assert_eq!(hash.len(), 128);
            assert!(hash.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
        }
    }

    #[test]
    fn hashes_change_with_content_only() {
        let plain = Registry::new();
        let first = v3_index(&plain);
        assert_eq!(first, v3_index(&plain));
        let with_crd = v3_index(&registry_with_crd());
        assert_eq!(first["paths"]["api/v1"], with_crd["paths"]["api/v1"]);
        assert!(first["paths"].get("apis/networking.istio.io/v1").is_none());
        let document = v3_group(&plain, "apis/apps/v1").expect("apps/v1");
        let url = first["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().unwrap_or_default().to_string();
        assert!(url.ends_with(&content_hash(&document)));
    }

    #[test]
    fn group_document_has_its_paths_and_reachable_schemas_only() {
        let doc = v3_group(&Registry::new(), "apis/apps/v1").expect("apps/v1");
        assert_eq!(doc["openapi"], "3.0.0");
        assert!(doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"].is_object());
        assert!(doc["paths"].as_object().is_some_and(|p| p.keys().all(|k| k.starts_with("/apis/apps/v1/"))));
        let schemas = doc["components"]["schemas"].as_object().cloned().unwrap_or_default();
        assert!(schemas.contains_key("io.k8s.api.apps.v1.Deployment"));
        assert!(schemas.contains_key("io.k8s.api.core.v1.PodSpec"));
        assert!(schemas.contains_key("io.k8s.api.autoscaling.v1.Scale"));
        assert!(!schemas.contains_key("io.k8s.api.core.v1.Node"));
        for_each_ref(&doc, &mut |reference| {
            let name = reference.strip_prefix(SCHEMAS_PREFIX).unwrap_or_else(|| panic!("odd ref {reference}"));
            assert!(schemas.contains_key(name), "missing {name}");
        });
    }

    #[test]
    fn references_with_siblings_are_wrapped_in_all_of() {
        let doc = v3_group(&Registry::new(), "apis/apps/v1").expect("apps/v1");
        let strategy = &doc["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
        assert_eq!(strategy["allOf"][0]["$ref"], "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy");
        assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
        assert!(strategy.get("$ref").is_none());
        let containers = &doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["items"], json!({"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}));
    }

    #[test]
    fn patch_operations_carry_what_kubectl_checks() {
        let doc = v3_group(&Registry::new(), "api/v1").expect("core");
        let pod = json!({"group": "", "kind": "Pod", "version": "v1"});
        let patches = patch_ops(&doc);
        let pod_patch = patches.iter().find(|op| op["x-kubernetes-group-version-kind"] == pod).expect("pod patch");
        let params = pod_patch["parameters"].as_array().cloned().unwrap_or_default();
        assert!(params.iter().any(|p| p["name"] == "fieldValidation"));
        assert!(pod_patch["requestBody"]["content"]["application/strategic-merge-patch+json"].is_object());
        let tags = doc["components"]["schemas"]["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"].clone();
        assert!(tags.as_array().is_some_and(|t| t.contains(&pod)));
    }

    #[test]
    fn crd_document_is_first_class() {
        let registry = registry_with_crd();
        let doc = v3_group(&registry, "apis/networking.istio.io/v1").expect("crd group version");
        let schemas = doc["components"]["schemas"].as_object().cloned().unwrap_or_default();
        let vs = &schemas["io.istio.networking.v1.VirtualService"];
        assert_eq!(
            vs["properties"]["metadata"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert_eq!(vs["properties"]["spec"]["properties"]["port"]["nullable"], true, "v3 keeps the CRD's keywords");
        assert!(schemas.contains_key("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
        let patch = patch_ops(&doc).into_iter().next().expect("a patch");
        assert!(patch["requestBody"]["content"].get("application/strategic-merge-patch+json").is_none());
        assert!(v3_group(&registry, "apis/networking.istio.io").is_some());
    }

    #[test]
    fn unknown_paths_are_none() {
        let registry = Registry::new();
        for path in ["apis/nope/v1", "apis/nope", "api/v2", "", "apis/apps/v1/extra", "version"] {
            assert!(v3_group(&registry, path).is_none(), "{path}");
        }
        assert!(v3_group(&registry, "api").is_some() && v3_group(&registry, "apis").is_some());
    }
}

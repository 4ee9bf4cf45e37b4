//! The Swagger 2.0 document served at `/openapi/v2`.

use super::operations::{self, Operation, Param, PathItem};
use super::KUBERNETES_VERSION;
use super::{custom_definitions, definition_ref, definitions, resource_schemas};
use crate::registry::Registry;
use serde_json::{json, Map, Value};

/// The whole API: every path of every served resource and every definition.
pub fn v2_document(registry: &Registry) -> Value {
    let resources = registry.all();
    let mut paths = Map::new();
    for item in discovery_paths(registry) {
        insert_path(&mut paths, &item);
    }
    for resource in &resources {
        let Some(schemas) = resource_schemas(resource) else { continue };
        for item in operations::resource_paths(resource, &schemas) {
            insert_path(&mut paths, &item);
        }
    }
    let mut all_definitions: Map<String, Value> =
        definitions().iter().map(|(name, schema)| (name.clone(), builtin_to_v2(name, schema))).collect();
    for (name, schema) in custom_definitions(resources.iter().map(|r| r.as_ref())) {
        all_definitions.insert(name, custom_to_v2(schema));
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "definitions": all_definitions,
        "securityDefinitions": {"BearerToken": {
            "description": "Bearer Token authentication",
            "type": "apiKey",
            "name": "authorization",
            "in": "header",
        }},
        "security": [{"BearerToken": []}],
    })
}

/// `/api/`, `/api/v1/`, `/apis/`, and each group's and group version's.
fn discovery_paths(registry: &Registry) -> Vec<PathItem> {
    let mut items = vec![operations::core_versions_path(), operations::group_version_path("", "v1")];
    items.push(operations::groups_path());
    for (group, versions) in registry.groups() {
        items.push(operations::group_path(&group));
        items.extend(versions.iter().map(|version| operations::group_version_path(&group, version)));
    }
    items
}

fn insert_path(paths: &mut Map<String, Value>, item: &PathItem) {
    let mut rendered = Map::new();
    for operation in &item.operations {
        rendered.insert(operation.method.name().into(), render_operation(operation));
    }
    if !item.parameters.is_empty() {
        rendered.insert("parameters".into(), item.parameters.iter().map(render_param).collect());
    }
    paths.insert(item.path.clone(), Value::Object(rendered));
}

fn render_operation(operation: &Operation) -> Value {
    let mut out = Map::new();
    out.insert("description".into(), json!(operation.description));
    let consumes = operation.body.as_ref().map_or(&["*/*"][..], |body| body.consumes);
    out.insert("consumes".into(), json!(consumes));
    out.insert("produces".into(), json!(operation.produces));
    out.insert("schemes".into(), json!(["https"]));
    out.insert("tags".into(), json!([operation.tag]));
    out.insert("operationId".into(), json!(operation.id));
    let mut parameters: Vec<Value> = Vec::new();
    if let Some(body) = &operation.body {
        parameters.push(
            json!({"name": "body", "in": "body", "required": body.required, "schema": definition_ref(&body.schema)}),
        );
    }
    parameters.extend(operation.parameters.iter().map(render_param));
    if !parameters.is_empty() {
        out.insert("parameters".into(), Value::Array(parameters));
    }
    operation.finish_rendering(out, render_responses(operation))
}

fn render_responses(operation: &Operation) -> Value {
    let mut out = Map::new();
    for response in &operation.responses {
        let mut rendered = json!({"description": response.description});
        if let (Some(schema), Value::Object(map)) = (&response.schema, &mut rendered) {
            map.insert("schema".into(), definition_ref(schema));
        }
        out.insert(response.code.to_string(), rendered);
    }
    Value::Object(out)
}

fn render_param(param: &Param) -> Value {
    let location = param.location.name();
    let mut out = json!({
        "uniqueItems": true,
        "type": param.kind.name(),
        "description": param.description,
        "name": param.name,
        "in": location,
    });
    if let (true, Value::Object(map)) = (param.required, &mut out) {
        map.insert("required".into(), json!(true));
    }
    out
}

/// Swagger 2.0 has no int-or-string: kube-apiserver publishes both as
/// strings there.
fn builtin_to_v2(name: &str, schema: &Value) -> Value {
    let mut schema = schema.clone();
    let Value::Object(map) = &mut schema else { return schema };
    if map.remove("x-kubernetes-int-or-string").is_some() {
        map.insert("type".into(), json!("string"));
        if name.ends_with("IntOrString") {
            map.insert("format".into(), json!("int-or-string"));
        }
    }
    schema
}

/// Drops the OpenAPI 3.0 keywords Swagger 2.0 lacks from a CRD's schema.
fn custom_to_v2(mut schema: Value) -> Value {
    strip_v3_keywords(&mut schema);
    schema
}

fn strip_v3_keywords(value: &mut Value) {
    const V3_ONLY: &[&str] = &["nullable", "oneOf", "anyOf", "not"];
    match value {
        Value::Object(map) => {
            for key in V3_ONLY {
                map.remove(*key);
            }
            for (key, child) in map.iter_mut() {
                // Examples and defaults are data, not schemas.
                if key != "default" && key != "example" && key != "enum" {
                    strip_v3_keywords(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_v3_keywords),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::testing::registry_with_crd;
    use crate::openapi::{for_each_ref, ref_target, Gvk};

    /// The `x-kubernetes-group-version-kind` of an operation, if any.
    fn operation_gvk(operation: &Value) -> Option<Gvk> {
        let tag = operation.get("x-kubernetes-group-version-kind")?;
        Some(Gvk::new(tag["group"].as_str()?, tag["version"].as_str()?, tag["kind"].as_str()?))
    }

    fn patch_of<'a>(doc: &'a Value, gvk: &Gvk) -> Option<&'a Value> {
        let paths = doc["paths"].as_object()?;
        paths.values().filter_map(|p| p.get("patch")).find(|op| operation_gvk(op).as_ref() == Some(gvk))
    }

    #[test]
    fn document_has_swagger_shape() {
        let doc = v2_document(&Registry::new());
        assert_eq!(doc["swagger"], "2.0");
        assert!(doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"].is_object());
        assert!(doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"].is_object());
        assert!(doc["definitions"]["io.k8s.api.core.v1.Pod"].is_object());
        assert_eq!(doc["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"], "int-or-string");
    }

    #[test]
    fn every_builtin_patch_supports_field_validation_as_kubectl_checks() {
        let doc = v2_document(&Registry::new());
        for resource in crate::registry::builtin_types() {
            let gvk = Gvk::new(&resource.group, &resource.version, &resource.kind);
            let patch = patch_of(&doc, &gvk).unwrap_or_else(|| panic!("no patch for {gvk:?}"));
            let params = patch["parameters"].as_array().cloned().unwrap_or_default();
            assert!(params.iter().any(|p| p["name"] == "fieldValidation" && p["in"] == "query"), "{gvk:?}");
            assert!(patch["consumes"]
                .as_array()
                .is_some_and(|c| c.contains(&json!("application/strategic-merge-patch+json"))));
        }
    }

    #[test]
    fn custom_resources_are_first_class() {
        let doc = v2_document(&registry_with_crd());
        let gvk = Gvk::new("networking.istio.io", "v1", "VirtualService");
        let patch = patch_of(&doc, &gvk).expect("patch for the CRD");
        assert!(!patch["consumes"]
            .as_array()
            .is_some_and(|c| c.contains(&json!("application/strategic-merge-patch+json"))));
        assert!(patch["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["name"] == "fieldValidation")));
        let definition = &doc["definitions"]["io.istio.networking.v1.VirtualService"];
        assert_eq!(definition["x-kubernetes-group-version-kind"][0]["kind"], "VirtualService");
        let port = &definition["properties"]["spec"]["properties"]["port"];
        assert!(port.get("nullable").is_none() && port.get("anyOf").is_none());
        assert_eq!(port["x-kubernetes-int-or-string"], true);
        assert!(doc["paths"]["/apis/networking.istio.io/v1/namespaces/{namespace}/virtualservices/{name}/status"]
            .is_object());
        assert!(doc["paths"]["/apis/networking.istio.io/"].is_object());
    }

    #[test]
    fn every_reference_resolves_within_the_document() {
        let doc = v2_document(&registry_with_crd());
        let definitions = doc["definitions"].as_object().cloned().unwrap_or_default();
        for_each_ref(&doc, &mut |reference| {
            let target = ref_target(reference).unwrap_or_else(|| panic!("odd ref {reference}"));
            assert!(definitions.contains_key(target), "missing {target}");
        });
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = v2_document(&registry_with_crd());
        let mut ids: Vec<&str> = doc["paths"]
            .as_object()
            .into_iter()
            .flat_map(|paths| paths.values())
            .filter_map(Value::as_object)
            .flat_map(|item| item.values())
            .filter_map(|op| op.get("operationId")?.as_str())
            .collect();
        let total = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total);
    }
}

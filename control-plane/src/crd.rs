//! CustomResourceDefinitions: turning a CRD into served resource types, its
//! status (names accepted, established), and removal of its objects when it
//! goes.

use crate::api::objects;
use crate::api::status::{ApiError, ApiResult};
use crate::api::ApiServer;
use crate::registry::{CustomInfo, PrinterColumn, Registry, ResourceType, ScaleSpec, Source};
use serde_json::{json, Value};
use std::sync::Arc;

fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or_default()
}

/// The served versions of a CRD as resource types.
pub fn resource_types(crd: &Value) -> Vec<ResourceType> {
    let group = s(crd, "/spec/group").to_string();
    let kind = s(crd, "/spec/names/kind").to_string();
    let plural = s(crd, "/spec/names/plural").to_string();
    let singular = match s(crd, "/spec/names/singular") {
        "" => kind.to_lowercase(),
        x => x.to_string(),
    };
    let namespaced = s(crd, "/spec/scope") != "Cluster";
    let short_names = strs(crd.pointer("/spec/names/shortNames"));
    let categories = strs(crd.pointer("/spec/names/categories"));
    let mut out = Vec::new();
    for v in crd.pointer("/spec/versions").and_then(Value::as_array).into_iter().flatten() {
        if v.get("served") == Some(&json!(false)) {
            continue;
        }
        let printer_columns = v
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .map(|cols| {
                cols.iter()
                    .map(|c| PrinterColumn {
                        name: s(c, "/name").to_string(),
                        type_: s(c, "/type").to_string(),
                        format: c.get("format").and_then(Value::as_str).map(String::from),
                        description: s(c, "/description").to_string(),
                        priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                        json_path: s(c, "/jsonPath").to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let scale = v.pointer("/subresources/scale").map(|sc| ScaleSpec {
            spec_replicas_path: s(sc, "/specReplicasPath").to_string(),
            status_replicas_path: s(sc, "/statusReplicasPath").to_string(),
            label_selector_path: sc.get("labelSelectorPath").and_then(Value::as_str).map(String::from),
        });
        out.push(ResourceType {
            group: group.clone(),
            version: s(v, "/name").to_string(),
            kind: kind.clone(),
            plural: plural.clone(),
            singular: singular.clone(),
            namespaced,
            short_names: short_names.clone(),
            categories: categories.clone(),
            has_status: v.pointer("/subresources/status").is_some(),
            scale,
            source: Source::Custom(Arc::new(CustomInfo {
                schema: v.pointer("/schema/openAPIV3Schema").cloned(),
                printer_columns,
                storage: v.get("storage") == Some(&json!(true)),
            })),
            storage_group: group.clone(),
            storage_plural: plural.clone(),
        });
    }
    out
}

/// Check the schemas and set the CRD's status, as the apiextensions
/// controllers would: names accepted, established, stored versions.
pub fn prepare(rt: &ResourceType, crd: &mut Value, old: Option<&Value>) -> ApiResult<()> {
    let mut errors = Vec::new();
    for (i, v) in crd.pointer("/spec/versions").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if let Some(schema) = v.pointer("/schema/openAPIV3Schema") {
            let prefix = format!("spec.versions[{i}].schema.openAPIV3Schema");
            errors.extend(crate::crd_schema::check_structural(schema, &prefix));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(rt, objects::name(crd), &errors));
    }
    let mut stored = strs(old.and_then(|o| o.pointer("/status/storedVersions")));
    for v in crd.pointer("/spec/versions").and_then(Value::as_array).into_iter().flatten() {
        let name = s(v, "/name").to_string();
        if v.get("storage") == Some(&json!(true)) && !stored.contains(&name) {
            stored.push(name);
        }
    }
    let mut names = crd.pointer("/spec/names").cloned().unwrap_or_else(|| json!({}));
    if names.get("listKind").is_none() {
        names["listKind"] = json!(format!("{}List", s(crd, "/spec/names/kind")));
    }
    if names.get("singular").is_none() {
        names["singular"] = json!(s(crd, "/spec/names/kind").to_lowercase());
    }
    let since = old
        .and_then(|o| o.pointer("/status/conditions/0/lastTransitionTime"))
        .cloned()
        .unwrap_or_else(|| json!(objects::now()));
    let condition = |t: &str, reason: &str, msg: &str| json!({"type": t, "status": "True", "lastTransitionTime": since, "reason": reason, "message": msg});
    objects::as_map(crd).insert(
        "status".into(),
        json!({
            "conditions": [
                condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
            ],
            "acceptedNames": names,
            "storedVersions": stored,
        }),
    );
    Ok(())
}

/// Serve a stored CRD's versions.
pub fn register(registry: &Registry, crd: &Value) {
    registry.set_custom(objects::name(crd), resource_types(crd));
}

/// A CRD is gone: delete its objects and stop serving it.
pub async fn remove(server: &ApiServer, crd: &Value) {
    let group = s(crd, "/spec/group");
    let plural = s(crd, "/spec/names/plural");
    let prefix = format!("/registry/{group}/{plural}/");
    let (items, _, _) = server.store.list(&prefix, None, None);
    for (key, _) in items {
        if let Err(e) = server.store.delete(&key, None).await {
            tracing::warn!(%key, error = %e, "deleting custom resource of removed CRD");
        }
    }
    server.registry.set_custom(objects::name(crd), Vec::new());
}

/// Serve every stored CRD (at start-up).
pub fn load_all(server: &ApiServer) {
    let (items, _, _) = server.store.list("/registry/apiextensions.k8s.io/customresourcedefinitions/", None, None);
    for (_, crd) in items {
        register(&server.registry, &crd);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_become_types() {
        let crd = json!({
            "metadata": {"name": "crontabs.stable.example.com"},
            "spec": {
                "group": "stable.example.com",
                "scope": "Namespaced",
                "names": {"plural": "crontabs", "kind": "CronTab", "shortNames": ["ct"]},
                "versions": [
                    {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}},
                     "schema": {"openAPIV3Schema": {"type": "object"}},
                     "additionalPrinterColumns": [{"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"}]},
                    {"name": "v0", "served": false, "storage": false}
                ]
            }
        });
        let types = resource_types(&crd);
        assert_eq!(types.len(), 1);
        let t = &types[0];
        assert_eq!(
            (t.group.as_str(), t.version.as_str(), t.plural.as_str(), t.singular.as_str()),
            ("stable.example.com", "v1", "crontabs", "crontab")
        );
        assert!(t.has_status && t.scale.is_some() && t.namespaced);
        assert_eq!(t.storage_key(Some("ns"), "a"), "/registry/stable.example.com/crontabs/ns/a");
    }
}

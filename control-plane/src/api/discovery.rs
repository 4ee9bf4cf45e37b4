//! Discovery documents: `/api`, `/apis`, group and group-version documents,
//! and aggregated discovery (`apidiscovery.k8s.io` v2 and v2beta1), which
//! kubectl 1.27+ asks for first.

use crate::registry::{Registry, ResourceType};
use serde_json::{json, Value};

/// The core group's versions.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_json(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> =
        versions.iter().map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v})).collect();
    json!({"name": name, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or(Value::Null)})
}

/// `/apis` (legacy form).
pub fn group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = registry.groups().iter().map(|(g, vs)| group_json(g, vs)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`.
pub fn group(registry: &Registry, name: &str) -> Option<Value> {
    let (g, vs) = registry.groups().into_iter().find(|(g, _)| g == name)?;
    let mut doc = group_json(&g, &vs);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

fn subresources(r: &ResourceType) -> Vec<(String, String, String, String)> {
    // (name, group, version, kind)
    let mut out = Vec::new();
    if r.has_status {
        out.push(("status".to_string(), r.group.clone(), r.version.clone(), r.kind.clone()));
    }
    if r.scale.is_some() {
        out.push(("scale".to_string(), "autoscaling".to_string(), "v1".to_string(), "Scale".to_string()));
    }
    out
}

/// `/api/v1` or `/apis/<group>/<version>`.
pub fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let types: Vec<_> = registry.all().into_iter().filter(|r| r.group == group && r.version == version).collect();
    if types.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for r in &types {
        resources.push(json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs(),
            "shortNames": r.short_names,
            "categories": r.categories,
        }));
        for (sub, g, v, k) in subresources(r) {
            let mut s = json!({
                "name": format!("{}/{}", r.plural, sub),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": k,
                "verbs": ["get", "patch", "update"],
            });
            if g != r.group || v != r.version {
                s["group"] = json!(g);
                s["version"] = json!(v);
            }
            resources.push(s);
        }
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}))
}

/// Which aggregated discovery version the client accepts, if any.
pub fn aggregated_version(accept: &str) -> Option<&'static str> {
    for part in accept.split(',') {
        if part.contains("as=APIGroupDiscoveryList") && part.contains("g=apidiscovery.k8s.io") {
            if part.contains("v=v2beta1") {
                return Some("v2beta1");
            }
            if part.contains("v=v2") {
                return Some("v2");
            }
        }
    }
    None
}

/// The Content-Type of an aggregated discovery response.
pub fn aggregated_content_type(version: &str) -> String {
    format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList")
}

/// Aggregated discovery for the core group (`legacy` true) or all named groups.
pub fn aggregated(registry: &Registry, legacy: bool, version: &str) -> Value {
    let all = registry.all();
    let mut items = Vec::new();
    let groups: Vec<(String, Vec<String>)> =
        if legacy { vec![(String::new(), vec!["v1".to_string()])] } else { registry.groups() };
    for (g, versions) in groups {
        let mut vs = Vec::new();
        for v in versions {
            let resources: Vec<Value> = all
                .iter()
                .filter(|r| r.group == g && r.version == v)
                .map(|r| {
                    let subs: Vec<Value> = subresources(r)
                        .into_iter()
                        .map(|(s, sg, sv, sk)| {
                            json!({"subresource": s, "responseKind": {"group": sg, "version": sv, "kind": sk}, "verbs": ["get", "patch", "update"]})
                        })
                        .collect();
                    let mut res = json!({
                        "resource": r.plural,
                        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": r.singular,
                        "verbs": r.verbs(),
                    });
                    if !r.short_names.is_empty() {
                        res["shortNames"] = json!(r.short_names);
                    }
                    if !r.categories.is_empty() {
                        res["categories"] = json!(r.categories);
                    }
                    if !subs.is_empty() {
                        res["subresources"] = Value::Array(subs);
                    }
                    res
                })
                .collect();
            vs.push(json!({"version": v, "resources": resources, "freshness": "Current"}));
        }
        let metadata = if g.is_empty() {
            json!({"creationTimestamp": null})
        } else {
            json!({"name": g, "creationTimestamp": null})
        };
        items.push(json!({"metadata": metadata, "versions": vs}));
    }
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{version}"), "metadata": {}, "items": items})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_negotiation() {
        let k127 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_version(k127), Some("v2beta1"));
        let k133 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_version(k133), Some("v2"));
        assert_eq!(aggregated_version("application/json"), None);
    }

    #[test]
    fn apps_resources_include_scale() {
        let reg = Registry::new();
        let doc = resource_list(&reg, "apps", "v1").expect("apps/v1");
        let names: Vec<&str> =
            doc["resources"].as_array().into_iter().flatten().filter_map(|r| r["name"].as_str()).collect();
        assert!(names.contains(&"deployments/scale"));
        assert!(names.contains(&"daemonsets/status"));
        assert!(!names.contains(&"daemonsets/scale"));
    }
}

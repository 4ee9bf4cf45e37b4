//! Turning an HTTP request into what the handlers need: which resource and
//! object it names, its query options and its decoded body.

use super::status::{ApiError, ApiResult};
use crate::registry::{Registry, ResourceType};
use axum::http::HeaderMap;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Largest request body accepted, as kube-apiserver.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// A request path, classified.
#[derive(Debug)]
pub enum Route {
    Health,
    Version,
    CoreVersions,
    Groups,
    Group(String),
    Resources { group: String, version: String },
    OpenApiV2,
    OpenApiV3Index,
    OpenApiV3(String),
    Object(Target),
    NotFound,
}

/// A resource request: a collection or one object, maybe a subresource.
#[derive(Debug, Clone)]
pub struct Target {
    pub rt: Arc<ResourceType>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

impl Target {
    pub fn key(&self) -> String {
        self.rt.storage_key(self.namespace.as_deref(), self.name.as_deref().unwrap_or_default())
    }
    /// Key prefix of the collection: all namespaces, or one.
    pub fn collection_prefix(&self) -> String {
        match (&self.namespace, self.rt.namespaced) {
            (Some(ns), true) => format!("{}{}/", self.rt.storage_prefix(), ns),
            _ => self.rt.storage_prefix(),
        }
    }
}

pub fn route(registry: &Registry, path: &str) -> Route {
    let segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["healthz" | "livez" | "readyz", ..] => Route::Health,
        ["version"] => Route::Version,
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3Index,
        ["openapi", "v3", rest @ ..] => Route::OpenApiV3(rest.join("/")),
        ["api"] => Route::CoreVersions,
        ["api", v] => Route::Resources { group: String::new(), version: v.to_string() },
        ["api", v, rest @ ..] => object_route(registry, "", v, rest),
        ["apis"] => Route::Groups,
        ["apis", g] => Route::Group(g.to_string()),
        ["apis", g, v] => Route::Resources { group: g.to_string(), version: v.to_string() },
        ["apis", g, v, rest @ ..] => object_route(registry, g, v, rest),
        _ => Route::NotFound,
    }
}

fn object_route(registry: &Registry, group: &str, version: &str, rest: &[&str]) -> Route {
    let target = |plural: &str, ns: Option<&str>, name: Option<&&str>, sub: Option<&&str>| {
        registry.find(group, version, plural).map(|rt| {
            Route::Object(Target {
                namespace: if rt.namespaced { ns.map(String::from) } else { None },
                rt,
                name: name.map(|s| s.to_string()),
                subresource: sub.map(|s| s.to_string()),
            })
        })
    };
    if rest.len() > 5 && rest[0] == "namespaces" {
        return Route::NotFound;
    }
    if rest.first() == Some(&"namespaces") && rest.len() >= 3 {
        let ns = rest[1];
        if let Some(r) = target(rest[2], Some(ns), rest.get(3), rest.get(4)) {
            if let Route::Object(t) = &r {
                if t.rt.namespaced {
                    return r;
                }
            }
        }
        // `namespaces/<name>/status|finalize`: a namespace subresource.
        if rest.len() == 3 {
            if let Some(r) = target("namespaces", None, rest.get(1), rest.get(2)) {
                return r;
            }
        }
        return Route::NotFound;
    }
    if rest.len() > 3 {
        return Route::NotFound;
    }
    target(rest[0], None, rest.get(1), rest.get(2)).unwrap_or(Route::NotFound)
}

/// Query parameters (the last of repeated ones wins).
#[derive(Debug, Default, Clone)]
pub struct Query(pub HashMap<String, String>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Strict,
    Warn,
    Ignore,
}

impl Query {
    pub fn parse(q: Option<&str>) -> Self {
        Query(form_urlencoded::parse(q.unwrap_or_default().as_bytes()).into_owned().collect())
    }
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|s| !s.is_empty())
    }
    pub fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }
    pub fn dry_run(&self) -> bool {
        self.get("dryRun").is_some()
    }
    pub fn field_validation(&self) -> ApiResult<FieldValidation> {
        match self.get("fieldValidation") {
            None | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other}, valid values are: Ignore, Warn, Strict"
            ))),
        }
    }
    pub fn validate_dry_run(&self) -> ApiResult<()> {
        match self.get("dryRun") {
            None | Some("All") => Ok(()),
            Some(other) => Err(ApiError::bad_request(format!("Invalid dry run value: {other}; must be \"All\""))),
        }
    }
}

/// What kind of body the request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyType {
    Json,
    /// Kubernetes protobuf, as kubectl 1.32+ typed clients send.
    Protobuf,
    Yaml,
    JsonPatch,
    MergePatch,
    StrategicMergePatch,
    ApplyPatch,
}

pub fn body_type(headers: &HeaderMap) -> ApiResult<BodyType> {
    let ct = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let mime = ct.split(';').next().unwrap_or_default().trim();
    Ok(match mime {
        "application/json" | "" | "*/*" => BodyType::Json,
        "application/yaml" | "application/x-yaml" | "text/yaml" => BodyType::Yaml,
        m if super::protobuf::is_protobuf(m) => BodyType::Protobuf,
        "application/json-patch+json" => BodyType::JsonPatch,
        "application/merge-patch+json" => BodyType::MergePatch,
        "application/strategic-merge-patch+json" => BodyType::StrategicMergePatch,
        "application/apply-patch+yaml" | "application/apply-patch+cbor" if mime.ends_with("yaml") => BodyType::ApplyPatch,
        other => {
            return Err(ApiError::unsupported_media(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {other})"
            )))
        }
    })
}

/// Parse a body of any accepted type into a value.
pub fn parse_typed_body(body: &[u8], ty: BodyType) -> ApiResult<Value> {
    if ty != BodyType::Protobuf {
        return parse_body(body, matches!(ty, BodyType::Yaml | BodyType::ApplyPatch));
    }
    if body.len() > MAX_BODY {
        return Err(ApiError::too_large());
    }
    super::protobuf::decode(body).map_err(|e| {
        if e.starts_with("protobuf is not supported") {
            ApiError::unsupported_media(e)
        } else {
            ApiError::bad_request(format!("error decoding protobuf: {e}"))
        }
    })
}

/// Parse a JSON or YAML body into a value, with the parse error's location.
pub fn parse_body(body: &[u8], yaml: bool) -> ApiResult<Value> {
    if body.len() > MAX_BODY {
        return Err(ApiError::too_large());
    }
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    if yaml {
        serde_yaml::from_slice::<Value>(body).map_err(|e| {
            let at = e.location().map(|l| format!(" at line {} column {}", l.line(), l.column())).unwrap_or_default();
            ApiError::bad_request(format!("error decoding YAML{at}: {e}"))
        })
    } else {
        serde_json::from_slice::<Value>(body).map_err(|e| {
            ApiError::bad_request(format!("error decoding JSON at line {} column {}: {}", e.line(), e.column(), e))
        })
    }
}

/// How the client wants objects rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendering {
    Full,
    Table,
    PartialMetadata,
}

pub fn rendering(headers: &HeaderMap) -> Rendering {
    let accept = headers.get(axum::http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    // Take the first alternative we support, in the client's order.
    for part in accept.split(',') {
        if part.contains("as=Table") {
            return Rendering::Table;
        }
        if part.contains("as=PartialObjectMetadata") {
            return Rendering::PartialMetadata;
        }
        if part.trim_start().starts_with("application/json") || part.contains("*/*") || part.contains("yaml") {
            return Rendering::Full;
        }
    }
    Rendering::Full
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(r: Route) -> Target {
        match r {
            Route::Object(t) => t,
            other => panic!("not an object route: {other:?}"),
        }
    }

    #[test]
    fn routes() {
        let reg = Registry::new();
        let t = target(route(&reg, "/api/v1/namespaces/default/pods/p1/status"));
        assert_eq!(
            (t.rt.plural.as_str(), t.namespace.as_deref(), t.name.as_deref()),
            ("pods", Some("default"), Some("p1"))
        );
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let t = target(route(&reg, "/api/v1/namespaces/kube-system"));
        assert_eq!((t.rt.plural.as_str(), t.name.as_deref()), ("namespaces", Some("kube-system")));
        let t = target(route(&reg, "/api/v1/namespaces/ns1/finalize"));
        assert_eq!((t.name.as_deref(), t.subresource.as_deref()), (Some("ns1"), Some("finalize")));
        let t = target(route(&reg, "/apis/apps/v1/deployments"));
        assert!(t.namespace.is_none() && t.name.is_none());
        assert!(matches!(route(&reg, "/apis/apps/v1/nosuch"), Route::NotFound));
        assert!(matches!(route(&reg, "/apis/apps"), Route::Group(_)));
        assert_eq!(target(route(&reg, "/api/v1/nodes/n1")).key(), "/registry/core/nodes/n1");
    }
}

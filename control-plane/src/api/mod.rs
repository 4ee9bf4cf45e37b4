//! The Kubernetes REST API over axum: one dispatcher classifies the path,
//! checks credentials and hands off to discovery, OpenAPI or the generic
//! resource handlers.

pub mod admit;
pub mod convert;
pub mod discovery;
pub mod handlers;
pub mod hooks;
pub mod node_proxy;
pub mod objects;
pub mod protobuf;
pub mod render;
pub mod request;
pub mod selectors;
pub mod status;
pub mod watch;

#[cfg(test)]
mod fuzz_tests;

use crate::registry::Registry;
use crate::store::Store;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use handlers::Call;
use request::{rendering, route, Query, Route, Target, MAX_BODY};
use serde_json::{json, Value};
use status::{ApiError, ApiResult};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Who a bearer token belongs to.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
}

/// Cached OpenAPI documents, rebuilt when the set of resources changes.
#[derive(Default)]
struct OpenApiCache {
    generation: Option<u64>,
    v2: Option<Bytes>,
    v2_protobuf: Option<Bytes>,
    v3_index: Option<Bytes>,
    v3: HashMap<String, Bytes>,
}

/// Everything the handlers share.
pub struct ApiServer {
    pub store: Arc<Store>,
    pub registry: Arc<Registry>,
    pub tokens: HashMap<String, User>,
    /// `host:port` clients are told to use (discovery's serverAddress).
    pub advertise: String,
    /// Service IP ranges, primary family first.
    pub service_cidrs: crate::services::Ranges,
    pub node_port_range: (u16, u16),
    pub bookmark_interval: Duration,
    pub allocations: crate::services::Pending,
    /// TLS (with our client certificate) for `pods/log|exec|attach|portforward` relays to kubelets.
    pub kubelet_tls: Option<Arc<rustls::ClientConfig>>,
    /// tolerationSeconds given to pods for the not-ready and unreachable
    /// NoExecute taints (kube-apiserver's DefaultTolerationSeconds).
    pub default_toleration_seconds: DefaultTolerations,
    openapi: Mutex<OpenApiCache>,
}

/// How long pods tolerate a not-ready or unreachable node by default.
#[derive(Debug, Clone, Copy)]
pub struct DefaultTolerations {
    pub not_ready: i64,
    pub unreachable: i64,
}

impl Default for DefaultTolerations {
    fn default() -> Self {
        DefaultTolerations { not_ready: 30, unreachable: 30 }
    }
}

impl ApiServer {
    pub fn new(
        store: Arc<Store>,
        registry: Arc<Registry>,
        tokens: HashMap<String, User>,
        advertise: String,
        service_cidrs: crate::services::Ranges,
    ) -> Self {
        ApiServer {
            store,
            registry,
            tokens,
            advertise,
            service_cidrs,
            node_port_range: (30000, 32767),
            bookmark_interval: Duration::from_secs(60),
            allocations: Default::default(),
            kubelet_tls: None,
            default_toleration_seconds: DefaultTolerations::default(),
            openapi: Mutex::new(OpenApiCache::default()),
        }
    }

    fn authenticate(&self, req: &Request) -> Option<User> {
        let auth = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
        let token = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("bearer "))?.trim();
        self.tokens.get(token).cloned()
    }

    /// An OpenAPI document from the cache, building it if the registry
    /// changed since.
    fn openapi(&self, which: &str) -> Option<Bytes> {
        let generation = self.registry.generation();
        let mut cache = self.openapi.lock().unwrap_or_else(|e| e.into_inner());
        if cache.generation != Some(generation) {
            *cache = OpenApiCache { generation: Some(generation), ..Default::default() };
        }
        let bytes = |v: Value| Bytes::from(v.to_string());
        match which {
            "v2" => {
                if cache.v2.is_none() {
                    cache.v2 = Some(bytes(crate::openapi::v2_document(&self.registry)));
                }
                cache.v2.clone()
            }
            "v2-protobuf" => {
                if cache.v2_protobuf.is_none() {
                    let doc = crate::openapi::v2_document(&self.registry);
                    cache.v2_protobuf = Some(Bytes::from(crate::openapi::v2_protobuf(&doc)));
                }
                cache.v2_protobuf.clone()
            }
            "v3" => {
                if cache.v3_index.is_none() {
                    cache.v3_index = Some(bytes(crate::openapi::v3_index(&self.registry)));
                }
                cache.v3_index.clone()
            }
            gv if !gv.is_empty() => {
                if !cache.v3.contains_key(gv) {
                    let doc = crate::openapi::v3_group(&self.registry, gv)?;
                    cache.v3.insert(gv.to_string(), bytes(doc));
                }
                cache.v3.get(gv).cloned()
            }
            _ => None,
        }
    }
}

/// The axum app.
pub fn router(server: Arc<ApiServer>) -> Router {
    Router::new().fallback(dispatch).with_state(server)
}

fn raw_json(code: StatusCode, body: Bytes) -> Response {
    let mut resp = (code, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": concat!("v1.33.0+keel-", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "n/a (rust)",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, if std::env::consts::ARCH == "x86_64" { "amd64" } else { std::env::consts::ARCH }),
    })
}

async fn dispatch(State(server): State<Arc<ApiServer>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let r = route(&server.registry, &path);
    let public = matches!(r, Route::Health | Route::Version);
    if !public && server.authenticate(&req).is_none() {
        return ApiError::unauthorized().into_response();
    }
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let resp = match handle(&server, r, req).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    };
    tracing::debug!(%method, %path, status = resp.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
    resp
}

async fn handle(server: &ApiServer, r: Route, req: Request) -> ApiResult<Response> {
    let method = req.method().clone();
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let get_only = |m: &Method| if *m == Method::GET { Ok(()) } else { Err(ApiError::method_not_allowed()) };
    match r {
        Route::Health => Ok((StatusCode::OK, "ok").into_response()),
        Route::Version => Ok(render::json(StatusCode::OK, &version_info(), &[])),
        Route::CoreVersions => {
            get_only(&method)?;
            if let Some(v) = discovery::aggregated_version(&accept) {
                return Ok(aggregated(discovery::aggregated(&server.registry, true, v), v));
            }
            Ok(render::json(StatusCode::OK, &discovery::api_versions(&server.advertise), &[]))
        }
        Route::Groups => {
            get_only(&method)?;
            if let Some(v) = discovery::aggregated_version(&accept) {
                return Ok(aggregated(discovery::aggregated(&server.registry, false, v), v));
            }
            Ok(render::json(StatusCode::OK, &discovery::group_list(&server.registry), &[]))
        }
        Route::Group(g) => {
            get_only(&method)?;
            let doc = discovery::group(&server.registry, &g).ok_or_else(ApiError::not_found_path)?;
            Ok(render::json(StatusCode::OK, &doc, &[]))
        }
        Route::Resources { group, version } => {
            get_only(&method)?;
            let doc =
                discovery::resource_list(&server.registry, &group, &version).ok_or_else(ApiError::not_found_path)?;
            Ok(render::json(StatusCode::OK, &doc, &[]))
        }
        Route::OpenApiV2 => {
            get_only(&method)?;
            // client-go reads the v2 document only as protobuf.
            if accept.contains("protobuf") {
                let body = server.openapi("v2-protobuf").ok_or_else(ApiError::not_found_path)?;
                let mut resp = (StatusCode::OK, body).into_response();
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
                );
                return Ok(resp);
            }
            Ok(raw_json(StatusCode::OK, server.openapi("v2").ok_or_else(ApiError::not_found_path)?))
        }
        Route::OpenApiV3Index => {
            get_only(&method)?;
            Ok(raw_json(StatusCode::OK, server.openapi("v3").ok_or_else(ApiError::not_found_path)?))
        }
        Route::OpenApiV3(gv) => {
            get_only(&method)?;
            if accept.contains("protobuf") && !accept.contains("json") {
                return Err(ApiError::new(406, "NotAcceptable", "only application/json is served"));
            }
            Ok(raw_json(StatusCode::OK, server.openapi(&gv).ok_or_else(ApiError::not_found_path)?))
        }
        Route::NotFound => Err(ApiError::not_found_path()),
        Route::Object(target) => resource(server, target, req).await,
    }
}

fn aggregated(doc: Value, version: &str) -> Response {
    let mut resp = render::json(StatusCode::OK, &doc, &[]);
    if let Ok(ct) = HeaderValue::from_str(&discovery::aggregated_content_type(version)) {
        resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    resp
}

async fn resource(server: &ApiServer, target: Target, req: Request) -> ApiResult<Response> {
    // Pod subresources served by the pod's kubelet, relayed as they come.
    let relayed = matches!(target.subresource.as_deref(), Some("log" | "exec" | "attach" | "portforward"));
    if relayed && target.rt.group.is_empty() && target.rt.plural == "pods" {
        let (Some(ns), Some(name)) = (target.namespace.clone(), target.name.clone()) else {
            return Err(ApiError::not_found_path());
        };
        let sub = target.subresource.clone().unwrap_or_default();
        let allowed = if sub == "log" {
            req.method() == Method::GET
        } else {
            matches!(*req.method(), Method::GET | Method::POST)
        };
        if !allowed {
            return Err(ApiError::method_not_allowed());
        }
        return node_proxy::relay(server, &target.key(), &ns, &name, &sub, req).await;
    }
    let binding =
        target.subresource.as_deref() == Some("binding") && target.rt.group.is_empty() && target.rt.plural == "pods";
    let (parts, body) = req.into_parts();
    let body = read_body(body).await?;
    let call = Call {
        server,
        rendering: rendering(&parts.headers),
        query: Query::parse(parts.uri.query()),
        headers: parts.headers,
        target,
    };
    let rt = call.target.rt.clone();
    let sub = call.target.subresource.clone();
    if binding {
        return match parts.method {
            Method::POST if call.target.name.is_some() => handlers::bind(&call, &body).await,
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    // `namespaces/<name>/finalize`: how the namespace controller lets a
    // namespace go once it is empty (a PUT of the namespace whose
    // spec.finalizers no longer lists `kubernetes`).
    let finalize = sub.as_deref() == Some("finalize") && rt.group.is_empty() && rt.plural == "namespaces";
    if finalize {
        return match parts.method {
            Method::PUT if call.target.name.is_some() => handlers::update(&call, &body).await,
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    match sub.as_deref() {
        None | Some("status") | Some("scale") => {}
        Some(_) => return Err(ApiError::not_found_path()),
    }
    if sub.as_deref() == Some("status") && !rt.has_status || sub.as_deref() == Some("scale") && rt.scale.is_none() {
        return Err(ApiError::not_found_path());
    }
    if call.target.name.is_none() {
        return match parts.method {
            Method::GET if call.query.flag("watch") => watch::serve(&call),
            Method::GET => handlers::list(&call),
            Method::POST => handlers::create(&call, &body).await,
            Method::DELETE => handlers::delete_collection(&call, &body).await,
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    let scale = sub.as_deref() == Some("scale");
    match parts.method {
        Method::GET => handlers::get(&call),
        Method::PUT if scale => handlers::write_scale(&call, &body, false).await,
        Method::PATCH if scale => handlers::write_scale(&call, &body, true).await,
        Method::PUT => handlers::update(&call, &body).await,
        Method::PATCH => handlers::patch(&call, &body).await,
        Method::DELETE if sub.is_none() => handlers::delete(&call, &body).await,
        _ => Err(ApiError::method_not_allowed()),
    }
}

async fn read_body(body: Body) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, MAX_BODY + 1).await.map_err(|_| ApiError::too_large()).and_then(|b| {
        if b.len() > MAX_BODY {
            Err(ApiError::too_large())
        } else {
            Ok(b)
        }
    })
}

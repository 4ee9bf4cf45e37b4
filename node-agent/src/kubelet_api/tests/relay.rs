//! A stand-in API server for real kubectl: minimal discovery, `GET pods/{name}`, and the pod subresources
//! `exec`, `log` and `portforward` relayed to the kubelet API exactly as Keel's API server must do it: open
//! TLS to the node with the apiserver's client certificate, send the same method and headers (Connection,
//! Upgrade, Sec-WebSocket-*, X-Stream-Protocol-Version included) to the kubelet path, and on `101` splice the
//! two upgraded connections byte for byte; otherwise stream the kubelet's response back.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::harness::TestServer;

type Body = UnsyncBoxBody<Bytes, hyper::Error>;

/// The fake API server (plain HTTP on loopback); stopped on drop.
pub(super) struct FakeApiServer {
    pub port: u16,
    /// (subresource, Upgrade header, offered protocols) of every relayed request, to see what kubectl used.
    pub relayed: Arc<Mutex<Vec<(String, String, String)>>>,
    task: JoinHandle<()>,
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Upstream {
    kubelet_port: u16,
    tls: Arc<rustls::ClientConfig>,
    relayed: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl FakeApiServer {
    pub(super) async fn start(kubelet: &TestServer) -> Result<FakeApiServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let relayed = Arc::new(Mutex::new(Vec::new()));
        let upstream = Arc::new(Upstream {
            kubelet_port: kubelet.port,
            tls: kubelet.client_config(Some(&kubelet.pki))?,
            relayed: relayed.clone(),
        });
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(upstream.clone(), req, port));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Ok(FakeApiServer { port, relayed, task })
    }

    pub(super) fn kubeconfig(&self, dir: &std::path::Path) -> Result<std::path::PathBuf> {
        let path = dir.join("kubeconfig");
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{}\n\
             users:\n- name: u\n  user: {{}}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: default\n\
             current-context: c\n",
            self.port
        );
        std::fs::write(&path, config)?;
        Ok(path)
    }
}

fn json_response(status: StatusCode, value: serde_json::Value) -> Response<Body> {
    let body = Full::new(Bytes::from(value.to_string())).map_err(|never: Infallible| match never {}).boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
    response
}

fn pod(name: &str, port: u16) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "resourceVersion": "1"},
        "spec": {"containers": [{"name": "app", "image": "busybox", "ports": [{"containerPort": port}]}]},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": true, "restartCount": 0, "image": "busybox", "imageID": "", "state": {"running": {}}}
        ]},
    })
}

async fn handle(upstream: Arc<Upstream>, req: Request<Incoming>, port: u16) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let response = match segments.as_slice() {
        ["version"] => json_response(StatusCode::OK, json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0"})),
        ["api"] => json_response(
            StatusCode::OK,
            json!({"kind": "APIVersions", "versions": ["v1"],
                   "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": format!("127.0.0.1:{port}")}]}),
        ),
        ["apis"] => json_response(StatusCode::OK, json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})),
        ["api", "v1"] => json_response(
            StatusCode::OK,
            json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod", "verbs": ["get", "list"], "shortNames": ["po"]},
                {"name": "pods/exec", "singularName": "", "namespaced": true, "kind": "PodExecOptions", "verbs": ["create", "get"]},
                {"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]},
                {"name": "pods/portforward", "singularName": "", "namespaced": true, "kind": "PodPortForwardOptions", "verbs": ["create", "get"]},
            ]}),
        ),
        ["api", "v1", "namespaces", _, "pods", name] if req.method() == Method::GET => {
            json_response(StatusCode::OK, pod(name, 8080))
        }
        ["api", "v1", "namespaces", namespace, "pods", name, sub] => {
            let (namespace, name, sub) = (namespace.to_string(), name.to_string(), sub.to_string());
            relay(&upstream, req, &namespace, &name, &sub).await
        }
        _ => json_response(StatusCode::NOT_FOUND, json!({"kind": "Status", "status": "Failure", "code": 404})),
    };
    Ok(response)
}

/// The kubelet path for a pod subresource: the container moves from the query into the path.
fn kubelet_path(namespace: &str, pod: &str, sub: &str, query: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let container = pairs.iter().find(|(k, _)| k == "container").map(|(_, v)| v.clone()).unwrap_or("app".into());
    let rest: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().filter(|(k, _)| k != "container"))
        .finish();
    let base = match sub {
        "exec" => format!("/exec/{namespace}/{pod}/{container}"),
        "attach" => format!("/attach/{namespace}/{pod}/{container}"),
        "log" => format!("/containerLogs/{namespace}/{pod}/{container}"),
        "portforward" => format!("/portForward/{namespace}/{pod}"),
        _ => return None,
    };
    Some(if rest.is_empty() { base } else { format!("{base}?{rest}") })
}

async fn relay(
    upstream: &Upstream,
    mut req: Request<Incoming>,
    namespace: &str,
    pod: &str,
    sub: &str,
) -> Response<Body> {
    let header =
        |name: &str| req.headers().get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    let record =
        (sub.to_string(), header("upgrade"), header("sec-websocket-protocol") + &header("x-stream-protocol-version"));
    upstream.relayed.lock().unwrap_or_else(|e| e.into_inner()).push(record);
    let Some(path) = kubelet_path(namespace, pod, sub, req.uri().query().unwrap_or("")) else {
        return json_response(StatusCode::NOT_FOUND, json!({"kind": "Status", "status": "Failure", "code": 404}));
    };
    match forward(upstream, &mut req, &path).await {
        Ok(response) => response,
        Err(e) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"kind": "Status", "status": "Failure", "message": format!("kubelet: {e}"), "code": 503}),
        ),
    }
}

async fn forward(upstream: &Upstream, req: &mut Request<Incoming>, path: &str) -> Result<Response<Body>> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", upstream.kubelet_port)).await?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1")?.to_owned();
    let tls = tokio_rustls::TlsConnector::from(upstream.tls.clone()).connect(name, tcp).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
    tokio::spawn(connection.with_upgrades());
    let mut outgoing = Request::builder().method(req.method().clone()).uri(path);
    for (name, value) in req.headers() {
        // Hop-by-hop and body framing are our own; everything else (upgrade negotiation) passes through.
        if !matches!(name.as_str(), "host" | "content-length" | "transfer-encoding" | "authorization") {
            outgoing = outgoing.header(name, value);
        }
    }
    let outgoing =
        outgoing.header("host", format!("127.0.0.1:{}", upstream.kubelet_port)).body(Empty::<Bytes>::new())?;
    let mut kubelet_response = sender.send_request(outgoing).await?;
    if kubelet_response.status() != StatusCode::SWITCHING_PROTOCOLS {
        let (parts, body) = kubelet_response.into_parts();
        return Ok(Response::from_parts(parts, body.boxed_unsync()));
    }
    let mut response = Response::new(Empty::<Bytes>::new().map_err(|never: Infallible| match never {}).boxed_unsync());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *response.headers_mut() = kubelet_response.headers().clone();
    let client_upgrade = hyper::upgrade::on(req);
    let kubelet_upgrade = hyper::upgrade::on(&mut kubelet_response);
    tokio::spawn(async move {
        if let (Ok(client), Ok(kubelet)) = (client_upgrade.await, kubelet_upgrade.await) {
            let (mut client, mut kubelet) = (TokioIo::new(client), TokioIo::new(kubelet));
            let _ = tokio::io::copy_bidirectional(&mut client, &mut kubelet).await;
        }
    });
    Ok(response)
}

#[test]
fn kubelet_paths() {
    assert_eq!(
        kubelet_path("ns", "p", "exec", "command=echo&command=hi&container=c&stdout=true").as_deref(),
        Some("/exec/ns/p/c?command=echo&command=hi&stdout=true")
    );
    assert_eq!(kubelet_path("ns", "p", "log", "follow=true").as_deref(), Some("/containerLogs/ns/p/app?follow=true"));
    assert_eq!(kubelet_path("ns", "p", "portforward", "").as_deref(), Some("/portForward/ns/p"));
}

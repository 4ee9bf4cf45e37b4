//! healthCheckNodePort servers, as kube-proxy runs them: for a
//! LoadBalancer Service with externalTrafficPolicy Local, `GET` on its
//! health port answers 200 while this node has a local endpoint and 503
//! when it has none, so an outside load balancer only sends to nodes that
//! can serve without a second hop.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What a health port reports: the service (`namespace/name`) and how many
/// endpoints it has on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub service: String,
    pub local_endpoints: usize,
}

type Shared = Arc<Mutex<HashMap<u16, Health>>>;

#[derive(Default)]
pub struct HealthChecks {
    state: Shared,
    servers: HashMap<u16, JoinHandle<()>>,
}

impl HealthChecks {
    /// Make the served ports and their answers exactly `wanted`.
    pub fn set(&mut self, wanted: HashMap<u16, Health>) {
        self.servers.retain(|port, task| {
            let keep = wanted.contains_key(port);
            if !keep {
                task.abort();
            }
            keep
        });
        for port in wanted.keys() {
            if !self.servers.contains_key(port) {
                let task = tokio::spawn(serve(*port, self.state.clone()));
                self.servers.insert(*port, task);
            }
        }
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = wanted;
    }
}

impl Drop for HealthChecks {
    fn drop(&mut self) {
        for task in self.servers.values() {
            task.abort();
        }
    }
}

fn answer(h: Option<&Health>) -> (StatusCode, String) {
    match h {
        None => (StatusCode::NOT_FOUND, "{}\n".into()),
        Some(h) => {
            let (ns, name) = h.service.split_once('/').unwrap_or(("", h.service.as_str()));
            let body = serde_json::json!({
                "service": {"namespace": ns, "name": name},
                "localEndpoints": h.local_endpoints,
                "serviceProxyHealthy": true,
            });
            let code = if h.local_endpoints > 0 { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            (code, format!("{body}\n"))
        }
    }
}

async fn serve(port: u16, state: Shared) {
    let addr = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port);
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(%addr, error = %e, "healthCheckNodePort listener");
            return;
        }
    };
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                let (code, body) = answer(state.lock().unwrap_or_else(|e| e.into_inner()).get(&port));
                async move {
                    Response::builder()
                        .status(code)
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(body)))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_follow_local_endpoints() {
        let h = Health { service: "shop/web".into(), local_endpoints: 2 };
        let (code, body) = answer(Some(&h));
        assert_eq!(code, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["localEndpoints"], 2);
        assert_eq!(v["service"]["namespace"], "shop");
        let none = Health { local_endpoints: 0, ..h };
        assert_eq!(answer(Some(&none)).0, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer(None).0, StatusCode::NOT_FOUND);
    }
}

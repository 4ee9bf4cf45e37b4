//! Prometheus metrics of the node's load balancer on plain HTTP
//! (`GET /metrics`, kube-proxy's port 10249 by default), read from the
//! pinned maps at each scrape so they are the kernel's numbers.

use crate::lb::{Protocol, SocketLb};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::fmt::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;

fn proto(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    }
}

/// The text exposition of the maps under `pins`.
pub fn render(node: &str, pins: &std::path::Path) -> Result<String, crate::lb::LbError> {
    let lb = SocketLb::open_pinned(pins)?;
    let entries = lb.list()?;
    let stats = lb.stats()?;
    let mut out = String::new();
    let labels =
        |f: &crate::lb::Frontend| format!("node=\"{node}\",frontend=\"{}\",protocol=\"{}\"", f.addr, proto(f.protocol));
    let _ = writeln!(out, "# HELP keel_lb_frontends Service frontends in the node's eBPF load balancer.");
    let _ = writeln!(out, "# TYPE keel_lb_frontends gauge");
    let _ = writeln!(out, "keel_lb_frontends{{node=\"{node}\"}} {}", entries.len());
    let _ = writeln!(out, "# HELP keel_lb_backends Backends of a frontend (0: connections are refused).");
    let _ = writeln!(out, "# TYPE keel_lb_backends gauge");
    for e in &entries {
        let _ = writeln!(out, "keel_lb_backends{{{}}} {}", labels(&e.frontend), e.backends.len());
    }
    let _ = writeln!(out, "# HELP keel_lb_translated_total Connections and datagrams sent to a backend.");
    let _ = writeln!(out, "# TYPE keel_lb_translated_total counter");
    for (f, c) in &stats {
        let _ = writeln!(out, "keel_lb_translated_total{{{}}} {}", labels(f), c.translated);
    }
    let _ = writeln!(out, "# HELP keel_lb_no_backend_total Connections and datagrams refused for want of a backend.");
    let _ = writeln!(out, "# TYPE keel_lb_no_backend_total counter");
    for (f, c) in &stats {
        let _ = writeln!(out, "keel_lb_no_backend_total{{{}}} {}", labels(f), c.no_backend);
    }
    Ok(out)
}

/// Serve `/metrics` until the agent stops: the load balancer's maps, then the DNS server's
/// counters when it runs.
pub async fn serve(listen: SocketAddr, node: String, pins: PathBuf, dns: Option<Arc<crate::dns::DnsStats>>) {
    let listener = match TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(%listen, error = %e, "metrics listener");
            return;
        }
    };
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let (node, pins, dns) = (node.clone(), pins.clone(), dns.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let (node, pins, dns) = (node.clone(), pins.clone(), dns.clone());
                async move {
                    let response = if req.uri().path() != "/metrics" {
                        Response::builder().status(StatusCode::NOT_FOUND).body(Full::new(Bytes::from("not found\n")))
                    } else {
                        match render(&node, &pins) {
                            Ok(mut text) => Response::builder()
                                .header("content-type", "text/plain; version=0.0.4")
                                .body(Full::new(Bytes::from({
                                    if let Some(dns) = &dns {
                                        dns.render(&node, &mut text);
                                    }
                                    text
                                }))),
                            Err(e) => Response::builder()
                                .status(StatusCode::INTERNAL_SERVER_ERROR)
                                .body(Full::new(Bytes::from(format!("{e}\n")))),
                        }
                    };
                    response
                }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
        });
    }
}

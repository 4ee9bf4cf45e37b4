//! Liveness, readiness and startup probes: httpGet, tcpSocket, exec and
//! grpc, run from the node against the pod's IP (or inside the container
//! for exec), with the probe's timeout.

use super::insecure_tls;
use crate::runtime::Runtime;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::core::v1::{ContainerPort, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// A failed probe says why, for the Unhealthy event.
pub type Outcome = Result<(), String>;

/// Resolve a probe port: a number, or a container port's name.
fn port(p: &IntOrString, ports: &[ContainerPort]) -> Result<u16, String> {
    match p {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port {n}")),
        IntOrString::String(name) => match name.parse::<u16>() {
            Ok(n) => Ok(n),
            Err(_) => ports
                .iter()
                .find(|cp| cp.name.as_deref() == Some(name.as_str()))
                .and_then(|cp| u16::try_from(cp.container_port).ok())
                .ok_or_else(|| format!("couldn't find port {name:?} in container")),
        },
    }
}

pub struct Target {
    pub pod_ip: Option<IpAddr>,
    pub ports: Vec<ContainerPort>,
    pub runtime: Arc<Runtime>,
    pub state_dir: PathBuf,
}

/// Run one probe attempt.
pub async fn run(probe: &Probe, target: &Target) -> Outcome {
    let timeout = Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64);
    let attempt = async {
        if let Some(exec) = &probe.exec {
            exec_probe(exec.command.clone().unwrap_or_default(), target, timeout).await
        } else if let Some(h) = &probe.http_get {
            let host_ip = match h.host.as_deref().filter(|h| !h.is_empty()) {
                Some(h) => h.parse().map_err(|_| format!("invalid probe host {h:?}"))?,
                None => target.pod_ip.ok_or("pod has no IP")?,
            };
            let addr = SocketAddr::new(host_ip, port(&h.port, &target.ports)?);
            let headers: Vec<(String, String)> =
                h.http_headers.iter().flatten().map(|hd| (hd.name.clone(), hd.value.clone())).collect();
            let tls = h.scheme.as_deref() == Some("HTTPS");
            http_get(addr, h.path.as_deref().unwrap_or("/"), &headers, tls).await
        } else if let Some(t) = &probe.tcp_socket {
            let host_ip = match t.host.as_deref().filter(|h| !h.is_empty()) {
                Some(h) => h.parse().map_err(|_| format!("invalid probe host {h:?}"))?,
                None => target.pod_ip.ok_or("pod has no IP")?,
            };
            let addr = SocketAddr::new(host_ip, port(&t.port, &target.ports)?);
            TcpStream::connect(addr).await.map(|_| ()).map_err(|e| format!("dial tcp {addr}: {e}"))
        } else if let Some(g) = &probe.grpc {
            let ip = target.pod_ip.ok_or("pod has no IP")?;
            let p = u16::try_from(g.port).map_err(|_| format!("invalid port {}", g.port))?;
            grpc_health(SocketAddr::new(ip, p), g.service.as_deref().unwrap_or("")).await
        } else {
            Err("probe has no handler".into())
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("timeout: probe did not answer within {}s", timeout.as_secs())),
    }
}

async fn exec_probe(command: Vec<String>, target: &Target, timeout: Duration) -> Outcome {
    if command.is_empty() {
        return Err("exec probe has no command".into());
    }
    let runtime = target.runtime.clone();
    let dir = target.state_dir.clone();
    let cmd = command.clone();
    let run = tokio::task::spawn_blocking(move || runtime.exec_output(&dir, &cmd, timeout));
    match run.await {
        Ok(Ok((0, _))) => Ok(()),
        Ok(Ok((code, output))) => {
            let out = String::from_utf8_lossy(&output);
            Err(format!("command {command:?} exited with {code}: {}", out.trim()))
        }
        Ok(Err(e)) => Err(format!("exec {command:?}: {e}")),
        Err(e) => Err(e.to_string()),
    }
}

async fn http_get(addr: SocketAddr, path: &str, headers: &[(String, String)], tls: bool) -> Outcome {
    let scheme = if tls { "https" } else { "http" };
    let fail = |e: &dyn std::fmt::Display| format!("Get \"{scheme}://{addr}{path}\": {e}");
    let stream = TcpStream::connect(addr).await.map_err(|e| fail(&e))?;
    if tls {
        // Like the kubelet, HTTPS probes do not verify the certificate.
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let config = insecure_tls::client_config().map_err(|e| fail(&e))?;
        let stream = tokio_rustls::TlsConnector::from(config).connect(name, stream).await.map_err(|e| fail(&e))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| fail(&e))?;
        tokio::spawn(conn);
        return send_get(sender, addr, path, headers).await.map_err(|e| fail(&e))?;
    }
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| fail(&e))?;
    tokio::spawn(conn);
    send_get(sender, addr, path, headers).await.map_err(|e| fail(&e))?
}

/// Send the probe's GET and judge the status code (200-399 is healthy).
async fn send_get(
    mut sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    path: &str,
    headers: &[(String, String)],
) -> Result<Outcome, String> {
    let mut req = hyper::Request::get(path).header("User-Agent", "kube-probe/1.33").header("Accept", "*/*");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req = req.header("Host", addr.to_string());
    }
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req.body(Full::new(Bytes::new())).map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let code = resp.status().as_u16();
    Ok(if (200..400).contains(&code) { Ok(()) } else { Err(format!("HTTP probe failed with statuscode: {code}")) })
}

/// grpc.health.v1.Health/Check over h2c; SERVING (1) is healthy.
async fn grpc_health(addr: SocketAddr, service: &str) -> Outcome {
    let stream = TcpStream::connect(addr).await.map_err(|e| format!("failed to connect service {addr}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
        .await
        .map_err(|e| format!("failed to connect service {addr}: {e}"))?;
    tokio::spawn(conn);
    // HealthCheckRequest { string service = 1; } in a gRPC length-prefixed frame.
    let mut msg = Vec::new();
    if !service.is_empty() {
        msg.push(0x0a);
        msg.push(service.len() as u8);
        msg.extend_from_slice(service.as_bytes());
    }
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    frame.extend_from_slice(&msg);
    let req = hyper::Request::post(format!("http://{addr}/grpc.health.v1.Health/Check"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from(frame)))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| format!("health rpc failed: {e}"))?;
    let collected = resp.into_body().collect().await.map_err(|e| format!("health rpc failed: {e}"))?;
    let grpc_status = collected
        .trailers()
        .and_then(|t| t.get("grpc-status"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("0")
        .to_string();
    if grpc_status != "0" {
        return Err(format!("health rpc failed: grpc-status {grpc_status}"));
    }
    let body = collected.to_bytes();
    // HealthCheckResponse { ServingStatus status = 1; }: tag 0x08 then a varint.
    let status = body.get(5..).and_then(|m| m.windows(2).find(|w| w[0] == 0x08).map(|w| w[1])).unwrap_or(0);
    if status == 1 {
        Ok(())
    } else {
        Err(format!("service unhealthy (responded with \"{}\")", serving_status(status)))
    }
}

fn serving_status(code: u8) -> &'static str {
    match code {
        0 => "UNKNOWN",
        1 => "SERVING",
        2 => "NOT_SERVING",
        3 => "SERVICE_UNKNOWN",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An HTTPS server with a self-signed certificate answering 200 on
    /// `/ok` and 500 elsewhere.
    async fn https_server() -> SocketAddr {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("cert");
        let der = cert.cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).expect("key");
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![der], key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                        let code = if req.uri().path() == "/ok" { 200 } else { 500 };
                        hyper::Response::builder().status(code).body(Full::new(Bytes::from_static(b"x")))
                    });
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });
        addr
    }

    /// A gRPC health server over h2c: SERVING for the service "up", NOT_SERVING otherwise.
    async fn grpc_server() -> SocketAddr {
        use http_body_util::StreamBody;
        use hyper::body::Frame;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let serving = body.get(5..).is_some_and(|m| m.ends_with(b"up"));
                        let frame = [0, 0, 0, 0, 2, 0x08, if serving { 1 } else { 2 }];
                        let mut trailers = hyper::HeaderMap::new();
                        trailers.insert("grpc-status", hyper::header::HeaderValue::from_static("0"));
                        let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> =
                            vec![Ok(Frame::data(Bytes::copy_from_slice(&frame))), Ok(Frame::trailers(trailers))];
                        hyper::Response::builder()
                            .header("content-type", "application/grpc")
                            .body(StreamBody::new(futures::stream::iter(frames)))
                    });
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn grpc_probes_read_the_serving_status() {
        let addr = grpc_server().await;
        assert_eq!(grpc_health(addr, "up").await, Ok(()));
        let err = grpc_health(addr, "down").await.err().unwrap_or_default();
        assert!(err.contains("NOT_SERVING"), "{err}");
        let closed = SocketAddr::from(([127, 0, 0, 1], 1));
        assert!(grpc_health(closed, "").await.is_err());
    }

    #[tokio::test]
    async fn https_probes_skip_verification_and_judge_the_status() {
        let addr = https_server().await;
        assert_eq!(http_get(addr, "/ok", &[], true).await, Ok(()));
        let err = http_get(addr, "/bad", &[], true).await.err().unwrap_or_default();
        assert!(err.contains("statuscode: 500"), "{err}");
        // Plain HTTP against the TLS port fails instead of passing.
        assert!(http_get(addr, "/ok", &[], false).await.is_err());
    }

    #[test]
    fn named_ports_resolve_from_the_container() {
        let ports = vec![ContainerPort { name: Some("http".into()), container_port: 8080, ..Default::default() }];
        assert_eq!(port(&IntOrString::String("http".into()), &ports), Ok(8080));
        assert_eq!(port(&IntOrString::Int(81), &ports), Ok(81));
        assert!(port(&IntOrString::String("nope".into()), &ports).is_err());
    }
}

//! `pods/log`, `pods/exec`, `pods/attach` and `pods/portforward`: relayed to
//! the kubelet API of the pod's node, as kube-apiserver does. The request
//! goes over HTTPS with the API server's kubelet-client certificate (signed
//! by the cluster CA, which is what the agent accepts); an upgrade
//! (WebSocket or SPDY) is answered with the kubelet's 101 and the two
//! connections are then joined byte for byte.

use super::status::{ApiError, ApiResult};
use super::ApiServer;
use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use hyper::header::{self, HeaderValue};
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde_json::Value;
use std::sync::Arc;

/// The kubelet's port when a Node does not say.
const DEFAULT_KUBELET_PORT: u16 = 10250;

/// TLS settings for talking to kubelets: our client certificate; their
/// self-signed serving certificates are not verified (kube-apiserver's
/// default without --kubelet-certificate-authority).
pub fn client_config(cert_pem: &str, key_pem: &str) -> anyhow::Result<rustls::ClientConfig> {
    let certs = rustls_pemfile::certs(&mut cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>()?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_bytes())?
        .ok_or_else(|| anyhow::anyhow!("no private key in the kubelet client key file"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
        .with_client_auth_cert(certs, key)?;
    Ok(config)
}

/// Accepts any server certificate but still checks the handshake signatures.
#[derive(Debug)]
struct AnyServerCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Query parameters the kubelet understands, per subresource (`ports=`
/// on the API becomes `port=` on the kubelet; repeated keys stay).
fn kubelet_query(sub: &str, query: &[(String, String)]) -> String {
    let keep: &[&str] = match sub {
        "log" => &["follow", "previous", "tailLines", "sinceSeconds", "sinceTime", "timestamps", "limitBytes"],
        "exec" | "attach" => &["command", "stdin", "stdout", "stderr", "tty"],
        _ => &["port", "ports"],
    };
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query.iter().filter(|(k, _)| keep.contains(&k.as_str())) {
        out.append_pair(if k == "ports" { "port" } else { k }, v);
    }
    out.finish()
}

/// The raw query string as pairs, repeated keys kept in order.
fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect()
}

/// The container a request is for: `?container=`, else the only one.
fn container_name(pod: &Value, name: &str, query: &[(String, String)]) -> ApiResult<String> {
    if let Some((_, c)) = query.iter().find(|(k, _)| k == "container").filter(|(_, v)| !v.is_empty()) {
        return Ok(c.clone());
    }
    let names: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    match names.as_slice() {
        [only] => Ok(only.to_string()),
        [] => Err(ApiError::bad_request(format!("pod {name} has no containers"))),
        many => {
            // kubectl's default-container annotation, like the apiserver.
            if let Some(c) =
                pod.pointer("/metadata/annotations/kubectl.kubernetes.io~1default-container").and_then(Value::as_str)
            {
                return Ok(c.to_string());
            }
            Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                many.join(" ")
            )))
        }
    }
}

/// Where the pod's node's kubelet listens.
fn kubelet_address(server: &ApiServer, node_name: &str) -> ApiResult<String> {
    let rt = server.registry.find("", "v1", "nodes").ok_or_else(ApiError::not_found_path)?;
    let node = server
        .store
        .get(&rt.storage_key(None, node_name))
        .ok_or_else(|| ApiError::bad_request(format!("node {node_name} not found")))?;
    let ip = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter().find(|x| x["type"] == "InternalIP").or_else(|| a.first()).and_then(|x| x["address"].as_str())
        })
        .ok_or_else(|| ApiError::bad_request(format!("node {node_name} has no address")))?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .filter(|p| *p > 0)
        .unwrap_or(DEFAULT_KUBELET_PORT as u64);
    Ok(match ip.parse::<std::net::Ipv6Addr>() {
        Ok(_) => format!("[{ip}]:{port}"),
        Err(_) => format!("{ip}:{port}"),
    })
}

/// Relay one connect-style pod subresource request to the kubelet.
pub async fn relay(
    server: &ApiServer,
    pod_key: &str,
    namespace: &str,
    name: &str,
    sub: &str,
    mut req: Request,
) -> ApiResult<Response> {
    let tls = server
        .kubelet_tls
        .clone()
        .ok_or_else(|| ApiError::new(503, "ServiceUnavailable", "no kubelet client credentials"))?;
    let pod = server
        .store
        .get(pod_key)
        .ok_or_else(|| ApiError::new(404, "NotFound", format!("pods \"{name}\" not found")))?;
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("pod {name} does not have a host assigned")))?;
    let query = query_pairs(req.uri().query());
    let path = match sub {
        "log" | "exec" | "attach" => {
            let container = container_name(&pod, name, &query)?;
            let verb = if sub == "log" { "containerLogs" } else { sub };
            format!("/{verb}/{namespace}/{name}/{container}")
        }
        _ => format!("/portForward/{namespace}/{name}"),
    };
    let q = kubelet_query(sub, &query);
    let uri = if q.is_empty() { path } else { format!("{path}?{q}") };
    let addr = kubelet_address(server, node)?;
    let unreachable = |e: &dyn std::fmt::Display| {
        ApiError::new(502, "InternalError", format!("error dialing backend: dial tcp {addr}: {e}"))
    };
    let tcp = tokio::time::timeout(std::time::Duration::from_secs(10), tokio::net::TcpStream::connect(&addr))
        .await
        .map_err(|_| unreachable(&"i/o timeout"))?
        .map_err(|e| unreachable(&e))?;
    let host = addr.rsplit_once(':').map(|(h, _)| h.trim_matches(['[', ']']).to_string()).unwrap_or_default();
    let server_name = ServerName::try_from(host.clone()).map_err(|e| unreachable(&e))?;
    let stream = tokio_rustls::TlsConnector::from(tls).connect(server_name, tcp).await.map_err(|e| unreachable(&e))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| unreachable(&e))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });

    // The client's side of an upgrade, to join once the kubelet agrees.
    let client_upgrade = hyper::upgrade::on(&mut req);
    let (parts, body) = req.into_parts();
    let mut out = hyper::Request::builder().method(parts.method.clone()).uri(&uri);
    for (k, v) in &parts.headers {
        if k == header::AUTHORIZATION || k == header::HOST {
            continue;
        }
        out = out.header(k, v);
    }
    out = out.header(header::HOST, addr.as_str());
    let out = out.body(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut resp = sender.send_request(out).await.map_err(|e| unreachable(&e))?;
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        let kubelet_upgrade = hyper::upgrade::on(&mut resp);
        tokio::spawn(async move {
            let (Ok(a), Ok(b)) = (client_upgrade.await, kubelet_upgrade.await) else { return };
            let _ = tokio::io::copy_bidirectional(&mut TokioIo::new(a), &mut TokioIo::new(b)).await;
        });
    }
    if resp.status().is_client_error() || resp.status().is_server_error() {
        // The kubelet answers errors in plain text; clients expect a Status.
        use http_body_util::BodyExt;
        let code = resp.status().as_u16();
        let body = http_body_util::Limited::new(resp.into_body(), 64 * 1024).collect().await;
        let text = body.map(|b| String::from_utf8_lossy(&b.to_bytes()).trim().to_string()).unwrap_or_default();
        let reason = match code {
            400 => "BadRequest",
            404 => "NotFound",
            _ => "InternalError",
        };
        return Err(ApiError::new(code, reason, text));
    }
    let (rparts, rbody) = resp.into_parts();
    let mut response = Response::from_parts(rparts, Body::new(rbody));
    if !response.headers().contains_key(header::CONTENT_TYPE) && response.status() != StatusCode::SWITCHING_PROTOCOLS {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    }
    Ok(response.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn queries_translate_for_the_kubelet() {
        let q = query_pairs(Some("command=sh&command=-c&command=echo%20hi&stdin=true&container=c&foo=1"));
        assert_eq!(kubelet_query("exec", &q), "command=sh&command=-c&command=echo+hi&stdin=true");
        let q = query_pairs(Some("ports=8080&ports=9090"));
        assert_eq!(kubelet_query("portforward", &q), "port=8080&port=9090");
        let q = query_pairs(Some("follow=true&tailLines=3&container=x"));
        assert_eq!(kubelet_query("log", &q), "follow=true&tailLines=3");
    }

    #[test]
    fn default_container() {
        let one = json!({"spec": {"containers": [{"name": "a"}]}});
        assert_eq!(container_name(&one, "p", &[]).ok(), Some("a".to_string()));
        let two = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let err = container_name(&two, "p", &[]).err().map(|e| e.message).unwrap_or_default();
        assert!(err.contains("choose one of: [a b]"), "{err}");
        assert_eq!(container_name(&two, "p", &[("container".into(), "b".into())]).ok(), Some("b".to_string()));
    }
}

//! Protocol negotiation for streaming requests, as the kubelet does it: a WebSocket upgrade with a
//! `Sec-WebSocket-Protocol` subprotocol, or a SPDY/3.1 upgrade with `X-Stream-Protocol-Version`. The first
//! protocol in the client's list that we support wins.

use hyper::header::{HeaderMap, HeaderValue, CONNECTION, UPGRADE};
use hyper::{Response, StatusCode};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::body::{empty, text, ResponseBody};

const STREAM_PROTOCOL_VERSION: &str = "x-stream-protocol-version";
const WEBSOCKET_PROTOCOL: &str = "sec-websocket-protocol";
const WEBSOCKET_KEY: &str = "sec-websocket-key";
const SPDY: &str = "SPDY/3.1";

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Negotiated {
    WebSocket { protocol: String, accept_key: String },
    Spdy { protocol: String },
}

impl Negotiated {
    #[cfg(test)]
    pub(crate) fn protocol(&self) -> &str {
        match self {
            Negotiated::WebSocket { protocol, .. } | Negotiated::Spdy { protocol } => protocol,
        }
    }

    /// The 101 answer that switches the connection.
    pub(crate) fn switching_protocols(&self) -> Response<ResponseBody> {
        let mut response = Response::new(empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
        let value = |v: &str| HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static(""));
        match self {
            Negotiated::WebSocket { protocol, accept_key } => {
                headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
                headers.insert("sec-websocket-accept", value(accept_key));
                headers.insert(WEBSOCKET_PROTOCOL, value(protocol));
            }
            Negotiated::Spdy { protocol } => {
                headers.insert(UPGRADE, HeaderValue::from_static(SPDY));
                headers.insert(STREAM_PROTOCOL_VERSION, value(protocol));
            }
        }
        response
    }
}

/// Picks the transport and protocol, or the error response to send instead.
pub(crate) fn negotiate(
    headers: &HeaderMap,
    websocket_protocols: &[&str],
    spdy_protocols: &[&str],
) -> Result<Negotiated, Box<Response<ResponseBody>>> {
    let wants_upgrade = header_tokens(headers, CONNECTION.as_str()).iter().any(|t| t.eq_ignore_ascii_case("upgrade"));
    let upgrade = headers.get(UPGRADE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !wants_upgrade || upgrade.is_empty() {
        return Err(Box::new(text(StatusCode::BAD_REQUEST, "Upgrade request required")));
    }
    if upgrade.eq_ignore_ascii_case("websocket") {
        let Some(key) = headers.get(WEBSOCKET_KEY) else {
            return Err(Box::new(text(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key")));
        };
        let offered = header_tokens(headers, WEBSOCKET_PROTOCOL);
        let Some(protocol) = first_supported(&offered, websocket_protocols) else {
            return Err(Box::new(text(
                StatusCode::BAD_REQUEST,
                format!("unable to upgrade: no supported websocket subprotocol in {offered:?} (supported: {websocket_protocols:?})"),
            )));
        };
        return Ok(Negotiated::WebSocket { protocol, accept_key: derive_accept_key(key.as_bytes()) });
    }
    if upgrade.eq_ignore_ascii_case(SPDY) {
        let offered = header_tokens(headers, STREAM_PROTOCOL_VERSION);
        let Some(protocol) = first_supported(&offered, spdy_protocols) else {
            return Err(Box::new(text(
                StatusCode::FORBIDDEN,
                format!("unable to upgrade: unable to negotiate protocol: client supports {offered:?}, server supports {spdy_protocols:?}"),
            )));
        };
        return Ok(Negotiated::Spdy { protocol });
    }
    Err(Box::new(text(StatusCode::BAD_REQUEST, format!("unsupported upgrade {upgrade:?}"))))
}

/// All comma-separated values of every instance of a header.
fn header_tokens(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn first_supported(offered: &[String], supported: &[&str]) -> Option<String> {
    offered.iter().find(|p| supported.contains(&p.as_str())).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn picks_the_clients_first_supported_protocol() {
        let spdy = headers(&[
            ("connection", "Upgrade"),
            ("upgrade", "SPDY/3.1"),
            ("x-stream-protocol-version", "v5.channel.k8s.io"),
            ("x-stream-protocol-version", "v4.channel.k8s.io"),
            ("x-stream-protocol-version", "v3.channel.k8s.io"),
        ]);
        let chosen = negotiate(&spdy, &[], &["v3.channel.k8s.io", "v4.channel.k8s.io"]).unwrap();
        assert_eq!(chosen, Negotiated::Spdy { protocol: "v4.channel.k8s.io".into() });

        let ws = headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-protocol", "v5.channel.k8s.io, v4.channel.k8s.io"),
        ]);
        let chosen = negotiate(&ws, &["v4.channel.k8s.io", "v5.channel.k8s.io"], &[]).unwrap();
        assert_eq!(chosen.protocol(), "v5.channel.k8s.io");
        // The RFC 6455 example key.
        assert!(
            matches!(chosen, Negotiated::WebSocket { ref accept_key, .. } if accept_key == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
    }

    #[test]
    fn refuses_plain_and_unknown_requests() {
        assert_eq!(negotiate(&headers(&[]), &["a"], &["a"]).unwrap_err().status(), StatusCode::BAD_REQUEST);
        let spdy = headers(&[("connection", "upgrade"), ("upgrade", "SPDY/3.1"), ("x-stream-protocol-version", "v9")]);
        assert_eq!(negotiate(&spdy, &[], &["v4.channel.k8s.io"]).unwrap_err().status(), StatusCode::FORBIDDEN);
    }
}

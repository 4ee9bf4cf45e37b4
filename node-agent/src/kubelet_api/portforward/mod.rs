//! `/portForward/{namespace}/{pod}`: TCP connections to ports of the pod, over SPDY, over WebSocket channels,
//! or over SPDY tunneled in WebSocket messages (what kubectl 1.31+ sends first).

mod netns;
mod spdy;
mod websocket;

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::body::{text, ResponseBody};
use super::channel_ws::{accept, tunnel};
use super::query::Query;
use super::server::ApiState;
use super::upgrade::{negotiate, Negotiated};

const SPDY_TUNNEL: &str = "SPDY/3.1+portforward.k8s.io";
const WEBSOCKET_PROTOCOLS: &[&str] = &[SPDY_TUNNEL, "portforward.k8s.io", "v4.channel.k8s.io"];

pub(crate) fn handle(
    state: &Arc<ApiState>,
    mut req: Request<Incoming>,
    namespace: &str,
    pod: &str,
    query: &Query,
) -> Response<ResponseBody> {
    let Some(netns) = state.lookup.pod_netns(namespace, pod) else {
        return text(
            StatusCode::NOT_FOUND,
            format!("pod {pod:?} in namespace {namespace:?} is not found on this node"),
        );
    };
    let negotiated = match negotiate(req.headers(), WEBSOCKET_PROTOCOLS, &[spdy::PROTOCOL]) {
        Ok(negotiated) => negotiated,
        Err(response) => return *response,
    };
    let mut ports = Vec::new();
    for value in query.all("port") {
        match value.parse::<u16>() {
            Ok(port) if port > 0 => ports.push(port),
            _ => return text(StatusCode::BAD_REQUEST, format!("invalid port {value:?}")),
        }
    }
    let channel_mode = matches!(&negotiated, Negotiated::WebSocket { protocol, .. } if protocol != SPDY_TUNNEL);
    if channel_mode && ports.is_empty() {
        return text(StatusCode::BAD_REQUEST, "at least one port= parameter is required");
    }
    let response = negotiated.switching_protocols();
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!("port-forward upgrade failed: {e}");
                return;
            }
        };
        match negotiated {
            Negotiated::Spdy { .. } => spdy::serve(hyper_util::rt::TokioIo::new(upgraded), netns).await,
            Negotiated::WebSocket { protocol, .. } if protocol == SPDY_TUNNEL => {
                spdy::serve(tunnel(accept(upgraded).await), netns).await
            }
            Negotiated::WebSocket { .. } => websocket::serve(upgraded, netns, ports).await,
        }
    });
    response
}

//! `/exec/{namespace}/{pod}/{container}` (and `/attach/...`): a command in a running container, streamed over
//! WebSocket or SPDY.

mod attach;
mod request;
mod resize;
mod session;
mod spdy;
mod websocket;

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::body::{text, ResponseBody};
use super::query::Query;
use super::server::ApiState;
use super::upgrade::{negotiate, Negotiated};
use request::ExecRequest;
use session::Action;

pub(crate) struct Target<'a> {
    pub namespace: &'a str,
    pub pod: &'a str,
    pub container: &'a str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Exec,
    Attach,
}

pub(crate) fn handle(
    state: &Arc<ApiState>,
    mut req: Request<Incoming>,
    target: Target<'_>,
    query: &Query,
    mode: Mode,
) -> Response<ResponseBody> {
    let request = match ExecRequest::from_query(query, mode == Mode::Exec) {
        Ok(request) => request,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    if mode == Mode::Attach && (request.stdin || request.tty) {
        // The shim gives containers no stdin and no terminal; their output is all there is to attach to.
        return text(StatusCode::BAD_REQUEST, "attach with stdin or tty is not supported: containers have no stdin");
    }
    let Target { namespace, pod, container } = target;
    let Some(found) = state.lookup.container(namespace, pod, container) else {
        return text(
            StatusCode::NOT_FOUND,
            format!("container {container:?} in pod {pod:?} in namespace {namespace:?} is not found on this node"),
        );
    };
    if !found.running {
        return text(StatusCode::BAD_REQUEST, format!("container {container:?} in pod {pod:?} is not running"));
    }
    let negotiated = match negotiate(req.headers(), websocket::PROTOCOLS, spdy::PROTOCOLS) {
        Ok(negotiated) => negotiated,
        Err(response) => return *response,
    };
    let response = negotiated.switching_protocols();
    let on_upgrade = hyper::upgrade::on(&mut req);
    let runtime = state.runtime.clone();
    let action = match (mode, found.logs.last()) {
        (Mode::Exec, _) => Action::Exec { runtime, state_dir: found.state_dir },
        (Mode::Attach, Some(log)) => Action::Attach { runtime, state_dir: found.state_dir, log: log.clone() },
        (Mode::Attach, None) => return text(StatusCode::BAD_REQUEST, "the container has no log to attach to"),
    };
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                tracing::debug!("exec upgrade failed: {e}");
                return;
            }
        };
        match negotiated {
            Negotiated::WebSocket { protocol, .. } => websocket::serve(upgraded, protocol, action, request).await,
            Negotiated::Spdy { protocol } => spdy::serve(upgraded, protocol, action, request).await,
        }
    });
    response
}

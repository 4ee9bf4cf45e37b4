//! Request routing by the kubelet's paths.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use super::body::{text, ResponseBody};
use super::query::Query;
use super::server::ApiState;
use super::{exec, logs, portforward};

pub(crate) async fn route(state: Arc<ApiState>, req: Request<Incoming>) -> Result<Response<ResponseBody>, Infallible> {
    let path = req.uri().path().to_string();
    let query = Query::parse(req.uri().query());
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = req.method().clone();
    let get_or_post = method == Method::GET || method == Method::POST;
    let response = match segments.as_slice() {
        ["healthz"] if method == Method::GET => text(StatusCode::OK, "ok"),
        ["containerLogs", namespace, pod, container] if method == Method::GET => {
            logs::handle(&state, namespace, pod, container, &query).await
        }
        ["exec", namespace, pod, container] if get_or_post => {
            exec::handle(&state, req, exec::Target { namespace, pod, container }, &query, exec::Mode::Exec)
        }
        ["attach", namespace, pod, container] if get_or_post => {
            exec::handle(&state, req, exec::Target { namespace, pod, container }, &query, exec::Mode::Attach)
        }
        ["portForward", namespace, pod] if get_or_post => portforward::handle(&state, req, namespace, pod, &query),
        _ => text(StatusCode::NOT_FOUND, format!("404 page not found: {method} {path}")),
    };
    Ok(response)
}

//! `GET /containerLogs/{namespace}/{pod}/{container}`: a container's CRI log file as plain text.

pub(crate) mod cri;
mod filter;
mod options;
mod stream;
mod timestamp;

use std::time::{SystemTime, UNIX_EPOCH};

use http_body_util::BodyExt;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use tokio::sync::mpsc;

use super::body::{text, ChannelBody, ResponseBody};
use super::query::Query;
use super::server::ApiState;
use options::LogOptions;
use stream::stream_log;

pub(crate) async fn handle(
    state: &ApiState,
    namespace: &str,
    pod: &str,
    container: &str,
    query: &Query,
) -> Response<ResponseBody> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0);
    let options = match LogOptions::from_query(query, now) {
        Ok(options) => options,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    let Some(target) = state.lookup.container(namespace, pod, container) else {
        return text(
            StatusCode::NOT_FOUND,
            format!("container {container:?} in pod {pod:?} in namespace {namespace:?} is not found on this node"),
        );
    };
    let path = if options.previous {
        match target.logs.len().checked_sub(2).and_then(|i| target.logs.get(i)) {
            Some(path) => path.clone(),
            None => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("previous terminated container {container:?} in pod {pod:?} not found"),
                )
            }
        }
    } else {
        match target.logs.last() {
            Some(path) => path.clone(),
            None => return text(StatusCode::OK, ""),
        }
    };
    let (tx, rx) = mpsc::channel(8);
    let lookup = state.lookup.clone();
    let (namespace, pod, container) = (namespace.to_string(), pod.to_string(), container.to_string());
    let running = move || lookup.container(&namespace, &pod, &container).is_some_and(|t| t.running);
    tokio::spawn(stream_log(path, options, running, tx));
    let mut response = Response::new(ChannelBody(rx).boxed_unsync());
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

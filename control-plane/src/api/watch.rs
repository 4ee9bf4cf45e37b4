//! Watch: a stream of JSON events per line, fed from the resource's shared
//! broadcast channel, filtered per watcher.
//!
//! resourceVersion semantics as Kubernetes: unset or "0" starts with the
//! current objects as ADDED events; a specific version replays what came
//! after it from the store's history, or ends at once with a 410 ERROR event
//! when that history is gone. Bookmarks, if asked for, carry the latest
//! revision so clients can resume cheaply.

use super::convert::to_view;
use super::handlers::{Call, Selectors};
use super::objects::partial_metadata;
use super::render;
use super::request::Rendering;
use super::status::{ApiError, ApiResult};
use crate::registry::ResourceType;
use crate::store::{Event, EventType, StoreError};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// Default watch length when the client gives no timeout (kube-apiserver
/// picks 30 to 60 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// How one watcher renders and filters.
struct Watcher {
    rt: Arc<ResourceType>,
    prefix: String,
    /// `/<name>` when the field selector names one object: other keys are
    /// rejected without looking at the object.
    name_suffix: Option<String>,
    selectors: Selectors,
    rendering: Rendering,
    columns_sent: bool,
}

impl Watcher {
    fn matches(&self, key: &str, obj: &Value) -> bool {
        key.starts_with(&self.prefix)
            && self.name_suffix.as_ref().is_none_or(|n| key.ends_with(n.as_str()))
            && self.selectors.matches(obj)
    }

    /// The event type this watcher sees for a change, if any: an object
    /// that starts or stops matching the selectors is ADDED or DELETED.
    fn classify(&self, e: &Event) -> Option<EventType> {
        let now = e.kind != EventType::Deleted && self.matches(&e.key, &e.object);
        let before = match (&e.prev, e.kind) {
            (_, EventType::Added) => false,
            (Some(p), _) => self.matches(&e.key, p),
            (None, _) => self.matches(&e.key, &e.object),
        };
        match (before, now, e.kind) {
            (_, _, EventType::Deleted) if before => Some(EventType::Deleted),
            (false, true, _) => Some(EventType::Added),
            (true, true, _) => Some(EventType::Modified),
            (true, false, _) => Some(EventType::Deleted),
            _ => None,
        }
    }

    /// Whether this watcher sends stored objects exactly as stored, so an
    /// event's shared encoding fits it.
    fn sends_stored_form(&self, obj: &Value) -> bool {
        self.rendering == Rendering::Full
            && self.rt.group != "events.k8s.io"
            && obj.get("apiVersion").and_then(Value::as_str) == Some(self.rt.api_version().as_str())
    }

    /// The watch line for a store event, reusing its shared encoding when
    /// this watcher sees it as the store does.
    fn render_event(&mut self, kind: EventType, e: &Event) -> Bytes {
        if kind == e.kind && self.sends_stored_form(&e.object) {
            return e.encoded.get_or_init(|| Bytes::from(line(kind.as_str(), &e.object))).clone();
        }
        Bytes::from(self.render(kind.as_str(), &e.object))
    }

    fn render(&mut self, kind: &str, obj: &Value) -> String {
        let view = to_view(&self.rt, obj);
        let object = match self.rendering {
            Rendering::Full => view,
            Rendering::PartialMetadata => partial_metadata(&view),
            Rendering::Table => {
                let rev =
                    view.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or_default().to_string();
                let t = render::table_of(&self.rt, &[view], &rev, None, !self.columns_sent);
                self.columns_sent = true;
                t
            }
        };
        line(kind, &object)
    }

    fn bookmark(&self, revision: u64, initial_events_end: bool) -> String {
        let mut meta = json!({"resourceVersion": revision.to_string()});
        if initial_events_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let mut line = json!({
            "type": "BOOKMARK",
            "object": {"kind": self.rt.kind, "apiVersion": self.rt.api_version(), "metadata": meta},
        })
        .to_string();
        line.push('\n');
        line
    }
}

/// `{"type":...,"object":...}` and a newline, without copying the object.
fn line(kind: &str, object: &Value) -> String {
    #[derive(serde::Serialize)]
    struct WatchLine<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        object: &'a Value,
    }
    let mut out = serde_json::to_string(&WatchLine { kind, object }).unwrap_or_default();
    out.push('\n');
    out
}

fn error_line(e: &ApiError) -> String {
    let mut line = json!({"type": "ERROR", "object": e.status()}).to_string();
    line.push('\n');
    line
}

fn parse_rv(call: &Call) -> ApiResult<Option<u64>> {
    match call.query.get("resourceVersion") {
        None | Some("0") => Ok(None),
        Some(rv) => rv.parse().map(Some).map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}"))),
    }
}

/// Serve `?watch=true` on a collection.
pub fn serve(call: &Call) -> ApiResult<Response> {
    let rt = call.target.rt.clone();
    let selectors = Selectors::from_query(&rt, &call.query)?;
    let from = parse_rv(call)?;
    let timeout = call
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT);
    let bookmarks = call.query.flag("allowWatchBookmarks");
    let send_initial = call.query.flag("sendInitialEvents");
    let bookmark_every = call.server.bookmark_interval;
    let mut watcher = Watcher {
        name_suffix: selectors.fields.required_name().map(|n| format!("/{n}")),
        prefix: call.target.collection_prefix(),
        rt: rt.clone(),
        selectors,
        rendering: call.rendering,
        columns_sent: false,
    };
    let store = call.server.store.clone();
    let resource_prefix = rt.storage_prefix();
    // Set up under the store's lock so nothing is missed, then stream.
    let (initial, start) = match from {
        None => {
            let (items, start) = store.list_and_watch(&resource_prefix);
            (Some(items), Ok(start))
        }
        Some(_) if send_initial => {
            let (items, start) = store.list_and_watch(&resource_prefix);
            (Some(items), Ok(start))
        }
        Some(rv) => (None, store.watch(&resource_prefix, rv)),
    };
    // The response body reads the shared channel itself: one wake-up per
    // watcher per event, and a client that goes away drops it all.
    let events = async_stream::stream! {
        let start = match start {
            Ok(s) => s,
            Err(StoreError::Gone { requested, oldest }) => {
                let e = ApiError::gone(format!("too old resource version: {requested} ({oldest})"));
                yield Bytes::from(error_line(&e));
                return;
            }
            Err(e) => {
                yield Bytes::from(error_line(&ApiError::internal(e.to_string())));
                return;
            }
        };
        let mut last_rev = start.revision;
        for (key, obj) in initial.into_iter().flatten() {
            if watcher.matches(&key, &obj) {
                yield Bytes::from(watcher.render("ADDED", &obj));
            }
        }
        if send_initial && bookmarks {
            yield Bytes::from(watcher.bookmark(last_rev, true));
        }
        for e in &start.backlog {
            last_rev = e.revision;
            if let Some(kind) = watcher.classify(e) {
                yield watcher.render_event(kind, e);
            }
        }
        let mut live = start.live;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(if bookmarks { bookmark_every } else { Duration::from_secs(3600) });
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                _ = ticker.tick(), if bookmarks => yield Bytes::from(watcher.bookmark(last_rev, false)),
                got = live.recv() => match got {
                    Ok(e) if e.revision > last_rev => {
                        last_rev = e.revision;
                        if let Some(kind) = watcher.classify(&e) {
                            yield watcher.render_event(kind, &e);
                        }
                    }
                    Ok(_) => {}
                    // A watcher that fell too far behind ends; the client
                    // resumes from its last resourceVersion.
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => break,
                },
            }
        }
    };
    let body = Body::from_stream(futures::StreamExt::map(events, Ok::<_, std::convert::Infallible>));
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    Ok(resp)
}

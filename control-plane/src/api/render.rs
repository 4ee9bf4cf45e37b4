//! Response bodies: objects, lists, Tables and metadata-only forms.

use super::objects::partial_metadata;
use super::request::Rendering;
use crate::registry::{ResourceType, Source};
use crate::table;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::time::SystemTime;

/// A JSON response with optional `Warning` headers.
pub fn json(code: StatusCode, v: &Value, warnings: &[String]) -> Response {
    let mut resp = (code, v.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for w in warnings {
        let text = format!("299 - \"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""));
        if let Ok(v) = HeaderValue::from_str(&text) {
            h.append(header::WARNING, v);
        }
    }
    resp
}

/// Columns for a resource's Table.
pub fn columns(rt: &ResourceType) -> Vec<table::Column> {
    match &rt.source {
        Source::Builtin => table::builtin_columns(&rt.group, &rt.kind).unwrap_or_else(table::default_columns),
        Source::Custom(info) => table::custom_columns(&info.printer_columns),
    }
}

/// One Table row's cells.
pub fn cells(rt: &ResourceType, obj: &Value, now: SystemTime) -> Vec<Value> {
    match &rt.source {
        Source::Builtin => {
            if table::builtin_columns(&rt.group, &rt.kind).is_some() {
                table::builtin_cells(&rt.group, &rt.kind, obj, now)
            } else {
                table::default_cells(obj, now)
            }
        }
        Source::Custom(info) => table::custom_cells(&info.printer_columns, obj, now),
    }
}

/// A Table of objects; rows carry their object's metadata.
pub fn table_of(rt: &ResourceType, objs: &[Value], rev: &str, cont: Option<&str>, with_columns: bool) -> Value {
    let now = SystemTime::now();
    let cols = columns(rt);
    let rows = objs.iter().map(|o| (cells(rt, o, now), partial_metadata(o))).collect();
    let mut t = table::table(&cols, rows, rev, cont);
    if !with_columns {
        t["columnDefinitions"] = Value::Null;
    }
    t
}

/// One object, rendered as asked.
pub fn one(rt: &ResourceType, obj: Value, r: Rendering, code: StatusCode, warnings: &[String]) -> Response {
    let rev = obj.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or_default().to_string();
    let body = match r {
        Rendering::Full => obj,
        Rendering::PartialMetadata => partial_metadata(&obj),
        Rendering::Table => table_of(rt, &[obj], &rev, None, true),
    };
    json(code, &body, warnings)
}

/// A list, rendered as asked.
pub fn list(rt: &ResourceType, items: Vec<Value>, rev: u64, cont: Option<&str>, r: Rendering) -> Response {
    let rev = rev.to_string();
    let mut meta = json!({"resourceVersion": rev});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    let body = match r {
        Rendering::Full => {
            json!({"kind": rt.list_kind(), "apiVersion": rt.api_version(), "metadata": meta, "items": items})
        }
        Rendering::PartialMetadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": meta,
            "items": items.iter().map(partial_metadata).collect::<Vec<_>>(),
        }),
        Rendering::Table => table_of(rt, &items, &rev, cont, true),
    };
    json(StatusCode::OK, &body, &[])
}

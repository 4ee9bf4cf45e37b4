// SHIM: replaced by the table helper's module.
use serde_json::{json, Value};
use std::time::SystemTime;
pub struct Column { pub name: String, pub type_: String, pub format: String, pub description: String, pub priority: i32 }
pub fn builtin_columns(_g: &str, _k: &str) -> Option<Vec<Column>> { None }
pub fn builtin_cells(_g: &str, _k: &str, o: &Value, n: SystemTime) -> Vec<Value> { default_cells(o, n) }
pub fn default_columns() -> Vec<Column> { vec![Column { name: "Name".into(), type_: "string".into(), format: "name".into(), description: String::new(), priority: 0 }] }
pub fn default_cells(o: &Value, _n: SystemTime) -> Vec<Value> { vec![o.pointer("/metadata/name").cloned().unwrap_or(Value::Null)] }
pub fn custom_columns(_c: &[crate::registry::PrinterColumn]) -> Vec<Column> { default_columns() }
pub fn custom_cells(_c: &[crate::registry::PrinterColumn], o: &Value, n: SystemTime) -> Vec<Value> { default_cells(o, n) }
pub fn table(cols: &[Column], rows: Vec<(Vec<Value>, Value)>, rv: &str, _c: Option<&str>) -> Value {
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
      "columnDefinitions": cols.iter().map(|c| json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority})).collect::<Vec<_>>(),
      "rows": rows.into_iter().map(|(c, o)| json!({"cells": c, "object": o})).collect::<Vec<_>>()})
}

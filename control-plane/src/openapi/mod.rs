// SHIM: replaced by the OpenAPI helper's module.
use crate::patch::schema::{ListType, PatchSchema};
use crate::registry::Registry;
use serde_json::{json, Value};
#[derive(Clone)]
pub struct SchemaNode;
impl PatchSchema for SchemaNode {
    fn field(&self, _n: &str) -> Option<Self> { Some(SchemaNode) }
    fn items(&self) -> Option<Self> { Some(SchemaNode) }
    fn list_type(&self) -> ListType { ListType::Atomic }
    fn patch_merge_key(&self) -> Option<String> { None }
    fn patch_strategy_merge(&self) -> bool { false }
    fn patch_strategy_retain_keys(&self) -> bool { false }
}
pub fn builtin_schema(_g: &str, _v: &str, _k: &str) -> Option<SchemaNode> { None }
pub fn custom_schema(_s: &Value) -> SchemaNode { SchemaNode }
pub fn v2_document(_r: &Registry) -> Value { json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.33.0"}, "paths": {}, "definitions": {}}) }
pub fn v3_index(_r: &Registry) -> Value { json!({"paths": {}}) }
pub fn v3_group(_r: &Registry, _gv: &str) -> Option<Value> { None }

//! Patch engines: JSON patch, JSON merge patch, strategic merge patch and
//! server-side apply.
pub mod schema;
// SHIM below: replaced by the patch helper's module.
use schema::PatchSchema;
use serde_json::Value;
#[derive(Debug, thiserror::Error)]
pub enum PatchError { #[error("{0}")] Invalid(String) }
#[derive(Debug, Clone)]
pub struct Conflict { pub manager: String, pub api_version: String, pub field: String }
#[derive(Debug, thiserror::Error)]
pub enum ApplyError { #[error("Apply failed with {} conflicts", .0.len())] Conflicts(Vec<Conflict>), #[error(transparent)] Patch(#[from] PatchError) }
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let p: json_patch::Patch = serde_json::from_value(patch.clone()).map_err(|e| PatchError::Invalid(e.to_string()))?;
    let mut d = doc.clone(); json_patch::patch(&mut d, &p).map_err(|e| PatchError::Invalid(e.to_string()))?; Ok(d)
}
pub fn merge_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> { let mut d = doc.clone(); json_patch::merge(&mut d, patch); Ok(d) }
pub fn strategic_merge_patch<S: PatchSchema>(doc: &Value, patch: &Value, _s: &S) -> Result<Value, PatchError> { merge_patch(doc, patch) }
pub fn server_side_apply<S: PatchSchema>(live: Option<&Value>, applied: &Value, _m: &str, _a: &str, _f: bool, _s: &S, _n: &str) -> Result<Value, ApplyError> {
    let mut d = live.cloned().unwrap_or(Value::Null); json_patch::merge(&mut d, applied); Ok(d)
}
pub fn track_update<S: PatchSchema>(_o: Option<&Value>, _n: &mut Value, _m: &str, _a: &str, _s: Option<&str>, _sc: &S, _now: &str) {}

//! Decoding, defaulting and validation of built-in objects.
pub mod field_error;
// SHIM below: replaced by the validation helper's module.
use serde_json::Value;
use field_error::FieldError;
pub struct Decoded { pub object: Value, pub unknown_fields: Vec<String> }
#[derive(Debug)] pub struct DecodeError(pub String);
pub enum NameRule { Dns1123Subdomain, Dns1123Label, PathSegment }
pub fn is_builtin(_g: &str, _k: &str) -> bool { true }
pub fn decode_builtin(_g: &str, _k: &str, o: &Value) -> Result<Decoded, DecodeError> { Ok(Decoded { object: o.clone(), unknown_fields: vec![] }) }
pub fn default_builtin(_g: &str, _k: &str, _o: &mut Value) {}
pub fn validate_builtin(_g: &str, _k: &str, _o: &Value, _old: Option<&Value>) -> Vec<FieldError> { vec![] }
pub fn name_rule(_g: &str, _k: &str) -> NameRule { NameRule::Dns1123Subdomain }
pub fn validate_object_meta(_o: &Value, _n: bool, _r: NameRule) -> Vec<FieldError> { vec![] }

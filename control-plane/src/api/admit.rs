//! The path every written object takes before the store: decode through the
//! kind's type (or the CRD's schema), apply defaults, validate.

use super::request::FieldValidation;
use super::status::{ApiError, ApiResult};
use crate::registry::{ResourceType, Source};
use crate::validation::{self, field_error::FieldError};
use serde_json::Value;

/// Decode, default and validate `obj` for `rt`. `old` is the stored object on
/// updates. Unknown fields are pruned, and reported per `fv`: an error under
/// Strict, a warning under Warn.
pub fn admit(
    rt: &ResourceType,
    obj: Value,
    old: Option<&Value>,
    fv: FieldValidation,
    warnings: &mut Vec<String>,
) -> ApiResult<Value> {
    let name = super::objects::name(&obj).to_string();
    let (mut obj, unknown, mut errors) = match &rt.source {
        Source::Builtin => {
            let decoded =
                validation::decode_builtin(&rt.group, &rt.kind, &obj).map_err(|e| ApiError::bad_request(e.0))?;
            (decoded.object, decoded.unknown_fields, Vec::new())
        }
        Source::Custom(info) => {
            let mut obj = obj;
            match &info.schema {
                Some(schema) => {
                    let out = crate::crd_schema::validate_custom(schema, &mut obj);
                    (obj, out.unknown_fields, out.errors)
                }
                None => (obj, Vec::new(), Vec::new()),
            }
        }
    };
    report_unknown(&unknown, fv, warnings)?;
    if let Source::Builtin = rt.source {
        validation::default_builtin(&rt.group, &rt.kind, &mut obj);
        if let Some(old) = old {
            // What the update strategy keeps from the stored object (a
            // Service's allocated IPs and ports, a Job's generated selector).
            validation::prepare_update_builtin(&rt.group, &rt.kind, &mut obj, old);
        }
    }
    let rule = validation::name_rule(&rt.group, &rt.kind);
    errors.extend(validation::validate_object_meta(&obj, rt.namespaced, rule));
    if let Some(old) = old {
        errors.extend(validation::validate_object_meta_update(&obj, old));
    }
    if let Source::Builtin = rt.source {
        errors.extend(validation::validate_builtin(&rt.group, &rt.kind, &obj, old));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(rt, &name, &errors));
    }
    Ok(obj)
}

fn report_unknown(unknown: &[String], fv: FieldValidation, warnings: &mut Vec<String>) -> ApiResult<()> {
    if unknown.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect();
    match fv {
        FieldValidation::Strict => Err(ApiError::bad_request(format!("strict decoding error: {}", list.join(", ")))),
        FieldValidation::Warn => {
            warnings.extend(list);
            Ok(())
        }
        FieldValidation::Ignore => Ok(()),
    }
}

/// 422 for a single field problem found outside the validators.
pub fn invalid(rt: &ResourceType, name: &str, err: FieldError) -> ApiError {
    ApiError::invalid(rt, name, &[err])
}

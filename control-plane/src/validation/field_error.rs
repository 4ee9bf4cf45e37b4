//! One invalid field, the way Kubernetes reports it in a 422 `Status`.

use serde_json::{json, Value};

/// The kind of problem, matching `metav1.CauseType` strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    Required,
    Invalid,
    Duplicate,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
}

impl ErrorType {
    /// The `reason` string of a `StatusCause`.
    pub fn cause_type(self) -> &'static str {
        match self {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
        }
    }

    /// The phrase Kubernetes puts before the detail in a message.
    pub fn phrase(self) -> &'static str {
        match self {
            ErrorType::Required => "Required value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
        }
    }
}

/// One invalid field: `spec.containers[0].image: Required value`.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub kind: ErrorType,
    /// Dotted path with indices, e.g. `spec.template.spec.containers[0].name`.
    pub field: String,
    /// The offending value, when there is one to show.
    pub value: Option<Value>,
    pub detail: String,
}

impl FieldError {
    pub fn new(kind: ErrorType, field: impl Into<String>, value: Option<Value>, detail: impl Into<String>) -> Self {
        FieldError { kind, field: field.into(), value, detail: detail.into() }
    }
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Required, field, None, detail)
    }
    pub fn invalid(field: impl Into<String>, value: impl Into<Value>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, field, Some(value.into()), detail)
    }
    pub fn duplicate(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::new(ErrorType::Duplicate, field, Some(value.into()), "")
    }
    pub fn not_supported(field: impl Into<String>, value: impl Into<Value>, allowed: &[&str]) -> Self {
        let list: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
        Self::new(ErrorType::NotSupported, field, Some(value.into()), format!("supported values: {}", list.join(", ")))
    }
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Forbidden, field, None, detail)
    }

    /// `Invalid value: -1: must be greater than or equal to 0`
    fn text(&self) -> String {
        let mut s = self.kind.phrase().to_string();
        match &self.value {
            Some(Value::String(st)) => s.push_str(&format!(": \"{st}\"")),
            Some(other) => s.push_str(&format!(": {other}")),
            None => {}
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// `spec.replicas: Invalid value: -1: must be greater than or equal to 0`
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.text())
    }

    /// The `StatusCause` JSON for this error.
    pub fn cause(&self) -> Value {
        json!({"reason": self.kind.cause_type(), "message": self.text(), "field": self.field})
    }
}

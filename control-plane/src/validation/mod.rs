//! Decoding, defaulting and validation of built-in objects.
pub mod field_error;

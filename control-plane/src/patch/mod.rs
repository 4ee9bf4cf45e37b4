//! Patch engines: JSON patch, JSON merge patch, strategic merge patch and
//! server-side apply.
//!
//! Objects and patches are plain `serde_json::Value`s. What the engines need
//! to know about an object's shape (list types, merge keys) comes through the
//! [`schema::PatchSchema`] trait.
//!
//! - [`json_patch`] and [`merge_patch`]: RFC 6902 and RFC 7386.
//! - [`strategic_merge_patch`]: Kubernetes strategic merge patch with all its
//!   directives (`$patch`, `$retainKeys`, `$deleteFromPrimitiveList/…`,
//!   `$setElementOrder/…`).
//! - [`server_side_apply`] and [`track_update`]: field ownership tracked in
//!   `metadata.managedFields`, with [`FieldSet`] as the set of owned paths.

mod apply;
mod fieldset;
mod json;
mod managed;
pub mod schema;
mod strategic;
#[cfg(test)]
mod test_schema;
mod typed;
mod values;

pub use apply::{server_side_apply, track_update, ApplyError, Conflict};
pub use fieldset::{FieldSet, PathElement};
pub use json::{json_patch, merge_patch};
pub use strategic::strategic_merge_patch;

/// Why a patch could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The patch itself is malformed or cannot apply (bad JSON pointer, failed
    /// `test` op, wrong types, unknown `$patch` directive...). The message says
    /// what is wrong and where.
    #[error("{0}")]
    Invalid(String),
}

impl PatchError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        PatchError::Invalid(message.into())
    }
}

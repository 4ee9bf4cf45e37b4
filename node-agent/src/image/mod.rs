//! Node-local OCI image store: import archives, pull from registries, and
//! resolve image references to unpacked layer directories for overlayfs.

mod archive_extract;
mod compression;
mod digest;
mod error;
mod gc;
mod import;
mod import_docker;
mod import_oci;
mod layer_blob;
mod lock;
mod metadata;
mod paths;
mod pending;
mod reference;
mod registry;
mod spec;
mod staging;
mod store;
mod types;
mod unpack;

#[cfg(test)]
mod tests;

pub use digest::Digest;
pub use error::ImageError;
pub use reference::{normalize_reference, ParsedReference};
pub use store::ImageStore;
pub use types::{Image, ImageConfig, ImageSummary, ImportProgress};

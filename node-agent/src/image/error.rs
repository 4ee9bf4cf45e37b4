//! Errors of the image store, with messages meant for `keel image` users.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference { reference: String, reason: String },
    #[error("image {0} not found")]
    NotFound(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch { what: String, expected: String, actual: String },
    #[error("invalid digest {0:?}: expected sha256:<64 lowercase hex digits>")]
    InvalidDigest(String),
    #[error("invalid image archive: {0}")]
    InvalidArchive(String),
    #[error("unsafe entry {path:?} in {layer}: {reason}")]
    UnsafePath { layer: String, path: String, reason: String },
    #[error("invalid JSON in {what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("registry {registry}: {message}")]
    Registry { registry: String, message: String },
    #[error("registry {registry}: authentication failed: {message}")]
    Unauthorized { registry: String, message: String },
    #[error("request to {url} failed: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("image store metadata is corrupt: {0}")]
    Corrupt(String),
}

impl ImageError {
    pub(super) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ImageError::Io { context: context.into(), source }
    }

    pub(super) fn io_path(action: &str, path: &Path, source: std::io::Error) -> Self {
        ImageError::Io { context: format!("{action} {}", path.display()), source }
    }

    pub(super) fn json(what: impl Into<String>, source: serde_json::Error) -> Self {
        ImageError::Json { what: what.into(), source }
    }
}

/// Adds "what was being done to which path" to io errors.
pub(super) trait IoResultExt<T> {
    fn at(self, action: &str, path: &Path) -> Result<T, ImageError>;
}

impl<T> IoResultExt<T> for std::io::Result<T> {
    fn at(self, action: &str, path: &Path) -> Result<T, ImageError> {
        self.map_err(|e| ImageError::io_path(action, path, e))
    }
}

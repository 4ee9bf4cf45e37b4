//! Public value types of the image store.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::spec::ConfigFile;

/// One stored image as `keel image list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    /// Normalized reference, e.g. "docker.io/library/busybox:latest".
    pub reference: String,
    /// Manifest digest, "sha256:...". For a pulled multi-platform image, the index digest.
    pub digest: String,
    /// Sum of the compressed layer sizes.
    pub size: u64,
    pub created: Option<String>,
}

/// An image resolved for running: layer directories to stack and its config.
#[derive(Clone, Debug)]
pub struct Image {
    pub summary: ImageSummary,
    /// Unpacked layer directories, base first (overlayfs wants them reversed in `lowerdir`).
    pub layers: Vec<PathBuf>,
    pub config: ImageConfig,
}

/// The runtime defaults an image asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// "KEY=VALUE" entries.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    /// e.g. "8080/tcp".
    pub exposed_ports: Vec<String>,
}

/// Progress events for CLI output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportProgress {
    /// A layer was unpacked (or found already present); `index` counts from 1.
    Layer { digest: String, index: usize, total: usize, bytes: u64 },
    /// An image was recorded under `reference`.
    Image { reference: String },
}

impl From<&ConfigFile> for ImageConfig {
    fn from(file: &ConfigFile) -> Self {
        let config = file.config.clone().unwrap_or_default();
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        ImageConfig {
            entrypoint: config.entrypoint.unwrap_or_default(),
            cmd: config.cmd.unwrap_or_default(),
            env: config.env.unwrap_or_default(),
            working_dir: non_empty(config.working_dir),
            user: non_empty(config.user),
            exposed_ports: config.exposed_ports.map(|ports| ports.into_keys().collect()).unwrap_or_default(),
        }
    }
}

//! Where things live under the store root.

use std::path::{Path, PathBuf};

use super::digest::Digest;

#[derive(Clone, Debug)]
pub(super) struct StorePaths {
    root: PathBuf,
}

impl StorePaths {
    pub(super) fn new(root: &Path) -> Self {
        StorePaths { root: root.to_path_buf() }
    }

    pub(super) fn root(&self) -> &Path {
        &self.root
    }

    /// Manifests, indexes and configs, named by digest.
    pub(super) fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    pub(super) fn blob(&self, digest: &Digest) -> PathBuf {
        self.blobs_dir().join(digest.hex())
    }

    /// Unpacked layers, named by diff-id; each is an overlayfs lowerdir.
    pub(super) fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }

    pub(super) fn layer(&self, diff_id: &Digest) -> PathBuf {
        self.layers_dir().join(diff_id.hex())
    }

    /// Per-operation scratch directories (same filesystem, so renames are atomic).
    pub(super) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub(super) fn index_file(&self) -> PathBuf {
        self.root.join("images.json")
    }

    /// Held shared by imports and pulls, exclusive by removals (which garbage-collect).
    pub(super) fn gc_lock(&self) -> PathBuf {
        self.root.join("gc.lock")
    }

    /// Held exclusive around each read-modify-write of images.json.
    pub(super) fn index_lock(&self) -> PathBuf {
        self.root.join("images.lock")
    }
}

//! Where things live inside a container's state directory.

use std::path::{Path, PathBuf};

/// Paths of the files and directories the runtime keeps for one container.
#[derive(Clone, Debug)]
pub(crate) struct StateLayout {
    root: PathBuf,
}

impl StateLayout {
    pub(crate) fn new(state_dir: &Path) -> Self {
        StateLayout { root: state_dir.to_path_buf() }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The spec plus resolved cgroup paths, written by `start` and read by the shim.
    pub(crate) fn config_file(&self) -> PathBuf {
        self.root.join("spec.json")
    }

    /// The shim's record of the container's life (replaced atomically).
    pub(crate) fn status_file(&self) -> PathBuf {
        self.root.join("status.json")
    }

    /// The shim's own stderr, for diagnosing the shim itself.
    pub(crate) fn shim_log(&self) -> PathBuf {
        self.root.join("shim.log")
    }

    /// Mount point of the container's overlay root.
    pub(crate) fn rootfs(&self) -> PathBuf {
        self.root.join("rootfs")
    }

    pub(crate) fn upper(&self) -> PathBuf {
        self.root.join("upper")
    }

    pub(crate) fn work(&self) -> PathBuf {
        self.root.join("work")
    }
}

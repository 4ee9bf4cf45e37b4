//! Errors returned by the container runtime.

use std::io;
use std::path::Path;

/// Everything that can go wrong in the runtime's public operations.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The spec cannot be run as given (bad id, relative paths, empty argv, ...).
    #[error("invalid container spec: {0}")]
    InvalidSpec(String),
    /// The container did not start; the message is the exact reason (e.g. `exec: "/nope": no such file or directory`).
    #[error("container start failed: {0}")]
    Start(String),
    /// The operation needs a running container and there is none in this state dir.
    #[error("container in {0} is not running")]
    NotRunning(String),
    /// A cgroup could not be set up or torn down.
    #[error("cgroup: {0}")]
    Cgroup(String),
    /// Waiting for the shim or the container took too long.
    #[error("timed out: {0}")]
    Timeout(String),
    /// A file or system call failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl RuntimeError {
    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        RuntimeError::Io { context: context.into(), source }
    }

    /// Wraps an errno from `nix` with what was being done.
    pub(crate) fn sys(context: impl Into<String>, errno: nix::errno::Errno) -> Self {
        RuntimeError::Io { context: context.into(), source: io::Error::from(errno) }
    }

    pub(crate) fn not_running(state_dir: &Path) -> Self {
        RuntimeError::NotRunning(state_dir.display().to_string())
    }
}

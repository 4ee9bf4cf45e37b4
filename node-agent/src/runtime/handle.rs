//! The runtime handle used by the agent: how to launch shims, and the cheap read/signal operations.

use std::path::{Path, PathBuf};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::error::RuntimeError;
use super::layout::StateLayout;
use super::shim::REOPEN_SIGNAL;
use super::status::{ContainerState, StatusRecord};

/// Runs containers through shims launched as `<shim_exe> <shim_args...> <state_dir>`.
#[derive(Clone, Debug)]
pub struct Runtime {
    pub(crate) shim_exe: PathBuf,
    pub(crate) shim_args: Vec<String>,
}

impl Runtime {
    pub fn new(shim_exe: PathBuf, shim_args: Vec<String>) -> Self {
        Runtime { shim_exe, shim_args }
    }

    /// The container's state from its status file and a /proc liveness check; never blocks for long.
    pub fn state(&self, state_dir: &Path) -> ContainerState {
        match StatusRecord::load(&StateLayout::new(state_dir)) {
            Ok(Some(record)) => record.to_state(),
            Ok(None) => ContainerState::Unknown,
            Err(e) => ContainerState::Failed { message: format!("unreadable container status: {e}") },
        }
    }

    /// Sends `signal` to the container's init. Note that a PID namespace's init ignores signals it has no
    /// handler for (except SIGKILL), so SIGTERM only works for programs that handle it.
    pub fn signal(&self, state_dir: &Path, signal: Signal) -> Result<(), RuntimeError> {
        let record = StatusRecord::load(&StateLayout::new(state_dir))?;
        let init = record.and_then(|r| r.running_init()).ok_or_else(|| RuntimeError::not_running(state_dir))?;
        kill(Pid::from_raw(init.pid as i32), signal)
            .map_err(|e| RuntimeError::sys(format!("send {signal} to container pid {}", init.pid), e))
    }

    /// Asks the shim to continue logging into a new file at `log_path` (after the agent renamed the old one for
    /// rotation). Returns once the request is sent; the new file appears right after.
    pub fn reopen_log(&self, state_dir: &Path) -> Result<(), RuntimeError> {
        let record = StatusRecord::load(&StateLayout::new(state_dir))?;
        let shim =
            record.map(|r| r.shim).filter(|s| s.is_running()).ok_or_else(|| RuntimeError::not_running(state_dir))?;
        kill(Pid::from_raw(shim.pid as i32), REOPEN_SIGNAL)
            .map_err(|e| RuntimeError::sys(format!("signal shim {} to reopen its log", shim.pid), e))
    }
}

//! The shim's record of a container's life, kept in `status.json`, and its reading as a [`ContainerState`].

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::error::RuntimeError;
use super::files::{read_json, write_json_atomic};
use super::layout::StateLayout;
use super::process::ProcessIdentity;

/// What the agent sees of a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerState {
    /// `pid` is the container's init process in the host PID namespace.
    Running { pid: u32, started_at: SystemTime },
    Exited {
        exit_code: i32,
        signal: Option<i32>,
        oom_killed: bool,
        started_at: Option<SystemTime>,
        finished_at: SystemTime,
        message: Option<String>,
    },
    /// The container could not start; `message` is the reason.
    Failed { message: String },
    /// No state: never started, still being set up, or the state directory is gone.
    Unknown,
}

/// Exit code reported when the shim vanished without recording one (as containerd does).
const UNKNOWN_EXIT_CODE: i32 = 255;

/// The file content: who the shim is, and the phase it last recorded.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StatusRecord {
    pub shim: ProcessIdentity,
    pub phase: Phase,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub(crate) enum Phase {
    /// The shim runs and is setting the container up.
    Starting,
    Running {
        init: ProcessIdentity,
        started_at: SystemTime,
    },
    Exited {
        init: ProcessIdentity,
        started_at: SystemTime,
        exit_code: i32,
        signal: Option<i32>,
        oom_killed: bool,
        finished_at: SystemTime,
    },
    Failed {
        message: String,
    },
}

impl StatusRecord {
    pub(crate) fn load(layout: &StateLayout) -> Result<Option<StatusRecord>, RuntimeError> {
        read_json(&layout.status_file())
    }

    pub(crate) fn save(&self, layout: &StateLayout) -> Result<(), RuntimeError> {
        write_json_atomic(&layout.status_file(), self)
    }

    /// The container's init process, while it may still be running.
    pub(crate) fn running_init(&self) -> Option<ProcessIdentity> {
        match &self.phase {
            Phase::Running { init, .. } if init.is_running() => Some(*init),
            _ => None,
        }
    }

    /// Interprets the record together with process liveness.
    pub(crate) fn to_state(&self) -> ContainerState {
        match &self.phase {
            Phase::Starting if self.shim.is_running() => ContainerState::Unknown,
            Phase::Starting => ContainerState::Failed {
                message: "container shim exited before starting the container (see shim.log)".into(),
            },
            // A dead init whose shim still runs is an exit about to be recorded.
            Phase::Running { init, started_at } if init.is_running() || self.shim.is_running() => {
                ContainerState::Running { pid: init.pid, started_at: *started_at }
            }
            Phase::Running { started_at, .. } => ContainerState::Exited {
                exit_code: UNKNOWN_EXIT_CODE,
                signal: None,
                oom_killed: false,
                started_at: Some(*started_at),
                finished_at: SystemTime::now(),
                message: Some("container shim died before recording the exit status".into()),
            },
            Phase::Exited { started_at, exit_code, signal, oom_killed, finished_at, .. } => ContainerState::Exited {
                exit_code: *exit_code,
                signal: *signal,
                oom_killed: *oom_killed,
                started_at: Some(*started_at),
                finished_at: *finished_at,
                message: oom_killed.then(|| "OOMKilled".to_string()),
            },
            Phase::Failed { message } => ContainerState::Failed { message: message.clone() },
        }
    }
}

//! `Runtime::start`: write spec.json, launch the detached shim, wait until the container exec'd or failed.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::cgroups;
use super::config::ShimConfig;
use super::error::RuntimeError;
use super::files::tail;
use super::handle::Runtime;
use super::layout::StateLayout;
use super::spec::ContainerSpec;
use super::status::{Phase, StatusRecord};

/// Generous: setup is ~0.1 s, but overlay mounts of big images on a busy node can take a while.
const START_TIMEOUT: Duration = Duration::from_secs(60);

impl Runtime {
    /// Starts the container and returns its init's host pid once it has exec'd. Blocking: call it from
    /// `tokio::task::spawn_blocking` in async code.
    pub fn start(&self, spec: &ContainerSpec) -> Result<u32, RuntimeError> {
        spec.validate()?;
        let layout = StateLayout::new(&spec.state_dir);
        prepare_state_dir(&layout)?;
        // The shim is another process: the cgroup base must be resolved here, from the agent's own cgroups.
        let hierarchies = cgroups::own_hierarchies()?;
        let config =
            ShimConfig { spec: spec.clone(), cgroups: cgroups::plan(&hierarchies, &spec.cgroup_parent, &spec.id) };
        config.save(&layout)?;
        self.launch_shim(&layout)?;
        let pid = wait_for_exec(&layout);
        match &pid {
            Ok(pid) => tracing::debug!(id = %spec.id, pid, "container started"),
            Err(e) => tracing::debug!(id = %spec.id, error = %e, "container failed to start"),
        }
        pid
    }

    fn launch_shim(&self, layout: &StateLayout) -> Result<(), RuntimeError> {
        let log_path = layout.shim_log();
        let shim_log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| RuntimeError::io(format!("open {}", log_path.display()), e))?;
        let mut command = Command::new(&self.shim_exe);
        command.args(&self.shim_args).arg(layout.root()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(shim_log);
        // SAFETY: setsid is async-signal-safe; it detaches the shim from the agent's session and process group.
        unsafe {
            command.pre_exec(|| {
                nix::libc::setsid();
                Ok(())
            });
        }
        // The launched process forks the real shim and exits once that one has recorded itself.
        let status = command
            .status()
            .map_err(|e| RuntimeError::Start(format!("launch shim {}: {e}", self.shim_exe.display())))?;
        if !status.success() {
            return Err(RuntimeError::Start(format!("shim failed ({status}): {}", tail(&log_path, 2000))));
        }
        Ok(())
    }
}

/// Creates the state directory; refuses to reuse one whose shim still runs, and forgets a finished run.
fn prepare_state_dir(layout: &StateLayout) -> Result<(), RuntimeError> {
    let root = layout.root();
    fs::create_dir_all(root).map_err(|e| RuntimeError::io(format!("create {}", root.display()), e))?;
    // spec.json holds the environment, which may carry secrets.
    fs::set_permissions(root, fs::Permissions::from_mode(0o700))
        .map_err(|e| RuntimeError::io(format!("chmod {}", root.display()), e))?;
    if let Some(previous) = StatusRecord::load(layout)? {
        if previous.shim.is_running() {
            return Err(RuntimeError::Start(format!("a container is already running in {}", root.display())));
        }
        let status_file = layout.status_file();
        fs::remove_file(&status_file).map_err(|e| RuntimeError::io(format!("remove {}", status_file.display()), e))?;
    }
    Ok(())
}

/// Polls the shim's status until the init exec'd (Running, or already Exited) or the start failed.
fn wait_for_exec(layout: &StateLayout) -> Result<u32, RuntimeError> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        let record = StatusRecord::load(layout)?
            .ok_or_else(|| RuntimeError::Start(format!("shim wrote no status: {}", tail(&layout.shim_log(), 2000))))?;
        match record.phase {
            Phase::Running { init, .. } | Phase::Exited { init, .. } => return Ok(init.pid),
            Phase::Failed { message } => return Err(RuntimeError::Start(message)),
            Phase::Starting if !record.shim.is_running() => {
                // It may have recorded a final phase just before exiting.
                if let Some(StatusRecord { phase: Phase::Starting, .. }) = StatusRecord::load(layout)? {
                    return Err(RuntimeError::Start(format!(
                        "shim exited during setup: {}",
                        tail(&layout.shim_log(), 2000)
                    )));
                }
            }
            Phase::Starting => {}
        }
        if Instant::now() >= deadline {
            return Err(RuntimeError::Timeout(format!("container in {} did not start", layout.root().display())));
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

//! The daemonized shim: starts the container, records its state, copies its output to the log, records its exit.

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::time::{Duration, SystemTime};

use nix::fcntl::OFlag;
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{signal, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, getpid, pipe2, setsid, write, ForkResult, Pid};

use super::super::cgroups;
use super::super::config::ShimConfig;
use super::super::layout::StateLayout;
use super::super::process::ProcessIdentity;
use super::super::status::{Phase, StatusRecord};
use super::init::{self, InitContext};
use super::log_pump::{open_log, LogPump};
use super::reopen;

/// How long to keep reading output after the container's init exited (e.g. from processes still dying).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Body of the daemon; returns its exit code.
pub(super) fn run(layout: &StateLayout, config: &ShimConfig, ready: OwnedFd) -> i32 {
    detach_from_agent();
    let Some(shim) = ProcessIdentity::of(getpid().as_raw() as u32) else {
        eprintln!("keel shim: cannot read own /proc entry");
        return 1;
    };
    let mut record = StatusRecord { shim, phase: Phase::Starting };
    if let Err(e) = record.save(layout) {
        eprintln!("keel shim: {e}");
        return 1;
    }
    let _ = write(&ready, b"1");
    drop(ready);

    record.phase = match launch(layout, config) {
        Err(message) => Phase::Failed { message },
        Ok(launched) => {
            let running = Phase::Running { init: launched.init, started_at: launched.started_at };
            if let Err(e) = (StatusRecord { shim, phase: running }).save(layout) {
                eprintln!("keel shim: {e}");
            }
            supervise(launched, config)
        }
    };
    match record.save(layout) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("keel shim: {e}");
            1
        }
    }
}

/// New session and process group, no terminal signals, no fds leaking from the agent into containers.
fn detach_from_agent() {
    let _ = setsid();
    // SAFETY: installing SIG_IGN runs no code in signal context.
    unsafe {
        let _ = signal(Signal::SIGHUP, SigHandler::SigIgn);
        let _ = signal(Signal::SIGPIPE, SigHandler::SigIgn);
    }
    reopen::install_handler();
    // Whatever the agent's binary had open before calling the shim must not reach the container.
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags; it closes nothing.
    unsafe {
        nix::libc::syscall(nix::libc::SYS_close_range, 3u32, u32::MAX, nix::libc::CLOSE_RANGE_CLOEXEC);
    }
}

/// A container whose init has exec'd.
struct Launched {
    pid: Pid,
    init: ProcessIdentity,
    started_at: SystemTime,
    pump: LogPump,
}

/// Creates cgroups, log and pipes, forks the container init and waits until it exec'd or reported a failure.
fn launch(layout: &StateLayout, config: &ShimConfig) -> Result<Launched, String> {
    let spec = &config.spec;
    cgroups::create(&config.cgroups, &spec.resources).map_err(|e| e.to_string())?;
    let log = open_log(&spec.log_path)?;
    let pipe = || pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"));
    let (stdout_read, stdout_write) = pipe()?;
    let (stderr_read, stderr_write) = pipe()?;
    let (failure_read, failure_write) = pipe()?;
    let stdin = File::open("/dev/null").map_err(|e| format!("open /dev/null: {e}"))?;
    let netns = match &spec.netns {
        Some(path) => Some(File::open(path).map_err(|e| format!("open network namespace {}: {e}", path.display()))?),
        None => None,
    };
    // Only children enter the new PID namespace: the shim itself stays in the host's namespaces.
    unshare(CloneFlags::CLONE_NEWPID).map_err(|e| format!("unshare PID namespace: {e}"))?;
    let context = InitContext {
        spec,
        layout,
        cgroups: &config.cgroups,
        stdin,
        stdout: stdout_write,
        stderr: stderr_write,
        failure: failure_write,
        netns,
    };
    // SAFETY: the shim is single-threaded.
    let pid = match unsafe { fork() } {
        Err(e) => return Err(format!("fork container init: {e}")),
        Ok(ForkResult::Child) => init::run(context),
        Ok(ForkResult::Parent { child }) => child,
    };
    drop(context);
    let mut failure = Vec::new();
    let _ = File::from(failure_read).read_to_end(&mut failure);
    if !failure.is_empty() {
        let _ = waitpid(pid, None);
        return Err(String::from_utf8_lossy(&failure).into_owned());
    }
    let started_at = SystemTime::now();
    let raw_pid = pid.as_raw() as u32;
    let init = ProcessIdentity::of(raw_pid).unwrap_or(ProcessIdentity { pid: raw_pid, start_ticks: 0 });
    Ok(Launched { pid, init, started_at, pump: LogPump::new(stdout_read, stderr_read, log, spec.log_path.clone()) })
}

/// Copies output until the init exits, then empties the cgroup and records how it ended.
fn supervise(mut launched: Launched, config: &ShimConfig) -> Phase {
    let status = launched.pump.run_until_exit(launched.pid);
    let finished_at = SystemTime::now();
    let (exit_code, signal) = match status {
        WaitStatus::Exited(_, code) => (code, None),
        WaitStatus::Signaled(_, sig, _) => (128 + sig as i32, Some(sig as i32)),
        other => {
            eprintln!("keel shim: unexpected wait status {other:?}");
            (255, None)
        }
    };
    let oom_killed = signal == Some(Signal::SIGKILL as i32) && cgroups::oom_kills(&config.cgroups) > 0;
    // The PID namespace dies with its init; this also catches anything that escaped into the cgroup.
    if !cgroups::kill_all(&config.cgroups, Duration::from_secs(5)) {
        eprintln!("keel shim: processes remain in the container's cgroups");
    }
    launched.pump.drain(DRAIN_TIMEOUT);
    Phase::Exited { init: launched.init, started_at: launched.started_at, exit_code, signal, oom_killed, finished_at }
}

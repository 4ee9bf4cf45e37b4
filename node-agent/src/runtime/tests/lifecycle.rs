//! Signals, surviving the starter's exit, and complete removal.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::sys::signal::Signal;

use super::super::layout::StateLayout;
use super::super::remove::mount_points;
use super::super::status::StatusRecord;
use super::super::{ContainerState, RuntimeError};
use super::fixture::{Container, TestEnv};
use super::hook::START_ARG;

fn exited(container: &Container<'_>) -> Result<(i32, Option<i32>, bool)> {
    match container.wait_finished()? {
        ContainerState::Exited { exit_code, signal, oom_killed, .. } => Ok((exit_code, signal, oom_killed)),
        other => bail!("unexpected {other:?}"),
    }
}

#[test]
fn sigterm_reaches_a_handler_and_sigkill_always_works() -> Result<()> {
    let env = TestEnv::new("signals")?;
    let script = "trap 'exit 42' TERM; echo ready; while true; do sleep 0.05; done";
    let term = env.container(env.spec("term", &["sh", "-c", script]));
    term.start()?;
    term.wait_for_line("ready")?;
    env.runtime.signal(&term.spec.state_dir, Signal::SIGTERM)?;
    assert_eq!(exited(&term)?, (42, None, false));

    let kill = env.container(env.spec("kill", &["sleep", "1000"]));
    kill.start()?;
    env.runtime.signal(&kill.spec.state_dir, Signal::SIGKILL)?;
    assert_eq!(exited(&kill)?, (137, Some(9), false));
    let again = env.runtime.signal(&kill.spec.state_dir, Signal::SIGKILL);
    assert!(matches!(again, Err(RuntimeError::NotRunning(_))), "{again:?}");
    Ok(())
}

/// Fields 5 (pgrp) and 6 (session) of /proc/<pid>/stat.
fn process_group_and_session(pid: u32) -> Result<(u32, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = &stat[stat.rfind(')').context("stat")? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Ok((fields[2].parse()?, fields[3].parse()?))
}

#[test]
fn container_outlives_the_process_that_started_it() -> Result<()> {
    let env = TestEnv::new("detach")?;
    let container = env.container(env.spec("detach", &["sleep", "1000"]));
    let spec_file = env.dir.join("detach-spec.json");
    fs::write(&spec_file, serde_json::to_vec(&container.spec)?)?;
    let starter = Command::new(std::env::current_exe()?).arg(START_ARG).arg(&spec_file).output()?;
    assert!(starter.status.success(), "starter failed: {}", String::from_utf8_lossy(&starter.stderr));
    let pid: u32 = String::from_utf8(starter.stdout)?.trim().parse()?;
    thread::sleep(Duration::from_millis(200));
    assert!(matches!(container.state(), ContainerState::Running { pid: p, .. } if p == pid));
    let record = StatusRecord::load(&StateLayout::new(&container.spec.state_dir))?.context("status")?;
    let shim = record.shim.pid;
    assert_eq!(process_group_and_session(shim)?.1, shim, "the shim leads its own session");
    assert_ne!(process_group_and_session(shim)?.0, process_group_and_session(std::process::id())?.0);
    Ok(())
}

fn mounts_below(dir: &Path) -> Result<Vec<String>> {
    let info = fs::read_to_string("/proc/self/mountinfo")?;
    Ok(mount_points(&info).into_iter().filter(|p| p.starts_with(dir)).map(|p| p.display().to_string()).collect())
}

#[test]
fn remove_leaves_nothing_behind() -> Result<()> {
    let env = TestEnv::new("remove")?;
    let container = env.container(env.spec("remove", &["sh", "-c", "sleep 1000 & sleep 1000 & echo up; wait"]));
    let pid = container.start()?;
    container.wait_for_line("up")?;
    let dirs = container.cgroups()?;
    let layout = StateLayout::new(&container.spec.state_dir);
    let shim = StatusRecord::load(&layout)?.context("status")?.shim;
    let members: Vec<u32> = dirs
        .iter()
        .flat_map(|d| {
            fs::read_to_string(d.path.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter_map(|l| l.parse().ok())
        .collect();
    assert!(members.len() >= 3 * dirs.len(), "init and two sleeps in every cgroup: {members:?}");
    // The overlay lives only in the container's mount namespace.
    assert_eq!(mounts_below(&env.dir)?, Vec::<String>::new());

    env.runtime.remove(&container.spec)?;
    assert!(!container.spec.state_dir.exists());
    for dir in &dirs {
        assert!(!dir.path.exists(), "{} remains", dir.path.display());
    }
    for member in members {
        assert!(!Path::new(&format!("/proc/{member}")).exists() || !is_alive(member), "{member} survived");
    }
    assert!(!shim.is_running(), "shim survived");
    assert!(!is_alive(pid));
    assert_eq!(mounts_below(&env.dir)?, Vec::<String>::new());
    assert_eq!(container.state(), ContainerState::Unknown);
    env.runtime.remove(&container.spec)?;
    Ok(())
}

/// Exists and is not a zombie.
fn is_alive(pid: u32) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    match stat.rfind(')') {
        Some(end) => !matches!(stat[end + 1..].trim_start().chars().next(), Some('Z') | Some('X') | None),
        None => false,
    }
}

//! Creating, joining, emptying and removing a container's cgroups.

use std::fs;
use std::io;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::super::error::RuntimeError;
use super::super::spec::Resources;
use super::files::{procs, read_keyed, write, write_if_present};
use super::limits;
use super::{CgroupDir, CgroupVersion};

/// Creates every directory (with its parents) and applies the limits.
pub(crate) fn create(dirs: &[CgroupDir], resources: &Resources) -> Result<(), RuntimeError> {
    for dir in dirs {
        if dir.version == CgroupVersion::V2 && !dir.controllers.is_empty() {
            enable_v2_controllers(dir)?;
        }
        fs::create_dir_all(&dir.path)
            .map_err(|e| RuntimeError::Cgroup(format!("create {}: {e}", dir.path.display())))?;
    }
    limits::apply(dirs, resources)
}

/// v2 controllers must be enabled in `cgroup.subtree_control` of every ancestor below the agent's cgroup.
fn enable_v2_controllers(dir: &CgroupDir) -> Result<(), RuntimeError> {
    let Ok(below) = dir.path.strip_prefix(&dir.base) else {
        return Err(RuntimeError::Cgroup(format!("{} is not under {}", dir.path.display(), dir.base.display())));
    };
    let mut level = dir.base.clone();
    let mut components = below.components().peekable();
    while let Some(component) = components.next() {
        enable_in(&level, &dir.controllers)?;
        level.push(component);
        if components.peek().is_some() {
            fs::create_dir_all(&level).map_err(|e| RuntimeError::Cgroup(format!("create {}: {e}", level.display())))?;
        }
    }
    Ok(())
}

/// Enables for children of `level` whichever of `controllers` is not enabled yet.
fn enable_in(level: &Path, controllers: &[String]) -> Result<(), RuntimeError> {
    let enabled = fs::read_to_string(level.join("cgroup.subtree_control")).unwrap_or_default();
    let missing: Vec<String> = controllers
        .iter()
        .filter(|c| !enabled.split_whitespace().any(|e| e == c.as_str()))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    write_if_present(level, "cgroup.subtree_control", &missing.join(" ")).map_err(|e| {
        RuntimeError::Cgroup(format!(
            "{e} (a cgroup v2 directory with processes cannot delegate controllers: run the agent in a leaf cgroup)"
        ))
    })
}

/// Moves process `pid` ("0" = the writer itself) into every directory.
pub(crate) fn join(dirs: &[CgroupDir], pid: &str) -> Result<(), RuntimeError> {
    dirs.iter().try_for_each(|dir| write(&dir.path, "cgroup.procs", pid))
}

/// SIGKILLs everything in the container's cgroups until they are empty; true if they emptied within `timeout`.
pub(crate) fn kill_all(dirs: &[CgroupDir], timeout: Duration) -> bool {
    for dir in dirs.iter().filter(|d| d.version == CgroupVersion::V2) {
        // cgroup.kill also catches processes forking while we iterate.
        let _ = write_if_present(&dir.path, "cgroup.kill", "1");
    }
    let deadline = Instant::now() + timeout;
    loop {
        let pids: Vec<i32> = dirs.iter().flat_map(|d| procs(&d.path)).collect();
        if pids.is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// How many times the kernel OOM killer acted in the container's memory cgroup.
pub(crate) fn oom_kills(dirs: &[CgroupDir]) -> u64 {
    let Some(dir) = limits::find(dirs, "memory") else { return 0 };
    let file = match dir.version {
        CgroupVersion::V1 => "memory.oom_control",
        CgroupVersion::V2 => "memory.events",
    };
    read_keyed(&dir.path, file, "oom_kill").ok().flatten().unwrap_or(0)
}

/// Removes the container's directories (already empty of processes). Missing directories are fine.
pub(crate) fn remove(dirs: &[CgroupDir]) -> Result<(), RuntimeError> {
    dirs.iter().try_for_each(|dir| remove_dir(&dir.path))
}

/// rmdir of one cgroup directory, retrying while the kernel still counts exiting tasks in it.
pub(crate) fn remove_dir(path: &Path) -> Result<(), RuntimeError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(nix::libc::EBUSY) && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(RuntimeError::Cgroup(format!("remove {}: {e}", path.display()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain files stand in for cgroupfs: checks what would be written where.
    #[test]
    fn v2_controllers_are_enabled_on_each_level_below_the_base() -> Result<(), Box<dyn std::error::Error>> {
        let base = std::env::temp_dir().join(format!("keel-rt-subtree-{}", std::process::id()));
        struct Cleanup<'a>(&'a Path);
        impl Drop for Cleanup<'_> {
            fn drop(&mut self) {
                let _ = fs::remove_dir_all(self.0);
            }
        }
        let _cleanup = Cleanup(&base);
        fs::create_dir_all(base.join("pod"))?;
        fs::write(base.join("cgroup.subtree_control"), "cpu memory\n")?;
        fs::write(base.join("pod/cgroup.subtree_control"), "cpu\n")?;
        let dir = CgroupDir {
            version: CgroupVersion::V2,
            controllers: vec!["memory".into(), "pids".into()],
            base: base.clone(),
            path: base.join("pod/ctr"),
        };
        enable_v2_controllers(&dir)?;
        assert_eq!(fs::read_to_string(base.join("cgroup.subtree_control"))?, "+pids");
        assert_eq!(fs::read_to_string(base.join("pod/cgroup.subtree_control"))?, "+memory +pids");
        Ok(())
    }
}

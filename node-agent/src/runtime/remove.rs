//! `Runtime::remove`: kill, wait for the shim, unmount, remove cgroups and the state directory. Idempotent.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::mount::{umount2, MntFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

use super::cgroups::{self, CgroupDir};
use super::config::ShimConfig;
use super::error::RuntimeError;
use super::handle::Runtime;
use super::layout::StateLayout;
use super::process::ProcessIdentity;
use super::spec::ContainerSpec;
use super::status::StatusRecord;

const KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// The shim may spend a few seconds draining output after the init died.
const SHIM_EXIT_TIMEOUT: Duration = Duration::from_secs(10);

impl Runtime {
    /// Removes every trace of the container except its log file (which belongs to the log pipeline).
    pub fn remove(&self, spec: &ContainerSpec) -> Result<(), RuntimeError> {
        let layout = StateLayout::new(&spec.state_dir);
        let dirs = container_cgroups(&layout, spec);
        let record = StatusRecord::load(&layout).ok().flatten();
        if let Some(init) = record.as_ref().and_then(|r| r.running_init()) {
            let _ = kill(Pid::from_raw(init.pid as i32), Signal::SIGKILL);
        }
        let emptied = cgroups::kill_all(&dirs, KILL_TIMEOUT);
        if let Some(record) = &record {
            let shim = Pid::from_raw(record.shim.pid as i32);
            if !record.shim.wait_exit(SHIM_EXIT_TIMEOUT) {
                tracing::warn!(id = %spec.id, pid = record.shim.pid, "container shim did not exit; killing it");
                let _ = kill(shim, Signal::SIGKILL);
                record.shim.wait_exit(KILL_TIMEOUT);
            }
            // An agent that is a child subreaper inherits its shims: reap ours (only if the pid is still that
            // shim's zombie, never a recycled pid) so it leaves no zombie.
            if !record.shim.is_running() && ProcessIdentity::of(record.shim.pid) == Some(record.shim) {
                let _ = waitpid(shim, Some(WaitPidFlag::WNOHANG));
            }
        }
        if !emptied {
            tracing::warn!(id = %spec.id, "processes survived SIGKILL in the container's cgroups");
            return Err(RuntimeError::Cgroup(format!("processes of container {} survived SIGKILL", spec.id)));
        }
        unmount_below(layout.root())?;
        cgroups::remove(&dirs)?;
        match fs::remove_dir_all(layout.root()) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(RuntimeError::io(format!("remove {}", layout.root().display()), e))
            }
            _ => Ok(()),
        }
    }

    /// Removes the pod-level cgroup `<agent cgroup>/<cgroup_parent>` in every hierarchy (only that last
    /// directory; its containers must be removed first). Missing directories are fine.
    pub fn remove_cgroup_parent(&self, cgroup_parent: &str) -> Result<(), RuntimeError> {
        let parent = cgroup_parent.trim_matches('/');
        if parent.is_empty() || parent.split('/').any(|c| c == ".." || c == ".") {
            return Err(RuntimeError::InvalidSpec(format!("cgroup_parent {cgroup_parent:?}")));
        }
        for hierarchy in cgroups::own_hierarchies()? {
            cgroups::remove_dir(&hierarchy.own_dir.join(parent))?;
        }
        Ok(())
    }
}

/// The cgroups recorded at start; recomputed from the spec when spec.json is missing or unreadable.
fn container_cgroups(layout: &StateLayout, spec: &ContainerSpec) -> Vec<CgroupDir> {
    if let Ok(Some(config)) = ShimConfig::load(layout) {
        return config.cgroups;
    }
    if spec.validate().is_err() {
        return vec![];
    }
    cgroups::own_hierarchies().map(|h| cgroups::plan(&h, &spec.cgroup_parent, &spec.id)).unwrap_or_default()
}

/// Lazily unmounts anything the host sees mounted under `dir` (normally nothing: the overlay lives in the
/// container's own mount namespace and vanishes with it).
fn unmount_below(dir: &Path) -> Result<(), RuntimeError> {
    let text =
        fs::read_to_string("/proc/self/mountinfo").map_err(|e| RuntimeError::io("read /proc/self/mountinfo", e))?;
    let mut targets: Vec<PathBuf> = mount_points(&text).into_iter().filter(|p| p.starts_with(dir)).collect();
    targets.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    for target in targets {
        umount2(&target, MntFlags::MNT_DETACH)
            .map_err(|e| RuntimeError::sys(format!("unmount {}", target.display()), e))?;
    }
    Ok(())
}

/// Mount points (field 5) of /proc/<pid>/mountinfo, with the kernel's octal escapes undone.
pub(crate) fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo.lines().filter_map(|line| line.split(' ').nth(4)).map(|p| PathBuf::from(unescape_octal(p))).collect()
}

fn unescape_octal(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped =
            bytes.get(i + 1..i + 4).filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match escaped {
            Some(digits) => {
                out.push(digits.iter().fold(0u8, |acc, d| acc.wrapping_mul(8).wrapping_add(d - b'0')));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_escaped_mount_points() {
        let info = "36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw\n\
                    37 35 0:5 / /proc rw - proc proc rw\n";
        assert_eq!(mount_points(info), vec![PathBuf::from("/mnt/with space"), PathBuf::from("/proc")]);
    }
}

//! Remove everything a cluster created: processes (agents, shims,
//! containers, server), mounts under its data dir, pod cgroups and the
//! network namespaces. Idempotent, and safe when half of it is gone.

use super::state::{pid_alive, ClusterState};
use super::topology;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn all(state: &ClusterState) {
    let mut pids: Vec<u32> = state.nodes.iter().map(|n| n.agent_pid).collect();
    pids.push(state.server_pid);
    stop(&pids, Duration::from_secs(10));
    for node in &state.nodes {
        // The node's eBPF programs and maps live on in bpffs until unpinned.
        if let Err(e) = keel_node_agent::service_lb::stop(&node.name) {
            eprintln!("removing {}'s load balancer pins: {e}", node.name);
        }
        kill_cgroups(&node.name);
    }
    unmount_under(&state.dir);
    topology::delete(state);
}

/// SIGTERM, then SIGKILL whatever is left after `grace`.
pub fn stop(pids: &[u32], grace: Duration) {
    let live: Vec<u32> = pids.iter().copied().filter(|p| pid_alive(*p)).collect();
    for p in &live {
        let _ = kill(Pid::from_raw(*p as i32), Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while live.iter().any(|p| pid_alive(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    for p in live.iter().filter(|p| pid_alive(**p)) {
        let _ = kill(Pid::from_raw(*p as i32), Signal::SIGKILL);
    }
}

/// The cgroup directories of a node's pods in every hierarchy this
/// process is in (the agents inherit the supervisor's cgroups).
fn node_cgroups(node: &str) -> Vec<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut out = Vec::new();
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => continue,
        };
        let mount = match controllers {
            "" => {
                if Path::new("/sys/fs/cgroup/unified").exists() {
                    PathBuf::from("/sys/fs/cgroup/unified")
                } else {
                    PathBuf::from("/sys/fs/cgroup")
                }
            }
            c => {
                let name = c.split(',').find(|n| !n.starts_with("name=")).unwrap_or(c);
                let direct = PathBuf::from("/sys/fs/cgroup").join(c);
                if direct.exists() {
                    direct
                } else {
                    PathBuf::from("/sys/fs/cgroup").join(name)
                }
            }
        };
        let dir = mount.join(path.trim_start_matches('/')).join("keel").join(node);
        if dir.exists() {
            out.push(dir);
        }
    }
    out
}

/// Kill every process in a node's pod cgroups, then remove the cgroups.
fn kill_cgroups(node: &str) {
    for root in node_cgroups(node) {
        let mut dirs = Vec::new();
        collect_dirs(&root, &mut dirs);
        for _ in 0..50 {
            let mut any = false;
            for d in &dirs {
                let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    any = true;
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
            if !any {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Deepest first.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in &dirs {
            let _ = std::fs::remove_dir(d);
        }
        // The shared `keel` parent goes when no other node uses it.
        if let Some(parent) = root.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_dirs(&e.path(), out);
            }
        }
    }
}

/// Unmount everything at or below `dir`, deepest first.
pub fn unmount_under(dir: &Path) {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect();
    mounts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    mounts.dedup();
    for m in mounts {
        let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
    }
}

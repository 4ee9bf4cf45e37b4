//! Finding the hierarchies this process belongs to, from /proc/self/cgroup and the standard mount points.

use std::fs;
use std::path::{Path, PathBuf};

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};

use super::super::error::RuntimeError;
use super::CgroupVersion;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// v1 controllers a container is placed under; cpuacct is joined for accounting even without limits.
const V1_CONTROLLERS: [&str; 4] = ["memory", "cpu", "cpuacct", "pids"];

/// v2 controllers the runtime sets limits with.
const V2_LIMIT_CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];

/// A hierarchy and this process's cgroup in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hierarchy {
    pub version: CgroupVersion,
    /// Controllers to use from this hierarchy.
    pub controllers: Vec<String>,
    /// This process's cgroup directory.
    pub own_dir: PathBuf,
}

/// How cgroups are mounted on this machine.
struct Mounts {
    /// `/sys/fs/cgroup` itself is cgroup2 (no v1 at all).
    pure_v2: bool,
    /// Mount point of the v2 hierarchy next to v1 ones, if any.
    unified: Option<PathBuf>,
}

/// The hierarchies of the calling process. Call it in the agent, not in the shim: the base is the caller's cgroup.
pub(crate) fn own_hierarchies() -> Result<Vec<Hierarchy>, RuntimeError> {
    let proc_cgroup =
        fs::read_to_string("/proc/self/cgroup").map_err(|e| RuntimeError::io("read /proc/self/cgroup", e))?;
    let root = Path::new(CGROUP_ROOT);
    let unified = root.join("unified");
    let mounts = Mounts { pure_v2: is_cgroup2(root), unified: is_cgroup2(&unified).then_some(unified) };
    let mut hierarchies = hierarchies_from(&proc_cgroup, root, &mounts, |p| p.is_dir());
    for h in &mut hierarchies {
        if h.version == CgroupVersion::V2 {
            h.controllers = v2_controllers(&h.own_dir, &hierarchies_v1_controllers(&proc_cgroup, &mounts));
        }
    }
    if hierarchies.is_empty() {
        return Err(RuntimeError::Cgroup(format!("no usable cgroup hierarchy under {CGROUP_ROOT}")));
    }
    Ok(hierarchies)
}

fn is_cgroup2(path: &Path) -> bool {
    statfs(path).map(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC).unwrap_or(false)
}

/// Pure part of discovery: which directories to use, from the text of /proc/self/cgroup.
fn hierarchies_from(proc_cgroup: &str, root: &Path, mounts: &Mounts, is_dir: impl Fn(&Path) -> bool) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let relative = path.trim_start_matches('/');
        if controllers.is_empty() {
            let mount = if mounts.pure_v2 { Some(root.to_path_buf()) } else { mounts.unified.clone() };
            if let Some(mount) = mount {
                out.push(Hierarchy { version: CgroupVersion::V2, controllers: vec![], own_dir: mount.join(relative) });
            }
            continue;
        }
        if mounts.pure_v2 {
            continue;
        }
        let wanted: Vec<String> =
            controllers.split(',').filter(|c| V1_CONTROLLERS.contains(c)).map(str::to_string).collect();
        let Some(first) = wanted.first() else { continue };
        // Mounted either as the joined name ("cpu,cpuacct") or per controller (often symlinks to it).
        let mount = [root.join(controllers), root.join(first)].into_iter().find(|p| is_dir(p));
        if let Some(mount) = mount {
            out.push(Hierarchy { version: CgroupVersion::V1, controllers: wanted, own_dir: mount.join(relative) });
        }
    }
    out
}

/// v1 controllers in use, so v2 is only asked for what v1 does not provide.
fn hierarchies_v1_controllers(proc_cgroup: &str, mounts: &Mounts) -> Vec<String> {
    if mounts.pure_v2 {
        return vec![];
    }
    proc_cgroup
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .flat_map(|c| c.split(','))
        .filter(|c| V1_CONTROLLERS.contains(c))
        .map(str::to_string)
        .collect()
}

/// Limit controllers available to children of `own_dir` and not already served by v1.
fn v2_controllers(own_dir: &Path, from_v1: &[String]) -> Vec<String> {
    let available = fs::read_to_string(own_dir.join("cgroup.controllers")).unwrap_or_default();
    available
        .split_whitespace()
        .filter(|c| V2_LIMIT_CONTROLLERS.contains(c) && !from_v1.iter().any(|v| v == c))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "9:name=systemd:/\n8:pids:/\n4:memory:/session/abc\n2:cpuacct:/\n1:cpu:/\n0::/agent\n";

    #[test]
    fn hybrid_layout_uses_v1_controllers_and_unified() {
        let mounts = Mounts { pure_v2: false, unified: Some("/cg/unified".into()) };
        let found = hierarchies_from(HYBRID, Path::new("/cg"), &mounts, |_| true);
        let dirs: Vec<_> = found.iter().map(|h| (h.version, h.own_dir.display().to_string())).collect();
        assert_eq!(
            dirs,
            vec![
                (CgroupVersion::V1, "/cg/pids/".to_string()),
                (CgroupVersion::V1, "/cg/memory/session/abc".to_string()),
                (CgroupVersion::V1, "/cg/cpuacct/".to_string()),
                (CgroupVersion::V1, "/cg/cpu/".to_string()),
                (CgroupVersion::V2, "/cg/unified/agent".to_string()),
            ]
        );
    }

    #[test]
    fn joined_cpu_cpuacct_mount_is_one_hierarchy() {
        let text = "3:cpu,cpuacct:/x\n0::/\n";
        let mounts = Mounts { pure_v2: false, unified: None };
        let found = hierarchies_from(text, Path::new("/cg"), &mounts, |p| p.ends_with("cpu,cpuacct"));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(found[0].own_dir, Path::new("/cg/cpu,cpuacct/x"));
    }

    #[test]
    fn pure_v2_uses_the_root_mount() {
        let mounts = Mounts { pure_v2: true, unified: None };
        let found = hierarchies_from("0::/system.slice/keel.service\n", Path::new("/cg"), &mounts, |_| true);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].own_dir, Path::new("/cg/system.slice/keel.service"));
        assert_eq!(hierarchies_v1_controllers(HYBRID, &mounts), Vec::<String>::new());
    }
}

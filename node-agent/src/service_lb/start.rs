//! Bringing the node's socket load balancer up: bpffs mounted, programs
//! attached to the cgroup the node's pods live under, maps pinned under
//! `/sys/fs/bpf/keel/<node>` (so an agent restart keeps traffic flowing).

use crate::lb::{LbError, SocketLb};
use std::path::{Path, PathBuf};

pub const BPFFS: &str = "/sys/fs/bpf";

/// Where a node's maps and links are pinned.
pub fn pin_dir(node: &str) -> PathBuf {
    Path::new(BPFFS).join("keel").join(node)
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no cgroup v2 hierarchy on this machine: the socket load balancer attaches to cgroup v2")]
    NoCgroup2,
    #[error("finding the node's cgroup: {0}")]
    Cgroup(#[from] crate::runtime::RuntimeError),
    #[error("mounting bpffs at {BPFFS}: {0}")]
    Mount(nix::Error),
    #[error(transparent)]
    Lb(#[from] LbError),
}

fn is_bpffs(path: &Path) -> bool {
    // BPF_FS_MAGIC
    nix::sys::statfs::statfs(path).is_ok_and(|s| s.filesystem_type().0 as u64 == 0xcafe_4a11)
}

/// Mount bpffs at /sys/fs/bpf when it is not there (as Cilium does).
fn ensure_bpffs() -> Result<(), StartError> {
    let path = Path::new(BPFFS);
    if is_bpffs(path) {
        return Ok(());
    }
    nix::mount::mount(Some("bpf"), path, Some("bpf"), nix::mount::MsFlags::empty(), None::<&str>)
        .map_err(StartError::Mount)
}

/// Load (or re-open) the node's load balancer.
pub fn start(node: &str) -> Result<SocketLb, StartError> {
    ensure_bpffs()?;
    let cgroup = crate::runtime::cgroup_v2_dir(&format!("keel/{node}"))?.ok_or(StartError::NoCgroup2)?;
    Ok(SocketLb::load(&cgroup, &pin_dir(node))?)
}

/// Detach and unpin a node's load balancer (cluster teardown).
pub fn stop(node: &str) -> Result<(), LbError> {
    let dir = pin_dir(node);
    if !dir.exists() {
        return Ok(());
    }
    SocketLb::unload(&dir)
}

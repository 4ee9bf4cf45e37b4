//! Bringing the node's load balancers up: bpffs mounted, the socket LB
//! attached to the cgroup the node's pods live under, the external (TC) LB
//! attached to the interface holding the node's address; maps and links
//! pinned under `/sys/fs/bpf/keel/<node>/{socket,external}` so an agent
//! restart keeps traffic flowing.

use crate::lb::{ExternalLb, LbError, SocketLb};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub const BPFFS: &str = "/sys/fs/bpf";

/// Where all of a node's pins live.
pub fn node_dir(node: &str) -> PathBuf {
    Path::new(BPFFS).join("keel").join(node)
}

/// The socket LB's pins.
pub fn pin_dir(node: &str) -> PathBuf {
    node_dir(node).join("socket")
}

/// The external LB's pins.
pub fn external_pin_dir(node: &str) -> PathBuf {
    node_dir(node).join("external")
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no cgroup v2 hierarchy on this machine: the socket load balancer attaches to cgroup v2")]
    NoCgroup2,
    #[error("finding the node's cgroup: {0}")]
    Cgroup(#[from] crate::runtime::RuntimeError),
    #[error("mounting bpffs at {BPFFS}: {0}")]
    Mount(nix::Error),
    #[error("no interface holds the node address {0}: the external load balancer attaches there")]
    NoInterface(Ipv4Addr),
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

/// The interface (in this thread's network namespace) holding `ip`.
fn interface_of(ip: Ipv4Addr) -> Option<String> {
    nix::ifaddrs::getifaddrs().ok()?.find_map(|a| {
        let addr = a.address.as_ref()?.as_sockaddr_in()?.ip();
        (addr == ip).then(|| a.interface_name.clone())
    })
}

/// Load (or re-open) the node's socket load balancer. Its programs are loaded but only put in
/// place by the sync loop once the maps are filled (`SocketLb::activate`), so an upgrade that
/// brings a new map layout never runs on empty maps.
pub fn start(node: &str) -> Result<SocketLb, StartError> {
    ensure_bpffs()?;
    let cgroup = crate::runtime::cgroup_v2_dir(&format!("keel/{node}"))?.ok_or(StartError::NoCgroup2)?;
    Ok(SocketLb::prepare(&cgroup, &pin_dir(node))?)
}

/// The interface holding the node's address (where outside traffic arrives).
pub fn external_interface(node_ip: Ipv4Addr) -> Result<String, StartError> {
    interface_of(node_ip).ok_or(StartError::NoInterface(node_ip))
}

/// Attach (or re-open) the node's external load balancer.
pub fn start_external(node: &str, node_ip: Ipv4Addr) -> Result<ExternalLb, StartError> {
    ensure_bpffs()?;
    let iface = external_interface(node_ip)?;
    Ok(ExternalLb::attach(&iface, node_ip, &external_pin_dir(node))?)
}

/// Detach and unpin a node's load balancers (cluster teardown).
pub fn stop(node: &str) -> Result<(), LbError> {
    let (socket, external) = (pin_dir(node), external_pin_dir(node));
    if socket.exists() {
        SocketLb::unload(&socket)?;
    }
    if external.exists() {
        ExternalLb::detach(&external)?;
    }
    // The node's directory, then the shared parent once the last node is gone.
    let dir = node_dir(node);
    let _ = std::fs::remove_dir(&dir);
    if let Some(parent) = dir.parent() {
        let _ = std::fs::remove_dir(parent);
    }
    Ok(())
}

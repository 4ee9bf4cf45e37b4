//! Network namespaces kept alive by bind mounts, and running code inside them.

use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::statfs::{statfs, NSFS_MAGIC};

use super::error::NetworkError;
use super::mounts::is_mount_point;

/// Runs `f` on a dedicated thread that has joined the netns at `path` (for things that must be done
/// inside a pod netns, e.g. probes from inside). The thread ends afterwards, so no thread of the
/// caller ever changes namespace; sockets created by `f` stay bound to that netns.
pub fn in_netns<T: Send + 'static>(path: &Path, f: impl FnOnce() -> T + Send + 'static) -> Result<T, NetworkError> {
    let ns = File::open(path).map_err(|e| NetworkError::io("open netns", path, e))?;
    let label = path.display().to_string();
    let thread = std::thread::Builder::new()
        .name("keel-netns".into())
        .spawn(move || -> Result<T, NetworkError> {
            setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| NetworkError::sys(format!("setns {label}"), e))?;
            Ok(f())
        })
        .map_err(|e| NetworkError::io("spawn thread for netns", path, e))?;
    thread.join().map_err(|_| NetworkError::ThreadPanicked(path.display().to_string()))?
}

/// Whether `path` is a mounted network namespace (an nsfs bind mount).
pub(crate) fn is_netns_mounted(path: &Path) -> bool {
    statfs(path).map(|s| s.filesystem_type() == NSFS_MAGIC).unwrap_or(false)
}

/// Creates a new, empty network namespace and bind-mounts it onto `path` (which must not be a
/// mounted netns yet). The netns then lives as long as that bind mount.
pub(crate) fn create_netns(path: &Path) -> Result<(), NetworkError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| NetworkError::io("create netns file", path, e))?;
    let target = path.to_path_buf();
    // unshare() only affects the calling thread: do it on a throwaway thread so that no thread of a
    // (tokio) thread pool ever ends up in the new namespace.
    let result = std::thread::Builder::new()
        .name("keel-netns-new".into())
        .spawn(move || -> Result<(), NetworkError> {
            unshare(CloneFlags::CLONE_NEWNET).map_err(|e| NetworkError::sys("unshare(CLONE_NEWNET)", e))?;
            mount(Some("/proc/thread-self/ns/net"), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
                .map_err(|e| NetworkError::sys(format!("bind-mount netns onto {}", target.display()), e))
        })
        .map_err(|e| NetworkError::io("spawn thread for new netns", path, e))?
        .join()
        .map_err(|_| NetworkError::ThreadPanicked(path.display().to_string()))?;
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// Unmounts (lazily, so a netns still in use elsewhere does not block us) and removes the netns
/// file at `path`. Missing files and files that are not mounted are fine.
pub(crate) fn remove_netns(path: &Path) -> Result<(), NetworkError> {
    // A file may carry stacked mounts after a crash between two attempts: peel them all.
    for _ in 0..16 {
        match umount2(path, MntFlags::MNT_DETACH) {
            Ok(()) => continue,
            Err(Errno::EINVAL) | Err(Errno::ENOENT) => break,
            Err(e) => return Err(NetworkError::sys(format!("unmount {}", path.display()), e)),
        }
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(NetworkError::io("remove netns file", path, e)),
        _ => Ok(()),
    }
}

/// Makes `dir` a private mount point (a bind mount of itself, like `ip netns` does for
/// /run/netns), so netns bind mounts below it neither propagate to nor get duplicated from peer
/// mounts. Idempotent.
pub(crate) fn ensure_private_mount_dir(dir: &Path) -> Result<PathBuf, NetworkError> {
    std::fs::create_dir_all(dir).map_err(|e| NetworkError::io("create directory", dir, e))?;
    let dir = dir.canonicalize().map_err(|e| NetworkError::io("resolve directory", dir, e))?;
    if !is_mount_point(&dir)? {
        mount(Some(&dir), &dir, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
            .map_err(|e| NetworkError::sys(format!("bind-mount {} onto itself", dir.display()), e))?;
    }
    mount(None::<&str>, &dir, None::<&str>, MsFlags::MS_PRIVATE | MsFlags::MS_REC, None::<&str>)
        .map_err(|e| NetworkError::sys(format!("make {} a private mount", dir.display()), e))?;
    Ok(dir)
}

//! Bind mounts of host files and directories into the container, applied after pivot_root.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::mount::{mount, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};

use super::super::spec::BindMount;

/// A host path held open (O_PATH) so it can be mounted once the host tree is no longer reachable by name.
pub(super) struct HostPath {
    file: File,
    is_dir: bool,
}

impl HostPath {
    pub(super) fn open(path: &Path) -> Result<HostPath, String> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_PATH)
            .open(path)
            .map_err(|e| format!("open mount source {}: {e}", path.display()))?;
        let is_dir = file.metadata().map_err(|e| format!("stat mount source {}: {e}", path.display()))?.is_dir();
        Ok(HostPath { file, is_dir })
    }

    /// Path naming the open file through the container's /proc (mounted by then).
    fn fd_path(&self) -> String {
        format!("/proc/self/fd/{}", self.file.as_raw_fd())
    }

    /// Bind-mounts this path onto `destination`, creating a directory or an empty file there to match.
    pub(super) fn bind_to(&self, destination: &Path, read_only: bool) -> Result<(), String> {
        let context = |what: &str| format!("{what} {}", destination.display());
        if self.is_dir {
            create_dir_all(destination).map_err(|e| format!("{}: {e}", context("create directory")))?;
        } else {
            if let Some(parent) = destination.parent() {
                create_dir_all(parent).map_err(|e| format!("{}: {e}", context("create parent of")))?;
            }
            if fs::symlink_metadata(destination).is_err() {
                File::create(destination).map_err(|e| format!("{}: {e}", context("create file")))?;
            }
        }
        let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
        mount(Some(self.fd_path().as_str()), destination, None::<&str>, flags, None::<&str>)
            .map_err(|e| format!("{}: {e}", context("bind mount onto")))?;
        if read_only {
            remount_read_only(destination)?;
        }
        Ok(())
    }
}

/// Symlinks we follow while creating one directory path (as the kernel's ELOOP limit).
const MAX_SYMLINKS: u32 = 40;

/// `create_dir_all` that also creates the targets of dangling symlinks on the way (common in images, e.g.
/// `/var/run -> /run`). Runs after pivot_root, so absolute link targets stay inside the container.
pub(super) fn create_dir_all(path: &Path) -> io::Result<()> {
    create_dir_following(path, MAX_SYMLINKS)
}

fn create_dir_following(path: &Path, links_left: u32) -> io::Result<()> {
    let error = match fs::create_dir_all(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && links_left > 0 => e,
        Err(e) => return Err(e),
    };
    let dangling = path
        .ancestors()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find(|p| fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()) && fs::metadata(p).is_err());
    let Some(link) = dangling else { return Err(error) };
    let target = fs::read_link(link)?;
    let resolved = link.parent().unwrap_or(Path::new("/")).join(target);
    create_dir_following(&resolved, links_left - 1)?;
    create_dir_following(path, links_left - 1)
}

pub(super) fn open_sources(mounts: &[BindMount]) -> Result<Vec<HostPath>, String> {
    mounts.iter().map(|m| HostPath::open(&m.source)).collect()
}

/// Mounts in the order given, so later mounts may cover earlier ones.
pub(super) fn mount_all(mounts: &[BindMount], sources: &[HostPath]) -> Result<(), String> {
    for (mount, source) in mounts.iter().zip(sources) {
        source.bind_to(Path::new(&mount.destination), mount.read_only)?;
    }
    Ok(())
}

/// A bind mount inherits its source's flags but ignores MS_RDONLY; a remount must repeat the existing flags.
fn remount_read_only(destination: &Path) -> Result<(), String> {
    let current = statvfs(destination).map_err(|e| format!("statvfs {}: {e}", destination.display()))?.flags();
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    let keep = [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    for (st, ms) in keep {
        if current.contains(st) {
            flags |= ms;
        }
    }
    mount(None::<&str>, destination, None::<&str>, flags, None::<&str>)
        .map_err(|e| format!("remount {} read-only: {e}", destination.display()))
}

//! The container's root: a private mount tree, an overlayfs of the image layers, and pivot_root into it.

use std::fs;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::pivot_root;

use super::super::layout::StateLayout;
use super::super::spec::ContainerSpec;
use super::{binds, special_fs};

/// Where the host's root sits between pivot_root and its detachment.
const OLD_ROOT: &str = "/.keel-old-root";

/// Overlay mount data must fit in one page.
const MAX_MOUNT_DATA: usize = 4095;

/// Builds the container's mount tree and makes it this process's root.
pub(super) fn enter(spec: &ContainerSpec, layout: &StateLayout) -> Result<(), String> {
    // Nothing we mount may propagate back to the host (and pivot_root refuses shared mounts).
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
        .map_err(|e| format!("make / private: {e}"))?;
    let rootfs = layout.rootfs();
    mount_overlay(&spec.layers, layout, &rootfs)?;
    // Host paths are opened while still visible and mounted after pivot_root through /proc/self/fd, so
    // destinations resolve inside the container (image symlinks cannot point a mount at the host).
    let devices = special_fs::open_host_devices()?;
    let sources = binds::open_sources(&spec.mounts)?;
    pivot(&rootfs)?;
    special_fs::mount_all(&devices)?;
    binds::mount_all(&spec.mounts, &sources)?;
    detach_old_root()
}

fn mount_overlay(layers: &[PathBuf], layout: &StateLayout, rootfs: &Path) -> Result<(), String> {
    for dir in [layout.upper(), layout.work(), rootfs.to_path_buf()] {
        fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    let data = overlay_options(layers, &layout.upper(), &layout.work());
    if data.len() > MAX_MOUNT_DATA {
        return Err(format!("overlay options for {} layers exceed {MAX_MOUNT_DATA} bytes", layers.len()));
    }
    mount(Some("overlay"), rootfs, Some("overlay"), MsFlags::empty(), Some(data.as_str()))
        .map_err(|e| format!("mount overlay on {} ({data}): {e}", rootfs.display()))
}

/// overlayfs wants the top layer first in lowerdir; layers are given base first.
fn overlay_options(layers: &[PathBuf], upper: &Path, work: &Path) -> String {
    let lower: Vec<String> = layers.iter().rev().map(|l| l.display().to_string()).collect();
    format!("lowerdir={},upperdir={},workdir={}", lower.join(":"), upper.display(), work.display())
}

fn pivot(rootfs: &Path) -> Result<(), String> {
    let put_old = rootfs.join(OLD_ROOT.trim_start_matches('/'));
    fs::create_dir_all(&put_old).map_err(|e| format!("create {}: {e}", put_old.display()))?;
    pivot_root(rootfs, &put_old).map_err(|e| format!("pivot_root to {}: {e}", rootfs.display()))?;
    std::env::set_current_dir("/").map_err(|e| format!("chdir to new root: {e}"))
}

fn detach_old_root() -> Result<(), String> {
    umount2(OLD_ROOT, MntFlags::MNT_DETACH).map_err(|e| format!("detach old root: {e}"))?;
    let _ = fs::remove_dir(OLD_ROOT);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowerdir_is_top_first() {
        let layers = vec![PathBuf::from("/l/base"), PathBuf::from("/l/mid"), PathBuf::from("/l/top")];
        assert_eq!(
            overlay_options(&layers, Path::new("/s/upper"), Path::new("/s/work")),
            "lowerdir=/l/top:/l/mid:/l/base,upperdir=/s/upper,workdir=/s/work"
        );
    }
}

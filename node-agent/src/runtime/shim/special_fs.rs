//! The kernel filesystems and device nodes every container gets: /proc, /sys, /dev and friends.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use nix::mount::{mount, MsFlags};

use super::binds::HostPath;

/// Host device nodes bind-mounted into the container's /dev (no mknod: it works in user namespaces too).
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// Convenience links expected in /dev.
const DEV_LINKS: [(&str, &str); 5] = [
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
    ("/dev/ptmx", "pts/ptmx"),
];

pub(super) struct HostDevices(Vec<(&'static str, HostPath)>);

pub(super) fn open_host_devices() -> Result<HostDevices, String> {
    let opened = DEVICES.iter().map(|name| Ok((*name, HostPath::open(&Path::new("/dev").join(name))?)));
    Ok(HostDevices(opened.collect::<Result<_, String>>()?))
}

/// Mounts everything below the new root; /proc comes first because later mounts use /proc/self/fd.
pub(super) fn mount_all(devices: &HostDevices) -> Result<(), String> {
    let nosuid_noexec_nodev = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    mount_fs("proc", "/proc", nosuid_noexec_nodev, None)?;
    mount_fs("sysfs", "/sys", nosuid_noexec_nodev | MsFlags::MS_RDONLY, None)?;
    mount_fs("tmpfs", "/dev", MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME, Some("mode=755,size=65536k"))?;
    for (name, host) in &devices.0 {
        host.bind_to(&Path::new("/dev").join(name), false)?;
    }
    mount_fs(
        "devpts",
        "/dev/pts",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?;
    mount_fs("tmpfs", "/dev/shm", nosuid_noexec_nodev, Some("mode=1777,size=65536k"))?;
    for (link, target) in DEV_LINKS {
        symlink(target, link).map_err(|e| format!("symlink {link} -> {target}: {e}"))?;
    }
    Ok(())
}

fn mount_fs(fstype: &str, target: &str, flags: MsFlags, data: Option<&str>) -> Result<(), String> {
    fs::create_dir_all(target).map_err(|e| format!("create {target}: {e}"))?;
    mount(Some(fstype), target, Some(fstype), flags, data).map_err(|e| format!("mount {fstype} on {target}: {e}"))
}

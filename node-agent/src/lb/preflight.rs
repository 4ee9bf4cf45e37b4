//! Checks run before touching the kernel, so a failure names its cause instead of surfacing as a
//! bare EPERM/EINVAL from the bpf() syscall.
use std::{ffi::CString, io, mem::MaybeUninit, os::unix::ffi::OsStrExt, path::Path};

use super::LbError;

const BPF_FS_MAGIC: u32 = 0xcafe_4a11;
const CGROUP2_SUPER_MAGIC: u32 = 0x6367_7270;
/// cgroup getpeername/getsockname hooks appeared in 5.8; BPF links for cgroups in 5.7.
const MIN_KERNEL: (u32, u32) = (5, 8);

pub(super) fn check(cgroup_dir: &Path, pin_dir: &Path) -> Result<(), LbError> {
    check_kernel()?;
    if fs_magic(cgroup_dir)? != CGROUP2_SUPER_MAGIC {
        return Err(LbError::NotCgroup2 { path: cgroup_dir.to_path_buf() });
    }
    let existing = nearest_existing(pin_dir);
    if fs_magic(existing)? != BPF_FS_MAGIC {
        return Err(LbError::NoBpffs { path: pin_dir.to_path_buf() });
    }
    Ok(())
}

/// TCX links (how the external LB attaches) appeared in 6.6.
const MIN_KERNEL_TCX: (u32, u32) = (6, 6);

/// Checks for the external (TC) load balancer: a kernel with TCX and a bpffs for the pins.
pub(super) fn check_tc(pin_dir: &Path) -> Result<(), LbError> {
    let release = kernel_release()?;
    if kernel_version(&release) < MIN_KERNEL_TCX {
        return Err(LbError::TcxUnsupported { release });
    }
    if fs_magic(nearest_existing(pin_dir))? != BPF_FS_MAGIC {
        return Err(LbError::NoBpffs { path: pin_dir.to_path_buf() });
    }
    Ok(())
}

/// Wraps a load failure as `NotPrivileged` when we are not root, since that is then the likely cause.
pub(super) fn explain_load_failure(err: LbError) -> LbError {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 {
        err
    } else {
        LbError::NotPrivileged { uid, source: Box::new(err) }
    }
}

fn check_kernel() -> Result<(), LbError> {
    let release = kernel_release()?;
    if kernel_version(&release) < MIN_KERNEL {
        return Err(LbError::KernelTooOld { release });
    }
    Ok(())
}

fn kernel_version(release: &str) -> (u32, u32) {
    let mut parts = release.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse::<u32>().ok());
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

fn kernel_release() -> Result<String, LbError> {
    let path = "/proc/sys/kernel/osrelease";
    let release = std::fs::read_to_string(path).map_err(|e| LbError::io(path, e))?;
    Ok(release.trim().to_string())
}

/// The pin directory may not exist yet; its nearest existing ancestor decides the filesystem.
fn nearest_existing(path: &Path) -> &Path {
    path.ancestors().find(|p| p.exists()).unwrap_or(Path::new("/"))
}

fn fs_magic(path: &Path) -> Result<u32, LbError> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| LbError::Invalid(format!("path {} contains a NUL byte", path.display())))?;
    let mut buf = MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: c_path is NUL-terminated and buf is large enough for struct statfs.
    let rc = unsafe { libc::statfs(c_path.as_ptr(), buf.as_mut_ptr()) };
    if rc != 0 {
        return Err(LbError::io(path, io::Error::last_os_error()));
    }
    // SAFETY: statfs returned 0, so it filled the struct.
    let stat = unsafe { buf.assume_init() };
    // f_type is a signed word whose width varies by arch; the magic numbers are 32-bit.
    Ok(stat.f_type as u32)
}

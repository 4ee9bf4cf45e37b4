//! Pinned BPF links and the one operation aya 0.14 keeps private: `BPF_LINK_UPDATE`, which swaps
//! the program behind a live link atomically. A restarted or upgraded agent uses it to put its
//! own build of each program in place without a moment where nothing is attached.
use std::{
    ffi::CString,
    io,
    mem::size_of,
    os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd},
    os::unix::ffi::OsStrExt,
    path::Path,
};

use super::LbError;

const BPF_OBJ_GET: libc::c_long = 7;
const BPF_LINK_UPDATE: libc::c_long = 29;

/// The `obj_pin`/`obj_get` member of `union bpf_attr`. The explicit tail padding matters: the
/// kernel rejects (EINVAL) any non-zero byte past the last field it knows.
#[repr(C)]
#[derive(Default)]
struct ObjGetAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
    path_fd: i32,
    pad: u32,
}

/// The `link_update` member of `union bpf_attr`. flags 0: replace whatever program is attached.
#[repr(C)]
#[derive(Default)]
struct LinkUpdateAttr {
    link_fd: u32,
    new_prog_fd: u32,
    flags: u32,
    old_prog_fd: u32,
}

/// What became of one program when it was put in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Installed {
    /// Its pinned link now runs this build of the program (it never stopped being attached).
    Replaced,
    /// No live link was pinned; a new one was created and pinned.
    Created,
}

/// Puts `prog` behind the link pinned at `pin`: swapped in atomically when the pin holds a live
/// link, otherwise `attach_and_pin` creates one (after removing a stale pin file).
pub(super) fn install(
    pin: &Path,
    prog: BorrowedFd<'_>,
    attach_and_pin: impl FnOnce() -> Result<(), LbError>,
) -> Result<Installed, LbError> {
    match open_pinned(pin) {
        Ok(link) => {
            update_program(link_fd(&link), prog).map_err(|e| LbError::io(pin, e))?;
            Ok(Installed::Replaced)
        }
        Err(_) => {
            // Missing, or a file that is not a live link (e.g. left by a crash mid-pin).
            super::pins::remove_pin(pin)?;
            attach_and_pin()?;
            Ok(Installed::Created)
        }
    }
}

fn link_fd(link: &OwnedFd) -> BorrowedFd<'_> {
    use std::os::fd::AsFd;
    link.as_fd()
}

/// Opens the BPF object pinned at `path` (BPF_OBJ_GET).
fn open_pinned(path: &Path) -> io::Result<OwnedFd> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut attr = ObjGetAttr { pathname: c_path.as_ptr() as u64, ..Default::default() };
    // SAFETY: attr is a valid bpf_attr prefix and the path outlives the call.
    let fd =
        unsafe { libc::syscall(libc::SYS_bpf, BPF_OBJ_GET, &mut attr as *mut ObjGetAttr, size_of::<ObjGetAttr>()) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("bpf(BPF_OBJ_GET) returned an out-of-range fd"))?;
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Swaps the program behind `link` for `prog` (same program and attach type).
fn update_program(link: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = LinkUpdateAttr {
        link_fd: u32::try_from(link.as_raw_fd()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        new_prog_fd: u32::try_from(prog.as_raw_fd()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        ..Default::default()
    };
    // SAFETY: attr is a valid bpf_attr prefix; both fds are open for the duration of the call.
    let rc = unsafe {
        libc::syscall(libc::SYS_bpf, BPF_LINK_UPDATE, &mut attr as *mut LinkUpdateAttr, size_of::<LinkUpdateAttr>())
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

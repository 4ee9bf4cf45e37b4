//! `BPF_MAP_UPDATE_BATCH` (Linux >= 5.6): many map writes in one syscall,
//! for programming thousands of services at once. aya 0.14 has no batch
//! operations, so this is the one raw `bpf(2)` call in the crate.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd};

const BPF_MAP_UPDATE_BATCH: libc::c_long = 26;

/// The `batch` member of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

/// The bytes of plain map types (`aya::Pod`: `#[repr(C)]`, no padding
/// that matters, no pointers).
pub(super) fn as_bytes<T: aya::Pod>(items: &[T]) -> &[u8] {
    // SAFETY: Pod types are plain old data; the slice covers exactly `items`.
    unsafe { std::slice::from_raw_parts(items.as_ptr().cast::<u8>(), std::mem::size_of_val(items)) }
}

/// Write `count` entries (`keys` and `values` laid out back to back, values
/// per-CPU-expanded for per-CPU maps) into the map behind `fd`.
pub(super) fn update(fd: BorrowedFd<'_>, keys: &[u8], values: &[u8], count: usize) -> io::Result<()> {
    if count == 0 {
        return Ok(());
    }
    let mut attr = BatchAttr {
        keys: keys.as_ptr() as u64,
        values: values.as_ptr() as u64,
        count: u32::try_from(count).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        map_fd: u32::try_from(fd.as_raw_fd()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        ..Default::default()
    };
    // SAFETY: attr is a valid bpf_attr prefix; keys and values outlive the call and hold
    // `count` entries each (checked by the callers' construction).
    let rc = unsafe {
        libc::syscall(libc::SYS_bpf, BPF_MAP_UPDATE_BATCH, &mut attr as *mut BatchAttr, size_of::<BatchAttr>())
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    if attr.count as usize != count {
        return Err(io::Error::other(format!("batch update wrote {} of {count} entries", attr.count)));
    }
    Ok(())
}

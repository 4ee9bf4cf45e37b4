//! Attaching the programs to the cgroup through pinned BPF links, and detaching them.
use std::{fs::File, path::Path};

use aya::{
    programs::{links::FdLink, links::PinnedLink, CgroupAttachMode, CgroupSockAddr},
    Ebpf,
};

use super::{pins::remove_pin, pins::PinLayout, LbError};

/// Reverse programs come first: a socket translated by connect4/sendmsg4 must never meet a
/// missing recvmsg4/getpeername4. Detaching walks the list backwards for the same reason.
const PROGRAMS: [&str; 4] = ["recvmsg4", "getpeername4", "connect4", "sendmsg4"];

/// Makes sure every program is attached to `cgroup_dir` through a link pinned in `layout`.
/// A link that is already pinned is left alone, so a restarted agent changes nothing in the kernel
/// (and keeps the program version that is running; see `unload` to replace it).
/// Returns how many links were newly created.
pub(super) fn ensure_attached(ebpf: &mut Ebpf, cgroup_dir: &Path, layout: &PinLayout) -> Result<usize, LbError> {
    let mut created = 0;
    for name in PROGRAMS {
        let pin = layout.link(name);
        if PinnedLink::from_pin(&pin).is_ok() {
            continue;
        }
        // A file that is not a live link (e.g. left by a crash mid-pin) would block the new pin.
        remove_pin(&pin)?;
        attach_and_pin(ebpf, name, cgroup_dir, &pin)?;
        created += 1;
    }
    Ok(created)
}

fn attach_and_pin(ebpf: &mut Ebpf, name: &'static str, cgroup_dir: &Path, pin: &Path) -> Result<(), LbError> {
    let program = ebpf.program_mut(name).ok_or_else(|| LbError::Invalid(format!("object has no program {name}")))?;
    let program: &mut CgroupSockAddr = program.try_into().map_err(LbError::program(name))?;
    if program.fd().is_err() {
        program.load().map_err(LbError::program(name))?;
    }
    let cgroup = File::open(cgroup_dir).map_err(|e| LbError::io(cgroup_dir, e))?;
    // Single is the only mode aya 0.14 accepts for link-based cgroup attach (the kernel rejects
    // flags on BPF_LINK_CREATE); links still stack with other programs, as if ALLOW_MULTI.
    let link_id = program.attach(cgroup, CgroupAttachMode::Single).map_err(LbError::program(name))?;
    let link = program.take_link(link_id).map_err(LbError::program(name))?;
    let fd_link =
        FdLink::try_from(link).map_err(|e| LbError::Invalid(format!("{name}: link is not an fd link: {e}")))?;
    fd_link.pin(pin).map_err(|e| LbError::Invalid(format!("pinning {}: {e}", pin.display())))?;
    Ok(())
}

/// Unpins every link; the kernel detaches a link once its pin and last fd are gone.
pub(super) fn detach_all(layout: &PinLayout) -> Result<(), LbError> {
    for name in PROGRAMS.iter().rev() {
        remove_pin(&layout.link(name))?;
    }
    Ok(())
}

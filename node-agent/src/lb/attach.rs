//! Attaching the programs to the cgroup through pinned BPF links, and detaching them.
use std::{fs::File, os::fd::AsFd, path::Path};

use aya::{
    programs::{links::FdLink, CgroupAttachMode, CgroupSockAddr},
    Ebpf,
};

use super::{
    links::{install, Installed},
    pins::remove_pin,
    pins::PinLayout,
    LbError,
};

/// Reverse programs come first: a socket translated by connect/sendmsg must never meet a
/// missing recvmsg/getpeername. Detaching walks the list backwards for the same reason.
const PROGRAMS: [&str; 8] =
    ["recvmsg4", "getpeername4", "recvmsg6", "getpeername6", "connect4", "sendmsg4", "connect6", "sendmsg6"];

/// Loads every program into the kernel (verifier included), attaching nothing yet.
pub(super) fn load_programs(ebpf: &mut Ebpf) -> Result<(), LbError> {
    for name in PROGRAMS {
        let program = program(ebpf, name)?;
        if program.fd().is_err() {
            program.load().map_err(LbError::program(name))?;
        }
    }
    Ok(())
}

/// Puts this object's programs in place on `cgroup_dir`: each pinned link is switched to the new
/// program atomically (BPF_LINK_UPDATE), so a restart or an upgrade never leaves a moment without
/// translation; missing links are created and pinned. Returns how many links were newly created.
pub(super) fn activate(ebpf: &mut Ebpf, cgroup_dir: &Path, layout: &PinLayout) -> Result<usize, LbError> {
    let mut created = 0;
    for name in PROGRAMS {
        let pin = layout.link(name);
        let program = program(ebpf, name)?;
        // An owned duplicate, so the program itself stays free to be attached by the closure.
        let fd = program.fd().map_err(LbError::program(name))?.as_fd();
        let fd = fd.try_clone_to_owned().map_err(|e| LbError::io(&pin, e))?;
        if install(&pin, fd.as_fd(), || attach_and_pin(program, name, cgroup_dir, &pin))? == Installed::Created {
            created += 1;
        }
    }
    Ok(created)
}

fn program<'a>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut CgroupSockAddr, LbError> {
    let program = ebpf.program_mut(name).ok_or_else(|| LbError::Invalid(format!("object has no program {name}")))?;
    program.try_into().map_err(LbError::program(name))
}

fn attach_and_pin(
    program: &mut CgroupSockAddr,
    name: &'static str,
    cgroup_dir: &Path,
    pin: &Path,
) -> Result<(), LbError> {
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

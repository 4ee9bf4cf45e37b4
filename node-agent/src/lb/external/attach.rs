//! Attaching the TC programs to the external interface with TCX links pinned on bpffs, and
//! detaching them. TCX (kernel >= 6.6) rather than a clsact qdisc: its links are ordinary BPF
//! links, so they can be pinned and outlive the agent exactly like the socket LB's cgroup links,
//! and they coexist with other TC programs on the interface without qdisc priorities or handles.
use std::{os::fd::AsFd, path::Path};

use aya::{
    programs::{
        links::{FdLink, LinkOrder},
        tc::TcAttachOptions,
        SchedClassifier, TcAttachType,
    },
    Ebpf,
};

use crate::lb::{
    links::{install, Installed},
    pins::remove_pin,
    pins::PinLayout,
    LbError,
};

/// Egress first: a flow translated on ingress must never meet a missing reverse translation.
/// Detaching walks the list backwards for the same reason.
const PROGRAMS: [(&str, TcAttachType); 2] =
    [("ext_egress", TcAttachType::Egress), ("ext_ingress", TcAttachType::Ingress)];

/// Puts both programs on `iface` through links pinned in `layout`: a pinned link switches to this
/// build's program atomically (BPF_LINK_UPDATE), so a restart or upgrade never leaves the
/// interface untranslated; missing links are created. Returns how many were created.
pub(super) fn activate(ebpf: &mut Ebpf, iface: &str, layout: &PinLayout) -> Result<usize, LbError> {
    let mut created = 0;
    for (name, attach_type) in PROGRAMS {
        let pin = layout.link(name);
        let program =
            ebpf.program_mut(name).ok_or_else(|| LbError::Invalid(format!("object has no program {name}")))?;
        let program: &mut SchedClassifier = program.try_into().map_err(LbError::program(name))?;
        if program.fd().is_err() {
            program.load().map_err(LbError::program(name))?;
        }
        // An owned duplicate, so the program itself stays free to be attached by the closure.
        let fd = program.fd().map_err(LbError::program(name))?.as_fd();
        let fd = fd.try_clone_to_owned().map_err(|e| LbError::io(&pin, e))?;
        if install(&pin, fd.as_fd(), || attach_and_pin(program, name, iface, attach_type, &pin))? == Installed::Created
        {
            created += 1;
        }
    }
    Ok(created)
}

fn attach_and_pin(
    program: &mut SchedClassifier,
    name: &'static str,
    iface: &str,
    attach_type: TcAttachType,
    pin: &Path,
) -> Result<(), LbError> {
    let options = TcAttachOptions::TcxOrder(LinkOrder::default());
    let link_id = program.attach_with_options(iface, attach_type, options).map_err(LbError::program(name))?;
    let link = program.take_link(link_id).map_err(LbError::program(name))?;
    let fd_link =
        FdLink::try_from(link).map_err(|e| LbError::Invalid(format!("{name}: link is not an fd link: {e}")))?;
    fd_link.pin(pin).map_err(|e| LbError::Invalid(format!("pinning {}: {e}", pin.display())))?;
    Ok(())
}

/// Unpins both links; the kernel detaches a TCX link once its pin and last fd are gone.
pub(super) fn detach_all(layout: &PinLayout) -> Result<(), LbError> {
    for (name, _) in PROGRAMS.iter().rev() {
        remove_pin(&layout.link(name))?;
    }
    Ok(())
}

//! SNAT source-port allocation for flows to remote backends.
use aya_ebpf::{bindings::BPF_NOEXIST, helpers::bpf_get_prandom_u32};
use lb_common::external::{Config, FlowKey, RevNatValue};

use crate::maps::EXT_REV_NAT;

/// Random probes before giving up; with a few thousand ports per backend a miss is rare.
const TRIES: u32 = 8;

/// Picks a free port for `reply` (the tuple replies of the backend will carry, with its `dport`
/// still to be chosen) and claims it by inserting the reverse-NAT entry. The reverse entry's key
/// includes the backend, so ports are only unique per backend. Returns the port, network order.
#[inline(always)]
pub fn allocate(cfg: &Config, reply: &FlowKey, rev: &RevNatValue) -> Option<u16> {
    let span = u32::from(cfg.snat_port_max).checked_sub(u32::from(cfg.snat_port_min))? + 1;
    let mut key = *reply;
    for _ in 0..TRIES {
        // SAFETY: the helper has no preconditions.
        let offset = unsafe { bpf_get_prandom_u32() }.checked_rem(span)?;
        let port = (u32::from(cfg.snat_port_min) + offset) as u16;
        key.dport = port.to_be();
        if EXT_REV_NAT.insert(key, rev, BPF_NOEXIST as u64).is_ok() {
            return Some(key.dport);
        }
    }
    None
}

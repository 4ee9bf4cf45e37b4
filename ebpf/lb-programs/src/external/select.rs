//! Backend choice for a new flow: source-range check, then a Maglev table lookup.
use aya_ebpf::maps::lpm_trie::Key;
use lb_common::external::{BackendKey, BackendValue, FlowKey, FrontendValue, MaglevKey, SourceRangeKey};

use crate::maps::{EXT_BACKENDS, EXT_MAGLEV, EXT_SOURCE_RANGES};

/// Prefix length of a full lookup key: frontend id (32 bits) + source address (32 bits).
const FULL_PREFIX: u32 = 64;

/// Whether `saddr` is inside one of the frontend's loadBalancerSourceRanges.
#[inline(always)]
pub fn source_allowed(frontend_id: u32, saddr: u32) -> bool {
    let key = Key::new(FULL_PREFIX, SourceRangeKey { frontend_id, addr: saddr });
    EXT_SOURCE_RANGES.get(&key).is_some()
}

/// The backend owning the flow's Maglev slot, with its id. `None` if the table has a hole, which
/// the user-space update order rules out.
#[inline(always)]
pub fn pick_backend(fe: &FrontendValue, flow: &FlowKey) -> Option<(u32, BackendValue)> {
    // checked_rem: a plain `%` would pull in core's divide-by-zero panic, which the verifier rejects.
    let slot = flow_hash(flow).checked_rem(fe.maglev_size)?;
    let backend_id = *unsafe_get(EXT_MAGLEV.get_ptr(MaglevKey { frontend_id: fe.id, slot }))?;
    let key = BackendKey { frontend_id: fe.id, backend_id };
    let backend = *unsafe_get(EXT_BACKENDS.get_ptr(key))?;
    Some((backend_id, backend))
}

#[inline(always)]
fn unsafe_get<T>(ptr: Option<*const T>) -> Option<&'static T> {
    // SAFETY: map value pointers stay valid for the whole program run (RCU); values are copied
    // by the callers right away.
    ptr.map(|p| unsafe { &*p })
}

/// A deterministic mix of the whole 5-tuple (murmur3-style), so a flow maps to the same slot on
/// every packet, every CPU and across agent restarts.
#[inline(always)]
fn flow_hash(flow: &FlowKey) -> u32 {
    let mut h = 0x9e37_79b9u32;
    h = mix(h, flow.saddr);
    h = mix(h, flow.daddr);
    h = mix(h, (u32::from(flow.sport) << 16) | u32::from(flow.dport));
    h = mix(h, u32::from(flow.proto));
    finish(h)
}

#[inline(always)]
fn mix(h: u32, word: u32) -> u32 {
    let k = word.wrapping_mul(0xcc9e_2d51).rotate_left(15).wrapping_mul(0x1b87_3593);
    (h ^ k).rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64)
}

#[inline(always)]
fn finish(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

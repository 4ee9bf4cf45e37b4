//! Backend selection: uniform random, or sticky per client netns when the service has affinity.
use aya_ebpf::{
    helpers::{bpf_get_netns_cookie, bpf_get_prandom_u32, bpf_ktime_get_ns},
    programs::SockAddrContext,
    EbpfContext,
};
use lb_common::{AffinityKey, AffinityValue, BackendKey, Endpoint, ServiceValue, SERVICE_FLAG_AFFINITY};

use crate::maps::{AFFINITY, BACKENDS};

/// Picks a backend of `svc` (which has at least one). `None` only if user space left a hole,
/// which its update order rules out.
#[inline(always)]
pub fn pick_backend(ctx: &SockAddrContext, svc: &ServiceValue) -> Option<Endpoint> {
    if svc.flags & SERVICE_FLAG_AFFINITY == 0 {
        return backend_at(svc, random_slot(svc)?);
    }
    // SAFETY: the helper only reads the context the kernel gave us.
    let netns_cookie = unsafe { bpf_get_netns_cookie(ctx.as_ptr()) };
    let key = AffinityKey { netns_cookie, service_id: svc.id, pad: 0 };
    // SAFETY: as above; the helper has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    if let Some(ep) = sticky_backend(&key, svc, now) {
        return Some(ep);
    }
    let slot = random_slot(svc)?;
    let ep = backend_at(svc, slot)?;
    let value = AffinityValue { slot, pad: 0, backend: ep, pad2: 0, last_used_ns: now };
    // A failed insert only costs stickiness for the next connection.
    let _ = AFFINITY.insert(key, value, 0);
    Some(ep)
}

/// The remembered backend if it is fresh and still in the same slot; refreshes its timestamp.
#[inline(always)]
fn sticky_backend(key: &AffinityKey, svc: &ServiceValue, now: u64) -> Option<Endpoint> {
    let entry = AFFINITY.get_ptr_mut(key)?;
    // SAFETY: the pointer is valid for this program run; a concurrent update can only make the
    // copy stale, which the checks below tolerate.
    let remembered = unsafe { *entry };
    let timeout_ns = svc.affinity_timeout_secs as u64 * 1_000_000_000;
    if now.wrapping_sub(remembered.last_used_ns) > timeout_ns || remembered.slot >= svc.backend_count {
        return None;
    }
    let current = backend_at(svc, remembered.slot)?;
    if current != remembered.backend {
        return None;
    }
    // SAFETY: same pointer as above; a plain 8-byte store.
    unsafe { (*entry).last_used_ns = now };
    Some(current)
}

/// `checked_rem` rather than `%`: a plain remainder would drag in core's divide-by-zero panic,
/// which the verifier rejects ("last insn is not an exit or jmp").
#[inline(always)]
fn random_slot(svc: &ServiceValue) -> Option<u32> {
    // SAFETY: the helper has no preconditions.
    let r = unsafe { bpf_get_prandom_u32() };
    r.checked_rem(svc.backend_count)
}

#[inline(always)]
fn backend_at(svc: &ServiceValue, slot: u32) -> Option<Endpoint> {
    let ptr = BACKENDS.get_ptr(BackendKey { service_id: svc.id, slot })?;
    // SAFETY: valid map value pointer for this program run.
    Some(unsafe { *ptr })
}

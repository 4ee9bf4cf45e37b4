//! Per-CPU counters (user space creates the entries; a missing one is simply not counted).
use lb_common::external::{BackendKey, FrontendStats};

use crate::maps::{EXT_BE_STATS, EXT_FE_STATS};

#[inline(always)]
pub fn count_forwarded(key: &BackendKey, bytes: u32) {
    if let Some(fe) = EXT_FE_STATS.get_ptr_mut(key.frontend_id) {
        // SAFETY: per-CPU value of this CPU; nothing else writes it while we run.
        let fe = unsafe { &mut *fe };
        fe.packets += 1;
        fe.bytes += u64::from(bytes);
    }
    if let Some(be) = EXT_BE_STATS.get_ptr_mut(key) {
        // SAFETY: as above.
        let be = unsafe { &mut *be };
        be.packets += 1;
        be.bytes += u64::from(bytes);
    }
}

#[inline(always)]
pub fn count_drop(frontend_id: u32, bump: impl FnOnce(&mut FrontendStats)) {
    if let Some(fe) = EXT_FE_STATS.get_ptr_mut(frontend_id) {
        // SAFETY: per-CPU value of this CPU; nothing else writes it while we run.
        bump(unsafe { &mut *fe });
    }
}

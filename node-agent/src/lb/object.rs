//! The compiled kernel objects, embedded at build time (path set by `build.rs`).

/// `keel-lb`: connect4, sendmsg4, recvmsg4 and getpeername4 plus their maps. Aligned because the
/// ELF parser reads it in place.
pub(super) static KEEL_LB: &[u8] = aya::include_bytes_aligned!(env!("KEEL_LB_OBJECT"));

/// `keel-ext-lb`: the TC programs ext_ingress and ext_egress plus their maps (path set by `build.rs`).
pub(super) static KEEL_EXT_LB: &[u8] = aya::include_bytes_aligned!(env!("KEEL_EXT_LB_OBJECT"));

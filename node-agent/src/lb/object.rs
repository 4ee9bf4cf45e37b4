//! The compiled kernel object, embedded at build time (path set by `build.rs`).

/// `keel-lb`: connect4, sendmsg4, recvmsg4 and getpeername4 plus their maps. Aligned because the
/// ELF parser reads it in place.
pub(super) static KEEL_LB: &[u8] = aya::include_bytes_aligned!(env!("KEEL_LB_OBJECT"));

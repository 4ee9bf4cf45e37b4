//! Map layouts of the external (NodePort / externalIP / LoadBalancer) TC load balancer, object
//! `keel-ext-lb`. Same conventions as the socket LB: addresses and ports in network byte order in
//! memory, `#[repr(C)]` with explicit padding so hash keys have no uninitialised byte.
//!
//! IPv4 only: the node's external interface speaks IPv4 here. Frontends are keyed by
//! [`FrontendKey`] (addr = node IP, externalIP or LB IP).

/// Map names as they appear in the object file; user space pins each under these names.
pub mod map_names {
    pub const CONFIG: &str = "EXT_CONFIG";
    pub const FRONTENDS: &str = "EXT_FRONTENDS";
    pub const BACKENDS: &str = "EXT_BACKENDS";
    pub const MAGLEV: &str = "EXT_MAGLEV";
    pub const SOURCE_RANGES: &str = "EXT_SOURCE_RANGES";
    pub const CT: &str = "EXT_CT";
    pub const REV_NAT: &str = "EXT_REV_NAT";
    pub const FRONTEND_STATS: &str = "EXT_FE_STATS";
    pub const BACKEND_STATS: &str = "EXT_BE_STATS";
}

/// Capacity of each map. Changing one requires removing the old pins (the pinned map keeps its size).
pub const MAX_FRONTENDS: u32 = 16_384;
pub const MAX_BACKENDS: u32 = 262_144;
/// Sum of the Maglev table sizes of all frontends: 64 frontends at the default size.
pub const MAX_MAGLEV_ENTRIES: u32 = 1 << 20;
pub const MAX_SOURCE_RANGES: u32 = 65_536;
pub const MAX_CT_ENTRIES: u32 = 131_072;
pub const MAX_REV_NAT_ENTRIES: u32 = 131_072;

/// Largest Maglev table a frontend may use (a prime); the kernel only relies on `maglev_size > 0`.
pub const MAX_MAGLEV_SIZE: u32 = 65_537;

/// [`FrontendValue::flags`]: externalTrafficPolicy Local (the table holds only local backends).
pub const FRONTEND_FLAG_LOCAL: u32 = 1;
/// [`FrontendValue::flags`]: loadBalancerSourceRanges are set; unlisted sources are dropped.
pub const FRONTEND_FLAG_SOURCE_RANGES: u32 = 2;

/// [`BackendValue::flags`] and [`CtValue::flags`]: the backend is a pod on this node (DNAT only).
pub const BACKEND_FLAG_LOCAL: u32 = 1;

/// An IPv4 endpoint as packets carry it (backend, SNAT source, reverse-NAT addresses).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub addr: u32,
    pub port: u16,
    pub pad: u16,
}

/// Key of `EXT_FRONTENDS`: an IPv4 frontend address, port and protocol.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrontendKey {
    pub addr: u32,
    pub port: u16,
    pub proto: u8,
    pub pad: u8,
}

/// Single entry (index 0) of the `EXT_CONFIG` array.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// This node's IP on the external interface: the SNAT source for remote backends.
    pub node_ip: u32,
    /// SNAT source port range, host byte order, inclusive; outside the kernel's ephemeral range.
    pub snat_port_min: u16,
    pub snat_port_max: u16,
}

/// Value of `EXT_FRONTENDS`. `maglev_size` and the table are written before this value, so a
/// reader never indexes a slot that is not populated.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrontendValue {
    pub id: u32,
    pub flags: u32,
    /// M: number of slots `0..M` of this frontend in `EXT_MAGLEV`.
    pub maglev_size: u32,
    /// Backends in the table; 0 means "drop" (no usable backend, e.g. Local without local pods).
    pub backend_count: u32,
}

/// Key of `EXT_BACKENDS` and `EXT_BE_STATS`: a backend id, allocated per frontend.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BackendKey {
    pub frontend_id: u32,
    pub backend_id: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackendValue {
    pub backend: Endpoint,
    pub flags: u32,
}

/// Key of `EXT_MAGLEV`; the value is the backend id (u32) that owns the slot.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MaglevKey {
    pub frontend_id: u32,
    pub slot: u32,
}

/// Data of the `EXT_SOURCE_RANGES` LPM key. The prefix length is 32 + the CIDR length, so the
/// frontend id always matches in full and the CIDR applies to `addr`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceRangeKey {
    pub frontend_id: u32,
    pub addr: u32,
}

/// A packet's IPv4 5-tuple as it is on the wire. Key of `EXT_CT` (client -> frontend, as received)
/// and `EXT_REV_NAT` (backend -> client or node, as the reply arrives).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub saddr: u32,
    pub daddr: u32,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub pad: [u8; 3],
}

/// Value of the LRU `EXT_CT`: where a flow was sent, so later packets keep their backend.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtValue {
    pub backend: Endpoint,
    pub frontend_id: u32,
    pub backend_id: u32,
    /// SNAT source port (network order); 0 for a local backend (no SNAT).
    pub snat_port: u16,
    pub pad: u16,
    pub flags: u32,
}

/// Value of the LRU `EXT_REV_NAT`: the addresses a reply must carry towards the client.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevNatValue {
    /// New source: the frontend the client talked to.
    pub src: Endpoint,
    /// New destination: the client.
    pub dst: Endpoint,
}

/// Per-CPU value of `EXT_FE_STATS`, keyed by frontend id (u32). Client -> backend direction.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrontendStats {
    pub packets: u64,
    pub bytes: u64,
    /// Packets dropped because the frontend had no (local) backend.
    pub no_backend: u64,
    /// Packets dropped by loadBalancerSourceRanges.
    pub denied: u64,
    /// Packets dropped because no SNAT port was free.
    pub snat_exhausted: u64,
}

/// Per-CPU value of `EXT_BE_STATS`. Client -> backend direction.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackendStats {
    pub packets: u64,
    pub bytes: u64,
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY (all impls): repr(C), only integer fields, explicit padding, so any bit pattern is valid.
    unsafe impl aya::Pod for super::Endpoint {}
    unsafe impl aya::Pod for super::FrontendKey {}
    unsafe impl aya::Pod for super::Config {}
    unsafe impl aya::Pod for super::FrontendValue {}
    unsafe impl aya::Pod for super::BackendKey {}
    unsafe impl aya::Pod for super::BackendValue {}
    unsafe impl aya::Pod for super::MaglevKey {}
    unsafe impl aya::Pod for super::SourceRangeKey {}
    unsafe impl aya::Pod for super::FlowKey {}
    unsafe impl aya::Pod for super::CtValue {}
    unsafe impl aya::Pod for super::RevNatValue {}
    unsafe impl aya::Pod for super::FrontendStats {}
    unsafe impl aya::Pod for super::BackendStats {}
}

//! Map layouts shared by the Keel load-balancer eBPF programs and user space: the socket-level
//! programs (this module) and the per-packet TC programs for external traffic ([`external`]).
//!
//! Every address and port is stored exactly as the kernel hands it to a `bpf_sock_addr` program:
//! network byte order in memory. User space converts with `u32::from_ne_bytes(ip.octets())` and
//! `port.to_be()`, so neither side ever swaps bytes on the hot path.
//!
//! All structs are `#[repr(C)]` with explicit padding fields: hash-map keys are compared bytewise,
//! so no byte of a key may be left uninitialised.
#![no_std]

pub mod external;

/// Map names as they appear in the object file; user space pins each under these names.
pub mod map_names {
    pub const SERVICES: &str = "SERVICES";
    pub const BACKENDS: &str = "BACKENDS";
    pub const REV_NAT: &str = "REV_NAT";
    pub const AFFINITY: &str = "AFFINITY";
    pub const STATS: &str = "STATS";
}

/// Capacity of each map. Changing one requires removing the old pins (the pinned map keeps its size).
pub const MAX_SERVICES: u32 = 65_536;
pub const MAX_BACKEND_SLOTS: u32 = 262_144;
pub const MAX_REV_NAT_ENTRIES: u32 = 262_144;
pub const MAX_AFFINITY_ENTRIES: u32 = 65_536;

/// IP protocol numbers used in [`ServiceKey::proto`].
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

/// [`ServiceValue::flags`] bit: ClientIP session affinity is on.
pub const SERVICE_FLAG_AFFINITY: u32 = 1;

/// A service frontend (ClusterIP:port/protocol). Key of `SERVICES`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServiceKey {
    pub addr: u32,
    pub port: u16,
    pub proto: u8,
    pub pad: u8,
}

/// Value of `SERVICES`. `backend_count` is written last by user space: slots `0..backend_count`
/// of this service in `BACKENDS` are always populated.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceValue {
    pub id: u32,
    pub backend_count: u32,
    pub flags: u32,
    pub affinity_timeout_secs: u32,
}

/// Key of `BACKENDS`: one slot of one service.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BackendKey {
    pub service_id: u32,
    pub slot: u32,
}

/// An IPv4 endpoint (backend in `BACKENDS`, frontend in `REV_NAT` values).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub addr: u32,
    pub port: u16,
    pub pad: u16,
}

/// Key of the LRU `REV_NAT` map: which backend a given socket was sent to.
/// Keyed by backend too, so one unconnected UDP socket can talk to several services.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RevNatKey {
    pub cookie: u64,
    pub backend: Endpoint,
}

/// Key of the LRU `AFFINITY` map: a client network namespace (one pod) and a service.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AffinityKey {
    pub netns_cookie: u64,
    pub service_id: u32,
    pub pad: u32,
}

/// Value of `AFFINITY`. The backend is re-validated against `BACKENDS[slot]` before use, so an
/// entry left over from a removed backend is simply ignored.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AffinityValue {
    pub slot: u32,
    pub pad: u32,
    pub backend: Endpoint,
    pub last_used_ns: u64,
}

/// Per-CPU value of `STATS`, keyed by service id (u32).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceStats {
    /// Connects and datagrams rewritten to a backend.
    pub translated: u64,
    /// Connects and datagrams rejected because the service had no backend.
    pub no_backend: u64,
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY (all impls): repr(C), only integer fields, explicit padding, so any bit pattern is valid.
    unsafe impl aya::Pod for super::ServiceKey {}
    unsafe impl aya::Pod for super::ServiceValue {}
    unsafe impl aya::Pod for super::BackendKey {}
    unsafe impl aya::Pod for super::Endpoint {}
    unsafe impl aya::Pod for super::RevNatKey {}
    unsafe impl aya::Pod for super::AffinityKey {}
    unsafe impl aya::Pod for super::AffinityValue {}
    unsafe impl aya::Pod for super::ServiceStats {}
}

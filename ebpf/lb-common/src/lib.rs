//! Map layouts shared by the Keel load-balancer eBPF programs and user space: the socket-level
//! programs (this module) and the per-packet TC programs for external traffic ([`external`]).
//!
//! Every address and port is stored exactly as the kernel hands it to a `bpf_sock_addr` program:
//! network byte order in memory. User space converts with `u32::from_ne_bytes(..)` over the
//! octets and `port.to_be()`, so neither side ever swaps bytes on the hot path.
//!
//! The socket path keeps one set of maps for both families: addresses are 16 bytes, and an IPv4
//! address is stored IPv4-mapped (`::ffff:a.b.c.d`, see [`v4_mapped`]). connect4 and connect6 thus
//! share every entry, and an IPv6 socket connecting to a mapped ClusterIP is translated too.
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

/// Version of the socket path's map layout. Pins live under a directory named after it, so an
/// agent with a new layout starts on fresh maps next to the old ones and swaps programs only
/// once the new maps are filled (see the agent's `lb::activate`).
pub const SOCKET_MAPS_VERSION: u32 = 2;

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

/// An IPv6 address, or an IPv4-mapped one, as four network-order words (`user_ip6` layout).
pub type Addr = [u32; 4];

/// Third word of an IPv4-mapped address: bytes `ff ff` in network order.
pub const V4_MAPPED_WORD: u32 = u32::from_ne_bytes([0, 0, 0xff, 0xff]);

/// `::ffff:a.b.c.d` for an IPv4 address given as a network-order word (`user_ip4` layout).
#[inline(always)]
pub const fn v4_mapped(ip4: u32) -> Addr {
    [0, 0, V4_MAPPED_WORD, ip4]
}

/// The IPv4 address inside an IPv4-mapped address, `None` for a real IPv6 one.
#[inline(always)]
pub const fn mapped_v4(addr: &Addr) -> Option<u32> {
    if addr[0] == 0 && addr[1] == 0 && addr[2] == V4_MAPPED_WORD {
        Some(addr[3])
    } else {
        None
    }
}

/// A service frontend (ClusterIP:port/protocol). Key of `SERVICES`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServiceKey {
    pub addr: Addr,
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

/// An endpoint of either family (backend in `BACKENDS`, frontend in `REV_NAT` values).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub addr: Addr,
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
    pub pad: u32,
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
    pub pad2: u32,
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

// Hash keys are compared bytewise: these sizes prove there is no implicit padding.
const _: () = assert!(core::mem::size_of::<ServiceKey>() == 20);
const _: () = assert!(core::mem::size_of::<Endpoint>() == 20);
const _: () = assert!(core::mem::size_of::<RevNatKey>() == 32);
const _: () = assert!(core::mem::size_of::<AffinityValue>() == 40);

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

//! The maps shared with user space (see `lb-common` for layouts and the update protocol).
use aya_ebpf::{
    bindings::BPF_F_NO_PREALLOC,
    macros::map,
    maps::{HashMap, LruHashMap, PerCpuHashMap},
};
use lb_common::{
    AffinityKey, AffinityValue, BackendKey, Endpoint, RevNatKey, ServiceKey, ServiceStats, ServiceValue,
    MAX_AFFINITY_ENTRIES, MAX_BACKEND_SLOTS, MAX_REV_NAT_ENTRIES, MAX_SERVICES,
};

// NO_PREALLOC: replaced elements are freed only after an RCU grace period, so a program that
// looked one up just before user space updated it still copies a consistent value.
#[map]
pub static SERVICES: HashMap<ServiceKey, ServiceValue> = HashMap::with_max_entries(MAX_SERVICES, BPF_F_NO_PREALLOC);

#[map]
pub static BACKENDS: HashMap<BackendKey, Endpoint> = HashMap::with_max_entries(MAX_BACKEND_SLOTS, BPF_F_NO_PREALLOC);

/// Socket cookie + backend -> frontend, for recvmsg/getpeername. LRU: closed sockets age out.
#[map]
pub static REV_NAT: LruHashMap<RevNatKey, Endpoint> = LruHashMap::with_max_entries(MAX_REV_NAT_ENTRIES, 0);

#[map]
pub static AFFINITY: LruHashMap<AffinityKey, AffinityValue> = LruHashMap::with_max_entries(MAX_AFFINITY_ENTRIES, 0);

/// Per-CPU so the counters need no atomics (the bpfel target has no atomic read-modify-write).
#[map]
pub static STATS: PerCpuHashMap<u32, ServiceStats> = PerCpuHashMap::with_max_entries(MAX_SERVICES, 0);

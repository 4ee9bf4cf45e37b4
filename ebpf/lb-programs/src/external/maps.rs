//! The maps shared with user space (see `lb_common::external` for layouts and update order).
use aya_ebpf::{
    bindings::BPF_F_NO_PREALLOC,
    macros::map,
    maps::{Array, HashMap, LpmTrie, LruHashMap, PerCpuHashMap},
};
use lb_common::external::{
    BackendKey, BackendStats, BackendValue, Config, CtValue, FlowKey, FrontendKey, FrontendStats, FrontendValue,
    MaglevKey, RevNatValue, SourceRangeKey, MAX_BACKENDS, MAX_CT_ENTRIES, MAX_FRONTENDS, MAX_MAGLEV_ENTRIES,
    MAX_REV_NAT_ENTRIES, MAX_SOURCE_RANGES,
};

#[map]
pub static EXT_CONFIG: Array<Config> = Array::with_max_entries(1, 0);

// NO_PREALLOC: replaced elements are freed only after an RCU grace period, so a program that
// looked one up just before user space updated it still copies a consistent value.
#[map]
pub static EXT_FRONTENDS: HashMap<FrontendKey, FrontendValue> =
    HashMap::with_max_entries(MAX_FRONTENDS, BPF_F_NO_PREALLOC);

#[map]
pub static EXT_BACKENDS: HashMap<BackendKey, BackendValue> = HashMap::with_max_entries(MAX_BACKENDS, BPF_F_NO_PREALLOC);

/// (frontend id, slot) -> backend id: every frontend's Maglev lookup table.
#[map]
pub static EXT_MAGLEV: HashMap<MaglevKey, u32> = HashMap::with_max_entries(MAX_MAGLEV_ENTRIES, BPF_F_NO_PREALLOC);

/// loadBalancerSourceRanges; the value is unused (presence is the answer).
#[map]
pub static EXT_SOURCE_RANGES: LpmTrie<SourceRangeKey, u32> = LpmTrie::with_max_entries(MAX_SOURCE_RANGES, 0);

/// Client -> frontend tuple -> chosen backend. LRU: finished flows age out.
#[map]
pub static EXT_CT: LruHashMap<FlowKey, CtValue> = LruHashMap::with_max_entries(MAX_CT_ENTRIES, 0);

/// Reply tuple -> addresses the reply must carry back to the client.
#[map]
pub static EXT_REV_NAT: LruHashMap<FlowKey, RevNatValue> = LruHashMap::with_max_entries(MAX_REV_NAT_ENTRIES, 0);

/// Per-CPU so the counters need no atomics (the bpfel target has no atomic read-modify-write).
#[map]
pub static EXT_FE_STATS: PerCpuHashMap<u32, FrontendStats> = PerCpuHashMap::with_max_entries(MAX_FRONTENDS, 0);

#[map]
pub static EXT_BE_STATS: PerCpuHashMap<BackendKey, BackendStats> = PerCpuHashMap::with_max_entries(MAX_BACKENDS, 0);

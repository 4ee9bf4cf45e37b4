//! Typed handles on the external LB's pinned maps, checked against the layouts this build expects.
use std::mem::size_of;

use aya::{
    maps::{lpm_trie::Key, HashMap, LpmTrie, Map, MapData, PerCpuHashMap},
    Ebpf,
};
use lb_common::external::{
    map_names, BackendKey, BackendStats, BackendValue, Config, CtValue, FlowKey, FrontendKey, FrontendStats,
    FrontendValue, MaglevKey, RevNatValue, SourceRangeKey,
};

use crate::lb::{maps::take, pins::PinLayout, LbError};

/// Maps pinned by the external LB, in the order `detach` removes them.
pub(super) const PINNED_MAPS: [&str; 9] = [
    map_names::FRONTENDS,
    map_names::SOURCE_RANGES,
    map_names::MAGLEV,
    map_names::BACKENDS,
    map_names::CT,
    map_names::REV_NAT,
    map_names::FRONTEND_STATS,
    map_names::BACKEND_STATS,
    map_names::CONFIG,
];

pub(super) struct ExtMaps {
    pub(super) frontends: HashMap<MapData, FrontendKey, FrontendValue>,
    pub(super) backends: HashMap<MapData, BackendKey, BackendValue>,
    pub(super) maglev: HashMap<MapData, MaglevKey, u32>,
    pub(super) source_ranges: LpmTrie<MapData, SourceRangeKey, u32>,
    pub(super) ct: HashMap<MapData, FlowKey, CtValue>,
    pub(super) fe_stats: PerCpuHashMap<MapData, u32, FrontendStats>,
    pub(super) be_stats: PerCpuHashMap<MapData, BackendKey, BackendStats>,
}

impl ExtMaps {
    /// Takes the maps out of a loaded object (which has already reused or created their pins).
    pub(super) fn take(ebpf: &mut Ebpf, layout: &PinLayout) -> Result<Self, LbError> {
        let mut get = |name, key, value| take(ebpf, layout, name, key, value);
        // CONFIG is written through the loaded object before attaching; checked here, not kept.
        get(map_names::CONFIG, size_of::<u32>(), size_of::<Config>())?;
        let frontends = get(map_names::FRONTENDS, size_of::<FrontendKey>(), size_of::<FrontendValue>())?;
        let backends = get(map_names::BACKENDS, size_of::<BackendKey>(), size_of::<BackendValue>())?;
        let maglev = get(map_names::MAGLEV, size_of::<MaglevKey>(), size_of::<u32>())?;
        let ranges = get(map_names::SOURCE_RANGES, size_of::<Key<SourceRangeKey>>(), size_of::<u32>())?;
        let ct = get(map_names::CT, size_of::<FlowKey>(), size_of::<CtValue>())?;
        // REV_NAT is only touched by the kernel; it is checked for layout but not kept.
        get(map_names::REV_NAT, size_of::<FlowKey>(), size_of::<RevNatValue>())?;
        let fe_stats = get(map_names::FRONTEND_STATS, size_of::<u32>(), size_of::<FrontendStats>())?;
        let be_stats = get(map_names::BACKEND_STATS, size_of::<BackendKey>(), size_of::<BackendStats>())?;
        Self::typed([frontends, backends, maglev, ranges, ct, fe_stats, be_stats])
    }

    /// Opens the maps another process pinned, without loading or attaching anything.
    pub(super) fn open_pinned(layout: &PinLayout) -> Result<Self, LbError> {
        let open = |name: &'static str| MapData::from_pin(layout.map(name)).map_err(LbError::map(name));
        Self::typed([
            Map::HashMap(open(map_names::FRONTENDS)?),
            Map::HashMap(open(map_names::BACKENDS)?),
            Map::HashMap(open(map_names::MAGLEV)?),
            Map::LpmTrie(open(map_names::SOURCE_RANGES)?),
            Map::LruHashMap(open(map_names::CT)?),
            Map::PerCpuHashMap(open(map_names::FRONTEND_STATS)?),
            Map::PerCpuHashMap(open(map_names::BACKEND_STATS)?),
        ])
    }

    fn typed(maps: [Map; 7]) -> Result<Self, LbError> {
        let [frontends, backends, maglev, ranges, ct, fe_stats, be_stats] = maps;
        Ok(Self {
            frontends: HashMap::try_from(frontends).map_err(LbError::map(map_names::FRONTENDS))?,
            backends: HashMap::try_from(backends).map_err(LbError::map(map_names::BACKENDS))?,
            maglev: HashMap::try_from(maglev).map_err(LbError::map(map_names::MAGLEV))?,
            source_ranges: LpmTrie::try_from(ranges).map_err(LbError::map(map_names::SOURCE_RANGES))?,
            ct: HashMap::try_from(ct).map_err(LbError::map(map_names::CT))?,
            fe_stats: PerCpuHashMap::try_from(fe_stats).map_err(LbError::map(map_names::FRONTEND_STATS))?,
            be_stats: PerCpuHashMap::try_from(be_stats).map_err(LbError::map(map_names::BACKEND_STATS))?,
        })
    }
}

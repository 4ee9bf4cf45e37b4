//! Typed handles on the pinned maps, checked against the layouts this build expects.
use std::mem::size_of;

use aya::{
    maps::{HashMap, Map, MapData, PerCpuHashMap},
    Ebpf,
};
use lb_common::{map_names, AffinityKey, AffinityValue, BackendKey, Endpoint, ServiceKey, ServiceStats, ServiceValue};

use super::{pins::PinLayout, LbError};

/// Maps pinned by this module, in the order `unload` removes them.
pub(super) const PINNED_MAPS: [&str; 5] =
    [map_names::SERVICES, map_names::BACKENDS, map_names::REV_NAT, map_names::AFFINITY, map_names::STATS];

pub(super) struct LbMaps {
    pub(super) services: HashMap<MapData, ServiceKey, ServiceValue>,
    pub(super) backends: HashMap<MapData, BackendKey, Endpoint>,
    pub(super) affinity: HashMap<MapData, AffinityKey, AffinityValue>,
    pub(super) stats: PerCpuHashMap<MapData, u32, ServiceStats>,
}

impl LbMaps {
    /// Takes the maps out of a loaded object (which has already reused or created their pins).
    pub(super) fn take(ebpf: &mut Ebpf, layout: &PinLayout) -> Result<Self, LbError> {
        let services = take(ebpf, layout, map_names::SERVICES, size_of::<ServiceKey>(), size_of::<ServiceValue>())?;
        let backends = take(ebpf, layout, map_names::BACKENDS, size_of::<BackendKey>(), size_of::<Endpoint>())?;
        let affinity = take(ebpf, layout, map_names::AFFINITY, size_of::<AffinityKey>(), size_of::<AffinityValue>())?;
        let stats = take(ebpf, layout, map_names::STATS, size_of::<u32>(), size_of::<ServiceStats>())?;
        // REV_NAT is only touched by the kernel; it is checked for layout but not kept.
        take(ebpf, layout, map_names::REV_NAT, size_of::<lb_common::RevNatKey>(), size_of::<Endpoint>())?;
        Ok(Self {
            services: HashMap::try_from(services).map_err(LbError::map(map_names::SERVICES))?,
            backends: HashMap::try_from(backends).map_err(LbError::map(map_names::BACKENDS))?,
            affinity: HashMap::try_from(affinity).map_err(LbError::map(map_names::AFFINITY))?,
            stats: PerCpuHashMap::try_from(stats).map_err(LbError::map(map_names::STATS))?,
        })
    }
}

impl LbMaps {
    /// Opens the maps another process pinned, without loading or attaching anything (for
    /// listing and counters from the CLI).
    pub(super) fn open_pinned(layout: &PinLayout) -> Result<Self, LbError> {
        let open = |name: &'static str| MapData::from_pin(layout.map(name)).map_err(LbError::map(name));
        Ok(Self {
            services: HashMap::try_from(Map::HashMap(open(map_names::SERVICES)?))
                .map_err(LbError::map(map_names::SERVICES))?,
            backends: HashMap::try_from(Map::HashMap(open(map_names::BACKENDS)?))
                .map_err(LbError::map(map_names::BACKENDS))?,
            affinity: HashMap::try_from(Map::LruHashMap(open(map_names::AFFINITY)?))
                .map_err(LbError::map(map_names::AFFINITY))?,
            stats: PerCpuHashMap::try_from(Map::PerCpuHashMap(open(map_names::STATS)?))
                .map_err(LbError::map(map_names::STATS))?,
        })
    }
}

/// A pin re-used from an older build could have another layout; aya would not notice, and the
/// kernel programs would misread it. Compare with what the kernel says about the pinned map.
pub(super) fn take(
    ebpf: &mut Ebpf,
    layout: &PinLayout,
    name: &'static str,
    key: usize,
    value: usize,
) -> Result<Map, LbError> {
    let map = ebpf.take_map(name).ok_or_else(|| LbError::Invalid(format!("object has no map {name}")))?;
    let data = map_data(&map).ok_or_else(|| LbError::Invalid(format!("map {name} has an unexpected type")))?;
    let info = data.info().map_err(LbError::map(name))?;
    let found = (info.key_size() as usize, info.value_size() as usize);
    if found != (key, value) {
        return Err(LbError::IncompatiblePin {
            path: layout.map(name),
            found: format!("key {} bytes, value {} bytes", found.0, found.1),
            expected: format!("key {key} bytes, value {value} bytes"),
        });
    }
    Ok(map)
}

fn map_data(map: &Map) -> Option<&MapData> {
    match map {
        Map::HashMap(d) | Map::LruHashMap(d) | Map::PerCpuHashMap(d) | Map::Array(d) | Map::LpmTrie(d) => Some(d),
        _ => None,
    }
}

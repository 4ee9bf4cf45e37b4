//! Writing and removing one frontend in the maps, in an order that keeps the kernel programs
//! safe at every step:
//! 1. new and changed backends, and new source ranges (nothing points at them yet);
//! 2. the Maglev slots whose owner changed (every owner written so far exists; slots at or above
//!    the published M are invisible);
//! 3. the frontend value (M, backend count, flags): one atomic map update;
//! 4. slots past the new M, removed backends and removed source ranges, which nothing can reach.
use std::collections::{BTreeMap, BTreeSet};

use aya::maps::{lpm_trie::Key, PerCpuValues};
use ipnet::Ipv4Net;
use lb_common::external::{
    map_names, BackendKey, BackendStats, BackendValue, Endpoint, FrontendStats, FrontendValue, MaglevKey,
    SourceRangeKey, BACKEND_FLAG_LOCAL, FRONTEND_FLAG_LOCAL, FRONTEND_FLAG_SOURCE_RANGES,
};

use super::{
    maps::ExtMaps,
    state::{FrontendState, ID_BITS},
    types::TrafficPolicy,
};
use crate::lb::{services::ignore_not_found, Frontend, LbError};

impl ExtMaps {
    /// Makes the maps hold `new` for `frontend`, given that they hold `old` (None: a new frontend).
    /// Fills in `new.table` and `new.populated`. Returns how many Maglev slots were written.
    pub(super) fn write_frontend(
        &mut self,
        frontend: &Frontend,
        old: Option<&FrontendState>,
        new: &mut FrontendState,
    ) -> Result<usize, LbError> {
        if old.is_none() {
            self.frontend_stats_reset(new.id)?;
        }
        for (addr, (id, local)) in &new.backends {
            let before = old.and_then(|o| o.backends.get(addr));
            if before == Some(&(*id, *local)) {
                continue;
            }
            let value = BackendValue {
                backend: Endpoint { addr: u32::from_ne_bytes(addr.ip().octets()), port: addr.port().to_be(), pad: 0 },
                flags: if *local { BACKEND_FLAG_LOCAL } else { 0 },
            };
            let key = BackendKey { frontend_id: new.id, backend_id: *id };
            self.backends.insert(key, value, 0).map_err(LbError::map(map_names::BACKENDS))?;
            if before.is_none() {
                self.backend_stats_reset(key)?;
            }
        }
        let old_ranges: BTreeSet<Ipv4Net> =
            old.map(|o| o.config.source_ranges.iter().copied().collect()).unwrap_or_default();
        let new_ranges: BTreeSet<Ipv4Net> = new.config.source_ranges.iter().copied().collect();
        for net in new_ranges.difference(&old_ranges) {
            self.source_ranges.insert(&range_key(new.id, net), 1, 0).map_err(LbError::map(map_names::SOURCE_RANGES))?;
        }

        let table = table_ids(new);
        let written = self.write_slots(new.id, old.and_then(|o| o.table.as_deref()), &table)?;
        let mut flags = 0;
        if new.config.policy == TrafficPolicy::Local {
            flags |= FRONTEND_FLAG_LOCAL;
        }
        if !new_ranges.is_empty() {
            flags |= FRONTEND_FLAG_SOURCE_RANGES;
        }
        let eligible = eligible(new).count() as u32;
        let value = FrontendValue { id: new.id, flags, maglev_size: new.config.maglev_size, backend_count: eligible };
        self.frontends.insert(frontend.to_external_key()?, value, 0).map_err(LbError::map(map_names::FRONTENDS))?;

        let old_populated = old.map_or(0, |o| o.populated);
        for slot in table.len() as u32..old_populated {
            self.remove_slot(new.id, slot)?;
        }
        if let Some(old) = old {
            for (addr, (id, _)) in &old.backends {
                if new.backends.get(addr).is_none_or(|(new_id, _)| new_id != id) {
                    self.remove_backend(BackendKey { frontend_id: new.id, backend_id: *id })?;
                }
            }
        }
        for net in old_ranges.difference(&new_ranges) {
            self.remove_range(new.id, net)?;
        }
        new.populated = table.len() as u32;
        new.table = Some(table);
        Ok(written)
    }

    /// Removes everything of one frontend: its value first (new flows stop matching), then its
    /// tracked flows, slots, backends, ranges and counters.
    pub(super) fn remove_frontend(&mut self, frontend: &Frontend, state: &FrontendState) -> Result<(), LbError> {
        ignore_not_found(self.frontends.remove(&frontend.to_external_key()?))
            .map_err(LbError::map(map_names::FRONTENDS))?;
        self.forget_flows(|id| id == state.id)?;
        for slot in 0..state.populated {
            self.remove_slot(state.id, slot)?;
        }
        for (id, _) in state.backends.values() {
            self.remove_backend(BackendKey { frontend_id: state.id, backend_id: *id })?;
        }
        for net in &state.config.source_ranges {
            self.remove_range(state.id, net)?;
        }
        ignore_not_found(self.fe_stats.remove(&state.id)).map_err(LbError::map(map_names::FRONTEND_STATS))
    }

    /// Deletes tracked flows of the frontends `matches` selects; returns how many.
    pub(super) fn forget_flows(&mut self, matches: impl Fn(u32) -> bool) -> Result<usize, LbError> {
        let keys: Vec<_> = self
            .ct
            .iter()
            .filter_map(Result::ok)
            .filter(|(_, ct)| matches(ct.frontend_id))
            .map(|(key, _)| key)
            .collect();
        for key in &keys {
            ignore_not_found(self.ct.remove(key)).map_err(LbError::map(map_names::CT))?;
        }
        Ok(keys.len())
    }

    /// Deletes entries whose frontend is gone or whose slot is past the populated range: leftovers
    /// of an agent that died in the middle of an update. Returns how many.
    pub(super) fn collect_garbage(&mut self, populated: &BTreeMap<u32, u32>) -> Result<usize, LbError> {
        let live = |id: &u32| populated.contains_key(id);
        let slots: Vec<MaglevKey> = self
            .maglev
            .keys()
            .filter_map(Result::ok)
            .filter(|k| populated.get(&k.frontend_id).is_none_or(|n| k.slot >= *n))
            .collect();
        for key in &slots {
            ignore_not_found(self.maglev.remove(key)).map_err(LbError::map(map_names::MAGLEV))?;
        }
        let backends: Vec<BackendKey> =
            self.backends.keys().filter_map(Result::ok).filter(|k| !live(&k.frontend_id)).collect();
        for key in &backends {
            self.remove_backend(*key)?;
        }
        let ranges: Vec<Key<SourceRangeKey>> =
            self.source_ranges.keys().filter_map(Result::ok).filter(|k| !live(&k.data().frontend_id)).collect();
        for key in &ranges {
            ignore_not_found(self.source_ranges.remove(key)).map_err(LbError::map(map_names::SOURCE_RANGES))?;
        }
        let stats: Vec<u32> = self.fe_stats.keys().filter_map(Result::ok).filter(|id| !live(id)).collect();
        for id in &stats {
            ignore_not_found(self.fe_stats.remove(id)).map_err(LbError::map(map_names::FRONTEND_STATS))?;
        }
        let flows = self.forget_flows(|id| !live(&id))?;
        Ok(slots.len() + backends.len() + ranges.len() + stats.len() + flows)
    }

    /// Writes the slots of `table` that differ from `current` (all of them when unknown).
    fn write_slots(&mut self, frontend_id: u32, current: Option<&[u32]>, table: &[u32]) -> Result<usize, LbError> {
        let mut written = 0;
        for (slot, owner) in table.iter().enumerate() {
            if current.and_then(|c| c.get(slot)) == Some(owner) {
                continue;
            }
            let key = MaglevKey { frontend_id, slot: slot as u32 };
            self.maglev.insert(key, owner, 0).map_err(LbError::map(map_names::MAGLEV))?;
            written += 1;
        }
        Ok(written)
    }

    fn remove_slot(&mut self, frontend_id: u32, slot: u32) -> Result<(), LbError> {
        ignore_not_found(self.maglev.remove(&MaglevKey { frontend_id, slot })).map_err(LbError::map(map_names::MAGLEV))
    }

    fn remove_backend(&mut self, key: BackendKey) -> Result<(), LbError> {
        ignore_not_found(self.backends.remove(&key)).map_err(LbError::map(map_names::BACKENDS))?;
        ignore_not_found(self.be_stats.remove(&key)).map_err(LbError::map(map_names::BACKEND_STATS))
    }

    fn remove_range(&mut self, frontend_id: u32, net: &Ipv4Net) -> Result<(), LbError> {
        ignore_not_found(self.source_ranges.remove(&range_key(frontend_id, net)))
            .map_err(LbError::map(map_names::SOURCE_RANGES))
    }

    /// A new frontend or backend starts from zero even if a crashed agent left counters behind.
    fn frontend_stats_reset(&mut self, id: u32) -> Result<(), LbError> {
        let zeros = per_cpu_zeros::<FrontendStats>()?;
        self.fe_stats.insert(id, zeros, 0).map_err(LbError::map(map_names::FRONTEND_STATS))
    }

    fn backend_stats_reset(&mut self, key: BackendKey) -> Result<(), LbError> {
        let zeros = per_cpu_zeros::<BackendStats>()?;
        self.be_stats.insert(key, zeros, 0).map_err(LbError::map(map_names::BACKEND_STATS))
    }
}

/// Backends that may own slots: all of them, or only local ones under policy Local.
fn eligible(state: &FrontendState) -> impl Iterator<Item = (&std::net::SocketAddrV4, u32)> {
    let local_only = state.config.policy == TrafficPolicy::Local;
    state.backends.iter().filter(move |(_, (_, local))| !local_only || *local).map(|(addr, (id, _))| (addr, *id))
}

/// The Maglev table of `state` as backend ids.
fn table_ids(state: &FrontendState) -> Vec<u32> {
    let (addrs, ids): (Vec<_>, Vec<_>) = eligible(state).map(|(addr, id)| (*addr, id)).unzip();
    super::maglev::build_table(&addrs, state.config.maglev_size).into_iter().map(|i| ids[i]).collect()
}

fn range_key(frontend_id: u32, net: &Ipv4Net) -> Key<SourceRangeKey> {
    let addr = u32::from_ne_bytes(net.network().octets());
    Key::new(ID_BITS + u32::from(net.prefix_len()), SourceRangeKey { frontend_id, addr })
}

fn per_cpu_zeros<T: aya::Pod + Default + Clone>() -> Result<PerCpuValues<T>, LbError> {
    let cpus = aya::util::nr_cpus().map_err(|(path, e)| LbError::io(path, e))?;
    PerCpuValues::try_from(vec![T::default(); cpus]).map_err(|e| LbError::io("nr_cpus", e))
}

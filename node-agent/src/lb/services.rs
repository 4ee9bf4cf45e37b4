//! Reading and incrementally updating services in the maps. The maps are the only source of
//! truth: every call reads what the kernel holds, so a restarted agent continues where it left off.
use std::{collections::BTreeSet, io, time::Duration};

use aya::maps::{MapError, PerCpuValues};
use lb_common::{map_names, BackendKey, ServiceStats, ServiceValue, MAX_SERVICES, SERVICE_FLAG_AFFINITY};

use super::{
    maps::LbMaps,
    plan::plan_slots,
    types::{Backend, Frontend, ServiceCounters, ServiceEntry},
    LbError,
};

/// Kubernetes caps `sessionAffinityConfig.clientIP.timeoutSeconds` at one day.
const MAX_AFFINITY: Duration = Duration::from_secs(86_400);

impl LbMaps {
    pub(super) fn service(&self, frontend: &Frontend) -> Result<Option<ServiceValue>, LbError> {
        not_found_is_none(self.services.get(&frontend.to_key(), 0)).map_err(LbError::map(map_names::SERVICES))
    }

    /// The backends in slots `0..count`, in slot order.
    pub(super) fn backends_of(&self, svc: &ServiceValue) -> Result<Vec<Backend>, LbError> {
        (0..svc.backend_count)
            .map(|slot| {
                let ep = self
                    .backends
                    .get(&BackendKey { service_id: svc.id, slot }, 0)
                    .map_err(LbError::map(map_names::BACKENDS))?;
                Ok(Backend::from_endpoint(&ep))
            })
            .collect()
    }

    /// Creates or updates a service; `id` is only used when it is new.
    pub(super) fn upsert(
        &mut self,
        frontend: Frontend,
        backends: &[Backend],
        affinity: Option<Duration>,
        new_id: impl FnOnce() -> Result<u32, LbError>,
    ) -> Result<(), LbError> {
        let (flags, timeout) = affinity_fields(affinity)?;
        let desired: Vec<_> = dedup(backends).into_iter().map(Backend::to_endpoint).collect();
        let existing = self.service(&frontend)?;
        let (id, current) = match existing {
            Some(svc) => (svc.id, self.backends_of(&svc)?.into_iter().map(Backend::to_endpoint).collect()),
            None => {
                let id = new_id()?;
                self.reset_stats(id)?;
                (id, Vec::new())
            }
        };
        let plan = plan_slots(&current, &desired);
        for (slot, ep) in &plan.writes {
            self.backends
                .insert(BackendKey { service_id: id, slot: *slot }, ep, 0)
                .map_err(LbError::map(map_names::BACKENDS))?;
        }
        let value = ServiceValue { id, backend_count: plan.new_count, flags, affinity_timeout_secs: timeout };
        self.services.insert(frontend.to_key(), value, 0).map_err(LbError::map(map_names::SERVICES))?;
        for slot in plan.deletes {
            self.remove_backend_slot(id, slot)?;
        }
        Ok(())
    }

    /// Creates services that do not exist yet with three batched writes:
    /// counters, then backends, then the services that point at them (so a
    /// reader never meets a service whose slots are missing).
    pub(super) fn insert_new_batch(
        &mut self,
        items: &[(Frontend, Vec<Backend>, Option<Duration>, u32)],
    ) -> Result<(), LbError> {
        use aya::maps::IterableMap;
        use lb_common::{Endpoint, ServiceKey};
        use std::os::fd::AsFd;
        let cpus = aya::util::nr_cpus().map_err(|(path, e)| LbError::io(path, e))?;
        let mut stat_keys: Vec<u32> = Vec::with_capacity(items.len());
        let mut be_keys: Vec<BackendKey> = Vec::new();
        let mut be_vals: Vec<Endpoint> = Vec::new();
        let mut svc_keys: Vec<ServiceKey> = Vec::with_capacity(items.len());
        let mut svc_vals: Vec<ServiceValue> = Vec::with_capacity(items.len());
        for (frontend, backends, affinity, id) in items {
            let (flags, timeout) = affinity_fields(*affinity)?;
            let desired: Vec<Endpoint> = dedup(backends).into_iter().map(Backend::to_endpoint).collect();
            for (slot, ep) in desired.iter().enumerate() {
                be_keys.push(BackendKey { service_id: *id, slot: slot as u32 });
                be_vals.push(*ep);
            }
            stat_keys.push(*id);
            svc_keys.push(frontend.to_key());
            svc_vals.push(ServiceValue {
                id: *id,
                backend_count: desired.len() as u32,
                flags,
                affinity_timeout_secs: timeout,
            });
        }
        let stat_vals = vec![ServiceStats::default(); stat_keys.len() * cpus];
        let io = |name: &'static str| {
            move |e: io::Error| LbError::Map {
                name,
                source: MapError::SyscallError(aya::sys::SyscallError { call: "bpf_map_update_batch", io_error: e }),
            }
        };
        // Counters and backends go in on two threads: the kernel locks hash maps per bucket, so
        // the writes scale with the cores, and backends are nine tenths of the work.
        let (stats_fd, backends_fd) = (self.stats.map().fd().as_fd(), self.backends.map().fd().as_fd());
        let half = be_keys.len() / 2;
        let (first, second) = std::thread::scope(|scope| {
            let other = scope.spawn(|| {
                super::batch::update(
                    backends_fd,
                    super::batch::as_bytes(&be_keys[half..]),
                    super::batch::as_bytes(&be_vals[half..]),
                    be_keys.len() - half,
                )
            });
            let here = super::batch::update(
                stats_fd,
                super::batch::as_bytes(&stat_keys),
                super::batch::as_bytes(&stat_vals),
                stat_keys.len(),
            )
            .map_err(io(map_names::STATS))
            .and_then(|()| {
                super::batch::update(
                    backends_fd,
                    super::batch::as_bytes(&be_keys[..half]),
                    super::batch::as_bytes(&be_vals[..half]),
                    half,
                )
                .map_err(io(map_names::BACKENDS))
            });
            let there = other.join().unwrap_or_else(|_| Err(io::Error::other("backend writer thread panicked")));
            (here, there.map_err(io(map_names::BACKENDS)))
        });
        first?;
        second?;
        // Only now the services that point at those slots (see the function comment).
        super::batch::update(
            self.services.map().fd().as_fd(),
            super::batch::as_bytes(&svc_keys),
            super::batch::as_bytes(&svc_vals),
            svc_keys.len(),
        )
        .map_err(io(map_names::SERVICES))?;
        Ok(())
    }

    /// Removes a service: the frontend first (new connects stop matching), then its slots,
    /// counters and affinity entries. Returns the freed id, or `None` if it did not exist.
    pub(super) fn remove(&mut self, frontend: &Frontend) -> Result<Option<u32>, LbError> {
        let Some(svc) = self.service(frontend)? else {
            return Ok(None);
        };
        ignore_not_found(self.services.remove(&frontend.to_key())).map_err(LbError::map(map_names::SERVICES))?;
        for slot in 0..svc.backend_count {
            self.remove_backend_slot(svc.id, slot)?;
        }
        ignore_not_found(self.stats.remove(&svc.id)).map_err(LbError::map(map_names::STATS))?;
        self.forget_affinity(&BTreeSet::from([svc.id]))?;
        Ok(Some(svc.id))
    }

    pub(super) fn list(&self) -> Result<Vec<ServiceEntry>, LbError> {
        let mut entries = Vec::new();
        for item in self.services.iter() {
            let (key, svc) = item.map_err(LbError::map(map_names::SERVICES))?;
            let Some(frontend) = Frontend::from_key(&key) else { continue };
            let affinity = (svc.flags & SERVICE_FLAG_AFFINITY != 0)
                .then(|| Duration::from_secs(u64::from(svc.affinity_timeout_secs)));
            entries.push(ServiceEntry { frontend, backends: self.backends_of(&svc)?, affinity });
        }
        entries.sort_by_key(|e| e.frontend);
        Ok(entries)
    }

    pub(super) fn stats(&self) -> Result<Vec<(Frontend, ServiceCounters)>, LbError> {
        let mut out = Vec::new();
        for item in self.services.iter() {
            let (key, svc) = item.map_err(LbError::map(map_names::SERVICES))?;
            let Some(frontend) = Frontend::from_key(&key) else { continue };
            let per_cpu = not_found_is_none(self.stats.get(&svc.id, 0)).map_err(LbError::map(map_names::STATS))?;
            let counters = per_cpu.map(|v| sum(&v)).unwrap_or_default();
            out.push((frontend, counters));
        }
        out.sort_by_key(|(f, _)| *f);
        Ok(out)
    }

    /// Ids of all services, for id allocation.
    pub(super) fn service_ids(&self) -> Result<BTreeSet<u32>, LbError> {
        self.services
            .iter()
            .map(|item| item.map(|(_, svc)| svc.id).map_err(LbError::map(map_names::SERVICES)))
            .collect()
    }

    /// Deletes slots, counters and affinity entries whose service is gone or whose slot is past
    /// the count: leftovers of an agent that died in the middle of an update.
    pub(super) fn collect_garbage(&mut self, live: &BTreeSet<u32>) -> Result<usize, LbError> {
        let counts: std::collections::BTreeMap<u32, u32> = self
            .services
            .iter()
            .map(|item| item.map(|(_, svc)| (svc.id, svc.backend_count)))
            .collect::<Result<_, _>>()
            .map_err(LbError::map(map_names::SERVICES))?;
        let stale_slots: Vec<BackendKey> = self
            .backends
            .keys()
            .filter_map(Result::ok)
            .filter(|k| counts.get(&k.service_id).is_none_or(|count| k.slot >= *count))
            .collect();
        for key in &stale_slots {
            ignore_not_found(self.backends.remove(key)).map_err(LbError::map(map_names::BACKENDS))?;
        }
        let stale_stats: Vec<u32> = self.stats.keys().filter_map(Result::ok).filter(|id| !live.contains(id)).collect();
        for id in &stale_stats {
            ignore_not_found(self.stats.remove(id)).map_err(LbError::map(map_names::STATS))?;
        }
        let dead: BTreeSet<u32> =
            self.affinity.keys().filter_map(Result::ok).map(|k| k.service_id).filter(|id| !live.contains(id)).collect();
        self.forget_affinity(&dead)?;
        Ok(stale_slots.len() + stale_stats.len())
    }

    fn remove_backend_slot(&mut self, service_id: u32, slot: u32) -> Result<(), LbError> {
        ignore_not_found(self.backends.remove(&BackendKey { service_id, slot }))
            .map_err(LbError::map(map_names::BACKENDS))
    }

    /// A new service starts from zero even if a crashed agent left counters behind for its id.
    fn reset_stats(&mut self, id: u32) -> Result<(), LbError> {
        let cpus = aya::util::nr_cpus().map_err(|(path, e)| LbError::io(path, e))?;
        let zeros =
            PerCpuValues::try_from(vec![ServiceStats::default(); cpus]).map_err(|e| LbError::io("nr_cpus", e))?;
        self.stats.insert(id, zeros, 0).map_err(LbError::map(map_names::STATS))
    }

    fn forget_affinity(&mut self, ids: &BTreeSet<u32>) -> Result<(), LbError> {
        if ids.is_empty() {
            return Ok(());
        }
        let keys: Vec<_> =
            self.affinity.keys().filter_map(Result::ok).filter(|k| ids.contains(&k.service_id)).collect();
        for key in &keys {
            ignore_not_found(self.affinity.remove(key)).map_err(LbError::map(map_names::AFFINITY))?;
        }
        Ok(())
    }
}

/// Picks the next free id after `last`, wrapping: ids are not reused right away, so a program
/// still holding an old service value cannot read the slots of a brand-new service.
pub(super) fn next_free_id(used: &BTreeSet<u32>, last: u32) -> Result<u32, LbError> {
    if used.len() >= MAX_SERVICES as usize {
        return Err(LbError::TooManyServices(used.len()));
    }
    let mut candidate = last;
    loop {
        candidate = candidate.wrapping_add(1) % MAX_SERVICES;
        if !used.contains(&candidate) {
            return Ok(candidate);
        }
    }
}

fn affinity_fields(affinity: Option<Duration>) -> Result<(u32, u32), LbError> {
    let Some(timeout) = affinity else { return Ok((0, 0)) };
    if timeout.as_secs() == 0 || timeout > MAX_AFFINITY {
        return Err(LbError::Invalid(format!("affinity timeout {timeout:?} must be between 1 s and {MAX_AFFINITY:?}")));
    }
    // Bounded by MAX_AFFINITY above, so it fits in u32.
    Ok((SERVICE_FLAG_AFFINITY, timeout.as_secs() as u32))
}

/// Keeps the first occurrence of each backend: a duplicate would silently double its weight.
fn dedup(backends: &[Backend]) -> Vec<Backend> {
    let mut seen = BTreeSet::new();
    backends.iter().copied().filter(|b| seen.insert(*b)).collect()
}

fn sum(values: &PerCpuValues<ServiceStats>) -> ServiceCounters {
    values.iter().fold(ServiceCounters::default(), |acc, v| ServiceCounters {
        translated: acc.translated + v.translated,
        no_backend: acc.no_backend + v.no_backend,
    })
}

pub(super) fn not_found_is_none<T>(result: Result<T, MapError>) -> Result<Option<T>, MapError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(MapError::KeyNotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deleting a missing key fails with ENOENT; for idempotent removal that is success.
pub(super) fn ignore_not_found(result: Result<(), MapError>) -> Result<(), MapError> {
    match result {
        Err(MapError::SyscallError(e)) if e.io_error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_not_reused_immediately() {
        let used = BTreeSet::from([1, 2]);
        assert_eq!(next_free_id(&used, 0).ok(), Some(3));
        assert_eq!(next_free_id(&used, 5).ok(), Some(6));
        assert_eq!(next_free_id(&BTreeSet::new(), MAX_SERVICES - 1).ok(), Some(0));
    }

    #[test]
    fn affinity_timeout_is_validated() {
        assert!(affinity_fields(Some(Duration::ZERO)).is_err());
        assert!(affinity_fields(Some(Duration::from_secs(86_401))).is_err());
        assert_eq!(affinity_fields(Some(Duration::from_secs(10_800))).ok(), Some((SERVICE_FLAG_AFFINITY, 10_800)));
        assert_eq!(affinity_fields(None).ok(), Some((0, 0)));
    }
}

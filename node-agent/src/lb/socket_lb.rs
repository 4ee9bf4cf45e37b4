//! `SocketLb`: the handle the node agent keeps while it runs.
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    time::Duration,
};

use aya::{Ebpf, EbpfLoader};
use lb_common::SOCKET_MAPS_VERSION;

use super::{
    attach,
    maps::LbMaps,
    maps::PINNED_MAPS,
    object,
    pins::remove_pin,
    pins::PinLayout,
    preflight, services,
    types::{Backend, Frontend, ServiceCounters, ServiceEntry},
    LbError,
};

pub struct SocketLb {
    maps: LbMaps,
    pin_dir: PathBuf,
    used_ids: BTreeSet<u32>,
    last_id: u32,
    /// Loaded programs not yet put in place, and the cgroup they go to (see [`Self::activate`]).
    pending: Option<(Ebpf, PathBuf)>,
}

impl std::fmt::Debug for SocketLb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketLb").field("pin_dir", &self.pin_dir).field("services", &self.used_ids.len()).finish()
    }
}

impl SocketLb {
    /// Loads the programs, attaches them to `cgroup_dir` (a cgroup v2 directory; every process in
    /// it or below is load-balanced) and pins maps and links under `pin_dir` (on a bpffs).
    /// Whatever is already pinned there is re-used as is, services included, so calling this
    /// after a restart changes nothing for running traffic. Same as [`Self::prepare`] followed
    /// by [`Self::activate`].
    pub fn load(cgroup_dir: &Path, pin_dir: &Path) -> Result<Self, LbError> {
        let mut lb = Self::prepare(cgroup_dir, pin_dir)?;
        lb.activate()?;
        Ok(lb)
    }

    /// Loads the programs and opens (or creates) the maps of this build's layout, but leaves
    /// whatever programs are attached running. The caller fills the maps, then calls
    /// [`Self::activate`]: after an upgrade to a new map layout the new programs start on full
    /// maps, and the old ones translate until that moment.
    pub fn prepare(cgroup_dir: &Path, pin_dir: &Path) -> Result<Self, LbError> {
        preflight::check(cgroup_dir, pin_dir)?;
        let layout = PinLayout::versioned(pin_dir, SOCKET_MAPS_VERSION);
        layout.create_dirs().map_err(preflight::explain_load_failure)?;
        let mut loader = EbpfLoader::new();
        for name in PINNED_MAPS {
            loader.map_pin_path(name, layout.map(name));
        }
        let mut ebpf = loader.load(object::KEEL_LB).map_err(|e| preflight::explain_load_failure(LbError::Load(e)))?;
        attach::load_programs(&mut ebpf).map_err(preflight::explain_load_failure)?;
        let mut maps = LbMaps::take(&mut ebpf, &layout)?;
        let used_ids = maps.service_ids()?;
        maps.collect_garbage(&used_ids)?;
        let last_id = used_ids.last().copied().unwrap_or(0);
        let pending = Some((ebpf, cgroup_dir.to_path_buf()));
        Ok(Self { maps, pin_dir: pin_dir.to_path_buf(), used_ids, last_id, pending })
    }

    /// Puts the programs loaded by [`Self::prepare`] in place: each pinned link switches to them
    /// atomically (or is created), then pins of older map layouts are removed. Idempotent.
    /// Returns how many links were newly created (0 when an agent restarted over its own pins).
    pub fn activate(&mut self) -> Result<usize, LbError> {
        let Some((mut ebpf, cgroup_dir)) = self.pending.take() else { return Ok(0) };
        let layout = PinLayout::versioned(&self.pin_dir, SOCKET_MAPS_VERSION);
        let created = attach::activate(&mut ebpf, &cgroup_dir, &layout).map_err(preflight::explain_load_failure)?;
        // Programs stay alive through their pinned links; the object itself is no longer needed.
        drop(ebpf);
        layout.remove_other_versions()?;
        Ok(created)
    }

    /// Whether [`Self::activate`] still has to run.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Opens what a running agent pinned under `pin_dir`, attaching nothing: for reading the
    /// maps (`list`, `stats`) from another process such as `keel lb`.
    pub fn open_pinned(pin_dir: &Path) -> Result<Self, LbError> {
        let layout = PinLayout::versioned(pin_dir, SOCKET_MAPS_VERSION);
        if !pin_dir.exists() {
            return Err(LbError::Invalid(format!("nothing is pinned under {}", pin_dir.display())));
        }
        let maps = LbMaps::open_pinned(&layout)?;
        let used_ids = maps.service_ids()?;
        let last_id = used_ids.last().copied().unwrap_or(0);
        Ok(Self { maps, pin_dir: pin_dir.to_path_buf(), used_ids, last_id, pending: None })
    }

    /// Sets the complete backend list (and affinity) of one frontend, creating it if needed.
    /// Only that service's slots change; see `plan.rs` for the order that keeps readers safe.
    /// An empty `backends` keeps the frontend and makes connects to it fail with EPERM.
    pub fn set_service(
        &mut self,
        frontend: Frontend,
        backends: &[Backend],
        affinity: Option<Duration>,
    ) -> Result<(), LbError> {
        let (used, last) = (&self.used_ids, self.last_id);
        let mut allocated = None;
        self.maps.upsert(frontend, backends, affinity, || {
            let id = services::next_free_id(used, last)?;
            allocated = Some(id);
            Ok(id)
        })?;
        if let Some(id) = allocated {
            self.used_ids.insert(id);
            self.last_id = id;
        }
        Ok(())
    }

    /// Sets many services at once: those the maps do not hold yet are written in a few batched
    /// syscalls (the cost of programming thousands of services from scratch), the others one by
    /// one as [`set_service`](Self::set_service) does.
    pub fn set_services(&mut self, items: &[(Frontend, Vec<Backend>, Option<Duration>)]) -> Result<(), LbError> {
        let mut fresh = Vec::new();
        // Empty maps (a first start): nothing to look up.
        let empty = self.used_ids.is_empty();
        for (frontend, backends, affinity) in items {
            if !empty && self.maps.service(frontend)?.is_some() {
                self.set_service(*frontend, backends, *affinity)?;
                continue;
            }
            let id = services::next_free_id(&self.used_ids, self.last_id)?;
            self.used_ids.insert(id);
            self.last_id = id;
            fresh.push((*frontend, backends.clone(), *affinity, id));
        }
        self.maps.insert_new_batch(&fresh)
    }

    /// Removes a frontend; connects to it are no longer translated. Returns whether it existed.
    pub fn remove_service(&mut self, frontend: &Frontend) -> Result<bool, LbError> {
        let removed = self.maps.remove(frontend)?;
        if let Some(id) = removed {
            self.used_ids.remove(&id);
        }
        Ok(removed.is_some())
    }

    /// All services as the kernel maps hold them, sorted by frontend.
    pub fn list(&self) -> Result<Vec<ServiceEntry>, LbError> {
        self.maps.list()
    }

    /// Per-service counters summed over CPUs, sorted by frontend.
    pub fn stats(&self) -> Result<Vec<(Frontend, ServiceCounters)>, LbError> {
        self.maps.stats()
    }

    pub fn pin_dir(&self) -> &Path {
        &self.pin_dir
    }

    /// Detaches the programs and removes every pin under `pin_dir` (idempotent). Services are lost;
    /// sockets that were already connected keep their backend. Works without a loaded `SocketLb`,
    /// e.g. from a cleanup command; a live `SocketLb` for this directory must not be used afterwards.
    pub fn unload(pin_dir: &Path) -> Result<(), LbError> {
        let layout = PinLayout::versioned(pin_dir, SOCKET_MAPS_VERSION);
        attach::detach_all(&layout)?;
        layout.remove_other_versions()?;
        for name in PINNED_MAPS {
            remove_pin(&layout.map(name))?;
        }
        layout.remove_dirs()
    }
}

//! `ExternalLb`: the handle the node agent keeps for one external interface.
use std::{
    collections::{BTreeMap, BTreeSet},
    ffi::CString,
    net::{Ipv4Addr, SocketAddrV4},
    path::{Path, PathBuf},
};

use aya::{
    maps::{Array, MapData},
    Ebpf, EbpfLoader,
};
use lb_common::external::{map_names, BackendKey, Config, MAX_FRONTENDS, MAX_MAGLEV_ENTRIES, MAX_MAGLEV_SIZE};

use super::{
    attach,
    maglev::is_prime,
    maps::{ExtMaps, PINNED_MAPS},
    state::FrontendState,
    types::{ExternalBackend, ExternalCounters, ExternalFrontendConfig, ExternalFrontendEntry, TrafficCounters},
};
use crate::lb::{
    object,
    pins::{remove_pin, PinLayout},
    preflight,
    services::not_found_is_none,
    Frontend, LbError,
};

/// SNAT source ports: above Linux's default ephemeral range (32768-60999), so they do not collide
/// with the node's own connections, and far from the NodePort range (30000-32767).
pub const SNAT_PORTS: (u16, u16) = (61_000, 65_535);

pub struct ExternalLb {
    maps: ExtMaps,
    pin_dir: PathBuf,
    frontends: BTreeMap<Frontend, FrontendState>,
    last_id: u32,
}

impl std::fmt::Debug for ExternalLb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalLb").field("pin_dir", &self.pin_dir).field("frontends", &self.frontends.len()).finish()
    }
}

impl ExternalLb {
    /// Loads the TC programs and attaches them (TCX, ingress and egress) to `iface` in the calling
    /// thread's network namespace; maps and links are pinned under `pin_dir` (its own directory on
    /// a bpffs, not the socket LB's). Whatever is pinned there is re-used, frontends and tracked
    /// flows included, so calling this after a restart changes nothing for running traffic.
    /// `node_ip` is the SNAT source for remote backends.
    pub fn attach(iface: &str, node_ip: Ipv4Addr, pin_dir: &Path) -> Result<Self, LbError> {
        preflight::check_tc(pin_dir)?;
        check_interface(iface)?;
        let layout = PinLayout::new(pin_dir);
        layout.create_dirs().map_err(preflight::explain_load_failure)?;
        let mut loader = EbpfLoader::new();
        for name in PINNED_MAPS {
            loader.map_pin_path(name, layout.map(name));
        }
        let mut ebpf =
            loader.load(object::KEEL_EXT_LB).map_err(|e| preflight::explain_load_failure(LbError::Load(e)))?;
        write_config(&mut ebpf, node_ip)?;
        attach::activate(&mut ebpf, iface, &layout).map_err(preflight::explain_load_failure)?;
        // Taken only now: the programs must be loaded while the object still holds the map fds.
        let maps = ExtMaps::take(&mut ebpf, &layout)?;
        // Programs stay alive through their pinned links; the object itself is no longer needed.
        drop(ebpf);
        Self::from_maps(maps, pin_dir, true)
    }

    /// Opens what a running agent pinned under `pin_dir`, attaching nothing: for `list`/`stats`
    /// from another process.
    pub fn open_pinned(pin_dir: &Path) -> Result<Self, LbError> {
        if !pin_dir.exists() {
            return Err(LbError::Invalid(format!("nothing is pinned under {}", pin_dir.display())));
        }
        Self::from_maps(ExtMaps::open_pinned(&PinLayout::new(pin_dir))?, pin_dir, false)
    }

    fn from_maps(mut maps: ExtMaps, pin_dir: &Path, collect_garbage: bool) -> Result<Self, LbError> {
        let frontends = maps.read_state()?;
        if collect_garbage {
            let populated = frontends.values().map(|s| (s.id, s.populated)).collect();
            maps.collect_garbage(&populated)?;
        }
        let last_id = frontends.values().map(|s| s.id).max().unwrap_or(0);
        Ok(Self { maps, pin_dir: pin_dir.to_path_buf(), frontends, last_id })
    }

    /// Sets the complete backend list and settings of one frontend (node IP, externalIP or
    /// LoadBalancer IP with port and protocol), creating it if needed. Only this frontend's entries
    /// change, and of its Maglev table only the slots whose owner changed. Flows already tracked
    /// keep their backend. Returns how many Maglev slots were written.
    pub fn set_frontend(
        &mut self,
        frontend: Frontend,
        backends: &[ExternalBackend],
        config: &ExternalFrontendConfig,
    ) -> Result<usize, LbError> {
        let config = normalized(config);
        let old = self.frontends.get(&frontend);
        let mut new = match old {
            Some(old) => FrontendState { config: config.clone(), backends: BTreeMap::new(), ..old.clone() },
            None => FrontendState {
                id: self.next_free_id()?,
                config: config.clone(),
                backends: BTreeMap::new(),
                next_backend_id: 0,
                table: None,
                populated: 0,
            },
        };
        for b in backends {
            if new.backends.contains_key(&b.addr) {
                continue; // a duplicate would otherwise silently flip the first one's locality
            }
            let id = match old.and_then(|o| o.backends.get(&b.addr)) {
                Some((id, _)) => *id,
                None => {
                    new.next_backend_id += 1;
                    new.next_backend_id - 1
                }
            };
            new.backends.insert(b.addr, (id, b.local));
        }
        self.validate(&frontend, &new)?;
        let written = self.maps.write_frontend(&frontend, old, &mut new)?;
        if old.is_none() {
            self.last_id = new.id;
        }
        self.frontends.insert(frontend, new);
        Ok(written)
    }

    /// Removes a frontend and its tracked flows. Returns whether it existed.
    pub fn remove_frontend(&mut self, frontend: &Frontend) -> Result<bool, LbError> {
        let Some(state) = self.frontends.get(frontend) else { return Ok(false) };
        self.maps.remove_frontend(frontend, state)?;
        self.frontends.remove(frontend);
        Ok(true)
    }

    /// All frontends, sorted.
    pub fn list(&self) -> Vec<ExternalFrontendEntry> {
        self.frontends
            .iter()
            .map(|(frontend, s)| ExternalFrontendEntry {
                frontend: *frontend,
                backends: s.external_backends(),
                config: s.config.clone(),
            })
            .collect()
    }

    /// Counters per frontend (and per backend), summed over CPUs, sorted by frontend.
    pub fn stats(&self) -> Result<Vec<(Frontend, ExternalCounters)>, LbError> {
        let mut out = Vec::new();
        for (frontend, s) in &self.frontends {
            let mut counters = ExternalCounters::default();
            let fe =
                not_found_is_none(self.maps.fe_stats.get(&s.id, 0)).map_err(LbError::map(map_names::FRONTEND_STATS))?;
            for cpu in fe.iter().flat_map(|v| v.iter()) {
                counters.forwarded.packets += cpu.packets;
                counters.forwarded.bytes += cpu.bytes;
                counters.no_backend += cpu.no_backend;
                counters.denied += cpu.denied;
                counters.snat_exhausted += cpu.snat_exhausted;
            }
            for (addr, (id, local)) in &s.backends {
                let key = BackendKey { frontend_id: s.id, backend_id: *id };
                let be = not_found_is_none(self.maps.be_stats.get(&key, 0))
                    .map_err(LbError::map(map_names::BACKEND_STATS))?;
                let sum = be.iter().flat_map(|v| v.iter()).fold(TrafficCounters::default(), |acc, v| TrafficCounters {
                    packets: acc.packets + v.packets,
                    bytes: acc.bytes + v.bytes,
                });
                counters.backends.push((ExternalBackend { addr: *addr, local: *local }, sum));
            }
            out.push((*frontend, counters));
        }
        Ok(out)
    }

    /// Tracked flows: (client, frontend, backend), in no particular order.
    pub fn flows(&self) -> Result<Vec<(SocketAddrV4, SocketAddrV4, SocketAddrV4)>, LbError> {
        let to_addr = |addr: u32, port: u16| SocketAddrV4::new(Ipv4Addr::from(addr.to_ne_bytes()), u16::from_be(port));
        self.maps
            .ct
            .iter()
            .map(|item| {
                let (key, ct) = item.map_err(LbError::map(map_names::CT))?;
                Ok((
                    to_addr(key.saddr, key.sport),
                    to_addr(key.daddr, key.dport),
                    to_addr(ct.backend.addr, ct.backend.port),
                ))
            })
            .collect()
    }

    /// Forgets every tracked flow: their next packets are balanced again by the current Maglev
    /// tables (for operators, and for tests of the tables themselves). Returns how many.
    pub fn forget_flows(&mut self) -> Result<usize, LbError> {
        self.maps.forget_flows(|_| true)
    }

    pub fn pin_dir(&self) -> &Path {
        &self.pin_dir
    }

    /// Detaches the programs and removes every pin under `pin_dir` (idempotent). Works without a
    /// live `ExternalLb`; one for this directory must not be used afterwards. Tracked flows die.
    pub fn detach(pin_dir: &Path) -> Result<(), LbError> {
        let layout = PinLayout::new(pin_dir);
        attach::detach_all(&layout)?;
        for name in PINNED_MAPS {
            remove_pin(&layout.map(name))?;
        }
        layout.remove_dirs()
    }

    fn validate(&self, frontend: &Frontend, new: &FrontendState) -> Result<(), LbError> {
        frontend.v4()?;
        let m = new.config.maglev_size;
        if !is_prime(m) || m > MAX_MAGLEV_SIZE {
            return Err(LbError::Invalid(format!("Maglev table size {m} must be a prime <= {MAX_MAGLEV_SIZE}")));
        }
        if new.backends.len() > m as usize {
            return Err(LbError::Invalid(format!("{} backends do not fit a Maglev table of {m}", new.backends.len())));
        }
        let others: u64 =
            self.frontends.iter().filter(|(f, _)| *f != frontend).map(|(_, s)| u64::from(s.populated)).sum();
        if others + u64::from(m) > u64::from(MAX_MAGLEV_ENTRIES) {
            return Err(LbError::Invalid(format!(
                "Maglev tables would need {} slots; the map holds {MAX_MAGLEV_ENTRIES}",
                others + u64::from(m)
            )));
        }
        Ok(())
    }

    /// The next free id after the last one handed out, wrapping: not reused right away, so a
    /// program still holding an old frontend value cannot read a new frontend's table.
    fn next_free_id(&self) -> Result<u32, LbError> {
        let used: BTreeSet<u32> = self.frontends.values().map(|s| s.id).collect();
        if used.len() >= MAX_FRONTENDS as usize {
            return Err(LbError::TooManyServices(used.len()));
        }
        let mut candidate = self.last_id;
        loop {
            candidate = candidate.wrapping_add(1) % MAX_FRONTENDS;
            if !used.contains(&candidate) {
                return Ok(candidate);
            }
        }
    }
}

/// Source ranges with host bits cleared, sorted and deduplicated, so equal configs compare equal.
fn normalized(config: &ExternalFrontendConfig) -> ExternalFrontendConfig {
    let ranges: BTreeSet<_> = config.source_ranges.iter().map(|n| n.trunc()).collect();
    ExternalFrontendConfig { source_ranges: ranges.into_iter().collect(), ..config.clone() }
}

/// The config must be in place before the first packet reaches the programs.
fn write_config(ebpf: &mut Ebpf, node_ip: Ipv4Addr) -> Result<(), LbError> {
    let name = map_names::CONFIG;
    let map = ebpf.map_mut(name).ok_or_else(|| LbError::Invalid(format!("object has no map {name}")))?;
    let mut config: Array<&mut MapData, Config> = Array::try_from(map).map_err(LbError::map(name))?;
    let value = Config {
        node_ip: u32::from_ne_bytes(node_ip.octets()),
        snat_port_min: SNAT_PORTS.0,
        snat_port_max: SNAT_PORTS.1,
    };
    config.set(0, value, 0).map_err(LbError::map(name))
}

/// aya would only say "no such device" from deep inside the attach; name the interface instead.
fn check_interface(iface: &str) -> Result<(), LbError> {
    let name = CString::new(iface).map_err(|_| LbError::Invalid(format!("interface name {iface:?} has a NUL byte")))?;
    // SAFETY: a valid NUL-terminated string; the call has no other preconditions.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => Err(LbError::NoInterface { name: iface.to_string() }),
        _ => Ok(()),
    }
}

//! The user-space mirror of one frontend's map contents, and its reconstruction from the maps
//! after an agent restart (the maps stay the source of truth; the mirror saves re-reading them).
use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddrV4},
};

use ipnet::Ipv4Net;
use lb_common::external::{map_names, FRONTEND_FLAG_LOCAL};

use super::{
    maps::ExtMaps,
    types::{ExternalBackend, ExternalFrontendConfig, TrafficPolicy},
};
use crate::lb::{Frontend, LbError};

/// Prefix bits of a source-range key taken by the frontend id.
pub(super) const ID_BITS: u32 = 32;

#[derive(Clone, Debug)]
pub(super) struct FrontendState {
    pub(super) id: u32,
    pub(super) config: ExternalFrontendConfig,
    /// Backend address -> (backend id, local).
    pub(super) backends: BTreeMap<SocketAddrV4, (u32, bool)>,
    /// Backend ids are never reused within a frontend, so a CT entry's id always names one backend.
    pub(super) next_backend_id: u32,
    /// Slot owners as last written; `None` after a restart, which makes the next update write
    /// every slot instead of only the changed ones.
    pub(super) table: Option<Vec<u32>>,
    /// Slots `0..populated` exist in the Maglev map (M, or 0 when the frontend has no backend).
    pub(super) populated: u32,
}

impl FrontendState {
    pub(super) fn external_backends(&self) -> Vec<ExternalBackend> {
        self.backends.iter().map(|(addr, (_, local))| ExternalBackend { addr: *addr, local: *local }).collect()
    }
}

impl ExtMaps {
    /// Rebuilds every frontend's mirror from the maps.
    pub(super) fn read_state(&self) -> Result<BTreeMap<Frontend, FrontendState>, LbError> {
        let mut by_id = BTreeMap::new();
        for item in self.frontends.iter() {
            let (key, value) = item.map_err(LbError::map(map_names::FRONTENDS))?;
            let Some(frontend) = Frontend::from_external_key(&key) else { continue };
            let policy =
                if value.flags & FRONTEND_FLAG_LOCAL != 0 { TrafficPolicy::Local } else { TrafficPolicy::Cluster };
            let state = FrontendState {
                id: value.id,
                config: ExternalFrontendConfig { policy, source_ranges: Vec::new(), maglev_size: value.maglev_size },
                backends: BTreeMap::new(),
                next_backend_id: 0,
                table: None,
                populated: if value.backend_count > 0 { value.maglev_size } else { 0 },
            };
            by_id.insert(value.id, (frontend, state));
        }
        for item in self.backends.iter() {
            let (key, value) = item.map_err(LbError::map(map_names::BACKENDS))?;
            if let Some((_, state)) = by_id.get_mut(&key.frontend_id) {
                let addr = SocketAddrV4::new(
                    Ipv4Addr::from(value.backend.addr.to_ne_bytes()),
                    u16::from_be(value.backend.port),
                );
                let local = value.flags & lb_common::external::BACKEND_FLAG_LOCAL != 0;
                state.backends.insert(addr, (key.backend_id, local));
                state.next_backend_id = state.next_backend_id.max(key.backend_id.saturating_add(1));
            }
        }
        for key in self.source_ranges.keys() {
            let key = key.map_err(LbError::map(map_names::SOURCE_RANGES))?;
            let data = key.data();
            if let Some((_, state)) = by_id.get_mut(&data.frontend_id) {
                let prefix = key.prefix_len().saturating_sub(ID_BITS) as u8;
                let net = Ipv4Net::new(Ipv4Addr::from(data.addr.to_ne_bytes()), prefix)
                    .map_err(|e| LbError::Invalid(format!("pinned source range: {e}")))?;
                state.config.source_ranges.push(net);
            }
        }
        Ok(by_id
            .into_values()
            .map(|(frontend, mut state)| {
                state.config.source_ranges.sort();
                (frontend, state)
            })
            .collect())
    }
}

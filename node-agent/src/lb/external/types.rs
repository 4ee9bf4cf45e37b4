//! Public value types of the external load balancer.
use std::net::SocketAddrV4;

use ipnet::Ipv4Net;

use super::maglev::DEFAULT_TABLE_SIZE;
use crate::lb::Frontend;

/// A backend of an external frontend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExternalBackend {
    pub addr: SocketAddrV4,
    /// A pod on this node's bridge: only DNAT, the client's address is kept. Otherwise the packet
    /// is also SNATed to the node so the reply comes back through it.
    pub local: bool,
}

/// Kubernetes' `externalTrafficPolicy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TrafficPolicy {
    /// Any backend; remote ones are reached with SNAT to this node.
    #[default]
    Cluster,
    /// Only local backends, no SNAT (the client IP is preserved); without one, packets are dropped.
    Local,
}

/// Per-frontend settings besides its backends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalFrontendConfig {
    pub policy: TrafficPolicy,
    /// `loadBalancerSourceRanges`: empty allows every source.
    pub source_ranges: Vec<Ipv4Net>,
    /// Maglev table size M: a prime, at least the number of backends (ideally 100x).
    pub maglev_size: u32,
}

impl Default for ExternalFrontendConfig {
    fn default() -> Self {
        Self { policy: TrafficPolicy::Cluster, source_ranges: Vec::new(), maglev_size: DEFAULT_TABLE_SIZE }
    }
}

/// A frontend as currently held by the maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalFrontendEntry {
    pub frontend: Frontend,
    /// Sorted by address.
    pub backends: Vec<ExternalBackend>,
    /// Source ranges sorted, host bits cleared.
    pub config: ExternalFrontendConfig,
}

impl ExternalFrontendEntry {
    /// What a `healthCheckNodePort` would report for this node: the number of local backends.
    pub fn local_backends(&self) -> usize {
        self.backends.iter().filter(|b| b.local).count()
    }

    pub fn has_local_backends(&self) -> bool {
        self.local_backends() > 0
    }
}

/// Client -> backend packets and bytes, summed over CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficCounters {
    pub packets: u64,
    pub bytes: u64,
}

/// Counters of one frontend since it was created.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExternalCounters {
    pub forwarded: TrafficCounters,
    /// Dropped: no (local) backend.
    pub no_backend: u64,
    /// Dropped by `loadBalancerSourceRanges`.
    pub denied: u64,
    /// Dropped: no free SNAT port towards the chosen backend.
    pub snat_exhausted: u64,
    /// Per backend, sorted by address.
    pub backends: Vec<(ExternalBackend, TrafficCounters)>,
}

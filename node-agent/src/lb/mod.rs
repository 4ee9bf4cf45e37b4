//! Socket-level Service load balancing (the kube-proxy role), in the style of a socket LB:
//! cgroup `sock_addr` programs rewrite connect()/sendmsg() from a Service frontend to a backend,
//! so no packet ever carries the ClusterIP.
//!
//! State lives only in pinned BPF maps under the pin directory; the programs stay attached through
//! pinned links, so traffic keeps flowing while the agent restarts. [`SocketLb::load`] re-opens
//! whatever is pinned.
//!
//! [`ExternalLb`] is the per-packet path for traffic from outside the cluster (NodePort,
//! externalIPs, LoadBalancer IPs): TC programs on the node's external interface with Maglev
//! backend selection, connection tracking, DNAT/SNAT and reverse NAT. See `external/mod.rs`.
mod attach;
mod batch;
mod error;
mod external;
mod links;
mod maps;
mod object;
mod pins;
mod plan;
mod preflight;
mod services;
mod socket_lb;
mod types;

pub use error::LbError;
pub use external::{
    ExternalBackend, ExternalCounters, ExternalFrontendConfig, ExternalFrontendEntry, ExternalLb, TrafficCounters,
    TrafficPolicy, DEFAULT_MAGLEV_SIZE, SNAT_PORTS,
};
pub use socket_lb::SocketLb;
pub use types::{Backend, Frontend, Protocol, ServiceCounters, ServiceEntry};

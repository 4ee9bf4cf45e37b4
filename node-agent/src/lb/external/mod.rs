//! External load balancing: TC programs (`keel-ext-lb`) on the node's external interface.
//!
//! - ingress: a new TCP/UDP flow to a frontend (node IP, externalIP or LoadBalancer IP : port)
//!   passes loadBalancerSourceRanges, picks a backend by Maglev hashing of its 5-tuple and gets a
//!   connection-tracking entry (LRU), so later packets keep that backend whatever the table does.
//!   Local backends: DNAT, and the kernel routes the packet to the pod bridge (client IP kept).
//!   Remote backends: DNAT + SNAT to the node IP with a port from [`SNAT_PORTS`], redirected out
//!   with `bpf_fib_lookup` + `bpf_redirect_neigh`. Replies of remote backends come back to the
//!   node's SNAT port and are translated back and redirected to the client here too.
//! - egress: replies of local backends leaving towards the client get the frontend as source.
//!
//! Maps and links are pinned under the caller's pin directory (its own, not the socket LB's), so
//! frontends and tracked flows survive an agent restart.
mod attach;
mod external_lb;
mod maglev;
mod maps;
mod state;
mod types;
mod update;

pub use external_lb::{ExternalLb, SNAT_PORTS};
pub use maglev::DEFAULT_TABLE_SIZE as DEFAULT_MAGLEV_SIZE;
pub use types::{
    ExternalBackend, ExternalCounters, ExternalFrontendConfig, ExternalFrontendEntry, TrafficCounters, TrafficPolicy,
};

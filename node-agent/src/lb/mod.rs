//! Socket-level Service load balancing (the kube-proxy role), in the style of a socket LB:
//! cgroup `sock_addr` programs rewrite connect()/sendmsg() from a Service frontend to a backend,
//! so no packet ever carries the ClusterIP.
//!
//! State lives only in pinned BPF maps under the pin directory; the programs stay attached through
//! pinned links, so traffic keeps flowing while the agent restarts. [`SocketLb::load`] re-opens
//! whatever is pinned.
mod attach;
mod error;
mod maps;
mod object;
mod pins;
mod plan;
mod preflight;
mod services;
mod socket_lb;
mod types;

pub use error::LbError;
pub use socket_lb::SocketLb;
pub use types::{Backend, Frontend, Protocol, ServiceCounters, ServiceEntry};

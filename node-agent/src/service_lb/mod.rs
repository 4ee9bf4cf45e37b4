//! The kube-proxy role: Services and EndpointSlices from the API turned
//! into load-balancer entries (`model`) and kept in the node's eBPF maps
//! (`sync`), which `start` loads and pins.

pub mod announce;
mod health;
pub mod metrics;
pub mod model;
mod start;
mod sync;

pub use start::{
    external_interface, external_pin_dir, node_dir, pin_dir, start, start_external, stop, StartError, BPFFS,
};
pub use sync::{run, Dataplane};

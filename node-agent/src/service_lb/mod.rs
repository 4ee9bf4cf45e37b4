//! The kube-proxy role: Services and EndpointSlices from the API turned
//! into load-balancer entries (`model`) and kept in the node's eBPF maps
//! (`sync`), which `start` loads and pins.

pub mod model;
mod start;
mod sync;

pub use start::{pin_dir, start, stop, StartError, BPFFS};
pub use sync::run;

//! The kube-proxy role: Services and EndpointSlices from the API turned
//! into load-balancer entries for the node's eBPF dataplane.

pub mod model;

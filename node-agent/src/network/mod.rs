//! Pod networking for a Keel node: a node bridge, one netns + veth pair per pod with an address
//! from the node's pod CIDR, host-gw routes to the other nodes' pod CIDRs, and an unreachable
//! route for the Service CIDR. All through netlink, in the netns of the thread calling
//! [`NodeNetwork::setup`] (the "node netns").

mod bridge;
mod error;
mod ipam;
mod mounts;
mod mtu;
mod naming;
mod netns;
mod node;
mod pod_side;
mod routes;
mod rtnl;
mod state;
mod sysctl;
mod veth;

#[cfg(test)]
mod tests;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

pub use error::NetworkError;
pub use netns::in_netns;
pub use node::NodeNetwork;
pub use routes::KEEL_ROUTE_PROTOCOL;
pub use veth::POD_INTERFACE;

/// What a node's pod network looks like.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// E.g. `<agent data dir>/network`: IPAM leases (`ipam/<ip>`), pod records (`pods/<key>.json`)
    /// and netns bind-mount files (`netns/<pod_key>`) live here.
    pub state_dir: PathBuf,
    /// This node's pod CIDR, e.g. 10.244.1.0/24; its first host address is the gateway.
    pub pod_cidr: Ipv4Net,
    /// All pods of the cluster, e.g. 10.244.0.0/16.
    pub cluster_cidr: Ipv4Net,
    /// Service virtual IPs, e.g. 10.96.0.0/12: unreachable from this node unless translated.
    pub service_cidr: Ipv4Net,
    /// Node bridge, e.g. "keel0".
    pub bridge_name: String,
    /// None = MTU of the interface holding the default route (else the lowest non-loopback MTU,
    /// else 1500).
    pub mtu: Option<u32>,
    /// The IPv6 half of a dual-stack node; None on a single-stack IPv4 node.
    pub ipv6: Option<Ipv6Config>,
}

/// IPv6 pod networking of a dual-stack node. A pod's IPv6 address carries the same host number
/// as its IPv4 one (10.244.1.7 -> fd00:10:244:1::7), so the IPv4 leases are the only IPAM state.
#[derive(Clone, Debug)]
pub struct Ipv6Config {
    /// This node's IPv6 pod CIDR, e.g. fd00:10:244:1::/64; its first host address is the gateway.
    pub pod_cidr: Ipv6Net,
    /// IPv6 Service virtual IPs: unreachable from this node unless translated.
    pub service_cidr: Option<Ipv6Net>,
}

/// A pod's network attachment, as persisted and returned by [`NodeNetwork::add_pod`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PodNetwork {
    pub pod_key: String,
    /// Bind-mounted netns file: setns() into it to run the pod's processes.
    pub netns_path: PathBuf,
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
    /// The pod's IPv6 address on a dual-stack node (records written before dual-stack have none).
    #[serde(default)]
    pub ip6: Option<Ipv6Addr>,
    /// Node-side veth name (the pod side is [`POD_INTERFACE`]).
    pub host_veth: String,
    pub mtu: u32,
}

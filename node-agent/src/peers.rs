//! host-gw routing: a route to every other node's podCIDR via its
//! InternalIP, kept in step with the Node objects.

use crate::network::NodeNetwork;
use futures::StreamExt;
use ipnet::{Ipv4Net, Ipv6Net};
use k8s_openapi::api::core::v1::Node;
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::Api;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// The routes to every node but this one: (IPv4 podCIDR, IPv4 InternalIP), and on dual-stack
/// nodes (IPv6 podCIDR, IPv6 InternalIP).
#[derive(Debug, Default, PartialEq, Eq)]
struct Peers {
    v4: Vec<(Ipv4Net, Ipv4Addr)>,
    v6: Vec<(Ipv6Net, Ipv6Addr)>,
}

fn peers(nodes: &[Arc<Node>], me: &str) -> Peers {
    let mut out = Peers::default();
    for n in nodes.iter().filter(|n| n.metadata.name.as_deref() != Some(me)) {
        let Some(spec) = n.spec.as_ref() else { continue };
        let cidrs: Vec<&String> = spec.pod_cidrs.iter().flatten().chain(spec.pod_cidr.iter()).collect();
        let ips: Vec<IpAddr> = n
            .status
            .iter()
            .flat_map(|s| s.addresses.iter().flatten())
            .filter(|a| a.type_ == "InternalIP")
            .filter_map(|a| a.address.parse().ok())
            .collect();
        let ip4 = ips.iter().find_map(|ip| if let IpAddr::V4(v4) = ip { Some(*v4) } else { None });
        let ip6 = ips.iter().find_map(|ip| if let IpAddr::V6(v6) = ip { Some(*v6) } else { None });
        if let (Some(cidr), Some(ip)) = (cidrs.iter().find_map(|c| c.parse::<Ipv4Net>().ok()), ip4) {
            out.v4.push((cidr, ip));
        }
        if let (Some(cidr), Some(ip)) = (cidrs.iter().find_map(|c| c.parse::<Ipv6Net>().ok()), ip6) {
            out.v6.push((cidr, ip));
        }
    }
    out.v4.sort();
    out.v4.dedup();
    out.v6.sort();
    out.v6.dedup();
    out
}

/// Keep the routes right until the agent stops.
pub async fn run(client: kube::Client, network: Arc<NodeNetwork>, me: String) {
    let (reader, writer) = reflector::store::<Node>();
    let stream = reflector(writer, watcher(Api::<Node>::all(client), watcher::Config::default())).default_backoff();
    futures::pin_mut!(stream);
    let mut applied: Option<Peers> = None;
    while let Some(event) = stream.next().await {
        match event {
            // A (re)list fills the store only at InitDone: act then, not on
            // each listed object, or the routes would follow an empty store.
            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "node watch");
                continue;
            }
        }
        let wanted = peers(&reader.state(), &me);
        if applied.as_ref() == Some(&wanted) {
            continue;
        }
        let result = match network.set_peer_routes(&wanted.v4).await {
            Ok(()) => network.set_peer_routes6(&wanted.v6).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => applied = Some(wanted),
            Err(e) => tracing::warn!(error = %e, "setting routes to other nodes"),
        }
    }
}

//! host-gw routing: a route to every other node's podCIDR via its
//! InternalIP, kept in step with the Node objects.

use crate::network::NodeNetwork;
use futures::StreamExt;
use ipnet::Ipv4Net;
use k8s_openapi::api::core::v1::Node;
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::Api;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// The (podCIDR, node IP) pairs of every node but this one.
fn peers(nodes: &[Arc<Node>], me: &str) -> Vec<(Ipv4Net, Ipv4Addr)> {
    let mut out: Vec<(Ipv4Net, Ipv4Addr)> = nodes
        .iter()
        .filter(|n| n.metadata.name.as_deref() != Some(me))
        .filter_map(|n| {
            let cidr: Ipv4Net = n.spec.as_ref()?.pod_cidr.as_ref()?.parse().ok()?;
            let ip = n
                .status
                .as_ref()?
                .addresses
                .as_ref()?
                .iter()
                .find(|a| a.type_ == "InternalIP")
                .and_then(|a| a.address.parse::<Ipv4Addr>().ok())?;
            Some((cidr, ip))
        })
        .collect();
    out.sort();
    out
}

/// Keep the routes right until the agent stops.
pub async fn run(client: kube::Client, network: Arc<NodeNetwork>, me: String) {
    let (reader, writer) = reflector::store::<Node>();
    let stream = reflector(writer, watcher(Api::<Node>::all(client), watcher::Config::default())).default_backoff();
    futures::pin_mut!(stream);
    let mut applied: Option<Vec<(Ipv4Net, Ipv4Addr)>> = None;
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
        match network.set_peer_routes(&wanted).await {
            Ok(()) => applied = Some(wanted),
            Err(e) => tracing::warn!(error = %e, "setting routes to other nodes"),
        }
    }
}

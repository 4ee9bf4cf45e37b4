//! Node routes owned by this module: host-gw routes to other nodes' pod CIDRs, and the
//! unreachable route that keeps untranslated Service traffic on the node.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use netlink_packet_route::route::{RouteProtocol, RouteType};
use rtnetlink::RouteMessageBuilder;

use super::error::NetworkError;
use super::rtnl::{route_destination, route_destination6, route_gateway, Rtnl};

/// Route protocol number marking routes installed by Keel (`proto 75` in `ip route`), so that
/// reconciliation only ever touches its own routes. Unassigned in /etc/iproute2/rt_protos.
pub const KEEL_ROUTE_PROTOCOL: u8 = 75;

fn ours(route: &netlink_packet_route::route::RouteMessage) -> bool {
    route.header.protocol == RouteProtocol::Other(KEEL_ROUTE_PROTOCOL)
}

/// Installs (or keeps) `unreachable <service_cidr>`.
pub(crate) async fn ensure_service_route(rtnl: &Rtnl, service_cidr: Ipv4Net) -> Result<(), NetworkError> {
    let route = RouteMessageBuilder::<Ipv4Addr>::new()
        .destination_prefix(service_cidr.network(), service_cidr.prefix_len())
        .kind(RouteType::Unreachable)
        .protocol(RouteProtocol::Other(KEEL_ROUTE_PROTOCOL))
        .build();
    rtnl.replace_route(&format!("add unreachable route {service_cidr}"), route).await
}

/// Makes our unicast routes exactly `<pod CIDR> via <node IP>` for each peer.
pub(crate) async fn sync_peer_routes(rtnl: &Rtnl, peers: &[(Ipv4Net, Ipv4Addr)]) -> Result<(), NetworkError> {
    let wanted: HashMap<Ipv4Net, Ipv4Addr> = peers.iter().map(|(cidr, via)| (cidr.trunc(), *via)).collect();
    let existing = rtnl.ipv4_routes().await?;
    for route in existing.into_iter().filter(|r| ours(r) && r.header.kind == RouteType::Unicast) {
        let Some(dst) = route_destination(&route) else { continue };
        if !wanted.contains_key(&dst) {
            tracing::info!(%dst, gateway = ?route_gateway(&route), "removing host-gw route of a node that is gone");
            rtnl.delete_route(route).await?;
        }
    }
    // Replace is idempotent and also fixes a route whose node IP changed.
    for (cidr, via) in &wanted {
        let route = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(cidr.network(), cidr.prefix_len())
            .gateway(*via)
            .protocol(RouteProtocol::Other(KEEL_ROUTE_PROTOCOL))
            .build();
        rtnl.replace_route(&format!("route {cidr} via {via}"), route).await?;
    }
    Ok(())
}

/// Installs (or keeps) `unreachable <service_cidr>` for an IPv6 Service CIDR.
pub(crate) async fn ensure_service_route6(rtnl: &Rtnl, service_cidr: Ipv6Net) -> Result<(), NetworkError> {
    let route = RouteMessageBuilder::<Ipv6Addr>::new()
        .destination_prefix(service_cidr.network(), service_cidr.prefix_len())
        .kind(RouteType::Unreachable)
        .protocol(RouteProtocol::Other(KEEL_ROUTE_PROTOCOL))
        .build();
    rtnl.replace_route(&format!("add unreachable route {service_cidr}"), route).await
}

/// The IPv6 twin of [`sync_peer_routes`]: `<pod CIDR> via <node IPv6>` for each peer.
pub(crate) async fn sync_peer_routes6(rtnl: &Rtnl, peers: &[(Ipv6Net, Ipv6Addr)]) -> Result<(), NetworkError> {
    let wanted: HashMap<Ipv6Net, Ipv6Addr> = peers.iter().map(|(cidr, via)| (cidr.trunc(), *via)).collect();
    for route in rtnl.ipv6_routes().await?.into_iter().filter(|r| ours(r) && r.header.kind == RouteType::Unicast) {
        let Some(dst) = route_destination6(&route) else { continue };
        if !wanted.contains_key(&dst) {
            tracing::info!(%dst, "removing IPv6 host-gw route of a node that is gone");
            rtnl.delete_route(route).await?;
        }
    }
    for (cidr, via) in &wanted {
        let route = RouteMessageBuilder::<Ipv6Addr>::new()
            .destination_prefix(cidr.network(), cidr.prefix_len())
            .gateway(*via)
            .protocol(RouteProtocol::Other(KEEL_ROUTE_PROTOCOL))
            .build();
        rtnl.replace_route(&format!("route {cidr} via {via}"), route).await?;
    }
    Ok(())
}

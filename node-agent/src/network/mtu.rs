//! Choosing the pod MTU from the node's interfaces.

use super::error::NetworkError;
use super::rtnl::{link_controller, link_is_loopback, link_mtu, link_name, route_destination, route_oif, Rtnl};

const DEFAULT_MTU: u32 = 1500;

/// The MTU of the interface holding the default route; else the lowest MTU of the other
/// non-loopback interfaces (leaving out our bridge and its ports); else 1500.
pub(crate) async fn detect_mtu(rtnl: &Rtnl, bridge_name: &str) -> Result<u32, NetworkError> {
    let routes = rtnl.ipv4_routes().await?;
    let default_oif =
        routes.iter().filter(|r| route_destination(r).is_some_and(|d| d.prefix_len() == 0)).find_map(route_oif);
    if let Some(oif) = default_oif {
        if let Some(mtu) = rtnl.link_by_index(oif).await?.as_ref().and_then(link_mtu) {
            return Ok(mtu);
        }
    }
    let links = rtnl.links().await?;
    let bridge_index = links.iter().find(|l| link_name(l) == Some(bridge_name)).map(|l| l.header.index);
    let lowest = links
        .iter()
        .filter(|l| !link_is_loopback(l) && Some(l.header.index) != bridge_index)
        .filter(|l| bridge_index.is_none() || link_controller(l) != bridge_index)
        .filter_map(link_mtu)
        .min();
    Ok(lowest.unwrap_or(DEFAULT_MTU))
}

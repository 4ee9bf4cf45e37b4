//! The node bridge that every pod's host-side veth is attached to.

use ipnet::{Ipv4Net, Ipv6Net};
use netlink_packet_route::link::{BridgeStpState, InfoKind};
use rtnetlink::{LinkBridge, LinkUnspec};

use super::error::NetworkError;
use super::rtnl::{link_kind, Rtnl};

/// Creates the bridge if needed and brings it to the wanted state: up, `mtu`, exactly one IPv4
/// address (`gateway`) and, on a dual-stack node, exactly one global IPv6 address (`gateway6`).
/// Returns its interface index.
pub(crate) async fn ensure_bridge(
    rtnl: &Rtnl,
    name: &str,
    gateway: Ipv4Net,
    gateway6: Option<Ipv6Net>,
    mtu: u32,
) -> Result<u32, NetworkError> {
    let link = match rtnl.link_by_name(name).await? {
        Some(link) => link,
        None => {
            let message = LinkBridge::new(name)
                .mtu(mtu)
                // A fixed MAC: otherwise the bridge takes the lowest MAC of its ports, which changes as
                // pods come and go and leaves stale gateway entries in the pods' ARP caches.
                .address(bridge_mac(name, gateway).to_vec())
                // No STP: ports must forward at once, not after a listening/learning delay.
                .stp_state(BridgeStpState::Disabled)
                .forward_delay(0)
                .build();
            rtnl.add_link(&format!("create bridge {name}"), message).await?;
            rtnl.link_by_name(name).await?.ok_or_else(|| NetworkError::LinkNotFound(name.to_string()))?
        }
    };
    if link_kind(&link) != Some(&InfoKind::Bridge) {
        return Err(NetworkError::InvalidConfig(format!("link {name} exists but is not a bridge")));
    }
    let index = link.header.index;
    rtnl.set_link(&format!("set mtu and up on {name}"), LinkUnspec::new_with_index(index).mtu(mtu).up().build())
        .await?;
    for (message, address) in rtnl.ipv4_addresses(index).await? {
        // An old gateway address (the node's pod CIDR changed) would keep a stale connected route.
        if address != gateway {
            rtnl.delete_address(message).await?;
        }
    }
    rtnl.add_address(index, gateway).await?;
    for (message, address) in rtnl.ipv6_addresses(index).await? {
        if Some(address) != gateway6 {
            rtnl.delete_address(message).await?;
        }
    }
    if let Some(gateway6) = gateway6 {
        rtnl.add_address6(index, gateway6).await?;
    }
    Ok(index)
}

/// A locally administered unicast MAC derived from the bridge name and the gateway, so it is
/// stable across restarts and differs between nodes.
fn bridge_mac(name: &str, gateway: Ipv4Net) -> [u8; 6] {
    let seed = format!("{name}/{gateway}");
    let hash = seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let b = hash.to_be_bytes();
    [0x02, b[0], b[1], b[2], b[3], b[4]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_macs_are_local_unicast_and_per_node() {
        let one = bridge_mac("keel0", "10.244.1.1/24".parse().unwrap());
        let two = bridge_mac("keel0", "10.244.2.1/24".parse().unwrap());
        assert_eq!(one[0] & 0x03, 0x02);
        assert_ne!(one, two);
    }
}

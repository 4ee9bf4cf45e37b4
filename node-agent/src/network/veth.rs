//! The node side of a pod's veth pair: created with its peer already inside the pod netns.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use netlink_packet_route::link::{InfoData, InfoVeth};
use rtnetlink::{LinkUnspec, LinkVeth};

use super::error::NetworkError;
use super::rtnl::{link_alias, Rtnl};

/// Name of the pod-side interface.
pub const POD_INTERFACE: &str = "eth0";

/// Creates `host_name` <-> eth0 (the latter directly in the netns at `netns_path`), tags the host
/// side with the pod key (ifalias, used to recognise it after a crash), attaches it to the bridge
/// and brings it up. Returns the host side's index.
pub(crate) async fn create_pod_veth(
    rtnl: &Rtnl,
    host_name: &str,
    pod_key: &str,
    netns_path: &Path,
    mtu: u32,
    bridge_index: u32,
) -> Result<u32, NetworkError> {
    let netns = File::open(netns_path).map_err(|e| NetworkError::io("open netns", netns_path, e))?;
    // Naming the peer eth0 inside the pod netns at creation avoids a temporary name in the node netns.
    let peer = LinkUnspec::new_with_name(POD_INTERFACE).mtu(mtu).setns_by_fd(netns.as_raw_fd()).build();
    let message =
        LinkVeth::new(host_name, POD_INTERFACE).set_info_data(InfoData::Veth(InfoVeth::Peer(peer))).mtu(mtu).build();
    rtnl.add_link(&format!("create veth {host_name}"), message).await?;
    drop(netns);
    let link = rtnl.link_by_name(host_name).await?.ok_or_else(|| NetworkError::LinkNotFound(host_name.to_string()))?;
    let index = link.header.index;
    let settings = LinkUnspec::new_with_index(index).alias(pod_key).controller(bridge_index).up().build();
    rtnl.set_link(&format!("attach {host_name} to the bridge"), settings).await?;
    Ok(index)
}

/// Deletes the host side (which also deletes eth0 in the pod netns), if it exists and is ours: its
/// alias is this pod key, or empty (a crash right after creation, before tagging).
pub(crate) async fn delete_pod_veth(rtnl: &Rtnl, host_name: &str, pod_key: &str) -> Result<(), NetworkError> {
    let Some(link) = rtnl.link_by_name(host_name).await? else { return Ok(()) };
    match link_alias(&link) {
        Some(owner) if !owner.is_empty() && owner != pod_key => Err(NetworkError::LinkNameTaken {
            name: host_name.to_string(),
            owner: owner.to_string(),
            pod_key: pod_key.to_string(),
        }),
        _ => rtnl.delete_link(link.header.index).await,
    }
}

/// Whether the host side exists, belongs to this pod and is attached to the bridge.
pub(crate) async fn pod_veth_ok(
    rtnl: &Rtnl,
    host_name: &str,
    pod_key: &str,
    bridge_index: u32,
) -> Result<bool, NetworkError> {
    let Some(link) = rtnl.link_by_name(host_name).await? else { return Ok(false) };
    Ok(link_alias(&link) == Some(pod_key) && super::rtnl::link_controller(&link) == Some(bridge_index))
}

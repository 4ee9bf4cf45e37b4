//! Configuration inside a pod netns: lo and eth0 up, the pod address, the default route.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use ipnet::{Ipv4Net, Ipv6Net};
use rtnetlink::RouteMessageBuilder;

use super::error::NetworkError;
use super::netns::in_netns;
use super::rtnl::Rtnl;
use super::veth::POD_INTERFACE;

/// Configures the interfaces of the pod netns at `netns_path` through a netlink socket opened
/// inside it (a socket stays bound to the netns it was created in).
/// `ipv6`: the pod's IPv6 address and gateway on a dual-stack node.
pub(crate) fn configure_pod_netns(
    netns_path: &Path,
    address: Ipv4Net,
    gateway: Ipv4Addr,
    ipv6: Option<(Ipv6Net, Ipv6Addr)>,
) -> Result<(), NetworkError> {
    let label = netns_path.display().to_string();
    in_netns(netns_path, move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| NetworkError::io("start runtime in", label, e))?;
        runtime.block_on(configure_here(address, gateway, ipv6))
    })?
}

async fn configure_here(
    address: Ipv4Net,
    gateway: Ipv4Addr,
    ipv6: Option<(Ipv6Net, Ipv6Addr)>,
) -> Result<(), NetworkError> {
    let rtnl = Rtnl::connect()?;
    let lo = rtnl.link_by_name("lo").await?.ok_or_else(|| NetworkError::LinkNotFound("lo".into()))?;
    rtnl.set_up(lo.header.index, "lo").await?;
    let eth0 =
        rtnl.link_by_name(POD_INTERFACE).await?.ok_or_else(|| NetworkError::LinkNotFound(POD_INTERFACE.into()))?;
    let index = eth0.header.index;
    rtnl.add_address(index, address).await?;
    rtnl.set_up(index, POD_INTERFACE).await?;
    let default_route = RouteMessageBuilder::<Ipv4Addr>::new().gateway(gateway).output_interface(index).build();
    rtnl.replace_route("add default route in pod", default_route).await?;
    if let Some((address6, gateway6)) = ipv6 {
        rtnl.add_address6(index, address6).await?;
        let route = RouteMessageBuilder::<Ipv6Addr>::new().gateway(gateway6).output_interface(index).build();
        rtnl.replace_route("add IPv6 default route in pod", route).await?;
    }
    Ok(())
}

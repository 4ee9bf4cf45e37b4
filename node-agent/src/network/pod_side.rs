//! Configuration inside a pod netns: lo and eth0 up, the pod address, the default route.

use std::net::Ipv4Addr;
use std::path::Path;

use ipnet::Ipv4Net;
use rtnetlink::RouteMessageBuilder;

use super::error::NetworkError;
use super::netns::in_netns;
use super::rtnl::Rtnl;
use super::veth::POD_INTERFACE;

/// Configures the interfaces of the pod netns at `netns_path` through a netlink socket opened
/// inside it (a socket stays bound to the netns it was created in).
pub(crate) fn configure_pod_netns(netns_path: &Path, address: Ipv4Net, gateway: Ipv4Addr) -> Result<(), NetworkError> {
    let label = netns_path.display().to_string();
    in_netns(netns_path, move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| NetworkError::io("start runtime in", label, e))?;
        runtime.block_on(configure_here(address, gateway))
    })?
}

async fn configure_here(address: Ipv4Net, gateway: Ipv4Addr) -> Result<(), NetworkError> {
    let rtnl = Rtnl::connect()?;
    let lo = rtnl.link_by_name("lo").await?.ok_or_else(|| NetworkError::LinkNotFound("lo".into()))?;
    rtnl.set_up(lo.header.index, "lo").await?;
    let eth0 =
        rtnl.link_by_name(POD_INTERFACE).await?.ok_or_else(|| NetworkError::LinkNotFound(POD_INTERFACE.into()))?;
    let index = eth0.header.index;
    rtnl.add_address(index, address).await?;
    rtnl.set_up(index, POD_INTERFACE).await?;
    let default_route = RouteMessageBuilder::<Ipv4Addr>::new().gateway(gateway).output_interface(index).build();
    rtnl.replace_route("add default route in pod", default_route).await
}

//! A thin layer over rtnetlink for the few operations this module needs, with "already exists"
//! and "not found" turned into idempotent outcomes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures_util::TryStreamExt;
use ipnet::{Ipv4Net, Ipv6Net};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage};
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};
use tokio::task::JoinHandle;

use super::error::NetworkError;

const EEXIST: i32 = 17;
const ENODEV: i32 = 19;
const ESRCH: i32 = 3;
const EADDRNOTAVAIL: i32 = 99;
const MAIN_TABLE: u32 = RouteHeader::RT_TABLE_MAIN as u32;

/// The errno of a netlink error reply, if that is what `err` is.
pub(crate) fn errno(err: &rtnetlink::Error) -> Option<i32> {
    match err {
        rtnetlink::Error::NetlinkError(msg) => Some(msg.raw_code().abs()),
        _ => None,
    }
}

/// A route-netlink connection bound to the network namespace of the thread that opened it.
pub(crate) struct Rtnl {
    pub(crate) handle: Handle,
    task: JoinHandle<()>,
}

impl Drop for Rtnl {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Rtnl {
    /// Opens the socket in the calling thread's netns; needs a tokio runtime to drive it.
    pub(crate) fn connect() -> Result<Self, NetworkError> {
        let (connection, handle, _) =
            rtnetlink::new_connection().map_err(|e| NetworkError::io("open", "netlink route socket", e))?;
        let task = tokio::spawn(connection);
        Ok(Rtnl { handle, task })
    }

    pub(crate) async fn link_by_name(&self, name: &str) -> Result<Option<LinkMessage>, NetworkError> {
        match self.handle.link().get().match_name(name).execute().try_next().await {
            Ok(link) => Ok(link),
            Err(e) if errno(&e) == Some(ENODEV) => Ok(None),
            Err(e) => Err(NetworkError::netlink(format!("get link {name}"), e)),
        }
    }

    pub(crate) async fn link_by_index(&self, index: u32) -> Result<Option<LinkMessage>, NetworkError> {
        match self.handle.link().get().match_index(index).execute().try_next().await {
            Ok(link) => Ok(link),
            Err(e) if errno(&e) == Some(ENODEV) => Ok(None),
            Err(e) => Err(NetworkError::netlink(format!("get link #{index}"), e)),
        }
    }

    pub(crate) async fn links(&self) -> Result<Vec<LinkMessage>, NetworkError> {
        self.handle.link().get().execute().try_collect().await.map_err(|e| NetworkError::netlink("list links", e))
    }

    pub(crate) async fn set_link(&self, what: &str, message: LinkMessage) -> Result<(), NetworkError> {
        self.handle.link().set(message).execute().await.map_err(|e| NetworkError::netlink(what.to_string(), e))
    }

    pub(crate) async fn add_link(&self, what: &str, message: LinkMessage) -> Result<(), NetworkError> {
        self.handle.link().add(message).execute().await.map_err(|e| NetworkError::netlink(what.to_string(), e))
    }

    /// Deletes a link; a link that is already gone is fine.
    pub(crate) async fn delete_link(&self, index: u32) -> Result<(), NetworkError> {
        match self.handle.link().del(index).execute().await {
            Err(e) if errno(&e) != Some(ENODEV) => Err(NetworkError::netlink(format!("delete link #{index}"), e)),
            _ => Ok(()),
        }
    }

    pub(crate) async fn set_up(&self, index: u32, name: &str) -> Result<(), NetworkError> {
        self.set_link(&format!("set {name} up"), LinkUnspec::new_with_index(index).up().build()).await
    }

    /// Every address message of a link, of both families.
    async fn addresses(&self, index: u32) -> Result<Vec<AddressMessage>, NetworkError> {
        let all: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_collect()
            .await
            .map_err(|e| NetworkError::netlink(format!("list addresses of link #{index}"), e))?;
        Ok(all.into_iter().filter(|m| m.header.index == index).collect())
    }

    /// IPv4 addresses of a link as (address, prefix length).
    pub(crate) async fn ipv4_addresses(&self, index: u32) -> Result<Vec<(AddressMessage, Ipv4Net)>, NetworkError> {
        Ok(self
            .addresses(index)
            .await?
            .into_iter()
            .filter_map(|m| {
                let ip = m.attributes.iter().find_map(|a| match a {
                    AddressAttribute::Local(IpAddr::V4(ip)) => Some(*ip),
                    _ => None,
                })?;
                let net = Ipv4Net::new(ip, m.header.prefix_len).ok()?;
                Some((m, net))
            })
            .collect())
    }

    /// Adds an address; one that is already there is fine.
    pub(crate) async fn add_address(&self, index: u32, address: Ipv4Net) -> Result<(), NetworkError> {
        match self.handle.address().add(index, IpAddr::V4(address.addr()), address.prefix_len()).execute().await {
            Err(e) if errno(&e) != Some(EEXIST) => Err(NetworkError::netlink(format!("add address {address}"), e)),
            _ => Ok(()),
        }
    }

    /// Adds an IPv6 address without duplicate address detection (the node assigns pod
    /// addresses itself, and DAD would hold them back for a second or more); one that is
    /// already there is fine.
    pub(crate) async fn add_address6(&self, index: u32, address: Ipv6Net) -> Result<(), NetworkError> {
        let mut request = self.handle.address().add(index, IpAddr::V6(address.addr()), address.prefix_len());
        request.message_mut().attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
        match request.execute().await {
            Err(e) if errno(&e) != Some(EEXIST) => Err(NetworkError::netlink(format!("add address {address}"), e)),
            _ => Ok(()),
        }
    }

    /// Global IPv6 addresses of a link (link-local ones are the kernel's own).
    pub(crate) async fn ipv6_addresses(&self, index: u32) -> Result<Vec<(AddressMessage, Ipv6Net)>, NetworkError> {
        Ok(self
            .addresses(index)
            .await?
            .into_iter()
            .filter_map(|m| {
                let ip = m.attributes.iter().find_map(|a| match a {
                    AddressAttribute::Address(IpAddr::V6(ip)) if !ip.is_unicast_link_local() => Some(*ip),
                    _ => None,
                })?;
                let net = Ipv6Net::new(ip, m.header.prefix_len).ok()?;
                Some((m, net))
            })
            .collect())
    }

    /// IPv6 routes of the main table.
    pub(crate) async fn ipv6_routes(&self) -> Result<Vec<RouteMessage>, NetworkError> {
        self.main_routes(RouteMessageBuilder::<Ipv6Addr>::new().build()).await
    }

    /// The routes of the main table that `query` (one address family) selects.
    async fn main_routes(&self, query: RouteMessage) -> Result<Vec<RouteMessage>, NetworkError> {
        let routes: Vec<RouteMessage> = self
            .handle
            .route()
            .get(query)
            .execute()
            .try_collect()
            .await
            .map_err(|e| NetworkError::netlink("list routes", e))?;
        Ok(routes.into_iter().filter(|r| route_table(r) == MAIN_TABLE).collect())
    }

    pub(crate) async fn delete_address(&self, message: AddressMessage) -> Result<(), NetworkError> {
        match self.handle.address().del(message).execute().await {
            Err(e) if errno(&e) != Some(EADDRNOTAVAIL) => Err(NetworkError::netlink("delete address", e)),
            _ => Ok(()),
        }
    }

    /// IPv4 routes of the main table.
    pub(crate) async fn ipv4_routes(&self) -> Result<Vec<RouteMessage>, NetworkError> {
        self.main_routes(RouteMessageBuilder::<Ipv4Addr>::new().build()).await
    }

    /// Adds or replaces a route (idempotent).
    pub(crate) async fn replace_route(&self, what: &str, route: RouteMessage) -> Result<(), NetworkError> {
        self.handle.route().add(route).replace().execute().await.map_err(|e| NetworkError::netlink(what.to_string(), e))
    }

    /// Deletes a route; one that is already gone is fine.
    pub(crate) async fn delete_route(&self, route: RouteMessage) -> Result<(), NetworkError> {
        match self.handle.route().del(route).execute().await {
            Err(e) if errno(&e) != Some(ESRCH) => Err(NetworkError::netlink("delete route", e)),
            _ => Ok(()),
        }
    }
}

pub(crate) fn route_table(route: &RouteMessage) -> u32 {
    route
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(route.header.table))
}

pub(crate) fn route_destination(route: &RouteMessage) -> Option<Ipv4Net> {
    let dst = route
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Destination(RouteAddress::Inet(ip)) => Some(*ip),
            _ => None,
        })
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    Ipv4Net::new(dst, route.header.destination_prefix_length).ok()
}

pub(crate) fn route_destination6(route: &RouteMessage) -> Option<Ipv6Net> {
    let dst = route
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Destination(RouteAddress::Inet6(ip)) => Some(*ip),
            _ => None,
        })
        .unwrap_or(Ipv6Addr::UNSPECIFIED);
    Ipv6Net::new(dst, route.header.destination_prefix_length).ok()
}

pub(crate) fn route_gateway(route: &RouteMessage) -> Option<Ipv4Addr> {
    route.attributes.iter().find_map(|a| match a {
        RouteAttribute::Gateway(RouteAddress::Inet(ip)) => Some(*ip),
        _ => None,
    })
}

pub(crate) fn route_oif(route: &RouteMessage) -> Option<u32> {
    route.attributes.iter().find_map(|a| match a {
        RouteAttribute::Oif(i) => Some(*i),
        _ => None,
    })
}

pub(crate) fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

pub(crate) fn link_mtu(link: &LinkMessage) -> Option<u32> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::Mtu(m) => Some(*m),
        _ => None,
    })
}

pub(crate) fn link_controller(link: &LinkMessage) -> Option<u32> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::Controller(c) => Some(*c),
        _ => None,
    })
}

pub(crate) fn link_alias(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfAlias(n) => Some(n.as_str()),
        _ => None,
    })
}

pub(crate) fn link_kind(link: &LinkMessage) -> Option<&InfoKind> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
            LinkInfo::Kind(k) => Some(k),
            _ => None,
        }),
        _ => None,
    })
}

pub(crate) fn link_is_loopback(link: &LinkMessage) -> bool {
    link.header.flags.contains(LinkFlags::Loopback)
}

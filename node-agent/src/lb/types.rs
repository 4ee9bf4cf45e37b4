//! Public value types and their conversion to the kernel map layouts (network byte order).
use std::{
    net::{Ipv4Addr, SocketAddrV4},
    time::Duration,
};

use lb_common::{Endpoint, ServiceKey, PROTO_TCP, PROTO_UDP};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// A Service frontend: ClusterIP (or any VIP), port and protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Frontend {
    pub addr: SocketAddrV4,
    pub protocol: Protocol,
}

/// A backend endpoint; it speaks the frontend's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Backend {
    pub addr: SocketAddrV4,
}

/// A service as currently held by the maps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    pub frontend: Frontend,
    /// In slot order.
    pub backends: Vec<Backend>,
    pub affinity: Option<Duration>,
}

/// Counters summed over all CPUs since the service was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceCounters {
    /// connect()s and datagrams rewritten to a backend.
    pub translated: u64,
    /// connect()s and datagrams rejected because the service had no backend.
    pub no_backend: u64,
}

impl Protocol {
    pub(super) fn number(self) -> u8 {
        match self {
            Self::Tcp => PROTO_TCP,
            Self::Udp => PROTO_UDP,
        }
    }

    fn from_number(n: u8) -> Option<Self> {
        match n {
            PROTO_TCP => Some(Self::Tcp),
            PROTO_UDP => Some(Self::Udp),
            _ => None,
        }
    }
}

impl Frontend {
    pub fn new(addr: SocketAddrV4, protocol: Protocol) -> Self {
        Self { addr, protocol }
    }

    pub(super) fn to_key(self) -> ServiceKey {
        let ep = endpoint(self.addr);
        ServiceKey { addr: ep.addr, port: ep.port, proto: self.protocol.number(), pad: 0 }
    }

    /// `None` for a key with a protocol this crate never writes.
    pub(super) fn from_key(key: &ServiceKey) -> Option<Self> {
        let protocol = Protocol::from_number(key.proto)?;
        Some(Self { addr: socket_addr(&Endpoint { addr: key.addr, port: key.port, pad: 0 }), protocol })
    }
}

impl Backend {
    pub fn new(addr: SocketAddrV4) -> Self {
        Self { addr }
    }

    pub(super) fn to_endpoint(self) -> Endpoint {
        endpoint(self.addr)
    }

    pub(super) fn from_endpoint(ep: &Endpoint) -> Self {
        Self { addr: socket_addr(ep) }
    }
}

impl From<SocketAddrV4> for Backend {
    fn from(addr: SocketAddrV4) -> Self {
        Self { addr }
    }
}

/// Host order -> the in-memory network order the kernel programs compare against.
fn endpoint(addr: SocketAddrV4) -> Endpoint {
    Endpoint { addr: u32::from_ne_bytes(addr.ip().octets()), port: addr.port().to_be(), pad: 0 }
}

fn socket_addr(ep: &Endpoint) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(ep.addr.to_ne_bytes()), u16::from_be(ep.port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_is_network_order_in_memory() {
        let ep = endpoint(SocketAddrV4::new(Ipv4Addr::new(10, 96, 55, 1), 80));
        assert_eq!(ep.addr.to_ne_bytes(), [10, 96, 55, 1]);
        assert_eq!(ep.port.to_ne_bytes(), [0, 80]);
        assert_eq!(socket_addr(&ep), SocketAddrV4::new(Ipv4Addr::new(10, 96, 55, 1), 80));
    }

    #[test]
    fn frontend_key_round_trips() {
        let fe = Frontend::new(SocketAddrV4::new(Ipv4Addr::new(10, 96, 0, 10), 53), Protocol::Udp);
        assert_eq!(Frontend::from_key(&fe.to_key()), Some(fe));
    }
}

//! Public value types and their conversion to the kernel map layouts (network byte order).
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4},
    time::Duration,
};

use lb_common::{external, mapped_v4, v4_mapped, Addr, Endpoint, ServiceKey, PROTO_TCP, PROTO_UDP};

use super::LbError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// A Service frontend: ClusterIP (or any VIP) of either family, port and protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Frontend {
    pub addr: SocketAddr,
    pub protocol: Protocol,
}

/// A backend endpoint; it speaks the frontend's protocol and family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Backend {
    pub addr: SocketAddr,
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
    pub fn new(addr: impl Into<SocketAddr>, protocol: Protocol) -> Self {
        Self { addr: addr.into(), protocol }
    }

    /// The frontend's address if it is IPv4; the external (per-packet) path only handles IPv4.
    pub fn v4(self) -> Result<SocketAddrV4, LbError> {
        match self.addr {
            SocketAddr::V4(a) => Ok(a),
            SocketAddr::V6(a) => Err(LbError::Invalid(format!("{a}: the external load balancer is IPv4 only"))),
        }
    }

    pub(super) fn to_external_key(self) -> Result<external::FrontendKey, LbError> {
        let addr = self.v4()?;
        Ok(external::FrontendKey {
            addr: u32::from_ne_bytes(addr.ip().octets()),
            port: addr.port().to_be(),
            proto: self.protocol.number(),
            pad: 0,
        })
    }

    pub(super) fn from_external_key(key: &external::FrontendKey) -> Option<Self> {
        let ip = Ipv4Addr::from(key.addr.to_ne_bytes());
        Some(Self::new(SocketAddrV4::new(ip, u16::from_be(key.port)), Protocol::from_number(key.proto)?))
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
    pub fn new(addr: impl Into<SocketAddr>) -> Self {
        Self { addr: addr.into() }
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
        Self { addr: addr.into() }
    }
}

/// Host order -> the in-memory network order the kernel programs compare against; IPv4 is stored
/// IPv4-mapped.
fn endpoint(addr: SocketAddr) -> Endpoint {
    let addr16: Addr = match addr.ip() {
        IpAddr::V4(ip) => v4_mapped(u32::from_ne_bytes(ip.octets())),
        IpAddr::V6(ip) => {
            let o = ip.octets();
            let word = |i: usize| u32::from_ne_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
            [word(0), word(4), word(8), word(12)]
        }
    };
    Endpoint { addr: addr16, port: addr.port().to_be(), pad: 0 }
}

fn socket_addr(ep: &Endpoint) -> SocketAddr {
    let port = u16::from_be(ep.port);
    if let Some(ip4) = mapped_v4(&ep.addr) {
        return SocketAddr::new(Ipv4Addr::from(ip4.to_ne_bytes()).into(), port);
    }
    let mut o = [0u8; 16];
    for (chunk, word) in o.chunks_exact_mut(4).zip(ep.addr) {
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    SocketAddr::new(Ipv6Addr::from(o).into(), port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_is_network_order_in_memory() {
        let v4: SocketAddr = "10.96.55.1:80".parse().unwrap();
        let ep = endpoint(v4);
        assert_eq!(ep.addr[3].to_ne_bytes(), [10, 96, 55, 1]);
        assert_eq!(ep.addr[2].to_ne_bytes(), [0, 0, 0xff, 0xff], "IPv4-mapped");
        assert_eq!(ep.port.to_ne_bytes(), [0, 80]);
        assert_eq!(socket_addr(&ep), v4);
        let v6: SocketAddr = "[fd00:10:96::a]:53".parse().unwrap();
        let ep = endpoint(v6);
        assert_eq!(ep.addr[0].to_ne_bytes(), [0xfd, 0, 0, 0x10]);
        assert_eq!(ep.addr[3].to_ne_bytes(), [0, 0, 0, 0x0a]);
        assert_eq!(socket_addr(&ep), v6);
    }

    #[test]
    fn frontend_key_round_trips() {
        let fe = Frontend::new(SocketAddrV4::new(Ipv4Addr::new(10, 96, 0, 10), 53), Protocol::Udp);
        assert_eq!(Frontend::from_key(&fe.to_key()), Some(fe));
        assert_eq!(fe.to_external_key().ok().and_then(|k| Frontend::from_external_key(&k)), Some(fe));
        let fe6 = Frontend::new("[fd00:10:96::a]:53".parse::<SocketAddr>().unwrap(), Protocol::Tcp);
        assert_eq!(Frontend::from_key(&fe6.to_key()), Some(fe6));
        assert!(fe6.to_external_key().is_err(), "the external path is IPv4 only");
    }
}

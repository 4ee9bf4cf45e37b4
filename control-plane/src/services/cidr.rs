//! One CIDR block of either family, as a base address and prefix over u128
//! so the arithmetic is the same for IPv4 and IPv6.

use super::family::IpFamily;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("invalid CIDR {0:?}")]
    Invalid(String),
    #[error("invalid prefix length in {0:?}")]
    Prefix(String),
}

/// A CIDR block; `base` has the host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    pub family: IpFamily,
    pub base: u128,
    pub prefix: u8,
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

impl Cidr {
    /// `address/prefix` of either family (host bits are masked off).
    pub fn parse(s: &str) -> Result<Self, CidrError> {
        let s = s.trim();
        let (ip, len) = s.split_once('/').ok_or_else(|| CidrError::Invalid(s.to_string()))?;
        let ip: IpAddr = ip.parse().map_err(|_| CidrError::Invalid(s.to_string()))?;
        let family = IpFamily::of(ip);
        let prefix: u8 =
            len.parse().ok().filter(|p| *p <= family.bits()).ok_or_else(|| CidrError::Prefix(s.to_string()))?;
        let cidr = Cidr { family, base: 0, prefix };
        Ok(Cidr { base: to_u128(ip) & cidr.mask(), ..cidr })
    }

    /// Host bits of the block (32 - prefix for IPv4).
    pub fn host_bits(&self) -> u8 {
        self.family.bits() - self.prefix
    }

    fn mask(&self) -> u128 {
        let width_mask = if self.family.bits() == 128 { u128::MAX } else { (1u128 << self.family.bits()) - 1 };
        let host_mask = if self.host_bits() >= 128 { u128::MAX } else { (1u128 << self.host_bits()) - 1 };
        width_mask & !host_mask
    }

    /// Number of addresses, saturating at u128::MAX for a /0 IPv6 block.
    pub fn size(&self) -> u128 {
        1u128.checked_shl(u32::from(self.host_bits())).unwrap_or(u128::MAX)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        IpFamily::of(ip) == self.family && to_u128(ip) & self.mask() == self.base
    }

    /// The n-th address of the block (wrapping inside it).
    pub fn nth(&self, n: u128) -> IpAddr {
        let offset = if self.size() == u128::MAX { n } else { n % self.size() };
        self.addr(self.base | offset)
    }

    /// Offset of `ip` inside the block, if it is in it.
    pub fn offset_of(&self, ip: IpAddr) -> Option<u128> {
        self.contains(ip).then(|| to_u128(ip) - self.base)
    }

    fn addr(&self, v: u128) -> IpAddr {
        match self.family {
            // Only the low 32 bits are ever set for an IPv4 block.
            IpFamily::V4 => IpAddr::V4(Ipv4Addr::from(v as u32)),
            IpFamily::V6 => IpAddr::V6(Ipv6Addr::from(v)),
        }
    }

    /// The `index`-th sub-block of prefix `prefix`, if it fits.
    pub fn subnet(&self, prefix: u8, index: u128) -> Option<Cidr> {
        if prefix < self.prefix || prefix > self.family.bits() {
            return None;
        }
        let count = 1u128.checked_shl(u32::from(prefix - self.prefix))?;
        if index >= count {
            return None;
        }
        let step = 1u128.checked_shl(u32::from(self.family.bits() - prefix))?;
        Some(Cidr { family: self.family, base: self.base + index * step, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr(self.base), self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn ipv4_math() {
        let c = Cidr::parse("10.96.0.0/12").expect("parse");
        assert_eq!(c.size(), 1 << 20);
        assert!(c.contains(ip("10.111.255.255")));
        assert!(!c.contains(ip("10.112.0.0")));
        assert!(!c.contains(ip("::10.96.0.1")), "an IPv6 address is never in an IPv4 block");
        assert_eq!(c.nth(1).to_string(), "10.96.0.1");
        assert_eq!(c.offset_of(ip("10.96.1.0")), Some(256));
        assert_eq!(Cidr::parse("10.96.5.7/12").expect("parse").to_string(), "10.96.0.0/12");
        assert_eq!(Cidr::parse("0.0.0.0/0").expect("parse").size(), 1 << 32);
    }

    #[test]
    fn ipv6_math() {
        let c = Cidr::parse("fd00:10:96::/112").expect("parse");
        assert_eq!(c.family, IpFamily::V6);
        assert_eq!(c.size(), 1 << 16);
        assert_eq!(c.nth(10).to_string(), "fd00:10:96::a");
        assert!(c.contains(ip("fd00:10:96::ffff")));
        assert!(!c.contains(ip("fd00:10:96::1:0")));
        assert!(!c.contains(ip("10.96.0.1")));
        assert_eq!(c.to_string(), "fd00:10:96::/112");
        assert_eq!(Cidr::parse("::/0").expect("parse").size(), u128::MAX);
    }

    #[test]
    fn subnets() {
        let v4 = Cidr::parse("10.244.0.0/16").expect("parse");
        assert_eq!(v4.subnet(24, 3).map(|c| c.to_string()).as_deref(), Some("10.244.3.0/24"));
        assert_eq!(v4.subnet(24, 256), None);
        assert_eq!(v4.subnet(8, 0), None);
        let v6 = Cidr::parse("fd00:10:244::/56").expect("parse");
        assert_eq!(v6.subnet(64, 1).map(|c| c.to_string()).as_deref(), Some("fd00:10:244:1::/64"));
        assert_eq!(v6.subnet(64, 255).map(|c| c.to_string()).as_deref(), Some("fd00:10:244:ff::/64"));
    }

    #[test]
    fn bad_input() {
        assert_eq!(Cidr::parse("10.0.0.0"), Err(CidrError::Invalid("10.0.0.0".into())));
        assert_eq!(Cidr::parse("10.0.0.0/33"), Err(CidrError::Prefix("10.0.0.0/33".into())));
        assert_eq!(Cidr::parse("fd00::/129"), Err(CidrError::Prefix("fd00::/129".into())));
        assert!(Cidr::parse("fd00::zz/64").is_err());
        assert!(Cidr::parse("10.0.0.0/x").is_err());
    }
}

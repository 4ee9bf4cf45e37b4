//! IP families as the API names them (`IPv4`, `IPv6`).

use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpFamily {
    V4,
    V6,
}

impl IpFamily {
    /// The API's spelling (`spec.ipFamilies`, EndpointSlice `addressType`).
    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::V4 => "IPv4",
            IpFamily::V6 => "IPv6",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "IPv4" => Some(IpFamily::V4),
            "IPv6" => Some(IpFamily::V6),
            _ => None,
        }
    }

    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => IpFamily::V4,
            IpAddr::V6(_) => IpFamily::V6,
        }
    }

    /// The family of an address written as text, if it is one.
    pub fn of_str(ip: &str) -> Option<Self> {
        ip.parse::<IpAddr>().ok().map(Self::of)
    }

    /// Address width in bits.
    pub fn bits(self) -> u8 {
        match self {
            IpFamily::V4 => 32,
            IpFamily::V6 => 128,
        }
    }

    pub fn other(self) -> Self {
        match self {
            IpFamily::V4 => IpFamily::V6,
            IpFamily::V6 => IpFamily::V4,
        }
    }
}

impl std::fmt::Display for IpFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses() {
        assert_eq!(IpFamily::parse("IPv6"), Some(IpFamily::V6));
        assert_eq!(IpFamily::parse("ipv6"), None);
        assert_eq!(IpFamily::of_str("fd00::1"), Some(IpFamily::V6));
        assert_eq!(IpFamily::of_str("10.0.0.1"), Some(IpFamily::V4));
        assert_eq!(IpFamily::of_str("None"), None);
        assert_eq!(IpFamily::V4.other().to_string(), "IPv6");
    }
}

//! A cluster's address ranges (`--service-cidr`, `--cluster-cidr`): one
//! CIDR, or two of different families for dual-stack, the first being the
//! primary family, as kube-apiserver's `--service-cluster-ip-range`.

use super::cidr::{Cidr, CidrError};
use super::family::IpFamily;

/// Largest service range in host bits: kube-apiserver keeps a bitmap of it,
/// so it refuses more than 20 (a /12 for IPv4, a /108 for IPv6).
pub const MAX_SERVICE_HOST_BITS: u8 = 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangesError {
    #[error("{flag}: {source}")]
    Cidr { flag: String, source: CidrError },
    #[error("{flag} must hold one or two comma-separated CIDRs, got {count}")]
    Count { flag: String, count: usize },
    #[error("{flag}: {first} and {second} are both {family}; a dual-stack range needs one IPv4 and one IPv6 CIDR")]
    SameFamily { flag: String, first: Cidr, second: Cidr, family: IpFamily },
    #[error("specified {flag} is too large; for {bits}-bit addresses, the mask must be >= {min}")]
    TooLarge { flag: String, bits: u8, min: u8 },
    #[error("specified {flag} {cidr} is too small: it must hold at least 4 addresses")]
    TooSmall { flag: String, cidr: Cidr },
}

/// One or two CIDRs of different families, primary first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ranges {
    primary: Cidr,
    secondary: Option<Cidr>,
}

impl Ranges {
    pub fn single(primary: Cidr) -> Self {
        Ranges { primary, secondary: None }
    }

    /// `a` or `a,b` (`flag` names the option in errors).
    pub fn parse(flag: &str, s: &str) -> Result<Self, RangesError> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if parts.len() > 2 {
            return Err(RangesError::Count { flag: flag.to_string(), count: parts.len() });
        }
        let mut cidrs = Vec::with_capacity(2);
        for (i, p) in parts.iter().enumerate() {
            let flag = if parts.len() > 1 { format!("{flag}[{i}]") } else { flag.to_string() };
            cidrs.push(Cidr::parse(p).map_err(|source| RangesError::Cidr { flag, source })?);
        }
        let primary = cidrs[0];
        let secondary = cidrs.get(1).copied();
        if let Some(second) = secondary {
            if second.family == primary.family {
                return Err(RangesError::SameFamily {
                    flag: flag.to_string(),
                    first: primary,
                    second,
                    family: primary.family,
                });
            }
        }
        Ok(Ranges { primary, secondary })
    }

    /// A Service IP range: also no more than 20 host bits per family, and
    /// room for a few addresses.
    pub fn parse_service(flag: &str, s: &str) -> Result<Self, RangesError> {
        let ranges = Self::parse(flag, s)?;
        for (i, cidr) in ranges.iter().enumerate() {
            let flag = if ranges.is_dual() { format!("{flag}[{i}]") } else { flag.to_string() };
            if cidr.host_bits() > MAX_SERVICE_HOST_BITS {
                let bits = cidr.family.bits();
                return Err(RangesError::TooLarge { flag, bits, min: bits - MAX_SERVICE_HOST_BITS });
            }
            if cidr.host_bits() < 2 {
                return Err(RangesError::TooSmall { flag, cidr });
            }
        }
        Ok(ranges)
    }

    pub fn primary(&self) -> Cidr {
        self.primary
    }

    pub fn secondary(&self) -> Option<Cidr> {
        self.secondary
    }

    pub fn is_dual(&self) -> bool {
        self.secondary.is_some()
    }

    /// The range of a family, if the cluster has one.
    pub fn get(&self, family: IpFamily) -> Option<Cidr> {
        self.iter().find(|c| c.family == family)
    }

    /// Primary first.
    pub fn iter(&self) -> impl Iterator<Item = Cidr> {
        std::iter::once(self.primary).chain(self.secondary)
    }

    pub fn families(&self) -> Vec<IpFamily> {
        self.iter().map(|c| c.family).collect()
    }
}

impl std::fmt::Display for Ranges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.secondary {
            Some(s) => write!(f, "{},{s}", self.primary),
            None => write!(f, "{}", self.primary),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_dual() {
        let one = Ranges::parse_service("--service-cidr", "10.96.0.0/12").expect("single");
        assert!(!one.is_dual());
        assert_eq!(one.families(), vec![IpFamily::V4]);
        let two = Ranges::parse_service("--service-cidr", "10.96.0.0/12, fd00:10:96::/112").expect("dual");
        assert_eq!(two.families(), vec![IpFamily::V4, IpFamily::V6]);
        assert_eq!(two.get(IpFamily::V6).map(|c| c.to_string()).as_deref(), Some("fd00:10:96::/112"));
        assert_eq!(two.to_string(), "10.96.0.0/12,fd00:10:96::/112");
        let v6_first = Ranges::parse("--cluster-cidr", "fd00:10:244::/56,10.244.0.0/16").expect("dual");
        assert_eq!(v6_first.primary().family, IpFamily::V6);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let msg = |r: Result<Ranges, RangesError>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            msg(Ranges::parse("--cluster-cidr", "10.244.0.0/16,10.245.0.0/16")),
            "--cluster-cidr: 10.244.0.0/16 and 10.245.0.0/16 are both IPv4; a dual-stack range needs one IPv4 and one IPv6 CIDR"
        );
        assert_eq!(
            msg(Ranges::parse("--cluster-cidr", "10.244.0.0/16,fd00::/56,fd01::/56")),
            "--cluster-cidr must hold one or two comma-separated CIDRs, got 3"
        );
        assert_eq!(msg(Ranges::parse("--cluster-cidr", "")), "--cluster-cidr: invalid CIDR \"\"");
        assert_eq!(
            msg(Ranges::parse("--service-cidr", "10.96.0.0/12,fd00::/xx")),
            "--service-cidr[1]: invalid prefix length in \"fd00::/xx\""
        );
        assert_eq!(msg(Ranges::parse("--service-cidr", "bogus")), "--service-cidr: invalid CIDR \"bogus\"");
        assert_eq!(
            msg(Ranges::parse_service("--service-cidr", "10.96.0.0/12,fd00:10:96::/64")),
            "specified --service-cidr[1] is too large; for 128-bit addresses, the mask must be >= 108"
        );
        assert_eq!(
            msg(Ranges::parse_service("--service-cidr", "10.0.0.0/8")),
            "specified --service-cidr is too large; for 32-bit addresses, the mask must be >= 12"
        );
        assert!(Ranges::parse_service("--service-cidr", "fd00::/108").is_ok());
        assert!(Ranges::parse_service("--service-cidr", "10.0.0.0/31").is_err());
    }
}

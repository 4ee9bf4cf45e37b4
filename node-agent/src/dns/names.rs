//! Name forms of the Kubernetes DNS specification that are computed rather than stored:
//! dashed addresses (`10-244-1-5`, `fd00-10-244-1--5`) and reverse-lookup names.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `10.244.1.5` -> `10-244-1-5`; IPv6 in its compressed form with `:` -> `-`.
pub fn dashed(ip: IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

/// The inverse of [`dashed`]: `10-244-1-5` or `fd00-10-244-1--5`.
pub fn undashed(label: &str) -> Option<IpAddr> {
    if let Ok(v4) = label.replace('-', ".").parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(v4));
    }
    label.replace('-', ":").parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

/// The address a reverse name stands for: `5.1.244.10.in-addr.arpa.` or the 32 nibbles of an
/// `ip6.arpa.` name. `None` for anything else, including partial (network) names.
pub fn reverse_to_ip(name: &str) -> Option<IpAddr> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if let Some(rest) = name.strip_suffix(".in-addr.arpa") {
        let mut octets: Vec<u8> = rest.split('.').map(|o| o.parse().ok()).collect::<Option<_>>()?;
        if octets.len() != 4 {
            return None;
        }
        octets.reverse();
        return Some(IpAddr::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3])));
    }
    let rest = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> =
        rest.split('.').map(|n| u8::from_str_radix(n, 16).ok().filter(|_| n.len() == 1)).collect::<Option<_>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, pair) in nibbles.rchunks(2).enumerate() {
        // Reverse order: the last two nibbles of the name are the first byte.
        bytes[i] = (pair[1] << 4) | pair[0];
    }
    Some(IpAddr::V6(Ipv6Addr::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashed_round_trips() {
        for ip in ["10.244.1.5", "fd00:10:244:1::5"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(undashed(&dashed(ip)), Some(ip));
        }
        assert_eq!(dashed("fd00:10:244:1::5".parse().unwrap()), "fd00-10-244-1--5");
        assert_eq!(undashed("10-244-1"), None);
        assert_eq!(undashed("not-an-ip"), None);
    }

    #[test]
    fn reverse_names() {
        assert_eq!(reverse_to_ip("10.0.96.10.in-addr.arpa."), Some("10.96.0.10".parse().unwrap()));
        assert_eq!(reverse_to_ip("0.96.10.in-addr.arpa."), None);
        let v6: IpAddr = "fd00:10:96::a".parse().unwrap();
        let name = "a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa.";
        assert_eq!(reverse_to_ip(name), Some(v6));
        assert_eq!(reverse_to_ip("x.in-addr.arpa."), None);
    }
}

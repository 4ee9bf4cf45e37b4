//! Cluster IPs out of one family's range: a requested address is checked
//! against the range and what is in use; a free one is found by a
//! sequential scan from a random offset, over a bounded window so a large
//! IPv6 block is never walked whole.

use super::cidr::Cidr;
use std::collections::HashSet;
use std::net::IpAddr;

/// Low offsets stay out of automatic allocation: they are for fixed
/// assignments (the API Service takes .1, DNS usually .10).
const RESERVED_LOW: u128 = 16;
/// Most candidates one pick looks at: the largest range kube-apiserver
/// accepts has 2^20 addresses, so this never cuts a legal range short.
pub const MAX_SCAN: u128 = 1 << 20;

/// The offsets automatic allocation draws from: `[lo, lo + span)`.
fn window(cidr: &Cidr) -> (u128, u128) {
    let size = cidr.size();
    let lo = RESERVED_LOW.min(size / 2);
    // Not the last address either (the IPv4 broadcast address).
    let span = size.saturating_sub(lo + 1).min(MAX_SCAN);
    (lo, span)
}

/// A free address of `cidr`, or None when the window is full. `reserve`
/// claims a candidate against concurrent requests and says if it got it.
pub fn pick(cidr: &Cidr, used: &HashSet<IpAddr>, mut reserve: impl FnMut(IpAddr) -> bool) -> Option<IpAddr> {
    let (lo, span) = window(cidr);
    if span == 0 {
        return None;
    }
    let start = rand::random::<u128>() % span;
    (0..span).map(|i| cidr.nth(lo + (start + i) % span)).find(|ip| !used.contains(ip) && reserve(*ip))
}

/// Why a requested address cannot be had, in kube-apiserver's words.
pub fn check_requested(
    cidr: &Cidr,
    ip: IpAddr,
    used: &HashSet<IpAddr>,
    reserve: impl FnOnce(IpAddr) -> bool,
) -> Result<(), String> {
    if !cidr.contains(ip) {
        return Err(format!(
            "failed to allocate IP {ip}: provided IP is not in the valid range. The range of valid IPs is {cidr}"
        ));
    }
    if used.contains(&ip) || !reserve(ip) {
        return Err(format!("failed to allocate IP {ip}: provided IP is already allocated"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        Cidr::parse(s).expect("cidr")
    }

    #[test]
    fn picks_stay_in_the_window_and_skip_used() {
        let c = cidr("10.0.0.0/27");
        let mut used = HashSet::new();
        for _ in 0..15 {
            let ip = pick(&c, &used, |_| true).expect("free address");
            assert!(c.contains(ip));
            let off = c.offset_of(ip).expect("offset");
            assert!((16..31).contains(&off), "{ip}");
            assert!(used.insert(ip), "{ip} handed out twice");
        }
        assert_eq!(pick(&c, &used, |_| true), None, "the window is full");
    }

    #[test]
    fn ipv6_picks_are_bounded() {
        // Far larger than kube-apiserver allows; the scan still ends.
        let c = cidr("fd00::/64");
        let (lo, span) = window(&c);
        assert_eq!((lo, span), (16, MAX_SCAN));
        let ip = pick(&c, &HashSet::new(), |_| true).expect("free address");
        assert!(c.contains(ip));
        let mut tries = 0;
        assert_eq!(
            pick(&c, &HashSet::new(), |_| {
                tries += 1;
                false
            }),
            None
        );
        assert_eq!(tries, MAX_SCAN);
    }

    #[test]
    fn requested_addresses() {
        let c = cidr("fd00:10:96::/112");
        let used: HashSet<IpAddr> = ["fd00:10:96::20".parse().expect("ip")].into();
        let ok = "fd00:10:96::21".parse().expect("ip");
        assert_eq!(check_requested(&c, ok, &used, |_| true), Ok(()));
        assert_eq!(
            check_requested(&c, "fd00:10:96::20".parse().expect("ip"), &used, |_| true),
            Err("failed to allocate IP fd00:10:96::20: provided IP is already allocated".into())
        );
        assert_eq!(
            check_requested(&c, ok, &used, |_| false),
            Err("failed to allocate IP fd00:10:96::21: provided IP is already allocated".into())
        );
        assert_eq!(
            check_requested(&c, "fd00:10:97::1".parse().expect("ip"), &used, |_| true),
            Err("failed to allocate IP fd00:10:97::1: provided IP is not in the valid range. The range of valid IPs is fd00:10:96::/112".into())
        );
    }
}

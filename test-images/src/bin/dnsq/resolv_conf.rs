//! The parts of resolv.conf a stub resolver uses: nameservers, search list and options.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

/// Overrides /etc/resolv.conf (tests point it at their own file).
pub const PATH_ENV: &str = "DNSQ_RESOLV_CONF";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub ndots: usize,
    pub timeout: Duration,
    pub attempts: u32,
}

impl Default for ResolvConf {
    /// libc's defaults when there is no file: a local server, no search list, ndots 1.
    fn default() -> Self {
        Self {
            nameservers: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            search: Vec::new(),
            ndots: 1,
            timeout: Duration::from_secs(5),
            attempts: 2,
        }
    }
}

/// Where the configuration is read from.
pub fn path() -> PathBuf {
    std::env::var_os(PATH_ENV).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/etc/resolv.conf"))
}

/// Reads the configuration; a missing or unreadable file gives the defaults, like libc.
pub fn load() -> ResolvConf {
    std::fs::read_to_string(path()).map(|text| parse(&text)).unwrap_or_default()
}

/// Parses resolv.conf text. As in libc the last `search`/`domain` line wins and unknown lines
/// are ignored.
pub fn parse(text: &str) -> ResolvConf {
    let defaults = ResolvConf::default();
    let mut conf = ResolvConf { nameservers: Vec::new(), ..defaults.clone() };
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or_default();
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                // A link-local IPv6 server may carry a %zone, which IpAddr cannot hold.
                let ip: Option<IpAddr> =
                    words.next().map(|w| w.split('%').next().unwrap_or(w)).and_then(|w| w.parse().ok());
                conf.nameservers.extend(ip);
            }
            Some("search") => conf.search = words.map(|d| d.trim_end_matches('.').to_string()).collect(),
            Some("domain") => {
                conf.search = words.next().map(|d| d.trim_end_matches('.').to_string()).into_iter().collect()
            }
            Some("options") => words.for_each(|option| apply_option(&mut conf, option)),
            _ => {}
        }
    }
    if conf.nameservers.is_empty() {
        conf.nameservers = defaults.nameservers;
    }
    conf
}

fn apply_option(conf: &mut ResolvConf, option: &str) {
    let Some((name, value)) = option.split_once(':') else { return };
    let Ok(value) = value.parse::<u32>() else { return };
    // Caps as in glibc: ndots 15, timeout 30 s, attempts 5.
    match name {
        "ndots" => conf.ndots = value.min(15) as usize,
        "timeout" => conf.timeout = Duration::from_secs(u64::from(value.clamp(1, 30))),
        "attempts" => conf.attempts = value.clamp(1, 5),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_style_file() {
        let conf = parse(
            "search default.svc.cluster.local svc.cluster.local cluster.local\n\
             nameserver 10.96.0.10 # cluster DNS\n\
             nameserver fe80::1%eth0\n\
             options ndots:5 timeout:2 attempts:3 edns0\n",
        );
        let ip = |text: &str| text.parse::<IpAddr>().unwrap(); // literals, not outside input
        assert_eq!(conf.nameservers, [ip("10.96.0.10"), ip("fe80::1")]);
        assert_eq!(conf.search, ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"]);
        assert_eq!((conf.ndots, conf.timeout, conf.attempts), (5, Duration::from_secs(2), 3));
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(parse(""), ResolvConf::default());
    }

    #[test]
    fn last_search_or_domain_wins() {
        assert_eq!(parse("search a b\ndomain c.\n").search, ["c"]);
    }
}

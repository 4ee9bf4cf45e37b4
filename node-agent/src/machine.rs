//! What the node reports about itself: name, address, capacity, system info.

use anyhow::{Context, Result};
use std::net::IpAddr;

#[derive(Debug, Clone)]
pub struct Facts {
    pub name: String,
    pub ip: IpAddr,
    /// The node's IPv6 address on a dual-stack node (a second InternalIP).
    pub ip6: Option<std::net::Ipv6Addr>,
    pub cpus: usize,
    pub memory_bytes: u64,
    pub max_pods: u32,
    pub os_image: String,
    pub kernel: String,
    pub boot_id: String,
    pub machine_id: String,
    /// Where the kubelet API listens (reported as daemonEndpoints).
    pub kubelet_port: u16,
}

fn first_line(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.lines().next().unwrap_or_default().trim().to_string()).unwrap_or_default()
}

/// `MemTotal` from /proc/meminfo, in bytes.
fn memory_bytes() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    info.lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// `PRETTY_NAME` from /etc/os-release.
fn os_image() -> String {
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".into())
}

/// The first non-loopback IPv4 address of this network namespace.
fn first_address() -> Option<IpAddr> {
    let trie = std::fs::read_to_string("/proc/net/fib_trie").ok()?;
    let mut lines = trie.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(addr) = line.trim().strip_prefix("|-- ") {
            if lines.peek().is_some_and(|n| n.contains("/32 host LOCAL")) {
                if let Ok(ip) = addr.parse::<IpAddr>() {
                    if !ip.is_loopback() {
                        return Some(ip);
                    }
                }
            }
        }
    }
    None
}

/// A global (not link-local) IPv6 address on the interface that holds `ip`.
fn ipv6_next_to(ip: IpAddr) -> Option<std::net::Ipv6Addr> {
    let addrs: Vec<_> = nix::ifaddrs::getifaddrs().ok()?.collect();
    let iface = addrs.iter().find_map(|a| {
        let sa = a.address.as_ref()?;
        let here: IpAddr = match (sa.as_sockaddr_in(), sa.as_sockaddr_in6()) {
            (Some(v4), _) => IpAddr::V4(v4.ip()),
            (_, Some(v6)) => IpAddr::V6(v6.ip()),
            _ => return None,
        };
        (here == ip).then(|| a.interface_name.clone())
    })?;
    addrs.iter().filter(|a| a.interface_name == iface).find_map(|a| {
        let v6 = a.address.as_ref()?.as_sockaddr_in6()?.ip();
        (!v6.is_unicast_link_local() && !v6.is_loopback()).then_some(v6)
    })
}

impl Facts {
    /// `ips`: the `--node-ip` values (none, one, or an IPv4 and an IPv6 one). A dual-stack node
    /// without an IPv6 one takes the global IPv6 address of the interface holding the IPv4 one.
    pub fn read(name: Option<String>, ips: &[IpAddr], max_pods: u32, dual_stack: bool) -> Result<Facts> {
        let name = name.unwrap_or_else(|| first_line("/proc/sys/kernel/hostname").to_lowercase());
        anyhow::ensure!(!name.is_empty(), "no node name: pass --node-name");
        let ip = match ips.iter().find(|ip| ip.is_ipv4()).or(ips.first()) {
            Some(ip) => *ip,
            None => first_address().context("no non-loopback address found: pass --node-ip")?,
        };
        let given6 = ips.iter().find_map(|ip| match ip {
            IpAddr::V6(v6) => Some(*v6),
            IpAddr::V4(_) => None,
        });
        let ip6 = match (dual_stack, given6) {
            (false, _) => None,
            (true, Some(v6)) => Some(v6),
            (true, None) => Some(ipv6_next_to(ip).with_context(|| {
                format!("dual-stack node: no global IPv6 address next to {ip}; pass --node-ip=<IPv4>,<IPv6>")
            })?),
        };
        Ok(Facts {
            name,
            ip,
            ip6,
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            memory_bytes: memory_bytes(),
            max_pods,
            os_image: os_image(),
            kernel: first_line("/proc/sys/kernel/osrelease"),
            boot_id: first_line("/proc/sys/kernel/random/boot_id"),
            machine_id: first_line("/etc/machine-id"),
            kubelet_port: 10250,
        })
    }
}

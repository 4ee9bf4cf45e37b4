//! What the node reports about itself: name, address, capacity, system info.

use anyhow::{Context, Result};
use std::net::IpAddr;

#[derive(Debug, Clone)]
pub struct Facts {
    pub name: String,
    pub ip: IpAddr,
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

impl Facts {
    pub fn read(name: Option<String>, ip: Option<IpAddr>, max_pods: u32) -> Result<Facts> {
        let name = name.unwrap_or_else(|| first_line("/proc/sys/kernel/hostname").to_lowercase());
        anyhow::ensure!(!name.is_empty(), "no node name: pass --node-name");
        let ip = match ip {
            Some(ip) => ip,
            None => first_address().context("no non-loopback address found: pass --node-ip")?,
        };
        Ok(Facts {
            name,
            ip,
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

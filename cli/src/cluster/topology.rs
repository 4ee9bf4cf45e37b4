//! The cluster's network namespaces: an underlay namespace with a bridge,
//! and one namespace per node joined to it by a veth pair. Built with
//! iproute2's `ip` (scaffolding for the test cluster, not the pod network).

use super::state::ClusterState;
use anyhow::{Context, Result};
use std::process::Command;

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip").args(args).output().context("running ip (is iproute2 installed?)")?;
    anyhow::ensure!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    Ok(())
}

/// The MTU of the host's default-route interface (the node links use it).
fn host_mtu() -> u32 {
    let out = Command::new("ip").args(["-o", "route", "show", "default"]).output();
    let dev = out.ok().and_then(|o| {
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        let mut words = text.split_whitespace();
        words.find(|w| *w == "dev").and_then(|_| words.next().map(String::from))
    });
    dev.and_then(|d| std::fs::read_to_string(format!("/sys/class/net/{d}/mtu")).ok())
        .and_then(|m| m.trim().parse().ok())
        .unwrap_or(1500)
}

pub fn create(state: &ClusterState) -> Result<()> {
    let ul = &state.underlay_netns;
    let mtu = host_mtu().to_string();
    ip(&["netns", "add", ul])?;
    ip(&["-n", ul, "link", "set", "lo", "up"])?;
    ip(&["-n", ul, "link", "add", "ul0", "type", "bridge"])?;
    ip(&["-n", ul, "link", "set", "ul0", "mtu", &mtu, "up"])?;
    ip(&["-n", ul, "addr", "add", &format!("{}/24", state.underlay_gateway), "dev", "ul0"])?;
    if state.dual_stack {
        let gateway6 = format!("{}/64", super::state::underlay_ipv6(state.underlay_gateway));
        ip(&["-n", ul, "addr", "add", &gateway6, "dev", "ul0", "nodad"])?;
    }
    for (i, node) in state.nodes.iter().enumerate() {
        let ns = &node.netns;
        let port = format!("n{}", i + 1);
        ip(&["netns", "add", ns])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
        ip(&["-n", ns, "link", "add", "eth0", "mtu", &mtu, "type", "veth", "peer", "name", &port, "netns", ul])?;
        ip(&["-n", ul, "link", "set", &port, "master", "ul0", "mtu", &mtu, "up"])?;
        ip(&["-n", ns, "addr", "add", &format!("{}/24", node.ip), "dev", "eth0"])?;
        if state.dual_stack {
            // nodad: the node's agent reads this address at start, before DAD would finish.
            let ip6 = format!("{}/64", super::state::underlay_ipv6(node.ip));
            ip(&["-n", ns, "addr", "add", &ip6, "dev", "eth0", "nodad"])?;
        }
        ip(&["-n", ns, "link", "set", "eth0", "up"])?;
        // A default route, so the node has one to read its MTU from; what
        // it carries ends in the underlay namespace, never on the machine's network.
        ip(&["-n", ns, "route", "add", "default", "via", &state.underlay_gateway.to_string()])?;
    }
    Ok(())
}

pub fn netns_path(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from("/run/netns").join(name)
}

/// Delete the namespaces (their interfaces go with them).
pub fn delete(state: &ClusterState) {
    for node in &state.nodes {
        let _ = Command::new("ip").args(["netns", "del", &node.netns]).output();
    }
    let _ = Command::new("ip").args(["netns", "del", &state.underlay_netns]).output();
}

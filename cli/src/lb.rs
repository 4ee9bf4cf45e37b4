//! `keel lb list|stats`: what the nodes' eBPF load balancers hold, read
//! straight from their pinned maps (so it shows the kernel's view, not the
//! API's).

use anyhow::{Context, Result};
use keel_node_agent::lb::{ExternalLb, Protocol, SocketLb, TrafficPolicy};
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum LbCmd {
    /// Frontends (service address, port, protocol) and their backends.
    #[command(alias = "ls")]
    List {
        /// Only this node (default: every node pinned on this machine).
        #[arg(long)]
        node: Option<String>,
    },
    /// Per-frontend counters: connections and datagrams translated, and
    /// those refused for want of a backend.
    Stats {
        #[arg(long)]
        node: Option<String>,
    },
}

/// The pin directories to read: one node's, or every node's.
fn pin_dirs(node: Option<&str>) -> Result<Vec<(String, PathBuf)>> {
    let root = Path::new(keel_node_agent::service_lb::BPFFS).join("keel");
    if let Some(n) = node {
        return Ok(vec![(n.to_string(), keel_node_agent::service_lb::pin_dir(n))]);
    }
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(&root).with_context(|| format!("no load balancer is pinned under {}", root.display()))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        out.push((name.clone(), keel_node_agent::service_lb::pin_dir(&name)));
    }
    out.sort();
    Ok(out)
}

fn proto(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    }
}

fn policy_name(p: TrafficPolicy) -> &'static str {
    match p {
        TrafficPolicy::Cluster => "cluster",
        TrafficPolicy::Local => "local",
    }
}

/// One node's frontends: the socket path (connections made on the node)
/// and the external path (packets from outside).
fn list_node(name: &str, dir: &Path) -> Result<()> {
    let lb = SocketLb::open_pinned(dir).with_context(|| format!("opening {}", dir.display()))?;
    for e in lb.list()? {
        let backends: Vec<String> = e.backends.iter().map(|b| b.addr.to_string()).collect();
        let policy = e.affinity.map(|d| format!("sticky {}s", d.as_secs())).unwrap_or_else(|| "random".into());
        let shown = if backends.is_empty() { "<none: refused>".to_string() } else { backends.join(",") };
        let (addr, p) = (e.frontend.addr.to_string(), proto(e.frontend.protocol));
        println!("{name:<24} {:<9} {addr:<22} {p:<5} {policy:<11} {shown}", "socket");
    }
    let Ok(ext) = ExternalLb::open_pinned(&keel_node_agent::service_lb::external_pin_dir(name)) else { return Ok(()) };
    for e in ext.list() {
        let backends: Vec<String> =
            e.backends.iter().map(|b| format!("{}{}", b.addr, if b.local { "(local)" } else { "" })).collect();
        let shown = if backends.is_empty() { "<none: dropped>".to_string() } else { backends.join(",") };
        let (addr, p) = (e.frontend.addr.to_string(), proto(e.frontend.protocol));
        println!("{name:<24} {:<9} {addr:<22} {p:<5} {:<11} {shown}", "external", policy_name(e.config.policy));
    }
    Ok(())
}

fn stats_node(name: &str, dir: &Path) -> Result<()> {
    let lb = SocketLb::open_pinned(dir).with_context(|| format!("opening {}", dir.display()))?;
    for (f, c) in lb.stats()? {
        let (addr, p) = (f.addr.to_string(), proto(f.protocol));
        println!("{name:<24} {:<9} {addr:<22} {p:<5} {:>12} {:>12} {:>8}", "socket", c.translated, c.no_backend, "-");
    }
    let Ok(ext) = ExternalLb::open_pinned(&keel_node_agent::service_lb::external_pin_dir(name)) else { return Ok(()) };
    for (f, c) in ext.stats()? {
        let (addr, p) = (f.addr.to_string(), proto(f.protocol));
        let fwd = c.forwarded.packets;
        println!("{name:<24} {:<9} {addr:<22} {p:<5} {fwd:>12} {:>12} {:>8}", "external", c.no_backend, c.denied);
    }
    Ok(())
}

pub fn run(cmd: LbCmd) -> Result<()> {
    match cmd {
        LbCmd::List { node } => {
            println!("{:<24} {:<9} {:<22} {:<5} {:<11} BACKENDS", "NODE", "PATH", "FRONTEND", "PROTO", "POLICY");
            for (name, dir) in pin_dirs(node.as_deref())? {
                list_node(&name, &dir)?;
            }
        }
        LbCmd::Stats { node } => {
            // Socket path: connections translated; external path: packets forwarded.
            println!(
                "{:<24} {:<9} {:<22} {:<5} {:>12} {:>12} {:>8}",
                "NODE", "PATH", "FRONTEND", "PROTO", "TRANSLATED", "NO-BACKEND", "DENIED"
            );
            for (name, dir) in pin_dirs(node.as_deref())? {
                stats_node(&name, &dir)?;
            }
        }
    }
    Ok(())
}

//! `keel lb list|stats`: what the nodes' eBPF load balancers hold, read
//! straight from their pinned maps (so it shows the kernel's view, not the
//! API's).

use anyhow::{Context, Result};
use keel_node_agent::lb::{Protocol, SocketLb};
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
        out.push((e.file_name().to_string_lossy().into_owned(), e.path()));
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

pub fn run(cmd: LbCmd) -> Result<()> {
    match cmd {
        LbCmd::List { node } => {
            println!("{:<24} {:<22} {:<5} {:<9} BACKENDS", "NODE", "FRONTEND", "PROTO", "AFFINITY");
            for (name, dir) in pin_dirs(node.as_deref())? {
                let lb = SocketLb::open_pinned(&dir).with_context(|| format!("opening {}", dir.display()))?;
                for e in lb.list()? {
                    let backends: Vec<String> = e.backends.iter().map(|b| b.addr.to_string()).collect();
                    let affinity = e.affinity.map(|d| format!("{}s", d.as_secs())).unwrap_or_else(|| "-".into());
                    let shown = if backends.is_empty() { "<none: refused>".to_string() } else { backends.join(",") };
                    println!(
                        "{name:<24} {:<22} {:<5} {affinity:<9} {shown}",
                        e.frontend.addr,
                        proto(e.frontend.protocol)
                    );
                }
            }
        }
        LbCmd::Stats { node } => {
            println!("{:<24} {:<22} {:<5} {:>12} {:>12}", "NODE", "FRONTEND", "PROTO", "TRANSLATED", "NO-BACKEND");
            for (name, dir) in pin_dirs(node.as_deref())? {
                let lb = SocketLb::open_pinned(&dir).with_context(|| format!("opening {}", dir.display()))?;
                for (f, c) in lb.stats()? {
                    println!(
                        "{name:<24} {:<22} {:<5} {:>12} {:>12}",
                        f.addr,
                        proto(f.protocol),
                        c.translated,
                        c.no_backend
                    );
                }
            }
        }
    }
    Ok(())
}

//! Keel's node agent: the kubelet role.
//!
//! Today it joins a cluster: registers its Node with the machine's capacity
//! and addresses, waits for the control plane to give it a podCIDR, and
//! heartbeats with a Lease in `kube-node-lease` while reporting its
//! conditions. It talks to the cluster only through the API (kube-rs) with
//! its own credentials. Pods, the container runtime and the pod network
//! arrive next (issue #3).

mod client;
mod heartbeat;
mod machine;
mod node;

use anyhow::{Context, Result};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub struct AgentArgs {
    /// URL of the API server, e.g. https://10.0.0.1:6443.
    #[arg(long)]
    pub server: String,
    /// Join token (the server's `<data-dir>/node-token`).
    #[arg(long, env = "KEEL_TOKEN", hide_env_values = true, required_unless_present = "token_file")]
    pub token: Option<String>,
    /// File holding the join token.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// The cluster CA certificate (the server's `<data-dir>/pki/ca.crt`).
    #[arg(long)]
    pub ca_file: PathBuf,
    /// Name of this node (default: the host name).
    #[arg(long)]
    pub node_name: Option<String>,
    /// Address other nodes reach this one at (default: the first non-loopback address).
    #[arg(long)]
    pub node_ip: Option<IpAddr>,
    /// Where the agent keeps its state.
    #[arg(long, default_value = "/var/lib/keel/agent")]
    pub data_dir: PathBuf,
    /// Pods this node accepts.
    #[arg(long, default_value_t = 110)]
    pub max_pods: u32,
    /// Seconds between heartbeats (Lease renewals and status reports).
    #[arg(long, default_value_t = 10)]
    pub heartbeat_seconds: u64,
}

/// Run the agent until SIGTERM or Ctrl-C.
pub async fn run(args: AgentArgs) -> Result<()> {
    let token = match (&args.token, &args.token_file) {
        (Some(t), _) => t.trim().to_string(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?.trim().to_string()
        }
        (None, None) => anyhow::bail!("--token or --token-file is required"),
    };
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let ca = std::fs::read_to_string(&args.ca_file).with_context(|| format!("reading {}", args.ca_file.display()))?;
    let client = client::connect(&args.server, &ca, &token).await?;
    let facts = machine::Facts::read(args.node_name.clone(), args.node_ip, args.max_pods)?;
    tracing::info!(node = %facts.name, ip = %facts.ip, "registering node");
    node::register(&client, &facts).await?;
    let cidr = node::wait_for_pod_cidr(&client, &facts.name, Duration::from_secs(60)).await?;
    tracing::info!(node = %facts.name, pod_cidr = %cidr, "node registered");
    let beat = heartbeat::Heartbeat::new(client, facts, Duration::from_secs(args.heartbeat_seconds.max(1)));
    tokio::select! {
        r = beat.run() => r,
        _ = shutdown_signal() => {
            tracing::info!("agent stopping");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

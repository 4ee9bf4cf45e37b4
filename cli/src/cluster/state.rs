//! The cluster's state file (`<data-dir>/cluster.json`): what exists, so
//! `down` can remove it even when the supervisor is gone.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeState {
    pub name: String,
    /// `ip netns` name of the node's namespace.
    pub netns: String,
    /// The node's underlay address.
    pub ip: Ipv4Addr,
    pub data_dir: PathBuf,
    #[serde(default)]
    pub agent_pid: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClusterState {
    pub name: String,
    pub dir: PathBuf,
    pub port: u16,
    /// The namespace holding the underlay bridge.
    pub underlay_netns: String,
    pub underlay_gateway: Ipv4Addr,
    pub nodes: Vec<NodeState>,
    #[serde(default)]
    pub supervisor_pid: u32,
    #[serde(default)]
    pub server_pid: u32,
    #[serde(default)]
    pub server_args: Vec<String>,
    #[serde(default)]
    pub agent_args: Vec<String>,
    /// IPv6 next to IPv4: underlay, pod network and Services (`cluster up --dual-stack`).
    #[serde(default)]
    pub dual_stack: bool,
}

/// The dual-stack ranges `cluster up --dual-stack` uses unless the user gave their own.
pub const DUAL_STACK_SERVICE_CIDR: &str = "10.96.0.0/12,fd00:10:96::/112";
pub const DUAL_STACK_CLUSTER_CIDR: &str = "10.244.0.0/16,fd00:10:244::/56";

/// The underlay's IPv6 twin of an underlay IPv4 address: 172.31.0.11 -> fd00:0:ac1f:0::11 (hex),
/// so every node of the /24 shares one /64.
pub fn underlay_ipv6(ip: Ipv4Addr) -> std::net::Ipv6Addr {
    let [a, b, c, d] = ip.octets();
    std::net::Ipv6Addr::new(0xfd00, 0, u16::from_be_bytes([a, b]), u16::from(c), 0, 0, 0, u16::from(d))
}

/// A file in a node's data dir that tells the supervisor to leave its agent stopped.
pub const STOPPED_FLAG: &str = "stopped";

impl ClusterState {
    /// Names and addresses for a new cluster: nodes at 172.31.0.11.. on a
    /// /24 underlay whose gateway (.1) sits in the underlay namespace.
    pub fn plan(name: &str, dir: &Path, nodes: u32, port: u16) -> Self {
        let nodes = (1..=nodes)
            .map(|i| {
                let node = format!("{name}-node-{i}");
                NodeState {
                    netns: format!("keel-{name}-n{i}"),
                    ip: Ipv4Addr::new(172, 31, 0, 10 + i as u8),
                    data_dir: dir.join("nodes").join(&node),
                    name: node,
                    agent_pid: 0,
                }
            })
            .collect();
        ClusterState {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            port,
            underlay_netns: format!("keel-{name}-ul"),
            underlay_gateway: Ipv4Addr::new(172, 31, 0, 1),
            nodes,
            supervisor_pid: 0,
            server_pid: 0,
            server_args: Vec::new(),
            agent_args: Vec::new(),
            dual_stack: false,
        }
    }

    /// Server arguments the cluster adds to the user's (dual-stack ranges), unless given.
    pub fn implied_server_args(&self) -> Vec<String> {
        self.implied_cidr_args(&self.server_args)
    }

    /// Agent arguments the cluster adds to the user's: the same ranges as the server.
    pub fn implied_agent_args(&self) -> Vec<String> {
        // The agents follow what the server was given, so the two never disagree.
        let mut from_server: Vec<String> = self
            .server_args
            .iter()
            .filter(|a| a.starts_with("--service-cidr=") || a.starts_with("--cluster-cidr="))
            .filter(|a| !self.agent_args.iter().any(|b| b.split('=').next() == a.split('=').next()))
            .cloned()
            .collect();
        from_server.extend(self.implied_cidr_args(&[self.agent_args.clone(), from_server.clone()].concat()));
        from_server
    }

    fn implied_cidr_args(&self, given: &[String]) -> Vec<String> {
        if !self.dual_stack {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (flag, value) in [("--service-cidr", DUAL_STACK_SERVICE_CIDR), ("--cluster-cidr", DUAL_STACK_CLUSTER_CIDR)]
        {
            if !given.iter().any(|a| a.starts_with(flag)) {
                out.push(format!("{flag}={value}"));
            }
        }
        out
    }

    fn path(dir: &Path) -> PathBuf {
        dir.join("cluster.json")
    }

    pub fn load(dir: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(Self::path(dir))?;
        serde_json::from_str(&text).with_context(|| format!("reading {}", Self::path(dir).display()))
    }

    /// Write atomically (temp file + rename).
    pub fn save(&self) -> Result<()> {
        let tmp = self.dir.join("cluster.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&tmp, Self::path(&self.dir))?;
        Ok(())
    }

    /// The API server's own data dir (store, PKI, tokens).
    pub fn server_dir(&self) -> PathBuf {
        self.dir.join("server")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig.yaml")
    }

    pub fn supervisor_alive(&self) -> bool {
        pid_alive(self.supervisor_pid)
    }
}

/// Whether a process exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

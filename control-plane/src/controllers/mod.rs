//! Controllers that run beside the API server, as API clients (kube-rs),
//! like kube-controller-manager: level-triggered, idempotent, restartable.

pub mod deployment;
pub mod garbage_collector;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod replicaset;
pub mod scheduler;
pub mod taint_eviction;

use crate::services::Cidr;
use std::time::Duration;

/// Settings the controllers share.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Pod network of the cluster (10.244.0.0/16).
    pub cluster_cidr: Cidr,
    /// Prefix length of each node's podCIDR (24).
    pub node_mask: u8,
    /// How long a node's Lease may go unrenewed before the node is NotReady.
    pub node_grace: Duration,
}

/// Start every controller; they run until the process ends.
pub fn spawn(client: kube::Client, settings: Settings) {
    tokio::spawn(node_ipam::run(client.clone(), settings.clone()));
    tokio::spawn(node_lifecycle::run(client.clone(), settings));
    tokio::spawn(replicaset::run(client.clone()));
    tokio::spawn(deployment::run(client.clone()));
    tokio::spawn(garbage_collector::run(client.clone()));
    tokio::spawn(taint_eviction::run(client.clone()));
    tokio::spawn(scheduler::run(client));
}

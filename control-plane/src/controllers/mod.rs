//! Controllers that run beside the API server, as API clients (kube-rs),
//! like kube-controller-manager: level-triggered, idempotent, restartable.

pub mod deployment;
pub mod endpoints;
pub mod events;
pub mod garbage_collector;
pub mod leader;
pub mod load_balancer;
pub mod namespace;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod replicaset;
pub mod scheduler;
pub mod taint_eviction;

use std::time::Duration;
use tokio::task::JoinSet;

/// Settings the controllers share.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Pod networks of the cluster (10.244.0.0/16; a second family when
    /// dual-stack) and the size of each node's block of them.
    pub pod_networks: node_ipam::blocks::PodNetworks,
    /// How long a node's Lease may go unrenewed before the node is NotReady.
    pub node_grace: Duration,
    /// Leader election timing for the controller manager and the scheduler.
    pub leader: leader::Timing,
    /// Addresses for LoadBalancer Services (none: they stay pending).
    pub lb_pool: load_balancer::Pool,
}

/// Start the controller manager and the scheduler, each behind its own
/// leader election (Leases `kube-controller-manager` and `kube-scheduler`
/// in kube-system, as upstream), so several processes can run them and
/// only one acts at a time. They run until the process ends.
pub fn spawn(client: kube::Client, settings: Settings) {
    let me = leader::identity();
    let timing = settings.leader;
    let c = client.clone();
    let id = me.clone();
    tokio::spawn(async move {
        let start = || {
            let mut set = JoinSet::new();
            set.spawn(node_ipam::run(c.clone(), settings.clone()));
            set.spawn(node_lifecycle::run(c.clone(), settings.clone()));
            set.spawn(taint_eviction::run(c.clone()));
            set.spawn(replicaset::run(c.clone()));
            set.spawn(deployment::run(c.clone()));
            set.spawn(endpoints::run(c.clone()));
            set.spawn(load_balancer::run(c.clone(), settings.lb_pool.clone()));
            set.spawn(garbage_collector::run(c.clone()));
            set.spawn(namespace::run(c.clone()));
            set
        };
        leader::run(c.clone(), "kube-controller-manager", id, timing, start).await
    });
    tokio::spawn(async move {
        let start = || {
            let mut set = JoinSet::new();
            set.spawn(scheduler::run(client.clone()));
            set
        };
        leader::run(client.clone(), "kube-scheduler", me, timing, start).await
    });
}

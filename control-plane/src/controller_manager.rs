//! `keel controller-manager`: the controllers and the scheduler as their
//! own process against any Keel (or Kubernetes) API server, like
//! kube-controller-manager plus kube-scheduler. Leader election makes it
//! safe to run several beside the ones inside `keel server`.

use crate::server::{shutdown_signal, LeaderElectionArgs};
use crate::services::Cidr;
use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub struct ControllerManagerArgs {
    /// Kubeconfig with the API server's address and credentials.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: PathBuf,
    /// Pod network of the cluster; each node gets a block of it.
    #[arg(long, default_value = "10.244.0.0/16")]
    pub cluster_cidr: String,
    /// Prefix length of each node's podCIDR.
    #[arg(long, default_value_t = 24)]
    pub node_cidr_mask_size: u8,
    /// Seconds a node may go without renewing its Lease before it is NotReady.
    #[arg(long, default_value_t = 20)]
    pub node_monitor_grace_period: u64,
    /// Addresses LoadBalancer Services get (CIDRs or FIRST-LAST ranges,
    /// comma-separated); empty leaves them pending.
    #[arg(long, default_value = "")]
    pub load_balancer_pool: String,
    #[command(flatten)]
    pub leader_election: LeaderElectionArgs,
}

pub async fn run(args: ControllerManagerArgs) -> anyhow::Result<()> {
    let kubeconfig = kube::config::Kubeconfig::read_from(&args.kubeconfig)
        .with_context(|| format!("reading {}", args.kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    let client = kube::Client::try_from(config).context("creating the API client")?;
    let settings = crate::controllers::Settings {
        cluster_cidr: Cidr::parse(&args.cluster_cidr).map_err(anyhow::Error::msg)?,
        node_mask: args.node_cidr_mask_size,
        node_grace: Duration::from_secs(args.node_monitor_grace_period.max(1)),
        leader: args.leader_election.timing(),
        lb_pool: crate::controllers::load_balancer::Pool::parse(&args.load_balancer_pool)
            .map_err(anyhow::Error::msg)?,
    };
    crate::controllers::spawn(client, settings);
    tracing::info!("controller manager started; waiting for leadership");
    shutdown_signal().await;
    Ok(())
}

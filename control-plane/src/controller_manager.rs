//! `keel controller-manager`: the controllers and the scheduler as their
//! own process against any Keel (or Kubernetes) API server, like
//! kube-controller-manager plus kube-scheduler. Leader election makes it
//! safe to run several beside the ones inside `keel server`.

use crate::server::{shutdown_signal, LeaderElectionArgs, PodNetworkArgs};
use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub struct ControllerManagerArgs {
    /// Kubeconfig with the API server's address and credentials.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: PathBuf,
    #[command(flatten)]
    pub pod_network: PodNetworkArgs,
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
        pod_networks: args.pod_network.pod_networks()?,
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

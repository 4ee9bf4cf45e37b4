//! The `keel` binary: one program for every role.

use clap::{Parser, Subcommand};
use keel_control_plane::server::{self, ServerArgs};
use keel_node_agent::AgentArgs;

mod cluster;
mod dns;
mod image;
mod lb;

#[derive(Parser)]
#[command(name = "keel", version, about = "Keel: a networking-first Kubernetes in one binary")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane (the Kubernetes API server on the embedded
    /// store and its controllers) and, unless --disable-agent, a node agent.
    Server(ServerArgs),
    /// Run a node agent that joins a cluster.
    Agent(AgentArgs),
    /// Run the controllers and the scheduler against an API server (with
    /// leader election, so several can run at once).
    ControllerManager(keel_control_plane::controller_manager::ControllerManagerArgs),
    /// Run a multi-node cluster on this machine (nodes in network namespaces).
    #[command(subcommand)]
    Cluster(cluster::ClusterCmd),
    /// Manage the node's image store.
    #[command(subcommand)]
    Image(image::ImageCmd),
    /// Show the nodes' eBPF service load balancers (from their pinned maps).
    #[command(subcommand)]
    Lb(lb::LbCmd),
    /// Ask a node's cluster DNS server directly (for debugging).
    #[command(subcommand)]
    Dns(dns::DnsCmd),
    /// Run one container (started by the agent, not by hand).
    #[command(hide = true)]
    ContainerShim { state_dir: std::path::PathBuf },
}

/// `keel server`: serve the API, with an agent for this machine beside it.
async fn run_server(args: ServerArgs) -> anyhow::Result<()> {
    let data_dir = args.data_dir.clone();
    let embedded_agent = !args.disable_agent;
    let node_name = args.node_name.clone();
    // The embedded agent follows the server's ranges (dual-stack included).
    let parse_nets = |flag: &str, list: &str| -> anyhow::Result<Vec<ipnet::IpNet>> {
        list.split(',').map(|n| n.trim().parse().map_err(|e| anyhow::anyhow!("{flag} {n}: {e}"))).collect()
    };
    let (service_cidrs, cluster_cidrs) = (args.service_cidr.clone(), args.pod_network.cluster_cidr.clone());
    // The server validates the ranges first, with its own messages.
    let started = server::start(args).await?;
    if embedded_agent {
        let service_cidr = parse_nets("--service-cidr", &service_cidrs)?;
        let cluster_cidr = parse_nets("--cluster-cidr", &cluster_cidrs)?;
        let mut agent = AgentArgs::new(
            started.url.clone(),
            started.ca_file.clone(),
            started.node_token_file.clone(),
            data_dir.join("agent"),
        );
        agent.node_ip = vec![started.advertise];
        agent.node_name = node_name;
        agent.service_cidr = service_cidr;
        agent.cluster_cidr = cluster_cidr;
        tokio::spawn(async move {
            if let Err(e) = keel_node_agent::run(agent).await {
                tracing_error(&e);
            }
        });
    }
    started.serve().await
}

fn tracing_error(e: &anyhow::Error) {
    eprintln!("embedded agent stopped: {e:#}");
}

fn main() -> anyhow::Result<()> {
    // The shim is its own small process: no runtime, no logging set-up.
    let cli = Cli::parse();
    if let Command::ContainerShim { state_dir } = &cli.command {
        std::process::exit(keel_node_agent::runtime::shim_main(state_dir));
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sled=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // glibc gives every thread that allocates its own malloc arena, which
    // holds on to memory; two arenas serve two cores as well and keep the
    // agent's RSS proportional to its pods rather than to its thread count.
    // SAFETY: mallopt only changes allocator settings; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if matches!(cli.command, Command::Agent(_)) {
        // Container starts and image reads run on blocking threads; a burst
        // of pods should queue on a few, not start one thread per pod.
        builder.max_blocking_threads(8);
    }
    let runtime = builder.enable_all().build()?;
    match cli.command {
        Command::Server(args) => runtime.block_on(run_server(args)),
        Command::Agent(args) => runtime.block_on(keel_node_agent::run(args)),
        Command::ControllerManager(args) => runtime.block_on(keel_control_plane::controller_manager::run(args)),
        Command::Image(cmd) => runtime.block_on(image::run(cmd)),
        Command::Lb(cmd) => lb::run(cmd),
        Command::Dns(cmd) => runtime.block_on(dns::run(cmd)),
        Command::Cluster(cmd) => runtime.block_on(cluster::run(cmd)),
        Command::ContainerShim { .. } => Ok(()),
    }
}

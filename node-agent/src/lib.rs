//! Keel's node agent: the kubelet role.
//!
//! It joins a cluster (registers its Node with the machine's capacity and
//! addresses, waits for the control plane to give it a podCIDR, heartbeats
//! with a Lease in `kube-node-lease`) and runs the pods bound to it: each
//! in its own network namespace on the node bridge (`network`), its
//! containers as real processes in their own namespaces on an overlayfs
//! root (`runtime`) from the node's image store (`image`), driven by the
//! kubelet loop (`kubelet`). It talks to the cluster only through the API
//! (kube-rs) with its own credentials.

mod client;
pub mod dns;
mod dual_stack;
mod heartbeat;
pub mod image;
pub mod kubelet;
pub mod kubelet_api;
pub mod lb;
mod machine;
pub mod network;
mod node;
mod peers;
pub mod runtime;
pub mod service_lb;

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
    /// Address other nodes reach this one at (default: the first non-loopback address). On a
    /// dual-stack node an IPv4 and an IPv6 address, comma-separated; without the IPv6 one, the
    /// global IPv6 address of the interface holding the IPv4 one is used.
    #[arg(long, value_delimiter = ',')]
    pub node_ip: Vec<IpAddr>,
    /// Where the agent keeps its state.
    #[arg(long, default_value = "/var/lib/keel/agent")]
    pub data_dir: PathBuf,
    /// Pods this node accepts.
    #[arg(long, default_value_t = 110)]
    pub max_pods: u32,
    /// Seconds between heartbeats (Lease renewals and status reports).
    #[arg(long, default_value_t = 10)]
    pub heartbeat_seconds: u64,
    /// The cluster's pod network (every node's podCIDR is inside it). Dual-stack: an IPv4 and an
    /// IPv6 network, comma-separated, as given to the server.
    #[arg(long, value_delimiter = ',', default_value = "10.244.0.0/16")]
    pub cluster_cidr: Vec<ipnet::IpNet>,
    /// The Service CIDR(s): the node gets an unreachable route for each.
    #[arg(long, value_delimiter = ',', default_value = "10.96.0.0/12")]
    pub service_cidr: Vec<ipnet::IpNet>,
    /// Cluster DNS server written into pods' resolv.conf.
    #[arg(long, default_value = "10.96.0.10")]
    pub cluster_dns: Vec<std::net::Ipv4Addr>,
    /// The cluster's DNS domain.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Port of this node's cluster DNS server on the node address (UDP and TCP); 0 turns it off.
    #[arg(long, default_value_t = 53)]
    pub dns_port: u16,
    /// TTL of cluster DNS answers, and of negative answers, in seconds.
    #[arg(long, default_value_t = 5)]
    pub dns_ttl: u32,
    /// Resolver for names outside the cluster domain (repeatable, `IP` or `IP:PORT`); default:
    /// the nameservers of `--resolv-conf`.
    #[arg(long = "dns-upstream")]
    pub dns_upstreams: Vec<String>,
    /// How `<a-b-c-d>.<namespace>.pod.<domain>` names are answered.
    #[arg(long, value_enum, default_value = "insecure")]
    pub dns_pod_records: dns::PodRecordsMode,
    /// pids.max for each container (unlimited when unset).
    #[arg(long)]
    pub pod_pids_limit: Option<u64>,
    /// The node's resolv.conf, for pods with dnsPolicy Default.
    #[arg(long, default_value = "/etc/resolv.conf")]
    pub resolv_conf: PathBuf,
    /// Name of the node's pod bridge.
    #[arg(long, default_value = "keel0")]
    pub bridge: String,
    /// Port of the kubelet API (logs, exec, port-forward for the API server).
    #[arg(long, default_value_t = 10250)]
    pub kubelet_port: u16,
    /// Port of the plain-HTTP Prometheus `/metrics` (kube-proxy's 10249); 0 turns it off.
    #[arg(long, default_value_t = 10249)]
    pub metrics_port: u16,
    /// Maglev table size per outside-reachable frontend (a prime; larger
    /// tables spread more evenly and remap less, and cost more map space).
    #[arg(long, default_value_t = 1021)]
    pub maglev_table_size: u32,
}

impl AgentArgs {
    /// Defaults for everything but how to reach the server.
    pub fn new(server: String, ca_file: PathBuf, token_file: PathBuf, data_dir: PathBuf) -> Self {
        AgentArgs {
            server,
            token: None,
            token_file: Some(token_file),
            ca_file,
            node_name: None,
            node_ip: Vec::new(),
            data_dir,
            max_pods: 110,
            heartbeat_seconds: 10,
            cluster_cidr: vec![ipnet::Ipv4Net::new_assert(std::net::Ipv4Addr::new(10, 244, 0, 0), 16).into()],
            service_cidr: vec![ipnet::Ipv4Net::new_assert(std::net::Ipv4Addr::new(10, 96, 0, 0), 12).into()],
            cluster_dns: vec![std::net::Ipv4Addr::new(10, 96, 0, 10)],
            cluster_domain: "cluster.local".into(),
            dns_port: 53,
            dns_ttl: 5,
            dns_upstreams: Vec::new(),
            dns_pod_records: dns::PodRecordsMode::Insecure,
            pod_pids_limit: None,
            resolv_conf: "/etc/resolv.conf".into(),
            bridge: "keel0".into(),
            kubelet_port: 10250,
            metrics_port: 10249,
            maglev_table_size: 1021,
        }
    }
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
    let families = dual_stack::Families::from_args(&args.cluster_cidr, &args.service_cidr)?;
    let mut facts = machine::Facts::read(args.node_name.clone(), &args.node_ip, args.max_pods, families.is_dual())?;
    facts.kubelet_port = args.kubelet_port;
    tracing::info!(node = %facts.name, ip = %facts.ip, ip6 = ?facts.ip6, "registering node");
    node::register(&client, &facts).await?;
    let cidrs = node::wait_for_pod_cidrs(&client, &facts.name, families.is_dual(), Duration::from_secs(60)).await?;
    tracing::info!(node = %facts.name, pod_cidrs = ?cidrs, "node registered");
    let (pod_cidr, pod_cidr6) = dual_stack::split_pod_cidrs(&cidrs)?;
    // Set up in this (the node's) network namespace before anything awaits.
    let network = network::NodeNetwork::setup(network::NetworkConfig {
        state_dir: args.data_dir.join("network"),
        pod_cidr,
        cluster_cidr: families.cluster_cidr,
        service_cidr: families.service_cidr,
        bridge_name: args.bridge.clone(),
        mtu: None,
        ipv6: pod_cidr6.map(|pod_cidr| network::Ipv6Config { pod_cidr, service_cidr: families.service_cidr6 }),
    })
    .await
    .context("setting up the pod network")?;
    let images = image::ImageStore::open(&args.data_dir.join("images")).context("opening the image store")?;
    let shim = std::env::current_exe().context("locating the keel binary for container shims")?;
    let runtime = runtime::Runtime::new(shim, vec!["container-shim".into()]);
    let config = kubelet::Config {
        node_name: facts.name.clone(),
        node_ip: facts.ip,
        pods_dir: args.data_dir.join("pods"),
        cluster_dns: args.cluster_dns.clone(),
        cluster_domain: args.cluster_domain.clone(),
        pod_pids_limit: args.pod_pids_limit,
        allocatable_cpu_millis: facts.cpus as u64 * 1000,
        allocatable_memory: facts.memory_bytes,
        host_resolv_conf: args.resolv_conf.clone(),
    };
    let network = std::sync::Arc::new(network);
    tokio::spawn(peers::run(client.clone(), network.clone(), facts.name.clone()));
    // Services in the kernel: an agent that cannot load its eBPF programs
    // says why and stops, rather than run a node without Services.
    let lb = service_lb::start(&facts.name).context("starting the eBPF service load balancer")?;
    tracing::info!(pins = %lb.pin_dir().display(), "service load balancer attached");
    let node_ip = match facts.ip {
        std::net::IpAddr::V4(ip) => ip,
        std::net::IpAddr::V6(ip) => anyhow::bail!("node address {ip} is IPv6: the load balancer is IPv4-only for now"),
    };
    let external = service_lb::start_external(&facts.name, node_ip)
        .context("attaching the eBPF load balancer for outside traffic (NodePort, LoadBalancer)")?;
    let dns_stats = (args.dns_port != 0).then(|| std::sync::Arc::new(dns::DnsStats::default()));
    if args.metrics_port != 0 {
        let listen = std::net::SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), args.metrics_port);
        let pins = lb.pin_dir().to_path_buf();
        tokio::spawn(service_lb::metrics::serve(listen, facts.name.clone(), pins, dns_stats.clone()));
    }
    // LoadBalancer addresses are announced with ARP (L2 mode); a node that
    // cannot open the socket still serves traffic routed to it.
    let announcer = match service_lb::external_interface(node_ip).map(|i| service_lb::announce::Announcer::start(&i)) {
        Ok(Ok(a)) => Some(a),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "no ARP announcements of LoadBalancer addresses");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "no ARP announcements of LoadBalancer addresses");
            None
        }
    };
    if let Some(stats) = dns_stats {
        let upstreams = dns_upstreams(&args)?;
        let dns = dns::DnsConfig {
            domain: args.cluster_domain.clone(),
            ttl: args.dns_ttl,
            listen: std::net::SocketAddr::new(node_ip.into(), args.dns_port),
            upstreams,
            pod_records: args.dns_pod_records,
        };
        let (dns_client, node) = (client.clone(), facts.name.clone());
        tokio::spawn(async move {
            // A node without its DNS server still runs pods; say why loudly.
            if let Err(e) = dns::serve(dns_client, node, dns, stats).await {
                tracing::error!(error = %e, "cluster DNS server stopped");
            }
        });
    }
    let dataplane = service_lb::Dataplane { socket: lb, external, maglev_size: args.maglev_table_size, announcer };
    tokio::spawn(service_lb::run(client.clone(), dataplane, facts.name.clone(), vec![node_ip]));
    let ctx = std::sync::Arc::new(kubelet::Context::new(client.clone(), config, runtime, network, images));
    // The kubelet API (logs, exec, attach, port-forward) for the API server,
    // which is the only client it accepts: its certificate is signed by the cluster CA.
    let api_config = kubelet_api::KubeletApiConfig {
        listen: std::net::SocketAddr::new(facts.ip, args.kubelet_port),
        client_ca_pem: ca.clone(),
        serving_cert_dir: args.data_dir.join("pki"),
        node_name: facts.name.clone(),
    };
    let lookup: std::sync::Arc<dyn kubelet_api::PodLookup> = std::sync::Arc::new(kubelet::Lookup(ctx.clone()));
    let api_runtime = ctx.runtime.clone();
    tokio::spawn(async move {
        if let Err(e) = kubelet_api::serve(api_config, lookup, api_runtime).await {
            tracing::error!(error = %e, "kubelet API stopped");
        }
    });
    let beat = heartbeat::Heartbeat::new(client, facts, Duration::from_secs(args.heartbeat_seconds.max(1)));
    tokio::select! {
        r = beat.run() => r,
        r = kubelet::run(ctx) => r,
        _ = shutdown_signal() => {
            tracing::info!("agent stopping");
            Ok(())
        }
    }
}

/// `--dns-upstream` values, or the nameservers of `--resolv-conf`.
fn dns_upstreams(args: &AgentArgs) -> Result<Vec<std::net::SocketAddr>> {
    if args.dns_upstreams.is_empty() {
        let text = std::fs::read_to_string(&args.resolv_conf).unwrap_or_default();
        return Ok(dns::upstreams_from_resolv_conf(&text));
    }
    args.dns_upstreams
        .iter()
        .map(|u| {
            u.parse::<std::net::SocketAddr>()
                .or_else(|_| u.parse::<std::net::IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53)))
                .with_context(|| format!("--dns-upstream {u}: not an IP or IP:PORT"))
        })
        .collect()
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

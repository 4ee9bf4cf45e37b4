//! Cluster DNS, served by every node agent for the pods on its node (like NodeLocal DNSCache,
//! built in): an authoritative server for the cluster domain, implementing the Kubernetes DNS
//! specification, on `<node IP>:53`. The `kube-dns` Service (10.96.0.10, internalTrafficPolicy
//! Local) leads each pod to its own node's server through the socket load balancer; every agent
//! publishes its address as an EndpointSlice of that Service.
//!
//! - `sources.rs`: the part of each Service, EndpointSlice and Pod the zone needs;
//! - `zone.rs`: names and records, indexed from those summaries;
//! - `handler.rs`: one request in, one response out;
//! - `udp.rs`: the UDP receive loop (hickory-server runs TCP);
//! - `forward.rs`: other names, to the node's upstream resolvers with a cache;
//! - `autopath.rs`: search-list completion on the server for this node's pods;
//! - `watch.rs`: keeps the zone in step with the API;
//! - `endpoint.rs`: this node's kube-dns EndpointSlice.
mod autopath;
mod endpoint;
mod forward;
mod handler;
mod names;
pub mod packet_check;
#[cfg(test)]
mod packet_fuzz;
pub mod sources;
mod stats;
mod udp;
mod watch;
pub mod zone;

use std::{
    net::SocketAddr,
    sync::{Arc, RwLock},
    time::Duration,
};

use hickory_server::ServerFuture;

/// How a node serves DNS.
#[derive(Clone, Debug)]
pub struct DnsConfig {
    /// e.g. `cluster.local`.
    pub domain: String,
    /// TTL of every answer, and the negative TTL (SOA minimum).
    pub ttl: u32,
    /// Where to listen (UDP and TCP): the node's address at port 53.
    pub listen: SocketAddr,
    /// Resolvers for names outside the cluster domain; none: such queries are refused.
    pub upstreams: Vec<SocketAddr>,
    /// How `<a-b-c-d>.<ns>.pod.<zone>` names are answered.
    pub pod_records: PodRecordsMode,
}

/// `--dns-pod-records`, as CoreDNS's `pods` option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PodRecordsMode {
    /// Any well-formed name answers with the address it spells.
    #[default]
    Insecure,
    /// Only when a pod of that namespace has that address (every agent then watches all pods).
    Verified,
    /// No pod records.
    Disabled,
}

pub use forward::upstreams_from_resolv_conf;
pub use stats::DnsStats;

/// Binds the server and keeps it and the zone running until the agent stops. Errors only when
/// the sockets cannot be bound (e.g. the port is taken).
pub async fn serve(client: kube::Client, node: String, config: DnsConfig, stats: Arc<DnsStats>) -> anyhow::Result<()> {
    let empty = zone::Zone::build(
        &config.domain,
        config.ttl,
        &zone::Sources { services: &[], slices: &[], dns_ip: None, pod_records: zone::PodRecords::Disabled },
    )
    .map_err(anyhow::Error::msg)?;
    let shared: handler::SharedZone = Arc::new(RwLock::new(Arc::new(empty)));
    let forwarder = (!config.upstreams.is_empty()).then(|| Arc::new(forward::Forwarder::new(&config.upstreams)));
    let pods = Some(Arc::new(autopath::NodePods::watch(client.clone(), &node)));
    let handler = handler::Handler::new(shared.clone(), forwarder, pods, stats);
    let udp = tokio::net::UdpSocket::bind(config.listen).await?;
    let tcp = tokio::net::TcpListener::bind(config.listen).await?;
    tokio::spawn(udp::serve(udp, handler.clone()));
    let mut server = ServerFuture::new(handler);
    server.register_listener(tcp, Duration::from_secs(5));
    tracing::info!(listen = %config.listen, domain = %config.domain, upstreams = ?config.upstreams, "cluster DNS listening");
    tokio::spawn(endpoint::publish(client.clone(), node, config.listen));
    tokio::spawn(watch::run(client, config, shared));
    server.block_until_done().await?;
    Ok(())
}

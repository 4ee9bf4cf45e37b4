//! `keel server`: the control plane process. Sets up the data dir, PKI and
//! store, bootstraps the cluster and serves the API over HTTPS.

use crate::api::{self, ApiServer, User};
use crate::controllers::node_ipam::blocks::PodNetworks;
use crate::pki;
use crate::registry::Registry;
use crate::services::Ranges;
use crate::store::{SledBackend, Store};
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Leader election timing (kube-controller-manager's flags, in seconds).
#[derive(clap::Args, Debug, Clone)]
pub struct LeaderElectionArgs {
    /// How long a leader's Lease is honoured without renewal.
    #[arg(long, default_value_t = 15)]
    pub leader_elect_lease_duration: u64,
    /// How long a leader keeps trying to renew before it stops acting.
    #[arg(long, default_value_t = 10)]
    pub leader_elect_renew_deadline: u64,
    /// Seconds between attempts to take or renew the Lease.
    #[arg(long, default_value_t = 2)]
    pub leader_elect_retry_period: u64,
}

impl LeaderElectionArgs {
    pub fn timing(&self) -> crate::controllers::leader::Timing {
        crate::controllers::leader::Timing {
            lease_duration: Duration::from_secs(self.leader_elect_lease_duration.max(1)),
            renew_deadline: Duration::from_secs(self.leader_elect_renew_deadline.max(1)),
            retry_period: Duration::from_secs(self.leader_elect_retry_period.max(1)),
        }
    }
}

/// The pod network and how it is split among nodes (kube-controller-manager's
/// `--cluster-cidr` and node mask sizes).
#[derive(clap::Args, Debug, Clone)]
pub struct PodNetworkArgs {
    /// Pod network of the cluster; each node gets a block of it. Two
    /// comma-separated CIDRs of different families make it dual-stack
    /// (the first is the primary family).
    #[arg(long, default_value = "10.244.0.0/16")]
    pub cluster_cidr: String,
    /// Prefix length of each node's IPv4 pod block.
    #[arg(long, default_value_t = 24)]
    pub node_cidr_mask_size: u8,
    /// Prefix length of each node's IPv6 pod block.
    #[arg(long, default_value_t = 64)]
    pub node_cidr_mask_size_ipv6: u8,
}

impl PodNetworkArgs {
    pub fn pod_networks(&self) -> Result<PodNetworks> {
        let ranges = Ranges::parse("--cluster-cidr", &self.cluster_cidr)?;
        Ok(PodNetworks::new(&ranges, self.node_cidr_mask_size, self.node_cidr_mask_size_ipv6)?)
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// Where the store, PKI, tokens and kubeconfig live.
    #[arg(long, default_value = "/var/lib/keel", env = "KEEL_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Port of the HTTPS API.
    #[arg(long, default_value_t = 6443)]
    pub https_port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// Address other nodes and the `kubernetes` Service use to reach this
    /// server (default: the first non-loopback address, else 127.0.0.1).
    #[arg(long)]
    pub advertise_address: Option<IpAddr>,
    /// Extra names or IPs for the serving certificate (repeatable).
    #[arg(long = "tls-san")]
    pub tls_san: Vec<String>,
    /// Range ClusterIPs come from; two comma-separated CIDRs of different
    /// families make Services dual-stack capable (the first is the primary
    /// family). At most 20 host bits each (a /12 or a /108), as upstream.
    #[arg(long, default_value = "10.96.0.0/12")]
    pub service_cidr: String,
    /// Seconds between watch bookmarks.
    #[arg(long, default_value_t = 60, hide = true)]
    pub watch_bookmark_seconds: u64,
    #[command(flatten)]
    pub pod_network: PodNetworkArgs,
    /// Seconds a node may go without renewing its Lease before it is NotReady.
    #[arg(long, default_value_t = 20)]
    pub node_monitor_grace_period: u64,
    /// tolerationSeconds pods get for the not-ready NoExecute taint unless
    /// they say otherwise (kube-apiserver's default is 300).
    #[arg(long, default_value_t = 30)]
    pub default_not_ready_toleration_seconds: i64,
    /// tolerationSeconds pods get for the unreachable NoExecute taint.
    #[arg(long, default_value_t = 30)]
    pub default_unreachable_toleration_seconds: i64,
    /// Events kept for watches to resume from.
    #[arg(long, default_value_t = crate::store::HISTORY_WINDOW, hide = true)]
    pub watch_history: usize,
    /// Do not run a node agent inside the server process.
    #[arg(long)]
    pub disable_agent: bool,
    /// Node name of the embedded agent (default: the hostname).
    #[arg(long)]
    pub node_name: Option<String>,
    /// Do not run the controllers and the scheduler in this process (run
    /// them with `keel controller-manager` instead).
    #[arg(long)]
    pub disable_controllers: bool,
    /// Addresses LoadBalancer Services get (CIDRs or FIRST-LAST ranges,
    /// comma-separated); empty leaves them pending.
    #[arg(long, default_value = "")]
    pub load_balancer_pool: String,
    #[command(flatten)]
    pub leader_election: LeaderElectionArgs,
    /// Memory for the store's page cache, in MiB.
    #[arg(long, default_value_t = 16, hide = true)]
    pub store_cache_mib: u64,
}

fn tls_acceptor(p: &pki::Pki) -> Result<TlsAcceptor> {
    let certs = rustls_pemfile::certs(&mut p.server_cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .context("reading serving certificate")?;
    let key = rustls_pemfile::private_key(&mut p.server_key_pem.as_bytes())
        .context("reading serving key")?
        .context("no private key in the serving key file")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The URL this machine's own clients use.
fn local_url(bind: IpAddr, port: u16) -> String {
    let host = if bind.is_unspecified() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { bind };
    match host {
        IpAddr::V6(a) => format!("https://[{a}]:{port}"),
        IpAddr::V4(a) => format!("https://{a}:{port}"),
    }
}

/// A server that has bound its port and bootstrapped the cluster, ready to
/// serve; what a co-located agent needs to join is in the public fields.
pub struct Started {
    /// URL this machine's clients (and an embedded agent) use.
    pub url: String,
    pub ca_file: PathBuf,
    pub node_token_file: PathBuf,
    /// The address other nodes reach this server at.
    pub advertise: IpAddr,
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: axum::Router,
}

impl Started {
    /// Serve the API until SIGTERM or Ctrl-C.
    pub async fn serve(self) -> Result<()> {
        serve(self.listener, self.acceptor, self.app).await
    }
}

/// Start and serve.
pub async fn run(args: ServerArgs) -> Result<()> {
    start(args).await?.serve().await
}

/// Everything up to serving: data dir, PKI, store, bootstrap, controllers.
pub async fn start(args: ServerArgs) -> Result<Started> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let host_addrs = pki::host_addresses();
    let advertise = args
        .advertise_address
        .or_else(|| (!args.bind_address.is_unspecified()).then_some(args.bind_address))
        .or_else(|| host_addrs.first().copied())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut extra_sans = args.tls_san.clone();
    extra_sans.push(advertise.to_string());
    if !args.bind_address.is_unspecified() {
        extra_sans.push(args.bind_address.to_string());
    }
    let paths = pki::PkiPaths::new(&args.data_dir);
    let pki = pki::ensure(&paths, &pki::wanted_sans(&extra_sans, &host_addrs))?;
    let admin_token = pki::ensure_token(&args.data_dir.join("admin-token"))?;
    // Agents join with this token.
    let node_token = pki::ensure_token(&args.data_dir.join("node-token"))?;
    // The in-process controllers' own credential; never written down.
    let controller_token = pki::random_token();
    let pod_networks = args.pod_network.pod_networks()?;
    let service_cidrs = Ranges::parse_service("--service-cidr", &args.service_cidr)?;

    let backend = SledBackend::open(&args.data_dir.join("db"), args.store_cache_mib << 20)
        .map_err(|e| anyhow::anyhow!("opening the store in {}: {e}", args.data_dir.display()))?;
    let store = Store::open_with_history(Box::new(backend), args.watch_history)
        .map_err(|e| anyhow::anyhow!("loading the store: {e}"))?;
    let registry = Arc::new(Registry::new());
    let mut tokens = HashMap::new();
    tokens.insert(admin_token.clone(), User { name: "admin".into() });
    tokens.insert(node_token, User { name: "system:node-bootstrap".into() });
    tokens.insert(controller_token.clone(), User { name: "system:kube-controller-manager".into() });
    let mut server = ApiServer::new(store, registry, tokens, format!("{advertise}:{}", args.https_port), service_cidrs);
    server.bookmark_interval = Duration::from_secs(args.watch_bookmark_seconds.max(1));
    let (kubelet_cert, kubelet_key) = pki::ensure_kubelet_client(&paths)?;
    server.default_toleration_seconds = crate::api::DefaultTolerations {
        not_ready: args.default_not_ready_toleration_seconds.max(0),
        unreachable: args.default_unreachable_toleration_seconds.max(0),
    };
    server.kubelet_tls = Some(Arc::new(crate::api::node_proxy::client_config(&kubelet_cert, &kubelet_key)?));
    let server = Arc::new(server);
    crate::crd::load_all(&server);

    // Bind before anything announces readiness, so start-up fails loudly.
    let addr = SocketAddr::new(args.bind_address, args.https_port);
    let listener = TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
    let acceptor = tls_acceptor(&pki)?;

    crate::bootstrap::run(&server, advertise, args.https_port).await?;

    let kubeconfig_path = args.data_dir.join("kubeconfig.yaml");
    let kubeconfig = pki::kubeconfig(&local_url(args.bind_address, args.https_port), &pki.ca_pem, &admin_token);
    pki::write_private(&kubeconfig_path, kubeconfig.as_bytes())?;
    tracing::info!(%addr, kubeconfig = %kubeconfig_path.display(), "keel API server ready");

    // The listener is bound, so the controllers' first requests queue until
    // the accept loop below runs.
    let settings = crate::controllers::Settings {
        pod_networks,
        node_grace: Duration::from_secs(args.node_monitor_grace_period.max(1)),
        leader: args.leader_election.timing(),
        lb_pool: crate::controllers::load_balancer::Pool::parse(&args.load_balancer_pool)
            .map_err(anyhow::Error::msg)?,
    };
    if !args.disable_controllers {
        let url = local_url(args.bind_address, args.https_port);
        let client = controller_client(&url, &pki.ca_pem, &controller_token)?;
        crate::controllers::spawn(client, settings);
    }

    Ok(Started {
        url: local_url(args.bind_address, args.https_port),
        ca_file: paths.ca_cert(),
        node_token_file: args.data_dir.join("node-token"),
        advertise,
        listener,
        acceptor,
        app: api::router(server),
    })
}

/// A kube-rs client for the in-process controllers.
fn controller_client(url: &str, ca_pem: &str, token: &str) -> Result<kube::Client> {
    let certs = rustls_pemfile::certs(&mut ca_pem.as_bytes())
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .context("reading the CA certificate")?;
    let mut config = kube::Config::new(url.parse().context("API URL")?);
    config.root_cert = Some(certs);
    config.auth_info.token = Some(secrecy::SecretString::from(token.to_string()));
    kube::Client::try_from(config).context("creating the controllers' API client")
}

async fn serve(listener: TcpListener, acceptor: TlsAcceptor, app: axum::Router) -> Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept");
                    continue;
                }
            },
            _ = &mut shutdown => {
                tracing::info!("shutting down");
                return Ok(());
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let tls = match acceptor.accept(tcp).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake");
                    return;
                }
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // Flatten each write into one buffer: through TLS, vectored
            // writes become one record per slice (chunk header, data, CRLF),
            // which triples the per-event cost of watch fan-out.
            builder.http1().writev(false);
            if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(tls), service).await {
                tracing::debug!(%peer, error = %e, "connection");
            }
        });
    }
}

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

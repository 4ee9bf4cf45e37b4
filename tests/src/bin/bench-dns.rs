//! `cargo xtask bench dns`: the node's cluster DNS server under dnsperf, next to NSD serving the
//! same records from zone files in the same run (the ceiling: an authoritative server written in
//! C for exactly this job).
//!
//! Setup: a keel API server on loopback holding 1,000 Services (every tenth headless, with
//! StatefulSet-style hostnames) in 10 namespaces, one EndpointSlice each with 10 endpoints, and
//! the 10,000 Pods behind them (status with their addresses). Keel's DNS runs in its own process
//! (this binary, `serve`) on CPU 0 with a single-threaded runtime, twice: with the default
//! (insecure) pod records, which is loaded, and with verified pod records, which holds every pod
//! and is measured for memory only. NSD runs on CPU 0 with one server process; dnsperf runs on
//! CPU 1. Names outside the cluster are forwarded to a dnsmasq on loopback; the external rows
//! measure them once cached.
//!
//! Everything listens on 127.0.0.1 and every answer is checked (dnsperf's response codes must be
//! all NOERROR), so a server that answers badly cannot score.
use anyhow::{bail, Context, Result};
use futures::{stream, StreamExt, TryStreamExt};
use k8s_openapi::api::{
    core::v1::{Namespace, Node, Pod, Service},
    discovery::v1::EndpointSlice,
};
use keel_e2e::Server;
use keel_node_agent::dns::{
    sources::{PodIndex, ServiceInfo, SliceInfo},
    zone::{PodRecords, Sources, Zone},
    DnsConfig, DnsStats, PodRecordsMode,
};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use std::{
    fmt::Write as _,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::Path,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

const NAMESPACES: usize = 10;
const SERVICES: usize = 1_000;
const HEADLESS_EVERY: usize = 10;
const PODS_PER_SERVICE: usize = 10;
const EXTERNAL_NAMES: usize = 1_000;
/// dnsperf's seconds per throughput run, and rounds (the table shows medians).
const RUN_SECS: u64 = 5;
const ROUNDS: usize = 3;
/// Offered load for the latency runs: below both servers' capacity, so the percentiles show the
/// time to answer, not the queue dnsperf builds at saturation.
const LATENCY_QPS: u32 = 20_000;
const DOMAIN: &str = "cluster.local";
/// The node the DNS server believes it runs on (it publishes its kube-dns endpoint for it).
const NODE: &str = "node-0";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        return serve_main(&args[2..]);
    }
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(bench())
}

/// `bench-dns serve KUBECONFIG PORT UPSTREAM verified|insecure`: the agent's DNS server alone,
/// on one thread.
fn serve_main(args: &[String]) -> Result<()> {
    let [kubeconfig, port, upstream, mode] = args else {
        bail!("usage: bench-dns serve KUBECONFIG PORT UPSTREAM verified|insecure")
    };
    let listen = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port.parse()?);
    let config = DnsConfig {
        domain: DOMAIN.into(),
        ttl: 5,
        listen,
        upstreams: vec![upstream.parse()?],
        pod_records: if mode == "verified" { PodRecordsMode::Verified } else { PodRecordsMode::Insecure },
    };
    // The live heap, for the bench to tell data from allocator slack (RSS counts both).
    std::thread::spawn(|| loop {
        std::thread::sleep(Duration::from_millis(500));
        // SAFETY: mallinfo2 only reads the allocator's counters.
        let info = unsafe { libc::mallinfo2() };
        eprintln!("heap-in-use-kib {}", (info.uordblks + info.hblkhd) / 1024);
    });
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(kubeconfig)?;
        let kube_config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await?;
        let client = kube::Client::try_from(kube_config)?;
        keel_node_agent::dns::serve(client, NODE.into(), config, Arc::new(DnsStats::default())).await
    })
}

/// A child process killed when dropped (also when the bench fails).
struct Proc(Child);

impl Proc {
    fn spawn(cmd: &mut Command) -> Result<Self> {
        Ok(Self(cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().with_context(|| format!("{cmd:?}"))?))
    }

    /// With stderr to `log`.
    fn spawn_logged(cmd: &mut Command, log: &Path) -> Result<Self> {
        let log = std::fs::File::create(log)?;
        Ok(Self(cmd.stdout(Stdio::null()).stderr(log).spawn().with_context(|| format!("{cmd:?}"))?))
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Proc {
    /// SIGTERM first, so NSD takes its children down with it; SIGKILL if that does not do.
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..50 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_udp_port() -> Result<u16> {
    // A port free for both UDP and TCP (the servers bind both).
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = tcp.local_addr()?.port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
}

/// The last live-heap figure a `serve` process wrote to its log.
fn heap_kib(log: &Path) -> u64 {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("heap-in-use-kib ")?.trim().parse().ok())
        .next_back()
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse().ok())
        .unwrap_or(0)
}

/// The answer section of `dig +short`, or `None` when dig fails.
fn dig(port: u16, name: &str, qtype: &str) -> Option<String> {
    let out = Command::new("dig")
        .args(["+short", "+time=1", "+tries=1", "-p", &port.to_string(), "@127.0.0.1", name, qtype])
        .output()
        .ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Polls until `name` answers with `expect` in its records.
fn wait_for_answer(port: u16, name: &str, qtype: &str, expect: &str, timeout: Duration) -> Result<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if dig(port, name, qtype).is_some_and(|a| a.lines().any(|l| l == expect)) {
            return Ok(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("{name} {qtype} did not answer {expect} within {timeout:?}")
}

fn pod_ip(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 244, (index / 250) as u8, (index % 250 + 2) as u8)
}

fn external_ip(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2 + (index / 250) as u8, (index % 250 + 1) as u8)
}

fn namespace_of(service: usize) -> String {
    format!("bench-{}", service % NAMESPACES)
}

fn headless(service: usize) -> bool {
    service.is_multiple_of(HEADLESS_EVERY)
}

/// What the bench created: per service, its ClusterIP (none when headless).
struct Cluster {
    cluster_ips: Vec<Option<Ipv4Addr>>,
}

async fn populate(client: &kube::Client) -> Result<Cluster> {
    let post = PostParams::default();
    for n in 0..NAMESPACES {
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": format!("bench-{n}")}}))?;
        Api::<Namespace>::all(client.clone()).create(&post, &ns).await?;
    }
    let node: Node = serde_json::from_value(json!({"metadata": {"name": NODE}}))?;
    Api::<Node>::all(client.clone()).create(&post, &node).await?;

    let services: Vec<Option<Ipv4Addr>> = stream::iter(0..SERVICES)
        .map(|i| {
            let client = client.clone();
            async move {
                let ns = namespace_of(i);
                let svc: Service = serde_json::from_value(json!({
                    "metadata": {"name": format!("svc-{i}"), "namespace": ns},
                    "spec": {
                        "clusterIP": if headless(i) { Some("None") } else { None },
                        "ports": [
                            {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                            {"name": "grpc", "port": 9090, "protocol": "TCP"},
                        ],
                    },
                }))?;
                let created = Api::<Service>::namespaced(client, &ns).create(&PostParams::default(), &svc).await?;
                let ip = created.spec.and_then(|s| s.cluster_ip).and_then(|ip| ip.parse::<Ipv4Addr>().ok());
                anyhow::Ok(ip)
            }
        })
        .buffered(32)
        .try_collect()
        .await?;
    println!("  {SERVICES} services created");

    stream::iter(0..SERVICES * PODS_PER_SERVICE)
        .map(|j| {
            let client = client.clone();
            async move {
                let (i, p) = (j / PODS_PER_SERVICE, j % PODS_PER_SERVICE);
                let ns = namespace_of(i);
                let name = format!("svc-{i}-{p}");
                let mut spec = json!({
                    "nodeName": format!("node-{}", j % 100),
                    "containers": [{"name": "app", "image": "bench"}],
                });
                if headless(i) {
                    spec["hostname"] = json!(name);
                    spec["subdomain"] = json!(format!("svc-{i}"));
                }
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": {"name": name, "namespace": ns, "labels": {"app": format!("svc-{i}")}},
                    "spec": spec,
                }))?;
                let api = Api::<Pod>::namespaced(client, &ns);
                api.create(&PostParams::default(), &pod).await?;
                let ip = pod_ip(j).to_string();
                let status = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}});
                api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(32)
        .try_collect::<()>()
        .await?;
    println!("  {} pods created", SERVICES * PODS_PER_SERVICE);

    stream::iter(0..SERVICES)
        .map(|i| {
            let client = client.clone();
            async move {
                let ns = namespace_of(i);
                let endpoints: Vec<serde_json::Value> = (0..PODS_PER_SERVICE)
                    .map(|p| {
                        let j = i * PODS_PER_SERVICE + p;
                        let mut ep = json!({
                            "addresses": [pod_ip(j).to_string()],
                            "conditions": {"ready": true, "serving": true, "terminating": false},
                            "nodeName": format!("node-{}", j % 100),
                            "targetRef": {"kind": "Pod", "namespace": ns, "name": format!("svc-{i}-{p}")},
                        });
                        if headless(i) {
                            ep["hostname"] = json!(format!("svc-{i}-{p}"));
                        }
                        ep
                    })
                    .collect();
                let slice: EndpointSlice = serde_json::from_value(json!({
                    "metadata": {
                        "name": format!("svc-{i}-bench"),
                        "namespace": ns,
                        "labels": {
                            "kubernetes.io/service-name": format!("svc-{i}"),
                            "endpointslice.kubernetes.io/managed-by": "bench-dns",
                        },
                    },
                    "addressType": "IPv4",
                    "endpoints": endpoints,
                    "ports": [
                        {"name": "http", "port": 8080, "protocol": "TCP"},
                        {"name": "grpc", "port": 9090, "protocol": "TCP"},
                    ],
                }))?;
                Api::<EndpointSlice>::namespaced(client, &ns).create(&PostParams::default(), &slice).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(32)
        .try_collect::<()>()
        .await?;
    println!("  {SERVICES} endpoint slices created");
    Ok(Cluster { cluster_ips: services })
}

/// The zone as keel builds it from what the API holds, for NSD's zone files.
async fn keel_zone(client: &kube::Client) -> Result<Zone> {
    let lp = ListParams::default();
    let services = Api::<Service>::all(client.clone()).list(&lp).await?.items;
    let slices = Api::<EndpointSlice>::all(client.clone()).list(&lp).await?.items;
    let pods = Api::<Pod>::all(client.clone()).list(&lp).await?.items;
    let verified = PodIndex::from_pairs(pods.iter().filter_map(|p| {
        let ip = p.status.as_ref()?.pod_ip.as_deref()?.parse().ok()?;
        Some((ip, p.metadata.namespace.as_deref()?))
    }));
    let sources = Sources {
        services: &services.iter().filter_map(ServiceInfo::from_service).map(Arc::new).collect::<Vec<_>>(),
        slices: &slices.iter().filter_map(SliceInfo::from_slice).map(Arc::new).collect::<Vec<_>>(),
        dns_ip: None,
        pod_records: PodRecords::Verified(Arc::new(verified)),
    };
    Zone::build(DOMAIN, 5, &sources).map_err(anyhow::Error::msg)
}

fn soa(origin: &str) -> String {
    format!("{origin} 5 IN SOA ns.dns.{DOMAIN}. hostmaster.{DOMAIN}. 1 7200 1800 86400 5\n{origin} 5 IN NS ns.dns.{DOMAIN}.\n")
}

/// NSD with three zones: the cluster zone, the reverse zone of 10/8, and the external names.
fn start_nsd(dir: &Path, port: u16, zone: &Zone) -> Result<Proc> {
    let (mut forward, mut reverse) = (String::new(), soa("10.in-addr.arpa."));
    for record in zone.records() {
        let line = format!("{record}\n");
        if record.name().to_string().ends_with(".in-addr.arpa.") {
            reverse.push_str(&line);
        } else {
            forward.push_str(&line);
        }
    }
    let mut external = soa("bench.example.");
    for i in 0..EXTERNAL_NAMES {
        let _ = writeln!(external, "ext-{i}.bench.example. 3600 IN A {}", external_ip(i));
    }
    std::fs::write(dir.join("cluster.zone"), forward)?;
    std::fs::write(dir.join("reverse.zone"), reverse)?;
    std::fs::write(dir.join("external.zone"), external)?;
    let d = dir.display();
    let conf = format!(
        "server:\n  ip-address: 127.0.0.1@{port}\n  server-count: 1\n  username: \"\"\n  chroot: \"\"\n  \
         zonesdir: \"{d}\"\n  database: \"\"\n  pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  \
         zonelistfile: \"{d}/zone.list\"\n  logfile: \"{d}/nsd.log\"\n  verbosity: 0\n  \
         rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n\
         remote-control:\n  control-enable: no\n\
         zone:\n  name: \"{DOMAIN}\"\n  zonefile: \"cluster.zone\"\n\
         zone:\n  name: \"10.in-addr.arpa\"\n  zonefile: \"reverse.zone\"\n\
         zone:\n  name: \"bench.example\"\n  zonefile: \"external.zone\"\n"
    );
    let path = dir.join("nsd.conf");
    std::fs::write(&path, conf)?;
    let check = Command::new("nsd-checkconf").arg(&path).output()?;
    if !check.status.success() {
        bail!("nsd-checkconf: {}", String::from_utf8_lossy(&check.stderr));
    }
    Proc::spawn(Command::new("taskset").args(["-c", "0", "nsd", "-d", "-c"]).arg(&path))
}

/// dnsmasq on loopback: the upstream resolver for the external names.
fn start_upstream(dir: &Path, port: u16) -> Result<Proc> {
    let mut hosts = String::new();
    for i in 0..EXTERNAL_NAMES {
        let _ = writeln!(hosts, "{} ext-{i}.bench.example", external_ip(i));
    }
    let path = dir.join("external.hosts");
    std::fs::write(&path, hosts)?;
    Proc::spawn(
        Command::new("taskset")
            .args([
                "-c",
                "1",
                "dnsmasq",
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--pid-file=",
                "--user=root",
            ])
            .arg(format!("--addn-hosts={}", path.display()))
            .args(["--local-ttl=3600", "--listen-address=127.0.0.1", "--bind-interfaces"])
            .arg(format!("--port={port}")),
    )
}

/// The query files: a mix over every kind of cluster name, and the external names.
fn write_queries(dir: &Path, cluster: &Cluster) -> Result<()> {
    let mut lines = Vec::new();
    for (i, cluster_ip) in cluster.cluster_ips.iter().enumerate() {
        let ns = namespace_of(i);
        let svc = format!("svc-{i}.{ns}.svc.{DOMAIN}");
        let p = i % PODS_PER_SERVICE;
        let ip = pod_ip(i * PODS_PER_SERVICE + p);
        lines.push(format!("{svc} A"));
        lines.push(format!("_http._tcp.{svc} SRV"));
        lines.push(format!("{}.{ns}.pod.{DOMAIN} A", ip.to_string().replace('.', "-")));
        let reverse_of = |ip: Ipv4Addr| {
            let o = ip.octets();
            format!("{}.{}.{}.{}.in-addr.arpa PTR", o[3], o[2], o[1], o[0])
        };
        match cluster_ip {
            Some(vip) => lines.push(reverse_of(*vip)),
            None => {
                lines.push(format!("svc-{i}-{p}.{svc} A"));
                lines.push(reverse_of(ip));
            }
        }
    }
    // A fixed shuffle, so both servers see the same order.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for k in (1..lines.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        lines.swap(k, (state % (k as u64 + 1)) as usize);
    }
    std::fs::write(dir.join("internal.txt"), lines.join("\n") + "\n")?;
    let external: Vec<String> = (0..EXTERNAL_NAMES).map(|i| format!("ext-{i}.bench.example A")).collect();
    std::fs::write(dir.join("external.txt"), external.join("\n") + "\n")?;
    Ok(())
}

struct Perf {
    qps: f64,
    lost: u64,
}

fn dnsperf(port: u16, file: &Path, extra: &[&str]) -> Result<String> {
    let out = Command::new("taskset")
        .args(["-c", "1", "dnsperf", "-s", "127.0.0.1", "-p", &port.to_string(), "-d"])
        .arg(file)
        .args(extra)
        .output()
        .context("running dnsperf")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("dnsperf failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    // Every answer must be a positive one: the names all exist.
    let codes = text.lines().find(|l| l.trim_start().starts_with("Response codes:")).unwrap_or_default();
    if !codes.contains("NOERROR") || codes.split(',').count() != 1 {
        bail!("port {port}, {}: answers were not all NOERROR: {codes}", file.display());
    }
    Ok(text)
}

fn stat(text: &str, label: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.trim_start().starts_with(label))?;
    line.split(':').nth(1)?.split_whitespace().next()?.parse().ok()
}

fn throughput(port: u16, file: &Path) -> Result<Perf> {
    let secs = RUN_SECS.to_string();
    let text = dnsperf(port, file, &["-l", &secs, "-c", "4", "-q", "256", "-T", "1"])?;
    let qps = stat(&text, "Queries per second:").context("no QPS in dnsperf's output")?;
    let lost = stat(&text, "Queries lost:").unwrap_or(0.0) as u64;
    Ok(Perf { qps, lost })
}

/// (p50, p99) in microseconds at LATENCY_QPS, from dnsperf's per-query lines.
fn latency(port: u16, file: &Path) -> Result<(f64, f64)> {
    let qps = LATENCY_QPS.to_string();
    let text = dnsperf(port, file, &["-l", "2", "-Q", &qps, "-v"])?;
    let mut lat: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("> "))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .map(|s| s * 1e6)
        .collect();
    if lat.is_empty() {
        bail!("no per-query latencies in dnsperf's output");
    }
    lat.sort_by(f64::total_cmp);
    let at = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    Ok((at(0.5), at(0.99)))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[derive(Default)]
struct Rows {
    qps: Vec<f64>,
    lost: u64,
    p50: Vec<f64>,
    p99: Vec<f64>,
}

impl Rows {
    fn measure(&mut self, port: u16, file: &Path) -> Result<()> {
        let perf = throughput(port, file)?;
        self.qps.push(perf.qps);
        self.lost += perf.lost;
        let (p50, p99) = latency(port, file)?;
        self.p50.push(p50);
        self.p99.push(p99);
        Ok(())
    }

    fn qps(&self) -> f64 {
        median(self.qps.clone())
    }

    fn lat(&self) -> String {
        format!("{:.0} / {:.0} µs", median(self.p50.clone()), median(self.p99.clone()))
    }
}

async fn bench() -> Result<()> {
    let dir = tempfile::tempdir()?;
    println!("starting the API server");
    let server = Server::start_with(&["--disable-controllers"])?;
    let client = server.client().await?;
    let (keel_port, nsd_port, upstream_port) = (free_udp_port()?, free_udp_port()?, free_udp_port()?);
    let _upstream = start_upstream(dir.path(), upstream_port)?;
    // Two keel servers: the default (insecure pod records, no pods held) for the load, and one
    // with verified pod records, which holds every pod, for its memory.
    let verified_port = free_udp_port()?;
    let me = std::env::current_exe()?;
    let log = |mode: &str| dir.path().join(format!("keel-{mode}.log"));
    let start_keel = |port: u16, mode: &str| {
        Proc::spawn_logged(
            Command::new("taskset")
                .args(["-c", "0"])
                .arg(&me)
                .arg("serve")
                .arg(server.kubeconfig())
                .arg(port.to_string())
                .arg(format!("127.0.0.1:{upstream_port}"))
                .arg(mode),
            &log(mode),
        )
    };
    let keel = start_keel(keel_port, "insecure")?;
    let keel_verified = start_keel(verified_port, "verified")?;
    for port in [keel_port, verified_port] {
        wait_for_answer(port, &format!("dns-version.{DOMAIN}"), "TXT", "\"1.0.1\"", Duration::from_secs(30))?;
    }
    std::thread::sleep(Duration::from_secs(1));
    let (rss_empty, rss_verified_empty) = (rss_kib(keel.pid()), rss_kib(keel_verified.pid()));
    let (heap_empty, heap_verified_empty) = (heap_kib(&log("insecure")), heap_kib(&log("verified")));

    println!("creating {SERVICES} services and {} pods", SERVICES * PODS_PER_SERVICE);
    let started = Instant::now();
    let cluster = populate(&client).await?;
    println!("  API writes took {:.1} s", started.elapsed().as_secs_f64());
    let last = SERVICES - 1;
    let last_pod = pod_ip(SERVICES * PODS_PER_SERVICE - 1);
    let last_pod_name = format!("{}.{}.pod.{DOMAIN}", last_pod.to_string().replace('.', "-"), namespace_of(last));
    let synced = wait_for_answer(verified_port, &last_pod_name, "A", &last_pod.to_string(), Duration::from_secs(60))?;
    // The last headless service's last endpoint.
    let h = (SERVICES - 1) / HEADLESS_EVERY * HEADLESS_EVERY;
    let endpoint = format!("svc-{h}-{}.svc-{h}.{}.svc.{DOMAIN}", PODS_PER_SERVICE - 1, namespace_of(h));
    let endpoint_ip = pod_ip(h * PODS_PER_SERVICE + PODS_PER_SERVICE - 1).to_string();
    wait_for_answer(keel_port, &endpoint, "A", &endpoint_ip, Duration::from_secs(60))?;
    println!("  keel's zone caught up {:.0} ms after the last write", synced.as_secs_f64() * 1000.0);
    std::thread::sleep(Duration::from_secs(2));
    let (rss_loaded, rss_verified_loaded) = (rss_kib(keel.pid()), rss_kib(keel_verified.pid()));
    let (heap_loaded, heap_verified_loaded) = (heap_kib(&log("insecure")), heap_kib(&log("verified")));
    drop(keel_verified);

    let zone = keel_zone(&client).await?;
    let records = zone.records().len();
    println!("starting NSD with the same {records} records");
    let nsd = start_nsd(dir.path(), nsd_port, &zone)?;
    wait_for_answer(nsd_port, &last_pod_name, "A", &last_pod.to_string(), Duration::from_secs(30))?;
    write_queries(dir.path(), &cluster)?;
    let (internal, external) = (dir.path().join("internal.txt"), dir.path().join("external.txt"));
    // Fill keel's cache of external names (and check they all resolve).
    dnsperf(keel_port, &external, &["-n", "1"])?;

    let (mut keel_in, mut nsd_in, mut keel_ext, mut nsd_ext) =
        (Rows::default(), Rows::default(), Rows::default(), Rows::default());
    for round in 1..=ROUNDS {
        println!("round {round}/{ROUNDS}");
        keel_in.measure(keel_port, &internal)?;
        nsd_in.measure(nsd_port, &internal)?;
        keel_ext.measure(keel_port, &external)?;
        nsd_ext.measure(nsd_port, &external)?;
    }
    let rss_after = rss_kib(keel.pid());
    let nsd_rss: u64 = nsd_pids(nsd.pid()).into_iter().map(rss_kib).sum();
    let objects = SERVICES + SERVICES * PODS_PER_SERVICE;
    let per_object = |empty: u64, loaded: u64| loaded.saturating_sub(empty) as f64 * 1024.0 / objects as f64;
    let (per_object, per_object_verified) =
        (per_object(rss_empty, rss_loaded), per_object(rss_verified_empty, rss_verified_loaded));

    println!();
    println!(
        "cluster DNS: {SERVICES} services ({} headless), {} pods, {records} records; server on 1 core",
        SERVICES / HEADLESS_EVERY,
        SERVICES * PODS_PER_SERVICE
    );
    println!("throughput: medians of {ROUNDS} runs of {RUN_SECS} s; latency at {LATENCY_QPS} queries/s offered");
    println!();
    println!("| metric | keel | NSD {} (ceiling) | keel / NSD | target |", nsd_version());
    println!("| --- | --- | --- | --- | --- |");
    let ratio = |a: f64, b: f64| format!("{:.2}x", a / b);
    let target = |ok: bool, text: &str| format!("{text} {}", if ok { "✓" } else { "✗" });
    println!(
        "| internal names, queries/s | {:.0} | {:.0} | {} | {} |",
        keel_in.qps(),
        nsd_in.qps(),
        ratio(keel_in.qps(), nsd_in.qps()),
        target(keel_in.qps() >= 100_000.0, "≥ 100,000")
    );
    println!("| internal names, p50 / p99 | {} | {} | | |", keel_in.lat(), nsd_in.lat());
    println!(
        "| cached external names, queries/s | {:.0} | {:.0} | {} | |",
        keel_ext.qps(),
        nsd_ext.qps(),
        ratio(keel_ext.qps(), nsd_ext.qps())
    );
    println!("| cached external names, p50 / p99 | {} | {} | | |", keel_ext.lat(), nsd_ext.lat());
    println!("| queries lost (all runs) | {} | {} | | |", keel_in.lost + keel_ext.lost, nsd_in.lost + nsd_ext.lost);
    println!(
        "| RSS empty / loaded / after the load runs | {rss_empty} / {rss_loaded} / {rss_after} KiB | {nsd_rss} KiB | | |"
    );
    println!(
        "| RSS growth per object ({objects} services and pods) | {:.2} KiB | | | {} |",
        per_object / 1024.0,
        target(per_object <= 512.0, "≤ 0.5 KiB")
    );
    println!("| live heap (malloc) empty / loaded | {heap_empty} / {heap_loaded} KiB | | | |");
    println!("| verified pod records: RSS empty / loaded | {rss_verified_empty} / {rss_verified_loaded} KiB | | | |");
    println!(
        "| verified pod records: live heap empty / loaded | {heap_verified_empty} / {heap_verified_loaded} KiB | | | |"
    );
    println!(
        "| verified pod records: RSS growth per object | {:.2} KiB | | | {} |",
        per_object_verified / 1024.0,
        target(per_object_verified <= 512.0, "≤ 0.5 KiB")
    );
    println!("| zone caught up after the last API write | {:.0} ms | | | |", synced.as_secs_f64() * 1000.0);
    drop(nsd);
    drop(keel);
    Ok(())
}

/// NSD's processes: the main one and its children (the server and xfrd).
fn nsd_pids(main: u32) -> Vec<u32> {
    let mut pids = vec![main];
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Field 4 (after the parenthesised name) is the parent pid.
            let parent = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1));
            if parent.and_then(|p| p.parse::<u32>().ok()) == Some(main) {
                pids.push(pid);
            }
        }
    }
    pids
}

fn nsd_version() -> String {
    Command::new("nsd")
        .arg("-v")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout))
        .and_then(|t| t.lines().next().map(|l| l.trim_start_matches("NSD version").trim().to_string()))
        .unwrap_or_default()
}

//! The scenario, as ordered cases sharing one topology and one attached `ExternalLb`.
use std::{
    collections::{BTreeMap, BTreeSet},
    net::{IpAddr, SocketAddr, SocketAddrV4},
    time::{Duration, Instant},
};

use aya::programs::{SchedClassifier, TcAttachType};
use ipnet::Ipv4Net;
use keel_node_agent::lb::{
    ExternalBackend, ExternalCounters, ExternalFrontendConfig, ExternalLb, Frontend, LbError, Protocol, TrafficPolicy,
    SNAT_PORTS,
};

use crate::support::{
    client::{addr, requests, Proto, Reply},
    echo::{self, BACKEND_PORT},
    netns::{checksum_errors, ip as ip_cmd, run_in},
    pins::PinDir,
    topology::{Topology, CLIENT_IP, EXT_IFACE, NODE_A_IP, OTHER_CLIENT_IP, POD_A_IP, POD_B_IP},
};

const NODE_PORT_TCP: u16 = 30080;
const NODE_PORT_UDP: u16 = 30053;
/// A remote backend that does not exist: flows hashed to it get no answer.
const DEAD_BACKEND_IP: &str = "10.244.2.99";
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// For requests that are expected to go unanswered.
const DROP_TIMEOUT: Duration = Duration::from_millis(400);
/// For the Maglev probes, where a third of the flows go unanswered (RTTs here are microseconds).
const PROBE_TIMEOUT: Duration = Duration::from_millis(250);

type CaseResult = Result<(), String>;
type Case = (&'static str, fn(&mut Ctx) -> CaseResult);

struct Ctx {
    // Field order is drop order: close the maps, detach and unpin, then delete the namespaces.
    lb: Option<ExternalLb>,
    pins: PinDir,
    topo: Topology,
}

pub fn run_all() -> CaseResult {
    let start = Instant::now();
    let topo = Topology::create()?;
    echo::start(&topo.pod_a, "pod-a")?;
    echo::start(&topo.pod_b, "pod-b")?;
    println!("topology: 5 namespaces, echo servers up ({:.1?})", start.elapsed());
    let mut ctx = Ctx { lb: None, pins: PinDir::create()?, topo };
    let cases: [Case; 14] = [
        ("attach names a missing interface", missing_interface_is_named),
        ("attach (TCX ingress + egress, pinned)", attach),
        ("Cluster policy, TCP: local and remote backends", cluster_tcp),
        ("Cluster policy, UDP: local and remote backends", cluster_udp),
        ("per-CPU counters per frontend and backend", counters),
        ("Local policy: only the local backend, client IP kept", local_policy),
        ("Local policy without a local backend drops", local_policy_without_local_backend),
        ("a direct flow reusing a load-balanced 4-tuple is not rewritten", direct_flow_reusing_a_tuple),
        ("Maglev: a flow keeps its backend across a rebuild", maglev_rebuild),
        ("loadBalancerSourceRanges", source_ranges),
        ("incremental update writes only changed slots", incremental_update),
        ("agent restart keeps frontends, flows and counters", survives_restart),
        ("receivers saw no bad checksum", no_checksum_errors),
        ("detach removes programs and pins", detach),
    ];
    for (name, case) in cases {
        let start = Instant::now();
        let result = case(&mut ctx);
        println!("case {name}: {} ({:.1?})", if result.is_ok() { "ok" } else { "FAILED" }, start.elapsed());
        result.map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

fn missing_interface_is_named(ctx: &mut Ctx) -> CaseResult {
    let pins = ctx.pins.path.clone();
    match run_in(&ctx.topo.node_a, move || ExternalLb::attach("nope0", node_ip(), &pins))? {
        Err(LbError::NoInterface { name }) if name == "nope0" => Ok(()),
        other => Err(format!("expected NoInterface, got {other:?}")),
    }
}

fn attach(ctx: &mut Ctx) -> CaseResult {
    let start = Instant::now();
    let lb = attach_in_node_a(ctx)?;
    println!("  load + attach + pin: {:.1?}", start.elapsed());
    ctx.lb = Some(lb);
    for sub in ["maps/EXT_CT", "maps/EXT_MAGLEV", "links/ext_ingress", "links/ext_egress"] {
        if !ctx.pins.path.join(sub).exists() {
            return Err(format!("pin {sub} missing"));
        }
    }
    expect_tcx_programs(ctx, 1)
}

fn cluster_tcp(ctx: &mut Ctx) -> CaseResult {
    set(ctx, Protocol::Tcp, &[local(), remote()], &ExternalFrontendConfig::default())?;
    spread_over_both(ctx, Proto::Tcp)
}

fn cluster_udp(ctx: &mut Ctx) -> CaseResult {
    set(ctx, Protocol::Udp, &[local(), remote()], &ExternalFrontendConfig::default())?;
    spread_over_both(ctx, Proto::Udp)
}

/// 40 requests from fresh source ports reach both backends (missing one by chance: 2^-39); the
/// local backend sees the client, the remote one the node's SNAT address; replies come from the
/// frontend.
fn spread_over_both(ctx: &mut Ctx, proto: Proto) -> CaseResult {
    let replies = answered(ctx, proto, CLIENT_IP, 0, 40)?;
    let mut seen = BTreeSet::new();
    for reply in &replies {
        let client = reply.seen_client.parse::<SocketAddr>().map_err(|e| format!("{reply:?}: {e}"))?;
        match reply.backend.as_str() {
            "pod-a" if client.ip() == ip(CLIENT_IP) => {}
            "pod-b" if client.ip() == ip(NODE_A_IP) && (SNAT_PORTS.0..=SNAT_PORTS.1).contains(&client.port()) => {}
            _ => return Err(format!("{proto:?}: backend saw the wrong client: {reply:?}")),
        }
        seen.insert(reply.backend.clone());
    }
    println!("  {proto:?}: 40 answers, e.g. {:?}", replies.iter().take(2).collect::<Vec<_>>());
    if seen.len() != 2 {
        return Err(format!("{proto:?}: only {seen:?} answered"));
    }
    Ok(())
}

fn counters(ctx: &mut Ctx) -> CaseResult {
    let tcp = frontend_stats(ctx, Protocol::Tcp)?;
    println!("  TCP frontend: {tcp:?}");
    let per_backend: u64 = tcp.backends.iter().map(|(_, c)| c.packets).sum();
    // Each TCP request is at least SYN, ACK, data, FIN/ACK from the client.
    if tcp.forwarded.packets < 40 * 4 || per_backend != tcp.forwarded.packets || tcp.forwarded.bytes == 0 {
        return Err(format!("unexpected TCP counters {tcp:?}"));
    }
    if tcp.backends.iter().any(|(_, c)| c.packets == 0) {
        return Err("a backend has no packets counted".into());
    }
    let udp = frontend_stats(ctx, Protocol::Udp)?;
    if udp.forwarded.packets != 40 || udp.no_backend + udp.denied + udp.snat_exhausted != 0 {
        return Err(format!("UDP counters {udp:?}, expected exactly 40 forwarded"));
    }
    Ok(())
}

fn local_policy(ctx: &mut Ctx) -> CaseResult {
    let config = ExternalFrontendConfig { policy: TrafficPolicy::Local, ..Default::default() };
    set(ctx, Protocol::Tcp, &[local(), remote()], &config)?;
    // Tracked flows keep their backend by design; a reused source port must not mask the policy.
    lb_mut(ctx)?.forget_flows().map_err(|e| e.to_string())?;
    for reply in answered(ctx, Proto::Tcp, CLIENT_IP, 0, 20)? {
        let client = reply.seen_client.parse::<SocketAddr>().map_err(|e| e.to_string())?;
        if reply.backend != "pod-a" || client.ip() != ip(CLIENT_IP) {
            return Err(format!("Local policy: {reply:?}"));
        }
    }
    let entry = entry(ctx, Protocol::Tcp)?;
    if !entry.has_local_backends() || entry.local_backends() != 1 {
        return Err(format!("list() says {entry:?}"));
    }
    Ok(())
}

fn local_policy_without_local_backend(ctx: &mut Ctx) -> CaseResult {
    let config = ExternalFrontendConfig { policy: TrafficPolicy::Local, ..Default::default() };
    set(ctx, Protocol::Tcp, &[remote()], &config)?;
    lb_mut(ctx)?.forget_flows().map_err(|e| e.to_string())?;
    let before = frontend_stats(ctx, Protocol::Tcp)?.no_backend;
    expect_no_answer(ctx, Proto::Tcp, CLIENT_IP, 2)?;
    let after = frontend_stats(ctx, Protocol::Tcp)?.no_backend;
    if after < before + 2 {
        return Err(format!("no_backend counter went from {before} to {after}"));
    }
    let entry = entry(ctx, Protocol::Tcp)?;
    if entry.has_local_backends() {
        return Err(format!("list() claims local backends: {entry:?}"));
    }
    Ok(())
}

/// A load-balanced flow to the local pod leaves a reverse-NAT entry behind. A later connection
/// straight to the pod from the same client address and port must get the pod's own replies,
/// not replies rewritten to the frontend (the client would reset them and never connect).
fn direct_flow_reusing_a_tuple(ctx: &mut Ctx) -> CaseResult {
    let config = ExternalFrontendConfig { policy: TrafficPolicy::Local, ..Default::default() };
    set(ctx, Protocol::Tcp, &[local()], &config)?;
    const PORT: u16 = 41_234;
    answered(ctx, Proto::Tcp, CLIENT_IP, PORT, 1)?;
    // For this case only, the client may reach pod A's network through node A.
    ip_cmd(&ctx.topo.client, &["route", "add", "10.244.1.0/24", "via", NODE_A_IP])?;
    let pod = addr(POD_A_IP, BACKEND_PORT);
    let direct = requests(&ctx.topo.client, Proto::Tcp, addr(CLIENT_IP, PORT), pod, 1, REPLY_TIMEOUT);
    ip_cmd(&ctx.topo.client, &["route", "del", "10.244.1.0/24"])?;
    match direct?.pop() {
        Some(Ok(reply)) if reply.from == SocketAddr::V4(pod) && reply.backend == "pod-a" => Ok(()),
        other => Err(format!("direct connection from {CLIENT_IP}:{PORT} to {pod}: {other:?}")),
    }
}

/// Fixed 5-tuples (UDP from chosen source ports) over three backends, one of them dead. Removing
/// the dead one rebuilds the table; every flow that had a live backend keeps it, both through its
/// tracking entry and, after the entries are flushed, through the Maglev table itself.
fn maglev_rebuild(ctx: &mut Ctx) -> CaseResult {
    let dead = ExternalBackend { addr: addr(DEAD_BACKEND_IP, BACKEND_PORT), local: false };
    set(ctx, Protocol::Udp, &[local(), remote(), dead], &ExternalFrontendConfig::default())?;
    lb_mut(ctx)?.forget_flows().map_err(|e| e.to_string())?;
    let ports: Vec<u16> = (41_000..41_036).collect();
    let first = backend_per_port(ctx, &ports)?;
    let live: BTreeMap<u16, String> = first.iter().filter_map(|(p, b)| Some((*p, b.clone()?))).collect();
    let dead_ports = ports.len() - live.len();
    println!("  36 flows over 3 backends: {} answered, {dead_ports} hashed to the dead backend", live.len());
    if live.is_empty() || dead_ports == 0 {
        return Err(format!("need flows on live and dead backends: {first:?}"));
    }
    let start = Instant::now();
    let written = set(ctx, Protocol::Udp, &[local(), remote()], &ExternalFrontendConfig::default())?;
    println!("  removing the dead backend rewrote {written} of 16381 slots in {:.1?}", start.elapsed());
    for (round, flush) in [("tracked", false), ("after flushing the tracking table", true)] {
        if flush {
            lb_mut(ctx)?.forget_flows().map_err(|e| e.to_string())?;
        }
        let again = backend_per_port(ctx, &live.keys().copied().collect::<Vec<_>>())?;
        for (port, backend) in &live {
            if again.get(port).and_then(Option::as_ref) != Some(backend) {
                return Err(format!("{round}: flow from port {port} moved from {backend} to {:?}", again.get(port)));
            }
        }
    }
    // The flows of the dead backend are rebalanced once their tracking entries are gone.
    let dead_ports: Vec<u16> = ports.iter().copied().filter(|p| !live.contains_key(p)).collect();
    let rebalanced = backend_per_port(ctx, &dead_ports)?;
    if rebalanced.values().any(Option::is_none) {
        return Err(format!("flows of the removed backend still unanswered: {rebalanced:?}"));
    }
    Ok(())
}

fn source_ranges(ctx: &mut Ctx) -> CaseResult {
    let only_client = vec![net(CLIENT_IP, 32)?];
    let config = ExternalFrontendConfig { source_ranges: only_client, ..Default::default() };
    set(ctx, Protocol::Tcp, &[local(), remote()], &config)?;
    answered(ctx, Proto::Tcp, CLIENT_IP, 0, 10)?;
    let before = frontend_stats(ctx, Protocol::Tcp)?.denied;
    expect_no_answer(ctx, Proto::Tcp, OTHER_CLIENT_IP, 2)?;
    let denied = frontend_stats(ctx, Protocol::Tcp)?.denied - before;
    if denied < 2 {
        return Err(format!("denied counter rose by {denied}, expected >= 2"));
    }
    // A /25 that holds .100 but not .200, on UDP.
    let half = vec![net("172.31.250.0", 25)?];
    set(
        ctx,
        Protocol::Udp,
        &[local(), remote()],
        &ExternalFrontendConfig { source_ranges: half, ..Default::default() },
    )?;
    answered(ctx, Proto::Udp, CLIENT_IP, 0, 5)?;
    expect_no_answer(ctx, Proto::Udp, OTHER_CLIENT_IP, 2)?;
    // Clearing the ranges lets everyone in again.
    set(ctx, Protocol::Tcp, &[local(), remote()], &ExternalFrontendConfig::default())?;
    answered(ctx, Proto::Tcp, OTHER_CLIENT_IP, 0, 5).map(drop)
}

/// One extra backend on a 100-backend frontend (on another port, never probed): about 1/100 of
/// the table plus Maglev's collateral is rewritten, not all 16381 slots.
fn incremental_update(ctx: &mut Ctx) -> CaseResult {
    let fe = Frontend::new(SocketAddrV4::new(node_ip(), 30443), Protocol::Tcp);
    let all: Vec<ExternalBackend> = (0..101u32)
        .map(|i| ExternalBackend { addr: SocketAddrV4::new((0x0af4_0a00 + i).into(), 443), local: false })
        .collect();
    let lb = lb_mut(ctx)?;
    let config = ExternalFrontendConfig::default();
    let start = Instant::now();
    let created = lb.set_frontend(fe, &all[..100], &config).map_err(|e| e.to_string())?;
    let create_time = start.elapsed();
    let start = Instant::now();
    let added = lb.set_frontend(fe, &all, &config).map_err(|e| e.to_string())?;
    let add_time = start.elapsed();
    let start = Instant::now();
    let unchanged = lb.set_frontend(fe, &all, &config).map_err(|e| e.to_string())?;
    println!(
        "  100 backends: create {created} slots in {create_time:.1?}; add one: {added} slots in {add_time:.1?}; \
         no change: {unchanged} slots in {:.1?}",
        start.elapsed()
    );
    if created != 16_381 || unchanged != 0 || added as f64 > 0.03 * 16_381.0 {
        return Err(format!("slots written: create {created}, add one {added}, unchanged {unchanged}"));
    }
    if !lb.remove_frontend(&fe).map_err(|e| e.to_string())? {
        return Err("frontend vanished".into());
    }
    Ok(())
}

fn survives_restart(ctx: &mut Ctx) -> CaseResult {
    let before = lb(ctx)?.list();
    let flows_before = lb(ctx)?.flows().map_err(|e| e.to_string())?.len();
    let forwarded_before = frontend_stats(ctx, Protocol::Tcp)?.forwarded.packets;
    // The loader goes away: only the pins keep programs and maps alive.
    ctx.lb = None;
    answered(ctx, Proto::Tcp, CLIENT_IP, 0, 10)?;
    let start = Instant::now();
    ctx.lb = Some(attach_in_node_a(ctx)?);
    println!("  re-attach from pins: {:.1?} ({flows_before} tracked flows before)", start.elapsed());
    let after = lb(ctx)?.list();
    if after != before {
        return Err(format!("frontends changed across restart: {before:?} -> {after:?}"));
    }
    let read_only = ExternalLb::open_pinned(&ctx.pins.path).map_err(|e| e.to_string())?.list();
    if read_only != before {
        return Err(format!("open_pinned lists {read_only:?}"));
    }
    let flows_after = lb(ctx)?.flows().map_err(|e| e.to_string())?.len();
    if flows_after < flows_before {
        return Err(format!("tracked flows lost: {flows_before} -> {flows_after}"));
    }
    let forwarded = frontend_stats(ctx, Protocol::Tcp)?.forwarded.packets;
    if forwarded < forwarded_before + 40 {
        return Err(format!("counters did not continue: {forwarded_before} -> {forwarded}"));
    }
    expect_tcx_programs(ctx, 1)?;
    // A full rewrite after restart (the table mirror is gone), then traffic as before.
    set(ctx, Protocol::Tcp, &[local(), remote()], &ExternalFrontendConfig::default())?;
    spread_over_both(ctx, Proto::Tcp)
}

fn no_checksum_errors(ctx: &mut Ctx) -> CaseResult {
    for ns in [&ctx.topo.client, &ctx.topo.pod_a, &ctx.topo.pod_b] {
        let errors = checksum_errors(ns)?;
        if errors != 0 {
            return Err(format!("{ns}: {errors} TCP/UDP checksum errors"));
        }
    }
    Ok(())
}

fn detach(ctx: &mut Ctx) -> CaseResult {
    ctx.lb = None;
    ExternalLb::detach(&ctx.pins.path).map_err(|e| e.to_string())?;
    if ctx.pins.path.exists() {
        return Err("pin directory still exists after detach".into());
    }
    expect_tcx_programs(ctx, 0)?;
    // Nothing listens on node A's NodePort itself: without the LB the connect is refused.
    let out = requests(&ctx.topo.client, Proto::Tcp, addr(CLIENT_IP, 0), frontend_addr(Proto::Tcp), 1, DROP_TIMEOUT)?;
    match out.first() {
        Some(Err(e)) => {
            println!("  NodePort after detach: {e}");
            Ok(())
        }
        other => Err(format!("NodePort still answers after detach: {other:?}")),
    }
}

// ---- helpers ----

fn attach_in_node_a(ctx: &Ctx) -> Result<ExternalLb, String> {
    let pins = ctx.pins.path.clone();
    run_in(&ctx.topo.node_a, move || ExternalLb::attach(EXT_IFACE, node_ip(), &pins))?.map_err(|e| e.to_string())
}

fn lb(ctx: &Ctx) -> Result<&ExternalLb, String> {
    ctx.lb.as_ref().ok_or_else(|| "ExternalLb not attached".to_string())
}

fn lb_mut(ctx: &mut Ctx) -> Result<&mut ExternalLb, String> {
    ctx.lb.as_mut().ok_or_else(|| "ExternalLb not attached".to_string())
}

fn node_ip() -> std::net::Ipv4Addr {
    *addr(NODE_A_IP, 0).ip()
}

fn ip(s: &str) -> IpAddr {
    IpAddr::V4(*addr(s, 0).ip())
}

fn net(s: &str, prefix: u8) -> Result<Ipv4Net, String> {
    Ipv4Net::new(*addr(s, 0).ip(), prefix).map_err(|e| e.to_string())
}

fn local() -> ExternalBackend {
    ExternalBackend { addr: addr(POD_A_IP, BACKEND_PORT), local: true }
}

fn remote() -> ExternalBackend {
    ExternalBackend { addr: addr(POD_B_IP, BACKEND_PORT), local: false }
}

fn frontend(protocol: Protocol) -> Frontend {
    let port = if protocol == Protocol::Tcp { NODE_PORT_TCP } else { NODE_PORT_UDP };
    Frontend::new(SocketAddrV4::new(node_ip(), port), protocol)
}

fn frontend_addr(proto: Proto) -> SocketAddrV4 {
    match frontend(if proto == Proto::Tcp { Protocol::Tcp } else { Protocol::Udp }).addr {
        std::net::SocketAddr::V4(addr) => addr,
        std::net::SocketAddr::V6(_) => unreachable!("the frontends here are IPv4"),
    }
}

fn set(
    ctx: &mut Ctx,
    protocol: Protocol,
    backends: &[ExternalBackend],
    config: &ExternalFrontendConfig,
) -> Result<usize, String> {
    lb_mut(ctx)?.set_frontend(frontend(protocol), backends, config).map_err(|e| e.to_string())
}

fn entry(ctx: &Ctx, protocol: Protocol) -> Result<keel_node_agent::lb::ExternalFrontendEntry, String> {
    lb(ctx)?.list().into_iter().find(|e| e.frontend == frontend(protocol)).ok_or_else(|| "frontend not listed".into())
}

fn frontend_stats(ctx: &Ctx, protocol: Protocol) -> Result<ExternalCounters, String> {
    let stats = lb(ctx)?.stats().map_err(|e| e.to_string())?;
    stats.into_iter().find(|(f, _)| *f == frontend(protocol)).map(|(_, c)| c).ok_or_else(|| "no stats".into())
}

/// `count` requests that must all be answered, with the frontend as the reply's source.
fn answered(ctx: &Ctx, proto: Proto, src_ip: &str, src_port: u16, count: usize) -> Result<Vec<Reply>, String> {
    let dst = frontend_addr(proto);
    let out = requests(&ctx.topo.client, proto, addr(src_ip, src_port), dst, count, REPLY_TIMEOUT)?;
    out.into_iter()
        .map(|r| match r {
            Ok(reply) if reply.from == SocketAddr::V4(dst) => Ok(reply),
            Ok(reply) => Err(format!("{proto:?}: reply from {} instead of {dst}", reply.from)),
            Err(e) => Err(format!("{proto:?} from {src_ip}: {e}")),
        })
        .collect()
}

fn expect_no_answer(ctx: &Ctx, proto: Proto, src_ip: &str, count: usize) -> CaseResult {
    let out = requests(&ctx.topo.client, proto, addr(src_ip, 0), frontend_addr(proto), count, DROP_TIMEOUT)?;
    match out.iter().find(|r| r.is_ok()) {
        Some(answered) => Err(format!("{proto:?} from {src_ip} was answered: {answered:?}")),
        None => Ok(()),
    }
}

/// The backend that answered one UDP request from each source port (None: no answer).
fn backend_per_port(ctx: &Ctx, ports: &[u16]) -> Result<BTreeMap<u16, Option<String>>, String> {
    let mut out = BTreeMap::new();
    for port in ports {
        let dst = frontend_addr(Proto::Udp);
        let reply = requests(&ctx.topo.client, Proto::Udp, addr(CLIENT_IP, *port), dst, 1, PROBE_TIMEOUT)?;
        out.insert(*port, reply.into_iter().next().and_then(Result::ok).map(|r| r.backend));
    }
    Ok(out)
}

/// Our programs attached to node A's ext0 through TCX, per direction.
fn expect_tcx_programs(ctx: &Ctx, each: usize) -> CaseResult {
    for (attach_type, name) in [(TcAttachType::Ingress, "ext_ingress"), (TcAttachType::Egress, "ext_egress")] {
        let found = run_in(&ctx.topo.node_a, move || -> Result<Vec<Option<u32>>, String> {
            let (_, programs) = SchedClassifier::query_tcx(EXT_IFACE, attach_type).map_err(|e| e.to_string())?;
            let ours = programs.iter().filter(|p| p.name_as_str() == Some(name));
            Ok(ours.map(|p| p.verified_instruction_count()).collect())
        })??;
        if found.len() != each {
            return Err(format!("{} {name} programs on {EXT_IFACE}, expected {each}", found.len()));
        }
        if let Some(Some(insns)) = found.first() {
            println!("  {name}: {insns} instructions verified");
        }
    }
    Ok(())
}

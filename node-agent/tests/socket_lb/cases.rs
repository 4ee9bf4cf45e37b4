//! The scenario, as ordered cases sharing one topology and one loaded `SocketLb`.
use std::{
    collections::BTreeSet,
    net::{SocketAddr, SocketAddrV4},
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use keel_node_agent::lb::{Backend, Frontend, LbError, Protocol, ServiceCounters, SocketLb};

use crate::support::{
    cgroup::TestCgroup,
    echo::{self, BACKEND_PORT},
    netns::{Topology, BACKEND_IPS, BACKEND_IPS6},
    pins::PinDir,
    probe::{self, Kind, Outcome},
};

const VIP: &str = "10.96.55.1:80";
/// The same ClusterIP as an IPv6 socket sees it (dual-stack apps, `::ffff:` addresses).
const VIP_MAPPED: &str = "[::ffff:10.96.55.1]:80";
const VIP6: &str = "[fd00:10:96::55]:80";
const NAMES: [&str; 3] = ["b1", "b2", "b3"];
const EPERM: i32 = 1;
const ENETUNREACH: i32 = 101;
const EHOSTUNREACH: i32 = 113;

type CaseResult = Result<(), String>;
type Case = (&'static str, fn(&mut Ctx) -> CaseResult);

struct Ctx {
    // Field order is drop order: unload pins, then remove the cgroup, then the namespaces.
    lb: Option<SocketLb>,
    pins: PinDir,
    cgroup: TestCgroup,
    topo: Topology,
    /// TCP connects to the VIP that were translated, to check the per-CPU counters exactly.
    tcp_translated: u64,
}

pub fn run_all() -> CaseResult {
    let topo = Topology::create()?;
    let mut backends: Vec<_> = NAMES.iter().copied().zip(BACKEND_IPS).collect();
    backends.extend(NAMES.iter().copied().zip(BACKEND_IPS6));
    echo::start(&topo.backend, &backends)?;
    let mut ctx = Ctx { lb: None, pins: PinDir::create()?, cgroup: TestCgroup::create()?, topo, tcp_translated: 0 };
    let cases: [Case; 17] = [
        ("load reports a missing bpffs", missing_bpffs_is_named),
        ("load and attach", load_and_attach),
        ("non-service traffic is untouched", non_service_untouched),
        ("TCP reaches a backend, getpeername shows the VIP", tcp_single_backend),
        ("connected UDP", udp_connected),
        ("unconnected UDP (sendto/recvfrom)", udp_sendto),
        ("IPv6 service: TCP, connected and unconnected UDP", ipv6_service),
        ("IPv4-mapped ClusterIP from IPv6 sockets", v4_mapped_from_v6_sockets),
        ("all backends get traffic", spreads_over_backends),
        ("removed backend gets no new connections", removed_backend_unused),
        ("ClientIP affinity", affinity_sticks),
        ("per-CPU counters", counters_are_exact),
        ("zero backends rejects at once", zero_backends_rejects),
        ("large service: incremental update cost", bulk_update_timing),
        ("state survives the loader exiting", survives_restart),
        ("a new loader swaps the programs in place under load", replaced_in_place_under_load),
        ("remove service and unload", remove_and_unload),
    ];
    for (name, case) in cases {
        let start = Instant::now();
        let result = case(&mut ctx);
        println!("case {name}: {} ({:.1?})", if result.is_ok() { "ok" } else { "FAILED" }, start.elapsed());
        result.map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

fn missing_bpffs_is_named(ctx: &mut Ctx) -> CaseResult {
    match SocketLb::load(&ctx.cgroup.path, Path::new("/tmp/keel-lb-not-bpffs")) {
        Err(LbError::NoBpffs { .. }) => Ok(()),
        other => Err(format!("expected NoBpffs, got {other:?}")),
    }
}

fn load_and_attach(ctx: &mut Ctx) -> CaseResult {
    let start = Instant::now();
    let lb = SocketLb::load(&ctx.cgroup.path, &ctx.pins.path).map_err(|e| e.to_string())?;
    println!("  load + attach + pin: {:.1?}", start.elapsed());
    ctx.lb = Some(lb);
    for sub in ["maps/v2/SERVICES", "links/connect4", "links/getpeername4", "links/connect6"] {
        if !ctx.pins.path.join(sub).exists() {
            return Err(format!("pin {sub} missing"));
        }
    }
    Ok(())
}

fn non_service_untouched(ctx: &mut Ctx) -> CaseResult {
    let direct = format!("{}:{BACKEND_PORT}", BACKEND_IPS[0]);
    let out = one(ctx, Kind::Tcp, &direct)?;
    expect_ok(&out, &direct, &["b1"])
}

fn tcp_single_backend(ctx: &mut Ctx) -> CaseResult {
    set(ctx, Protocol::Tcp, &[0], None)?;
    set(ctx, Protocol::Udp, &[0], None)?;
    let out = one(ctx, Kind::Tcp, VIP)?;
    ctx.tcp_translated += 1;
    expect_ok(&out, VIP, &["b1"])
}

fn udp_connected(ctx: &mut Ctx) -> CaseResult {
    expect_ok(&one(ctx, Kind::UdpConnected, VIP)?, VIP, &["b1"])
}

fn udp_sendto(ctx: &mut Ctx) -> CaseResult {
    expect_ok(&one(ctx, Kind::UdpSendTo, VIP)?, VIP, &["b1"])
}

fn ipv6_service(ctx: &mut Ctx) -> CaseResult {
    let backends: Vec<Backend> = BACKEND_IPS6
        .iter()
        .map(|ip| Backend::new(SocketAddr::new(ip.parse().unwrap_or_else(|_| unreachable!("constant")), BACKEND_PORT)))
        .collect();
    let vip6: SocketAddr = VIP6.parse().map_err(|e| format!("{VIP6}: {e}"))?;
    for protocol in [Protocol::Tcp, Protocol::Udp] {
        lb_mut(ctx)?.set_service(Frontend::new(vip6, protocol), &backends, None).map_err(|e| e.to_string())?;
    }
    for kind in [Kind::Tcp, Kind::UdpConnected, Kind::UdpSendTo] {
        let seen = backends_seen_at(ctx, kind, VIP6, 45)?;
        if seen != all_names() {
            return Err(format!("{kind:?} over IPv6: backends seen {seen:?}"));
        }
    }
    let listed = lb(ctx)?.list().map_err(|e| e.to_string())?;
    if !listed.iter().any(|e| e.frontend.addr == vip6 && e.backends == backends) {
        return Err(format!("list() does not show the IPv6 service: {listed:?}"));
    }
    Ok(())
}

/// connect6/sendmsg6/getpeername6/recvmsg6 see `::ffff:10.96.55.1` and use the IPv4 entry.
fn v4_mapped_from_v6_sockets(ctx: &mut Ctx) -> CaseResult {
    for kind in [Kind::Tcp, Kind::UdpConnected, Kind::UdpSendTo] {
        let seen = backends_seen_at(ctx, kind, VIP_MAPPED, 3)?;
        if seen != BTreeSet::from(["b1".to_string()]) {
            return Err(format!("{kind:?} to {VIP_MAPPED}: backends seen {seen:?}"));
        }
    }
    Ok(())
}

fn spreads_over_backends(ctx: &mut Ctx) -> CaseResult {
    set(ctx, Protocol::Tcp, &[0, 1, 2], None)?;
    set(ctx, Protocol::Udp, &[0, 1, 2], None)?;
    // With 60 tries, missing one of three backends by chance has probability ~3 * (2/3)^60 = 1e-10.
    for kind in [Kind::Tcp, Kind::UdpSendTo, Kind::UdpConnected] {
        let seen = backends_seen(ctx, kind, 60)?;
        if seen != BTreeSet::from(["b1".to_string(), "b2".to_string(), "b3".to_string()]) {
            return Err(format!("{kind:?}: backends seen {seen:?}"));
        }
    }
    Ok(())
}

fn removed_backend_unused(ctx: &mut Ctx) -> CaseResult {
    set(ctx, Protocol::Tcp, &[0, 2], None)?;
    let seen = backends_seen(ctx, Kind::Tcp, 60)?;
    if seen != BTreeSet::from(["b1".to_string(), "b3".to_string()]) {
        return Err(format!("backends seen after removing b2: {seen:?}"));
    }
    let listed = lb(ctx)?.list().map_err(|e| e.to_string())?;
    let tcp = listed.iter().find(|e| e.frontend == frontend(Protocol::Tcp)).ok_or("TCP service not listed")?;
    if tcp.backends != vec![backend(0), backend(2)] {
        return Err(format!("list() shows {:?}", tcp.backends));
    }
    Ok(())
}

fn affinity_sticks(ctx: &mut Ctx) -> CaseResult {
    set(ctx, Protocol::Tcp, &[0, 1, 2], Some(Duration::from_secs(60)))?;
    let first = backends_seen(ctx, Kind::Tcp, 20)?;
    let second = backends_seen(ctx, Kind::Tcp, 20)?;
    if first.len() != 1 || first != second {
        return Err(format!("with affinity: first probe saw {first:?}, second {second:?}"));
    }
    set(ctx, Protocol::Tcp, &[0, 1, 2], None)?;
    let spread = backends_seen(ctx, Kind::Tcp, 60)?;
    if spread.len() != 3 {
        return Err(format!("affinity off again, but only {spread:?} seen"));
    }
    Ok(())
}

fn counters_are_exact(ctx: &mut Ctx) -> CaseResult {
    let got = counters(ctx, Protocol::Tcp)?;
    let want = ServiceCounters { translated: ctx.tcp_translated, no_backend: 0 };
    println!("  TCP service counters: {got:?}");
    if got != want {
        return Err(format!("counters {got:?}, expected {want:?}"));
    }
    Ok(())
}

fn zero_backends_rejects(ctx: &mut Ctx) -> CaseResult {
    set(ctx, Protocol::Tcp, &[], None)?;
    set(ctx, Protocol::Udp, &[], None)?;
    for kind in [Kind::Tcp, Kind::UdpConnected, Kind::UdpSendTo] {
        for out in probe::run(&ctx.topo, &ctx.cgroup, kind, VIP, 3)? {
            match out {
                Outcome::Err { errno: EPERM, elapsed } if elapsed < Duration::from_millis(50) => {
                    println!("  {kind:?} to a service without backends: errno {EPERM} (EPERM) after {elapsed:?}");
                }
                other => return Err(format!("{kind:?}: expected immediate EPERM, got {other:?}")),
            }
        }
    }
    let tcp = counters(ctx, Protocol::Tcp)?;
    if tcp.no_backend != 3 {
        return Err(format!("no_backend counter {tcp:?}, expected 3"));
    }
    Ok(())
}

/// A 1000-backend service on another VIP (never probed): full create vs. one-backend changes.
fn bulk_update_timing(ctx: &mut Ctx) -> CaseResult {
    let fe = Frontend::new(SocketAddrV4::new([10, 96, 55, 2].into(), 443), Protocol::Tcp);
    let all: Vec<Backend> =
        (0..1000u32).map(|i| Backend::new(SocketAddrV4::new((0x0a64_0000 + i).into(), 443))).collect();
    let lb = lb_mut(ctx)?;
    let start = Instant::now();
    lb.set_service(fe, &all, None).map_err(|e| e.to_string())?;
    let created = start.elapsed();
    let start = Instant::now();
    lb.set_service(fe, &all[1..], None).map_err(|e| e.to_string())?;
    let removed_one = start.elapsed();
    let start = Instant::now();
    lb.set_service(fe, &all, None).map_err(|e| e.to_string())?;
    let added_one = start.elapsed();
    println!("  1000 backends: create {created:.1?}, remove one {removed_one:.1?}, add one {added_one:.1?}");
    let listed = lb.list().map_err(|e| e.to_string())?;
    let entry = listed.iter().find(|e| e.frontend == fe).ok_or("bulk service not listed")?;
    let got: BTreeSet<_> = entry.backends.iter().copied().collect();
    if got != all.iter().copied().collect::<BTreeSet<_>>() || entry.backends.len() != all.len() {
        return Err(format!("bulk service holds {} backends", entry.backends.len()));
    }
    if !lb.remove_service(&fe).map_err(|e| e.to_string())? {
        return Err("bulk service vanished".into());
    }
    Ok(())
}

fn survives_restart(ctx: &mut Ctx) -> CaseResult {
    set(ctx, Protocol::Tcp, &[0, 1], None)?;
    let before = lb(ctx)?.list().map_err(|e| e.to_string())?;
    // The loader goes away: only the pins keep programs and maps alive.
    ctx.lb = None;
    let seen = backends_seen(ctx, Kind::Tcp, 30)?;
    if seen != BTreeSet::from(["b1".to_string(), "b2".to_string()]) {
        return Err(format!("without a loader: backends seen {seen:?}"));
    }
    let start = Instant::now();
    let reopened = SocketLb::load(&ctx.cgroup.path, &ctx.pins.path).map_err(|e| e.to_string())?;
    println!("  re-open from pins: {:.1?}", start.elapsed());
    ctx.lb = Some(reopened);
    let after = lb(ctx)?.list().map_err(|e| e.to_string())?;
    if after != before {
        return Err(format!("services changed across restart: {before:?} -> {after:?}"));
    }
    let tcp = counters(ctx, Protocol::Tcp)?;
    if tcp.translated != ctx.tcp_translated {
        return Err(format!("counters after restart {tcp:?}, expected translated {}", ctx.tcp_translated));
    }
    if attached_programs(&ctx.cgroup.path)?.len() != 8 {
        return Err("re-load attached a second set of programs".into());
    }
    set(ctx, Protocol::Tcp, &[2], None)?;
    expect_ok(&one(ctx, Kind::Tcp, VIP)?, VIP, &["b3"])
}

/// What an agent upgrade does: a second loader prepares its programs on the pinned maps, then
/// swaps them into the pinned links while a client keeps connecting. No connect may fail, no
/// link may be re-created, and the programs behind the links must be the new ones. Pins of an
/// older map layout (a stand-in map pinned where version 1 kept SERVICES) are removed.
fn replaced_in_place_under_load(ctx: &mut Ctx) -> CaseResult {
    set(ctx, Protocol::Tcp, &[0, 1, 2], None)?;
    let old_layout_pin = ctx.pins.path.join("maps/SERVICES");
    bpftool(&[
        "map",
        "create",
        &old_layout_pin.to_string_lossy(),
        "type",
        "hash",
        "key",
        "8",
        "value",
        "16",
        "entries",
        "16",
        "name",
        "SERVICES",
    ])?;
    let before = attached_programs(&ctx.cgroup.path)?;
    const ATTEMPTS: usize = 400;
    let (topo, cgroup, pins) = (&ctx.topo, &ctx.cgroup, &ctx.pins);
    let (outcomes, next, created, swapped_after) = std::thread::scope(|scope| {
        let started = Instant::now();
        let client = scope.spawn(|| probe::run(topo, cgroup, Kind::Tcp, VIP, ATTEMPTS));
        std::thread::sleep(Duration::from_millis(30));
        let mut next = SocketLb::prepare(&cgroup.path, &pins.path).map_err(|e| e.to_string())?;
        let created = next.activate().map_err(|e| e.to_string())?;
        let swapped_after = started.elapsed();
        let outcomes = client.join().map_err(|_| "client thread panicked".to_string())??;
        Ok::<_, String>((outcomes, next, created, swapped_after))
    })?;
    ctx.lb = Some(next);
    ctx.tcp_translated += ATTEMPTS as u64;
    for out in &outcomes {
        expect_ok(out, VIP, &NAMES)?;
    }
    let after = attached_programs(&ctx.cgroup.path)?;
    println!("  {ATTEMPTS} connects all answered; programs swapped {swapped_after:.1?} into the run; {before:?} -> {after:?}");
    if created != 0 {
        return Err(format!("{created} links were re-created instead of updated"));
    }
    if after.len() != 8 || after.iter().any(|id| before.contains(id)) {
        return Err(format!("programs behind the links: before {before:?}, after {after:?}"));
    }
    if old_layout_pin.exists() {
        return Err("the older layout's map pin is still there".into());
    }
    Ok(())
}

fn remove_and_unload(ctx: &mut Ctx) -> CaseResult {
    let removed = lb_mut(ctx)?.remove_service(&frontend(Protocol::Tcp)).map_err(|e| e.to_string())?;
    if !removed {
        return Err("remove_service returned false".into());
    }
    expect_unreachable(&one(ctx, Kind::Tcp, VIP)?)?;
    set(ctx, Protocol::Udp, &[0], None)?;
    expect_ok(&one(ctx, Kind::UdpSendTo, VIP)?, VIP, &["b1"])?;
    SocketLb::unload(&ctx.pins.path).map_err(|e| e.to_string())?;
    ctx.lb = None;
    if ctx.pins.path.exists() {
        return Err("pin directory still exists after unload".into());
    }
    if !attached_programs(&ctx.cgroup.path)?.is_empty() {
        return Err("programs still attached after unload".into());
    }
    expect_unreachable(&one(ctx, Kind::UdpSendTo, VIP)?)
}

// ---- helpers ----

fn lb(ctx: &Ctx) -> Result<&SocketLb, String> {
    ctx.lb.as_ref().ok_or_else(|| "SocketLb not loaded".to_string())
}

fn lb_mut(ctx: &mut Ctx) -> Result<&mut SocketLb, String> {
    ctx.lb.as_mut().ok_or_else(|| "SocketLb not loaded".to_string())
}

fn frontend(protocol: Protocol) -> Frontend {
    let addr: SocketAddrV4 = VIP.parse().unwrap_or_else(|_| unreachable!("constant address"));
    Frontend::new(addr, protocol)
}

fn backend(index: usize) -> Backend {
    let addr: SocketAddrV4 =
        format!("{}:{BACKEND_PORT}", BACKEND_IPS[index]).parse().unwrap_or_else(|_| unreachable!("constant address"));
    Backend::new(addr)
}

fn set(ctx: &mut Ctx, protocol: Protocol, indices: &[usize], affinity: Option<Duration>) -> CaseResult {
    let backends: Vec<_> = indices.iter().map(|i| backend(*i)).collect();
    lb_mut(ctx)?.set_service(frontend(protocol), &backends, affinity).map_err(|e| e.to_string())
}

fn counters(ctx: &Ctx, protocol: Protocol) -> Result<ServiceCounters, String> {
    let stats = lb(ctx)?.stats().map_err(|e| e.to_string())?;
    stats.into_iter().find(|(f, _)| *f == frontend(protocol)).map(|(_, c)| c).ok_or_else(|| "no stats".into())
}

fn one(ctx: &Ctx, kind: Kind, addr: &str) -> Result<Outcome, String> {
    probe::run(&ctx.topo, &ctx.cgroup, kind, addr, 1)?.pop().ok_or_else(|| "probe printed nothing".into())
}

/// Runs `count` attempts; each must succeed with the VIP as peer. Returns the backends that answered.
fn backends_seen(ctx: &mut Ctx, kind: Kind, count: usize) -> Result<BTreeSet<String>, String> {
    backends_seen_at(ctx, kind, VIP, count)
}

/// As [`backends_seen`], for any frontend address (the TCP VIP's counter is kept in step).
fn backends_seen_at(ctx: &mut Ctx, kind: Kind, vip: &str, count: usize) -> Result<BTreeSet<String>, String> {
    let mut seen = BTreeSet::new();
    for out in probe::run(&ctx.topo, &ctx.cgroup, kind, vip, count)? {
        expect_ok(&out, vip, &NAMES)?;
        seen.extend(out.backend().map(str::to_string));
    }
    if kind == Kind::Tcp && (vip == VIP || vip == VIP_MAPPED) {
        ctx.tcp_translated += count as u64;
    }
    Ok(seen)
}

fn all_names() -> BTreeSet<String> {
    NAMES.iter().map(|n| n.to_string()).collect()
}

fn expect_ok(out: &Outcome, peer: &str, allowed: &[&str]) -> CaseResult {
    let want: SocketAddr = peer.parse().map_err(|e| format!("{peer}: {e}"))?;
    match out {
        Outcome::Ok { peer, .. } if *peer != want => Err(format!("peer {peer}, expected {want}")),
        Outcome::Ok { body, .. } if !out.backend().is_some_and(|b| allowed.contains(&b)) => {
            Err(format!("reply {body:?} is not from one of {allowed:?}"))
        }
        Outcome::Ok { .. } => Ok(()),
        Outcome::Err { errno, .. } => Err(format!("failed with errno {errno}")),
    }
}

/// Untranslated ClusterIP traffic hits the client's unreachable route.
fn expect_unreachable(out: &Outcome) -> CaseResult {
    match out {
        Outcome::Err { errno: EHOSTUNREACH | ENETUNREACH, .. } => Ok(()),
        other => Err(format!("expected the untranslated VIP to be unreachable, got {other:?}")),
    }
}

/// Ids of our programs attached to the cgroup, as bpftool reports them.
fn attached_programs(cgroup: &Path) -> Result<BTreeSet<u32>, String> {
    let out = Command::new("bpftool").arg("cgroup").arg("show").arg(cgroup).output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    const OURS: [&str; 8] =
        ["connect4", "sendmsg4", "recvmsg4", "getpeername4", "connect6", "sendmsg6", "recvmsg6", "getpeername6"];
    Ok(text
        .lines()
        .filter(|l| OURS.iter().any(|p| l.split_whitespace().last() == Some(*p)))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect())
}

fn bpftool(args: &[&str]) -> CaseResult {
    let out = Command::new("bpftool").args(args).output().map_err(|e| format!("bpftool {args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("bpftool {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(())
}

//! `cargo xtask bench lb`: the socket load balancer against a kube-proxy
//! style iptables baseline built in the same run on the same topology.
//!
//! Topology (all in namespaces this program creates and removes): a
//! backend netns holding ten backend addresses (10.199.1.1-10) with a TCP
//! listener on :8080, and two client namespaces wired to it by veth pairs:
//! `keel` (its client runs in a cgroup with the socket LB attached) and
//! `ipt` (kube-proxy's iptables chains in its nat table). Service VIPs are
//! 10.96.x.y:80 with ten endpoints each; the measured service is the last
//! one programmed.
//!
//! Measures (a) connect latency p50/p99 with 1, 1,000 and 10,000 services
//! installed, (b) the time to program 10,000 services x 10 endpoints, and
//! (c) the connection rate through a ClusterIP vs straight to a pod IP, and
//! (d) the connection rate to a NodePort from outside the node, with 1 and with
//! 1,000 NodePort services installed (kube-proxy's chains grow with them).

use anyhow::{bail, Context, Result};
use keel_node_agent::lb::{Backend, ExternalBackend, ExternalFrontendConfig, ExternalLb, Frontend, Protocol, SocketLb};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BACKENDS: u8 = 10;
const SAMPLES: usize = 2000;
/// Latency rounds per service count (the median round is reported).
const ROUNDS: usize = 7;
/// NodePort services installed for the second (d) row: a modest cluster's worth.
const NODE_PORT_SERVICES: usize = 1000;
const RATE_CONNECTS: usize = 3000;

fn sh(args: &[&str]) -> Result<()> {
    let out = Command::new(args[0]).args(&args[1..]).output().with_context(|| format!("running {args:?}"))?;
    if !out.status.success() {
        bail!("{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// Everything the bench creates, removed on drop (also on error).
struct Topology {
    tag: String,
    cgroup: PathBuf,
    pins: PathBuf,
    backend: Option<std::process::Child>,
}

impl Topology {
    fn ns(&self, role: &str) -> String {
        format!("kbl-{role}-{}", self.tag)
    }

    fn create() -> Result<Self> {
        let tag = std::process::id().to_string();
        let t = Topology {
            cgroup: PathBuf::from(format!("/sys/fs/cgroup/unified/keel-bench-lb-{tag}")),
            pins: PathBuf::from(format!("/sys/fs/bpf/keel-bench-lb-{tag}")),
            tag,
            backend: None,
        };
        let (b, k, i) = (t.ns("b"), t.ns("k"), t.ns("i"));
        for ns in [&b, &k, &i] {
            sh(&["ip", "netns", "add", ns])?;
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
        }
        // Two veth pairs into the backend namespace, one per client namespace.
        for (client, n) in [(&k, 0), (&i, 2)] {
            let (cl, bl) = (format!("kbl{n}c{}", t.tag), format!("kbl{n}b{}", t.tag));
            sh(&["ip", "link", "add", &cl, "netns", client, "type", "veth", "peer", "name", &bl, "netns", &b])?;
            sh(&["ip", "-n", client, "addr", "add", &format!("10.199.{n}.1/24"), "dev", &cl])?;
            sh(&["ip", "-n", &b, "addr", "add", &format!("10.199.{n}.2/24"), "dev", &bl])?;
            sh(&["ip", "-n", client, "link", "set", &cl, "up"])?;
            sh(&["ip", "-n", &b, "link", "set", &bl, "up"])?;
            sh(&["ip", "-n", client, "route", "add", "10.199.1.0/24", "via", &format!("10.199.{n}.2")])?;
            if n == 0 {
                // The socket LB translates before routing: untranslated VIP
                // traffic must fail here, never leave.
                sh(&["ip", "-n", client, "route", "add", "unreachable", "10.96.0.0/12"])?;
            } else {
                // iptables DNATs after the socket's route lookup, so the VIPs
                // need a route, as on a kube-proxy node; it only leads to the
                // backend namespace.
                sh(&["ip", "-n", client, "route", "add", "10.96.0.0/12", "via", "10.199.2.2"])?;
            }
        }
        for j in 1..=BACKENDS {
            sh(&["ip", "-n", &b, "addr", "add", &format!("10.199.1.{j}/32"), "dev", "lo"])?;
        }
        std::fs::create_dir_all(&t.cgroup)?;
        Ok(t)
    }

    /// The backend: this program in the backend namespace, accepting and
    /// closing at once (the server closes first, so clients keep no TIME_WAIT).
    fn start_backend(&mut self) -> Result<()> {
        keep_no_time_wait(&self.ns("b"))?;
        let exe = std::env::current_exe()?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns("b")])
            .arg(exe)
            .arg("serve")
            .stdout(Stdio::null())
            .spawn()
            .context("starting the backend")?;
        self.backend = Some(child);
        std::thread::sleep(Duration::from_millis(300));
        Ok(())
    }

    /// Run this program as a client in namespace `role` (and, for keel, in the LB cgroup).
    fn client(&self, role: &str, in_cgroup: bool, args: &[String]) -> Result<String> {
        // Not `ip netns exec`: it remounts /sys, hiding the cgroup2 mount the
        // client must join; the client enters the namespace itself.
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("client").arg(self.ns(role)).args(args);
        if in_cgroup {
            cmd.env("KEEL_BENCH_CGROUP", &self.cgroup);
        }
        let out = cmd.output().context("running a client")?;
        if !out.status.success() {
            bail!("client failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        if let Some(mut c) = self.backend.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = SocketLb::unload(&self.pins);
        let _ = std::fs::remove_dir(&self.cgroup);
        for role in ["b", "k", "i"] {
            let _ = Command::new("ip").args(["netns", "del", &self.ns(role)]).status();
        }
    }
}

fn vip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 96 + (i >> 16) as u8, (i >> 8) as u8, i as u8)
}

fn backends() -> Vec<Backend> {
    (1..=BACKENDS).map(|j| Backend::new(SocketAddrV4::new(Ipv4Addr::new(10, 199, 1, j), 8080))).collect()
}

/// Program services from..to into the socket LB in one call (batched map writes).
fn program_keel(lb: &mut SocketLb, from: usize, to: usize) -> Result<Duration> {
    let bs = backends();
    let items: Vec<(Frontend, Vec<Backend>, Option<Duration>)> = (from..to)
        .map(|i| (Frontend::new(SocketAddrV4::new(vip(i + 1), 80), Protocol::Tcp), bs.clone(), None))
        .collect();
    let start = Instant::now();
    lb.set_services(&items)?;
    Ok(start.elapsed())
}

/// kube-proxy's iptables-mode chains for services 0..n, as iptables-restore input.
fn iptables_rules(n: usize) -> String {
    let mut chains = String::from("*nat\n:KUBE-SERVICES - [0:0]\n");
    let mut rules = String::from("-A OUTPUT -j KUBE-SERVICES\n");
    for i in 0..n {
        let svc = format!("KUBE-SVC-{i:016X}");
        chains.push_str(&format!(":{svc} - [0:0]\n"));
        rules.push_str(&format!("-A KUBE-SERVICES -d {}/32 -p tcp -m tcp --dport 80 -j {svc}\n", vip(i + 1)));
        for j in 1..=BACKENDS {
            let sep = format!("KUBE-SEP-{i:012X}{j:04X}");
            chains.push_str(&format!(":{sep} - [0:0]\n"));
            let left = u32::from(BACKENDS - j + 1);
            if j < BACKENDS {
                rules.push_str(&format!(
                    "-A {svc} -m statistic --mode random --probability {:.11} -j {sep}\n",
                    1.0 / f64::from(left)
                ));
            } else {
                rules.push_str(&format!("-A {svc} -j {sep}\n"));
            }
            rules.push_str(&format!("-A {sep} -p tcp -m tcp -j DNAT --to-destination 10.199.1.{j}:8080\n"));
        }
    }
    chains + &rules + "COMMIT\n"
}

fn program_iptables(t: &Topology, n: usize) -> Result<Duration> {
    let rules = iptables_rules(n);
    let start = Instant::now();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &t.ns("i"), "iptables-restore"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running iptables-restore")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(rules.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("iptables-restore: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(start.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

/// Client mode: `client latency ADDR N` prints p50 and p99 in µs;
/// `client rate ADDR N` prints connections per second.
fn client_main(args: &[String]) -> Result<()> {
    if let Some(cg) = std::env::var_os("KEEL_BENCH_CGROUP") {
        std::fs::write(Path::new(&cg).join("cgroup.procs"), std::process::id().to_string())?;
    }
    let Some(netns) = args.first() else { bail!("usage: client NETNS MODE ADDR N") };
    let ns = std::fs::File::open(format!("/run/netns/{netns}")).with_context(|| format!("opening netns {netns}"))?;
    // Still single-threaded here, so the whole client lives in the namespace.
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).context("entering the client namespace")?;
    let args = &args[1..];
    let (Some(mode), Some(addr), Some(n)) = (args.first(), args.get(1), args.get(2)) else { bail!("usage") };
    let addr: SocketAddrV4 = addr.parse()?;
    let n: usize = n.parse()?;
    let connect = || -> Result<Duration> {
        let start = Instant::now();
        let mut s = TcpStream::connect(addr)?;
        let took = start.elapsed();
        // The server closes first; read its FIN so no TIME_WAIT stays here.
        let mut buf = [0u8; 1];
        let _ = s.read(&mut buf);
        Ok(took)
    };
    match mode.as_str() {
        "latency" => {
            // Warm up caches and the first ARP.
            for _ in 0..50 {
                connect()?;
            }
            let mut lat: Vec<Duration> = (0..n).map(|_| connect()).collect::<Result<_>>()?;
            lat.sort();
            println!("{} {}", percentile(&lat, 0.5).as_micros(), percentile(&lat, 0.99).as_micros());
        }
        "rate" => {
            let start = Instant::now();
            for _ in 0..n {
                connect()?;
            }
            println!("{:.0}", n as f64 / start.elapsed().as_secs_f64());
        }
        _ => bail!("unknown client mode"),
    }
    Ok(())
}

fn serve_main() -> Result<()> {
    let listener = TcpListener::bind("0.0.0.0:8080")?;
    for conn in listener.incoming() {
        drop(conn);
    }
    Ok(())
}

/// The servers close first, so their namespace would collect a TIME_WAIT socket per
/// connection; tens of thousands of them slow the later measurements of a run more than the
/// earlier ones. Both sides of every comparison run with this setting.
fn keep_no_time_wait(netns: &str) -> Result<()> {
    sh(&["ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv4.tcp_max_tw_buckets=0"])
}

/// p50 and p99 in microseconds.
type Percentiles = (u128, u128);

fn latency(t: &Topology, role: &str, keel: bool, target: Ipv4Addr) -> Result<Percentiles> {
    let out = t.client(role, keel, &["latency".into(), format!("{target}:80"), SAMPLES.to_string()])?;
    let mut it = out.split_whitespace().map(|x| x.parse::<u128>().unwrap_or(0));
    Ok((it.next().unwrap_or(0), it.next().unwrap_or(0)))
}

/// Keel's and iptables' percentiles, each the median over `ROUNDS` alternating rounds: one
/// round is exposed to whatever else the 2 cores were doing at that moment.
fn latency_rounds(t: &Topology, target: Ipv4Addr) -> Result<(Percentiles, Percentiles)> {
    let (mut keel, mut ipt) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        keel.push(latency(t, "k", true, target)?);
        ipt.push(latency(t, "i", false, target)?);
    }
    Ok((median_of(&keel), median_of(&ipt)))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn median_of(rounds: &[Percentiles]) -> Percentiles {
    let mut p50: Vec<u128> = rounds.iter().map(|r| r.0).collect();
    let mut p99: Vec<u128> = rounds.iter().map(|r| r.1).collect();
    p50.sort_unstable();
    p99.sort_unstable();
    (p50.get(p50.len() / 2).copied().unwrap_or(0), p99.get(p99.len() / 2).copied().unwrap_or(0))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("client") => return client_main(&args[1..]),
        Some("serve") => return serve_main(),
        _ => {}
    }
    anyhow::ensure!(nix::unistd::geteuid().is_root(), "bench lb needs root (namespaces, eBPF, iptables)");
    println!("bench lb: socket load balancer vs kube-proxy iptables chains, same run, same topology");
    let mut t = Topology::create()?;
    t.start_backend()?;
    let mut lb = SocketLb::load(&t.cgroup, &t.pins)?;

    let mut rows: Vec<(usize, Percentiles, Percentiles)> = Vec::new();
    let mut have = 0;
    let mut keel_program = Duration::ZERO;
    let mut ipt_program = Duration::ZERO;
    for n in [1usize, 1_000, 10_000] {
        println!("  {n} services x {BACKENDS} endpoints");
        let took = program_keel(&mut lb, have, n)?;
        have = n;
        let ipt = program_iptables(&t, n)?;
        if n == 10_000 {
            // (b) full programming from empty: reload the LB's services from scratch, three
            // times (the median counts: one shot is at the mercy of the 2 shared cores).
            let mut runs = Vec::new();
            for _ in 0..3 {
                SocketLb::unload(&t.pins)?;
                lb = SocketLb::load(&t.cgroup, &t.pins)?;
                runs.push(program_keel(&mut lb, 0, n)?);
            }
            runs.sort();
            keel_program = runs[1];
            ipt_program = ipt;
        }
        let _ = took;
        let (k, i) = latency_rounds(&t, vip(n))?;
        rows.push((n, k, i));
    }
    // (c) rate through the ClusterIP vs straight to one pod IP, same client and cgroup.
    let rate = |addr: String| -> Result<f64> {
        Ok(t.client("k", true, &["rate".into(), addr, RATE_CONNECTS.to_string()])?.trim().parse().unwrap_or(0.0))
    };
    let (mut via, mut straight) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        via.push(rate(format!("{}:80", vip(1)))?);
        straight.push(rate("10.199.1.1:8080".into())?);
    }
    let (via_vip, direct) = (median(&mut via), median(&mut straight));
    drop(lb);
    drop(t);
    let mut node_port = Vec::new();
    for n in [1, NODE_PORT_SERVICES] {
        println!("  NodePort from outside with {n} NodePort services, TC path vs iptables NodePort chains");
        node_port.push((n, node_port_rates(n)?));
    }

    println!();
    println!("| metric | keel (socket LB) | kube-proxy iptables | ratio | target |");
    println!("| --- | --- | --- | --- | --- |");
    let base = rows.first().map(|r| r.1 .0).unwrap_or(1).max(1);
    for (n, k, i) in &rows {
        println!(
            "| connect p50 / p99, {n} services | {} / {} µs | {} / {} µs | {:.2}x | |",
            k.0,
            k.1,
            i.0,
            i.1,
            i.0 as f64 / (k.0.max(1) as f64)
        );
    }
    let k10 = rows.last().map(|r| r.1 .0).unwrap_or(0);
    println!(
        "| keel p50 at 10k vs at 1 service | {:+.1}% | | | within 5% and below iptables at 10k |",
        (k10 as f64 / base as f64 - 1.0) * 100.0
    );
    println!(
        "| program 10,000 services x 10 endpoints | {:.0} ms | {:.0} ms | {:.0}x | < 100 ms and >= 50x |",
        keel_program.as_secs_f64() * 1000.0,
        ipt_program.as_secs_f64() * 1000.0,
        ipt_program.as_secs_f64() / keel_program.as_secs_f64().max(1e-9)
    );
    println!(
        "| connections/s through the ClusterIP vs the pod IP | {via_vip:.0} | {direct:.0} (direct) | {:.3}x | >= 0.98x |",
        via_vip / direct.max(1.0)
    );
    for (n, (np_keel, np_ipt, routed)) in node_port {
        println!(
            "| NodePort connections/s from outside, {n} NodePort services | {np_keel:.0} | {np_ipt:.0} | {:.2}x | >= 1.7x |",
            np_keel / np_ipt.max(1.0)
        );
        println!(
            "| ceiling: the pod routed straight, no load balancer ({n} services installed) | {routed:.0} | | {:.2}x | |",
            routed / np_ipt.max(1.0)
        );
    }
    Ok(())
}

/// (d) NodePort from outside: the external TC path against kube-proxy's
/// iptables NodePort chains, each on its own "node" namespace between the
/// same kind of outside client and a local backend pod.
struct NodePortTopology {
    tag: String,
    pins: PathBuf,
    servers: Vec<std::process::Child>,
}

impl NodePortTopology {
    fn ns(&self, role: &str) -> String {
        format!("kbn-{role}-{}", self.tag)
    }

    /// Namespaces: o (outside), nk/ni (nodes, keel and iptables), pk/pi (their pods).
    fn create() -> Result<Self> {
        let tag = std::process::id().to_string();
        let t = NodePortTopology {
            pins: PathBuf::from(format!("/sys/fs/bpf/keel-bench-np-{tag}")),
            tag,
            servers: Vec::new(),
        };
        let (o, nk, ni, pk, pi) = (t.ns("o"), t.ns("nk"), t.ns("ni"), t.ns("pk"), t.ns("pi"));
        for ns in [&o, &nk, &ni, &pk, &pi] {
            sh(&["ip", "netns", "add", ns])?;
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
        }
        for (node, pod, n) in [(&nk, &pk, 77), (&ni, &pi, 78)] {
            let (oc, ne) = (format!("kbo{n}{}", t.tag), format!("kbe{n}{}", t.tag));
            sh(&["ip", "link", "add", &oc, "netns", &o, "type", "veth", "peer", "name", &ne, "netns", node])?;
            sh(&["ip", "-n", &o, "addr", "add", &format!("192.168.{n}.1/24"), "dev", &oc])?;
            sh(&["ip", "-n", node, "addr", "add", &format!("192.168.{n}.2/24"), "dev", &ne])?;
            sh(&["ip", "-n", &o, "link", "set", &oc, "up"])?;
            sh(&["ip", "-n", node, "link", "set", &ne, "up"])?;
            let (nv, pv) = (format!("kbn{n}{}", t.tag), format!("kbp{n}{}", t.tag));
            sh(&["ip", "link", "add", &nv, "netns", node, "type", "veth", "peer", "name", &pv, "netns", pod])?;
            sh(&["ip", "-n", node, "addr", "add", &format!("10.200.{n}.1/24"), "dev", &nv])?;
            sh(&["ip", "-n", pod, "addr", "add", &format!("10.200.{n}.2/24"), "dev", &pv])?;
            sh(&["ip", "-n", node, "link", "set", &nv, "up"])?;
            sh(&["ip", "-n", pod, "link", "set", &pv, "up"])?;
            sh(&["ip", "-n", pod, "route", "add", "default", "via", &format!("10.200.{n}.1")])?;
            sh(&["ip", "netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
            // The ceiling: the outside client may also reach the pod straight, routed, no LB.
            sh(&["ip", "-n", &o, "route", "add", &format!("10.200.{n}.0/24"), "via", &format!("192.168.{n}.2")])?;
        }
        Ok(t)
    }

    fn start_servers(&mut self) -> Result<()> {
        for pod in ["pk", "pi"] {
            keep_no_time_wait(&self.ns(pod))?;
            let child = Command::new("ip")
                .args(["netns", "exec", &self.ns(pod)])
                .arg(std::env::current_exe()?)
                .arg("serve")
                .stdout(Stdio::null())
                .spawn()?;
            self.servers.push(child);
        }
        std::thread::sleep(Duration::from_millis(300));
        Ok(())
    }

    /// kube-proxy's NodePort path for Cluster policy, for `n` services that each have a
    /// ClusterIP and a NodePort (30000 + i): KUBE-SERVICES (one rule per ClusterIP, then the
    /// jump to KUBE-NODEPORTS, which kube-proxy keeps last) -> KUBE-NODEPORTS -> KUBE-EXT (mark
    /// for masquerade) -> KUBE-SVC -> KUBE-SEP DNAT to the local pod.
    fn iptables(&self, n: usize) -> Result<()> {
        let mut chains = String::from(
            "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-NODEPORTS - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-POSTROUTING - [0:0]\n",
        );
        let mut rules = String::from("-A PREROUTING -j KUBE-SERVICES\n-A POSTROUTING -j KUBE-POSTROUTING\n");
        let mut node_ports = String::new();
        for i in 0..n {
            chains.push_str(&format!(":KUBE-SVC-{i} - [0:0]\n:KUBE-EXT-{i} - [0:0]\n:KUBE-SEP-{i} - [0:0]\n"));
            rules
                .push_str(&format!("-A KUBE-SERVICES -d {}/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-{i}\n", vip(i + 1)));
            node_ports.push_str(&format!("-A KUBE-NODEPORTS -p tcp -m tcp --dport {} -j KUBE-EXT-{i}\n", 30000 + i));
            rules.push_str(&format!(
                "-A KUBE-EXT-{i} -j KUBE-MARK-MASQ\n-A KUBE-EXT-{i} -j KUBE-SVC-{i}\n-A KUBE-SVC-{i} -j KUBE-SEP-{i}\n\
                 -A KUBE-SEP-{i} -p tcp -m tcp -j DNAT --to-destination 10.200.78.2:8080\n"
            ));
        }
        rules.push_str("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n");
        rules.push_str(&node_ports);
        rules.push_str(
            "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n\
             -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n\
             -A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0\n\
             -A KUBE-POSTROUTING -j MASQUERADE\nCOMMIT\n",
        );
        let input = chains + &rules;
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns("ni"), "iptables-restore"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        anyhow::ensure!(out.status.success(), "iptables-restore: {}", String::from_utf8_lossy(&out.stderr));
        Ok(())
    }

    /// Attach the external LB in node nk (the attach resolves the interface
    /// in the calling thread's namespace, so a thread enters it).
    fn keel(&self, n: usize) -> Result<ExternalLb> {
        let (ns, iface, pins) = (self.ns("nk"), format!("kbe77{}", self.tag), self.pins.clone());
        let handle = std::thread::spawn(move || -> Result<ExternalLb> {
            let f = std::fs::File::open(format!("/run/netns/{ns}"))?;
            nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)?;
            let mut lb = ExternalLb::attach(&iface, Ipv4Addr::new(192, 168, 77, 2), &pins)?;
            let backend = ExternalBackend { addr: SocketAddrV4::new(Ipv4Addr::new(10, 200, 77, 2), 8080), local: true };
            for i in 0..n {
                let port = 30000 + i as u16;
                let frontend = Frontend::new(SocketAddrV4::new(Ipv4Addr::new(192, 168, 77, 2), port), Protocol::Tcp);
                // The agent's default table size (--maglev-table-size), so 1,000 frontends fit.
                let config = ExternalFrontendConfig { maglev_size: 1021, ..ExternalFrontendConfig::default() };
                lb.set_frontend(frontend, &[backend], &config)?;
            }
            Ok(lb)
        });
        handle.join().map_err(|_| anyhow::anyhow!("attach thread panicked"))?
    }

    fn rate(&self, addr: &str) -> Result<f64> {
        let out = Command::new(std::env::current_exe()?)
            .args(["client", &self.ns("o"), "rate", addr, &RATE_CONNECTS.to_string()])
            .output()?;
        anyhow::ensure!(out.status.success(), "client: {}", String::from_utf8_lossy(&out.stderr));
        Ok(String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0.0))
    }

    /// Both rates as medians of `ROUNDS` alternating rounds.
    fn rates(&self, keel: &str, ipt: &str) -> Result<(f64, f64)> {
        let (mut k, mut i) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            k.push(self.rate(keel)?);
            i.push(self.rate(ipt)?);
        }
        Ok((median(&mut k), median(&mut i)))
    }
}

impl Drop for NodePortTopology {
    fn drop(&mut self) {
        for c in &mut self.servers {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = ExternalLb::detach(&self.pins);
        for role in ["o", "nk", "ni", "pk", "pi"] {
            let _ = Command::new("ip").args(["netns", "del", &self.ns(role)]).status();
        }
    }
}

/// Connections per second from outside through each node's NodePort, with `n` NodePort
/// services installed on both nodes; the one measured sits in the middle of kube-proxy's list.
/// Also returns the ceiling: the same client reaching the keel node's pod by plain routing.
fn node_port_rates(n: usize) -> Result<(f64, f64, f64)> {
    let mut t = NodePortTopology::create()?;
    t.start_servers()?;
    t.iptables(n)?;
    let lb = t.keel(n)?;
    let port = 30000 + n / 2;
    // The ceiling first: the external path keeps reverse-NAT entries of finished NodePort flows
    // until the LRU evicts them, and a later direct flow reusing a client port would match one.
    let mut routed: Vec<f64> = (0..ROUNDS).map(|_| t.rate("10.200.77.2:8080")).collect::<Result<_>>()?;
    let rates = t.rates(&format!("192.168.77.2:{port}"), &format!("192.168.78.2:{port}"))?;
    drop(lb);
    Ok((rates.0, rates.1, median(&mut routed)))
}

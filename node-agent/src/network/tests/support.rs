//! Test scaffolding: fresh node namespaces, self-cleaning temp dirs, TCP round trips.

use std::fs::File;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use nix::mount::{umount2, MntFlags};
use nix::sched::{setns, unshare, CloneFlags};

use super::super::mounts::mount_points;
use super::super::netns::{create_netns, in_netns, remove_netns};
use super::super::NetworkConfig;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(label: &str) -> String {
    format!("keeltest-net-{}-{}-{label}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A temp directory that, on drop, lazily unmounts everything mounted below it (netns files,
/// the private netns dir) and then deletes it.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(label: &str) -> Self {
        let path = std::env::temp_dir().join(unique(label));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path.canonicalize().expect("resolve temp dir"))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let mut below: Vec<PathBuf> =
            mount_points().unwrap_or_default().into_iter().filter(|m| m.starts_with(&self.0)).collect();
        // Last mounted first: inner mounts go before the mounts they sit on.
        below.reverse();
        for mount in below {
            let _ = umount2(&mount, MntFlags::MNT_DETACH);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A netns bind-mounted on a file, removed on drop.
pub(crate) struct NetnsFile(pub(crate) PathBuf);

impl NetnsFile {
    pub(crate) fn new(path: PathBuf) -> anyhow::Result<Self> {
        create_netns(&path)?;
        Ok(NetnsFile(path))
    }
}

impl Drop for NetnsFile {
    fn drop(&mut self) {
        let _ = remove_netns(&self.0);
    }
}

/// Moves the current thread into a netns until dropped, then back.
pub(crate) struct Entered(File);

impl Entered {
    pub(crate) fn new(path: &Path) -> anyhow::Result<Self> {
        let back = File::open("/proc/thread-self/ns/net")?;
        setns(File::open(path)?.as_fd(), CloneFlags::CLONE_NEWNET)?;
        Ok(Entered(back))
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        setns(self.0.as_fd(), CloneFlags::CLONE_NEWNET).expect("return to the previous netns");
    }
}

/// Runs an async test body on a fresh thread that first moves into a new, empty netns (the test's
/// "node"), with a current-thread runtime so every task stays on that thread. The netns dies with
/// the thread.
pub(crate) fn node_test<F, Fut>(body: F) -> anyhow::Result<()>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>>,
{
    run_in_fresh_netns(false, body)
}

/// Like [`node_test`] with a multi-thread runtime (as the agent uses). Its workers are spawned by
/// the test thread after it entered the node netns, so they are in the node netns too.
pub(crate) fn node_test_multi_thread<F, Fut>(body: F) -> anyhow::Result<()>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>>,
{
    run_in_fresh_netns(true, body)
}

fn run_in_fresh_netns<F, Fut>(multi_thread: bool, body: F) -> anyhow::Result<()>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let thread = std::thread::spawn(move || -> anyhow::Result<()> {
        unshare(CloneFlags::CLONE_NEWNET).context("unshare the test node netns")?;
        sh("ip link set lo up")?;
        let runtime = if multi_thread {
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?
        } else {
            tokio::runtime::Builder::new_current_thread().enable_all().build()?
        };
        runtime.block_on(body())
    });
    match thread.join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

pub(crate) fn config(state_dir: &Path, pod_cidr: &str) -> NetworkConfig {
    NetworkConfig {
        state_dir: state_dir.to_path_buf(),
        pod_cidr: pod_cidr.parse().expect("pod cidr"),
        cluster_cidr: "10.244.0.0/16".parse().expect("cluster cidr"),
        service_cidr: "10.96.0.0/12".parse().expect("service cidr"),
        bridge_name: "keel0".into(),
        mtu: None,
        ipv6: None,
    }
}

/// Runs a shell command in the calling thread's netns (a child inherits its thread's namespaces).
pub(crate) fn sh(command: &str) -> anyhow::Result<String> {
    let out = Command::new("sh").arg("-c").arg(command).output().with_context(|| format!("run {command}"))?;
    ensure!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a shell command inside the netns file `netns`.
pub(crate) fn sh_in(netns: &Path, command: &str) -> anyhow::Result<String> {
    sh(&format!("nsenter --net={} {command}", netns.display()))
}

/// An underlay interface pair for the node netns: `up0` (192.0.2.1/24, MTU 1400) and its peer
/// `up1` with IPv6 off, so tests can watch that nothing is sent out of the node.
pub(crate) fn underlay_with_default_route() -> anyhow::Result<()> {
    std::fs::write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1")?;
    std::fs::write("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1")?;
    sh("ip link add up0 mtu 1400 type veth peer name up1 mtu 1400")?;
    sh("ip addr add 192.0.2.1/24 dev up0 && ip link set up0 up && ip link set up1 up")?;
    sh("ip route add default via 192.0.2.2 dev up0")?;
    Ok(())
}

/// Opens a listener on `ip` (inside `netns`, or in the calling thread's netns), connects to it from
/// `client_netns`, sends a unique payload and checks the echoed reply.
pub(crate) fn tcp_round_trip(client_netns: &Path, server_netns: Option<&Path>, ip: Ipv4Addr) -> anyhow::Result<()> {
    let listener = match server_netns {
        Some(ns) => in_netns(ns, move || TcpListener::bind((ip, 0)))??,
        None => TcpListener::bind((ip, 0))?,
    };
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || echo_once(listener));
    let payload = format!("hello from {} to {addr}", client_netns.display());
    let expected = format!("echo:{payload}");
    let reply = in_netns(client_netns, move || send(addr, &payload))?;
    let served = server.join().map_err(|_| anyhow::anyhow!("echo server panicked"))?;
    served.context("echo server")?;
    ensure!(reply.context("client")? == expected, "wrong reply from {addr}");
    Ok(())
}

fn echo_once(listener: TcpListener) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut stream, _) = loop {
        match listener.accept() {
            Ok(conn) => break conn,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => bail!("accept: {e}"),
        }
    };
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = String::new();
    stream.read_to_string(&mut request)?;
    stream.write_all(format!("echo:{request}").as_bytes())?;
    Ok(())
}

fn send(addr: SocketAddr, payload: &str) -> anyhow::Result<String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(3)).with_context(|| format!("connect {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(payload.as_bytes())?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply)
}

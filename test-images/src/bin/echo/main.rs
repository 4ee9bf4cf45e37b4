//! `echo`: the HTTP/TCP/UDP echo server of Keel's test images.
//!
//! Environment: PORT (default 8080) for HTTP and UDP, BIND_ADDR (default 0.0.0.0),
//! TCP_ECHO_PORT for an extra raw TCP echo, and the pod identity (POD_NAME, POD_NAMESPACE,
//! POD_IP, NODE_NAME, VERSION). SIGTERM and SIGINT exit 0 at once, also as PID 1.
//! `echo probe ...` is a client instead (see `probe.rs`).

mod http;
mod memory;
mod pod_info;
mod probe;
mod route;
mod tcp_echo;
mod udp;

use anyhow::{bail, Context, Result};
use pod_info::PodInfo;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::net::{TcpListener, UdpSocket};
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinSet;

// One thread is plenty for a test server and keeps it light under a pids limit.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("probe") {
        return probe::run(&args[1..]);
    }
    let info = Arc::new(PodInfo::from_env());
    let ip = bind_ip()?;
    let port = port_from_env("PORT")?.unwrap_or(8080);
    let addr = SocketAddr::new(ip, port);

    let mut terminate = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut tasks = JoinSet::new();
    let http = TcpListener::bind(addr).await.with_context(|| format!("listening on tcp {addr}"))?;
    let udp = UdpSocket::bind(addr).await.with_context(|| format!("binding udp {addr}"))?;
    tasks.spawn(http::serve(http, info.clone()));
    tasks.spawn(udp::serve(udp, info.clone()));
    if let Some(echo_port) = port_from_env("TCP_ECHO_PORT")? {
        let echo_addr = SocketAddr::new(ip, echo_port);
        let listener = TcpListener::bind(echo_addr).await.with_context(|| format!("listening on tcp {echo_addr}"))?;
        tasks.spawn(tcp_echo::serve(listener));
        println!("tcp echo listening on {echo_addr}");
    }
    println!("echo {} listening on {addr} (http, h2c, udp)", info.version.as_deref().unwrap_or("unversioned"));

    tokio::select! {
        _ = terminate.recv() => stop("SIGTERM"),
        _ = interrupt.recv() => stop("SIGINT"),
        Some(ended) = tasks.join_next() => match ended {
            Ok(Ok(())) => bail!("a listener stopped"),
            Ok(Err(err)) => Err(err),
            Err(err) => bail!("a listener panicked: {err}"),
        },
    }
}

/// Exits right away: open connections and /alloc memory need no cleanup.
fn stop(signal: &str) -> ! {
    println!("{signal} received, exiting");
    std::process::exit(0)
}

fn bind_ip() -> Result<IpAddr> {
    match std::env::var("BIND_ADDR") {
        Ok(value) if !value.is_empty() => value.parse().with_context(|| format!("BIND_ADDR={value} is not an IP")),
        _ => Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
    }
}

fn port_from_env(name: &str) -> Result<Option<u16>> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => {
            value.parse().map(Some).with_context(|| format!("{name}={value} is not a port number"))
        }
        _ => Ok(None),
    }
}

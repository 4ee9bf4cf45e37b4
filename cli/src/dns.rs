//! `keel dns query NAME [TYPE]`: one query straight to a node's cluster DNS server, sent from
//! the network namespace that holds the node's address when the node lives in one (as
//! `keel cluster up` nodes do), so it shows exactly what that node answers.

use anyhow::{bail, Context, Result};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

#[derive(clap::Subcommand)]
pub enum DnsCmd {
    /// Send one query to a node's DNS server and print the answer, dig-style.
    Query {
        /// The name to look up (made absolute: no search list).
        name: String,
        /// Record type: A, AAAA, SRV, PTR, CNAME, TXT, SOA, NS, ANY...
        #[arg(default_value = "A")]
        record_type: String,
        /// The node whose server to ask (its InternalIP, from the API).
        #[arg(long)]
        node: Option<String>,
        /// Ask this address instead (IP or IP:PORT).
        #[arg(long, conflicts_with = "node")]
        server: Option<String>,
        /// Query over TCP (UDP otherwise, with TCP after a truncated answer).
        #[arg(long)]
        tcp: bool,
        /// kubeconfig for --node (default: $KUBECONFIG, then ~/.kube/config).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
    },
}

pub async fn run(cmd: DnsCmd) -> Result<()> {
    let DnsCmd::Query { name, record_type, node, server, tcp, kubeconfig } = cmd;
    let server = match (server, node) {
        (Some(s), _) => parse_server(&s)?,
        (None, Some(node)) => SocketAddr::new(node_ip(&node, kubeconfig).await?, 53),
        (None, None) => bail!("say which server to ask: --node NODE or --server IP[:PORT]"),
    };
    let mut fqdn = Name::from_str(&name).with_context(|| format!("{name:?} is not a DNS name"))?;
    fqdn.set_fqdn(true);
    let record_type = RecordType::from_str(&record_type.to_ascii_uppercase())
        .with_context(|| format!("unknown record type {record_type}"))?;
    let netns = netns_holding(server.ip());
    // Sockets belong to the namespace they were made in: query from a thread that entered it.
    let answer = std::thread::spawn(move || -> Result<(Message, &'static str)> {
        if let Some(ns) = &netns {
            let file = std::fs::File::open(ns).with_context(|| format!("opening {}", ns.display()))?;
            nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).context("entering the node's namespace")?;
        }
        exchange(server, &query(fqdn, record_type), tcp)
    })
    .join()
    .map_err(|_| anyhow::anyhow!("query thread panicked"))??;
    print!("{}", render(&answer.0, server, answer.1));
    Ok(())
}

fn parse_server(s: &str) -> Result<SocketAddr> {
    s.parse::<SocketAddr>()
        .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .with_context(|| format!("--server {s}: not an IP or IP:PORT"))
}

async fn node_ip(node: &str, kubeconfig: Option<PathBuf>) -> Result<IpAddr> {
    let options = kube::config::KubeConfigOptions::default();
    let config = match kubeconfig {
        Some(path) => {
            let file =
                kube::config::Kubeconfig::read_from(&path).with_context(|| format!("reading {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &options).await?
        }
        None => kube::Config::infer().await.context("no kubeconfig: pass --kubeconfig or set KUBECONFIG")?,
    };
    let client = kube::Client::try_from(config)?;
    let n = kube::Api::<k8s_openapi::api::core::v1::Node>::all(client).get(node).await?;
    n.status
        .and_then(|s| s.addresses)
        .into_iter()
        .flatten()
        .find(|a| a.type_ == "InternalIP")
        .and_then(|a| a.address.parse().ok())
        .with_context(|| format!("node {node} reports no InternalIP"))
}

/// The network namespace under /run/netns holding `ip`, when this one does not.
fn netns_holding(ip: IpAddr) -> Option<PathBuf> {
    if holds(ip) {
        return None;
    }
    let entries = std::fs::read_dir("/run/netns").ok()?;
    entries.flatten().map(|e| e.path()).find(|path| {
        let path = path.clone();
        std::thread::spawn(move || {
            let Ok(file) = std::fs::File::open(&path) else { return false };
            // SAFETY: setns on an open namespace file; affects only this short-lived thread.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return false;
            }
            holds(ip)
        })
        .join()
        .unwrap_or(false)
    })
}

/// Whether an interface of the calling thread's namespace has `ip`.
fn holds(ip: IpAddr) -> bool {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else { return false };
    addrs.filter_map(|a| a.address).any(|sa| {
        sa.as_sockaddr_in().map(|v4| IpAddr::V4(v4.ip())) == Some(ip)
            || sa.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())) == Some(ip)
    })
}

fn query(name: Name, record_type: RecordType) -> Message {
    let mut message = Message::new();
    message
        .set_id(std::process::id() as u16)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(name, record_type));
    message
}

/// UDP, or TCP when asked or when the UDP answer was truncated.
fn exchange(server: SocketAddr, query: &Message, tcp: bool) -> Result<(Message, &'static str)> {
    let bytes = query.to_vec()?;
    if !tcp {
        let socket = UdpSocket::bind(if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
        socket.set_read_timeout(Some(TIMEOUT))?;
        socket.send_to(&bytes, server)?;
        let mut buf = vec![0u8; 65_535];
        let n = socket.recv(&mut buf).with_context(|| format!("no answer from {server} over UDP"))?;
        let answer = Message::from_vec(&buf[..n])?;
        if !answer.truncated() {
            return Ok((answer, "UDP"));
        }
    }
    let mut stream = TcpStream::connect_timeout(&server, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    let len = u16::try_from(bytes.len()).context("query too long")?;
    stream.write_all(&len.to_be_bytes())?;
    stream.write_all(&bytes)?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len)?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf)?;
    Ok((Message::from_vec(&buf)?, "TCP"))
}

fn render(m: &Message, server: SocketAddr, protocol: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let flags: Vec<&str> = [
        (m.authoritative(), "aa"),
        (m.truncated(), "tc"),
        (m.recursion_desired(), "rd"),
        (m.recursion_available(), "ra"),
    ]
    .into_iter()
    .filter_map(|(on, f)| on.then_some(f))
    .collect();
    let _ = writeln!(out, ";; status: {:?}, flags: {}", m.response_code(), flags.join(" "));
    for (title, records) in [("ANSWER", m.answers()), ("AUTHORITY", m.name_servers())] {
        if records.is_empty() {
            continue;
        }
        let _ = writeln!(out, ";; {title}");
        for r in records {
            let _ = writeln!(out, "{r}");
        }
    }
    let _ = writeln!(out, ";; SERVER: {server} ({protocol})");
    out
}

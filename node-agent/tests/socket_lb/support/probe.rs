//! The client: this test binary re-executed as `socket_lb probe <kind> <addr> <count>`, moved into
//! the test cgroup and the client namespace before exec (so the cgroup programs apply to it).
//! It prints one line per attempt: `ok <peer> <body>` or `err <errno> <elapsed_us>`.
use std::{
    fs::OpenOptions,
    io::{self, BufRead, BufReader, Write},
    net::{SocketAddr, TcpStream, UdpSocket},
    os::{fd::AsRawFd, unix::process::CommandExt},
    process::Command,
    time::{Duration, Instant},
};

use super::{cgroup::TestCgroup, netns::Topology};

const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tcp,
    UdpConnected,
    UdpSendTo,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    /// Peer as seen by the app (getpeername / recvfrom source) and the reply body.
    Ok {
        peer: SocketAddr,
        body: String,
    },
    Err {
        errno: i32,
        elapsed: Duration,
    },
}

impl Outcome {
    /// The name of the backend that answered, from the body `backend=<name> ...`.
    pub fn backend(&self) -> Option<&str> {
        match self {
            Self::Ok { body, .. } => body.strip_prefix("backend=")?.split_whitespace().next(),
            Self::Err { .. } => None,
        }
    }
}

impl Kind {
    fn arg(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::UdpConnected => "udp-connected",
            Self::UdpSendTo => "udp-sendto",
        }
    }
}

/// Parent side: runs `count` attempts in one child process inside the cgroup and client netns.
pub fn run(topo: &Topology, cgroup: &TestCgroup, kind: Kind, addr: &str, count: usize) -> Result<Vec<Outcome>, String> {
    let procs = OpenOptions::new().write(true).open(cgroup.procs_file()).map_err(|e| format!("cgroup.procs: {e}"))?;
    let netns = Topology::open(&topo.client)?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let (procs_fd, netns_fd) = (procs.as_raw_fd(), netns.as_raw_fd());
    let mut cmd = Command::new(exe);
    cmd.args(["probe", kind.arg(), addr, &count.to_string()]);
    // SAFETY: only async-signal-safe syscalls on fds that stay open until spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            // "0" moves the writing process itself into the cgroup.
            if libc::write(procs_fd, c"0".as_ptr().cast(), 1) != 1 {
                return Err(io::Error::last_os_error());
            }
            if libc::setns(netns_fd, libc::CLONE_NEWNET) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().map_err(|e| format!("spawn probe: {e}"))?;
    drop((procs, netns));
    if !out.status.success() {
        return Err(format!("probe failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    String::from_utf8_lossy(&out.stdout).lines().map(parse).collect()
}

fn parse(line: &str) -> Result<Outcome, String> {
    let mut parts = line.splitn(3, ' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("ok"), Some(peer), Some(body)) => {
            Ok(Outcome::Ok { peer: peer.parse().map_err(|e| format!("{line}: {e}"))?, body: body.to_string() })
        }
        (Some("err"), Some(errno), Some(us)) => Ok(Outcome::Err {
            errno: errno.parse().map_err(|e| format!("{line}: {e}"))?,
            elapsed: Duration::from_micros(us.parse().map_err(|e| format!("{line}: {e}"))?),
        }),
        _ => Err(format!("unparsable probe output: {line}")),
    }
}

/// Child side, entered from `main` when argv[1] == "probe".
pub fn client_main(args: &[String]) -> i32 {
    let (Some(kind), Some(addr), Some(count)) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("usage: probe <tcp|udp-connected|udp-sendto> <addr> <count>");
        return 2;
    };
    let (Ok(addr), Ok(count)) = (addr.parse::<SocketAddr>(), count.parse::<usize>()) else {
        eprintln!("bad address or count");
        return 2;
    };
    let attempt: fn(SocketAddr) -> io::Result<(SocketAddr, String)> = match kind.as_str() {
        "tcp" => tcp,
        "udp-connected" => udp_connected,
        "udp-sendto" => udp_sendto,
        _ => {
            eprintln!("unknown probe kind {kind}");
            return 2;
        }
    };
    let mut stdout = io::stdout().lock();
    for _ in 0..count {
        let start = Instant::now();
        let line = match attempt(addr) {
            Ok((peer, body)) => format!("ok {peer} {}", body.trim()),
            Err(e) => format!("err {} {}", e.raw_os_error().unwrap_or(-1), start.elapsed().as_micros()),
        };
        if writeln!(stdout, "{line}").is_err() {
            return 1;
        }
    }
    0
}

fn tcp(addr: SocketAddr) -> io::Result<(SocketAddr, String)> {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    let peer = stream.peer_addr()?;
    writeln!(&stream, "hello")?;
    let mut body = String::new();
    BufReader::new(&stream).read_line(&mut body)?;
    Ok((peer, body))
}

fn udp_connected(addr: SocketAddr) -> io::Result<(SocketAddr, String)> {
    let socket = udp_socket(addr)?;
    socket.connect(addr)?;
    let peer = socket.peer_addr()?;
    socket.send(b"hello")?;
    let mut buf = [0u8; 1500];
    let n = socket.recv(&mut buf)?;
    Ok((peer, String::from_utf8_lossy(&buf[..n]).into_owned()))
}

fn udp_sendto(addr: SocketAddr) -> io::Result<(SocketAddr, String)> {
    let socket = udp_socket(addr)?;
    socket.send_to(b"hello", addr)?;
    let mut buf = [0u8; 1500];
    let (n, from) = socket.recv_from(&mut buf)?;
    Ok((from, String::from_utf8_lossy(&buf[..n]).into_owned()))
}

/// A socket of the destination's family (an IPv4-mapped destination gets an IPv6 socket).
fn udp_socket(to: SocketAddr) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
    socket.set_read_timeout(Some(TIMEOUT))?;
    Ok(socket)
}

//! The outside client: TCP and UDP requests from a chosen source address (and port) inside the
//! client namespace. Each successful reply is parsed from the echo server's body.
use std::{
    io::{self, BufRead, BufReader, Write},
    mem,
    net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream, UdpSocket},
    os::fd::FromRawFd,
    time::Duration,
};

use super::netns::run_in;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// One answered request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Source of the reply as the client saw it (TCP: the connected peer).
    pub from: SocketAddr,
    /// Name of the backend that answered.
    pub backend: String,
    /// The client address as the backend saw it.
    pub seen_client: String,
}

/// Sends `count` requests from `src` (port 0: a fresh ephemeral port each time) to `dst`.
/// Each attempt is a reply or the error text (timeouts included).
pub fn requests(
    ns: &str,
    proto: Proto,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    count: usize,
    timeout: Duration,
) -> Result<Vec<Result<Reply, String>>, String> {
    run_in(ns, move || {
        (0..count)
            .map(|i| {
                let line = format!("hello {i}");
                let answer = match proto {
                    Proto::Tcp => tcp(src, dst, &line, timeout),
                    Proto::Udp => udp(src, dst, &line, timeout),
                };
                answer.map_err(|e| e.to_string()).and_then(|(from, body)| parse(from, &body))
            })
            .collect()
    })
}

fn parse(from: SocketAddr, body: &str) -> Result<Reply, String> {
    let mut fields = body.split_whitespace();
    let backend = fields.next().and_then(|f| f.strip_prefix("backend="));
    let seen = fields.next().and_then(|f| f.strip_prefix("peer="));
    match (backend, seen) {
        (Some(backend), Some(seen)) => Ok(Reply { from, backend: backend.to_string(), seen_client: seen.to_string() }),
        _ => Err(format!("unexpected reply {body:?} from {from}")),
    }
}

fn udp(src: SocketAddrV4, dst: SocketAddrV4, line: &str, timeout: Duration) -> io::Result<(SocketAddr, String)> {
    let socket = UdpSocket::bind(src)?;
    socket.set_read_timeout(Some(timeout))?;
    socket.send_to(line.as_bytes(), dst)?;
    let mut buf = [0u8; 1500];
    let (n, from) = socket.recv_from(&mut buf)?;
    Ok((from, String::from_utf8_lossy(&buf[..n]).into_owned()))
}

fn tcp(src: SocketAddrV4, dst: SocketAddrV4, line: &str, timeout: Duration) -> io::Result<(SocketAddr, String)> {
    let stream = connect_from(src, dst, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    writeln!(&stream, "{line}")?;
    let mut body = String::new();
    BufReader::new(&stream).read_line(&mut body)?;
    if body.is_empty() {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed without a reply"));
    }
    Ok((stream.peer_addr()?, body))
}

/// std cannot bind a TCP socket before connecting; the source address matters here.
fn connect_from(src: SocketAddrV4, dst: SocketAddrV4, timeout: Duration) -> io::Result<TcpStream> {
    // SAFETY: plain socket(2); ownership moves into the TcpStream right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh socket we own.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    // SO_SNDTIMEO bounds a blocking connect().
    stream.set_write_timeout(Some(timeout))?;
    let check = |rc: libc::c_int| if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) };
    // A fixed source port may still have a TIME_WAIT socket of an earlier case.
    let one: libc::c_int = 1;
    // SAFETY: valid fd; the option value is a c_int of the given size.
    check(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    let local = sockaddr(src);
    // SAFETY: valid fd and a correctly sized sockaddr_in.
    check(unsafe { libc::bind(fd, (&local as *const libc::sockaddr_in).cast(), sockaddr_len()) })?;
    let remote = sockaddr(dst);
    // SAFETY: as above.
    check(unsafe { libc::connect(fd, (&remote as *const libc::sockaddr_in).cast(), sockaddr_len()) })?;
    Ok(stream)
}

fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: all-zero is a valid sockaddr_in.
    let mut sa: libc::sockaddr_in = unsafe { mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = addr.port().to_be();
    sa.sin_addr = libc::in_addr { s_addr: u32::from_ne_bytes(addr.ip().octets()) };
    sa
}

fn sockaddr_len() -> libc::socklen_t {
    mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
}

pub fn addr(ip: &str, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED), port)
}

//! `echo probe tcp|udp|udp-connected HOST:PORT`: a client for load-balancer
//! tests. Sends one request (an HTTP GET over TCP, a datagram over UDP),
//! prints the reply's last line, then `peer=<addr>`: what getpeername says
//! for TCP and connected UDP, or the datagram's source for unconnected UDP
//! (so a test sees whether the app is shown the service address).

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

pub fn run(args: &[String]) -> Result<()> {
    let (Some(mode), Some(target)) = (args.first(), args.get(1)) else {
        bail!("usage: echo probe tcp|udp|udp-connected HOST:PORT");
    };
    let addr: SocketAddr = target.parse().with_context(|| format!("{target} is not an IP:port"))?;
    let (reply, peer) = match mode.as_str() {
        "tcp" => tcp(addr)?,
        "udp" => udp(addr, false)?,
        "udp-connected" => udp(addr, true)?,
        other => bail!("unknown probe mode {other:?}"),
    };
    println!("{}", reply.lines().last().unwrap_or(""));
    println!("peer={peer}");
    Ok(())
}

fn tcp(addr: SocketAddr) -> Result<(String, SocketAddr)> {
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(TIMEOUT))?;
    let peer = s.peer_addr()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok((body, peer))
}

fn udp(addr: SocketAddr, connected: bool) -> Result<(String, SocketAddr)> {
    let s = UdpSocket::bind(if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
    s.set_read_timeout(Some(TIMEOUT))?;
    let mut buf = vec![0u8; 65536];
    let (n, from) = if connected {
        s.connect(addr).with_context(|| format!("connecting to {addr}"))?;
        s.send(b"probe")?;
        let n = s.recv(&mut buf)?;
        (n, s.peer_addr()?)
    } else {
        s.send_to(b"probe", addr).with_context(|| format!("sending to {addr}"))?;
        s.recv_from(&mut buf)?
    };
    Ok((String::from_utf8_lossy(&buf[..n]).into_owned(), from))
}

//! Sends one query and waits for its answer: UDP with retries, TCP on request or on truncation.

use anyhow::{bail, Context, Result};
use hickory_proto::op::{Message, MessageType};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Udp,
    Tcp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
        }
    }
}

/// How long to wait and how often to try.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub timeout: Duration,
    pub tries: u32,
}

/// Exchanges `query` with `server`; the answer comes with the protocol that carried it.
pub fn exchange(server: SocketAddr, query: &Message, tcp: bool, patience: Patience) -> Result<(Message, Protocol)> {
    let wire = query.to_vec().context("encoding the query")?;
    if !tcp {
        let response = over_udp(server, &wire, query.id(), patience)?;
        if !response.truncated() {
            return Ok((response, Protocol::Udp));
        }
    }
    Ok((over_tcp(server, &wire, query.id(), patience.timeout)?, Protocol::Tcp))
}

fn over_udp(server: SocketAddr, wire: &[u8], id: u16, patience: Patience) -> Result<Message> {
    let local = match server.ip() {
        IpAddr::V4(_) => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
        IpAddr::V6(_) => SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0),
    };
    let socket = UdpSocket::bind(local).context("opening a UDP socket")?;
    // Connected: the kernel drops datagrams from anyone but the server.
    socket.connect(server).with_context(|| format!("connecting UDP to {server}"))?;
    let mut buf = vec![0u8; 65_535];
    for _ in 0..patience.tries {
        socket.send(wire).with_context(|| format!("sending to {server}"))?;
        let deadline = Instant::now() + patience.timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
            socket.set_read_timeout(Some(left)).context("setting the UDP timeout")?;
            let len = match socket.recv(&mut buf) {
                Ok(len) => len,
                Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(err) => return Err(err).with_context(|| format!("receiving from {server}")),
            };
            // Anything that is not the answer to this query (late answer to a previous try,
            // garbage) is skipped, as a resolver does.
            if let Ok(message) = Message::from_vec(&buf[..len]) {
                if message.id() == id && message.message_type() == MessageType::Response {
                    return Ok(message);
                }
            }
        }
    }
    bail!("timed out: no answer from {server} over UDP after {} tries of {:?}", patience.tries, patience.timeout)
}

fn over_tcp(server: SocketAddr, wire: &[u8], id: u16, timeout: Duration) -> Result<Message> {
    let mut stream =
        TcpStream::connect_timeout(&server, timeout).with_context(|| format!("connecting TCP to {server}"))?;
    stream.set_read_timeout(Some(timeout)).context("setting the TCP timeout")?;
    stream.set_write_timeout(Some(timeout)).context("setting the TCP timeout")?;
    let len = u16::try_from(wire.len()).context("query too long for TCP")?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(wire);
    stream.write_all(&framed).with_context(|| format!("sending to {server} over TCP"))?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).with_context(|| format!("reading the answer length from {server}"))?;
    let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut answer).with_context(|| format!("reading the answer from {server}"))?;
    let message = Message::from_vec(&answer).context("decoding the TCP answer")?;
    if message.id() != id {
        bail!("answer over TCP has id {} instead of {id}", message.id());
    }
    Ok(message)
}

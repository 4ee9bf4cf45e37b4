//! Echo servers in the backend pods. Each reply names the backend and the source address it saw,
//! so a test can tell which backend answered and whether SNAT happened.
use std::{
    io::{BufRead, BufReader, Write},
    net::{TcpListener, UdpSocket},
    thread,
};

use super::netns::run_in;

pub const BACKEND_PORT: u16 = 8080;

/// Binds TCP and UDP on 0.0.0.0:8080 in `netns` and serves them on background threads for the
/// rest of the test process (the sockets die with the namespace's last user).
pub fn start(netns: &str, name: &'static str) -> Result<(), String> {
    let (tcp, udp) = run_in(netns, || -> Result<_, String> {
        let addr = format!("0.0.0.0:{BACKEND_PORT}");
        let tcp = TcpListener::bind(&addr).map_err(|e| format!("bind tcp {addr}: {e}"))?;
        let udp = UdpSocket::bind(&addr).map_err(|e| format!("bind udp {addr}: {e}"))?;
        Ok((tcp, udp))
    })??;
    thread::spawn(move || serve_tcp(name, tcp));
    thread::spawn(move || serve_udp(name, udp));
    Ok(())
}

fn serve_tcp(name: &'static str, listener: TcpListener) {
    for stream in listener.incoming().flatten() {
        let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
        let mut line = String::new();
        if BufReader::new(&stream).read_line(&mut line).is_ok() {
            let _ = writeln!(&stream, "backend={name} peer={peer} echo={}", line.trim());
        }
    }
}

fn serve_udp(name: &'static str, socket: UdpSocket) {
    let mut buf = [0u8; 1500];
    while let Ok((n, from)) = socket.recv_from(&mut buf) {
        let reply = format!("backend={name} peer={from} echo={}\n", String::from_utf8_lossy(&buf[..n]).trim());
        let _ = socket.send_to(reply.as_bytes(), from);
    }
}

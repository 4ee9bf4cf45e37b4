//! Echo servers in the backend namespace. Each answers with its own name so a test can tell
//! which backend a connection reached (the machine's outer network may answer port 80 itself).
use std::{
    io::{BufRead, BufReader, Write},
    net::{TcpListener, UdpSocket},
    os::fd::AsRawFd,
    thread,
};

use super::netns::Topology;

pub const BACKEND_PORT: u16 = 8080;

/// Binds a TCP and a UDP server on `ip:8080` inside `netns` for every (name, ip) and serves them
/// on background threads for the rest of the test process. IPv6 addresses go without brackets.
pub fn start(netns: &str, backends: &[(&'static str, &'static str)]) -> Result<(), String> {
    let ns = Topology::open(netns)?;
    let backends = backends.to_vec();
    // Sockets belong to the namespace they were created in, so only this thread has to enter it.
    let sockets = thread::spawn(move || -> Result<Vec<_>, String> {
        // SAFETY: setns on a valid netns fd; affects only this short-lived thread.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!("setns: {}", std::io::Error::last_os_error()));
        }
        backends
            .iter()
            .map(|(name, ip)| {
                let addr = std::net::SocketAddr::new(ip.parse().map_err(|e| format!("{ip}: {e}"))?, BACKEND_PORT);
                let tcp = TcpListener::bind(addr).map_err(|e| format!("bind tcp {addr}: {e}"))?;
                let udp = UdpSocket::bind(addr).map_err(|e| format!("bind udp {addr}: {e}"))?;
                Ok((*name, tcp, udp))
            })
            .collect()
    })
    .join()
    .map_err(|_| "echo setup thread panicked".to_string())??;
    for (name, tcp, udp) in sockets {
        thread::spawn(move || serve_tcp(name, tcp));
        thread::spawn(move || serve_udp(name, udp));
    }
    Ok(())
}

fn serve_tcp(name: &'static str, listener: TcpListener) {
    for stream in listener.incoming().flatten() {
        let mut line = String::new();
        let mut reader = BufReader::new(&stream);
        if reader.read_line(&mut line).is_ok() {
            let _ = writeln!(&stream, "backend={name} echo={}", line.trim());
        }
    }
}

fn serve_udp(name: &'static str, socket: UdpSocket) {
    let mut buf = [0u8; 1500];
    while let Ok((n, from)) = socket.recv_from(&mut buf) {
        let reply = format!("backend={name} echo={}\n", String::from_utf8_lossy(&buf[..n]).trim());
        let _ = socket.send_to(reply.as_bytes(), from);
    }
}

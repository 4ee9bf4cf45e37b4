//! Layer-2 announcement of LoadBalancer addresses (MetalLB's L2 mode): for
//! each address one node is chosen by rendezvous hashing over the nodes
//! that have ready endpoints for it, and that node answers ARP requests for
//! it on its external interface (and sends a gratuitous ARP when it takes
//! an address over), so the outside world sends the traffic there and the
//! external TC path takes it. Nothing is added to the interface: the
//! kernel does not own the address, and an agent that stops stops
//! answering.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

const ETH_P_ARP: u16 = 0x0806;
const ARP_REQUEST: u16 = 1;
const ARP_REPLY: u16 = 2;

/// Which of `nodes` announces `ip`: the highest FNV-1a hash of (ip, node),
/// so every agent agrees without talking and a node leaving moves only its
/// own addresses.
pub fn announcer<'a>(ip: Ipv4Addr, nodes: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let score = |node: &str| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in ip.octets().iter().chain(node.as_bytes()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    nodes.into_iter().max_by_key(|n| (score(n), *n))
}

/// The addresses this node answers for, shared with the responder thread.
pub struct Announcer {
    held: Arc<Mutex<BTreeSet<Ipv4Addr>>>,
    socket: Arc<OwnedFd>,
    ifindex: i32,
    mac: [u8; 6],
}

/// The interface's index and MAC address, from this thread's network
/// namespace (sysfs would show the host's interfaces, not the node's).
fn link_of(iface: &str) -> std::io::Result<(i32, [u8; 6])> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(std::io::Error::from)?;
    for a in addrs.filter(|a| a.interface_name == iface) {
        if let Some(link) = a.address.as_ref().and_then(|x| x.as_link_addr()) {
            if let Some(mac) = link.addr() {
                return Ok((link.ifindex() as i32, mac));
            }
        }
    }
    Err(std::io::Error::other(format!("no link-layer address for {iface}")))
}

/// An ARP reply (or gratuitous announcement when `to` is broadcast).
fn arp_frame(op: u16, src_mac: [u8; 6], src_ip: Ipv4Addr, dst_mac: [u8; 6], dst_ip: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4]); // Ethernet, IPv4, sizes
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&src_ip.octets());
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&dst_ip.octets());
    f
}

/// The (sender MAC, sender IP, target IP) of an ARP request frame.
fn parse_request(frame: &[u8]) -> Option<([u8; 6], Ipv4Addr, Ipv4Addr)> {
    if frame.len() < 42 || frame[12..14] != ETH_P_ARP.to_be_bytes() || frame[20..22] != ARP_REQUEST.to_be_bytes() {
        return None;
    }
    let mac: [u8; 6] = frame[22..28].try_into().ok()?;
    let sender = Ipv4Addr::new(frame[28], frame[29], frame[30], frame[31]);
    let target = Ipv4Addr::new(frame[38], frame[39], frame[40], frame[41]);
    Some((mac, sender, target))
}

impl Announcer {
    /// Open an ARP socket on `iface` (in this thread's network namespace)
    /// and start answering for the addresses `set` hands it.
    pub fn start(iface: &str) -> std::io::Result<Self> {
        let (ifindex, mac) = link_of(iface)?;
        // SAFETY: plain socket(2); the result is checked.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(ETH_P_ARP.to_be())) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, owned descriptor.
        let socket = Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = ETH_P_ARP.to_be();
        addr.sll_ifindex = ifindex;
        // SAFETY: addr is a valid sockaddr_ll of the given size.
        let rc = unsafe {
            libc::bind(
                socket.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let a = Announcer { held: Arc::default(), socket, ifindex, mac };
        let (held, socket) = (a.held.clone(), a.socket.clone());
        std::thread::Builder::new().name("arp-responder".into()).spawn(move || respond(socket, ifindex, mac, held))?;
        Ok(a)
    }

    /// Answer for exactly `wanted` from now on; announce the new ones.
    pub fn set(&self, wanted: BTreeSet<Ipv4Addr>) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        for ip in wanted.difference(&held) {
            let frame = arp_frame(ARP_REPLY, self.mac, *ip, [0xff; 6], *ip);
            send(&self.socket, self.ifindex, &frame);
            tracing::info!(%ip, "announcing a LoadBalancer address");
        }
        *held = wanted;
    }
}

fn send(socket: &OwnedFd, ifindex: i32, frame: &[u8]) {
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = ETH_P_ARP.to_be();
    addr.sll_ifindex = ifindex;
    addr.sll_halen = 6;
    addr.sll_addr[..6].copy_from_slice(&frame[..6]);
    // SAFETY: frame and addr are valid for the call.
    let rc = unsafe {
        libc::sendto(
            socket.as_raw_fd(),
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if rc < 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "sending an ARP frame");
    }
}

/// Answer ARP requests for held addresses until the socket fails.
fn respond(socket: Arc<OwnedFd>, ifindex: i32, mac: [u8; 6], held: Arc<Mutex<BTreeSet<Ipv4Addr>>>) {
    let mut buf = [0u8; 1500];
    loop {
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            tracing::warn!(error = %err, "ARP responder stopped");
            return;
        }
        let Some((sender_mac, sender_ip, target)) = parse_request(&buf[..n as usize]) else { continue };
        if !held.lock().unwrap_or_else(|e| e.into_inner()).contains(&target) {
            continue;
        }
        send(&socket, ifindex, &arp_frame(ARP_REPLY, mac, target, sender_mac, sender_ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_announcer_per_address_and_stable_when_others_leave() {
        let nodes = ["a", "b", "c"];
        let ips: Vec<Ipv4Addr> = (200..240).map(|i| Ipv4Addr::new(172, 31, 0, i)).collect();
        let chosen: Vec<&str> = ips.iter().map(|ip| announcer(*ip, nodes).unwrap()).collect();
        assert!(nodes.iter().all(|n| chosen.contains(n)), "spread over every node: {chosen:?}");
        // Node "c" leaves: addresses it did not hold keep their node.
        for (ip, was) in ips.iter().zip(&chosen) {
            let now = announcer(*ip, ["a", "b"]).unwrap();
            if *was != "c" {
                assert_eq!(now, *was);
            }
        }
        assert_eq!(announcer(ips[0], []), None);
    }

    #[test]
    fn arp_frames_round_trip() {
        let mac = [2, 0, 0, 0, 0, 1];
        let req = arp_frame(ARP_REQUEST, mac, Ipv4Addr::new(10, 0, 0, 1), [0; 6], Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(parse_request(&req), Some((mac, Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 9))));
        let reply = arp_frame(ARP_REPLY, mac, Ipv4Addr::new(10, 0, 0, 9), mac, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(parse_request(&reply), None);
        assert_eq!(req.len(), 42);
    }
}

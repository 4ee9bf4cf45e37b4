//! Parsing and rewriting Ethernet + IPv4 + TCP/UDP headers through the skb helpers (no direct
//! packet access, so no bounds proofs for the verifier and no pointers invalidated by stores).
use aya_ebpf::{
    bindings::{BPF_F_MARK_MANGLED_0, BPF_F_PSEUDO_HDR},
    programs::TcContext,
};
use lb_common::{
    external::{Endpoint, FlowKey},
    PROTO_TCP, PROTO_UDP,
};

const ETH_PROTO_OFF: usize = 12;
const ETH_P_IP: u16 = 0x0800;
const IP_OFF: usize = 14;
const IP_TTL_OFF: usize = IP_OFF + 8;
const IP_CSUM_OFF: usize = IP_OFF + 10;
const IP_SADDR_OFF: usize = IP_OFF + 12;
const IP_DADDR_OFF: usize = IP_OFF + 16;
/// Only option-less IPv4 headers are translated (see `parse`), so L4 starts at a fixed offset.
const L4_OFF: usize = IP_OFF + 20;
const SPORT_OFF: usize = L4_OFF;
const DPORT_OFF: usize = L4_OFF + 2;
const TCP_CSUM_OFF: usize = L4_OFF + 16;
const TCP_FLAGS_OFF: usize = L4_OFF + 13;
const TCP_SYN: u8 = 0x02;
const TCP_ACK: u8 = 0x10;
const UDP_CSUM_OFF: usize = L4_OFF + 6;
/// IPv4 version 4, header length 5 words.
const VERSION_IHL_PLAIN: u8 = 0x45;
/// More-fragments bit and fragment offset.
const FRAGMENT_MASK: u16 = 0x3fff;

#[repr(C)]
struct Ipv4Header {
    version_ihl: u8,
    tos: u8,
    total_len: u16,
    id: u16,
    frag_off: u16,
    ttl: u8,
    proto: u8,
    csum: u16,
    saddr: u32,
    daddr: u32,
}

/// The 5-tuple of a TCP or UDP packet over plain IPv4, or `None` for anything this LB leaves alone:
/// other protocols, IP options, fragments (a non-first fragment has no ports to match on).
#[inline(always)]
pub fn parse(ctx: &TcContext) -> Option<FlowKey> {
    let eth_proto: u16 = ctx.load(ETH_PROTO_OFF).ok()?;
    if u16::from_be(eth_proto) != ETH_P_IP {
        return None;
    }
    let ip: Ipv4Header = ctx.load(IP_OFF).ok()?;
    if ip.version_ihl != VERSION_IHL_PLAIN || u16::from_be(ip.frag_off) & FRAGMENT_MASK != 0 {
        return None;
    }
    if ip.proto != PROTO_TCP && ip.proto != PROTO_UDP {
        return None;
    }
    let ports: [u16; 2] = ctx.load(SPORT_OFF).ok()?;
    Some(FlowKey { saddr: ip.saddr, daddr: ip.daddr, sport: ports[0], dport: ports[1], proto: ip.proto, pad: [0; 3] })
}

/// Rewrites the destination address and port, fixing the IP and TCP/UDP checksums.
#[inline(always)]
pub fn set_destination(ctx: &TcContext, flow: &FlowKey, to: &Endpoint) -> Result<(), i64> {
    rewrite_addr(ctx, flow.proto, IP_DADDR_OFF, flow.daddr, to.addr)?;
    rewrite_port(ctx, flow.proto, DPORT_OFF, flow.dport, to.port)
}

/// Rewrites the source address and port, fixing the IP and TCP/UDP checksums.
#[inline(always)]
pub fn set_source(ctx: &TcContext, flow: &FlowKey, to: &Endpoint) -> Result<(), i64> {
    rewrite_addr(ctx, flow.proto, IP_SADDR_OFF, flow.saddr, to.addr)?;
    rewrite_port(ctx, flow.proto, SPORT_OFF, flow.sport, to.port)
}

/// Lowers the TTL by one, fixing the IP checksum. A redirected packet skips the kernel's forwarding
/// path, which would otherwise do this; `Err` for a packet whose TTL is used up (dropped, as the
/// kernel would, though without the ICMP time-exceeded).
#[inline(always)]
pub fn decrement_ttl(ctx: &TcContext) -> Result<(), i64> {
    // TTL and protocol share one 16-bit word; the checksum helper works on whole words.
    let word: [u8; 2] = ctx.load(IP_TTL_OFF)?;
    if word[0] <= 1 {
        return Err(-1);
    }
    let lowered = [word[0] - 1, word[1]];
    let (from, to) = (u16::from_ne_bytes(word), u16::from_ne_bytes(lowered));
    ctx.l3_csum_replace(IP_CSUM_OFF, from as u64, to as u64, 2)?;
    ctx.store(IP_TTL_OFF, &lowered, 0)
}

#[inline(always)]
fn rewrite_addr(ctx: &TcContext, proto: u8, offset: usize, from: u32, to: u32) -> Result<(), i64> {
    if from == to {
        return Ok(());
    }
    // The address is part of the TCP/UDP pseudo-header: PSEUDO_HDR makes the helper also handle
    // CHECKSUM_PARTIAL skbs (veth, local senders), where the field holds only the pseudo-header sum.
    let (csum_off, csum_flags) = l4_checksum(proto);
    ctx.l4_csum_replace(csum_off, from as u64, to as u64, csum_flags | BPF_F_PSEUDO_HDR as u64 | 4)?;
    ctx.l3_csum_replace(IP_CSUM_OFF, from as u64, to as u64, 4)?;
    ctx.store(offset, &to, 0)
}

#[inline(always)]
fn rewrite_port(ctx: &TcContext, proto: u8, offset: usize, from: u16, to: u16) -> Result<(), i64> {
    if from == to {
        return Ok(());
    }
    let (csum_off, csum_flags) = l4_checksum(proto);
    ctx.l4_csum_replace(csum_off, from as u64, to as u64, csum_flags | 2)?;
    ctx.store(offset, &to, 0)
}

/// Offset of the L4 checksum and extra helper flags: a UDP checksum of 0 means "none" and must
/// stay 0, and a computed 0 must be sent as 0xffff (MARK_MANGLED_0 does both).
#[inline(always)]
fn l4_checksum(proto: u8) -> (usize, u64) {
    if proto == PROTO_TCP {
        (TCP_CSUM_OFF, 0)
    } else {
        (UDP_CSUM_OFF, BPF_F_MARK_MANGLED_0 as u64)
    }
}

/// Whether the packet opens a TCP connection (SYN without ACK). Such a packet is never a reply,
/// whatever the translation maps remember about its 4-tuple.
#[inline(always)]
pub fn is_tcp_open(ctx: &TcContext, flow: &FlowKey) -> bool {
    if flow.proto != PROTO_TCP {
        return false;
    }
    let flags: u8 = ctx.load(TCP_FLAGS_OFF).unwrap_or(0);
    flags & (TCP_SYN | TCP_ACK) == TCP_SYN
}

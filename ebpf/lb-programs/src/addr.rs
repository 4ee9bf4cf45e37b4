//! Reading and writing the destination (or peer/source) address of a `bpf_sock_addr` context.
//!
//! The kernel only lets a program touch the address field of its own family (`user_ip4` in the
//! *4 hooks, `user_ip6` in the *6 hooks), so every accessor takes the hook's [`Family`]; callers
//! pass a constant and the compiler keeps only that branch.
use aya_ebpf::programs::SockAddrContext;
use lb_common::{mapped_v4, v4_mapped, Endpoint};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

/// The address the syscall is about: destination for connect/sendmsg, peer for getpeername,
/// source for recvmsg. IPv4 comes back IPv4-mapped, the form the maps store.
#[inline(always)]
pub fn user_endpoint(ctx: &SockAddrContext, family: Family) -> Endpoint {
    // SAFETY: the kernel passes a valid context pointer for the program's lifetime.
    let sa = unsafe { &*ctx.sock_addr };
    let addr = match family {
        Family::V4 => v4_mapped(sa.user_ip4),
        // Word by word: the context accepts 4-byte loads of user_ip6.
        Family::V6 => [sa.user_ip6[0], sa.user_ip6[1], sa.user_ip6[2], sa.user_ip6[3]],
    };
    // user_port is a u32 holding the 16-bit network-order port in its first two bytes.
    Endpoint { addr, port: sa.user_port as u16, pad: 0 }
}

/// IP protocol of the socket (IPPROTO_TCP / IPPROTO_UDP).
#[inline(always)]
pub fn protocol(ctx: &SockAddrContext) -> u8 {
    // SAFETY: as above; `protocol` is a readable 4-byte context field.
    unsafe { (*ctx.sock_addr).protocol as u8 }
}

/// Overwrite the address the syscall will use (or report). The context only accepts 4-byte
/// stores. Returns false, writing nothing, when an IPv4 hook is handed an IPv6 endpoint.
#[inline(always)]
pub fn set_user_endpoint(ctx: &SockAddrContext, family: Family, ep: &Endpoint) -> bool {
    // SAFETY: as above; the address and port fields are writable for every attach type used here.
    unsafe {
        match family {
            Family::V4 => {
                let Some(ip4) = mapped_v4(&ep.addr) else { return false };
                (*ctx.sock_addr).user_ip4 = ip4;
            }
            Family::V6 => {
                (*ctx.sock_addr).user_ip6[0] = ep.addr[0];
                (*ctx.sock_addr).user_ip6[1] = ep.addr[1];
                (*ctx.sock_addr).user_ip6[2] = ep.addr[2];
                (*ctx.sock_addr).user_ip6[3] = ep.addr[3];
            }
        }
        (*ctx.sock_addr).user_port = ep.port as u32;
    }
    true
}

//! Reading and writing the destination (or peer/source) address of a `bpf_sock_addr` context.
use aya_ebpf::programs::SockAddrContext;
use lb_common::Endpoint;

/// The address the syscall is about: destination for connect/sendmsg, peer for getpeername,
/// source for recvmsg. Both fields are already in network byte order.
#[inline(always)]
pub fn user_endpoint(ctx: &SockAddrContext) -> Endpoint {
    // SAFETY: the kernel passes a valid context pointer for the program's lifetime.
    let sa = unsafe { &*ctx.sock_addr };
    // user_port is a u32 holding the 16-bit network-order port in its first two bytes.
    Endpoint { addr: sa.user_ip4, port: sa.user_port as u16, pad: 0 }
}

/// IP protocol of the socket (IPPROTO_TCP / IPPROTO_UDP).
#[inline(always)]
pub fn protocol(ctx: &SockAddrContext) -> u8 {
    // SAFETY: as above; `protocol` is a readable 4-byte context field.
    unsafe { (*ctx.sock_addr).protocol as u8 }
}

/// Overwrite the address the syscall will use (or report). The context only accepts 4-byte stores.
#[inline(always)]
pub fn set_user_endpoint(ctx: &SockAddrContext, ep: &Endpoint) {
    // SAFETY: as above; user_ip4 and user_port are writable for every attach type used here.
    unsafe {
        (*ctx.sock_addr).user_ip4 = ep.addr;
        (*ctx.sock_addr).user_port = ep.port as u32;
    }
}

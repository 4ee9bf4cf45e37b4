//! Reverse translation: show the Service frontend instead of the backend to the application.
use aya_ebpf::{helpers::bpf_get_socket_cookie, macros::cgroup_sock_addr, programs::SockAddrContext, EbpfContext};
use lb_common::RevNatKey;

use crate::{
    addr::{set_user_endpoint, user_endpoint},
    maps::REV_NAT,
};

/// recvmsg/getpeername programs must return 1; the kernel rejects any other value at load time.
const DONE: i32 = 1;

/// Source address of datagrams received (unconnected and connected UDP).
#[cgroup_sock_addr(recvmsg4)]
pub fn recvmsg4(ctx: SockAddrContext) -> i32 {
    to_frontend(&ctx);
    DONE
}

/// Peer address of TCP and connected UDP sockets.
#[cgroup_sock_addr(getpeername4)]
pub fn getpeername4(ctx: SockAddrContext) -> i32 {
    to_frontend(&ctx);
    DONE
}

#[inline(always)]
fn to_frontend(ctx: &SockAddrContext) {
    // SAFETY: the helper only reads the socket behind the context.
    let cookie = unsafe { bpf_get_socket_cookie(ctx.as_ptr()) };
    let key = RevNatKey { cookie, backend: user_endpoint(ctx) };
    if let Some(frontend) = REV_NAT.get_ptr(key) {
        // SAFETY: valid map value pointer for this program run.
        set_user_endpoint(ctx, unsafe { &*frontend });
    }
}

//! Reverse translation: show the Service frontend instead of the backend to the application.
use aya_ebpf::{helpers::bpf_get_socket_cookie, macros::cgroup_sock_addr, programs::SockAddrContext, EbpfContext};
use lb_common::RevNatKey;

use crate::{
    addr::{set_user_endpoint, user_endpoint, Family},
    maps::REV_NAT,
};

/// recvmsg/getpeername programs must return 1; the kernel rejects any other value at load time.
const DONE: i32 = 1;

/// Source address of datagrams received (unconnected and connected UDP).
#[cgroup_sock_addr(recvmsg4)]
pub fn recvmsg4(ctx: SockAddrContext) -> i32 {
    to_frontend(&ctx, Family::V4);
    DONE
}

/// Peer address of TCP and connected UDP sockets.
#[cgroup_sock_addr(getpeername4)]
pub fn getpeername4(ctx: SockAddrContext) -> i32 {
    to_frontend(&ctx, Family::V4);
    DONE
}

#[cgroup_sock_addr(recvmsg6)]
pub fn recvmsg6(ctx: SockAddrContext) -> i32 {
    to_frontend(&ctx, Family::V6);
    DONE
}

#[cgroup_sock_addr(getpeername6)]
pub fn getpeername6(ctx: SockAddrContext) -> i32 {
    to_frontend(&ctx, Family::V6);
    DONE
}

#[inline(always)]
fn to_frontend(ctx: &SockAddrContext, family: Family) {
    // SAFETY: the helper only reads the socket behind the context.
    let cookie = unsafe { bpf_get_socket_cookie(ctx.as_ptr()) };
    let key = RevNatKey { cookie, backend: user_endpoint(ctx, family), pad: 0 };
    if let Some(frontend) = REV_NAT.get_ptr(key) {
        // SAFETY: valid map value pointer for this program run. A family mismatch cannot be
        // stored (connect refuses it), so the result is ignored.
        let _ = set_user_endpoint(ctx, family, unsafe { &*frontend });
    }
}

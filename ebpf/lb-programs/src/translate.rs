//! Forward translation: connect4/6 (TCP, connected UDP) and sendmsg4/6 (unconnected UDP).
use aya_ebpf::{helpers::bpf_get_socket_cookie, macros::cgroup_sock_addr, programs::SockAddrContext, EbpfContext};
use lb_common::{Endpoint, RevNatKey, ServiceKey, ServiceStats, ServiceValue};

use crate::{
    addr::{protocol, set_user_endpoint, user_endpoint, Family},
    maps::{REV_NAT, SERVICES, STATS},
    select::pick_backend,
};

/// Let the syscall proceed (possibly with a rewritten address).
const ALLOW: i32 = 1;
/// Fail the syscall; the application sees EPERM.
const REJECT: i32 = 0;

#[cgroup_sock_addr(connect4)]
pub fn connect4(ctx: SockAddrContext) -> i32 {
    to_backend(&ctx, Family::V4)
}

#[cgroup_sock_addr(sendmsg4)]
pub fn sendmsg4(ctx: SockAddrContext) -> i32 {
    to_backend(&ctx, Family::V4)
}

/// Also IPv4-mapped destinations of dual-stack IPv6 sockets: TCP runs only this hook for them.
#[cgroup_sock_addr(connect6)]
pub fn connect6(ctx: SockAddrContext) -> i32 {
    to_backend(&ctx, Family::V6)
}

#[cgroup_sock_addr(sendmsg6)]
pub fn sendmsg6(ctx: SockAddrContext) -> i32 {
    to_backend(&ctx, Family::V6)
}

/// If the destination is a Service frontend, rewrite it to one of its backends and remember the
/// reverse mapping for this socket. Non-service traffic passes untouched.
#[inline(always)]
fn to_backend(ctx: &SockAddrContext, family: Family) -> i32 {
    let frontend = user_endpoint(ctx, family);
    let key = ServiceKey { addr: frontend.addr, port: frontend.port, proto: protocol(ctx), pad: 0 };
    let Some(svc_ptr) = SERVICES.get_ptr(key) else {
        return ALLOW;
    };
    // SAFETY: valid map value pointer for this program run; copied so later reads are consistent.
    let svc = unsafe { *svc_ptr };
    if svc.backend_count == 0 {
        count(&svc, |s| s.no_backend += 1);
        return REJECT;
    }
    let Some(backend) = pick_backend(ctx, &svc) else {
        // A hole would be a user-space bug; never let the frontend address leave untranslated.
        count(&svc, |s| s.no_backend += 1);
        return REJECT;
    };
    // SAFETY: the helper only reads the socket behind the context.
    let cookie = unsafe { bpf_get_socket_cookie(ctx.as_ptr()) };
    // Without this entry replies would show the backend address; still better than dropping.
    let _ = REV_NAT.insert(RevNatKey { cookie, backend, pad: 0 }, Endpoint { pad: 0, ..frontend }, 0);
    if !set_user_endpoint(ctx, family, &backend) {
        // An IPv6 backend behind an IPv4 frontend: user space never pairs them; refuse, never leak.
        count(&svc, |s| s.no_backend += 1);
        return REJECT;
    }
    count(&svc, |s| s.translated += 1);
    ALLOW
}

#[inline(always)]
fn count(svc: &ServiceValue, bump: impl FnOnce(&mut ServiceStats)) {
    if let Some(stats) = STATS.get_ptr_mut(svc.id) {
        // SAFETY: per-CPU value of this CPU; nothing else writes it while we run.
        bump(unsafe { &mut *stats });
    }
}

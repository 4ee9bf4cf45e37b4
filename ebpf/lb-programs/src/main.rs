//! Keel socket-level Service load balancing: cgroup `sock_addr` programs that rewrite the
//! destination of connect()/sendmsg() from a Service frontend to a backend, and rewrite the
//! backend back to the frontend in recvmsg()/getpeername(). One object, `keel-lb`, holds them all.
#![no_std]
#![no_main]

mod addr;
mod maps;
mod reverse;
mod select;
mod translate;

/// Kernel-visible license: the helpers used here are not GPL-only, but a GPL-compatible string
/// keeps that option open.
#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // Unreachable in verified code: the verifier rejects any path that could get here.
    loop {}
}

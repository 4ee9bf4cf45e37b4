//! Keel external load balancing: TC programs on a node's external interface for traffic that
//! arrives from outside the cluster (NodePort, externalIPs, LoadBalancer IPs).
//!
//! - `ext_ingress`: new flows to a frontend pick a backend by Maglev hashing and get a
//!   connection-tracking entry; packets are DNATed to a local pod (and routed by the kernel) or
//!   DNATed + SNATed to this node and redirected to a remote node. Replies from remote backends
//!   (to this node's SNAT port) are translated back and redirected to the client.
//! - `ext_egress`: replies of local backends leaving towards the client get the frontend as source.
//!
//! A separate object (`keel-ext-lb`) from the socket LB so neither loader creates the other's maps.
#![no_std]
#![no_main]

mod maps;
mod packet;
mod redirect;
mod reply;
mod select;
mod snat;
mod stats;
mod translate;

/// Kernel-visible license; `bpf_redirect_neigh` and `bpf_fib_lookup` are GPL-only helpers.
#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // Unreachable in verified code: the verifier rejects any path that could get here.
    loop {}
}

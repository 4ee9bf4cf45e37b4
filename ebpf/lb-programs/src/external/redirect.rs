//! Sending a rewritten packet straight out of the right interface. Needed whenever the new source
//! is this node's own address (SNAT, or a reply with the frontend as source): the kernel's input
//! path would drop such a packet as a martian, so it must not be handed back to routing.
use core::{mem, ptr};

use aya_ebpf::{
    bindings::{__sk_buff, bpf_fib_lookup, BPF_FIB_LKUP_RET_SUCCESS, BPF_FIB_LOOKUP_SKIP_NEIGH, TC_ACT_SHOT},
    helpers::{bpf_fib_lookup as fib_lookup, bpf_redirect_neigh},
    programs::TcContext,
    EbpfContext,
};
use lb_common::external::FlowKey;

const AF_INET: u8 = 2;

/// Looks up the egress interface for the (already rewritten) `flow` and redirects the packet
/// there; the kernel's neighbour subsystem fills in the MAC addresses (and resolves them if
/// needed, which `bpf_redirect` could not). Returns the TC verdict.
#[inline(always)]
pub fn redirect_to(ctx: &TcContext, flow: &FlowKey) -> i32 {
    match egress_interface(ctx, flow) {
        Some(ifindex) => redirect_neigh(ifindex),
        None => TC_ACT_SHOT,
    }
}

/// The interface the FIB sends `flow` out of, if it is forwardable.
#[inline(always)]
pub fn egress_interface(ctx: &TcContext, flow: &FlowKey) -> Option<u32> {
    // SAFETY: all-zero is a valid bpf_fib_lookup (plain integers and unions of integers).
    let mut params: bpf_fib_lookup = unsafe { mem::zeroed() };
    params.family = AF_INET;
    params.l4_protocol = flow.proto;
    params.sport = flow.sport;
    params.dport = flow.dport;
    params.__bindgen_anon_1.tot_len = ctx.len() as u16;
    params.__bindgen_anon_3.ipv4_src = flow.saddr;
    params.__bindgen_anon_4.ipv4_dst = flow.daddr;
    // SAFETY: the context pointer is the __sk_buff the kernel passed in.
    params.ifindex = unsafe { (*(ctx.as_ptr() as *const __sk_buff)).ifindex };
    // SAFETY: params is a correctly sized, initialised struct on our stack.
    let rc = unsafe {
        fib_lookup(ctx.as_ptr(), &mut params, mem::size_of::<bpf_fib_lookup>() as i32, BPF_FIB_LOOKUP_SKIP_NEIGH)
    };
    (rc == i64::from(BPF_FIB_LKUP_RET_SUCCESS)).then_some(params.ifindex)
}

/// Sends the packet out of `ifindex`, resolving the next hop's MAC address. Returns the verdict.
#[inline(always)]
pub fn redirect_neigh(ifindex: u32) -> i32 {
    // SAFETY: a NULL neighbour means "route the packet's own destination"; returns a TC verdict.
    unsafe { bpf_redirect_neigh(ifindex, ptr::null_mut(), 0, 0) as i32 }
}

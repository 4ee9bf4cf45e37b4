//! `ext_ingress`: packets arriving on the external interface.
use aya_ebpf::{
    bindings::{BPF_NOEXIST, TC_ACT_OK, TC_ACT_SHOT},
    macros::classifier,
    programs::TcContext,
};
use lb_common::external::{
    BackendKey, Config, CtValue, Endpoint, FlowKey, FrontendKey, FrontendValue, RevNatValue, BACKEND_FLAG_LOCAL,
    FRONTEND_FLAG_SOURCE_RANGES,
};

use crate::{
    maps::{EXT_CONFIG, EXT_CT, EXT_FRONTENDS, EXT_REV_NAT},
    packet::{decrement_ttl, is_tcp_open, parse, set_destination, set_source},
    redirect::{egress_interface, redirect_neigh, redirect_to},
    select::{pick_backend, source_allowed},
    snat, stats,
};

const PASS: i32 = TC_ACT_OK;
const DROP: i32 = TC_ACT_SHOT;

#[classifier]
pub fn ext_ingress(ctx: TcContext) -> i32 {
    let Some(flow) = parse(&ctx) else {
        return PASS;
    };
    // A known flow keeps its backend whatever happened to the Maglev table since.
    if let Some(ct) = EXT_CT.get_ptr(flow) {
        // SAFETY: valid map value pointer for this program run; copied at once.
        let ct = unsafe { *ct };
        return forward(&ctx, &flow, &ct);
    }
    if let Some(rev) = EXT_REV_NAT.get_ptr(flow) {
        // SAFETY: as above.
        let rev = unsafe { *rev };
        return reply_from_remote(&ctx, &flow, &rev);
    }
    let key = FrontendKey { addr: flow.daddr, port: flow.dport, proto: flow.proto, pad: 0 };
    let Some(fe) = EXT_FRONTENDS.get_ptr(key) else {
        if is_tcp_open(&ctx, &flow) {
            forget_stale_reply(&flow);
        }
        return PASS;
    };
    // SAFETY: as above.
    let fe = unsafe { *fe };
    new_flow(&ctx, &flow, &fe)
}

#[inline(always)]
fn new_flow(ctx: &TcContext, flow: &FlowKey, fe: &FrontendValue) -> i32 {
    if fe.flags & FRONTEND_FLAG_SOURCE_RANGES != 0 && !source_allowed(fe.id, flow.saddr) {
        stats::count_drop(fe.id, |s| s.denied += 1);
        return DROP;
    }
    // Also the externalTrafficPolicy=Local case without a local backend: never forward elsewhere.
    let picked = if fe.backend_count == 0 { None } else { pick_backend(fe, flow) };
    let Some((backend_id, backend)) = picked else {
        stats::count_drop(fe.id, |s| s.no_backend += 1);
        return DROP;
    };
    let mut ct = CtValue {
        backend: backend.backend,
        frontend_id: fe.id,
        backend_id,
        snat_port: 0,
        pad: 0,
        flags: backend.flags & BACKEND_FLAG_LOCAL,
    };
    if ct.flags & BACKEND_FLAG_LOCAL == 0 {
        let Some(cfg) = config() else { return DROP };
        let Some(port) = snat::allocate(&cfg, &remote_reply_key(flow, &ct, &cfg), &rev_value(flow)) else {
            stats::count_drop(fe.id, |s| s.snat_exhausted += 1);
            return DROP;
        };
        ct.snat_port = port;
    }
    // A failed insert costs only stickiness: the next packet picks again (same Maglev slot).
    let _ = EXT_CT.insert(flow, ct, 0);
    forward(ctx, flow, &ct)
}

/// Client -> backend: DNAT, plus SNAT to this node for a remote backend.
#[inline(always)]
fn forward(ctx: &TcContext, flow: &FlowKey, ct: &CtValue) -> i32 {
    stats::count_forwarded(&BackendKey { frontend_id: ct.frontend_id, backend_id: ct.backend_id }, ctx.len());
    if ct.flags & BACKEND_FLAG_LOCAL != 0 {
        // The reverse entry may have been evicted from its LRU independently of the CT entry.
        ensure_reverse(&local_reply_key(flow, ct), &rev_value(flow));
        if set_destination(ctx, flow, &ct.backend).is_err() {
            return DROP;
        }
        // Straight to the pod's interface (its bridge or veth), past the node's IP input and
        // forwarding path; the client's address stays the source. Should the FIB not know the
        // way, the kernel routes the packet as usual.
        let to_pod = FlowKey { daddr: ct.backend.addr, dport: ct.backend.port, ..*flow };
        let Some(ifindex) = egress_interface(ctx, &to_pod) else { return PASS };
        if decrement_ttl(ctx).is_err() {
            return DROP;
        }
        return redirect_neigh(ifindex);
    }
    let Some(cfg) = config() else { return DROP };
    ensure_reverse(&remote_reply_key(flow, ct, &cfg), &rev_value(flow));
    let snat = Endpoint { addr: cfg.node_ip, port: ct.snat_port, pad: 0 };
    if set_destination(ctx, flow, &ct.backend).is_err()
        || set_source(ctx, flow, &snat).is_err()
        || decrement_ttl(ctx).is_err()
    {
        return DROP;
    }
    let out = FlowKey { saddr: snat.addr, daddr: ct.backend.addr, sport: snat.port, dport: ct.backend.port, ..*flow };
    redirect_to(ctx, &out)
}

/// Backend (remote) -> this node's SNAT port: restore frontend -> client and send it back out.
#[inline(always)]
fn reply_from_remote(ctx: &TcContext, flow: &FlowKey, rev: &RevNatValue) -> i32 {
    if set_source(ctx, flow, &rev.src).is_err()
        || set_destination(ctx, flow, &rev.dst).is_err()
        || decrement_ttl(ctx).is_err()
    {
        return DROP;
    }
    let out = FlowKey { saddr: rev.src.addr, daddr: rev.dst.addr, sport: rev.src.port, dport: rev.dst.port, ..*flow };
    redirect_to(ctx, &out)
}

/// A connection straight to a local pod (not through a frontend) may reuse the 4-tuple of an
/// earlier load-balanced flow to that pod, whose reverse entry the LRU still holds: egress would
/// then give the new flow's replies the frontend's address. Its SYN clears that entry first.
#[inline(always)]
fn forget_stale_reply(flow: &FlowKey) {
    let reply = FlowKey { saddr: flow.daddr, daddr: flow.saddr, sport: flow.dport, dport: flow.sport, ..*flow };
    if EXT_REV_NAT.get_ptr(reply).is_some() {
        let _ = EXT_REV_NAT.remove(&reply);
    }
}

#[inline(always)]
fn ensure_reverse(key: &FlowKey, value: &RevNatValue) {
    if EXT_REV_NAT.get_ptr(key).is_none() {
        // NOEXIST: after an eviction the SNAT port may already serve another flow; never steal it.
        let _ = EXT_REV_NAT.insert(key, value, BPF_NOEXIST as u64);
    }
}

/// What a reply must be turned back into: from the frontend, to the client.
#[inline(always)]
fn rev_value(flow: &FlowKey) -> RevNatValue {
    RevNatValue {
        src: Endpoint { addr: flow.daddr, port: flow.dport, pad: 0 },
        dst: Endpoint { addr: flow.saddr, port: flow.sport, pad: 0 },
    }
}

/// A local backend's reply, as it leaves through the external interface.
#[inline(always)]
fn local_reply_key(flow: &FlowKey, ct: &CtValue) -> FlowKey {
    FlowKey { saddr: ct.backend.addr, daddr: flow.saddr, sport: ct.backend.port, dport: flow.sport, ..*flow }
}

/// A remote backend's reply, as it arrives at this node's SNAT address.
#[inline(always)]
fn remote_reply_key(flow: &FlowKey, ct: &CtValue, cfg: &Config) -> FlowKey {
    FlowKey { saddr: ct.backend.addr, daddr: cfg.node_ip, sport: ct.backend.port, dport: ct.snat_port, ..*flow }
}

#[inline(always)]
fn config() -> Option<Config> {
    EXT_CONFIG.get(0).copied()
}

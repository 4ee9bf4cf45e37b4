//! `ext_egress`: replies of local backends leaving through the external interface get the
//! frontend back as their source (the kernel routed them here from the pod bridge).
use aya_ebpf::{
    bindings::{TC_ACT_OK, TC_ACT_SHOT},
    macros::classifier,
    programs::TcContext,
};

use crate::{
    maps::EXT_REV_NAT,
    packet::{is_tcp_open, parse, set_destination, set_source},
};

#[classifier]
pub fn ext_egress(ctx: TcContext) -> i32 {
    let Some(flow) = parse(&ctx) else {
        return TC_ACT_OK;
    };
    // A pod opening a connection is not replying, even if a stale entry matches its 4-tuple.
    if is_tcp_open(&ctx, &flow) {
        return TC_ACT_OK;
    }
    let Some(rev) = EXT_REV_NAT.get_ptr(flow) else {
        return TC_ACT_OK;
    };
    // SAFETY: valid map value pointer for this program run; copied at once.
    let rev = unsafe { *rev };
    if set_source(&ctx, &flow, &rev.src).is_err() || set_destination(&ctx, &flow, &rev.dst).is_err() {
        return TC_ACT_SHOT;
    }
    TC_ACT_OK
}

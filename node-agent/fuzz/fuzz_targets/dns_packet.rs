//! Any datagram through the cluster DNS server's packet path (`dns::packet_check`): no panic,
//! and every datagram that is not dropped gets one well-formed answer with its id.
#![no_main]

use std::sync::OnceLock;

use keel_node_agent::dns::packet_check::PacketCheck;
use libfuzzer_sys::fuzz_target;

static CHECK: OnceLock<PacketCheck> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let check = CHECK.get_or_init(|| PacketCheck::new().expect("the fixture zone builds"));
    if let Err(problem) = check.run(data) {
        panic!("{problem}");
    }
});

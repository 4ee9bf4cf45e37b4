//! Property test of the packet path: arbitrary bytes, and real queries with bytes flipped or cut
//! off, go through hickory's request parser and this server's handler. Nothing may panic, and
//! every request that parses gets a response that parses, with its id.
use std::str::FromStr;

use hickory_proto::{
    op::{Message, MessageType, OpCode, Query},
    rr::{Name, RecordType},
};
use proptest::{prelude::*, strategy::ValueTree};

use super::packet_check::PacketCheck;

fn query_bytes(name: &str, qtype: RecordType) -> Vec<u8> {
    let mut m = Message::new();
    m.set_id(0x1234).set_message_type(MessageType::Query).set_op_code(OpCode::Query);
    m.add_query(Query::query(Name::from_str(name).expect("name"), qtype));
    m.to_vec().expect("encode")
}

/// Real queries, then damaged: a few bytes overwritten (header flags, counts, labels, type and
/// class all get hit), and sometimes the end cut off.
fn damaged_query() -> impl Strategy<Value = Vec<u8>> {
    let names = prop::sample::select(vec![
        "web.default.svc.cluster.local.",
        "_http._tcp.web.default.svc.cluster.local.",
        "nope.cluster.local.",
        "10-0-0-1.default.pod.cluster.local.",
        "example.com.",
    ]);
    let types = prop::sample::select(vec![RecordType::A, RecordType::AAAA, RecordType::SRV, RecordType::AXFR]);
    let flips = prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3);
    let cut = prop::option::weighted(0.25, any::<prop::sample::Index>());
    (names, types, flips, cut).prop_map(|(name, qtype, flips, cut)| {
        let mut bytes = query_bytes(name, qtype);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        bytes
    })
}

fn run_one(check: &PacketCheck, bytes: &[u8]) -> Result<bool, TestCaseError> {
    check.run(bytes).map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        run_one(&PacketCheck::new().expect("fixture"), &bytes)?;
    }

    #[test]
    fn damaged_queries_get_parsable_answers(bytes in damaged_query()) {
        run_one(&PacketCheck::new().expect("fixture"), &bytes)?;
    }
}

/// The damaged-query strategy must mostly produce requests the parser accepts, or the test
/// would only exercise the parser.
#[test]
fn most_damaged_queries_reach_the_handler() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let check = PacketCheck::new().expect("fixture");
    let mut reached = 0;
    for _ in 0..1000 {
        let bytes = damaged_query().new_tree(&mut runner).expect("value").current();
        if run_one(&check, &bytes).expect("no failure") {
            reached += 1;
        }
    }
    eprintln!("{reached} of 1000 damaged queries parsed and were answered");
    assert!(reached >= 400, "only {reached} of 1000 damaged queries parsed");
}

/// Found by the cargo fuzz target: a question whose name is a compression pointer (here into
/// the header). Echoing its raw bytes made the pointer land in the answer's header, where the
/// flags are not a label: the answer did not parse.
#[test]
fn a_compressed_question_is_echoed_whole() {
    let check = PacketCheck::new().expect("fixture");
    let datagram = [
        0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 192, 2, 108, 57, 10, 72, 95, 119, 109, 141, 246, 70, 0, 0, 0, 1, 0, 1, 97,
        254, 0,
    ];
    assert_eq!(check.run(&datagram), Ok(true));
    // The same for a real question: `web` in a name that points back at the zone's labels.
    let mut datagram = query_bytes("web.default.svc.cluster.local.", RecordType::A);
    datagram.truncate(12);
    datagram.extend([3, b'w', b'e', b'b', 0xC0, 22, 0, 1, 0, 1]);
    datagram.extend([7, b'd', b'e', b'f', b'a', b'u', b'l', b't', 3, b's', b'v', b'c', 0]);
    assert!(check.run(&datagram).is_ok());
}

//! Property test of the packet path: arbitrary bytes, and real queries with bytes flipped or cut
//! off, go through hickory's request parser and this server's handler. Nothing may panic, and
//! every request that parses gets a response that parses, with its id.
use std::{
    str::FromStr,
    sync::{Arc, Mutex, RwLock},
};

use hickory_proto::{
    op::{Message, MessageType, OpCode, Query},
    rr::{Name, Record, RecordType},
    serialize::binary::{BinDecodable, BinEncoder},
    xfer::Protocol,
};
use hickory_server::{
    authority::{MessageRequest, MessageResponse},
    server::{Request, RequestHandler, ResponseHandler, ResponseInfo},
};
use proptest::{prelude::*, strategy::ValueTree};

use super::{handler::Handler, stats::DnsStats, zone};

/// Keeps what the handler sends, encoded as on the wire.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Vec<u8>>>>);

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> std::io::Result<ResponseInfo> {
        let mut buffer = Vec::new();
        let info = {
            let mut encoder = BinEncoder::new(&mut buffer);
            response.destructive_emit(&mut encoder).map_err(std::io::Error::other)?
        };
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(buffer);
        Ok(info)
    }
}

fn handler() -> Handler {
    let svc: k8s_openapi::api::core::v1::Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"clusterIP": "10.96.0.50", "ports": [{"name": "http", "port": 80}]}}))
    .expect("fixture");
    let services = [Arc::new(super::sources::ServiceInfo::from_service(&svc).expect("fixture"))];
    let sources =
        zone::Sources { services: &services, slices: &[], dns_ip: None, pod_records: zone::PodRecords::Insecure };
    let zone = zone::Zone::build("cluster.local", 5, &sources).expect("zone");
    Handler::new(Arc::new(RwLock::new(Arc::new(zone))), None, None, Arc::new(DnsStats::default()))
}

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

/// Returns whether the request parsed and reached the handler (the rest are the parser's business).
fn run_one(handler: &Handler, runtime: &tokio::runtime::Runtime, bytes: &[u8]) -> Result<bool, TestCaseError> {
    let Ok(message) = MessageRequest::from_bytes(bytes) else {
        return Ok(false); // hickory-server answers FORMERR or drops it; nothing reaches the handler
    };
    let id = message.id();
    let request = Request::new(message, "10.244.0.5:5353".parse().expect("addr"), Protocol::Udp);
    let capture = Capture::default();
    runtime.block_on(handler.handle_request(&request, capture.clone()));
    let sent = capture.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    prop_assert_eq!(sent.len(), 1, "one response per request");
    let response = Message::from_vec(&sent[0]).map_err(|e| TestCaseError::fail(format!("unparsable response: {e}")))?;
    prop_assert_eq!(response.id(), id);
    prop_assert_eq!(response.message_type(), MessageType::Response);
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        run_one(&handler(), &runtime, &bytes)?;
    }

    #[test]
    fn damaged_queries_get_parsable_answers(bytes in damaged_query()) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        run_one(&handler(), &runtime, &bytes)?;
    }
}

/// The damaged-query strategy must mostly produce requests the parser accepts, or the test
/// would only exercise the parser.
#[test]
fn most_damaged_queries_reach_the_handler() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let handler = handler();
    let mut reached = 0;
    for _ in 0..1000 {
        let bytes = damaged_query().new_tree(&mut runner).expect("value").current();
        if run_one(&handler, &runtime, &bytes).expect("no failure") {
            reached += 1;
        }
    }
    eprintln!("{reached} of 1000 damaged queries parsed and were answered");
    assert!(reached >= 400, "only {reached} of 1000 damaged queries parsed");
}

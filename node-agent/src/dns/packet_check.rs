//! One datagram through the whole packet path, for the fuzzers (the property test in
//! `packet_fuzz.rs` and the coverage-guided `cargo fuzz` target in `node-agent/fuzz`): the UDP
//! loop's parsing (hickory's request parser, FORMERR for a damaged body), then this server's
//! handler against a small zone, then hickory's parser again on the answer. What must hold: no
//! panic, and every datagram that is not dropped gets exactly one answer that parses, with its
//! id, marked as a response.
use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, RwLock},
};

use hickory_proto::op::{Message, MessageType};
use hickory_server::server::RequestHandler;

use super::{
    handler::Handler,
    sources::ServiceInfo,
    stats::DnsStats,
    udp::{parse, Parsed, Reply},
    zone,
};

/// A handler over a one-Service zone, and a runtime to drive it.
pub struct PacketCheck {
    handler: Handler,
    runtime: tokio::runtime::Runtime,
    source: SocketAddr,
}

impl PacketCheck {
    pub fn new() -> Result<Self, String> {
        let svc: k8s_openapi::api::core::v1::Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"clusterIP": "10.96.0.50", "ports": [{"name": "http", "port": 80}]}}))
        .map_err(|e| e.to_string())?;
        let services = [Arc::new(ServiceInfo::from_service(&svc).ok_or("fixture")?)];
        let sources =
            zone::Sources { services: &services, slices: &[], dns_ip: None, pod_records: zone::PodRecords::Insecure };
        let zone = zone::Zone::build("cluster.local", 5, &sources)?;
        let handler = Handler::new(Arc::new(RwLock::new(Arc::new(zone))), None, None, Arc::new(DnsStats::default()));
        let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(|e| e.to_string())?;
        Ok(Self { handler, runtime, source: SocketAddr::from(([10, 244, 0, 5], 5353)) })
    }

    /// `Ok(true)` when the datagram parsed and was answered correctly, `Ok(false)` when the
    /// parser refused it (hickory answers FORMERR or drops it; the handler never sees it), and
    /// `Err` with what went wrong otherwise.
    pub fn run(&self, bytes: &[u8]) -> Result<bool, String> {
        let (id, answer, reached) = match parse(bytes, self.source) {
            Parsed::Drop => return Ok(false),
            Parsed::FormErr(answer) => (u16::from_be_bytes([bytes[0], bytes[1]]), answer, false),
            Parsed::Request(request) => {
                let kept = Arc::new(Mutex::new(Vec::new()));
                self.runtime.block_on(self.handler.handle_request(&request, Reply::Keep(kept.clone())));
                let sent = kept.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let [answer] = sent.as_slice() else { return Err(format!("{} answers to one request", sent.len())) };
                (request.header().id(), answer.clone(), true)
            }
        };
        let response = Message::from_vec(&answer).map_err(|e| format!("unparsable answer: {e}"))?;
        if response.id() != id || response.message_type() != MessageType::Response {
            return Err(format!("answer {} ({:?}) to request {id}", response.id(), response.message_type()));
        }
        Ok(reached)
    }
}

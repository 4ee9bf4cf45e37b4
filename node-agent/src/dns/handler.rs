//! Answering one request: protocol checks (opcode, class, zone transfers, EDNS version), the
//! zone lookup, negative answers with the SOA, and truncation for UDP.
use std::sync::{Arc, RwLock};

use hickory_proto::{
    op::{Edns, Header, Message, MessageType, OpCode, Query, ResponseCode},
    rr::{DNSClass, RData, Record, RecordType},
    serialize::binary::{BinDecodable, BinEncodable, BinEncoder},
    xfer::Protocol,
};
use hickory_server::{
    authority::{MessageRequest, MessageResponseBuilder},
    server::{Request, RequestHandler, ResponseHandler, ResponseInfo},
};

use super::{
    autopath::{next_candidates, SharedPods},
    forward::{Forwarded, Forwarder},
    stats::DnsStats,
    zone::{Answer, Zone},
};

/// The current zone, replaced whole when the watches rebuild it.
pub type SharedZone = Arc<RwLock<Arc<Zone>>>;

#[derive(Clone)]
pub struct Handler {
    zone: SharedZone,
    forwarder: Option<Arc<Forwarder>>,
    pods: SharedPods,
    stats: Arc<DnsStats>,
}

impl Handler {
    pub fn new(zone: SharedZone, forwarder: Option<Arc<Forwarder>>, pods: SharedPods, stats: Arc<DnsStats>) -> Self {
        Self { zone, forwarder, pods, stats }
    }

    fn current(&self) -> Arc<Zone> {
        self.zone.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What to send: a response code and the three record sections.
struct Reply {
    code: ResponseCode,
    authoritative: bool,
    /// Set on forwarded answers: this server resolved them for the client.
    recursion_available: bool,
    answers: Vec<Record>,
    authority: Vec<Record>,
}

impl Reply {
    fn code(code: ResponseCode) -> Self {
        Self { code, authoritative: false, recursion_available: false, answers: Vec::new(), authority: Vec::new() }
    }

    fn authoritative(code: ResponseCode, answers: Vec<Record>, authority: Vec<Record>) -> Self {
        Self { code, authoritative: true, recursion_available: false, answers, authority }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler>(&self, request: &Request, mut response: R) -> ResponseInfo {
        let started = std::time::Instant::now();
        let edns = request.edns().map(|req| {
            let mut e = Edns::new();
            e.set_max_payload(req.max_payload().max(512));
            e.set_version(0);
            e
        });
        let reply = if request.edns().is_some_and(|e| e.version() > 0) {
            Reply::code(ResponseCode::BADVERS)
        } else {
            self.answer(request).await
        };
        let mut header = Header::response_from_request(request.header());
        header.set_authoritative(reply.authoritative);
        header.set_response_code(reply.code);
        header.set_recursion_available(reply.recursion_available);
        let limit = match request.protocol() {
            Protocol::Udp => edns.as_ref().map_or(512, |e| e.max_payload()),
            _ => u16::MAX,
        };
        let query = request.queries().first().map(|q| q.original().clone());
        let fits = size_bound(query.as_ref(), &reply).is_some_and(|bound| bound <= usize::from(limit))
            || encoded_len(&header, query.as_ref(), &reply, edns.as_ref()) <= usize::from(limit);
        // UDP datagrams come through `udp.rs`, which rewrites compressed questions already.
        let rebuilt = match request.protocol() {
            Protocol::Udp => None,
            _ => with_plain_questions(request),
        };
        let echo: &MessageRequest = rebuilt.as_ref().unwrap_or(request);
        let mut builder = MessageResponseBuilder::from_message_request(echo);
        if let Some(e) = edns {
            builder.edns(e);
        }
        let sent = if fits {
            let message = builder.build(header, reply.answers.iter(), reply.authority.iter(), [], []);
            response.send_response(message).await
        } else {
            // Too big for the client's UDP buffer: say so, and it retries over TCP.
            header.set_truncated(true);
            response.send_response(builder.build_no_records(header)).await
        };
        self.stats.record(query.as_ref().map(Query::query_type), header.response_code(), started.elapsed());
        match sent {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(error = %e, "sending a DNS response");
                header.into()
            }
        }
    }
}

impl Handler {
    async fn answer(&self, request: &Request) -> Reply {
        if request.message_type() != MessageType::Query {
            return Reply::code(ResponseCode::FormErr);
        }
        if request.op_code() != OpCode::Query {
            return Reply::code(ResponseCode::NotImp);
        }
        let [query] = request.queries() else {
            return Reply::code(ResponseCode::FormErr);
        };
        if query.query_class() != DNSClass::IN {
            return Reply::code(ResponseCode::FormErr);
        }
        let qtype = query.query_type();
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            return Reply::code(ResponseCode::Refused);
        }
        let zone = self.current();
        match zone.lookup(query.name(), qtype) {
            Answer::Records(answers) => Reply::authoritative(ResponseCode::NoError, answers, Vec::new()),
            Answer::NoData => Reply::authoritative(ResponseCode::NoError, Vec::new(), vec![zone.soa().clone()]),
            Answer::NxDomain => match self.autopath(request, &zone, qtype).await {
                Some(reply) => reply,
                None => Reply::authoritative(ResponseCode::NXDomain, Vec::new(), vec![zone.soa().clone()]),
            },
            Answer::NotOurs => self.forward(query.original().name(), qtype).await,
        }
    }

    /// The first positive answer along the asking pod's search list, behind a CNAME from the
    /// name it asked; `None` when the client is no pod of this node or nothing further exists.
    async fn autopath(&self, request: &Request, zone: &Zone, qtype: RecordType) -> Option<Reply> {
        let pods = self.pods.as_ref()?;
        let query = request.queries().first()?;
        let namespace = pods.namespace_of(request.src().ip())?;
        for candidate in next_candidates(query.name(), &namespace, zone.origin()) {
            let lower = hickory_proto::rr::LowerName::new(&candidate);
            let found = match zone.lookup(&lower, qtype) {
                Answer::Records(records) => Some((records, true)),
                Answer::NotOurs => match self.forward(&candidate, qtype).await {
                    Reply { code: ResponseCode::NoError, answers, .. } if !answers.is_empty() => Some((answers, false)),
                    _ => None,
                },
                Answer::NoData | Answer::NxDomain => None,
            };
            let Some((records, ours)) = found else { continue };
            let cname = Record::from_rdata(
                query.original().name().clone(),
                zone.soa().ttl(),
                hickory_proto::rr::RData::CNAME(hickory_proto::rr::rdata::CNAME(candidate)),
            );
            let mut answers = vec![cname];
            answers.extend(records);
            return Some(Reply {
                code: ResponseCode::NoError,
                authoritative: ours,
                recursion_available: !ours,
                answers,
                authority: Vec::new(),
            });
        }
        None
    }

    /// A name outside the cluster zone: the upstream's answer, or REFUSED without upstreams.
    async fn forward(&self, name: &hickory_proto::rr::Name, qtype: RecordType) -> Reply {
        let Some(forwarder) = &self.forwarder else {
            return Reply::code(ResponseCode::Refused);
        };
        let (forwarded, source) = forwarder.forward(name, qtype).await;
        self.stats.forwarded(source);
        let (code, answers, authority) = match forwarded {
            Forwarded::Records(records) => (ResponseCode::NoError, records, Vec::new()),
            Forwarded::Negative { code, soa } => (code, Vec::new(), soa.into_iter().map(|s| *s).collect()),
            Forwarded::Failed => (ResponseCode::ServFail, Vec::new(), Vec::new()),
        };
        Reply { code, authoritative: false, recursion_available: true, answers, authority }
    }
}

/// The request with its question names written whole (no compression pointers), keeping the
/// client's case and its EDNS record. hickory-server's response builder echoes the question
/// section as the client's raw bytes, so a pointer a client put there would land in the
/// answer's header instead: an answer no client can parse (found by the cargo fuzz target).
/// Other sections of a query play no part in the answer and are left out.
pub(super) fn with_plain_questions(message: &MessageRequest) -> Option<MessageRequest> {
    let mut bytes = Vec::with_capacity(128);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_canonical_names(true);
    let mut header = *message.header();
    let questions = u16::try_from(message.queries().len()).ok()?;
    header.set_query_count(questions).set_answer_count(0).set_name_server_count(0);
    header.set_additional_count(u16::from(message.edns().is_some()));
    header.emit(&mut encoder).ok()?;
    for query in message.queries() {
        query.original().emit(&mut encoder).ok()?;
    }
    if let Some(edns) = message.edns() {
        Record::from(edns).emit(&mut encoder).ok()?;
    }
    MessageRequest::from_bytes(&bytes).ok()
}

/// Whether a datagram's question section uses a compression pointer (or a label type other
/// than plain), judged from the raw bytes without parsing.
pub(super) fn questions_compressed(datagram: &[u8]) -> bool {
    let count = datagram.get(4..6).map_or(0, |c| u16::from_be_bytes([c[0], c[1]]));
    let mut at = 12;
    for _ in 0..count {
        loop {
            match datagram.get(at) {
                None => return false, // cut short: the parser refuses it anyway
                Some(0) => break,
                Some(len) if len & 0xC0 != 0 => return true,
                Some(len) => at += usize::from(*len) + 1,
            }
        }
        at += 1 + 4; // the root label, type and class
    }
    false
}

/// An upper bound of the response's size on the wire (names counted uncompressed, EDNS at its
/// largest without options), cheap enough for every answer; `None` for record types it does not
/// know, which then get encoded to measure.
fn size_bound(query: Option<&Query>, reply: &Reply) -> Option<usize> {
    // A name's wire form is its text form plus one byte (root label); the header is 12 bytes,
    // the OPT record 11, a record's fixed part 10.
    let name = |n: &hickory_proto::rr::Name| n.len() + 2;
    let mut size = 12 + 11 + query.map_or(0, |q| name(q.name()) + 4);
    for record in reply.answers.iter().chain(&reply.authority) {
        let rdata = match record.data() {
            RData::A(_) => 4,
            RData::AAAA(_) => 16,
            RData::CNAME(t) => name(&t.0),
            RData::PTR(t) => name(&t.0),
            RData::NS(t) => name(&t.0),
            RData::SRV(srv) => 6 + name(srv.target()),
            RData::SOA(soa) => name(soa.mname()) + name(soa.rname()) + 20,
            RData::TXT(txt) => txt.txt_data().iter().map(|s| s.len() + 1).sum(),
            _ => return None,
        };
        size += name(record.name()) + 10 + rdata;
    }
    Some(size)
}

/// The size the response would have on the wire.
fn encoded_len(header: &Header, query: Option<&Query>, reply: &Reply, edns: Option<&Edns>) -> usize {
    let mut message = Message::new();
    message.set_header(*header);
    if let Some(q) = query {
        message.add_query(q.clone());
    }
    message.add_answers(reply.answers.iter().cloned());
    message.add_name_servers(reply.authority.iter().cloned());
    if let Some(e) = edns {
        message.set_edns(e.clone());
    }
    message.to_vec().map_or(usize::MAX, |bytes| bytes.len())
}

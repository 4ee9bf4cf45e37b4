//! Answering one request: protocol checks (opcode, class, zone transfers, EDNS version), the
//! zone lookup, negative answers with the SOA, and truncation for UDP.
use std::sync::{Arc, RwLock};

use hickory_proto::{
    op::{Edns, Header, Message, MessageType, OpCode, Query, ResponseCode},
    rr::{DNSClass, Record, RecordType},
    xfer::Protocol,
};
use hickory_server::{
    authority::MessageResponseBuilder,
    server::{Request, RequestHandler, ResponseHandler, ResponseInfo},
};

use super::zone::{Answer, Zone};

/// The current zone, replaced whole when the watches rebuild it.
pub type SharedZone = Arc<RwLock<Arc<Zone>>>;

pub struct Handler {
    zone: SharedZone,
}

impl Handler {
    pub fn new(zone: SharedZone) -> Self {
        Self { zone }
    }

    fn current(&self) -> Arc<Zone> {
        self.zone.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What to send: a response code and the three record sections.
struct Reply {
    code: ResponseCode,
    authoritative: bool,
    answers: Vec<Record>,
    authority: Vec<Record>,
}

impl Reply {
    fn code(code: ResponseCode) -> Self {
        Self { code, authoritative: false, answers: Vec::new(), authority: Vec::new() }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler>(&self, request: &Request, mut response: R) -> ResponseInfo {
        let edns = request.edns().map(|req| {
            let mut e = Edns::new();
            e.set_max_payload(req.max_payload().max(512));
            e.set_version(0);
            e
        });
        let reply = if request.edns().is_some_and(|e| e.version() > 0) {
            Reply::code(ResponseCode::BADVERS)
        } else {
            self.answer(request)
        };
        let mut header = Header::response_from_request(request.header());
        header.set_authoritative(reply.authoritative);
        header.set_response_code(reply.code);
        // No recursion here: names outside the zone are not looked up on a client's behalf.
        header.set_recursion_available(false);
        let limit = match request.protocol() {
            Protocol::Udp => edns.as_ref().map_or(512, |e| e.max_payload()),
            _ => u16::MAX,
        };
        let query = request.queries().first().map(|q| q.original().clone());
        let fits = encoded_len(&header, query.as_ref(), &reply, edns.as_ref()) <= usize::from(limit);
        let mut builder = MessageResponseBuilder::from_message_request(request);
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
    fn answer(&self, request: &Request) -> Reply {
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
            Answer::Records(answers) => {
                Reply { code: ResponseCode::NoError, authoritative: true, answers, authority: Vec::new() }
            }
            Answer::NoData => Reply {
                code: ResponseCode::NoError,
                authoritative: true,
                answers: Vec::new(),
                authority: vec![zone.soa().clone()],
            },
            Answer::NxDomain => Reply {
                code: ResponseCode::NXDomain,
                authoritative: true,
                answers: Vec::new(),
                authority: vec![zone.soa().clone()],
            },
            // Names outside the cluster zone are for an upstream resolver; this server has none.
            Answer::NotOurs => Reply::code(ResponseCode::Refused),
        }
    }
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

//! The UDP side of the server. hickory-server's UDP loop spawns a task per datagram and hands
//! each answer to the socket through a channel; at a hundred thousand questions a second that is
//! a good part of the work. Here the loop answers a datagram in place when the handler finishes
//! at its first poll (every name of the zone: nothing to wait for), and only questions that wait
//! on an upstream resolver become tasks of their own. TCP stays with hickory-server.
use std::{
    future::Future,
    io,
    net::SocketAddr,
    sync::{Arc, Mutex},
    task::{Context, Poll, Waker},
};

use hickory_proto::{
    op::{Header, Message, MessageType, ResponseCode},
    rr::Record,
    serialize::binary::{BinDecodable, BinDecoder, BinEncoder},
    xfer::Protocol,
};
use hickory_server::{
    authority::{MessageRequest, MessageResponse},
    server::{Request, RequestHandler, ResponseHandler, ResponseInfo},
};
use tokio::net::UdpSocket;

use super::handler::{questions_compressed, with_plain_questions, Handler};

/// Larger datagrams are cut here and then fail to parse; EDNS clients offer at most 4096 (RFC 6891
/// recommends it) and queries are far smaller.
const MAX_DATAGRAM: usize = 4096;

/// Receive buffer: room for a burst of about 5,000 questions (some 50 ms at full load), as
/// dedicated DNS servers configure; the kernel's default (208 KiB) drops bursts of pods starting.
const RECEIVE_BUFFER: usize = 4 << 20;

/// Answers every datagram on `socket` until it fails for good.
pub async fn serve(socket: UdpSocket, handler: Handler) {
    use nix::sys::socket::{setsockopt, sockopt};
    // The forced variant passes net.core.rmem_max (the agent runs as root); the plain one is
    // capped by it.
    if setsockopt(&socket, sockopt::RcvBufForce, &RECEIVE_BUFFER).is_err() {
        let _ = setsockopt(&socket, sockopt::RcvBuf, &RECEIVE_BUFFER);
    }
    let socket = Arc::new(socket);
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        let (len, src) = match socket.recv_from(&mut buffer).await {
            Ok(received) => received,
            Err(e) => {
                // ICMP errors of earlier answers surface here on Linux; the socket is fine.
                tracing::debug!(error = %e, "receiving a DNS datagram");
                continue;
            }
        };
        // Port 0 cannot be answered; it is never a real client.
        if src.port() == 0 {
            continue;
        }
        let request = match parse(&buffer[..len], src) {
            Parsed::Request(request) => request,
            Parsed::FormErr(reply) => {
                send(&socket, &reply, src).await;
                continue;
            }
            Parsed::Drop => continue,
        };
        let reply = Reply::Send { socket: socket.clone(), dst: src };
        let handler = handler.clone();
        let mut answer = Box::pin(async move {
            handler.handle_request(&request, reply).await;
        });
        // Zone answers complete here; a forwarded question waits on its upstream in a task, which
        // polls it again with a real waker.
        if answer.as_mut().poll(&mut Context::from_waker(Waker::noop())) == Poll::Pending {
            tokio::spawn(answer);
        }
    }
}

pub(super) enum Parsed {
    /// Boxed: a parsed request is ten times the size of the other cases.
    Request(Box<Request>),
    /// A header was readable but the rest was not: FORMERR, encoded.
    FormErr(Vec<u8>),
    /// Not worth an answer: too short for a header, or a response (answering those would let
    /// anyone reflect traffic through the server).
    Drop,
}

/// A datagram as the loop treats it.
pub(super) fn parse(bytes: &[u8], src: SocketAddr) -> Parsed {
    match MessageRequest::read(&mut BinDecoder::new(bytes)) {
        Ok(message) if message.message_type() == MessageType::Response => Parsed::Drop,
        Ok(message) if questions_compressed(bytes) => match with_plain_questions(&message) {
            Some(plain) => Parsed::Request(Box::new(Request::new(plain, src, Protocol::Udp))),
            None => form_error(bytes),
        },
        Ok(message) => Parsed::Request(Box::new(Request::new(message, src, Protocol::Udp))),
        Err(_) => form_error(bytes),
    }
}

/// FORMERR with the request's id, when its header is readable.
fn form_error(bytes: &[u8]) -> Parsed {
    let Ok(header) = Header::read(&mut BinDecoder::new(bytes)) else { return Parsed::Drop };
    if header.message_type() == MessageType::Response {
        return Parsed::Drop;
    }
    let mut reply = Message::new();
    let mut response = Header::response_from_request(&header);
    response.set_response_code(ResponseCode::FormErr);
    reply.set_header(response);
    reply.to_vec().map_or(Parsed::Drop, Parsed::FormErr)
}

async fn send(socket: &UdpSocket, bytes: &[u8], dst: SocketAddr) {
    if let Err(e) = socket.send_to(bytes, dst).await {
        tracing::debug!(error = %e, %dst, "sending a DNS answer");
    }
}

/// Where the handler's answer goes once encoded: straight to the client, or kept (for
/// `packet_check`, so the fuzzers check this same encoding).
#[derive(Clone)]
pub(super) enum Reply {
    Send { socket: Arc<UdpSocket>, dst: SocketAddr },
    Keep(Arc<Mutex<Vec<Vec<u8>>>>),
}

#[async_trait::async_trait]
impl ResponseHandler for Reply {
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
    ) -> io::Result<ResponseInfo> {
        // The handler has already sized the answer for the client's buffer (truncating if need be).
        let mut bytes = Vec::with_capacity(512);
        let info = response.destructive_emit(&mut BinEncoder::new(&mut bytes)).map_err(io::Error::other)?;
        match self {
            Reply::Send { socket, dst } => send(socket, &bytes, *dst).await,
            Reply::Keep(kept) => kept.lock().unwrap_or_else(|e| e.into_inner()).push(bytes),
        }
        Ok(info)
    }
}

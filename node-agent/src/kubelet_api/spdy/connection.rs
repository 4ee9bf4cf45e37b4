//! The server side of a SPDY/3.1 session as Kubernetes clients use it: the client opens every stream, we
//! accept each with an empty SYN_REPLY, answer pings, and route data frames to the stream's receiver.
//!
//! Flow control: Go's spdystream neither enforces nor sends window updates in practice, so we never block on
//! a send window; we do grant window updates for received data, which is harmless for peers that ignore them.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::frame::{Frame, RST_PROTOCOL_ERROR};
use super::headers::{HeaderDecoder, HeaderEncoder, HeaderList};

/// Largest data frame we send.
const MAX_DATA_FRAME: usize = 32 * 1024;

/// A stream the client opened.
pub(crate) struct SpdyStream {
    pub id: u32,
    pub headers: HeaderList,
    /// Data from the client; `None` once it half-closed (FIN), reset the stream, or the session ended.
    pub incoming: mpsc::UnboundedReceiver<Bytes>,
    pub writer: SpdyWriter,
}

impl SpdyStream {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

enum Outgoing {
    Frame(Frame),
    Reply(u32),
    /// Ends the session: GOAWAY, then close our sending side.
    GoAway,
}

/// Sends frames on the session; cheap to clone. Sends after the session ended are dropped.
#[derive(Clone)]
pub(crate) struct SpdyWriter {
    tx: mpsc::UnboundedSender<Outgoing>,
}

impl SpdyWriter {
    pub(crate) fn data(&self, stream_id: u32, data: &[u8]) {
        for chunk in data.chunks(MAX_DATA_FRAME) {
            let frame = Frame::Data { stream_id, fin: false, data: Bytes::copy_from_slice(chunk) };
            let _ = self.tx.send(Outgoing::Frame(frame));
        }
    }

    /// Half-closes our side of the stream (an empty data frame with FIN).
    pub(crate) fn close(&self, stream_id: u32) {
        let _ = self.tx.send(Outgoing::Frame(Frame::Data { stream_id, fin: true, data: Bytes::new() }));
    }

    pub(crate) fn reset(&self, stream_id: u32, status: u32) {
        let _ = self.tx.send(Outgoing::Frame(Frame::RstStream { stream_id, status }));
    }

    fn frame(&self, frame: Frame) {
        let _ = self.tx.send(Outgoing::Frame(frame));
    }
}

/// A running session. Streams opened by the client arrive on `streams`.
pub(crate) struct SpdySession {
    pub streams: mpsc::UnboundedReceiver<SpdyStream>,
    pub writer: SpdyWriter,
    reader: Option<JoinHandle<()>>,
    sender: Option<JoinHandle<()>>,
}

impl SpdySession {
    pub(crate) fn start<T>(io: T) -> SpdySession
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read_half, write_half) = tokio::io::split(io);
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (stream_tx, streams) = mpsc::unbounded_channel();
        let writer = SpdyWriter { tx: out_tx };
        let sender = tokio::spawn(send_loop(write_half, out_rx));
        let reader = tokio::spawn(read_loop(read_half, writer.clone(), stream_tx));
        SpdySession { streams, writer, reader: Some(reader), sender: Some(sender) }
    }

    /// Ends the session after everything queued so far is sent: GOAWAY, close our side, then give the client
    /// `grace` to close its side (closing while it still sends could reset the connection and lose our data).
    pub(crate) async fn finish(mut self, grace: Duration) {
        let _ = self.writer.tx.send(Outgoing::GoAway);
        if let Some(sender) = self.sender.take() {
            let _ = sender.await;
        }
        if let Some(mut reader) = self.reader.take() {
            if tokio::time::timeout(grace, &mut reader).await.is_err() {
                reader.abort();
            }
        }
    }
}

impl Drop for SpdySession {
    fn drop(&mut self) {
        if let Some(reader) = &self.reader {
            reader.abort();
        }
    }
}

async fn send_loop<W: AsyncWrite>(io: W, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    let mut io = std::pin::pin!(io);
    let mut encoder = match HeaderEncoder::new() {
        Ok(encoder) => encoder,
        Err(e) => {
            tracing::warn!("spdy: {e}");
            return;
        }
    };
    let mut buf = Vec::with_capacity(MAX_DATA_FRAME + 64);
    while let Some(first) = rx.recv().await {
        buf.clear();
        let mut next = Some(first);
        let mut go_away = false;
        // Batch whatever is queued into one write.
        while let Some(item) = next.take() {
            match item {
                Outgoing::Frame(frame) => frame.encode(&mut buf),
                Outgoing::Reply(stream_id) => match encoder.encode(&[]) {
                    Ok(header_block) => Frame::SynReply { stream_id, fin: false, header_block }.encode(&mut buf),
                    Err(e) => tracing::warn!("spdy: {e}"),
                },
                Outgoing::GoAway => {
                    Frame::GoAway { last_good_stream_id: 0, status: 0 }.encode(&mut buf);
                    go_away = true;
                    break;
                }
            }
            if buf.len() < 256 * 1024 {
                next = rx.try_recv().ok();
            }
        }
        if io.write_all(&buf).await.is_err() || io.flush().await.is_err() {
            return;
        }
        if go_away {
            let _ = io.shutdown().await;
            return;
        }
    }
    let _ = io.shutdown().await;
}

async fn read_loop<R: AsyncRead>(io: R, writer: SpdyWriter, new_streams: mpsc::UnboundedSender<SpdyStream>) {
    let mut io = std::pin::pin!(io);
    let mut decoder = HeaderDecoder::new();
    let mut open: HashMap<u32, mpsc::UnboundedSender<Bytes>> = HashMap::new();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        let frame = match Frame::decode(&buf) {
            Ok(Some((frame, used))) => {
                let _ = buf.split_to(used);
                frame
            }
            Ok(None) => match io.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            },
            Err(e) => {
                tracing::debug!("spdy: {e}");
                return;
            }
        };
        match frame {
            Frame::SynStream { stream_id, fin, header_block, .. } => {
                let headers = match decoder.decode(&header_block) {
                    Ok(headers) => headers,
                    Err(e) => {
                        // The compression context is shared by the whole session: it cannot continue.
                        tracing::debug!("spdy: {e}");
                        writer.reset(stream_id, RST_PROTOCOL_ERROR);
                        return;
                    }
                };
                let (tx, incoming) = mpsc::unbounded_channel();
                if !fin {
                    open.insert(stream_id, tx);
                }
                let _ = writer.tx.send(Outgoing::Reply(stream_id));
                let stream = SpdyStream { id: stream_id, headers, incoming, writer: writer.clone() };
                if new_streams.send(stream).is_err() {
                    writer.reset(stream_id, super::frame::RST_CANCEL);
                }
            }
            Frame::Data { stream_id, fin, data } => {
                if !data.is_empty() {
                    writer.frame(Frame::WindowUpdate { stream_id, delta: data.len() as u32 });
                    if let Some(tx) = open.get(&stream_id) {
                        let _ = tx.send(data);
                    }
                }
                if fin {
                    open.remove(&stream_id);
                }
            }
            Frame::RstStream { stream_id, .. } => {
                open.remove(&stream_id);
            }
            Frame::Ping { id } => writer.frame(Frame::Ping { id }),
            Frame::GoAway { .. } => return,
            Frame::SynReply { .. }
            | Frame::Headers { .. }
            | Frame::Settings { .. }
            | Frame::WindowUpdate { .. }
            | Frame::Unknown { .. } => {}
        }
    }
}

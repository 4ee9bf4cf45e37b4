//! A minimal SPDY/3.1 client doing what kubectl does: open streams with headers, send data, read replies.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{bail, Result};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::super::spdy::{Frame, HeaderDecoder, HeaderEncoder};

pub(super) struct SpdyClient<T> {
    io: T,
    encoder: HeaderEncoder,
    decoder: HeaderDecoder,
    next_id: u32,
    buf: BytesMut,
    /// Data received per stream, and whether the server half-closed it.
    pub received: HashMap<u32, (Vec<u8>, bool)>,
    pub replies: Vec<u32>,
}

impl<T: AsyncRead + AsyncWrite + Unpin> SpdyClient<T> {
    pub(super) fn new(io: T) -> Result<Self> {
        Ok(SpdyClient {
            io,
            encoder: HeaderEncoder::new()?,
            decoder: HeaderDecoder::new(),
            next_id: 1,
            buf: BytesMut::new(),
            received: HashMap::new(),
            replies: Vec::new(),
        })
    }

    pub(super) async fn open(&mut self, headers: &[(&str, &str)]) -> Result<u32> {
        let id = self.next_id;
        self.next_id += 2;
        let list: Vec<(String, String)> = headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        let header_block = self.encoder.encode(&list)?;
        let frame = Frame::SynStream {
            stream_id: id,
            associated_id: 0,
            priority: 0,
            fin: false,
            unidirectional: false,
            header_block,
        };
        self.write(frame).await?;
        Ok(id)
    }

    pub(super) async fn send(&mut self, stream_id: u32, data: &[u8], fin: bool) -> Result<()> {
        self.write(Frame::Data { stream_id, fin, data: Bytes::copy_from_slice(data) }).await
    }

    pub(super) async fn write(&mut self, frame: Frame) -> Result<()> {
        let mut buf = Vec::new();
        frame.encode(&mut buf);
        self.io.write_all(&buf).await?;
        self.io.flush().await?;
        Ok(())
    }

    /// Reads frames until every stream in `ids` is half-closed by the server.
    pub(super) async fn read_until_closed(&mut self, ids: &[u32]) -> Result<()> {
        let all_closed = |c: &Self| ids.iter().all(|id| c.received.get(id).is_some_and(|(_, fin)| *fin));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !all_closed(self) {
            let frame = tokio::time::timeout_at(deadline, self.next_frame()).await??;
            match frame {
                Some(Frame::Data { stream_id, fin, data }) => {
                    let entry = self.received.entry(stream_id).or_default();
                    entry.0.extend_from_slice(&data);
                    entry.1 |= fin;
                }
                Some(Frame::SynReply { stream_id, header_block, .. }) => {
                    self.decoder.decode(&header_block)?;
                    self.replies.push(stream_id);
                }
                Some(Frame::RstStream { stream_id, status }) => bail!("stream {stream_id} reset ({status})"),
                Some(_) => {}
                None => bail!("connection closed; got {:?}", self.received),
            }
        }
        Ok(())
    }

    pub(super) fn text(&self, id: u32) -> String {
        self.received.get(&id).map(|(d, _)| String::from_utf8_lossy(d).into_owned()).unwrap_or_default()
    }

    async fn next_frame(&mut self) -> Result<Option<Frame>> {
        loop {
            if let Some((frame, used)) = Frame::decode(&self.buf)? {
                let _ = self.buf.split_to(used);
                return Ok(Some(frame));
            }
            if self.io.read_buf(&mut self.buf).await? == 0 {
                return Ok(None);
            }
        }
    }
}

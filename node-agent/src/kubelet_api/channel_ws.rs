//! WebSocket plumbing shared by exec and port-forward: upgrading hyper's connection, channel-prefixed
//! messages, and a byte-stream view of a connection whose binary messages carry a raw byte stream.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub(crate) type ServerSocket = WebSocketStream<TokioIo<Upgraded>>;

/// v5 of the channel protocol: a message `[255, channel]` closes that channel.
pub(crate) const CLOSE_CHANNEL: u8 = 255;

pub(crate) async fn accept(upgraded: Upgraded) -> ServerSocket {
    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await
}

/// A binary message for `channel`.
pub(crate) fn channel_message(channel: u8, data: &[u8]) -> Message {
    let mut framed = Vec::with_capacity(data.len() + 1);
    framed.push(channel);
    framed.extend_from_slice(data);
    Message::Binary(Bytes::from(framed))
}

pub(crate) fn normal_close() -> Message {
    Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }))
}

/// Turns a WebSocket whose binary messages carry a byte stream (kubectl's SPDY-over-WebSocket tunnel) into a
/// plain duplex byte stream: reads yield message payloads, each write becomes one binary message.
pub(crate) fn tunnel<S>(socket: WebSocketStream<S>) -> DuplexStream
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (ours, theirs) = tokio::io::duplex(256 * 1024);
    let (mut read_half, mut write_half) = tokio::io::split(ours);
    let (mut sink, mut source) = socket.split();
    tokio::spawn(async move {
        let inbound = async {
            while let Some(Ok(message)) = source.next().await {
                match message {
                    Message::Binary(data) if write_half.write_all(&data).await.is_err() => break,
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            let _ = write_half.shutdown().await;
        };
        let outbound = async {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match read_half.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if sink.send(Message::Binary(Bytes::copy_from_slice(&buf[..n]))).await.is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = sink.send(normal_close()).await;
        };
        // The session ends when our side finishes writing; the inbound half may still be draining briefly.
        tokio::pin!(inbound);
        tokio::pin!(outbound);
        tokio::select! {
            _ = &mut inbound => {
                let _ = tokio::time::timeout(Duration::from_secs(5), outbound).await;
            }
            _ = &mut outbound => {
                let _ = tokio::time::timeout(Duration::from_secs(5), inbound).await;
            }
        }
    });
    theirs
}

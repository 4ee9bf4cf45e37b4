//! port-forward over WebSocket channels (`portforward.k8s.io` / `v4.channel.k8s.io`): the ports come from the
//! `port` query parameters; port number i uses channel 2i for data and 2i+1 for errors, and the first message we
//! send on each channel starts with the port as two little-endian bytes.

use std::path::PathBuf;

use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::super::channel_ws::{accept, channel_message, normal_close};
use super::netns::connect_in_netns;

pub(crate) async fn serve(upgraded: Upgraded, netns: PathBuf, ports: Vec<u16>) {
    let socket = accept(upgraded).await;
    let (mut sink, mut source) = socket.split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Message>();
    let mut inputs = Vec::new();
    for (index, port) in ports.iter().copied().enumerate() {
        let (data_channel, error_channel) = ((2 * index) as u8, (2 * index + 1) as u8);
        let prefix = port.to_le_bytes();
        let _ = out_tx.send(channel_message(data_channel, &prefix));
        let _ = out_tx.send(channel_message(error_channel, &prefix));
        let (in_tx, in_rx) = mpsc::unbounded_channel::<bytes::Bytes>();
        inputs.push(in_tx);
        tokio::spawn(forward_port(netns.clone(), port, data_channel, error_channel, in_rx, out_tx.clone()));
    }
    drop(out_tx);
    let reader = async {
        while let Some(Ok(message)) = source.next().await {
            match message {
                Message::Binary(data) => {
                    let Some((&channel, payload)) = data.split_first() else { continue };
                    if channel % 2 == 0 {
                        if let Some(tx) = inputs.get(usize::from(channel / 2)) {
                            let _ = tx.send(bytes::Bytes::copy_from_slice(payload));
                        }
                    }
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
        inputs.clear();
    };
    let writer = async {
        while let Some(message) = out_rx.recv().await {
            if sink.send(message).await.is_err() {
                return;
            }
        }
        let _ = sink.send(normal_close()).await;
    };
    tokio::select! {
        _ = reader => {}
        _ = writer => {}
    }
}

async fn forward_port(
    netns: PathBuf,
    port: u16,
    data_channel: u8,
    error_channel: u8,
    mut input: mpsc::UnboundedReceiver<bytes::Bytes>,
    out: mpsc::UnboundedSender<Message>,
) {
    let tcp = match connect_in_netns(netns, port).await {
        Ok(tcp) => tcp,
        Err(e) => {
            let message = format!("error forwarding port {port} to pod: {e}");
            let _ = out.send(channel_message(error_channel, message.as_bytes()));
            return;
        }
    };
    let (mut from_pod, mut to_pod) = tcp.into_split();
    let upstream = async {
        while let Some(chunk) = input.recv().await {
            if to_pod.write_all(&chunk).await.is_err() {
                break;
            }
        }
        // Half-close toward the pod; the forward itself ends when the pod side does.
        let _ = to_pod.shutdown().await;
        std::future::pending::<()>().await
    };
    let downstream = async {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match from_pod.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out.send(channel_message(data_channel, &buf[..n])).is_err() {
                        break;
                    }
                }
            }
        }
    };
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
}

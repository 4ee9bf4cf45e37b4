//! exec over WebSocket, channel protocols v4 and v5: every binary message starts with its channel number
//! (0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize; v5 adds 255 = close a channel).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::super::channel_ws::{accept, channel_message, normal_close, CLOSE_CHANNEL};
use super::super::status;
use super::request::ExecRequest;
use super::resize::ResizeDecoder;
use super::session::{run, Action, ExecIo, OutputKind};

pub(crate) const PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;

pub(crate) async fn serve(upgraded: Upgraded, protocol: String, action: Action, request: ExecRequest) {
    let socket = accept(upgraded).await;
    let v5 = protocol == "v5.channel.k8s.io";
    let (mut sink, mut source) = socket.split();
    let (stdin_tx, stdin_rx) = mpsc::unbounded_channel();
    let (resize_tx, resize_rx) = mpsc::unbounded_channel();
    let (output_tx, mut output_rx) = mpsc::unbounded_channel();
    let mut reader = tokio::spawn(async move {
        let mut stdin = Some(stdin_tx);
        let mut resize = ResizeDecoder::default();
        while let Some(Ok(message)) = source.next().await {
            let data = match message {
                Message::Binary(data) => data,
                Message::Close(_) => break,
                _ => continue,
            };
            let Some((&channel, payload)) = data.split_first() else { continue };
            match channel {
                STDIN => {
                    if let Some(tx) = &stdin {
                        let _ = tx.send(bytes::Bytes::copy_from_slice(payload));
                    }
                }
                RESIZE => {
                    for size in resize.push(payload) {
                        let _ = resize_tx.send(size);
                    }
                }
                CLOSE_CHANNEL if v5 && payload.first() == Some(&STDIN) => stdin = None,
                _ => {}
            }
        }
    });
    let io = ExecIo {
        stdin: request.stdin.then_some(stdin_rx),
        resize: request.tty.then_some(resize_rx),
        output: output_tx,
    };
    let command = request.command.clone();
    let exec = tokio::spawn(run(action, request, io));
    let mut client_gone = false;
    loop {
        tokio::select! {
            output = output_rx.recv() => {
                let Some((kind, data)) = output else { break };
                let channel = if kind == OutputKind::Stdout { STDOUT } else { STDERR };
                if sink.send(channel_message(channel, &data)).await.is_err() {
                    break;
                }
            }
            // The client closed or vanished before the command finished: stop it (dropping the output channel).
            _ = &mut reader, if !client_gone => {
                client_gone = true;
                break;
            }
        }
    }
    drop(output_rx);
    let outcome = exec.await.unwrap_or_else(|e| Err(format!("exec task failed: {e}")));
    if !client_gone {
        let status = status::for_outcome(&outcome, &command);
        let _ = sink.send(channel_message(ERROR, status.to_string().as_bytes())).await;
        let _ = sink.send(normal_close()).await;
        if tokio::time::timeout(Duration::from_secs(5), &mut reader).await.is_err() {
            reader.abort();
        }
    }
}

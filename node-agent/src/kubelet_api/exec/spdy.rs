//! exec over SPDY/3.1 (channel protocols v2 to v4): the client opens one stream per channel, named by its
//! `streamtype` header; we start the command once all the streams it asked for are there.

use std::time::Duration;

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;

use super::super::spdy::{SpdySession, SpdyStream};
use super::super::status;
use super::request::ExecRequest;
use super::resize::ResizeDecoder;
use super::session::{run, Action, ExecIo, OutputKind};

/// v5 over SPDY is v4: its only addition (closing a channel) is native to SPDY streams.
pub(crate) const PROTOCOLS: &[&str] =
    &["v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io"];

const STREAM_TIMEOUT: Duration = Duration::from_secs(30);
const CLOSE_GRACE: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Streams {
    error: Option<SpdyStream>,
    stdin: Option<SpdyStream>,
    stdout: Option<SpdyStream>,
    stderr: Option<SpdyStream>,
    resize: Option<SpdyStream>,
}

impl Streams {
    fn add(&mut self, stream: SpdyStream) {
        let slot = match stream.header("streamtype") {
            Some("error") => &mut self.error,
            Some("stdin") => &mut self.stdin,
            Some("stdout") => &mut self.stdout,
            Some("stderr") => &mut self.stderr,
            Some("resize") => &mut self.resize,
            _ => {
                stream.writer.reset(stream.id, 1);
                return;
            }
        };
        *slot = Some(stream);
    }

    fn complete(&self, request: &ExecRequest, version: u8) -> bool {
        self.error.is_some()
            && (!request.stdin || self.stdin.is_some())
            && (!request.stdout || self.stdout.is_some())
            && (!request.wants_stderr() || self.stderr.is_some())
            && (!(request.tty && version >= 3) || self.resize.is_some())
    }
}

pub(crate) async fn serve(upgraded: Upgraded, protocol: String, action: Action, request: ExecRequest) {
    let version = match protocol.as_str() {
        "v5.channel.k8s.io" | "v4.channel.k8s.io" => 4,
        "v3.channel.k8s.io" => 3,
        _ => 2,
    };
    let mut session = SpdySession::start(TokioIo::new(upgraded));
    let mut streams = Streams::default();
    let deadline = tokio::time::Instant::now() + STREAM_TIMEOUT;
    while !streams.complete(&request, version) {
        match tokio::time::timeout_at(deadline, session.streams.recv()).await {
            Ok(Some(stream)) => streams.add(stream),
            Ok(None) => return,
            Err(_) => {
                tracing::debug!("exec: the client did not open all streams in time");
                session.finish(CLOSE_GRACE).await;
                return;
            }
        }
    }
    let Some(error) = streams.error.take() else { return };
    let (stdin_tx, stdin_rx) = mpsc::unbounded_channel();
    if let Some(mut stdin) = streams.stdin.take() {
        tokio::spawn(async move {
            while let Some(data) = stdin.incoming.recv().await {
                if stdin_tx.send(data).is_err() {
                    break;
                }
            }
        });
    }
    let (resize_tx, resize_rx) = mpsc::unbounded_channel();
    if let Some(mut resize) = streams.resize.take() {
        tokio::spawn(async move {
            let mut decoder = ResizeDecoder::default();
            while let Some(data) = resize.incoming.recv().await {
                for size in decoder.push(&data) {
                    let _ = resize_tx.send(size);
                }
            }
        });
    }
    let (output_tx, mut output_rx) = mpsc::unbounded_channel();
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
                let stream = if kind == OutputKind::Stdout { &streams.stdout } else { &streams.stderr };
                if let Some(stream) = stream {
                    stream.writer.data(stream.id, &data);
                }
            }
            extra = session.streams.recv() => match extra {
                Some(stream) => stream.writer.reset(stream.id, 1),
                // The session's reader ended: the client is gone.
                None => {
                    client_gone = true;
                    break;
                }
            },
        }
    }
    drop(output_rx);
    let outcome = exec.await.unwrap_or_else(|e| Err(format!("exec task failed: {e}")));
    if client_gone {
        return;
    }
    let message = if version >= 4 {
        Some(status::for_outcome(&outcome, &command).to_string())
    } else {
        status::legacy_error_text(&outcome)
    };
    if let Some(message) = message {
        error.writer.data(error.id, message.as_bytes());
    }
    for stream in [&streams.stdout, &streams.stderr, &Some(error)].into_iter().flatten() {
        stream.writer.close(stream.id);
    }
    session.finish(CLOSE_GRACE).await;
}

//! port-forward over SPDY (`portforward.k8s.io`): for every forwarded connection the client opens a pair of
//! streams with the same `requestid` and `port`, `streamtype: error` then `streamtype: data`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinSet;

use super::super::spdy::{SpdySession, SpdyStream};
use super::netns::connect_in_netns;

pub(crate) const PROTOCOL: &str = "portforward.k8s.io";

#[derive(Default)]
struct Pair {
    data: Option<SpdyStream>,
    error: Option<SpdyStream>,
}

/// Serves one session until the client ends it; forwarded connections end with it.
pub(crate) async fn serve<T>(io: T, netns: PathBuf)
where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let mut session = SpdySession::start(io);
    let mut pending: HashMap<String, Pair> = HashMap::new();
    let mut forwards = JoinSet::new();
    while let Some(stream) = session.streams.recv().await {
        let request_id = stream.header("requestid").unwrap_or("").to_string();
        let pair = pending.entry(request_id.clone()).or_default();
        match stream.header("streamtype") {
            Some("data") => pair.data = Some(stream),
            Some("error") => pair.error = Some(stream),
            _ => {
                stream.writer.reset(stream.id, 1);
                continue;
            }
        }
        if pair.data.is_some() && pair.error.is_some() {
            if let Some(Pair { data: Some(data), error: Some(error) }) = pending.remove(&request_id) {
                forwards.spawn(forward(netns.clone(), data, error));
            }
        }
        while forwards.try_join_next().is_some() {}
    }
    drop(forwards);
    session.finish(Duration::from_secs(1)).await;
}

async fn forward(netns: PathBuf, mut data: SpdyStream, error: SpdyStream) {
    let port = match data.header("port").map(str::parse::<u16>) {
        Some(Ok(port)) if port > 0 => port,
        other => {
            fail(&data, &error, &format!("invalid port header {other:?}"));
            return;
        }
    };
    let tcp = match connect_in_netns(netns, port).await {
        Ok(tcp) => tcp,
        Err(e) => {
            fail(&data, &error, &format!("error forwarding port {port} to pod: failed to connect to localhost:{port} inside the pod network namespace: {e}"));
            return;
        }
    };
    let (mut from_pod, mut to_pod) = tcp.into_split();
    let (writer, data_id) = (data.writer.clone(), data.id);
    let upstream = async {
        while let Some(chunk) = data.incoming.recv().await {
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
                Ok(n) => writer.data(data_id, &buf[..n]),
            }
        }
        writer.close(data_id);
    };
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
    error.writer.close(error.id);
}

/// Reports a failure on the pair's error stream and closes both.
fn fail(data: &SpdyStream, error: &SpdyStream, message: &str) {
    error.writer.data(error.id, message.as_bytes());
    error.writer.close(error.id);
    data.writer.close(data.id);
}

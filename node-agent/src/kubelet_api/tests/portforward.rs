//! port-forward to a server listening on 127.0.0.1 inside the pod's network namespace: SPDY, SPDY tunneled in
//! WebSocket (kubectl 1.31+), and WebSocket channels.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use super::super::channel_ws::tunnel;
use super::fixture::{NetnsGuard, TestEnv};
use super::harness::TestServer;
use super::spdy_client::SpdyClient;

const REQUEST: &[u8] = b"GET / HTTP/1.0\r\nHost: pod\r\n\r\n";
const BODY: &str = "hello-from-pod";

async fn forward_over_spdy<T>(client: &mut SpdyClient<T>, request_id: &str, port: &str) -> Result<(String, String)>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let error = client.open(&[("streamtype", "error"), ("port", port), ("requestid", request_id)]).await?;
    let data = client.open(&[("streamtype", "data"), ("port", port), ("requestid", request_id)]).await?;
    client.send(data, REQUEST, false).await?;
    client.read_until_closed(&[data, error]).await?;
    Ok((client.text(data), client.text(error)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_all_transports() -> Result<()> {
    let env = TestEnv::new("portfwd")?;
    let netns = NetnsGuard::new()?;
    let mut spec = env.spec("portfwd", &[
        "sh",
        "-c",
        &format!("mkdir -p /www && echo {BODY} > /www/index.html && echo ready && exec httpd -f -p 127.0.0.1:8080 -h /www"),
    ]);
    spec.netns = Some(netns.path());
    let container = env.start(spec)?;
    container.wait_for_log("ready")?;
    let server = TestServer::start(env.runtime.clone()).await?;
    server.lookup.add("default", "web", "app", &container.spec, vec![]);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // SPDY, two connections on one session, then a closed port.
    let (tls, protocol) = server.spdy_upgrade("/portForward/default/web", &["portforward.k8s.io"]).await?;
    assert_eq!(protocol, "portforward.k8s.io");
    let mut client = SpdyClient::new(tls)?;
    for request_id in ["0", "1"] {
        let (data, error) = forward_over_spdy(&mut client, request_id, "8080").await.context(request_id)?;
        assert!(data.starts_with("HTTP/1.") && data.contains(BODY), "{data}");
        assert_eq!(error, "");
    }
    let (data, error) = forward_over_spdy(&mut client, "2", "8081").await.context("closed port")?;
    assert_eq!(data, "");
    assert!(error.contains("8081"), "{error}");

    // SPDY inside WebSocket binary messages.
    let socket = server.websocket("/portForward/default/web", "SPDY/3.1+portforward.k8s.io").await?;
    let mut client = SpdyClient::new(tunnel(socket))?;
    let (data, error) = forward_over_spdy(&mut client, "0", "8080").await.context("tunnel")?;
    assert!(data.contains(BODY) && error.is_empty(), "{data} / {error}");

    // WebSocket channels: 0 data, 1 error; each starts with the port in little endian.
    let mut socket = server.websocket("/portForward/default/web?port=8080", "portforward.k8s.io").await?;
    let mut prefixes = Vec::new();
    while prefixes.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await? {
            Some(Ok(Message::Binary(data))) => prefixes.push(data.to_vec()),
            other => bail!("expected the port prefixes, got {other:?}"),
        }
    }
    assert_eq!(prefixes, vec![vec![0, 0x90, 0x1f], vec![1, 0x90, 0x1f]]);
    let mut request = vec![0u8];
    request.extend_from_slice(REQUEST);
    socket.send(Message::Binary(Bytes::from(request))).await?;
    let mut received = String::new();
    while !received.contains(BODY) {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await? {
            Some(Ok(Message::Binary(data))) if data.first() == Some(&0) => {
                received.push_str(&String::from_utf8_lossy(&data[1..]))
            }
            Some(Ok(_)) => {}
            other => bail!("connection ended: {other:?} after {received:?}"),
        }
    }
    assert_eq!(server.get("/portForward/default/nobody").await?.0, hyper::StatusCode::NOT_FOUND);
    Ok(())
}

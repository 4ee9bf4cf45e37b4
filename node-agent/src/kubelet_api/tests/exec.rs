//! exec over WebSocket (v5, v4) and SPDY (v4) into a real container.

use std::time::Duration;

use anyhow::{bail, Result};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::StatusCode;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::fixture::TestEnv;
use super::harness::{TestServer, Tls};
use super::spdy_client::SpdyClient;

/// Output of one WebSocket exec: (stdout, stderr, status).
async fn ws_exec(
    server: &TestServer,
    query: &str,
    protocol: &str,
    input: Vec<Vec<u8>>,
) -> Result<(String, String, Value)> {
    let socket = server.websocket(&format!("/exec/default/web/app?{query}"), protocol).await?;
    ws_session(socket, input).await
}

async fn ws_session(mut socket: WebSocketStream<Tls>, input: Vec<Vec<u8>>) -> Result<(String, String, Value)> {
    for message in input {
        socket.send(Message::Binary(Bytes::from(message))).await?;
    }
    let (mut stdout, mut stderr, mut status) = (String::new(), String::new(), Value::Null);
    loop {
        let message = tokio::time::timeout(Duration::from_secs(20), socket.next()).await?;
        match message {
            Some(Ok(Message::Binary(data))) => {
                let Some((channel, payload)) = data.split_first() else { continue };
                let text = String::from_utf8_lossy(payload);
                match channel {
                    1 => stdout.push_str(&text),
                    2 => stderr.push_str(&text),
                    3 => status = serde_json::from_slice(payload)?,
                    other => bail!("unexpected channel {other}"),
                }
            }
            Some(Ok(Message::Close(_))) | None => break,
            Some(Ok(_)) => {}
            Some(Err(e)) => bail!("websocket error: {e}"),
        }
    }
    Ok((stdout, stderr, status))
}

fn exit_code(status: &Value) -> Option<String> {
    if status["status"] == "Success" {
        return Some("0".into());
    }
    (status["reason"] == "NonZeroExitCode")
        .then(|| status["details"]["causes"][0]["message"].as_str().unwrap_or("").to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_over_websocket() -> Result<()> {
    let env = TestEnv::new("execws")?;
    let container = env.start(env.spec("execws", &["sleep", "1000"]))?;
    let server = TestServer::start(env.runtime.clone()).await?;
    server.lookup.add("default", "web", "app", &container.spec, vec![]);
    let v5 = "v5.channel.k8s.io, v4.channel.k8s.io";

    let (out, err, status) = ws_exec(&server, "command=echo&command=hi&stdout=1&stderr=1", v5, vec![]).await?;
    assert_eq!((out.as_str(), err.as_str(), exit_code(&status).as_deref()), ("hi\n", "", Some("0")));

    let query = "command=sh&command=-c&command=echo%20oops%20%3E%262%3B%20exit%203&stdout=1&stderr=1";
    let (_, err, status) = ws_exec(&server, query, v5, vec![]).await?;
    assert_eq!((err.as_str(), exit_code(&status).as_deref()), ("oops\n", Some("3")), "{status}");

    // stdin, then v5's close-channel message ends the input.
    let input = vec![b"\x00hello ".to_vec(), b"\x00world\n".to_vec(), vec![255, 0]];
    let (out, _, status) = ws_exec(&server, "command=cat&stdin=1&stdout=1&stderr=1", v5, input).await?;
    assert_eq!((out.as_str(), exit_code(&status).as_deref()), ("hello world\n", Some("0")));

    // v4 has no close message; a command that does not read stdin still completes.
    let (out, _, status) = ws_exec(&server, "command=echo&command=v4&stdout=1", "v4.channel.k8s.io", vec![]).await?;
    assert_eq!((out.as_str(), exit_code(&status).as_deref()), ("v4\n", Some("0")));

    // A terminal, sized through the resize channel before the command looks.
    let query = "command=sh&command=-c&command=sleep%200.5%3B%20stty%20size&stdin=1&stdout=1&tty=1";
    let input = vec![b"\x04{\"Width\":100,\"Height\":40}".to_vec()];
    let (out, _, status) = ws_exec(&server, query, v5, input).await?;
    assert_eq!((out.as_str(), exit_code(&status).as_deref()), ("40 100\r\n", Some("0")));

    let (out, _, status) = ws_exec(&server, "command=/nope&stdout=1", v5, vec![]).await?;
    assert_eq!(out, "");
    assert_eq!(status["status"], "Failure");
    assert!(status["message"].as_str().unwrap_or("").contains("No such file"), "{status}");

    assert_eq!(server.get("/exec/default/web/app?command=ls&stdout=1").await?.0, StatusCode::BAD_REQUEST);
    assert_eq!(server.get("/exec/default/web/other?command=ls&stdout=1").await?.0, StatusCode::NOT_FOUND);
    Ok(())
}

async fn spdy_exec(server: &TestServer, query: &str, stdin: Option<&[u8]>) -> Result<(String, String, Value)> {
    let protocols = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"];
    let (tls, protocol) = server.spdy_upgrade(&format!("/exec/default/web/app?{query}"), &protocols).await?;
    assert_eq!(protocol, "v4.channel.k8s.io");
    let mut client: SpdyClient<Tls> = SpdyClient::new(tls)?;
    let error = client.open(&[("streamtype", "error")]).await?;
    let input = match stdin {
        Some(_) => Some(client.open(&[("streamtype", "stdin")]).await?),
        None => None,
    };
    let stdout = client.open(&[("streamtype", "stdout")]).await?;
    let stderr = client.open(&[("streamtype", "stderr")]).await?;
    if let (Some(id), Some(data)) = (input, stdin) {
        client.send(id, data, false).await?;
        client.send(id, b"", true).await?;
    }
    client.read_until_closed(&[error, stdout, stderr]).await?;
    assert!(client.replies.contains(&error) && client.replies.contains(&stdout), "every stream gets a SYN_REPLY");
    let status = serde_json::from_str(&client.text(error))?;
    Ok((client.text(stdout), client.text(stderr), status))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_over_spdy() -> Result<()> {
    let env = TestEnv::new("execspdy")?;
    let container = env.start(env.spec("execspdy", &["sleep", "1000"]))?;
    let server = TestServer::start(env.runtime.clone()).await?;
    server.lookup.add("default", "web", "app", &container.spec, vec![]);

    let (out, err, status) = spdy_exec(&server, "command=echo&command=hi&stdout=1&stderr=1", None).await?;
    assert_eq!((out.as_str(), err.as_str(), exit_code(&status).as_deref()), ("hi\n", "", Some("0")));

    let query = "command=sh&command=-c&command=echo%20bad%20%3E%262%3B%20exit%203&stdout=1&stderr=1";
    let (_, err, status) = spdy_exec(&server, query, None).await?;
    assert_eq!((err.as_str(), exit_code(&status).as_deref()), ("bad\n", Some("3")), "{status}");

    let big = "x".repeat(200_000) + "\n";
    let (out, _, status) = spdy_exec(&server, "command=cat&stdin=1&stdout=1&stderr=1", Some(big.as_bytes())).await?;
    assert_eq!((out.len(), exit_code(&status).as_deref()), (big.len(), Some("0")));
    assert_eq!(out, big);

    let (tls, _) = server.spdy_upgrade("/exec/default/web/app?command=true&stdout=1", &["v4.channel.k8s.io"]).await?;
    drop(tls);
    let refused = server.spdy_upgrade("/exec/default/web/app?command=true&stdout=1", &["v9.channel.k8s.io"]).await;
    assert!(refused.is_err());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_streams_output_until_the_container_exits() -> Result<()> {
    let env = TestEnv::new("attach")?;
    let script = "echo before; until [ -e /go ]; do sleep 0.05; done; echo out; echo err >&2; exit 4";
    let container = env.start(env.spec("attach", &["sh", "-c", script]))?;
    container.wait_for_log("before")?;
    let server = TestServer::start(env.runtime.clone()).await?;
    server.lookup.add("default", "web", "app", &container.spec, vec![container.spec.log_path.clone()]);

    let socket = server.websocket("/attach/default/web/app?stdout=1&stderr=1", "v5.channel.k8s.io").await?;
    let session = tokio::spawn(ws_session(socket, vec![]));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let go = vec!["sh".to_string(), "-c".to_string(), "echo > /go".to_string()];
    assert_eq!(env.runtime.exec(&container.spec.state_dir, &go, &[], false)?.wait()?, 0);
    let (out, err, status) = tokio::time::timeout(Duration::from_secs(20), session).await???;
    assert_eq!((out.as_str(), err.as_str(), exit_code(&status).as_deref()), ("out\n", "err\n", Some("4")), "{status}");

    let refused = server.get("/attach/default/web/app?stdin=1&stdout=1").await?;
    assert_eq!(refused.0, StatusCode::BAD_REQUEST);
    Ok(())
}

//! Runs the real `echo` binary on a loopback port and talks HTTP, UDP and raw TCP to it.

mod common;

use anyhow::{bail, Context, Result};
use common::{free_port, ChildGuard};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Echo {
    child: ChildGuard,
    addr: SocketAddr,
}

/// Starts echo with a pod identity and waits until it accepts connections.
fn start(extra_env: &[(&str, String)]) -> Result<Echo> {
    let port = free_port()?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_echo"));
    cmd.env("PORT", port.to_string())
        .env("BIND_ADDR", "127.0.0.1")
        .env("POD_NAME", "echo-abc")
        .env("POD_NAMESPACE", "testns")
        .env("VERSION", "v7")
        .env_remove("POD_IP")
        .stdout(Stdio::null());
    for (name, value) in extra_env {
        cmd.env(name, value);
    }
    let child = ChildGuard(cmd.spawn().context("starting echo")?);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            bail!("echo did not listen on {addr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Echo { child, addr })
}

/// A minimal HTTP/1.1 exchange: returns the status code and body.
fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes())?;
    let mut bytes = Vec::new();
    match stream.read_to_end(&mut bytes) {
        Ok(_) => {}
        // A server that exits right after answering (/exit) may reset the connection once the
        // response is out; what arrived before the reset is the answer.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !bytes.is_empty() => {}
        Err(e) => return Err(e.into()),
    }
    let response = String::from_utf8_lossy(&bytes).into_owned();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).context("no status line")?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

fn wait_exit(child: &mut ChildGuard, within: Duration) -> Result<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.0.try_wait()? {
            return Ok(status);
        }
        if Instant::now() > deadline {
            bail!("echo still running after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn get_root_describes_pod_and_request() -> Result<()> {
    let echo = start(&[])?;
    let (status, body) = http(echo.addr, "POST", "/any/path?x=1", &[("X-Keel-Test", "hello")], "payload")?;
    assert_eq!(status, 200);
    let json: Value = serde_json::from_str(&body)?;
    assert_eq!(json["pod"], "echo-abc");
    assert_eq!(json["namespace"], "testns");
    assert_eq!(json["version"], "v7");
    assert_eq!(json["ip"], "127.0.0.1", "falls back to the local address without POD_IP");
    assert!(json["remote"].as_str().is_some_and(|r| r.starts_with("127.0.0.1:")), "{json}");
    assert_eq!(json["local"], echo.addr.to_string());
    assert_eq!((json["method"].as_str(), json["path"].as_str()), (Some("POST"), Some("/any/path")));
    assert_eq!(json["headers"]["x-keel-test"], "hello");
    assert_eq!(json["body"], "payload");
    Ok(())
}

#[test]
fn special_paths() -> Result<()> {
    let echo = start(&[])?;
    assert_eq!(http(echo.addr, "GET", "/status/503", &[], "")?.0, 503);
    assert_eq!(http(echo.addr, "GET", "/healthz", &[], "")?, (200, "ok".to_string()));
    let started = Instant::now();
    assert_eq!(http(echo.addr, "GET", "/delay/200", &[], "")?.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
    let (status, body) = http(echo.addr, "GET", "/alloc/8", &[], "")?;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body)?["held_mib"], 8);
    assert_eq!(http(echo.addr, "GET", "/status/nope", &[], "")?.0, 400);
    Ok(())
}

#[test]
fn udp_datagram_gets_json_reply() -> Result<()> {
    let echo = start(&[])?;
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_read_timeout(Some(Duration::from_secs(5)))?;
    socket.send_to(b"ping over udp", echo.addr)?;
    let mut buf = [0u8; 4096];
    let (len, from) = socket.recv_from(&mut buf)?;
    assert_eq!(from, echo.addr);
    let json: Value = serde_json::from_slice(&buf[..len])?;
    assert_eq!(json["payload"], "ping over udp");
    assert_eq!(json["pod"], "echo-abc");
    assert_eq!(json["version"], "v7");
    assert_eq!(json["remote"], socket.local_addr()?.to_string());
    Ok(())
}

#[test]
fn raw_tcp_echo_port() -> Result<()> {
    let tcp_port = free_port()?;
    let echo = start(&[("TCP_ECHO_PORT", tcp_port.to_string())])?;
    let mut stream = TcpStream::connect(SocketAddr::new(echo.addr.ip(), tcp_port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"bytes back please")?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut back = Vec::new();
    stream.read_to_end(&mut back)?;
    assert_eq!(back, b"bytes back please");
    Ok(())
}

#[test]
fn sigterm_exits_zero_promptly() -> Result<()> {
    let mut echo = start(&[])?;
    let pid = nix::unistd::Pid::from_raw(i32::try_from(echo.child.0.id())?);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
    let status = wait_exit(&mut echo.child, Duration::from_secs(2))?;
    assert_eq!(status.code(), Some(0));
    Ok(())
}

#[test]
fn exit_path_ends_the_process_with_that_code() -> Result<()> {
    let mut echo = start(&[])?;
    assert_eq!(http(echo.addr, "GET", "/exit/3", &[], "")?.0, 200);
    let status = wait_exit(&mut echo.child, Duration::from_secs(2))?;
    assert_eq!(status.code(), Some(3));
    Ok(())
}

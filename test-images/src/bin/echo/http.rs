//! The HTTP side: HTTP/1.1 and h2c (prior knowledge) on one port, one log line per request.

use super::memory;
use super::pod_info::PodInfo;
use super::route::{route, Route};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Map, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// Request bodies beyond this are refused; the server only echoes them back.
const MAX_BODY: usize = 1024 * 1024;

/// What a request handler knows about its connection.
struct Connection {
    info: Arc<PodInfo>,
    remote: SocketAddr,
    local: SocketAddr,
    /// Set by /exit/N: the process exits with N once this connection has closed, i.e. after the
    /// answer has been written.
    exit_code: std::sync::Mutex<Option<i32>>,
}

/// Accepts connections forever; a failed accept (e.g. out of file descriptors) is logged and retried.
pub async fn serve(listener: TcpListener, info: Arc<PodInfo>) -> anyhow::Result<()> {
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let local = match stream.local_addr() {
            Ok(local) => local,
            Err(err) => {
                eprintln!("local address of {remote}: {err}");
                continue;
            }
        };
        let conn = Arc::new(Connection { info: info.clone(), remote, local, exit_code: Default::default() });
        tokio::spawn(async move {
            let for_service = conn.clone();
            let service = hyper::service::service_fn(move |req| handle(req, for_service.clone()));
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(err) = builder.serve_connection(TokioIo::new(stream), service).await {
                eprintln!("connection from {remote}: {err}");
            }
            if let Some(code) = *conn.exit_code.lock().unwrap_or_else(|e| e.into_inner()) {
                println!("exiting with code {code} as asked");
                std::process::exit(code);
            }
        });
    }
}

async fn handle(req: Request<Incoming>, conn: Arc<Connection>) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let response = respond(req, &conn).await;
    println!("{} {method} {path} {} {}ms", conn.remote, response.status().as_u16(), started.elapsed().as_millis());
    Ok(response)
}

async fn respond(req: Request<Incoming>, conn: &Connection) -> Response<Full<Bytes>> {
    let route = match route(req.uri().path()) {
        Ok(route) => route,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    match route {
        Route::Healthz => text(StatusCode::OK, "ok".into()),
        Route::Status(code) => match StatusCode::from_u16(code) {
            Ok(status) => text(status, format!("status {code}\n")),
            Err(_) => text(StatusCode::BAD_REQUEST, format!("invalid status {code}")),
        },
        Route::Delay(delay) => {
            tokio::time::sleep(delay).await;
            echo(req, conn).await
        }
        Route::Exit(code) => {
            // The process exits when this connection closes, which `Connection: close` makes
            // happen right after the answer is written (a timer raced the write on loaded
            // machines). HTTP/2 connections stay open, so a timer remains as the fallback.
            *conn.exit_code.lock().unwrap_or_else(|e| e.into_inner()) = Some(code);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(5)).await;
                println!("exiting with code {code} as asked");
                std::process::exit(code);
            });
            let mut response = text(StatusCode::OK, format!("exiting with code {code}\n"));
            response.headers_mut().insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("close"));
            response
        }
        Route::Alloc(mib) => match tokio::task::spawn_blocking(move || memory::allocate(mib)).await {
            Ok(held) => json(StatusCode::OK, &serde_json::json!({ "allocated_mib": mib, "held_mib": held })),
            Err(err) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("allocation failed: {err}")),
        },
        Route::Echo => echo(req, conn).await,
    }
}

/// The JSON description of the request and of this pod.
async fn echo(req: Request<Incoming>, conn: &Connection) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => return text(StatusCode::PAYLOAD_TOO_LARGE, format!("reading body: {err}")),
    };
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            // Repeated headers are joined the way HTTP allows folding them.
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_string(), value.into());
            }
        }
    }
    let mut fields = conn.info.fields(Some(conn.local.ip()));
    fields.insert("remote".into(), conn.remote.to_string().into());
    fields.insert("local".into(), conn.local.to_string().into());
    fields.insert("method".into(), parts.method.as_str().into());
    fields.insert("path".into(), parts.uri.path().into());
    fields.insert("query".into(), parts.uri.query().into());
    fields.insert("protocol".into(), format!("{:?}", parts.version).into());
    fields.insert("headers".into(), Value::Object(headers));
    fields.insert("body".into(), String::from_utf8_lossy(&body).into_owned().into());
    json(StatusCode::OK, &Value::Object(fields))
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    response(status, "text/plain; charset=utf-8", body.into_bytes())
}

fn json(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut body = value.to_string().into_bytes();
    body.push(b'\n');
    response(status, "application/json", body)
}

fn response(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    response
}

//! `cargo xtask bench api`: API server throughput, latency, watch fan-out
//! and memory, next to a baseline measured in the same run.
//!
//! Baselines: for requests, the same clients doing `GET /version` over the
//! same TLS connections (the transport floor every request pays); for watch
//! fan-out, a bare TLS broadcaster with the same certificate pushing the
//! same event bytes to the same kind of raw watchers.

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use keel_e2e::Server;
use kube::api::{Api, PostParams};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const OBJECTS: usize = 10_000;
const CLIENTS: usize = 16;
const WATCHERS: usize = 1_000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn cm(name: String) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(name);
    c.data = Some(BTreeMap::from([("key".to_string(), "value".to_string())]));
    c
}

/// Run `per_client` requests on each of CLIENTS tasks; return sorted
/// latencies (ms) and the wall time.
async fn load<F, Fut>(per_client: usize, f: F) -> Result<(Vec<f64>, Duration)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let f = Arc::new(f);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let t = Instant::now();
                f(c * per_client + i).await?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let wall = start.elapsed();
    all.sort_by(|a, b| a.total_cmp(b));
    Ok((all, wall))
}

/// A TLS client trusting the server's CA.
fn tls_connector(server: &Server) -> Result<tokio_rustls::TlsConnector> {
    let pem = std::fs::read(server.data_dir().join("pki/ca.crt"))?;
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert?)?;
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// One watch over HTTP/1.1; returns when the MODIFIED event's bytes arrive.
async fn raw_watch(
    tls: tokio_rustls::TlsConnector,
    port: u16,
    path: &str,
    token: &str,
    ready: tokio::sync::mpsc::Sender<()>,
) -> Result<Instant> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("127.0.0.1")?.to_owned();
    let mut stream = tls.connect(name, tcp).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let mut announced = false;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            anyhow::bail!("watch ended without the update");
        }
        seen.extend_from_slice(&buf[..n]);
        if !announced && seen.windows(12).any(|w| w == b"HTTP/1.1 200") {
            announced = true;
            let _ = ready.send(()).await;
        }
        if seen.windows(10).any(|w| w == b"\"MODIFIED\"") {
            return Ok(Instant::now());
        }
    }
}

/// Baseline for fan-out: a bare TLS server on its own runtime that answers
/// any request with a chunked 200 and then writes whatever `trigger`
/// broadcasts. Same certificate and TLS stack as keel, no API logic.
fn baseline_broadcaster(server: &Server) -> Result<(u16, tokio::sync::broadcast::Sender<bytes::Bytes>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pki = server.data_dir().join("pki");
    let certs = rustls_pemfile::certs(&mut std::fs::read(pki.join("apiserver.crt"))?.as_slice())
        .collect::<Result<Vec<_>, _>>()?;
    let key = rustls_pemfile::private_key(&mut std::fs::read(pki.join("apiserver.key"))?.as_slice())?.context("key")?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let (trigger, _) = tokio::sync::broadcast::channel::<bytes::Bytes>(16);
    let sender = trigger.clone();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() else { return };
        rt.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, mut rx) = (acceptor.clone(), sender.subscribe());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let mut req = Vec::new();
                    let mut buf = [0u8; 2048];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head =
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                    if tls.write_all(head.as_bytes()).await.is_err() || tls.flush().await.is_err() {
                        return;
                    }
                    while let Ok(line) = rx.recv().await {
                        let chunk = [format!("{:x}\r\n", line.len()).as_bytes(), &line, b"\r\n"].concat();
                        if tls.write_all(&chunk).await.is_err() || tls.flush().await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    });
    Ok((port, trigger))
}

/// Fan-out of one event to WATCHERS raw watchers on `port`; `fire` sends it.
async fn fan_out<F, Fut>(
    tls: &tokio_rustls::TlsConnector,
    port: u16,
    path: &str,
    token: &str,
    fire: F,
) -> Result<Vec<f64>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut watchers = Vec::new();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(WATCHERS);
    for _ in 0..WATCHERS {
        // Each watcher is its own TLS connection, like separate clients,
        // and reads raw bytes: what is measured is delivery, not a client
        // library's decoding.
        let (tls, token, ready, path) = (tls.clone(), token.to_string(), ready_tx.clone(), path.to_string());
        watchers.push(tokio::spawn(async move { raw_watch(tls, port, &path, &token, ready).await }));
    }
    for _ in 0..WATCHERS {
        ready_rx.recv().await.context("watcher failed to start")?;
    }
    // Let the last watch requests settle before the event.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t0 = Instant::now();
    fire().await?;
    let mut fan = Vec::new();
    for w in watchers {
        let got = w.await??;
        fan.push(got.duration_since(t0).as_secs_f64() * 1000.0);
    }
    fan.sort_by(|a, b| a.total_cmp(b));
    Ok(fan)
}

#[tokio::main]
async fn main() -> Result<()> {
    eprintln!("bench api: starting a release keel server");
    let server = Server::start().context("starting keel server")?;
    let pid = server.pid().context("server pid")?;
    let client = server.client().await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut ns = Namespace::default();
    ns.metadata.name = Some("bench".into());
    namespaces.create(&PostParams::default(), &ns).await?;
    let rss_idle = rss_mib(pid);

    eprintln!("bench api: baseline, {OBJECTS} GET /version from {CLIENTS} clients");
    let c = client.clone();
    let (base_lat, base_wall) = load(OBJECTS / CLIENTS, move |_| {
        let c = c.clone();
        async move {
            c.apiserver_version().await?;
            Ok(())
        }
    })
    .await?;

    eprintln!("bench api: {OBJECTS} ConfigMap creates from {CLIENTS} clients");
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "bench");
    let a = api.clone();
    let (lat, wall) = load(OBJECTS / CLIENTS, move |i| {
        let a = a.clone();
        async move {
            a.create(&PostParams::default(), &cm(format!("cm-{i:05}"))).await?;
            Ok(())
        }
    })
    .await?;
    let rss_loaded = rss_mib(pid);

    eprintln!("bench api: {WATCHERS} watchers, one update");
    let target = api.get("cm-00000").await?;
    // Watch from the collection's current revision, as informers do after
    // their list.
    let list = api.list(&kube::api::ListParams::default().limit(1)).await?;
    let rv = list.metadata.resource_version.clone().unwrap_or_default();
    let tls = tls_connector(&server)?;
    let token = server.token();
    let path = format!("/api/v1/namespaces/bench/configmaps?watch=true&fieldSelector=metadata.name%3Dcm-00000&resourceVersion={rv}&timeoutSeconds=120");
    let mut updated = target.clone();
    updated.data = Some(BTreeMap::from([("key".to_string(), "changed".to_string())]));
    let a = api.clone();
    let fan = fan_out(&tls, server.port, &path, &token, || async move {
        a.replace("cm-00000", &PostParams::default(), &updated).await?;
        Ok(())
    })
    .await?;

    eprintln!("bench api: baseline fan-out, bare TLS broadcaster, {WATCHERS} watchers");
    let (base_port, trigger) = baseline_broadcaster(&server)?;
    let event =
        bytes::Bytes::from(format!("{{\"type\":\"MODIFIED\",\"object\":{}}}\n", serde_json::to_string(&target)?));
    let base_fan = fan_out(&tls, base_port, "/", "", || async move {
        trigger.send(event).map_err(|_| anyhow::anyhow!("no baseline watchers"))?;
        Ok(())
    })
    .await?;
    let rss_watch = rss_mib(pid);

    println!();
    println!(
        "cargo xtask bench api  ({} cores, release build)",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!("{:<44} {:>12} {:>12} {:>10}", "metric", "keel", "baseline", "target");
    let row = |m: &str, k: f64, b: Option<f64>, t: &str| {
        let b = b.map(|b| format!("{b:.2}")).unwrap_or_else(|| "-".into());
        println!("{m:<44} {k:>12.2} {b:>12} {t:>10}");
    };
    row("mutating p50 (ms)", percentile(&lat, 0.50), Some(percentile(&base_lat, 0.50)), "");
    row("mutating p99 (ms)", percentile(&lat, 0.99), Some(percentile(&base_lat, 0.99)), "<= 10");
    row(
        "throughput (requests/s)",
        OBJECTS as f64 / wall.as_secs_f64(),
        Some(OBJECTS as f64 / base_wall.as_secs_f64()),
        "",
    );
    row("watch fan-out p50 (ms, 1000 watchers)", percentile(&fan, 0.50), Some(percentile(&base_fan, 0.50)), "");
    row("watch fan-out p99 (ms, 1000 watchers)", percentile(&fan, 0.99), Some(percentile(&base_fan, 0.99)), "<= 50");
    row("server RSS idle (MiB)", rss_idle, None, "");
    row("server RSS holding 10k ConfigMaps (MiB)", rss_loaded, None, "<= 128");
    row("server RSS with 1000 watches open (MiB)", rss_watch, None, "");
    Ok(())
}

//! `cargo xtask bench api`: API server throughput, latency, watch fan-out
//! and memory, next to a baseline measured in the same run.
//!
//! Baseline: the same clients doing an authenticated `GET /version` over
//! the same TLS connections, i.e. the transport floor every request pays.

use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use keel_e2e::Server;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
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
    let rv = target.metadata.resource_version.clone().unwrap_or_default();
    let mut watchers = Vec::new();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(WATCHERS);
    for _ in 0..WATCHERS {
        // Each watcher has its own connection, like separate clients.
        let c = server.client().await?;
        let a: Api<ConfigMap> = Api::namespaced(c, "bench");
        let rv = rv.clone();
        let ready = ready_tx.clone();
        watchers.push(tokio::spawn(async move {
            let wp = WatchParams::default().fields("metadata.name=cm-00000").timeout(120);
            let mut stream = a.watch(&wp, &rv).await?.boxed();
            let _ = ready.send(()).await;
            while let Some(ev) = stream.next().await {
                if let WatchEvent::Modified(_) = ev? {
                    return Ok::<_, anyhow::Error>(Instant::now());
                }
            }
            anyhow::bail!("watch ended without the update")
        }));
    }
    for _ in 0..WATCHERS {
        ready_rx.recv().await.context("watcher failed to start")?;
    }
    // Let the last watch requests reach the server before the update.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut updated = target.clone();
    updated.data = Some(BTreeMap::from([("key".to_string(), "changed".to_string())]));
    let t0 = Instant::now();
    api.replace("cm-00000", &PostParams::default(), &updated).await?;
    let mut fan = Vec::new();
    for w in watchers {
        let got = w.await??;
        fan.push(got.duration_since(t0).as_secs_f64() * 1000.0);
    }
    fan.sort_by(|a, b| a.total_cmp(b));
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
    row("watch fan-out p50 (ms, 1000 watchers)", percentile(&fan, 0.50), None, "");
    row("watch fan-out p99 (ms, 1000 watchers)", percentile(&fan, 0.99), None, "<= 50");
    row("server RSS idle (MiB)", rss_idle, None, "");
    row("server RSS holding 10k ConfigMaps (MiB)", rss_loaded, None, "<= 128");
    row("server RSS with 1000 watches open (MiB)", rss_watch, None, "");
    Ok(())
}

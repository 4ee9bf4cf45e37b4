//! `cargo xtask bench pods`: 100 pods from local images on a 3-node
//! `keel cluster up`, three ways: `kubectl apply -f` of one 100-pod
//! manifest, 100 API creates at 20/s, and 100 API creates at once (on top
//! of the first 200); prints the apply-to-Running latency (p50/p99) of each
//! and the agents' RSS with 0 pods and with the first 100. Baseline from
//! the same run: the echo program started 100 times as a plain process on
//! the host (no namespaces, no API), timed until its port answers: the
//! floor of "a process that serves".

use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use keel_e2e::Cluster;
use kube::api::{Api, PostParams};
use kube::runtime::watcher;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const PODS: usize = 100;
const NODES: u32 = 3;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn agents_rss(c: &Cluster) -> Vec<u64> {
    c.nodes.iter().filter_map(|n| c.agent_pid(n)).map(rss_kib).collect()
}

fn pod(name: &str, node: &str) -> Result<Pod> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "echo", "image": "keel-test/echo:v1", "imagePullPolicy": "IfNotPresent"}],
        },
    }))?)
}

/// Start the echo binary from the image as plain processes.
fn baseline() -> Result<Vec<Duration>> {
    let dir = tempfile::tempdir()?;
    let archive = keel_e2e::cluster::image_archives()?.into_iter().next().context("echo image")?;
    // The layer holds /echo; unpack the archive's layers with tar.
    let status = std::process::Command::new("tar").arg("-xf").arg(&archive).arg("-C").arg(dir.path()).status()?;
    anyhow::ensure!(status.success(), "unpacking {}", archive.display());
    let blobs = dir.path().join("blobs/sha256");
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root)?;
    for blob in std::fs::read_dir(&blobs)? {
        let p = blob?.path();
        let _ = std::process::Command::new("tar")
            .arg("-xzf")
            .arg(&p)
            .arg("-C")
            .arg(&root)
            .stderr(std::process::Stdio::null())
            .status();
    }
    let echo = root.join("echo");
    anyhow::ensure!(echo.exists(), "no /echo in the image");
    let mut out = Vec::new();
    let mut children = Vec::new();
    for i in 0..PODS {
        let port = 20000 + i as u16;
        let start = Instant::now();
        let child = std::process::Command::new(&echo)
            .env("PORT", port.to_string())
            .env("BIND_ADDR", "127.0.0.1")
            .stdout(std::process::Stdio::null())
            .spawn()?;
        children.push(child);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(Duration::from_millis(1));
            anyhow::ensure!(start.elapsed() < Duration::from_secs(10), "echo on {port} never listened");
        }
        out.push(start.elapsed());
    }
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> Result<()> {
    println!("bench pods: {PODS} pods on {NODES} nodes");
    println!("starting a {NODES}-node cluster");
    let c = Cluster::up(NODES)?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_idle = agents_rss(&c);
    let client = {
        let kc = kube::config::Kubeconfig::read_from(c.kubeconfig())?;
        kube::Client::try_from(kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?)?
    };
    let pods: Api<Pod> = Api::namespaced(client, "default");
    // Watch first, so every Running is seen as it happens.
    let mut events = watcher(pods.clone(), watcher::Config::default()).boxed();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, bool, Instant)>();
    tokio::spawn(async move {
        while let Some(Ok(ev)) = events.next().await {
            let list = match ev {
                watcher::Event::Apply(p) | watcher::Event::InitApply(p) => vec![p],
                _ => continue,
            };
            for p in list {
                let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                let _ = tx.send((p.metadata.name.unwrap_or_default(), running, Instant::now()));
            }
        }
    });
    // What the target is about: `kubectl apply -f` of a 100-pod manifest,
    // from each pod's appearance in the API to Running.
    println!("kubectl apply -f with {PODS} pods");
    let applied = kubectl_apply_and_wait(&c, "applied", &mut rx).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_busy = agents_rss(&c);
    // Paced: 20 pods a second through the API.
    println!("creating {PODS} pods at 20/s");
    let paced = create_and_wait(&pods, &c, "paced", Some(Duration::from_millis(50)), &mut rx).await?;
    // Burst: another 100 at once, each node starting ~33 pods together.
    println!("creating {PODS} more pods at once");
    let burst = create_and_wait(&pods, &c, "burst", None, &mut rx).await?;
    let mut base = baseline()?;
    base.sort();
    let mib = |k: u64| k as f64 / 1024.0;
    let max = |v: &[u64]| v.iter().copied().max().unwrap_or(0);
    println!();
    println!("| metric | keel | baseline (plain process) | target |");
    println!("| --- | --- | --- | --- |");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for (what, lat) in [("kubectl apply", &applied), ("20 pods/s", &paced), ("burst of 100", &burst)] {
        let (b50, b99) = (ms(percentile(&base, 0.5)), ms(percentile(&base, 0.99)));
        println!("| pods Running ({what}) | {} / {PODS} | | |", lat.len());
        println!("| apply-to-Running p50 ({what}) | {:.0} ms | {b50:.1} ms | |", ms(percentile(lat, 0.5)));
        println!("| apply-to-Running p99 ({what}) | {:.0} ms | {b99:.1} ms | <= 500 ms |", ms(percentile(lat, 0.99)));
    }
    println!("| agent RSS, 0 pods (max of {NODES}) | {:.1} MiB | | <= 32 MiB |", mib(max(&rss_idle)));
    let per_node = PODS as f64 / NODES as f64;
    let growth = (max(&rss_busy) as f64 - max(&rss_idle) as f64) / per_node;
    let bound = 32.0 + per_node * 100.0 / 1024.0;
    println!(
        "| agent RSS, {per_node:.0} pods each (max of {NODES}) | {:.1} MiB | | <= {bound:.1} MiB (32 MiB + 100 KiB/pod) |",
        mib(max(&rss_busy))
    );
    println!("| agent RSS growth per pod | {growth:.0} KiB | | |");
    let all = [&applied, &paced, &burst].iter().all(|l| l.len() == PODS);
    anyhow::ensure!(all, "not every pod became Running\n{}", c.logs());
    Ok(())
}

/// Create PODS pods named `<prefix>-<i>` (spaced by `gap`, or all at once)
/// and return each one's create-to-Running latency, sorted.
async fn create_and_wait(
    pods: &Api<Pod>,
    c: &Cluster,
    prefix: &str,
    gap: Option<Duration>,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, bool, Instant)>,
) -> Result<Vec<Duration>> {
    let mut created: HashMap<String, Instant> = HashMap::new();
    let mut create_times: Vec<Duration> = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..PODS {
        let node = c.nodes[i % c.nodes.len()].clone();
        let api = pods.clone();
        let name = format!("{prefix}-{i}");
        let p = pod(&name, &node)?;
        tasks.push(tokio::spawn(async move {
            let at = Instant::now();
            api.create(&PostParams::default(), &p).await.map(|_| (name, at, at.elapsed()))
        }));
        if let Some(g) = gap {
            tokio::time::sleep(g).await;
        }
    }
    for t in tasks {
        let (name, at, took) = t.await??;
        created.insert(name, at);
        create_times.push(took);
    }
    create_times.sort();
    println!(
        "create calls: p50 {:.0} ms, p99 {:.0} ms",
        percentile(&create_times, 0.5).as_secs_f64() * 1e3,
        percentile(&create_times, 0.99).as_secs_f64() * 1e3
    );
    let mut running: HashMap<String, Instant> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while running.len() < PODS && Instant::now() < deadline {
        if let Ok(Some((name, is_running, at))) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            if is_running && name.starts_with(prefix) {
                running.entry(name).or_insert(at);
            }
        }
    }
    println!("{} / {PODS} running", running.len());
    let mut lat: Vec<Duration> =
        running.iter().filter_map(|(n, at)| created.get(n).map(|c| at.saturating_duration_since(*c))).collect();
    lat.sort();
    Ok(lat)
}

/// `kubectl apply -f` a manifest of PODS pods named `<prefix>-<i>`; each
/// pod's latency runs from its first watch event to Running.
async fn kubectl_apply_and_wait(
    c: &Cluster,
    prefix: &str,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, bool, Instant)>,
) -> Result<Vec<Duration>> {
    let mut manifest = String::new();
    for i in 0..PODS {
        let node = &c.nodes[i % c.nodes.len()];
        manifest.push_str(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {prefix}-{i}}}\nspec:\n  nodeName: {node}\n  containers: [{{name: echo, image: \"keel-test/echo:v1\", imagePullPolicy: IfNotPresent}}]\n---\n"
        ));
    }
    let kubeconfig = c.kubeconfig();
    let home = c.dir.path().to_path_buf();
    let apply = tokio::task::spawn_blocking(move || {
        keel_e2e::run_kubectl(
            &kubeconfig,
            &home,
            keel_e2e::KUBECTL_NEWEST,
            &["apply", "-f", "-"],
            Some(&manifest),
            None,
        )
    });
    let mut seen: HashMap<String, Instant> = HashMap::new();
    let mut running: HashMap<String, Instant> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while running.len() < PODS && Instant::now() < deadline {
        if let Ok(Some((name, is_running, at))) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            if name.starts_with(prefix) {
                seen.entry(name.clone()).or_insert(at);
                if is_running {
                    running.entry(name).or_insert(at);
                }
            }
        }
    }
    let out = apply.await??;
    anyhow::ensure!(out.status.success(), "kubectl apply: {}", String::from_utf8_lossy(&out.stderr));
    println!("{} / {PODS} running", running.len());
    let mut lat: Vec<Duration> =
        running.iter().filter_map(|(n, at)| seen.get(n).map(|s| at.saturating_duration_since(*s))).collect();
    lat.sort();
    Ok(lat)
}

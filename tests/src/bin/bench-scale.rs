//! `cargo xtask bench scale`: a Deployment of keel-test/echo:v1 scaled
//! from 0 to 300 replicas on a 3-node `keel cluster up`. Prints the time
//! until all 300 pods are Ready and the scheduler's throughput (pods bound
//! per second). Baseline from the same run on the same cluster: 300 bare
//! pods created through the API with `nodeName` already set, so no
//! controller or scheduler is involved: the floor the nodes allow.

use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use keel_e2e::Cluster;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const REPLICAS: usize = 300;
const NODES: u32 = 3;
const TIMEOUT: Duration = Duration::from_secs(300);

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// When each pod of `label` was first seen bound and Ready.
#[derive(Default)]
struct Timeline {
    bound: HashMap<String, Instant>,
    ready: HashMap<String, Instant>,
}

/// Watch pods with `selector` until `n` are Ready; returns the timeline.
async fn watch_until_ready(pods: Api<Pod>, selector: &str, n: usize, progress: &str) -> Result<Timeline> {
    let cfg = watcher::Config::default().labels(selector);
    let mut events = watcher(pods, cfg).boxed();
    let mut t = Timeline::default();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let mut last_report = Instant::now();
    while t.ready.len() < n {
        let ev = tokio::time::timeout_at(deadline, events.next())
            .await
            .with_context(|| format!("{progress}: only {} of {n} Ready after {TIMEOUT:?}", t.ready.len()))?;
        let Some(ev) = ev else { anyhow::bail!("watch ended") };
        let p = match ev? {
            watcher::Event::Apply(p) | watcher::Event::InitApply(p) => p,
            _ => continue,
        };
        let name = p.metadata.name.clone().unwrap_or_default();
        let now = Instant::now();
        if p.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty()) {
            t.bound.entry(name.clone()).or_insert(now);
        }
        if is_ready(&p) && p.metadata.deletion_timestamp.is_none() {
            t.ready.entry(name).or_insert(now);
        }
        if last_report.elapsed() > Duration::from_secs(2) {
            println!("  {progress}: {} bound, {} Ready", t.bound.len(), t.ready.len());
            last_report = Instant::now();
        }
    }
    Ok(t)
}

async fn wait_gone(pods: &Api<Pod>, selector: &str) -> Result<()> {
    let deadline = Instant::now() + TIMEOUT;
    while !pods.list(&ListParams::default().labels(selector)).await?.items.is_empty() {
        anyhow::ensure!(Instant::now() < deadline, "pods {selector} still there after {TIMEOUT:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

fn template() -> serde_json::Value {
    json!({"containers": [{"name": "echo", "image": "keel-test/echo:v1", "imagePullPolicy": "IfNotPresent"}],
           "terminationGracePeriodSeconds": 0})
}

/// Baseline: bare pods with nodeName set, created 20 at a time.
async fn baseline(pods: &Api<Pod>, nodes: &[String]) -> Result<Duration> {
    let start = Instant::now();
    let watch = tokio::spawn(watch_until_ready(pods.clone(), "bench=bare", REPLICAS, "bare pods"));
    let creates = (0..REPLICAS).map(|i| {
        let pod = serde_json::from_value::<Pod>(json!({
            "metadata": {"name": format!("bare-{i}"), "labels": {"bench": "bare"}},
            "spec": {"nodeName": nodes[i % nodes.len()], "containers": template()["containers"],
                     "terminationGracePeriodSeconds": 0},
        }));
        async move { pods.create(&PostParams::default(), &pod?).await.map_err(anyhow::Error::from) }
    });
    let results: Vec<Result<Pod>> = futures::stream::iter(creates).buffer_unordered(20).collect().await;
    for r in results {
        r?;
    }
    let t = watch.await??;
    let last = t.ready.values().max().copied().unwrap_or(start);
    Ok(last.duration_since(start))
}

#[tokio::main]
async fn main() -> Result<()> {
    println!("bench scale: a Deployment from 0 to {REPLICAS} replicas on {NODES} nodes");
    println!("starting a {NODES}-node cluster");
    let c = Cluster::up(NODES)?;
    let client = {
        let kc = kube::config::Kubeconfig::read_from(c.kubeconfig())?;
        kube::Client::try_from(kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?)?
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    println!("baseline: {REPLICAS} bare pods with nodeName set");
    let bare = baseline(&pods, &c.nodes).await?;
    pods.delete_collection(&DeleteParams::default().grace_period(0), &ListParams::default().labels("bench=bare"))
        .await?;
    wait_gone(&pods, "bench=bare").await?;

    println!("deployment: 0 -> {REPLICAS} replicas");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "scale"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "scale"}},
                 "template": {"metadata": {"labels": {"app": "scale"}}, "spec": template()}},
    }))?;
    deployments.create(&PostParams::default(), &d).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let start = Instant::now();
    let watch = tokio::spawn(watch_until_ready(pods.clone(), "app=scale", REPLICAS, "deployment"));
    deployments.patch("scale", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": REPLICAS}}))).await?;
    let t = watch.await??;
    let all_ready = t.ready.values().max().copied().unwrap_or(start).duration_since(start);
    let first_bound = t.bound.values().min().copied().unwrap_or(start);
    let last_bound = t.bound.values().max().copied().unwrap_or(start);
    let bind_window = last_bound.duration_since(first_bound).as_secs_f64().max(0.001);
    let throughput = t.bound.len() as f64 / bind_window;
    // The status the controllers report must agree.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = deployments.get("scale").await?;
        let ready = d.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
        if ready as usize == REPLICAS {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "deployment status says {ready} ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let per_node = {
        let mut m: HashMap<String, usize> = HashMap::new();
        for p in pods.list(&ListParams::default().labels("app=scale")).await?.items {
            *m.entry(p.spec.and_then(|s| s.node_name).unwrap_or_default()).or_default() += 1;
        }
        let mut v: Vec<usize> = m.into_values().collect();
        v.sort_unstable();
        v
    };

    println!();
    println!("| metric | keel (Deployment) | baseline (bare pods, nodeName set) | target |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| {REPLICAS} pods Ready after the scale-up | {:.1} s | {:.1} s | <= 30 s |",
        all_ready.as_secs_f64(),
        bare.as_secs_f64()
    );
    println!(
        "| first pod bound after the scale-up | {:.0} ms | | |",
        first_bound.duration_since(start).as_secs_f64() * 1000.0
    );
    println!("| scheduler throughput | {throughput:.0} pods/s | | |");
    println!("| pods per node | {per_node:?} | | |");
    Ok(())
}

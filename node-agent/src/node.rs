//! The Node object: registration and the status the agent reports.

use crate::machine::Facts;
use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use std::time::Duration;

pub const MANAGER: &str = "keel-agent";

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// RFC 3339 with seconds, as Kubernetes writes condition times.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// The conditions a healthy agent reports. `since` keeps transition times
/// stable across heartbeats.
fn conditions(since: &str) -> Value {
    let now = now();
    let c = |t: &str, status: &str, reason: &str, message: &str| {
        json!({"type": t, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": since})
    };
    json!([
        c("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        c("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        c("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        c("Ready", "True", "KubeletReady", "keel agent is posting ready status"),
    ])
}

/// InternalIP per family (IPv4 first), then the host name.
fn addresses(facts: &Facts) -> Value {
    let mut out = vec![json!({"type": "InternalIP", "address": facts.ip.to_string()})];
    if let Some(ip6) = facts.ip6 {
        out.push(json!({"type": "InternalIP", "address": ip6.to_string()}));
    }
    out.push(json!({"type": "Hostname", "address": facts.name}));
    Value::Array(out)
}

/// The node's status: capacity, addresses, system info and conditions.
pub fn status(facts: &Facts, since: &str) -> Value {
    let capacity = json!({
        "cpu": facts.cpus.to_string(),
        "memory": format!("{}Ki", facts.memory_bytes / 1024),
        "pods": facts.max_pods.to_string(),
        "ephemeral-storage": "0",
    });
    json!({
        "capacity": capacity,
        "allocatable": capacity,
        "addresses": addresses(facts),
        "conditions": conditions(since),
        "nodeInfo": {
            "machineID": facts.machine_id,
            "systemUUID": facts.machine_id,
            "bootID": facts.boot_id,
            "kernelVersion": facts.kernel,
            "osImage": facts.os_image,
            "containerRuntimeVersion": concat!("keel://", env!("CARGO_PKG_VERSION")),
            "kubeletVersion": concat!("v1.33.0+keel-", env!("CARGO_PKG_VERSION")),
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": arch(),
        },
        "daemonEndpoints": {"kubeletEndpoint": {"Port": facts.kubelet_port}},
    })
}

/// Create the Node, or take over an existing one (an agent restart), and
/// report a fresh status.
pub async fn register(client: &kube::Client, facts: &Facts) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let since = now();
    let labels = json!({
        "kubernetes.io/hostname": facts.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": arch(),
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": arch(),
    });
    if nodes.get_opt(&facts.name).await?.is_none() {
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": facts.name, "labels": labels},
            "spec": {},
            "status": status(facts, &since),
        }))?;
        match nodes.create(&PostParams { field_manager: Some(MANAGER.into()), ..Default::default() }, &node).await {
            Ok(_) => return Ok(()),
            // Someone (an earlier run) created it meanwhile: update below.
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e).context("registering the node"),
        }
    }
    let pp = PatchParams::apply(MANAGER);
    nodes
        .patch(&facts.name, &pp, &Patch::Merge(json!({"metadata": {"labels": labels}})))
        .await
        .context("updating node labels")?;
    nodes
        .patch_status(&facts.name, &pp, &Patch::Merge(json!({"status": status(facts, &since)})))
        .await
        .context("reporting node status")?;
    Ok(())
}

/// Wait until the control plane has given this node its podCIDRs (both families when
/// `dual_stack`). Returns them as the Node holds them.
pub async fn wait_for_pod_cidrs(
    client: &kube::Client,
    name: &str,
    dual_stack: bool,
    timeout: Duration,
) -> Result<Vec<String>> {
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let spec = nodes.get(name).await?.spec.unwrap_or_default();
        let cidrs = match spec.pod_cidrs.filter(|c| !c.is_empty()) {
            Some(cidrs) => cidrs,
            None => spec.pod_cidr.into_iter().collect(),
        };
        if !cidrs.is_empty() && (!dual_stack || cidrs.len() >= 2) {
            return Ok(cidrs);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "node {name} has podCIDRs {cidrs:?} after {timeout:?}{}",
            if dual_stack {
                "; a dual-stack node needs an IPv6 one too (start the server with a dual-stack --cluster-cidr)"
            } else {
                ""
            }
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

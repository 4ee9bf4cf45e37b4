//! Node lifecycle: a node whose Lease stops renewing for longer than the
//! grace period is marked NotReady (Ready=Unknown) and tainted unreachable,
//! as kube-controller-manager's node-lifecycle controller does. When its
//! agent reports Ready again, the taint goes. Level-triggered: every pass
//! compares all nodes with their leases.

use super::Settings;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

const MANAGER: &str = "node-lifecycle-controller";
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

fn parse_time(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).ok().or_else(|| humantime::parse_rfc3339(s).ok())
}

/// When each node last renewed its Lease, as JSON renewTime strings.
async fn renewals(client: &kube::Client) -> kube::Result<HashMap<String, SystemTime>> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let list = leases.list(&ListParams::default()).await?;
    let mut out = HashMap::new();
    for l in list.items {
        let v = serde_json::to_value(&l).unwrap_or(Value::Null);
        let renew = v.pointer("/spec/renewTime").and_then(Value::as_str).and_then(parse_time);
        if let (Some(name), Some(t)) = (l.metadata.name, renew) {
            out.insert(name, t);
        }
    }
    Ok(out)
}

fn ready_status(node: &Node) -> Option<String> {
    node.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready").map(|c| c.status.clone())
}

fn has_unreachable_taint(node: &Node) -> bool {
    node.spec.as_ref().and_then(|s| s.taints.as_ref()).is_some_and(|t| t.iter().any(|t| t.key == UNREACHABLE_TAINT))
}

fn taints_without_unreachable(node: &Node) -> Value {
    let kept: Vec<Value> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.key != UNREACHABLE_TAINT)
        .map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
        .collect();
    Value::Array(kept)
}

async fn mark_unknown(nodes: &Api<Node>, node: &Node, name: &str) -> kube::Result<()> {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let unknown = |t: &str| {
        json!({"type": t, "status": "Unknown", "reason": "NodeStatusUnknown",
               "message": "Kubelet stopped posting node status.", "lastTransitionTime": now})
    };
    let patch = json!({"status": {"conditions": [
        unknown("Ready"), unknown("MemoryPressure"), unknown("DiskPressure"), unknown("PIDPressure"),
    ]}});
    nodes.patch_status(name, &PatchParams::apply(MANAGER), &Patch::Strategic(patch)).await?;
    let mut taints = taints_without_unreachable(node);
    if let Value::Array(list) = &mut taints {
        list.push(json!({"key": UNREACHABLE_TAINT, "effect": "NoSchedule", "timeAdded": now}));
    }
    nodes.patch(name, &PatchParams::apply(MANAGER), &Patch::Merge(json!({"spec": {"taints": taints}}))).await?;
    tracing::info!(node = %name, "node stopped renewing its lease: marked NotReady");
    Ok(())
}

async fn pass(client: &kube::Client, grace: Duration) -> kube::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let renewed = renewals(client).await?;
    let now = SystemTime::now();
    for node in nodes.list(&ListParams::default()).await?.items {
        let Some(name) = node.metadata.name.clone() else { continue };
        // A node without a lease yet counts from its creation.
        let created = node.metadata.creation_timestamp.as_ref().and_then(|t| serde_json::to_value(t).ok());
        let last = renewed
            .get(&name)
            .copied()
            .or_else(|| created.as_ref().and_then(Value::as_str).and_then(parse_time))
            .unwrap_or(now);
        let silent = now.duration_since(last).unwrap_or_default() > grace;
        let ready = ready_status(&node);
        if silent && ready.as_deref() != Some("Unknown") {
            mark_unknown(&nodes, &node, &name).await?;
        } else if !silent && ready.as_deref() == Some("True") && has_unreachable_taint(&node) {
            let patch = json!({"spec": {"taints": taints_without_unreachable(&node)}});
            nodes.patch(&name, &PatchParams::apply(MANAGER), &Patch::Merge(patch)).await?;
            tracing::info!(node = %name, "node is back: removed the unreachable taint");
        }
    }
    Ok(())
}

pub async fn run(client: kube::Client, settings: Settings) {
    let period = (settings.node_grace / 4).clamp(Duration::from_millis(500), Duration::from_secs(5));
    loop {
        if let Err(e) = pass(&client, settings.node_grace).await {
            tracing::warn!(error = %e, "node lifecycle pass");
        }
        tokio::time::sleep(period).await;
    }
}

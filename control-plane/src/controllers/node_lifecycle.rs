//! Node lifecycle: a node whose Lease stops renewing for longer than the
//! grace period is marked NotReady (Ready=Unknown) and tainted unreachable
//! (NoSchedule and NoExecute), as kube-controller-manager's node-lifecycle
//! controller does; `taint_eviction` then moves its pods. When its agent
//! reports Ready again, the taints go. Level-triggered: every pass compares
//! all nodes with their leases.

use super::Settings;
use crate::scheduler::taints::{NOT_READY_TAINT, UNREACHABLE_TAINT};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

const MANAGER: &str = "node-lifecycle-controller";

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

/// The condition taints a node should carry for its Ready status:
/// unreachable when it went silent, not-ready when its agent says so; each
/// both NoSchedule (no new pods) and NoExecute (pods leave after their
/// tolerationSeconds), as upstream's TaintNodesByCondition and
/// taint-based eviction do.
fn wanted_taints(ready: Option<&str>) -> Vec<(&'static str, &'static str)> {
    let key = match ready {
        Some("Unknown") => UNREACHABLE_TAINT,
        Some("False") => NOT_READY_TAINT,
        _ => return Vec::new(),
    };
    vec![(key, "NoSchedule"), (key, "NoExecute")]
}

/// The node's taints with the condition taints made to match `wanted`;
/// `None` when nothing changes. Taints already there keep their timeAdded
/// (eviction counts from it).
fn reconcile_taints(node: &Node, wanted: &[(&str, &str)], now: &str) -> Option<Value> {
    let current = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
    let managed = |k: &str| k == UNREACHABLE_TAINT || k == NOT_READY_TAINT;
    let mut out: Vec<Value> = Vec::new();
    let mut changed = false;
    for t in &current {
        if managed(&t.key) && !wanted.iter().any(|(k, e)| *k == t.key && *e == t.effect) {
            changed = true;
            continue;
        }
        out.push(serde_json::to_value(t).unwrap_or(Value::Null));
    }
    for (k, e) in wanted {
        if !current.iter().any(|t| t.key == *k && t.effect == *e) {
            out.push(json!({"key": k, "effect": e, "timeAdded": now}));
            changed = true;
        }
    }
    changed.then_some(Value::Array(out))
}

async fn mark_unknown(nodes: &Api<Node>, name: &str) -> kube::Result<()> {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let unknown = |t: &str| {
        json!({"type": t, "status": "Unknown", "reason": "NodeStatusUnknown",
               "message": "Kubelet stopped posting node status.", "lastTransitionTime": now})
    };
    let patch = json!({"status": {"conditions": [
        unknown("Ready"), unknown("MemoryPressure"), unknown("DiskPressure"), unknown("PIDPressure"),
    ]}});
    nodes.patch_status(name, &PatchParams::apply(MANAGER), &Patch::Strategic(patch)).await?;
    tracing::info!(node = %name, "node stopped renewing its lease: marked NotReady");
    Ok(())
}

async fn pass(client: &kube::Client, grace: Duration) -> kube::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let renewed = renewals(client).await?;
    let now = SystemTime::now();
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
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
        let mut ready = ready_status(&node);
        if silent && ready.as_deref() != Some("Unknown") {
            mark_unknown(&nodes, &name).await?;
            ready = Some("Unknown".into());
        }
        if let Some(taints) = reconcile_taints(&node, &wanted_taints(ready.as_deref()), &stamp) {
            nodes
                .patch(&name, &PatchParams::apply(MANAGER), &Patch::Merge(json!({"spec": {"taints": taints}})))
                .await?;
            tracing::info!(node = %name, ready = ?ready, "node condition taints updated");
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

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeSpec, Taint};

    fn node(taints: &[(&str, &str)]) -> Node {
        let taints = taints
            .iter()
            .map(|(k, e)| Taint { key: k.to_string(), effect: e.to_string(), ..Default::default() })
            .collect();
        Node { spec: Some(NodeSpec { taints: Some(taints), ..Default::default() }), ..Default::default() }
    }

    #[test]
    fn a_silent_node_gets_both_unreachable_taints_once() {
        let n = node(&[("dedicated", "NoSchedule")]);
        let out = reconcile_taints(&n, &wanted_taints(Some("Unknown")), "t").expect("changed");
        let keys: Vec<(String, String)> = out
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["key"].as_str().unwrap().into(), t["effect"].as_str().unwrap().into()))
            .collect();
        assert_eq!(keys.len(), 3, "{keys:?}");
        assert!(keys.contains(&(UNREACHABLE_TAINT.into(), "NoExecute".into())));
        let n =
            node(&[("dedicated", "NoSchedule"), (UNREACHABLE_TAINT, "NoSchedule"), (UNREACHABLE_TAINT, "NoExecute")]);
        assert!(reconcile_taints(&n, &wanted_taints(Some("Unknown")), "t").is_none());
    }

    #[test]
    fn a_ready_node_loses_condition_taints_but_keeps_others() {
        let n = node(&[("dedicated", "NoSchedule"), (UNREACHABLE_TAINT, "NoExecute"), (NOT_READY_TAINT, "NoSchedule")]);
        let out = reconcile_taints(&n, &wanted_taints(Some("True")), "t").expect("changed");
        assert_eq!(out.as_array().unwrap().len(), 1);
        let n = node(&[(UNREACHABLE_TAINT, "NoExecute")]);
        let out = reconcile_taints(&n, &wanted_taints(Some("False")), "t").expect("changed");
        let keys: Vec<&str> = out.as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap()).collect();
        assert_eq!(keys, [NOT_READY_TAINT, NOT_READY_TAINT]);
    }
}

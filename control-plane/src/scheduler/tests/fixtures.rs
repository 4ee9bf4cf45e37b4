//! Builders for nodes, pods and clusters used by the scenario tests.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{json, Value};

use crate::scheduler::{schedule, Cluster, NodeState, Outcome};

/// Recursively merge `patch` into `base` (objects merge, everything else replaces).
fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(base.entry(key).or_insert(Value::Null), value);
            }
        }
        (base, patch) => *base = patch,
    }
}

fn from_json<T: k8s_openapi::serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("test object does not deserialize: {e}"))
}

/// A Ready node with 4 cpu, 8Gi memory, 20Gi ephemeral storage, 110 pods, plus `patch`.
pub fn node(name: &str, patch: Value) -> Node {
    let mut base = json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {
            "allocatable": {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "20Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}]
        }
    });
    merge(&mut base, patch);
    from_json(base)
}

/// A pod in namespace `default` with uid `uid-<name>` and one container `app` (no requests), plus `patch`.
pub fn pod(name: &str, patch: Value) -> Pod {
    let mut base = json!({
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
        "spec": {"containers": [{"name": "app", "image": "busybox"}]}
    });
    merge(&mut base, patch);
    from_json(base)
}

/// A container JSON value requesting `cpu` and `memory`.
pub fn container(name: &str, cpu: &str, memory: &str) -> Value {
    json!({"name": name, "image": "busybox", "resources": {"requests": {"cpu": cpu, "memory": memory}}})
}

/// A pod requesting `cpu` and `memory` in one container.
pub fn sized_pod(name: &str, cpu: &str, memory: &str) -> Pod {
    pod(name, json!({"spec": {"containers": [container("app", cpu, memory)]}}))
}

pub fn state(node: Node, pods: Vec<Pod>) -> NodeState {
    NodeState { node: Arc::new(node), pods: pods.into_iter().map(Arc::new).collect() }
}

pub fn run(pod: &Pod, nodes: &[NodeState]) -> Outcome {
    schedule(pod, &Cluster { nodes })
}

pub fn bound_node(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Bind { node, .. } => node,
        Outcome::Unschedulable { message } => panic!("expected a bind, got unschedulable: {message}"),
    }
}

pub fn message(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Unschedulable { message } => message,
        Outcome::Bind { node, .. } => panic!("expected unschedulable, got bind to {node}"),
    }
}

/// "0/N nodes are available: <reasons>. preemption: ..." for a list of reasons already formatted.
pub fn expected(total: usize, reasons: &str) -> String {
    format!(
        "0/{total} nodes are available: {reasons}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
    )
}

/// Which of `nodes` pass the filters for `pod`: each is tried alone.
pub fn feasible_names(pod: &Pod, nodes: &[NodeState]) -> Vec<String> {
    (0..nodes.len())
        .filter_map(|i| {
            // Keep all nodes (for cluster-wide counts) but only let node i pass: mark the others unschedulable.
            let mut probe: Vec<NodeState> = nodes.to_vec();
            for (j, s) in probe.iter_mut().enumerate() {
                if j != i {
                    let mut n = (*s.node).clone();
                    n.spec.get_or_insert_with(Default::default).unschedulable = Some(true);
                    s.node = Arc::new(n);
                }
            }
            match run(pod, &probe) {
                Outcome::Bind { node, .. } => Some(node),
                Outcome::Unschedulable { .. } => None,
            }
        })
        .collect()
}

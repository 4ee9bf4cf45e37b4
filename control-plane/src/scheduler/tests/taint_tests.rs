use serde_json::json;

use super::fixtures::{bound_node, expected, feasible_names, message, node, pod, run, state};

fn tainted(name: &str, key: &str, value: &str, effect: &str) -> k8s_openapi::api::core::v1::Node {
    node(name, json!({"spec": {"taints": [{"key": key, "value": value, "effect": effect}]}}))
}

#[test]
fn untolerated_no_schedule_taint_filters_with_key_and_value() {
    let nodes = [state(tainted("n1", "dedicated", "gpu", "NoSchedule"), vec![])];
    assert_eq!(
        message(&run(&pod("p", json!({})), &nodes)),
        expected(1, "1 node(s) had untolerated taint {dedicated: gpu}")
    );
}

#[test]
fn no_execute_filters_and_prefer_no_schedule_does_not() {
    let nodes = [
        state(tainted("exec", "k", "v", "NoExecute"), vec![]),
        state(tainted("soft", "k", "v", "PreferNoSchedule"), vec![]),
    ];
    assert_eq!(feasible_names(&pod("p", json!({})), &nodes), ["soft"]);
}

#[test]
fn toleration_operators_and_effects() {
    let nodes = [state(tainted("n1", "dedicated", "gpu", "NoSchedule"), vec![])];
    let tolerating = |tolerations: serde_json::Value| pod("p", json!({"spec": {"tolerations": tolerations}}));
    let fits = |tolerations: serde_json::Value| !feasible_names(&tolerating(tolerations), &nodes).is_empty();
    assert!(fits(json!([{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}])));
    assert!(
        fits(json!([{"key": "dedicated", "value": "gpu"}])),
        "operator defaults to Equal, empty effect matches all"
    );
    assert!(fits(json!([{"key": "dedicated", "operator": "Exists"}])));
    assert!(fits(json!([{"operator": "Exists"}])), "empty key with Exists tolerates everything");
    assert!(!fits(json!([{"key": "dedicated", "operator": "Equal", "value": "cpu"}])));
    assert!(!fits(json!([{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}])));
    assert!(!fits(json!([{"key": "other", "operator": "Exists"}])));
}

#[test]
fn not_ready_node_is_filtered_even_without_taint() {
    let not_ready = node("n1", json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}));
    let nodes = [state(not_ready, vec![])];
    assert_eq!(
        message(&run(&pod("p", json!({})), &nodes)),
        expected(1, "1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }")
    );
    let tolerant =
        pod("t", json!({"spec": {"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}]}}));
    assert_eq!(bound_node(&run(&tolerant, &nodes)), "n1");
}

#[test]
fn unreachable_taint_is_reported_as_is() {
    let unreachable = node(
        "n1",
        json!({
            "spec": {"taints": [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}
        }),
    );
    let nodes = [state(unreachable, vec![])];
    assert_eq!(
        message(&run(&pod("p", json!({})), &nodes)),
        expected(1, "1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }")
    );
}

#[test]
fn cordoned_node_is_unschedulable_unless_tolerated() {
    let cordoned = node("n1", json!({"spec": {"unschedulable": true}}));
    let nodes = [state(cordoned, vec![])];
    assert_eq!(message(&run(&pod("p", json!({})), &nodes)), expected(1, "1 node(s) were unschedulable"));
    let tolerant = pod(
        "t",
        json!({"spec": {"tolerations": [
            {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]}}),
    );
    assert_eq!(bound_node(&run(&tolerant, &nodes)), "n1");
}

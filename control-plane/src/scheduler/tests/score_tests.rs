use std::collections::BTreeSet;

use serde_json::json;

use super::fixtures::{bound_node, node, pod, run, sized_pod, state};
use crate::scheduler::context::NodeView;
use crate::scheduler::node_scores::{balanced_allocation, least_allocated, PodRequests};
use crate::scheduler::Outcome;

#[test]
fn least_allocated_prefers_the_emptier_node() {
    let nodes =
        [state(node("busy", json!({})), vec![sized_pod("x", "2", "4Gi")]), state(node("idle", json!({})), vec![])];
    assert_eq!(bound_node(&run(&sized_pod("p", "500m", "512Mi"), &nodes)), "idle");
}

#[test]
fn least_allocated_values() {
    let s = state(node("n", json!({})), vec![sized_pod("x", "1", "2Gi")]);
    let p = sized_pod("p", "1", "2Gi");
    let view = NodeView::new(&s, &p);
    // cpu (4000-2000)/4000 = 50, memory (8Gi-4Gi)/8Gi = 50
    assert_eq!(least_allocated(&PodRequests::of(&p).non_zero, &view), 50);
}

#[test]
fn balanced_allocation_values() {
    let s = state(node("n", json!({})), vec![sized_pod("x", "2", "0")]);
    let p = sized_pod("p", "0", "4Gi");
    let view = NodeView::new(&s, &p);
    // cpu 50%, memory 50%: perfectly balanced
    assert_eq!(balanced_allocation(&PodRequests::of(&p).actual, &view), 100);
    let cpu_only = sized_pod("q", "2", "0");
    // cpu 100%, memory 0%: std dev 0.5
    assert_eq!(balanced_allocation(&PodRequests::of(&cpu_only).actual, &view), 50);
}

#[test]
fn balanced_allocation_prefers_complementary_node() {
    // Equal free share on average, but "memory-heavy" complements a cpu-heavy pod.
    let nodes = [
        state(node("cpu-heavy", json!({})), vec![sized_pod("x", "2", "0")]),
        state(node("memory-heavy", json!({})), vec![sized_pod("y", "0", "4Gi")]),
    ];
    assert_eq!(bound_node(&run(&sized_pod("p", "1", "0"), &nodes)), "memory-heavy");
}

#[test]
fn weighted_total_for_a_lone_best_effort_pod() {
    let nodes = [state(node("n", json!({})), vec![])];
    // least allocated 97 (100m / 200Mi defaults) + taint toleration 100 * 3; others 0.
    assert_eq!(run(&pod("p", json!({})), &nodes), Outcome::Bind { node: "n".into(), score: 97 + 300 });
}

#[test]
fn preferred_node_affinity_wins_over_resources() {
    let nodes = [
        state(node("ssd", json!({"metadata": {"labels": {"disk": "ssd"}}})), vec![sized_pod("x", "2", "4Gi")]),
        state(node("hdd", json!({"metadata": {"labels": {"disk": "hdd"}}})), vec![]),
    ];
    let p = pod(
        "p",
        json!({"spec": {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}
        ]}}}}),
    );
    assert_eq!(bound_node(&run(&p, &nodes)), "ssd");
}

#[test]
fn prefer_no_schedule_taint_is_avoided_unless_tolerated() {
    let soft = node("soft", json!({"spec": {"taints": [{"key": "spot", "effect": "PreferNoSchedule"}]}}));
    let nodes = [state(soft, vec![]), state(node("plain", json!({})), vec![sized_pod("x", "1", "1Gi")])];
    assert_eq!(bound_node(&run(&pod("p", json!({})), &nodes)), "plain");
    let tolerant = pod(
        "t",
        json!({"spec": {"tolerations": [{"key": "spot", "operator": "Exists", "effect": "PreferNoSchedule"}]}}),
    );
    assert_eq!(bound_node(&run(&tolerant, &nodes)), "soft");
}

#[test]
fn ties_are_deterministic_per_pod_and_fair_across_pods() {
    let nodes: Vec<_> = ["a", "b", "c"].iter().map(|n| state(node(n, json!({})), vec![])).collect();
    let p = pod("same", json!({}));
    let first = bound_node(&run(&p, &nodes)).to_string();
    assert!((0..5).all(|_| bound_node(&run(&p, &nodes)) == first));
    let chosen: BTreeSet<String> =
        (0..30).map(|i| bound_node(&run(&pod(&format!("p{i}"), json!({})), &nodes)).to_string()).collect();
    assert_eq!(chosen.len(), 3, "every equal node gets some pods: {chosen:?}");
}

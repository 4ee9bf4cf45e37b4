use serde_json::json;

use super::fixtures::{expected, message, node, pod, run, sized_pod, state};
use crate::scheduler::reasons::unschedulable_message;

#[test]
fn no_nodes_message() {
    assert_eq!(message(&run(&pod("p", json!({})), &[])), "no nodes available to schedule pods");
}

#[test]
fn example_from_kube_scheduler() {
    let nodes = [
        state(
            node(
                "small",
                json!({"metadata": {"labels": {"disk": "ssd"}}, "status": {"allocatable": {"memory": "1Gi"}}}),
            ),
            vec![],
        ),
        state(node("b", json!({})), vec![]),
        state(node("c", json!({})), vec![]),
    ];
    let p = pod(
        "p",
        json!({"spec": {"nodeSelector": {"disk": "ssd"}, "containers": [super::fixtures::container("a", "1", "2Gi")]}}),
    );
    assert_eq!(
        message(&run(&p, &nodes)),
        "0/3 nodes are available: 1 Insufficient memory, 2 node(s) didn't match Pod's node affinity/selector. \
         preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
}

#[test]
fn first_failing_filter_wins_per_node() {
    // Cordoned and too small: only "unschedulable" is reported for it.
    let nodes = [
        state(node("a", json!({"spec": {"unschedulable": true}, "status": {"allocatable": {"cpu": "1"}}})), vec![]),
        state(node("b", json!({"spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}})), vec![]),
        state(node("c", json!({"status": {"allocatable": {"cpu": "1", "memory": "1Gi"}}})), vec![]),
    ];
    assert_eq!(
        message(&run(&sized_pod("p", "2", "2Gi"), &nodes)),
        expected(
            3,
            "1 Insufficient cpu, 1 Insufficient memory, 1 node(s) had untolerated taint {k: }, 1 node(s) were unschedulable"
        )
    );
}

#[test]
fn entries_sort_as_strings_including_counts() {
    let mut per_node = vec![vec!["Insufficient cpu".to_string()]; 10];
    per_node.extend(vec![vec!["Insufficient memory".to_string()]; 2]);
    assert_eq!(unschedulable_message(12, &per_node), expected(12, "10 Insufficient cpu, 2 Insufficient memory"));
    per_node = vec![vec!["Insufficient memory".to_string()]; 2];
    per_node.push(vec!["Insufficient cpu".to_string()]);
    assert_eq!(unschedulable_message(3, &per_node), expected(3, "1 Insufficient cpu, 2 Insufficient memory"));
}

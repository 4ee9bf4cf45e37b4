use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};

use super::fixtures::{bound_node, expected, feasible_names, message, node, pod, run, state};
use crate::scheduler::NodeState;

const ZONE: &str = "topology.kubernetes.io/zone";

fn web(name: &str) -> Pod {
    pod(name, json!({"metadata": {"labels": {"app": "web"}}}))
}

fn zoned(name: &str, zone: Option<&str>, extra_labels: Value, pods: Vec<Pod>) -> NodeState {
    let mut labels = extra_labels;
    if let Some(zone) = zone {
        labels[ZONE] = json!(zone);
    }
    state(node(name, json!({"metadata": {"labels": labels}})), pods)
}

fn spread_pod(constraint: Value, patch: Value) -> Pod {
    let mut full = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"topologySpreadConstraints": [constraint]}});
    if let (Some(full_spec), Some(extra)) = (full["spec"].as_object_mut(), patch["spec"].as_object()) {
        full_spec.extend(extra.clone());
    }
    pod("p", full)
}

fn zone_constraint(max_skew: i32, when: &str) -> Value {
    json!({"maxSkew": max_skew, "topologyKey": ZONE, "whenUnsatisfiable": when,
           "labelSelector": {"matchLabels": {"app": "web"}}})
}

#[test]
fn do_not_schedule_enforces_max_skew_and_reports_missing_labels() {
    let nodes = vec![
        zoned("n1", Some("z1"), json!({}), vec![web("w1")]),
        zoned("n2", Some("z2"), json!({}), vec![]),
        zoned("n3", None, json!({}), vec![]),
    ];
    let p = spread_pod(zone_constraint(1, "DoNotSchedule"), json!({}));
    assert_eq!(feasible_names(&p, &nodes), ["n2"]);
    let mut cordoned = nodes.clone();
    cordoned[1] =
        state(node("n2", json!({"metadata": {"labels": {ZONE: "z2"}}, "spec": {"unschedulable": true}})), vec![]);
    assert_eq!(
        message(&run(&p, &cordoned)),
        expected(
            3,
            "1 node(s) didn't match pod topology spread constraints, \
             1 node(s) didn't match pod topology spread constraints (missing required label), \
             1 node(s) were unschedulable"
        )
    );
}

#[test]
fn skew_counts_only_matching_pods_and_self_match() {
    let other = pod("o", json!({"metadata": {"labels": {"app": "db"}}}));
    let nodes = vec![zoned("n1", Some("z1"), json!({}), vec![other]), zoned("n2", Some("z2"), json!({}), vec![])];
    let p = spread_pod(zone_constraint(1, "DoNotSchedule"), json!({}));
    assert_eq!(feasible_names(&p, &nodes), ["n1", "n2"]);
    // A pod that does not match its own selector adds nothing to the skew.
    let nodes = vec![zoned("n1", Some("z1"), json!({}), vec![web("w1")]), zoned("n2", Some("z2"), json!({}), vec![])];
    let mut not_self = spread_pod(zone_constraint(1, "DoNotSchedule"), json!({}));
    not_self.metadata.labels = Some(BTreeMap::from([("app".to_string(), "api".to_string())]));
    assert_eq!(feasible_names(&not_self, &nodes), ["n1", "n2"]);
}

#[test]
fn min_domains_forces_new_domains() {
    let nodes = vec![zoned("n1", Some("z1"), json!({}), vec![web("w1")])];
    let mut constraint = zone_constraint(1, "DoNotSchedule");
    assert_eq!(feasible_names(&spread_pod(constraint.clone(), json!({})), &nodes), ["n1"]);
    constraint["minDomains"] = json!(2);
    assert!(feasible_names(&spread_pod(constraint, json!({})), &nodes).is_empty());
}

#[test]
fn node_affinity_policy_decides_which_domains_count() {
    let nodes = vec![
        zoned("n1", Some("z1"), json!({"pool": "a"}), vec![web("w1")]),
        zoned("n2", Some("z2"), json!({"pool": "b"}), vec![]),
    ];
    let selector = json!({"spec": {"nodeSelector": {"pool": "a"}}});
    let honor = spread_pod(zone_constraint(1, "DoNotSchedule"), selector.clone());
    assert_eq!(feasible_names(&honor, &nodes), ["n1"], "z2 is outside the pod's node affinity, so it isn't a domain");
    let mut constraint = zone_constraint(1, "DoNotSchedule");
    constraint["nodeAffinityPolicy"] = json!("Ignore");
    assert!(feasible_names(&spread_pod(constraint, selector), &nodes).is_empty());
}

#[test]
fn node_taints_policy_honor_excludes_tainted_domains() {
    let tainted = node(
        "n2",
        json!({"metadata": {"labels": {ZONE: "z2"}}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}}),
    );
    let nodes = vec![zoned("n1", Some("z1"), json!({}), vec![web("w1")]), state(tainted, vec![])];
    assert!(feasible_names(&spread_pod(zone_constraint(1, "DoNotSchedule"), json!({})), &nodes).is_empty());
    let mut constraint = zone_constraint(1, "DoNotSchedule");
    constraint["nodeTaintsPolicy"] = json!("Honor");
    assert_eq!(feasible_names(&spread_pod(constraint, json!({})), &nodes), ["n1"]);
}

#[test]
fn schedule_anyway_prefers_emptier_domain() {
    let nodes = vec![
        zoned("n1", Some("z1"), json!({}), vec![web("w1")]),
        zoned("n2", Some("z1"), json!({}), vec![web("w2")]),
        zoned(
            "n3",
            Some("z2"),
            json!({}),
            vec![pod(
                "big",
                json!({"spec": {"containers": [
            super::fixtures::container("a", "1", "1Gi")]}}),
            )],
        ),
    ];
    let p = spread_pod(zone_constraint(1, "ScheduleAnyway"), json!({}));
    assert_eq!(bound_node(&run(&p, &nodes)), "n3");
    assert_eq!(feasible_names(&p, &nodes).len(), 3, "ScheduleAnyway never filters");
}

fn replica(name: &str, owner_uid: &str) -> Pod {
    pod(
        name,
        json!({"metadata": {
            "labels": {"app": "web"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-rs",
                                 "uid": owner_uid, "controller": true}]
        },
        "spec": {"containers": [super::fixtures::container("app", "10m", "16Mi")]}}),
    )
}

/// Schedule `pods` one at a time, binding each where the scheduler says.
fn place_all(nodes: &mut [NodeState], pods: Vec<Pod>) {
    for p in pods {
        let chosen = bound_node(&run(&p, nodes)).to_string();
        let target = nodes.iter_mut().find(|n| n.node.metadata.name.as_deref() == Some(chosen.as_str()));
        if let Some(target) = target {
            target.pods.push(std::sync::Arc::new(p));
        }
    }
}

fn counts(nodes: &[NodeState]) -> Vec<usize> {
    nodes.iter().map(|n| n.pods.len()).collect()
}

#[test]
fn default_spreading_places_a_replica_set_two_per_node() {
    let mut nodes: Vec<NodeState> = ["n1", "n2", "n3"].iter().map(|n| state(node(n, json!({})), vec![])).collect();
    place_all(&mut nodes, (0..6).map(|i| replica(&format!("web-{i}"), "rs-1")).collect());
    assert_eq!(counts(&nodes), [2, 2, 2]);
}

#[test]
fn default_spreading_counts_only_the_same_owner() {
    // Another ReplicaSet's pods (same labels) already crowd n1; hostname spreading must ignore them,
    // so only resource scores push away from n1 and the new set still spreads evenly.
    let other: Vec<Pod> = (0..3).map(|i| replica(&format!("old-{i}"), "rs-old")).collect();
    let mut nodes = vec![
        state(node("n1", json!({})), other),
        state(node("n2", json!({})), vec![]),
        state(node("n3", json!({})), vec![]),
    ];
    place_all(&mut nodes, (0..4).map(|i| replica(&format!("web-{i}"), "rs-new")).collect());
    let new_per_node: Vec<usize> = nodes
        .iter()
        .map(|n| n.pods.iter().filter(|p| p.metadata.name.as_deref().is_some_and(|s| s.starts_with("web"))).count())
        .collect();
    assert_eq!(new_per_node.iter().sum::<usize>(), 4);
    assert!(new_per_node.iter().all(|c| *c <= 2), "{new_per_node:?}");
}

#[test]
fn default_spreading_without_owner_uses_labels() {
    let mut nodes: Vec<NodeState> = ["n1", "n2"].iter().map(|n| state(node(n, json!({})), vec![])).collect();
    place_all(
        &mut nodes,
        (0..4).map(|i| pod(&format!("b-{i}"), json!({"metadata": {"labels": {"app": "batch"}}}))).collect(),
    );
    assert_eq!(counts(&nodes), [2, 2]);
}

#[test]
fn default_spreading_balances_zones() {
    // Two nodes in z1, one in z2: the zone constraint pulls pods towards z2.
    let mut nodes = vec![
        zoned("a1", Some("z1"), json!({}), vec![]),
        zoned("a2", Some("z1"), json!({}), vec![]),
        zoned("b1", Some("z2"), json!({}), vec![]),
    ];
    place_all(&mut nodes, (0..6).map(|i| replica(&format!("web-{i}"), "rs-1")).collect());
    let per_zone = [nodes[0].pods.len() + nodes[1].pods.len(), nodes[2].pods.len()];
    assert!(per_zone[1] >= 2, "zone z2 got {per_zone:?}");
    assert!(per_zone[0].abs_diff(per_zone[1]) <= 2, "{per_zone:?}");
}

#[test]
fn default_spreading_outweighs_a_bigger_node() {
    let big = node("big", json!({"status": {"allocatable": {"cpu": "64", "memory": "128Gi"}}}));
    let mut nodes =
        vec![state(big, vec![]), state(node("s1", json!({})), vec![]), state(node("s2", json!({})), vec![])];
    let sized = |i: usize| {
        let mut p = replica(&format!("web-{i}"), "rs-1");
        p.spec = pod("x", json!({"spec": {"containers": [super::fixtures::container("app", "1", "2Gi")]}})).spec;
        p
    };
    place_all(&mut nodes, (0..3).map(sized).collect());
    assert_eq!(counts(&nodes), [1, 1, 1]);
}

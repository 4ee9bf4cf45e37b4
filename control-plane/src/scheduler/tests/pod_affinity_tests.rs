use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};

use super::fixtures::{bound_node, expected, feasible_names, message, node, pod, run, state};
use crate::scheduler::NodeState;

const HOST: &str = "kubernetes.io/hostname";
const ZONE: &str = "topology.kubernetes.io/zone";

fn zoned(name: &str, zone: &str, pods: Vec<Pod>) -> NodeState {
    state(node(name, json!({"metadata": {"labels": {ZONE: zone}}})), pods)
}

fn labelled_pod(name: &str, labels: Value) -> Pod {
    pod(name, json!({"metadata": {"labels": labels}}))
}

/// n1, n2 in zone z1 and n3 in z2; a `app=db` pod runs on n1.
fn cluster() -> Vec<NodeState> {
    vec![
        zoned("n1", "z1", vec![labelled_pod("db", json!({"app": "db"}))]),
        zoned("n2", "z1", vec![]),
        zoned("n3", "z2", vec![]),
    ]
}

fn term(app: &str, key: &str) -> Value {
    json!({"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key})
}

fn with_affinity(kind: &str, labels: Value, terms: Value) -> Pod {
    pod(
        "p",
        json!({"metadata": {"labels": labels},
               "spec": {"affinity": {kind: {"requiredDuringSchedulingIgnoredDuringExecution": terms}}}}),
    )
}

#[test]
fn affinity_by_hostname_and_zone() {
    let same_host = with_affinity("podAffinity", json!({"app": "web"}), json!([term("db", HOST)]));
    assert_eq!(feasible_names(&same_host, &cluster()), ["n1"]);
    let same_zone = with_affinity("podAffinity", json!({"app": "web"}), json!([term("db", ZONE)]));
    assert_eq!(feasible_names(&same_zone, &cluster()), ["n1", "n2"]);
}

#[test]
fn anti_affinity_by_hostname_and_zone() {
    let other_host = with_affinity("podAntiAffinity", json!({"app": "web"}), json!([term("db", HOST)]));
    assert_eq!(feasible_names(&other_host, &cluster()), ["n2", "n3"]);
    let other_zone = with_affinity("podAntiAffinity", json!({"app": "web"}), json!([term("db", ZONE)]));
    assert_eq!(feasible_names(&other_zone, &cluster()), ["n3"]);
    let blocked = with_affinity(
        "podAntiAffinity",
        json!({"app": "web"}),
        json!([{"labelSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}, "topologyKey": ZONE}]),
    );
    let nodes = [zoned("n1", "z1", vec![labelled_pod("db", json!({"app": "db"}))]), zoned("n2", "z1", vec![])];
    assert_eq!(message(&run(&blocked, &nodes)), expected(2, "2 node(s) didn't match pod anti-affinity rules"));
}

#[test]
fn existing_pods_anti_affinity_blocks_new_pod() {
    let guard = pod(
        "guard",
        json!({"metadata": {"labels": {"app": "guard"}},
               "spec": {"affinity": {"podAntiAffinity": {
                   "requiredDuringSchedulingIgnoredDuringExecution": [term("web", ZONE)]}}}}),
    );
    let nodes = [zoned("n1", "z1", vec![guard]), zoned("n2", "z1", vec![]), zoned("n3", "z2", vec![])];
    let web = labelled_pod("p", json!({"app": "web"}));
    assert_eq!(feasible_names(&web, &nodes), ["n3"]);
    let only_z1 = &nodes[..2];
    assert_eq!(message(&run(&web, only_z1)), expected(2, "2 node(s) didn't satisfy existing pods anti-affinity rules"));
    assert_eq!(feasible_names(&labelled_pod("p", json!({"app": "api"})), &nodes).len(), 3);
}

#[test]
fn first_pod_of_self_affine_group_may_go_anywhere() {
    let first = with_affinity("podAffinity", json!({"app": "web"}), json!([term("web", ZONE)]));
    assert_eq!(feasible_names(&first, &cluster()).len(), 3);
    // Once one exists, the next must follow it into its zone.
    let nodes = [
        zoned("n1", "z1", vec![]),
        zoned("n2", "z1", vec![]),
        zoned("n3", "z2", vec![labelled_pod("web-0", json!({"app": "web"}))]),
    ];
    assert_eq!(feasible_names(&first, &nodes), ["n3"]);
}

#[test]
fn affinity_to_missing_pods_is_unschedulable() {
    let lonely = with_affinity("podAffinity", json!({"app": "web"}), json!([term("cache", HOST)]));
    assert_eq!(message(&run(&lonely, &cluster())), expected(3, "3 node(s) didn't match pod affinity rules"));
}

#[test]
fn namespaces_scope_terms() {
    let elsewhere = pod("db", json!({"metadata": {"namespace": "other", "labels": {"app": "db"}}}));
    let nodes = [zoned("n1", "z1", vec![elsewhere]), zoned("n2", "z2", vec![])];
    let default_ns = with_affinity("podAffinity", json!({}), json!([term("db", HOST)]));
    assert!(feasible_names(&default_ns, &nodes).is_empty(), "the term defaults to the pod's own namespace");
    let mut listed = term("db", HOST);
    listed["namespaces"] = json!(["other"]);
    assert_eq!(feasible_names(&with_affinity("podAffinity", json!({}), json!([listed])), &nodes), ["n1"]);
    let mut all = term("db", HOST);
    all["namespaceSelector"] = json!({});
    assert_eq!(feasible_names(&with_affinity("podAffinity", json!({}), json!([all])), &nodes), ["n1"]);
}

#[test]
fn preferred_affinity_and_anti_affinity_steer_placement() {
    let prefer = |kind: &str| {
        pod(
            "p",
            json!({"spec": {"affinity": {kind: {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": term("db", ZONE)}]}}}}),
        )
    };
    // Only zone-level preference: n1 and n2 both in z1; n2 is emptier so it wins.
    assert_eq!(bound_node(&run(&prefer("podAffinity"), &cluster())), "n2");
    assert_eq!(bound_node(&run(&prefer("podAntiAffinity"), &cluster())), "n3");
}

use serde_json::{json, Value};

use super::fixtures::{expected, feasible_names, message, node, pod, run, state};

fn with_port(name: &str, port: Value) -> k8s_openapi::api::core::v1::Pod {
    pod(name, json!({"spec": {"containers": [{"name": "c", "image": "x", "ports": [port]}]}}))
}

#[test]
fn host_port_conflicts() {
    let existing = with_port("web", json!({"containerPort": 80, "hostPort": 8080}));
    let nodes = [state(node("n1", json!({})), vec![existing])];
    let check = |port: Value| !feasible_names(&with_port("p", port), &nodes).is_empty();
    assert!(!check(json!({"containerPort": 80, "hostPort": 8080})), "same port, both wildcard");
    assert!(!check(json!({"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.1"})), "wildcard overlaps all");
    assert!(check(json!({"containerPort": 80, "hostPort": 8080, "protocol": "UDP"})), "other protocol");
    assert!(check(json!({"containerPort": 80, "hostPort": 8081})), "other port");
    assert!(check(json!({"containerPort": 8080})), "no host port");
    assert_eq!(
        message(&run(&with_port("p", json!({"containerPort": 1, "hostPort": 8080})), &nodes)),
        expected(1, "1 node(s) didn't have free ports for the requested pod ports")
    );
}

#[test]
fn distinct_host_ips_do_not_conflict() {
    let existing = with_port("web", json!({"containerPort": 80, "hostPort": 53, "hostIP": "10.0.0.1"}));
    let nodes = [state(node("n1", json!({})), vec![existing])];
    let check = |port: Value| !feasible_names(&with_port("p", port), &nodes).is_empty();
    assert!(check(json!({"containerPort": 53, "hostPort": 53, "hostIP": "10.0.0.2"})));
    assert!(!check(json!({"containerPort": 53, "hostPort": 53, "hostIP": "10.0.0.1"})));
    assert!(!check(json!({"containerPort": 53, "hostPort": 53, "hostIP": "0.0.0.0"})));
}

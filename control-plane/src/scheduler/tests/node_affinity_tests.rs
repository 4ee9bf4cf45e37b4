use serde_json::{json, Value};

use super::fixtures::{expected, feasible_names, message, node, pod, run, state};
use crate::scheduler::NodeState;

fn labelled(name: &str, labels: Value) -> NodeState {
    state(node(name, json!({"metadata": {"labels": labels}})), vec![])
}

fn cluster() -> Vec<NodeState> {
    vec![
        labelled("a", json!({"disk": "ssd", "zone": "z1", "cores": "8"})),
        labelled("b", json!({"disk": "hdd", "zone": "z2", "cores": "16"})),
        labelled("c", json!({"zone": "z3", "cores": "x"})),
    ]
}

fn required(terms: Value) -> k8s_openapi::api::core::v1::Pod {
    pod(
        "p",
        json!({"spec": {"affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}}}),
    )
}

fn expr(key: &str, operator: &str, values: &[&str]) -> Value {
    json!({"matchExpressions": [{"key": key, "operator": operator, "values": values}]})
}

#[test]
fn node_selector_requires_all_labels() {
    let p = pod("p", json!({"spec": {"nodeSelector": {"disk": "ssd", "zone": "z1"}}}));
    assert_eq!(feasible_names(&p, &cluster()), ["a"]);
    let none = pod("p", json!({"spec": {"nodeSelector": {"disk": "ssd", "zone": "z2"}}}));
    assert_eq!(message(&run(&none, &cluster())), expected(3, "3 node(s) didn't match Pod's node affinity/selector"));
}

#[test]
fn operators() {
    let names = |terms: Value| feasible_names(&required(terms), &cluster());
    assert_eq!(names(json!([expr("disk", "In", &["ssd", "nvme"])])), ["a"]);
    assert_eq!(names(json!([expr("disk", "NotIn", &["ssd"])])), ["b", "c"]);
    assert_eq!(names(json!([expr("disk", "Exists", &[])])), ["a", "b"]);
    assert_eq!(names(json!([expr("disk", "DoesNotExist", &[])])), ["c"]);
    assert_eq!(names(json!([expr("cores", "Gt", &["8"])])), ["b"]);
    assert_eq!(names(json!([expr("cores", "Lt", &["16"])])), ["a"]);
    assert!(names(json!([expr("cores", "Gt", &["x"])])).is_empty(), "non-numeric bound matches nothing");
}

#[test]
fn terms_are_ored_and_expressions_anded() {
    let terms = json!([
        {"matchExpressions": [
            {"key": "disk", "operator": "In", "values": ["ssd", "hdd"]},
            {"key": "zone", "operator": "In", "values": ["z2"]}]},
        expr("zone", "In", &["z3"])
    ]);
    assert_eq!(feasible_names(&required(terms), &cluster()), ["b", "c"]);
}

#[test]
fn match_fields_on_node_name_and_empty_terms() {
    let by_name = json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["c"]}]}]);
    assert_eq!(feasible_names(&required(by_name), &cluster()), ["c"]);
    assert!(feasible_names(&required(json!([{}])), &cluster()).is_empty(), "an empty term matches nothing");
    assert!(feasible_names(&required(json!([])), &cluster()).is_empty(), "no terms match nothing");
}

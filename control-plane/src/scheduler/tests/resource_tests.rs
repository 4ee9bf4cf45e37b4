use serde_json::json;

use super::fixtures::{container, expected, message, node, pod, run, sized_pod, state};
use crate::scheduler::resources::{pod_requests, RequestMode, CPU, MEMORY};

#[test]
fn pod_fits_when_free_capacity_covers_request() {
    let nodes = [state(node("n1", json!({})), vec![sized_pod("a", "3", "1Gi")])];
    assert!(matches!(run(&sized_pod("p", "1", "1Gi"), &nodes), crate::scheduler::Outcome::Bind { .. }));
    let too_big = sized_pod("p", "1001m", "1Gi");
    assert_eq!(message(&run(&too_big, &nodes)), expected(1, "1 Insufficient cpu"));
}

#[test]
fn memory_and_cpu_shortfalls_are_both_reported() {
    let nodes = [state(node("n1", json!({})), vec![])];
    let huge = sized_pod("p", "5", "9Gi");
    assert_eq!(message(&run(&huge, &nodes)), expected(1, "1 Insufficient cpu, 1 Insufficient memory"));
}

#[test]
fn init_containers_take_the_max_and_sidecars_add() {
    let p = pod(
        "p",
        json!({"spec": {
            "initContainers": [
                container("init-big", "2", "100Mi"),
                {"name": "sidecar", "image": "x", "restartPolicy": "Always",
                 "resources": {"requests": {"cpu": "500m", "memory": "50Mi"}}},
                container("init-after-sidecar", "1", "300Mi")
            ],
            "containers": [container("a", "500m", "100Mi"), container("b", "250m", "100Mi")]
        }}),
    );
    let requests = pod_requests(&p, RequestMode::Actual);
    // cpu: max(app 750m + sidecar 500m, init 2000m, init 1000m + sidecar 500m) = 2000m
    assert_eq!(requests.get(CPU), 2000);
    // memory: max(200Mi + 50Mi, 100Mi, 300Mi + 50Mi) = 350Mi
    assert_eq!(requests.get(MEMORY), 350 * 1024 * 1024);
}

#[test]
fn overhead_and_limits_only_count() {
    let p = pod(
        "p",
        json!({"spec": {
            "overhead": {"cpu": "250m", "memory": "64Mi"},
            "containers": [{"name": "a", "image": "x", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]
        }}),
    );
    let requests = pod_requests(&p, RequestMode::Actual);
    assert_eq!(requests.get(CPU), 1250);
    assert_eq!(requests.get(MEMORY), (1024 + 64) * 1024 * 1024);
}

#[test]
fn non_zero_mode_defaults_missing_requests() {
    let requests = pod_requests(&pod("p", json!({})), RequestMode::NonZero);
    assert_eq!(requests.get(CPU), 100);
    assert_eq!(requests.get(MEMORY), 200 * 1024 * 1024);
    assert_eq!(pod_requests(&pod("p", json!({})), RequestMode::Actual).get(CPU), 0);
}

#[test]
fn sidecar_pushes_pod_over_capacity() {
    let p = pod(
        "p",
        json!({"spec": {
            "initContainers": [{"name": "s", "image": "x", "restartPolicy": "Always",
                                "resources": {"requests": {"cpu": "1"}}}],
            "containers": [container("a", "3500m", "10Mi")]
        }}),
    );
    let nodes = [state(node("n1", json!({})), vec![])];
    assert_eq!(message(&run(&p, &nodes)), expected(1, "1 Insufficient cpu"));
}

#[test]
fn pods_count_limit() {
    let small = node("n1", json!({"status": {"allocatable": {"pods": "2"}}}));
    let nodes = [state(small, vec![pod("a", json!({})), pod("b", json!({}))])];
    assert_eq!(message(&run(&pod("p", json!({})), &nodes)), expected(1, "1 Too many pods"));
}

#[test]
fn extended_and_ephemeral_resources() {
    let gpu_node = node("gpu", json!({"status": {"allocatable": {"example.com/gpu": "1"}}}));
    let plain = node("plain", json!({}));
    let wants_gpu = pod(
        "p",
        json!({"spec": {"containers": [{"name": "a", "image": "x",
            "resources": {"requests": {"example.com/gpu": "1"}, "limits": {"example.com/gpu": "1"}}}]}}),
    );
    let nodes = [state(gpu_node, vec![]), state(plain, vec![])];
    assert_eq!(super::fixtures::bound_node(&run(&wants_gpu, &nodes)), "gpu");
    let occupied = [state(nodes[0].node.as_ref().clone(), vec![wants_gpu.clone()])];
    let second = pod("q", json!({"spec": wants_gpu.spec.clone()}));
    assert_eq!(message(&run(&second, &occupied)), expected(1, "1 Insufficient example.com/gpu"));

    let disk = pod(
        "d",
        json!({"spec": {"containers": [{"name": "a", "image": "x",
            "resources": {"requests": {"ephemeral-storage": "21Gi"}}}]}}),
    );
    assert_eq!(message(&run(&disk, &occupied)), expected(1, "1 Insufficient ephemeral-storage"));
}

#[test]
fn capacity_is_used_when_allocatable_is_missing() {
    let mut n = node("n1", json!({"status": {"capacity": {"cpu": "1", "memory": "1Gi", "pods": "10"}}}));
    if let Some(status) = n.status.as_mut() {
        status.allocatable = None;
    }
    let nodes = [state(n, vec![])];
    assert!(matches!(run(&sized_pod("p", "1", "1Gi"), &nodes), crate::scheduler::Outcome::Bind { .. }));
    assert_eq!(message(&run(&sized_pod("p", "2", "1Gi"), &nodes)), expected(1, "1 Insufficient cpu"));
}

//! Workload controllers on a `keel cluster up` cluster: a ReplicaSet keeps
//! its pods alive, scales up and down, and reports ready replicas.

use keel_e2e::{eventually, Cluster, KUBECTL_NEWEST};
use serde_json::Value;
use std::time::Duration;

const V: &str = KUBECTL_NEWEST;

fn rs_pods(c: &Cluster) -> Vec<Value> {
    let out = c.ok(V, &["get", "pods", "-l", "app=web", "-o", "json"]);
    let list: Value = serde_json::from_str(&out).unwrap_or_default();
    list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect()
}

fn ready_replicas(c: &Cluster) -> i64 {
    let out = c.ok(V, &["get", "rs", "web", "-o", "json"]);
    serde_json::from_str::<Value>(&out).ok().and_then(|v| v["status"]["readyReplicas"].as_i64()).unwrap_or(0)
}

fn wait_ready(c: &Cluster, n: i64) {
    eventually(Duration::from_secs(60), &format!("{n} ready replicas"), || {
        (ready_replicas(c) == n && rs_pods(c).len() as i64 == n).then_some(())
    });
}

#[test]
fn replicasets_keep_scale_and_replace_pods() {
    let c = Cluster::up(2).expect("cluster");
    c.apply(
        V,
        r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: echo
        image: keel-test/echo:v1
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
"#,
    );
    wait_ready(&c, 3);
    let pods = rs_pods(&c);
    assert!(pods.iter().all(|p| p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"));
    assert!(pods.iter().all(|p| p["metadata"]["name"].as_str().unwrap_or("").starts_with("web-")));
    let table = c.ok(V, &["get", "rs", "web"]);
    assert!(table.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()[..4] == ["web", "3", "3", "3"]), "{table}");

    c.ok(V, &["scale", "rs", "web", "--replicas=5"]);
    wait_ready(&c, 5);
    c.ok(V, &["scale", "rs", "web", "--replicas=1"]);
    wait_ready(&c, 1);

    // A deleted pod is replaced.
    let victim = rs_pods(&c)[0]["metadata"]["name"].as_str().unwrap_or("").to_string();
    c.ok(V, &["delete", "pod", &victim, "--wait=false"]);
    let replacement = eventually(Duration::from_secs(60), "a replacement pod", || {
        let pods = rs_pods(&c);
        pods.iter()
            .find(|p| p["metadata"]["name"] != victim.as_str() && p["status"]["phase"] == "Running")
            .map(|p| p["metadata"]["name"].as_str().unwrap_or("").to_string())
    });
    assert_ne!(replacement, victim);
    wait_ready(&c, 1);
}

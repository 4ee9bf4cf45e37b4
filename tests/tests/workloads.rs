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

const RS: &str = r#"
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
"#;

#[test]
fn replicasets_keep_scale_and_replace_pods() {
    let c = Cluster::up(2).expect("cluster");
    c.apply(V, RS);
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

    // A pod relabelled out of the selector is released and replaced.
    let pod = rs_pods(&c)[0]["metadata"]["name"].as_str().unwrap_or("").to_string();
    c.ok(V, &["label", "pod", &pod, "app=elsewhere", "--overwrite"]);
    let released = eventually(Duration::from_secs(30), "the relabelled pod released", || {
        let p = c.pod(V, "default", &pod)?;
        p["metadata"]["ownerReferences"].as_array().is_none_or(|o| o.is_empty()).then_some(p)
    });
    assert_eq!(released["metadata"]["labels"]["app"], "elsewhere");
    wait_ready(&c, 1);
    let events = c.ok(V, &["get", "events", "--field-selector", "involvedObject.name=web,reason=SuccessfulCreate"]);
    assert!(events.contains("Created pod: web-"), "{events}");

    // Orphaned by a `--cascade=orphan` delete, the pod is adopted by a new
    // ReplicaSet with the same selector instead of being replaced.
    let kept = rs_pods(&c)[0]["metadata"]["name"].as_str().unwrap_or("").to_string();
    c.ok(V, &["delete", "rs", "web", "--cascade=orphan"]);
    eventually(Duration::from_secs(30), "the pod orphaned", || {
        let p = c.pod(V, "default", &kept)?;
        p["metadata"]["ownerReferences"].as_array().is_none_or(|o| o.is_empty()).then_some(())
    });
    c.apply(V, &RS.replace("replicas: 3", "replicas: 1"));
    let new_uid = eventually(Duration::from_secs(30), "the new ReplicaSet", || {
        let out = c.ok(V, &["get", "rs", "web", "-o", "json"]);
        serde_json::from_str::<Value>(&out).ok()?["metadata"]["uid"].as_str().map(String::from)
    });
    eventually(Duration::from_secs(30), "the orphan adopted", || {
        let p = c.pod(V, "default", &kept)?;
        (p["metadata"]["ownerReferences"][0]["uid"] == new_uid.as_str()).then_some(())
    });
    wait_ready(&c, 1);
    assert_eq!(rs_pods(&c)[0]["metadata"]["name"], kept.as_str(), "adopted, not replaced");
}

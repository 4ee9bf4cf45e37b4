//! The scheduler on a `keel cluster up` cluster: pods without a node are
//! bound and spread over the nodes; a pod that fits nowhere gets
//! PodScheduled=False and a FailedScheduling event worded like
//! kube-scheduler's; it is bound once a node fits.

use keel_e2e::{eventually, Cluster, KUBECTL_NEWEST};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

const V: &str = KUBECTL_NEWEST;

fn pods(c: &Cluster) -> Vec<Value> {
    let out = c.ok(V, &["get", "pods", "-o", "json"]);
    serde_json::from_str::<Value>(&out).ok().and_then(|v| v["items"].as_array().cloned()).unwrap_or_default()
}

#[test]
fn pods_are_scheduled_spread_and_explained() {
    let c = Cluster::up(3).expect("cluster");
    let mut manifest = String::new();
    for i in 0..6 {
        manifest.push_str(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: web-{i}, labels: {{app: web}}}}\nspec:\n  containers: [{{name: echo, image: \"keel-test/echo:v1\", resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}}}]\n---\n"
        ));
    }
    manifest.push_str(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: picky}\nspec:\n  nodeSelector: {disk: ssd}\n  containers: [{name: echo, image: \"keel-test/echo:v1\"}]\n---\n",
    );
    manifest.push_str(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: huge}\nspec:\n  containers: [{name: echo, image: \"keel-test/echo:v1\", resources: {requests: {memory: 100Ti}}}]\n",
    );
    c.apply(V, &manifest);

    // All six run, spread over the three nodes.
    let placed = eventually(Duration::from_secs(60), "six web pods Running", || {
        let list = pods(&c);
        let web: Vec<&Value> = list.iter().filter(|p| p["metadata"]["labels"]["app"] == "web").collect();
        (web.len() == 6 && web.iter().all(|p| p["status"]["phase"] == "Running")).then(|| {
            let mut per_node: HashMap<String, usize> = HashMap::new();
            for p in web {
                *per_node.entry(p["spec"]["nodeName"].as_str().unwrap_or("").to_string()).or_default() += 1;
            }
            per_node
        })
    });
    assert_eq!(placed.len(), 3, "pods on every node: {placed:?}");
    assert!(placed.values().all(|n| *n == 2), "spread evenly: {placed:?}");
    let events =
        c.ok(V, &["get", "events", "--field-selector", "involvedObject.name=web-0,reason=Scheduled", "-o", "json"]);
    assert!(events.contains("Successfully assigned default/web-0 to"), "{events}");

    // Explained failures, in kube-scheduler's words.
    let want = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.";
    let e = eventually(Duration::from_secs(30), "FailedScheduling for picky", || {
        let e = c.ok(
            V,
            &["get", "events", "--field-selector", "involvedObject.name=picky,reason=FailedScheduling", "-o", "json"],
        );
        e.contains(want).then_some(e)
    });
    assert!(e.contains("Warning"), "{e}");
    let p = c.pod(V, "default", "picky").expect("picky");
    let cond =
        p["status"]["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == "PodScheduled").cloned());
    let cond = cond.unwrap_or_default();
    assert_eq!(cond["status"], "False", "{p:#}");
    assert_eq!(cond["reason"], "Unschedulable");
    eventually(Duration::from_secs(30), "FailedScheduling for huge", || {
        let e = c.ok(V, &["get", "events", "--field-selector", "involvedObject.name=huge", "-o", "json"]);
        e.contains("0/3 nodes are available: 3 Insufficient memory.").then_some(())
    });
    let described = c.ok(V, &["describe", "pod", "picky"]);
    assert!(described.contains("FailedScheduling"), "{described}");

    // Once a node fits, the pod is bound there.
    let node = c.nodes[1].clone();
    c.ok(V, &["label", "node", &node, "disk=ssd"]);
    let p = eventually(Duration::from_secs(30), "picky bound", || {
        c.pod(V, "default", "picky").filter(|p| p["spec"]["nodeName"].as_str() == Some(node.as_str()))
    });
    assert_eq!(p["spec"]["nodeName"], node.as_str());
}

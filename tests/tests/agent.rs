//! Node agents joining a cluster: registration, podCIDRs from the control
//! plane, Lease heartbeats, NotReady when an agent goes silent, and back.

use keel_e2e::{eventually, json, Cluster, Server, KUBECTL_NEWEST};
use std::time::Duration;

const V: &str = KUBECTL_NEWEST;

fn ready(n: &serde_json::Value) -> String {
    n["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c["status"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn unreachable_taint(n: &serde_json::Value) -> bool {
    n["spec"]["taints"].as_array().into_iter().flatten().any(|t| t["key"] == "node.kubernetes.io/unreachable")
}

#[test]
fn agents_register_heartbeat_and_go_not_ready_when_silent() {
    let c = Cluster::up_with(2, &["--server-arg=--node-monitor-grace-period=3", "--agent-arg=--heartbeat-seconds=1"])
        .expect("cluster");
    let (a, b) = (c.nodes[0].clone(), c.nodes[1].clone());
    let node = |name: &str| {
        let out = c.kubectl(V, &["get", "node", name, "-o", "json"]).ok()?;
        out.status.success().then(|| json(&String::from_utf8_lossy(&out.stdout)))
    };
    let na = eventually(Duration::from_secs(20), "node a Ready with a podCIDR", || {
        node(&a).filter(|n| ready(n) == "True" && n["spec"]["podCIDR"].is_string())
    });
    let nb = eventually(Duration::from_secs(20), "node b Ready with a podCIDR", || {
        node(&b).filter(|n| ready(n) == "True" && n["spec"]["podCIDR"].is_string())
    });
    let (ca, cb) =
        (na["spec"]["podCIDR"].as_str().unwrap_or_default(), nb["spec"]["podCIDR"].as_str().unwrap_or_default());
    assert!(ca.starts_with("10.244.") && ca.ends_with("/24"), "{ca}");
    assert_ne!(ca, cb, "each node gets its own podCIDR");
    assert_eq!(na["metadata"]["labels"]["kubernetes.io/hostname"], a.as_str());
    assert!(na["status"]["capacity"]["cpu"].is_string() && na["status"]["capacity"]["memory"].is_string(), "{na}");
    assert_eq!(na["status"]["addresses"][0]["address"], "172.31.0.11");

    let lease = eventually(Duration::from_secs(10), "node a's Lease", || {
        let out = c.kubectl(V, &["get", "lease", &a, "-n", "kube-node-lease", "-o", "json"]).ok()?;
        out.status.success().then(|| json(&String::from_utf8_lossy(&out.stdout)))
    });
    assert_eq!(lease["spec"]["holderIdentity"], a.as_str());
    let table = c.ok(V, &["get", "nodes"]);
    assert!(table.lines().any(|l| l.starts_with(&a) && l.contains(" Ready ")), "{table}");

    // Silence: the control plane marks the node NotReady and taints it.
    c.node_cmd("stop-node", &a);
    let n = eventually(Duration::from_secs(20), "node a NotReady", || {
        node(&a).filter(|n| ready(n) == "Unknown" && unreachable_taint(n))
    });
    assert_eq!(n["spec"]["podCIDR"], na["spec"]["podCIDR"], "the podCIDR stays");
    let table = c.ok(V, &["get", "nodes"]);
    assert!(table.lines().any(|l| l.starts_with(&a) && l.contains("NotReady")), "{table}");
    assert!(table.lines().any(|l| l.starts_with(&b) && l.contains(" Ready ")), "the other node is untouched: {table}");

    // The agent comes back: Ready again, taint gone, same podCIDR.
    c.node_cmd("start-node", &a);
    let n = eventually(Duration::from_secs(20), "node a Ready again", || {
        node(&a).filter(|n| ready(n) == "True" && !unreachable_taint(n))
    });
    assert_eq!(n["spec"]["podCIDR"], na["spec"]["podCIDR"], "{}", c.logs());
}

#[test]
fn server_runs_an_embedded_agent_by_default() {
    // In a network namespace of its own: the embedded agent sets up a pod
    // bridge and routes where it runs.
    let s = Server::start_with_agent_in_netns(&[]).expect("server");
    let nodes = eventually(Duration::from_secs(20), "the embedded agent's node Ready", || {
        let out = s.kubectl(V, &["get", "nodes", "-o", "json"]).ok()?;
        let list = json(&String::from_utf8_lossy(&out.stdout));
        let items = list["items"].as_array().cloned().unwrap_or_default();
        (items.len() == 1 && ready(&items[0]) == "True" && items[0]["spec"]["podCIDR"].is_string()).then_some(items)
    });
    assert_eq!(nodes[0]["status"]["addresses"][0]["type"], "InternalIP", "{}", nodes[0]);
}

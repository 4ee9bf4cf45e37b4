//! Deployments on a 3-node `keel cluster up` cluster, driven by real
//! kubectl: scaling, rolling updates that keep enough pods ready, rollout
//! status/history/undo/pause/resume/restart, the progress deadline,
//! Recreate, and deletion that cascades through ReplicaSets to pods.

use keel_e2e::{eventually, Cluster, KUBECTL_NEWEST, KUBECTL_OLDEST};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const V: &str = KUBECTL_NEWEST;

fn json(c: &Cluster, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&c.ok(V, &all)).unwrap_or_default()
}

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

fn is_ready(p: &Value) -> bool {
    p["status"]["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Pods of the app that are not being deleted.
fn live_pods(c: &Cluster, ns: &str, app: &str) -> Vec<Value> {
    let v = json(c, &["get", "pods", "-n", ns, "-l", &format!("app={app}")]);
    items(&v).into_iter().filter(|p| p["metadata"]["deletionTimestamp"].is_null()).collect()
}

fn wait_pods(c: &Cluster, ns: &str, app: &str, n: usize, image: &str) -> Vec<Value> {
    eventually(Duration::from_secs(90), &format!("{n} ready {app} pods on {image}"), || {
        let pods = live_pods(c, ns, app);
        let ok = pods.len() == n && pods.iter().all(|p| is_ready(p) && p["spec"]["containers"][0]["image"] == image);
        ok.then_some(pods)
    })
}

fn rollout_status(c: &Cluster, version: &str, ns: &str, name: &str) -> String {
    let target = format!("deployment/{name}");
    c.ok(version, &["rollout", "status", "-n", ns, &target, "--timeout=120s"])
}

/// Counts ready pods of an app in the background, remembering the fewest
/// seen, so a rollout can be checked against maxUnavailable.
struct ReadyWatch {
    stop: Arc<AtomicBool>,
    fewest: Arc<Mutex<usize>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ReadyWatch {
    fn start(c: &Cluster, ns: &str, app: &str) -> Self {
        let kubeconfig = c.kubeconfig();
        let (ns, app) = (ns.to_string(), format!("app={app}"));
        let stop = Arc::new(AtomicBool::new(false));
        let fewest = Arc::new(Mutex::new(usize::MAX));
        let (s, f) = (stop.clone(), fewest.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let out = kubectl_json(&kubeconfig, &["get", "pods", "-n", &ns, "-l", &app, "-o", "json"]);
                if let Some(v) = out {
                    let ready = items(&v)
                        .iter()
                        .filter(|p| p["metadata"]["deletionTimestamp"].is_null() && is_ready(p))
                        .count();
                    let mut m = f.lock().unwrap_or_else(|e| e.into_inner());
                    *m = (*m).min(ready);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        ReadyWatch { stop, fewest, thread: Some(thread) }
    }

    fn fewest(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        *self.fewest.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// kubectl from a sampling thread (which cannot borrow the cluster).
fn kubectl_json(kubeconfig: &std::path::Path, args: &[&str]) -> Option<Value> {
    let home = kubeconfig.parent()?;
    let out = keel_e2e::run_kubectl(kubeconfig, home, V, args, None, None).ok()?;
    out.status.success().then(|| serde_json::from_slice(&out.stdout).ok()).flatten()
}

fn echo_version(c: &Cluster, pod: &Value) -> String {
    let ip = pod["status"]["podIP"].as_str().unwrap_or_default();
    let out = c.on_node(1, &["curl", "-s", "--max-time", "5", &format!("http://{ip}:8080/")]);
    let body: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        let mut diag = String::new();
        for i in 1..=3 {
            for cmd in [&["ip", "route"][..], &["ip", "neigh"][..], &["ip", "-br", "addr"][..]] {
                let o = c.on_node(i, cmd);
                diag.push_str(&format!("node {i} {cmd:?}:\n{}\n", String::from_utf8_lossy(&o.stdout)));
            }
        }
        let again = c.on_node(1, &["curl", "-s", "--max-time", "5", &format!("http://{ip}:8080/")]);
        panic!(
            "no echo JSON from {ip} on {} ({e}): {:?} {}\nretry: {:?} {}\n{diag}\n{}",
            pod["spec"]["nodeName"],
            out.status,
            String::from_utf8_lossy(&out.stderr),
            again.status,
            String::from_utf8_lossy(&again.stdout),
            c.logs()
        )
    });
    body["version"].as_str().unwrap_or_default().to_string()
}

const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: echo
        image: keel-test/echo:v1
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
"#;

#[test]
fn deployments_scale_roll_out_and_roll_back() {
    let c = Cluster::up(3).expect("cluster");
    c.apply(V, WEB);
    rollout_status(&c, V, "default", "web");
    wait_pods(&c, "default", "web", 2, "keel-test/echo:v1");
    let d = json(&c, &["get", "deploy", "web"]);
    assert_eq!(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1", "{d}");
    assert_eq!(d["status"]["availableReplicas"], 2);
    let conds: Vec<(String, String)> = d["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| (c["type"].as_str().unwrap_or("").into(), c["reason"].as_str().unwrap_or("").into()))
        .collect();
    assert!(conds.contains(&("Available".into(), "MinimumReplicasAvailable".into())), "{conds:?}");
    assert!(conds.contains(&("Progressing".into(), "NewReplicaSetAvailable".into())), "{conds:?}");
    let table = c.ok(V, &["get", "deploy", "web"]);
    assert!(
        table.lines().any(|l| l.split_whitespace().take(4).collect::<Vec<_>>() == ["web", "2/2", "2", "2"]),
        "{table}"
    );

    // Scale 2 -> 4: the pods spread over all three nodes.
    c.ok(V, &["scale", "deployment", "web", "--replicas=4"]);
    let pods = wait_pods(&c, "default", "web", 4, "keel-test/echo:v1");
    let nodes: HashSet<&str> = pods.iter().filter_map(|p| p["spec"]["nodeName"].as_str()).collect();
    assert_eq!(nodes.len(), 3, "4 replicas on 3 nodes should use every node: {nodes:?}");
    assert_eq!(items(&json(&c, &["get", "rs", "-l", "app=web"])).len(), 1, "scaling makes no new ReplicaSet");

    // v1 -> v2 with maxUnavailable 1: never fewer than 3 ready.
    let watch = ReadyWatch::start(&c, "default", "web");
    c.ok(V, &["set", "image", "deployment/web", "echo=keel-test/echo:v2"]);
    let out = rollout_status(&c, V, "default", "web");
    assert!(out.contains("successfully rolled out"), "{out}");
    let pods = wait_pods(&c, "default", "web", 4, "keel-test/echo:v2");
    let fewest = watch.fewest();
    assert!(fewest >= 3, "the rollout went down to {fewest} ready pods (maxUnavailable 1 of 4)");
    assert_eq!(echo_version(&c, &pods[0]), "v2");
    let rs = items(&json(&c, &["get", "rs", "-l", "app=web"]));
    assert_eq!(rs.len(), 2, "old ReplicaSet kept for history");
    assert!(rs.iter().all(|r| r["metadata"]["labels"]["pod-template-hash"].is_string()));

    let history = c.ok(V, &["rollout", "history", "deployment/web"]);
    let revisions: Vec<&str> =
        history.lines().filter_map(|l| l.split_whitespace().next()).filter(|w| w.parse::<u32>().is_ok()).collect();
    assert_eq!(revisions, ["1", "2"], "{history}");

    // Undo goes back to v1 as revision 3; the old kubectl does it the same way.
    c.ok(KUBECTL_OLDEST, &["rollout", "undo", "deployment/web"]);
    rollout_status(&c, KUBECTL_OLDEST, "default", "web");
    let pods = wait_pods(&c, "default", "web", 4, "keel-test/echo:v1");
    assert_eq!(echo_version(&c, &pods[0]), "v1");
    let d = json(&c, &["get", "deploy", "web"]);
    assert_eq!(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "3");
    assert_eq!(items(&json(&c, &["get", "rs", "-l", "app=web"])).len(), 2, "undo reuses the v1 ReplicaSet");

    // Pause: a template change waits; resume rolls it out.
    c.ok(V, &["rollout", "pause", "deployment/web"]);
    c.ok(V, &["set", "image", "deployment/web", "echo=keel-test/echo:v2"]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(items(&json(&c, &["get", "rs", "-l", "app=web"])).len(), 2, "no new ReplicaSet while paused");
    assert!(live_pods(&c, "default", "web").iter().all(|p| p["spec"]["containers"][0]["image"] == "keel-test/echo:v1"));
    let d = json(&c, &["get", "deploy", "web"]);
    let progressing =
        d["status"]["conditions"].as_array().into_iter().flatten().find(|c| c["type"] == "Progressing").cloned();
    assert_eq!(progressing.unwrap_or_default()["reason"], "DeploymentPaused");
    c.ok(V, &["rollout", "resume", "deployment/web"]);
    rollout_status(&c, V, "default", "web");
    wait_pods(&c, "default", "web", 4, "keel-test/echo:v2");

    // Restart replaces every pod with the same image.
    let before: HashSet<String> = live_pods(&c, "default", "web")
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str().map(String::from))
        .collect();
    c.ok(V, &["rollout", "restart", "deployment/web"]);
    rollout_status(&c, V, "default", "web");
    let after = wait_pods(&c, "default", "web", 4, "keel-test/echo:v2");
    assert!(after.iter().all(|p| !before.contains(p["metadata"]["name"].as_str().unwrap_or(""))), "restart kept a pod");

    // Scale 4 -> 1.
    c.ok(V, &["scale", "deployment", "web", "--replicas=1"]);
    wait_pods(&c, "default", "web", 1, "keel-test/echo:v2");
    let d = json(&c, &["get", "deploy", "web"]);
    assert_eq!(
        (d["status"]["replicas"].as_i64(), d["status"]["availableReplicas"].as_i64()),
        (Some(1), Some(1)),
        "{d}"
    );
}

#[test]
fn stuck_rollouts_time_out_and_recreate_does_not_overlap() {
    let c = Cluster::up(3).expect("cluster");
    c.apply(
        V,
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck}
spec:
  replicas: 1
  progressDeadlineSeconds: 5
  selector: {matchLabels: {app: stuck}}
  template:
    metadata: {labels: {app: stuck}}
    spec:
      containers: [{name: c, image: keel-test/missing:v1}]
"#,
    );
    let out =
        c.kubectl(V, &["rollout", "status", "deployment/stuck", "--timeout=60s"]).expect("kubectl rollout status");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("exceeded its progress deadline"), "{text}");

    c.apply(
        V,
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: once}
spec:
  replicas: 2
  strategy: {type: Recreate}
  selector: {matchLabels: {app: once}}
  template:
    metadata: {labels: {app: once}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: echo
        image: keel-test/echo:v1
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
"#,
    );
    rollout_status(&c, V, "default", "once");
    // Record every pod seen: v1 and v2 pods must never run at once.
    let stop = Arc::new(AtomicBool::new(false));
    let overlap = Arc::new(AtomicBool::new(false));
    let (s, o, kubeconfig) = (stop.clone(), overlap.clone(), c.kubeconfig());
    let sampler = std::thread::spawn(move || {
        while !s.load(Ordering::SeqCst) {
            if let Some(v) = kubectl_json(&kubeconfig, &["get", "pods", "-l", "app=once", "-o", "json"]) {
                let running: HashSet<String> = items(&v)
                    .iter()
                    .filter(|p| p["status"]["phase"] == "Running")
                    .filter_map(|p| p["spec"]["containers"][0]["image"].as_str().map(String::from))
                    .collect();
                if running.len() > 1 {
                    o.store(true, Ordering::SeqCst);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    c.ok(V, &["set", "image", "deployment/once", "echo=keel-test/echo:v2"]);
    rollout_status(&c, V, "default", "once");
    wait_pods(&c, "default", "once", 2, "keel-test/echo:v2");
    stop.store(true, Ordering::SeqCst);
    let _ = sampler.join();
    assert!(!overlap.load(Ordering::SeqCst), "Recreate ran v1 and v2 pods at the same time");
}

fn count(c: &Cluster, ns: &str, kind: &str, selector: &str) -> usize {
    items(&json(c, &["get", kind, "-n", ns, "-l", selector])).len()
}

#[test]
fn deletion_cascades_orphans_and_empties_namespaces() {
    let c = Cluster::up(2).expect("cluster");
    c.ok(V, &["create", "namespace", "shop"]);
    let manifest = |name: &str| {
        format!(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: shop}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{{name: echo, image: keel-test/echo:v1}}]
"#
        )
    };
    // Background (kubectl's default): ReplicaSets and pods follow.
    c.apply(V, &manifest("bg"));
    wait_pods(&c, "shop", "bg", 2, "keel-test/echo:v1");
    c.ok(V, &["delete", "deployment", "bg", "-n", "shop"]);
    eventually(Duration::from_secs(60), "bg ReplicaSets and pods gone", || {
        (count(&c, "shop", "rs", "app=bg") == 0 && count(&c, "shop", "pods", "app=bg") == 0).then_some(())
    });

    // Foreground: the Deployment stays until its dependents are gone.
    c.apply(V, &manifest("fg"));
    wait_pods(&c, "shop", "fg", 2, "keel-test/echo:v1");
    c.ok(V, &["delete", "deployment", "fg", "-n", "shop", "--cascade=foreground", "--wait=false"]);
    let d = json(&c, &["get", "deployment", "fg", "-n", "shop"]);
    assert!(d["metadata"]["finalizers"].to_string().contains("foregroundDeletion"), "{d}");
    eventually(Duration::from_secs(60), "fg gone after its pods", || {
        let gone =
            c.kubectl(V, &["get", "deployment", "fg", "-n", "shop"]).map(|o| !o.status.success()).unwrap_or(false);
        (gone && count(&c, "shop", "rs", "app=fg") == 0 && count(&c, "shop", "pods", "app=fg") == 0).then_some(())
    });

    // Orphan: the ReplicaSet and pods stay, without an owner; a new
    // Deployment with the same selector adopts the ReplicaSet.
    c.apply(V, &manifest("keep"));
    wait_pods(&c, "shop", "keep", 2, "keel-test/echo:v1");
    c.ok(V, &["delete", "deployment", "keep", "-n", "shop", "--cascade=orphan"]);
    let rs = eventually(Duration::from_secs(30), "keep's ReplicaSet orphaned", || {
        let gone =
            c.kubectl(V, &["get", "deployment", "keep", "-n", "shop"]).map(|o| !o.status.success()).unwrap_or(false);
        let rs = items(&json(&c, &["get", "rs", "-n", "shop", "-l", "app=keep"]));
        (gone && rs.len() == 1 && rs[0]["metadata"]["ownerReferences"].as_array().is_none_or(|o| o.is_empty()))
            .then(|| rs[0].clone())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(live_pods(&c, "shop", "keep").len(), 2, "orphaned pods stay");
    c.apply(V, &manifest("keep"));
    eventually(Duration::from_secs(30), "the ReplicaSet adopted", || {
        let now = json(&c, &["get", "rs", "-n", "shop", rs["metadata"]["name"].as_str().unwrap_or("")]);
        (now["metadata"]["ownerReferences"][0]["kind"] == "Deployment").then_some(())
    });
    rollout_status(&c, V, "shop", "keep");

    // A namespace takes everything in it along.
    c.ok(V, &["create", "configmap", "settings", "-n", "shop", "--from-literal=a=b"]);
    c.ok(V, &["delete", "namespace", "shop", "--wait=false"]);
    eventually(Duration::from_secs(90), "namespace shop gone", || {
        c.kubectl(V, &["get", "namespace", "shop"]).ok().filter(|o| !o.status.success()).map(|_| ())
    });
    let left = c.ok(V, &["get", "pods,rs,deploy,cm", "-A", "-o", "name"]);
    assert!(!left.contains("keep") && !left.contains("settings"), "{left}");
}

fn node_json(c: &Cluster, node: &str) -> Value {
    json(c, &["get", "node", node])
}

fn node_ready(n: &Value) -> String {
    let conds = n["status"]["conditions"].as_array().cloned().unwrap_or_default();
    conds.iter().find(|c| c["type"] == "Ready").and_then(|c| c["status"].as_str()).unwrap_or("").to_string()
}

#[test]
fn pods_leave_a_dead_node_and_it_comes_back() {
    // 5 s without a lease renewal makes a node NotReady; pods tolerate the
    // unreachable taint for 5 s (the defaults are 20 s and 30 s).
    let c = Cluster::up_with(
        3,
        &["--server-arg=--node-monitor-grace-period=5", "--server-arg=--default-unreachable-toleration-seconds=5"],
    )
    .expect("cluster");
    c.apply(V, &WEB.replace("replicas: 2", "replicas: 3"));
    let pods = wait_pods(&c, "default", "web", 3, "keel-test/echo:v1");
    let tolerations = pods[0]["spec"]["tolerations"].to_string();
    assert!(
        tolerations.contains("node.kubernetes.io/unreachable") && tolerations.contains("\"tolerationSeconds\":5"),
        "{tolerations}"
    );
    let victim = pods[0]["spec"]["nodeName"].as_str().unwrap_or_default().to_string();
    let on_victim: Vec<String> = pods
        .iter()
        .filter(|p| p["spec"]["nodeName"] == victim.as_str())
        .filter_map(|p| p["metadata"]["name"].as_str().map(String::from))
        .collect();

    let stopped = std::time::Instant::now();
    c.node_cmd("stop-node", &victim);
    let n = eventually(Duration::from_secs(60), "the node NotReady and tainted", || {
        let n = node_json(&c, &victim);
        (node_ready(&n) == "Unknown" && n["spec"]["taints"].to_string().contains("NoExecute")).then_some(n)
    });
    assert!(n["spec"]["taints"].to_string().contains("node.kubernetes.io/unreachable"), "{n}");
    let moved = eventually(Duration::from_secs(90), "3 ready pods on the other nodes", || {
        let pods = live_pods(&c, "default", "web");
        let ok = pods.len() == 3 && pods.iter().all(|p| is_ready(p) && p["spec"]["nodeName"] != victim.as_str());
        ok.then_some(pods)
    });
    eprintln!("pods moved off {victim} {:.1} s after its agent stopped", stopped.elapsed().as_secs_f64());
    assert!(moved.iter().all(|p| !on_victim.contains(&p["metadata"]["name"].as_str().unwrap_or("").to_string())));
    let evicted = json(&c, &["get", "pod", &on_victim[0]]);
    assert!(evicted["metadata"]["deletionTimestamp"].is_string(), "{evicted}");
    assert!(evicted["status"]["conditions"].to_string().contains("DeletionByTaintManager"), "{evicted}");
    let events = c.ok(V, &["get", "events", "--field-selector", "reason=TaintManagerEviction"]);
    assert!(events.contains(&on_victim[0]), "{events}");

    // The node comes back: Ready, untainted, and the evicted pods finish.
    c.node_cmd("start-node", &victim);
    eventually(Duration::from_secs(60), "the node Ready without condition taints", || {
        let n = node_json(&c, &victim);
        (node_ready(&n) == "True" && !n["spec"]["taints"].to_string().contains("node.kubernetes.io/")).then_some(())
    });
    eventually(Duration::from_secs(60), "the evicted pods gone", || {
        let all = items(&json(&c, &["get", "pods", "-l", "app=web"]));
        (!all.iter().any(|p| on_victim.contains(&p["metadata"]["name"].as_str().unwrap_or("").to_string())))
            .then_some(())
    });
}

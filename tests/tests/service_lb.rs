//! Services through the eBPF socket load balancer on a 3-node
//! `keel cluster up`: ClusterIPs reached from pods on every node with every
//! backend answering (the echo image reports which pod it is), UDP,
//! session affinity, internalTrafficPolicy Local, a service without
//! endpoints refused at once, backends following scale-up and deletion,
//! and an agent restart under a steady request loop losing nothing.
//! Clients are busybox `nc` in toolbox pods pinned to each node.

use keel_e2e::{eventually, Cluster, KUBECTL_NEWEST};
use serde_json::Value;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const V: &str = KUBECTL_NEWEST;

fn backends(replicas: u32, extra_spec: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: echo
        image: keel-test/echo:v1
        ports: [{{name: http, containerPort: 8080}}]
        readinessProbe: {{httpGet: {{path: /healthz, port: 8080}}, periodSeconds: 1}}
{extra_spec}---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: http}}, {{name: udp, port: 53, targetPort: 8080, protocol: UDP}}]
---
"#
    )
}

fn clients(c: &Cluster) -> String {
    let mut out = String::new();
    for (i, node) in c.nodes.iter().enumerate() {
        out.push_str(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: client-{i}}}\nspec:\n  nodeName: {node}\n  terminationGracePeriodSeconds: 0\n  containers: [{{name: c, image: \"keel-test/toolbox:latest\", imagePullPolicy: IfNotPresent, command: [sleep, \"3600\"]}}]\n---\n"
        ));
    }
    out
}

fn cluster_ip(c: &Cluster, svc: &str) -> String {
    c.ok(V, &["get", "service", svc, "-o", "jsonpath={.spec.clusterIP}"]).trim().to_string()
}

/// One HTTP request through `nc` from a client pod: the echo JSON, or the error text.
fn http(c: &Cluster, client: &str, ip: &str, port: u16) -> Result<Value, String> {
    let cmd = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {ip} {port}");
    let out = c.kubectl(V, &["exec", client, "--", "sh", "-c", &cmd]).map_err(|e| e.to_string())?;
    let body = String::from_utf8_lossy(&out.stdout);
    let json = body.lines().last().and_then(|l| serde_json::from_str::<Value>(l).ok());
    json.ok_or_else(|| format!("{body}{}", String::from_utf8_lossy(&out.stderr)))
}

fn hostname(v: &Value) -> String {
    v["hostname"].as_str().unwrap_or_default().to_string()
}

fn ready_pods(c: &Cluster, selector: &str) -> Vec<Value> {
    let out = c.ok(V, &["get", "pods", "-l", selector, "-o", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap_or_default();
    v["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter(|p| {
            p["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
        .collect()
}

fn names(pods: &[Value]) -> HashSet<String> {
    pods.iter().filter_map(|p| p["metadata"]["name"].as_str().map(String::from)).collect()
}

fn up_with_app(extra: &str) -> (Cluster, HashSet<String>) {
    let c = Cluster::up(3).expect("cluster");
    c.apply(V, &(backends(3, "") + extra + &clients(&c)));
    let web = eventually(Duration::from_secs(90), "3 web pods and 3 clients ready", || {
        let web = ready_pods(&c, "app=web");
        let clients = (0..3)
            .all(|i| c.pod(V, "default", &format!("client-{i}")).is_some_and(|p| p["status"]["phase"] == "Running"));
        (web.len() == 3 && clients).then(|| names(&web))
    });
    (c, web)
}

#[test]
fn cluster_ips_reach_every_backend_from_every_node() {
    let extra = r#"
apiVersion: v1
kind: Service
metadata: {name: empty}
spec:
  selector: {app: nothing}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: web}
  sessionAffinity: ClientIP
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: local}
spec:
  selector: {app: web}
  internalTrafficPolicy: Local
  ports: [{port: 80, targetPort: 8080}]
---
"#;
    let (c, web) = up_with_app(extra);
    let ip = cluster_ip(&c, "web");
    // Every client, on every node, reaches every backend through the ClusterIP.
    for i in 0..3 {
        let client = format!("client-{i}");
        let seen = eventually(Duration::from_secs(60), &format!("{client} reaching all 3 backends"), || {
            let mut seen = HashSet::new();
            for _ in 0..30 {
                if let Ok(v) = http(&c, &client, &ip, 80) {
                    seen.insert(hostname(&v));
                }
                if seen == web {
                    return Some(seen);
                }
            }
            None
        });
        assert_eq!(seen, web);
    }

    // UDP, connected and unconnected; apps see the service address as the
    // peer (getpeername for TCP and connected UDP, the source of replies
    // for unconnected UDP).
    for (mode, port) in [("tcp", 80), ("udp-connected", 53), ("udp", 53)] {
        let out = c.ok(V, &["exec", "client-0", "--", "echo-server", "probe", mode, &format!("{ip}:{port}")]);
        let mut lines = out.lines();
        let v: Value = serde_json::from_str(lines.next().unwrap_or("")).unwrap_or_default();
        assert!(web.contains(&hostname(&v)), "{mode}: {out}");
        assert_eq!(lines.next(), Some(format!("peer={ip}:{port}").as_str()), "{mode}: {out}");
    }

    // A service without endpoints is refused at once, not after a timeout.
    let empty = cluster_ip(&c, "empty");
    let start = Instant::now();
    let err = http(&c, "client-0", &empty, 80).expect_err("no backends");
    assert!(err.contains("not permitted") || err.contains("refused"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(2), "refusal took {:?}", start.elapsed());

    // ClientIP affinity pins one client to one backend.
    let sticky = cluster_ip(&c, "sticky");
    let picked: HashSet<String> =
        (0..15).filter_map(|_| http(&c, "client-1", &sticky, 80).ok()).map(|v| hostname(&v)).collect();
    assert_eq!(picked.len(), 1, "affinity: {picked:?}");

    // internalTrafficPolicy Local: only backends on the client's own node.
    let local = cluster_ip(&c, "local");
    let pods = ready_pods(&c, "app=web");
    for i in 0..3 {
        let node = &c.nodes[i];
        let here: HashSet<String> = pods
            .iter()
            .filter(|p| p["spec"]["nodeName"] == node.as_str())
            .filter_map(|p| p["metadata"]["name"].as_str().map(String::from))
            .collect();
        let got: HashSet<String> =
            (0..10).filter_map(|_| http(&c, &format!("client-{i}"), &local, 80).ok()).map(|v| hostname(&v)).collect();
        if here.is_empty() {
            assert!(got.is_empty(), "no local backend on {node}, yet {got:?} answered");
        } else {
            assert!(got.is_subset(&here) && !got.is_empty(), "{node}: {got:?} not within {here:?}");
        }
    }

    // The kernel's own view: frontends, backends and counters from the maps,
    // and no ClusterIP route out of a node (untranslated traffic would fail).
    let keel = keel_e2e::keel_bin();
    let list =
        std::process::Command::new(&keel).args(["lb", "list", "--node", &c.nodes[0]]).output().expect("keel lb list");
    let list = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(list.contains(&format!("{ip}:80")) && list.contains("<none: refused>"), "{list}");
    let stats =
        std::process::Command::new(&keel).args(["lb", "stats", "--node", &c.nodes[0]]).output().expect("keel lb stats");
    let stats = String::from_utf8_lossy(&stats.stdout).to_string();
    let line = stats.lines().find(|l| l.contains(&format!("{ip}:80"))).unwrap_or_default().to_string();
    let translated: u64 = line.split_whitespace().nth(4).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(translated >= 3, "{stats}");
    // The same counters for Prometheus, on the agent's /metrics.
    let metrics = c.on_node(1, &["curl", "-s", "--max-time", "5", "http://127.0.0.1:10249/metrics"]);
    let metrics = String::from_utf8_lossy(&metrics.stdout).to_string();
    let series = format!("keel_lb_translated_total{{node=\"{}\",frontend=\"{ip}:80\",protocol=\"TCP\"}}", c.nodes[0]);
    let value: u64 =
        metrics.lines().find_map(|l| l.strip_prefix(&series)).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    assert!(value >= 3, "{series} in:\n{metrics}");
    assert!(metrics.contains("# TYPE keel_lb_backends gauge"), "{metrics}");
    let route = c.on_node(1, &["ip", "route", "get", &ip]);
    let text = String::from_utf8_lossy(&route.stdout).to_string() + &String::from_utf8_lossy(&route.stderr);
    assert!(text.contains("unreachable") || text.contains("No route"), "{text}");
}

#[test]
fn backends_follow_scaling_and_deletion() {
    let (c, web) = up_with_app("");
    let ip = cluster_ip(&c, "web");
    c.ok(V, &["scale", "deployment", "web", "--replicas=4"]);
    let new = eventually(Duration::from_secs(60), "a 4th ready backend", || {
        let pods = names(&ready_pods(&c, "app=web"));
        pods.difference(&web).next().cloned()
    });
    let ready_at = Instant::now();
    eventually(Duration::from_secs(30), "traffic reaching the new backend", || {
        (0..20).filter_map(|_| http(&c, "client-0", &ip, 80).ok()).any(|v| hostname(&v) == new).then_some(())
    });
    eprintln!("new backend {new} got traffic {:.2} s after it was seen Ready", ready_at.elapsed().as_secs_f64());

    // A deleted pod gets no new connection once its endpoint is gone.
    let victim = web.iter().next().cloned().unwrap_or_default();
    c.ok(V, &["delete", "pod", &victim, "--wait=false"]);
    eventually(Duration::from_secs(30), "the victim's endpoint not ready", || {
        let out = c.ok(V, &["get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "json"]);
        let ready_victim = out.contains(&victim) && {
            let v: Value = serde_json::from_str(&out).unwrap_or_default();
            v["items"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
                .any(|e| e["targetRef"]["name"] == victim.as_str() && e["conditions"]["ready"] == true)
        };
        (!ready_victim).then_some(())
    });
    for _ in 0..20 {
        if let Ok(v) = http(&c, "client-1", &ip, 80) {
            assert_ne!(hostname(&v), victim, "a new connection reached the deleted pod");
        }
    }
}

#[test]
fn an_agent_restart_loses_no_request() {
    let (c, _) = up_with_app("");
    let ip = cluster_ip(&c, "web");
    let node = c.nodes[0].clone();
    // The loop runs inside a pod (kubectl exec would go through the agent
    // being restarted); its log says how each of 60 requests went.
    let script = format!(
        "i=0; while [ $i -lt 60 ]; do if out=$(echo-server probe tcp {ip}:80 2>&1) && echo \"$out\" | grep -q hostname; then echo OK; else echo \"FAIL $out\"; fi; i=$((i+1)); sleep 0.1; done; echo DONE; sleep 3600"
    );
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: looper}}\nspec:\n  nodeName: {node}\n  containers: [{{name: c, image: \"keel-test/toolbox:latest\", imagePullPolicy: IfNotPresent, command: [sh, -c, {}]}}]\n",
        serde_json::to_string(&script).unwrap_or_default()
    );
    c.apply(V, &manifest);
    eventually(Duration::from_secs(30), "the loop running", || {
        c.kubectl(V, &["logs", "looper"]).ok().filter(|o| String::from_utf8_lossy(&o.stdout).contains("OK")).map(|_| ())
    });
    c.node_cmd("stop-node", &node);
    std::thread::sleep(Duration::from_millis(500));
    c.node_cmd("start-node", &node);
    let log = eventually(Duration::from_secs(60), "the loop done", || {
        let o = c.kubectl(V, &["logs", "looper"]).ok()?;
        let log = String::from_utf8_lossy(&o.stdout).to_string();
        log.contains("DONE").then_some(log)
    });
    let ok = log.lines().filter(|l| *l == "OK").count();
    assert_eq!((ok, log.matches("FAIL").count()), (60, 0), "{log}");
}

/// One HTTP GET from the underlay (outside every node): the echo JSON.
fn from_outside(c: &Cluster, url: &str) -> Option<Value> {
    let out = c.on_underlay(&["curl", "-s", "--max-time", "3", url]);
    serde_json::from_slice(&out.stdout).ok()
}

fn node_ip(i: usize) -> String {
    format!("172.31.0.{}", 11 + i)
}

#[test]
fn outside_traffic_reaches_node_ports_and_load_balancers() {
    let extra = r#"
apiVersion: v1
kind: Service
metadata: {name: np}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: lb}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
"#;
    let (c, web) = up_with_app(extra);
    let node_port = c.ok(V, &["get", "service", "np", "-o", "jsonpath={.spec.ports[0].nodePort}"]).trim().to_string();
    // NodePort on every node, from outside: every backend answers, remote
    // ones through SNAT (they see the node), local ones see the client.
    let mut seen = HashSet::new();
    let mut snat_seen = false;
    for i in 0..3 {
        let url = format!("http://{}:{node_port}/", node_ip(i));
        let answers: Vec<Value> =
            eventually(Duration::from_secs(30), &format!("NodePort answers on {}", node_ip(i)), || {
                let a: Vec<Value> = (0..15).filter_map(|_| from_outside(&c, &url)).collect();
                (a.len() == 15).then_some(a)
            });
        for a in &answers {
            assert!(web.contains(&hostname(a)), "{a}");
            seen.insert(hostname(a));
            let remote = a["remote"].as_str().unwrap_or_default();
            snat_seen |= remote.starts_with(&format!("{}:", node_ip(i)));
            assert!(remote.starts_with("172.31.0.1:") || remote.starts_with(&format!("{}:", node_ip(i))), "{a}");
        }
    }
    assert_eq!(seen, web, "every backend reached through the NodePorts");
    assert!(snat_seen, "remote backends are reached through SNAT to the node");

    // The LoadBalancer address, announced by ARP from one node with a
    // local endpoint: Local policy keeps the client's address and only that
    // node's pods answer; its health port says how many it has.
    let lb_ip = eventually(Duration::from_secs(30), "an address for lb", || {
        let ip = c.ok(V, &["get", "service", "lb", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"]);
        (!ip.trim().is_empty()).then(|| ip.trim().to_string())
    });
    let answers: Vec<Value> = eventually(Duration::from_secs(30), "answers on the LoadBalancer address", || {
        let a: Vec<Value> = (0..10).filter_map(|_| from_outside(&c, &format!("http://{lb_ip}/"))).collect();
        (a.len() == 10).then_some(a)
    });
    let pods = ready_pods(&c, "app=web");
    let node_of = |name: &str| {
        pods.iter()
            .find(|p| p["metadata"]["name"] == name)
            .and_then(|p| p["spec"]["nodeName"].as_str())
            .map(String::from)
    };
    let nodes: HashSet<Option<String>> = answers.iter().map(|a| node_of(&hostname(a))).collect();
    assert_eq!(nodes.len(), 1, "one node announces and serves the address: {answers:?}");
    let announcer = nodes.into_iter().next().flatten().unwrap_or_default();
    for a in &answers {
        assert!(a["remote"].as_str().unwrap_or_default().starts_with("172.31.0.1:"), "client address kept: {a}");
    }
    let idx = c.nodes.iter().position(|n| *n == announcer).unwrap_or(0);
    let local = pods.iter().filter(|p| p["spec"]["nodeName"] == announcer.as_str()).count();
    let hc_port = c.ok(V, &["get", "service", "lb", "-o", "jsonpath={.spec.healthCheckNodePort}"]).trim().to_string();
    let health = c.on_underlay(&[
        "curl",
        "-s",
        "-w",
        "\n%{http_code}",
        "--max-time",
        "3",
        &format!("http://{}:{hc_port}/", node_ip(idx)),
    ]);
    let health = String::from_utf8_lossy(&health.stdout).to_string();
    assert!(health.ends_with("200") && health.contains(&format!("\"localEndpoints\":{local}")), "{health}");
    // A pod's hostPort, reached from outside at its node's address.
    let hp = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: hp}}\nspec:\n  nodeName: {}\n  containers: [{{name: echo, image: keel-test/echo:v1, ports: [{{containerPort: 8080, hostPort: 8081}}]}}]\n",
        c.nodes[1]
    );
    c.apply(V, &hp);
    let a = eventually(Duration::from_secs(60), "the hostPort answering", || {
        from_outside(&c, &format!("http://{}:8081/", node_ip(1)))
    });
    assert_eq!(hostname(&a), "hp", "{a}");
    assert!(a["remote"].as_str().unwrap_or_default().starts_with("172.31.0.1:"), "client address kept: {a}");
    let list = std::process::Command::new(keel_e2e::keel_bin())
        .args(["lb", "list", "--node", &c.nodes[0]])
        .output()
        .expect("keel lb list");
    let list = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(list.contains("external") && list.contains(&format!("{}:{node_port}", node_ip(0))), "{list}");
}

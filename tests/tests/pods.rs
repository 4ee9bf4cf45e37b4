//! Real pods on a real multi-node network (`keel cluster up`), driven by
//! real kubectl: pod-to-pod traffic across nodes, configuration inside
//! containers, restarts, probes, init containers, agent restarts, bad
//! input, and a `cluster down` that leaves nothing behind.

use keel_e2e::{eventually, Cluster, KUBECTL_NEWEST};
use serde_json::Value;
use std::time::Duration;

const V: &str = KUBECTL_NEWEST;
const WAIT: Duration = Duration::from_secs(60);

fn phase(p: &Value) -> &str {
    p["status"]["phase"].as_str().unwrap_or("")
}

fn container_status<'a>(p: &'a Value, name: &str) -> &'a Value {
    p["status"]["containerStatuses"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or(&Value::Null)
}

fn condition(p: &Value, kind: &str) -> String {
    p["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == kind)
        .and_then(|c| c["status"].as_str())
        .unwrap_or("")
        .to_string()
}

/// Wait for a pod to satisfy `check`, with the cluster's logs on failure.
fn wait_pod(c: &Cluster, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(p) = c.pod(V, "default", name) {
            if check(&p) {
                return p;
            }
            if std::time::Instant::now() > deadline {
                panic!("pod {name}: timed out waiting for {what}; pod:\n{p:#}\n{}", c.logs());
            }
        } else if std::time::Instant::now() > deadline {
            panic!("pod {name} never appeared\n{}", c.logs());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A toolbox pod on `node` that runs `script` once and reports its output
/// as the termination message.
fn probe_pod(name: &str, node: &str, script: &str) -> String {
    probe_pod_with(name, node, "", script)
}

/// A probe pod with more spec fields (`spec` holds YAML lines indented by two spaces).
fn probe_pod_with(name: &str, node: &str, spec: &str, script: &str) -> String {
    let script = serde_json::to_string(&format!("({script}) > /dev/termination-log 2>&1")).unwrap_or_default();
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  nodeName: {node}
  restartPolicy: Never
{spec}
  containers:
  - name: main
    image: keel-test/toolbox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", {script}]
"#
    )
}

fn termination_message(c: &Cluster, name: &str) -> String {
    let p = wait_pod(c, name, "completion", |p| matches!(phase(p), "Succeeded" | "Failed"));
    container_status(&p, "main")["state"]["terminated"]["message"].as_str().unwrap_or("").to_string()
}

fn echo_pod(name: &str, node: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: echo}}}}
spec:
  nodeName: {node}
  containers:
  - name: echo
    image: keel-test/echo:v1
    env:
    - {{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
    - {{name: POD_NAMESPACE, valueFrom: {{fieldRef: {{fieldPath: metadata.namespace}}}}}}
    - {{name: POD_IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}
    ports: [{{containerPort: 8080, name: http}}]
    readinessProbe: {{httpGet: {{path: /healthz, port: http}}, periodSeconds: 1}}
"#
    )
}

fn pod_ip(p: &Value) -> String {
    p["status"]["podIP"].as_str().unwrap_or("").to_string()
}

#[test]
fn pods_on_two_nodes_reach_each_other() {
    let c = Cluster::up(2).expect("cluster");
    let (n1, n2) = (c.nodes[0].clone(), c.nodes[1].clone());
    c.apply(V, &echo_pod("echo-a", &n1));
    c.apply(V, &echo_pod("echo-b", &n2));
    let a = wait_pod(&c, "echo-a", "Ready", |p| condition(p, "Ready") == "True");
    let b = wait_pod(&c, "echo-b", "Ready", |p| condition(p, "Ready") == "True");
    let (ip_a, ip_b) = (pod_ip(&a), pod_ip(&b));
    assert!(ip_a.starts_with("10.244.") && ip_b.starts_with("10.244."), "{ip_a} {ip_b}");
    assert_ne!(ip_a.rsplit_once('.').map(|x| x.0), ip_b.rsplit_once('.').map(|x| x.0), "different node CIDRs");
    assert_eq!(a["status"]["hostIP"], "172.31.0.11");
    let cs = container_status(&a, "echo");
    assert_eq!(cs["ready"], true);
    assert!(cs["state"]["running"]["startedAt"].is_string(), "{cs}");

    // From a pod on node 1 to the pod on node 2, and back: the echo server
    // sees the caller's own pod IP (no NAT between pods).
    c.apply(V, &probe_pod("call-b", &n1, &format!("wget -qO- http://{ip_b}:8080/hello")));
    c.apply(V, &probe_pod("call-a", &n2, &format!("wget -qO- http://{ip_a}:8080/hello")));
    let to_b: Value = serde_json::from_str(&termination_message(&c, "call-b")).expect("echo JSON from b");
    let to_a: Value = serde_json::from_str(&termination_message(&c, "call-a")).expect("echo JSON from a");
    assert_eq!(to_b["pod"], "echo-b");
    assert_eq!(to_b["namespace"], "default");
    assert_eq!(to_b["ip"], ip_b.as_str());
    assert_eq!(to_a["pod"], "echo-a");
    let caller_b = pod_ip(&c.pod(V, "default", "call-b").unwrap_or_default());
    let caller_a = pod_ip(&c.pod(V, "default", "call-a").unwrap_or_default());
    assert!(to_b["remote"].as_str().unwrap_or("").starts_with(&format!("{caller_b}:")), "{to_b}");
    assert!(to_a["remote"].as_str().unwrap_or("").starts_with(&format!("{caller_a}:")), "{to_a}");

    // The node itself reaches its pods, and Service traffic that nothing
    // translated is refused on the node instead of leaving it.
    let out = c.on_node(1, &["curl", "-s", "--max-time", "5", &format!("http://{ip_a}:8080/x")]);
    let body: Value = serde_json::from_slice(&out.stdout).expect("echo JSON from the node");
    assert_eq!(body["pod"], "echo-a");
    let out = c.on_node(1, &["ip", "route", "get", "10.96.0.1"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("unreachable") || text.contains("No route"), "{text}");

    // resolv.conf and hosts as Kubernetes writes them.
    c.apply(V, &probe_pod("files", &n1, "cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; hostname"));
    let files = termination_message(&c, "files");
    assert!(files.contains("nameserver 10.96.0.10"), "{files}");
    assert!(files.contains("search default.svc.cluster.local svc.cluster.local cluster.local"), "{files}");
    assert!(files.contains("options ndots:5"), "{files}");
    assert!(files.contains("\tfiles\n"), "{files}");
    assert!(files.trim_end().ends_with("files"), "{files}");

    // The other dnsPolicy values. The agents use this machine's /etc/resolv.conf as the node's.
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let host_servers: Vec<&str> = host.lines().filter(|l| l.starts_with("nameserver")).collect();
    let policies = [
        ("dns-default", "  dnsPolicy: Default"),
        (
            "dns-none",
            "  dnsPolicy: None\n  dnsConfig:\n    nameservers: [192.0.2.53]\n    searches: [example.internal]\n    \
             options: [{name: ndots, value: \"2\"}, {name: edns0}]",
        ),
        ("dns-hostnet", "  hostNetwork: true\n  dnsPolicy: ClusterFirstWithHostNet"),
        ("dns-hostnet-default", "  hostNetwork: true"),
    ];
    for (name, spec) in policies {
        c.apply(V, &probe_pod_with(name, &n1, spec, "cat /etc/resolv.conf"));
    }
    let resolv = |name: &str| termination_message(&c, name);
    let cluster_first = |text: &str| {
        text.contains("nameserver 10.96.0.10") && text.contains("search default.svc.cluster.local svc.cluster.local")
    };
    // Default: the node's resolvers, never the cluster's.
    let default = resolv("dns-default");
    assert!(!default.contains("10.96.0.10"), "{default}");
    assert!(host_servers.iter().all(|s| default.contains(s)), "{default}\nhost:\n{host}");
    // None: only what dnsConfig says.
    let none = resolv("dns-none");
    assert!(none.contains("nameserver 192.0.2.53") && !none.contains("10.96.0.10"), "{none}");
    assert!(none.contains("search example.internal"), "{none}");
    assert!(none.contains("options ndots:2 edns0"), "{none}");
    // A host-network pod gets cluster DNS only when it asks with ClusterFirstWithHostNet;
    // ClusterFirst falls back to the node's.
    let hostnet = resolv("dns-hostnet");
    assert!(cluster_first(&hostnet), "{hostnet}");
    let hostnet_default = resolv("dns-hostnet-default");
    assert!(!cluster_first(&hostnet_default), "{hostnet_default}");
}

#[test]
fn configuration_reaches_containers() {
    let c = Cluster::up(1).expect("cluster");
    let node = c.nodes[0].clone();
    c.apply(
        V,
        &format!(
            r#"
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings}}
data: {{color: blue, size: large, "app.conf": "mode=fast\n"}}
---
apiVersion: v1
kind: Secret
metadata: {{name: creds}}
stringData: {{password: s3cret, user: admin}}
---
apiVersion: v1
kind: Pod
metadata: {{name: config, labels: {{tier: web}}}}
spec:
  nodeName: {node}
  restartPolicy: Never
  initContainers:
  - name: first
    image: keel-test/toolbox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo init-ran > /work/order"]
    volumeMounts: [{{name: work, mountPath: /work}}]
  - name: second
    image: keel-test/toolbox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo second-ran >> /work/order"]
    volumeMounts: [{{name: work, mountPath: /work}}]
  containers:
  - name: main
    image: keel-test/toolbox:latest
    imagePullPolicy: IfNotPresent
    workingDir: /work
    command: ["sh", "-c"]
    args:
    - >-
      (echo "color=$COLOR"; echo "pw=$PASSWORD"; echo "node=$NODE"; echo "expanded=$GREETING";
      echo "cfg_size=$cfg_size"; echo "cpu_limit=$CPU"; echo "cwd=$(pwd)"; echo "uid=$(id -u)";
      echo "file=$(cat /etc/settings/app.conf)"; echo "secretfile=$(cat /etc/creds/user)";
      echo "labels=$(cat /etc/podinfo/labels)"; echo "order=$(cat /work/order | tr '\n' ,)";
      echo "projected=$(cat /etc/projected/color)-$(cat /etc/projected/pw)-$(cat /etc/projected/ns)";
      echo "args=$0") > /dev/termination-log
    env:
    - {{name: COLOR, valueFrom: {{configMapKeyRef: {{name: settings, key: color}}}}}}
    - {{name: PASSWORD, valueFrom: {{secretKeyRef: {{name: creds, key: password}}}}}}
    - {{name: NODE, valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}}}
    - {{name: GREETING, value: "hello-$(COLOR)"}}
    - {{name: CPU, valueFrom: {{resourceFieldRef: {{resource: limits.cpu, divisor: 1m}}}}}}
    envFrom: [{{configMapRef: {{name: settings}}, prefix: cfg_}}]
    securityContext: {{runAsUser: 1000}}
    resources: {{limits: {{cpu: 250m, memory: 64Mi}}}}
    volumeMounts:
    - {{name: settings, mountPath: /etc/settings}}
    - {{name: creds, mountPath: /etc/creds, readOnly: true}}
    - {{name: podinfo, mountPath: /etc/podinfo}}
    - {{name: work, mountPath: /work}}
    - {{name: projected, mountPath: /etc/projected}}
  volumes:
  - name: projected
    projected:
      sources:
      - configMap: {{name: settings, items: [{{key: color, path: color}}]}}
      - secret: {{name: creds, items: [{{key: password, path: pw}}]}}
      - downwardAPI: {{items: [{{path: ns, fieldRef: {{fieldPath: metadata.namespace}}}}]}}
  - {{name: settings, configMap: {{name: settings}}}}
  - {{name: creds, secret: {{secretName: creds}}}}
  - {{name: podinfo, downwardAPI: {{items: [{{path: labels, fieldRef: {{fieldPath: metadata.labels}}}}]}}}}
  - {{name: work, emptyDir: {{}}}}
"#
        ),
    );
    let msg = termination_message(&c, "config");
    for want in [
        "color=blue",
        "pw=s3cret",
        &format!("node={node}"),
        "expanded=hello-blue",
        "cfg_size=large",
        "cpu_limit=250",
        "cwd=/work",
        "uid=1000",
        "file=mode=fast",
        "secretfile=admin",
        "labels=tier=\"web\"",
        "order=init-ran,second-ran,",
        "projected=blue-s3cret-default",
    ] {
        assert!(msg.contains(want), "missing {want:?} in:\n{msg}");
    }
    let p = c.pod(V, "default", "config").expect("pod");
    assert_eq!(phase(&p), "Succeeded", "{p:#}");
    let inits = p["status"]["initContainerStatuses"].as_array().cloned().unwrap_or_default();
    assert_eq!(inits.len(), 2);
    assert!(inits.iter().all(|s| s["state"]["terminated"]["reason"] == "Completed"), "{inits:?}");
    assert_eq!(container_status(&p, "main")["state"]["terminated"]["exitCode"], 0);
}

#[test]
fn restarts_probes_and_bad_input() {
    let c = Cluster::up(1).expect("cluster");
    let node = c.nodes[0].clone();
    let host_dir = c.dir.path().join("host-volume");
    let host_dir = host_dir.display();
    c.apply(
        V,
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: oom}}
spec:
  nodeName: {node}
  containers:
  - name: main
    image: keel-test/toolbox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "sleep 1; x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo survived"]
    resources: {{limits: {{memory: 32Mi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: unhealthy}}
spec:
  nodeName: {node}
  containers:
  - name: main
    image: keel-test/echo:v1
    livenessProbe: {{httpGet: {{path: /status/500, port: 8080}}, periodSeconds: 1, failureThreshold: 2}}
---
apiVersion: v1
kind: Pod
metadata: {{name: gated}}
spec:
  nodeName: {node}
  containers:
  - name: main
    image: keel-test/toolbox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "sleep 4; touch /tmp/ready; sleep 3600"]
    readinessProbe: {{exec: {{command: [cat, /tmp/ready]}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Pod
metadata: {{name: tcp-ready}}
spec:
  nodeName: {node}
  containers:
  - name: main
    image: keel-test/echo:v1
    startupProbe: {{httpGet: {{path: /healthz, port: 8080}}, periodSeconds: 1}}
    readinessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Pod
metadata: {{name: no-image}}
spec:
  nodeName: {node}
  containers: [{{name: main, image: "keel-test/nothing:v9", imagePullPolicy: Never}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: no-command}}
spec:
  nodeName: {node}
  containers: [{{name: main, image: keel-test/toolbox:latest, imagePullPolicy: IfNotPresent, command: [/no/such/binary]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: bad-volume}}
spec:
  nodeName: {node}
  containers: [{{name: main, image: keel-test/toolbox:latest, imagePullPolicy: IfNotPresent, command: [sleep, "3600"]}}]
  volumes: [{{name: data, persistentVolumeClaim: {{claimName: nope}}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: with-sidecar}}
spec:
  nodeName: {node}
  restartPolicy: Never
  initContainers:
  - name: helper
    image: keel-test/toolbox:latest
    imagePullPolicy: IfNotPresent
    restartPolicy: Always
    command: ["sh", "-c", "echo from-sidecar > /shared/note; exec sleep 3600"]
    volumeMounts: [{{name: shared, mountPath: /shared}}]
  containers:
  - name: main
    image: keel-test/toolbox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "sleep 2; cat /shared/note > /dev/termination-log"]
    volumeMounts: [{{name: shared, mountPath: /shared}}]
  volumes: [{{name: shared, emptyDir: {{}}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: goodbye}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 5
  containers:
  - name: main
    image: keel-test/toolbox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    lifecycle:
      preStop: {{exec: {{command: ["/bin/sh", "-c", "echo said-goodbye > /host/note"]}}}}
    volumeMounts: [{{name: host, mountPath: /host}}]
  volumes: [{{name: host, hostPath: {{path: "{host_dir}", type: DirectoryOrCreate}}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: missing-config}}
spec:
  nodeName: {node}
  containers:
  - name: main
    image: keel-test/toolbox:latest
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
    env: [{{name: X, valueFrom: {{configMapKeyRef: {{name: absent, key: k}}}}}}]
"#
        ),
    );
    // OOM: the kernel kills it, the status says OOMKilled, and it restarts.
    let p = wait_pod(&c, "oom", "an OOMKilled restart", |p| {
        let cs = container_status(p, "main");
        cs["restartCount"].as_i64().unwrap_or(0) >= 1 && cs["lastState"]["terminated"]["reason"] == "OOMKilled"
    });
    assert_eq!(container_status(&p, "main")["lastState"]["terminated"]["exitCode"], 137);

    // A failing liveness probe restarts the container.
    wait_pod(&c, "unhealthy", "a liveness restart", |p| {
        container_status(p, "main")["restartCount"].as_i64().unwrap_or(0) >= 1
    });
    let events = c.ok(V, &["get", "events", "--field-selector", "involvedObject.name=unhealthy", "-o", "json"]);
    assert!(events.contains("Liveness probe failed"), "{events}");

    // Readiness gates the Ready condition: not ready first, then ready.
    let p = wait_pod(&c, "gated", "running", |p| phase(p) == "Running");
    if container_status(&p, "main")["ready"] != true {
        assert_eq!(condition(&p, "Ready"), "False");
    }
    wait_pod(&c, "gated", "Ready", |p| condition(p, "Ready") == "True" && condition(p, "ContainersReady") == "True");

    // Startup (httpGet) then readiness (tcpSocket) probes.
    let p = wait_pod(&c, "tcp-ready", "Ready", |p| condition(p, "Ready") == "True");
    assert_eq!(container_status(&p, "main")["started"], true);

    // Bad input: each pod says exactly why, and the agent keeps going.
    let p = wait_pod(&c, "no-image", "ErrImageNeverPull", |p| {
        container_status(p, "main")["state"]["waiting"]["reason"] == "ErrImageNeverPull"
    });
    assert!(container_status(&p, "main")["state"]["waiting"]["message"].as_str().unwrap_or("").contains("nothing"));
    let p = wait_pod(&c, "no-command", "a start error", |p| {
        let cs = container_status(p, "main");
        cs["lastState"]["terminated"]["reason"] == "StartError" || cs["state"]["terminated"]["reason"] == "StartError"
    });
    let cs = container_status(&p, "main").to_string();
    assert!(cs.contains("/no/such/binary"), "{cs}");
    let p =
        wait_pod(&c, "bad-volume", "FailedMount", |p| p["status"]["reason"] == "FailedMount" || phase(p) == "Pending");
    assert_eq!(phase(&p), "Pending");
    let events = eventually(Duration::from_secs(20), "FailedMount event", || {
        let e = c.ok(V, &["get", "events", "--field-selector", "involvedObject.name=bad-volume", "-o", "json"]);
        e.contains("FailedMount").then_some(e)
    });
    assert!(events.contains("persistentVolumeClaim"), "{events}");
    let p = wait_pod(&c, "missing-config", "CreateContainerConfigError", |p| {
        container_status(p, "main")["state"]["waiting"]["reason"] == "CreateContainerConfigError"
    });
    assert!(container_status(&p, "main")["state"]["waiting"]["message"].as_str().unwrap_or("").contains("absent"));

    // preStop runs before the container is stopped; hostPath reaches the node.
    wait_pod(&c, "goodbye", "running", |p| phase(p) == "Running");
    c.ok(V, &["delete", "pod", "goodbye"]);
    let note = std::fs::read_to_string(c.dir.path().join("host-volume/note")).unwrap_or_default();
    assert_eq!(note.trim(), "said-goodbye", "{}", c.logs());

    // A sidecar runs beside the main container and stops when it is done.
    let p = wait_pod(&c, "with-sidecar", "completion", |p| phase(p) == "Succeeded");
    assert_eq!(
        container_status(&p, "main")["state"]["terminated"]["message"].as_str().map(str::trim),
        Some("from-sidecar")
    );
    let p = wait_pod(&c, "with-sidecar", "the sidecar stopped", |p| {
        p["status"]["initContainerStatuses"][0]["state"]["terminated"].is_object()
    });
    assert_eq!(phase(&p), "Succeeded");

    // Deleting a pod stops its processes and removes everything it had.
    let p = c.pod(V, "default", "gated").expect("gated");
    let (uid, ip) = (p["metadata"]["uid"].as_str().unwrap_or("").to_string(), pod_ip(&p));
    assert!(!pod_pids(&uid).is_empty());
    c.ok(V, &["delete", "pod", "gated", "--grace-period=1"]);
    eventually(Duration::from_secs(30), "gated gone", || c.pod(V, "default", "gated").is_none().then_some(()));
    assert!(pod_pids(&uid).is_empty(), "processes left");
    let node_dir = c.data_dir().join("nodes").join(&node);
    assert!(!node_dir.join("pods").join(&uid).exists(), "pod dir left");
    assert!(!node_dir.join("network/ipam").join(&ip).exists(), "IP lease left");
    let links =
        String::from_utf8_lossy(&c.on_node(1, &["ip", "-o", "link", "show", "master", "keel0"]).stdout).to_string();
    assert!(!links.contains(&uid), "veth left: {links}");
    let cg = std::process::Command::new("find")
        .args(["/sys/fs/cgroup", "-maxdepth", "8", "-type", "d", "-name", &format!("pod{uid}")])
        .output()
        .expect("find");
    assert!(cg.stdout.is_empty(), "cgroups left: {}", String::from_utf8_lossy(&cg.stdout));
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    assert!(!mounts.contains(&uid), "mounts left");
}

/// Processes in a pod's cgroups (found through /proc).
fn pod_pids(uid: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        if cg.contains(&format!("pod{uid}")) {
            out.push(pid);
        }
    }
    out.sort();
    out
}

#[test]
fn agent_restart_keeps_pods_and_down_leaves_nothing() {
    let c = Cluster::up(1).expect("cluster");
    let node = c.nodes[0].clone();
    c.apply(V, &echo_pod("steady", &node));
    let p = wait_pod(&c, "steady", "Ready", |p| condition(p, "Ready") == "True");
    let uid = p["metadata"]["uid"].as_str().unwrap_or("").to_string();
    let before = pod_pids(&uid);
    assert!(!before.is_empty(), "no processes found for pod {uid}");

    // Kill the agent outright; the supervisor starts it again.
    let agent = c.agent_pid(&node).expect("agent pid");
    nix_kill(agent);
    eventually(Duration::from_secs(30), "a new agent", || c.agent_pid(&node).filter(|p| *p != agent));
    std::thread::sleep(Duration::from_secs(3));
    let p = wait_pod(&c, "steady", "still Ready", |p| condition(p, "Ready") == "True");
    assert_eq!(container_status(&p, "main")["restartCount"], Value::Null);
    assert_eq!(container_status(&p, "echo")["restartCount"], 0);
    assert_eq!(pod_pids(&uid), before, "the pod's processes survived the agent restart");
    let ip = pod_ip(&p);
    let out = c.on_node(1, &["curl", "-s", "--max-time", "5", &format!("http://{ip}:8080/")]);
    let body: Value = serde_json::from_slice(&out.stdout).expect("echo JSON after the restart");
    assert_eq!(body["pod"], "steady");

    // Down removes namespaces, mounts, cgroups and processes.
    let dir = c.data_dir();
    let names = [c.netns(1), format!("keel-{}-ul", c.name)];
    assert!(c.down(), "cluster down");
    let netns =
        String::from_utf8_lossy(&std::process::Command::new("ip").args(["netns", "list"]).output().expect("ip").stdout)
            .to_string();
    for n in &names {
        assert!(!netns.lines().any(|l| l.split_whitespace().next() == Some(n)), "{n} left behind: {netns}");
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    assert!(!mounts.contains(dir.to_str().unwrap_or("-")), "mounts left under {}", dir.display());
    assert!(pod_pids(&uid).is_empty(), "processes left behind");
    let cgroups = std::process::Command::new("find")
        .args(["/sys/fs/cgroup", "-maxdepth", "6", "-type", "d", "-path", &format!("*/keel/{node}")])
        .output()
        .expect("find");
    assert!(cgroups.stdout.is_empty(), "cgroups left behind: {}", String::from_utf8_lossy(&cgroups.stdout));
    assert!(!dir.exists());
}

fn nix_kill(pid: u32) {
    let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
}

/// Run kubectl in the background (for `logs -f` and `port-forward`).
fn kubectl_background(c: &Cluster, version: &str, args: &[&str]) -> std::process::Child {
    std::process::Command::new(format!("/usr/lib/google-cloud-sdk/bin/kubectl.{version}"))
        .args(args)
        .env("KUBECONFIG", c.kubeconfig())
        .env("HOME", c.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl")
}

/// Read lines from a child's stdout until `want` returns a value (or time runs out).
fn read_until<T>(child: &mut std::process::Child, mut want: impl FnMut(&str) -> Option<T>) -> Option<T> {
    use std::io::BufRead;
    let stdout = child.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Keep draining after the caller stops listening: kubectl dies of
        // SIGPIPE when its stdout closes (it prints a line per connection).
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if let Some(v) = want(&line) {
                return Some(v);
            }
        }
    }
    None
}

#[test]
fn logs_exec_and_port_forward() {
    let c = Cluster::up(1).expect("cluster");
    let node = c.nodes[0].clone();
    c.apply(
        V,
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: talker}}
spec:
  nodeName: {node}
  containers:
  - name: main
    image: keel-test/toolbox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.2; done"]
---
apiVersion: v1
kind: Pod
metadata: {{name: crasher}}
spec:
  nodeName: {node}
  containers:
  - name: main
    image: keel-test/toolbox:latest
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "echo run-at-$(date +%s%N); sleep 1; exit 1"]
"#
        ),
    );
    c.apply(V, &echo_pod("web", &node));
    wait_pod(&c, "talker", "running", |p| phase(p) == "Running");
    wait_pod(&c, "web", "Ready", |p| condition(p, "Ready") == "True");
    std::thread::sleep(Duration::from_secs(2));

    for v in [keel_e2e::KUBECTL_OLDEST, V] {
        // Logs: tail, timestamps, follow.
        let tail = c.ok(v, &["logs", "talker", "--tail=2"]);
        assert_eq!(tail.lines().count(), 2, "{tail}");
        assert!(tail.lines().all(|l| l.starts_with("line-")), "{tail}");
        let stamped = c.ok(v, &["logs", "talker", "--tail=1", "--timestamps"]);
        let first = stamped.split_whitespace().next().unwrap_or("");
        assert!(first.starts_with("20") && first.ends_with('Z') && stamped.contains("line-"), "{stamped}");
        let mut follow = kubectl_background(&c, v, &["logs", "-f", "talker", "--tail=1"]);
        let seen =
            read_until(&mut follow, |l| l.strip_prefix("line-").and_then(|n| n.parse::<u64>().ok()).filter(|n| *n > 0));
        let _ = follow.kill();
        let _ = follow.wait();
        assert!(seen.is_some(), "kubectl {v} logs -f streamed nothing");

        // Exec: output, exit codes, stdin.
        assert_eq!(c.ok(v, &["exec", "talker", "--", "hostname"]).trim(), "talker");
        let out = c.kubectl(v, &["exec", "talker", "--", "sh", "-c", "echo err >&2; exit 3"]).expect("kubectl exec");
        assert_eq!(out.status.code(), Some(3), "kubectl {v} exec exit code: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().next(), Some("err"));
        let out = c.kubectl_stdin(v, &["exec", "-i", "talker", "--", "cat"], "hello through stdin\n").expect("exec -i");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello through stdin\n", "kubectl {v} exec -i: {out:?}");

        // Interactive exec with a terminal (`script` gives kubectl a pty).
        let kubectl = format!("/usr/lib/google-cloud-sdk/bin/kubectl.{v}");
        let out = std::process::Command::new("script")
            .args([
                "-q",
                "-e",
                "-c",
                &format!("{kubectl} exec -it talker -- sh -c 'tty; stty size; exit 0'"),
                "/dev/null",
            ])
            .env("KUBECONFIG", c.kubeconfig())
            .env("HOME", c.dir.path())
            .env("COLUMNS", "100")
            .env("LINES", "40")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("script");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(text.contains("/dev/pts/"), "kubectl {v} exec -it: {text} {}", String::from_utf8_lossy(&out.stderr));

        // Port-forward: a local port to the pod's 8080, checked by the body.
        let mut pf = kubectl_background(&c, v, &["port-forward", "pod/web", ":8080"]);
        let port = read_until(&mut pf, |l| {
            l.strip_prefix("Forwarding from 127.0.0.1:")
                .and_then(|r| r.split(' ').next())
                .and_then(|p| p.parse::<u16>().ok())
        });
        let port = port.unwrap_or_else(|| panic!("kubectl {v} port-forward did not start"));
        let out = std::process::Command::new("curl")
            .args(["-sS", "--max-time", "10", &format!("http://127.0.0.1:{port}/through-forward")])
            .output()
            .expect("curl");
        let _ = pf.kill();
        let _ = pf.wait();
        let body: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            let pf_err = pf.stderr.take().map(|mut e| {
                let mut s = String::new();
                let _ = std::io::Read::read_to_string(&mut e, &mut s);
                s
            });
            panic!(
                "kubectl {v} port-forward body ({e}): {}\ncurl: {}\nkubectl: {pf_err:?}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                c.logs()
            )
        });
        assert_eq!(body["pod"], "web");
        assert_eq!(body["path"], "/through-forward");
    }

    // --previous shows the run before the restart.
    wait_pod(&c, "crasher", "a restart", |p| container_status(p, "main")["restartCount"].as_i64().unwrap_or(0) >= 1);
    let previous = c.ok(V, &["logs", "crasher", "--previous"]);
    assert!(previous.starts_with("run-at-"), "{previous}");
    let missing = c.kubectl(V, &["logs", "talker", "--previous"]).expect("kubectl");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("previous terminated container"), "{missing:?}");
}

/// Debian's docker-registry, run inside a node's network namespace on its
/// loopback; killed when dropped.
struct Registry(std::process::Child);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Push an OCI-layout archive's image to `http://127.0.0.1:5000/<repo>:<tag>`
/// from inside node 1, with curl (upload, then manifest).
fn push(c: &Cluster, archive: &std::path::Path, repo: &str, tag: &str, scratch: &std::path::Path) {
    let unpacked = scratch.join("unpacked");
    std::fs::create_dir_all(&unpacked).expect("mkdir");
    let st = std::process::Command::new("tar").arg("-xf").arg(archive).arg("-C").arg(&unpacked).status().expect("tar");
    assert!(st.success());
    let index: Value =
        serde_json::from_slice(&std::fs::read(unpacked.join("index.json")).expect("index")).expect("json");
    let digest = index["manifests"][0]["digest"].as_str().expect("manifest digest").to_string();
    let blob = |d: &str| unpacked.join("blobs/sha256").join(d.trim_start_matches("sha256:"));
    let manifest: Value = serde_json::from_slice(&std::fs::read(blob(&digest)).expect("manifest")).expect("json");
    let mut digests: Vec<String> = manifest["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["digest"].as_str().map(String::from))
        .collect();
    digests.push(manifest["config"]["digest"].as_str().expect("config").to_string());
    let base = "http://127.0.0.1:5000";
    for d in digests {
        let out = c.on_node(
            1,
            &["curl", "-sS", "-X", "POST", "-D", "-", "-o", "/dev/null", &format!("{base}/v2/{repo}/blobs/uploads/")],
        );
        let headers = String::from_utf8_lossy(&out.stdout).to_string();
        let location = headers
            .lines()
            .find_map(|l| l.strip_prefix("Location: ").or_else(|| l.strip_prefix("location: ")))
            .map(|l| l.trim().to_string())
            .unwrap_or_else(|| panic!("no upload location: {headers}"));
        let url = if location.starts_with('/') { format!("{base}{location}") } else { location };
        let sep = if url.contains('?') { '&' } else { '?' };
        let file = blob(&d);
        let out = c.on_node(
            1,
            &[
                "curl",
                "-sS",
                "-f",
                "-X",
                "PUT",
                "-H",
                "Content-Type: application/octet-stream",
                "--data-binary",
                &format!("@{}", file.display()),
                &format!("{url}{sep}digest={d}"),
            ],
        );
        assert!(out.status.success(), "blob upload: {}", String::from_utf8_lossy(&out.stderr));
    }
    let media = manifest["mediaType"].as_str().unwrap_or("application/vnd.oci.image.manifest.v1+json").to_string();
    let out = c.on_node(
        1,
        &[
            "curl",
            "-sS",
            "-f",
            "-X",
            "PUT",
            "-H",
            &format!("Content-Type: {media}"),
            "--data-binary",
            &format!("@{}", blob(&digest).display()),
            &format!("{base}/v2/{repo}/manifests/{tag}"),
        ],
    );
    assert!(out.status.success(), "manifest upload: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn images_are_pulled_from_a_registry() {
    let c = Cluster::up(1).expect("cluster");
    let node = c.nodes[0].clone();
    let scratch = c.dir.path().join("registry");
    std::fs::create_dir_all(scratch.join("storage")).expect("mkdir");
    let config = scratch.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:5000\n",
            scratch.join("storage").display()
        ),
    )
    .expect("config");
    let child = std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", c.netns(1)))
        .arg("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("docker-registry (apt-get install docker-registry)");
    let _registry = Registry(child);
    eventually(Duration::from_secs(20), "the registry", || {
        c.on_node(1, &["curl", "-sf", "http://127.0.0.1:5000/v2/"]).status.success().then_some(())
    });
    let archives = keel_e2e::cluster::image_archives().expect("images");
    let v2 = archives.iter().find(|a| a.ends_with("echo-v2.tar")).expect("echo-v2.tar");
    push(&c, v2, "mirror/echo", "v2", &scratch);

    c.apply(
        V,
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: pulled}}
spec:
  nodeName: {node}
  containers:
  - {{name: echo, image: "localhost:5000/mirror/echo:v2", imagePullPolicy: Always}}
---
apiVersion: v1
kind: Pod
metadata: {{name: not-there}}
spec:
  nodeName: {node}
  containers:
  - {{name: echo, image: "localhost:5000/mirror/echo:v9", imagePullPolicy: IfNotPresent}}
"#
        ),
    );
    let p = wait_pod(&c, "pulled", "running", |p| phase(p) == "Running");
    let out = c.on_node(1, &["curl", "-s", "--max-time", "5", &format!("http://{}:8080/", pod_ip(&p))]);
    let body: Value = serde_json::from_slice(&out.stdout).expect("echo JSON");
    assert_eq!(body["version"], "v2", "the pulled image runs");
    let events = c.ok(V, &["get", "events", "--field-selector", "involvedObject.name=pulled", "-o", "json"]);
    assert!(events.contains("Successfully pulled image"), "{events}");
    let p = wait_pod(&c, "not-there", "a pull failure", |p| {
        matches!(
            container_status(p, "echo")["state"]["waiting"]["reason"].as_str(),
            Some("ErrImagePull" | "ImagePullBackOff")
        )
    });
    let msg = container_status(&p, "echo")["state"]["waiting"]["message"].as_str().unwrap_or("").to_string();
    assert!(msg.contains("echo:v9"), "{msg}");
}

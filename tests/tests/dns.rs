//! Cluster DNS on a 3-node `keel cluster up`: every agent answers for
//! `cluster.local` on its node address, and pods reach it at the kube-dns
//! ClusterIP (10.96.0.10) on their own node. Queries come from toolbox pods
//! on both nodes (`dnsq`, which talks DNS itself) and from the node with dig.

use keel_e2e::{eventually, Cluster, KUBECTL_NEWEST};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const V: &str = KUBECTL_NEWEST;

const APP: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: echo, image: keel-test/echo:v1, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}, {name: metrics, port: 9090, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: sql, port: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: db.example.org
---
"#;

fn db_pod(i: usize, node: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: db-{i}, labels: {{app: db}}}}\nspec:\n  hostname: db-{i}\n  subdomain: db\n  nodeName: {node}\n  terminationGracePeriodSeconds: 1\n  containers: [{{name: echo, image: keel-test/echo:v1, ports: [{{containerPort: 5432}}]}}]\n---\n"
    )
}

fn client(i: usize, node: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: client-{i}}}\nspec:\n  nodeName: {node}\n  terminationGracePeriodSeconds: 0\n  containers: [{{name: c, image: \"keel-test/toolbox:latest\", imagePullPolicy: IfNotPresent, command: [sleep, \"3600\"]}}]\n---\n"
    )
}

/// `dnsq ARGS` in a client pod: (exit status, stdout).
fn dnsq(c: &Cluster, client: &str, args: &[&str]) -> (i32, String) {
    let mut cmd = vec!["exec", client, "--", "dnsq"];
    cmd.extend_from_slice(args);
    let out = c.kubectl(V, &cmd).expect("kubectl exec");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).to_string())
}

/// The answer data of a successful query, as a set of lines.
fn short(c: &Cluster, client: &str, args: &[&str]) -> BTreeSet<String> {
    let mut full = args.to_vec();
    full.push("+short");
    let (code, out) = dnsq(c, client, &full);
    assert_eq!(code, 0, "dnsq {args:?} from {client}: {out}");
    out.lines().map(str::to_string).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn pod_ips(c: &Cluster, selector: &str) -> BTreeSet<String> {
    let v: Value = serde_json::from_str(&c.ok(V, &["get", "pods", "-l", selector, "-o", "json"])).unwrap_or_default();
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["status"]["podIP"].as_str().map(String::from))
        .collect()
}

#[test]
fn cluster_dns_answers_the_kubernetes_schema() {
    let c = Cluster::up(3).expect("cluster");
    let mut manifest = APP.to_string();
    for (i, node) in c.nodes.iter().enumerate() {
        manifest.push_str(&db_pod(i, node));
        manifest.push_str(&client(i, node));
    }
    c.apply(V, &manifest);
    eventually(Duration::from_secs(90), "web, db and client pods running", || {
        let v: Value = serde_json::from_str(&c.ok(V, &["get", "pods", "-o", "json"])).unwrap_or_default();
        let items = v["items"].as_array().cloned().unwrap_or_default();
        (items.len() == 8
            && items.iter().all(|p| p["status"]["phase"] == "Running" && p["status"]["podIP"].is_string()))
        .then_some(())
    });
    let web_ip = c.ok(V, &["get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"]).trim().to_string();
    let dns_ip = c.ok(V, &["get", "service", "-n", "kube-system", "kube-dns", "-o", "jsonpath={.spec.clusterIP}"]);
    assert_eq!(dns_ip.trim(), "10.96.0.10");
    let db_ips = pod_ips(&c, "app=db");
    assert_eq!(db_ips.len(), 3);

    for client in ["client-0", "client-1", "client-2"] {
        // The pod's resolv.conf points at 10.96.0.10; its own node answers.
        let web = set(&[&web_ip]);
        eventually(Duration::from_secs(30), &format!("{client} resolving web"), || {
            let (code, out) = dnsq(&c, client, &["web", "+short"]);
            (code == 0 && out.lines().map(str::to_string).collect::<BTreeSet<_>>() == web).then_some(())
        });
        // Its first search expansion is `web.default.default.svc...`: autopath answers it with a
        // CNAME to the Service's name and the address.
        assert_eq!(short(&c, client, &["web.default"]), set(&["web.default.svc.cluster.local.", &web_ip]));
        assert_eq!(short(&c, client, &["web.default.svc.cluster.local."]), web);
        assert_eq!(short(&c, client, &["WEB.Default.SVC.cluster.LOCAL."]), web, "names are case-insensitive");
        assert_eq!(
            short(&c, client, &["_http._tcp.web.default.svc.cluster.local.", "SRV"]),
            set(&["0 100 80 web.default.svc.cluster.local."])
        );
        assert_eq!(
            short(&c, client, &["_metrics._udp.web.default.svc.cluster.local.", "SRV"]),
            set(&["0 100 9090 web.default.svc.cluster.local."])
        );
        assert_eq!(short(&c, client, &["-x", &web_ip]), set(&["web.default.svc.cluster.local."]));

        // Headless: one A per ready endpoint, and each pod's hostname record.
        let db = eventually(Duration::from_secs(30), "the headless A set", || {
            let (code, out) = dnsq(&c, client, &["db.default.svc.cluster.local.", "+short"]);
            let got: BTreeSet<String> = out.lines().map(str::to_string).collect();
            (code == 0 && got == db_ips).then_some(got)
        });
        assert_eq!(db, db_ips);
        let db0 = pod_ips(&c, "app=db").into_iter().collect::<Vec<_>>();
        let v: Value = serde_json::from_str(&c.ok(V, &["get", "pod", "db-0", "-o", "json"])).unwrap_or_default();
        let db0_ip = v["status"]["podIP"].as_str().unwrap_or_default().to_string();
        assert!(db0.contains(&db0_ip));
        assert_eq!(short(&c, client, &["db-0.db.default.svc.cluster.local."]), set(&[&db0_ip]));
        assert_eq!(
            short(&c, client, &["_sql._tcp.db.default.svc.cluster.local.", "SRV"]),
            set(&[
                "0 100 5432 db-0.db.default.svc.cluster.local.",
                "0 100 5432 db-1.db.default.svc.cluster.local.",
                "0 100 5432 db-2.db.default.svc.cluster.local."
            ])
        );
        assert_eq!(short(&c, client, &["-x", &db0_ip]), set(&["db-0.db.default.svc.cluster.local."]));

        // ExternalName, pod records and the schema version.
        assert_eq!(short(&c, client, &["ext.default.svc.cluster.local.", "CNAME"]), set(&["db.example.org."]));
        let dashed = db0_ip.replace('.', "-");
        assert_eq!(short(&c, client, &[&format!("{dashed}.default.pod.cluster.local.")]), set(&[&db0_ip]));
        assert_eq!(short(&c, client, &["dns-version.cluster.local.", "TXT"]), set(&["\"1.0.1\""]));

        // Negative answers carry the SOA: NXDOMAIN for a missing name, NODATA for a missing type.
        let (code, out) = dnsq(&c, client, &["nope.default.svc.cluster.local."]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("status: NXDOMAIN") && out.contains("AUTHORITY: 1") && out.contains("SOA"), "{out}");
        let (code, out) = dnsq(&c, client, &["web.default.svc.cluster.local.", "AAAA"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("status: NOERROR") && out.contains("ANSWER: 0") && out.contains("SOA"), "{out}");
        // Autopath: `kubernetes.default` expands first to `kubernetes.default.default.svc...`,
        // which does not exist; the server walks the pod's search list itself and answers that
        // very first query with a CNAME to `kubernetes.default.svc.cluster.local`.
        let (code, out) = dnsq(&c, client, &["kubernetes.default"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains(";; NAME: kubernetes.default.default.svc.cluster.local."), "{out}");
        assert!(out.contains("CNAME\tkubernetes.default.svc.cluster.local.") && out.contains("10.96.0.1"), "{out}");
        // An empty non-terminal exists too.
        let (code, out) = dnsq(&c, client, &["default.svc.cluster.local.", "A"]);
        assert!(code == 0 && out.contains("ANSWER: 0"), "{out}");
    }

    // A new Service resolves from every node shortly after it is created.
    let created = Instant::now();
    c.apply(
        V,
        "apiVersion: v1\nkind: Service\nmetadata: {name: late}\nspec:\n  selector: {app: web}\n  ports: [{port: 81}]\n",
    );
    for client in ["client-0", "client-1", "client-2"] {
        eventually(Duration::from_secs(10), "the new Service resolving", || {
            (dnsq(&c, client, &["late.default.svc.cluster.local.", "+short"]).0 == 0).then_some(())
        });
    }
    eprintln!(
        "a new Service resolved on both nodes {:.2} s after kubectl apply returned",
        created.elapsed().as_secs_f64()
    );

    // Straight to a node's server with dig: TCP works, zone transfers are refused.
    let jsonpath = "jsonpath={.status.addresses[?(@.type==\"InternalIP\")].address}";
    let node_ip = c.ok(V, &["get", "node", &c.nodes[0], "-o", jsonpath]).trim().to_string();
    let dig = c.on_node(1, &["dig", "+tcp", "+short", &format!("@{node_ip}"), "web.default.svc.cluster.local."]);
    assert_eq!(
        String::from_utf8_lossy(&dig.stdout).trim(),
        web_ip,
        "dig @{node_ip}: {}",
        String::from_utf8_lossy(&dig.stderr)
    );
    let axfr = c.on_node(1, &["dig", &format!("@{node_ip}"), "cluster.local.", "AXFR"]);
    let text = String::from_utf8_lossy(&axfr.stdout).to_string();
    assert!(text.contains("Transfer failed") || text.contains("REFUSED"), "{text}");
    // A large answer: 100 endpoints of a selector-less headless Service (its slice written by
    // hand). Over UDP without EDNS it does not fit 512 bytes: truncated, and dig retries over TCP.
    let addresses: Vec<String> = (1..=100).map(|i| format!("10.250.0.{i}")).collect();
    let big = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: big}}\nspec: {{clusterIP: None, ports: [{{port: 80}}]}}\n---\n\
         apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: big-1, labels: {{kubernetes.io/service-name: big}}}}\n\
         addressType: IPv4\nports: [{{port: 80}}]\nendpoints: [{}]\n",
        addresses.iter().map(|a| format!("{{addresses: [\"{a}\"]}}")).collect::<Vec<_>>().join(", ")
    );
    c.apply(V, &big);
    let big_name = "big.default.svc.cluster.local.";
    eventually(Duration::from_secs(10), "the 100-address answer over TCP", || {
        let out = c.on_node(1, &["dig", "+tcp", "+short", &format!("@{node_ip}"), big_name]);
        (String::from_utf8_lossy(&out.stdout).lines().count() == 100).then_some(())
    });
    let udp = c.on_node(1, &["dig", "+noedns", "+ignore", &format!("@{node_ip}"), big_name]);
    let text = String::from_utf8_lossy(&udp.stdout).to_string();
    assert!(text.contains(" tc") && text.contains("ANSWER: 0"), "UDP without EDNS must be truncated:\n{text}");
    let retried = c.on_node(1, &["dig", "+noedns", "+short", &format!("@{node_ip}"), big_name]);
    assert_eq!(String::from_utf8_lossy(&retried.stdout).lines().count(), 100, "dig falls back to TCP");
    // With EDNS and a 4096-byte buffer the same answer fits in one datagram.
    let edns = c.on_node(1, &["dig", "+bufsize=4096", "+ignore", &format!("@{node_ip}"), big_name]);
    let text = String::from_utf8_lossy(&edns.stdout).to_string();
    assert!(!text.contains(" tc") && text.contains("ANSWER: 100") && text.contains("udp: 4096"), "{text}");

    // Garbage on the wire (a truncated header, a compression loop) gets FORMERR or nothing, and
    // the server keeps answering.
    let junk = format!(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         for p in [b'\\x12', b'\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\xc0\\x0c\\x00\\x01\\x00\\x01']:\n    s.sendto(p, ('{node_ip}', 53))\n"
    );
    let sent = c.on_node(1, &["python3", "-c", &junk]);
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    let dig = c.on_node(1, &["dig", "+short", &format!("@{node_ip}"), "web.default.svc.cluster.local."]);
    assert_eq!(String::from_utf8_lossy(&dig.stdout).trim(), web_ip, "after malformed packets");
    // The node's /metrics counts what its server answered.
    let metrics = c.on_node(1, &["curl", "-s", "--max-time", "5", "http://127.0.0.1:10249/metrics"]);
    let metrics = String::from_utf8_lossy(&metrics.stdout).to_string();
    let count = |series: &str| -> u64 {
        metrics.lines().find_map(|l| l.strip_prefix(series)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    };
    let node = &c.nodes[0];
    assert!(
        count(&format!("keel_dns_queries_total{{node=\"{node}\",type=\"A\",rcode=\"NOERROR\"}}")) >= 5,
        "{metrics}"
    );
    assert!(
        count(&format!("keel_dns_queries_total{{node=\"{node}\",type=\"A\",rcode=\"NXDOMAIN\"}}")) >= 1,
        "{metrics}"
    );
    assert!(count(&format!("keel_dns_request_duration_seconds_count{{node=\"{node}\"}}")) >= 10, "{metrics}");
    // `keel dns query` asks a node's server from the host (entering the node's namespace).
    let keel_dns = |args: &[&str]| {
        let out = std::process::Command::new(keel_e2e::keel_bin())
            .args(["dns", "query"])
            .args(args)
            .args(["--node", &c.nodes[1], "--kubeconfig"])
            .arg(c.kubeconfig())
            .output()
            .expect("keel dns query");
        assert!(out.status.success(), "keel dns query {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let out = keel_dns(&["web.default.svc.cluster.local"]);
    assert!(out.contains("NoError") && out.contains(" aa") && out.contains(&web_ip), "{out}");
    let out = keel_dns(&["nope.default.svc.cluster.local", "AAAA"]);
    assert!(out.contains("NXDomain") && out.contains(";; AUTHORITY") && out.contains("SOA"), "{out}");
    let out = keel_dns(&["_http._tcp.web.default.svc.cluster.local", "SRV"]);
    assert!(out.contains("SRV") && out.contains("80 web.default.svc.cluster.local."), "{out}");

    // Every node published its endpoint for kube-dns.
    let slices = c.ok(
        V,
        &["get", "endpointslices", "-n", "kube-system", "-l", "kubernetes.io/service-name=kube-dns", "-o", "name"],
    );
    assert_eq!(slices.lines().count(), 3, "{slices}");
}

/// dnsmasq in the cluster's underlay namespace: the upstream resolver for outside names
/// (never a real one). Killed on drop.
struct Upstream {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Upstream {
    fn start(c: &Cluster) -> Self {
        let log = c.dir.path().join("dnsmasq.log");
        let out = std::fs::File::create(&log).expect("dnsmasq log");
        let child = std::process::Command::new("nsenter")
            .arg(format!("--net=/run/netns/keel-{}-ul", c.name))
            .args([
                "dnsmasq",
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                "--listen-address=172.31.0.1",
                "--port=53",
                "--address=/ext.example.test/192.0.2.44",
                "--address=/gone.example.test/",
                "--local-ttl=30",
                "--log-queries",
                "--log-facility=-",
            ])
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("starting dnsmasq");
        Self { child, log }
    }

    /// How many times the upstream was asked for `name` (type A).
    fn queries(&self, name: &str) -> usize {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().filter(|l| l.contains(&format!("query[A] {name} "))).count()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Also verified pod records (`--dns-pod-records=verified`).
#[test]
fn outside_names_are_forwarded_and_cached() {
    let c = Cluster::up_with(1, &["--agent-arg=--dns-upstream=172.31.0.1", "--agent-arg=--dns-pod-records=verified"])
        .expect("cluster");
    let mut upstream = Upstream::start(&c);
    c.apply(V, &client(0, &c.nodes[0]));
    eventually(Duration::from_secs(60), "the client pod running", || {
        c.pod(V, "default", "client-0").is_some_and(|p| p["status"]["phase"] == "Running").then_some(())
    });
    let name = "ext.example.test.";
    let first = eventually(Duration::from_secs(20), "the forwarded answer", || {
        let (code, out) = dnsq(&c, "client-0", &[name, "+short"]);
        (code == 0).then_some(out)
    });
    assert_eq!(first.trim(), "192.0.2.44");
    for _ in 0..3 {
        assert_eq!(short(&c, "client-0", &[name]), set(&["192.0.2.44"]));
    }
    assert_eq!(upstream.queries("ext.example.test"), 1, "answers within the TTL come from the cache");
    // The full answer says it was resolved for us, with the TTL left in the cache.
    let (_, full) = dnsq(&c, "client-0", &[name]);
    assert!(full.contains(" ra") && !full.contains(" aa"), "{full}");
    // NXDOMAIN from upstream comes through.
    let (code, out) = dnsq(&c, "client-0", &["gone.example.test."]);
    assert!(code == 1 && out.contains("NXDOMAIN"), "{out}");
    // Verified pod records: only an address a pod of that namespace has.
    let pod = c.pod(V, "default", "client-0").unwrap_or_default();
    let ip = pod["status"]["podIP"].as_str().unwrap_or_default().to_string();
    let dashed = ip.replace('.', "-");
    assert_eq!(short(&c, "client-0", &[&format!("{dashed}.default.pod.cluster.local.")]), set(&[&ip]));
    for other in [format!("{dashed}.other.pod.cluster.local."), "10-244-250-250.default.pod.cluster.local.".into()] {
        let (code, out) = dnsq(&c, "client-0", &[&other]);
        assert!(code == 1 && out.contains("NXDOMAIN"), "{other}: {out}");
    }
    // With the upstream gone, the cached answer still comes back until its TTL runs out.
    upstream.stop();
    assert_eq!(short(&c, "client-0", &[name]), set(&["192.0.2.44"]));
    // An outside name typed without its final dot: the first search expansion is answered at
    // once (autopath), with a CNAME to the name itself and its address from the cache.
    let (code, out) = dnsq(&c, "client-0", &["ext.example.test"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(";; NAME: ext.example.test.default.svc.cluster.local."), "{out}");
    assert!(out.contains("CNAME\text.example.test.") && out.contains("192.0.2.44"), "{out}");

    // The cache's work shows on /metrics: one trip upstream, every other answer a hit.
    let metrics = c.on_node(1, &["curl", "-s", "--max-time", "5", "http://127.0.0.1:10249/metrics"]);
    let metrics = String::from_utf8_lossy(&metrics.stdout).to_string();
    let node = &c.nodes[0];
    let count = |result: &str| -> u64 {
        let series = format!("keel_dns_forward_cache_total{{node=\"{node}\",result=\"{result}\"}}");
        metrics.lines().find_map(|l| l.strip_prefix(&series)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    };
    assert_eq!(count("miss"), 1, "{metrics}");
    assert!(count("hit") >= 5, "{metrics}");
    assert!(metrics.contains("keel_dns_forward_cache_hit_ratio"), "{metrics}");
}

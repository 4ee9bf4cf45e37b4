//! A dual-stack `keel cluster up --dual-stack` with 2 nodes: nodes report an
//! InternalIP and a podCIDR per family, pods get an IPv4 and an IPv6 address,
//! pods reach each other over IPv6 across nodes (host-gw routes on the
//! underlay's IPv6), and a RequireDualStack Service answers on both
//! ClusterIPs through the eBPF socket load balancer (connect6, sendmsg6,
//! recvmsg6, getpeername6), with the IPv6 ClusterIP as the peer clients see,
//! and cluster DNS answers A and AAAA for it.

use keel_e2e::{eventually, Cluster, KUBECTL_NEWEST};
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

const V: &str = KUBECTL_NEWEST;

const APP: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: echo
        image: keel-test/echo:v1
        # "::" takes both families on one socket.
        env: [{name: BIND_ADDR, value: "::"}]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}, {name: udp, port: 53, targetPort: 8080, protocol: UDP}]
---
"#;

fn clients(c: &Cluster) -> String {
    c.nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: client-{i}}}\nspec:\n  nodeName: {node}\n  terminationGracePeriodSeconds: 0\n  containers: [{{name: c, image: \"keel-test/toolbox:latest\", imagePullPolicy: IfNotPresent, command: [sleep, \"3600\"]}}]\n---\n"
            )
        })
        .collect()
}

fn json(c: &Cluster, args: &[&str]) -> Value {
    serde_json::from_str(&c.ok(V, args)).unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(|x| x.as_str().map(String::from)).collect()
}

/// `echo-server probe MODE ADDR` in a client pod: the backend's hostname and the peer the client saw.
fn probe(c: &Cluster, client: &str, mode: &str, addr: &str) -> Result<(String, String), String> {
    let out = c.kubectl(V, &["exec", client, "--", "echo-server", "probe", mode, addr]).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = text.lines();
    let body: Value = lines
        .next()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| format!("{mode} {addr}: {text}{}", String::from_utf8_lossy(&out.stderr)))?;
    let peer = lines.next().and_then(|l| l.strip_prefix("peer=")).unwrap_or_default().to_string();
    Ok((body["hostname"].as_str().unwrap_or_default().to_string(), peer))
}

#[test]
fn dual_stack_pods_and_services() {
    let c = Cluster::up_with(2, &["--dual-stack"]).expect("cluster");

    // Nodes: an InternalIP and a podCIDR per family.
    for node in &c.nodes {
        let n = json(&c, &["get", "node", node, "-o", "json"]);
        let cidrs = strings(&n["spec"]["podCIDRs"]);
        assert_eq!(cidrs.len(), 2, "{node} podCIDRs {cidrs:?}");
        assert!(cidrs[0].contains('.') && cidrs[1].contains(':'), "{cidrs:?}");
        let internal: Vec<&str> = n["status"]["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["type"] == "InternalIP")
            .filter_map(|a| a["address"].as_str())
            .collect();
        assert!(internal.len() == 2 && internal[1].contains(':'), "{node} InternalIPs {internal:?}");
    }

    c.apply(V, &(APP.to_string() + &clients(&c)));
    let web: HashSet<String> = eventually(Duration::from_secs(90), "3 ready web pods and 2 clients", || {
        let pods = json(&c, &["get", "pods", "-o", "json"]);
        let items = pods["items"].as_array().cloned().unwrap_or_default();
        let ready = |p: &Value| {
            p["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        };
        let web: HashSet<String> = items
            .iter()
            .filter(|p| p["metadata"]["labels"]["app"] == "web" && ready(p))
            .filter_map(|p| p["metadata"]["name"].as_str().map(String::from))
            .collect();
        let clients = items.iter().filter(|p| p["metadata"]["name"].as_str().is_some_and(|n| n.starts_with("client-")));
        (web.len() == 3 && clients.filter(|p| ready(p)).count() == 2).then_some(web)
    });

    // Pods: podIPs of both families, the IPv6 one inside its node's IPv6 podCIDR.
    let pods = json(&c, &["get", "pods", "-l", "app=web", "-o", "json"]);
    let mut web6 = Vec::new();
    for p in pods["items"].as_array().into_iter().flatten() {
        let ips: Vec<String> = p["status"]["podIPs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["ip"].as_str().map(String::from))
            .collect();
        assert!(ips.len() == 2 && ips[1].contains(':'), "podIPs {ips:?}");
        web6.push((p["metadata"]["name"].as_str().unwrap_or_default().to_string(), ips[1].clone()));
    }

    // Pod to pod over IPv6, from both nodes to every backend (cross-node host-gw routes).
    for client in ["client-0", "client-1"] {
        for (name, ip6) in &web6 {
            let addr = format!("[{ip6}]:8080");
            let got = eventually(Duration::from_secs(20), &format!("{client} -> {addr}"), || {
                probe(&c, client, "tcp", &addr).ok()
            });
            assert_eq!(&got.0, name, "{client} -> {addr}");
        }
    }

    // The Service: one ClusterIP per family and an EndpointSlice per family.
    let svc = json(&c, &["get", "service", "web", "-o", "json"]);
    let cluster_ips = strings(&svc["spec"]["clusterIPs"]);
    assert!(cluster_ips.len() == 2 && cluster_ips[1].starts_with("fd00:10:96:"), "{cluster_ips:?}");
    let (ip4, ip6) = (cluster_ips[0].clone(), cluster_ips[1].clone());
    let slices = json(&c, &["get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "json"]);
    let types: HashSet<String> = slices["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["addressType"].as_str().map(String::from))
        .collect();
    assert_eq!(types, HashSet::from(["IPv4".to_string(), "IPv6".to_string()]));

    // Every backend answers on the IPv6 ClusterIP from both nodes, and the
    // client sees the ClusterIP as its peer (TCP, connected and unconnected UDP).
    let vip6 = format!("[{ip6}]:80");
    for client in ["client-0", "client-1"] {
        let seen = eventually(Duration::from_secs(30), &format!("{client} reaching all backends on {vip6}"), || {
            let mut seen = HashSet::new();
            for _ in 0..30 {
                if let Ok((host, peer)) = probe(&c, client, "tcp", &vip6) {
                    assert_eq!(peer, vip6, "getpeername over IPv6");
                    seen.insert(host);
                }
                if seen == web {
                    return Some(seen);
                }
            }
            None
        });
        assert_eq!(seen, web);
        for mode in ["udp-connected", "udp"] {
            let udp6 = format!("[{ip6}]:53");
            let (host, peer) = probe(&c, client, mode, &udp6).unwrap_or_else(|e| panic!("{mode}: {e}"));
            assert!(web.contains(&host), "{mode}: {host}");
            assert_eq!(peer, udp6, "{mode}: the reply must come from the ClusterIP");
        }
    }
    // The IPv4 ClusterIP of the same Service still works.
    let (host, peer) = probe(&c, "client-1", "tcp", &format!("{ip4}:80")).expect("IPv4 ClusterIP");
    assert!(web.contains(&host) && peer == format!("{ip4}:80"), "{host} {peer}");

    // Cluster DNS serves both families of the Service, and the IPv6 reverse name.
    let dnsq = |args: &[&str]| {
        let mut cmd = vec!["exec", "client-0", "--", "dnsq"];
        cmd.extend_from_slice(args);
        cmd.push("+short");
        c.ok(V, &cmd).trim().to_string()
    };
    let fqdn = "web.default.svc.cluster.local.";
    assert_eq!(dnsq(&[fqdn, "A"]), ip4);
    assert_eq!(dnsq(&[fqdn, "AAAA"]), ip6);
    assert_eq!(dnsq(&["-x", &ip6]), fqdn);

    // The maps hold the IPv6 frontend; untranslated IPv6 Service traffic has nowhere to go.
    let list = std::process::Command::new(keel_e2e::keel_bin())
        .args(["lb", "list", "--node", &c.nodes[0]])
        .output()
        .expect("keel lb list");
    let list = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(list.contains(&vip6), "{list}");
    let route = c.on_node(1, &["ip", "-6", "route", "get", &ip6]);
    let text = String::from_utf8_lossy(&route.stdout).to_string() + &String::from_utf8_lossy(&route.stderr);
    assert!(text.contains("unreachable") || text.contains("No route"), "{text}");
}

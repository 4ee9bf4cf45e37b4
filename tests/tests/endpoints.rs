//! EndpointSlices and Endpoints on a `keel cluster up` cluster, driven by
//! real kubectl: a Deployment's ready pods become a Service's endpoints
//! (named target ports resolved per pod, node names, owner references),
//! follow scaling and deletion, and the special kinds of Service (no
//! selector, headless, ExternalName, publishNotReadyAddresses) get what
//! upstream gives them.

use keel_e2e::{eventually, Cluster, KUBECTL_NEWEST, KUBECTL_OLDEST};
use serde_json::Value;
use std::time::Duration;

const V: &str = KUBECTL_NEWEST;

fn slices(c: &Cluster, svc: &str) -> Vec<Value> {
    let out = c.ok(V, &["get", "endpointslices", "-l", &format!("kubernetes.io/service-name={svc}"), "-o", "json"]);
    serde_json::from_str::<Value>(&out).ok().and_then(|v| v["items"].as_array().cloned()).unwrap_or_default()
}

fn ready_ips(c: &Cluster, svc: &str) -> Vec<String> {
    let mut ips: Vec<String> = slices(c, svc)
        .iter()
        .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["conditions"]["ready"] == true)
        .filter_map(|e| e["addresses"][0].as_str().map(String::from))
        .collect();
    ips.sort();
    ips
}

fn pod_ips(c: &Cluster, selector: &str) -> Vec<String> {
    let out = c.ok(V, &["get", "pods", "-l", selector, "-o", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap_or_default();
    let mut ips: Vec<String> = v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter(|p| {
            p["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
        .filter_map(|p| p["status"]["podIP"].as_str().map(String::from))
        .collect();
    ips.sort();
    ips
}

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
      terminationGracePeriodSeconds: 3
      containers:
      - name: echo
        image: keel-test/echo:v1
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {tier: front}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: nobody}
spec:
  selector: {app: nobody}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web-headless}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: outside}
spec:
  type: ExternalName
  externalName: example.invalid
---
apiVersion: v1
kind: Service
metadata: {name: manual}
spec:
  ports: [{port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: manual-1, labels: {kubernetes.io/service-name: manual}}
addressType: IPv4
ports: [{port: 80}]
endpoints: [{addresses: [10.1.2.3]}]
"#;

#[test]
fn services_get_slices_that_follow_their_pods() {
    let c = Cluster::up(2).expect("cluster");
    c.apply(V, APP);
    let ips = eventually(Duration::from_secs(60), "3 ready endpoints equal to the ready pods", || {
        let (e, p) = (ready_ips(&c, "web"), pod_ips(&c, "app=web"));
        (e.len() == 3 && e == p).then_some(e)
    });
    let s = slices(&c, "web");
    assert_eq!(s.len(), 1, "{s:?}");
    let slice = &s[0];
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(slice["ports"], serde_json::json!([{"name": "http", "port": 8080, "protocol": "TCP"}]));
    assert_eq!(slice["metadata"]["ownerReferences"][0]["kind"], "Service");
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(slice["metadata"]["labels"]["tier"], "front");
    let eps = slice["endpoints"].as_array().cloned().unwrap_or_default();
    assert!(eps.iter().all(|e| e["nodeName"].is_string() && e["targetRef"]["kind"] == "Pod"), "{eps:?}");

    // Old clients read Endpoints; kubectl 1.27 shows them.
    let ep = c.ok(KUBECTL_OLDEST, &["get", "endpoints", "web", "-o", "json"]);
    let ep: Value = serde_json::from_str(&ep).unwrap_or_default();
    let mut legacy: Vec<String> = ep["subsets"][0]["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["ip"].as_str().map(String::from))
        .collect();
    legacy.sort();
    assert_eq!(legacy, ips);
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], 8080);

    // Scaling adds endpoints; a deleted pod leaves.
    c.ok(V, &["scale", "deployment", "web", "--replicas=4"]);
    eventually(Duration::from_secs(60), "4 ready endpoints", || {
        let (e, p) = (ready_ips(&c, "web"), pod_ips(&c, "app=web"));
        (e.len() == 4 && e == p).then_some(())
    });
    let out =
        c.ok(V, &["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name} {.items[0].status.podIP}"]);
    let (victim, victim_ip) = out.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())).unwrap_or_default();
    c.ok(V, &["delete", "pod", &victim, "--wait=false"]);
    eventually(Duration::from_secs(30), "the deleted pod no longer ready in the slice", || {
        (!ready_ips(&c, "web").contains(&victim_ip)).then_some(())
    });
    eventually(Duration::from_secs(60), "4 ready endpoints again, without the deleted pod", || {
        let e = ready_ips(&c, "web");
        (e.len() == 4 && !e.contains(&victim_ip)).then_some(())
    });

    // A headless service is labelled so; a service selecting nothing has
    // one empty slice; ExternalName and selector-less ones get none of ours.
    let h = slices(&c, "web-headless");
    assert!(h.iter().all(|s| s["metadata"]["labels"]["service.kubernetes.io/headless"] == ""), "{h:?}");
    let n = eventually(Duration::from_secs(30), "the placeholder slice", || {
        let s = slices(&c, "nobody");
        (s.len() == 1).then_some(s)
    });
    assert!(n[0]["endpoints"].as_array().is_none_or(|e| e.is_empty()), "{n:?}");
    assert!(slices(&c, "outside").is_empty());
    let m = slices(&c, "manual");
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0]["metadata"]["name"], "manual-1", "user slices are left alone");

    // Deleting the service takes its slices and Endpoints along.
    c.ok(V, &["delete", "service", "web"]);
    eventually(Duration::from_secs(30), "web's slices and Endpoints gone", || {
        let gone = c.kubectl(V, &["get", "endpoints", "web"]).map(|o| !o.status.success()).unwrap_or(false);
        (slices(&c, "web").is_empty() && gone).then_some(())
    });
}

#[test]
fn publish_not_ready_addresses_lists_unready_pods() {
    let c = Cluster::up(1).expect("cluster");
    c.apply(
        V,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: peer, labels: {app: peer}}
spec:
  hostname: peer-0
  subdomain: peers
  containers:
  - name: echo
    image: keel-test/echo:v1
    readinessProbe: {tcpSocket: {port: 9}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: peers}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app: peer}
  ports: [{port: 8080}]
"#,
    );
    let e = eventually(Duration::from_secs(60), "the unready pod listed as ready", || {
        let s = slices(&c, "peers");
        let e = s.first()?["endpoints"].as_array()?.first()?.clone();
        (e["conditions"]["ready"] == true).then_some(e)
    });
    assert_eq!(e["hostname"], "peer-0", "{e}");
    let p = c.pod(V, "default", "peer").unwrap_or_default();
    let ready = p["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    assert!(!ready, "the pod itself is not ready");
}

fn lb_ip(c: &Cluster, svc: &str) -> Option<String> {
    let out = c.ok(V, &["get", "service", svc, "-o", "json"]);
    let v: Value = serde_json::from_str(&out).ok()?;
    v["status"]["loadBalancer"]["ingress"][0]["ip"].as_str().map(String::from)
}

#[test]
fn load_balancers_get_addresses_from_the_pool() {
    // keel cluster up's pool is the underlay's .200-.239.
    let c = Cluster::up(1).expect("cluster");
    let lb = |name: &str, extra: &str| {
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  type: LoadBalancer\n  selector: {{app: x}}\n  ports: [{{port: 80}}]\n{extra}---\n")
    };
    let manifest = lb("a", "")
        + &lb("b", "")
        + &lb("pinned", "  loadBalancerIP: 172.31.0.230\n")
        + &lb("theirs", "  loadBalancerClass: example.com/other\n")
        + &lb("outside", "  loadBalancerIP: 10.9.9.9\n");
    c.apply(V, &manifest);
    let (a, b) =
        eventually(Duration::from_secs(30), "addresses for a and b", || Some((lb_ip(&c, "a")?, lb_ip(&c, "b")?)));
    assert_ne!(a, b);
    for ip in [&a, &b] {
        let last: u8 = ip.rsplit('.').next().and_then(|o| o.parse().ok()).unwrap_or(0);
        assert!(ip.starts_with("172.31.0.") && (200..=239).contains(&last), "{ip}");
    }
    eventually(Duration::from_secs(30), "the requested address", || {
        (lb_ip(&c, "pinned").as_deref() == Some("172.31.0.230")).then_some(())
    });
    let table = c.ok(V, &["get", "service", "a"]);
    assert!(table.contains(&a), "EXTERNAL-IP shown: {table}");
    // Another class's service and an address outside the pool stay pending,
    // the latter with a Warning event that says why.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(lb_ip(&c, "theirs"), None);
    assert_eq!(lb_ip(&c, "outside"), None);
    let events = c.ok(V, &["get", "events", "--field-selector", "involvedObject.name=outside,reason=AllocationFailed"]);
    assert!(events.contains("load-balancer pool"), "{events}");
    // No longer a LoadBalancer: the address is given back and reused.
    c.ok(V, &["patch", "service", "a", "--type=merge", "-p", r#"{"spec":{"type":"ClusterIP"}}"#]);
    eventually(Duration::from_secs(30), "a's address released", || lb_ip(&c, "a").is_none().then_some(()));
    c.apply(V, &lb("c", ""));
    eventually(Duration::from_secs(30), "c reuses a's address", || {
        (lb_ip(&c, "c").as_deref() == Some(a.as_str())).then_some(())
    });
}

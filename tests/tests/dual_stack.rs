//! Dual-stack (IPv4 + IPv6) control plane, driven by real kubectl: Service
//! addresses per `ipFamilyPolicy`, upgrade and downgrade, the errors a
//! single-stack server gives, node podCIDRs of both families, and one
//! EndpointSlice per family from pods' `status.podIPs`.

use keel_e2e::{eventually, json, Server, KUBECTL_NEWEST, KUBECTL_OLDEST};
use serde_json::Value;
use std::net::IpAddr;
use std::time::Duration;

const V: &str = KUBECTL_NEWEST;
const DUAL: &[&str] =
    &["--service-cidr=10.96.0.0/12,fd00:10:96::/112", "--cluster-cidr=10.244.0.0/16,fd00:10:244::/56"];

const SERVICES: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: single}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: prefer}
spec:
  ipFamilyPolicy: PreferDualStack
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: require-v6-first}
spec:
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv6, IPv4]
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: v6-only}
spec:
  ipFamilies: [IPv6]
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: pinned}
spec:
  ipFamilyPolicy: RequireDualStack
  clusterIPs: [10.96.0.77, "fd00:10:96::77"]
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: headless}
spec:
  clusterIP: None
  ipFamilyPolicy: PreferDualStack
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: outside}
spec:
  type: ExternalName
  externalName: example.invalid
"#;

fn apply(s: &Server, v: &str, yaml: &str) {
    let out = s.kubectl_stdin(v, &["apply", "-f", "-"], Some(yaml)).expect("kubectl");
    assert!(out.status.success(), "kubectl {v} apply: {}", String::from_utf8_lossy(&out.stderr));
}

/// Create from JSON on stdin; stderr when refused.
fn create(s: &Server, obj: &str) -> Result<(), String> {
    let out = s.kubectl_stdin(V, &["create", "-f", "-"], Some(obj)).expect("kubectl");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn svc(s: &Server, name: &str) -> Value {
    json(&s.ok(V, &["get", "svc", name, "-o", "json"]))["spec"].clone()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect()
}

/// The families of the addresses, checking each lies in the server's range.
fn families_of(ips: &[String]) -> Vec<&'static str> {
    ips.iter()
        .map(|ip| match ip.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => {
                let [first, second, ..] = a.octets();
                assert!(first == 10 && (96..112).contains(&second), "{a} outside 10.96.0.0/12");
                "IPv4"
            }
            Ok(IpAddr::V6(a)) => {
                assert_eq!(a.segments()[..7], [0xfd00, 0x10, 0x96, 0, 0, 0, 0], "{a} outside fd00:10:96::/112");
                "IPv6"
            }
            Err(_) => panic!("not an address: {ip}"),
        })
        .collect()
}

#[test]
fn services_get_addresses_per_ip_family_policy() {
    let s = Server::start_with(DUAL).expect("server");
    apply(&s, KUBECTL_OLDEST, SERVICES);

    let expect = [
        ("single", "SingleStack", vec!["IPv4"]),
        ("prefer", "PreferDualStack", vec!["IPv4", "IPv6"]),
        ("require-v6-first", "RequireDualStack", vec!["IPv6", "IPv4"]),
        ("v6-only", "SingleStack", vec!["IPv6"]),
        ("pinned", "RequireDualStack", vec!["IPv4", "IPv6"]),
    ];
    for (name, policy, families) in expect {
        let spec = svc(&s, name);
        assert_eq!(spec["ipFamilyPolicy"], policy, "{name}: {spec:#}");
        assert_eq!(strings(&spec["ipFamilies"]), families, "{name}: {spec:#}");
        let ips = strings(&spec["clusterIPs"]);
        assert_eq!(families_of(&ips), families, "{name}: one address per family, in order: {spec:#}");
        assert_eq!(spec["clusterIP"].as_str(), ips.first().map(String::as_str), "{name}: clusterIP is clusterIPs[0]");
    }
    assert_eq!(strings(&svc(&s, "pinned")["clusterIPs"]), ["10.96.0.77", "fd00:10:96::77"]);
    let headless = svc(&s, "headless");
    assert_eq!(
        (strings(&headless["clusterIPs"]), strings(&headless["ipFamilies"])),
        (vec!["None".to_string()], vec!["IPv4".to_string(), "IPv6".to_string()])
    );
    let outside = svc(&s, "outside");
    assert!(outside.get("ipFamilies").is_none() && outside.get("clusterIPs").is_none(), "{outside:#}");

    // Taken addresses are refused, per family.
    let clash = r#"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "clash"},
        "spec": {"ipFamilyPolicy": "PreferDualStack", "clusterIPs": ["10.96.0.78", "fd00:10:96::77"], "ports": [{"port": 80}]}}"#;
    let err = create(&s, clash).expect_err("a taken address");
    assert!(err.contains("failed to allocate IP fd00:10:96::77: provided IP is already allocated"), "{err}");

    // Downgrade: SingleStack drops the secondary, the primary stays.
    let before = strings(&svc(&s, "prefer")["clusterIPs"]);
    s.ok(V, &["patch", "svc", "prefer", "--type=merge", "-p", r#"{"spec":{"ipFamilyPolicy":"SingleStack"}}"#]);
    let after = svc(&s, "prefer");
    assert_eq!(strings(&after["clusterIPs"]), before[..1], "{after:#}");
    assert_eq!(strings(&after["ipFamilies"]), ["IPv4"]);
    // Shrinking without SingleStack is refused with upstream's words.
    let err = s.fails(
        V,
        &[
            "patch",
            "svc",
            "pinned",
            "--type=merge",
            "-p",
            r#"{"spec":{"clusterIPs":["10.96.0.77"],"clusterIP":"10.96.0.77"}}"#,
        ],
    );
    assert!(
        err.contains("must be set to 'SingleStack' when releasing the secondary clusterIP")
            || err.contains("must be 'SingleStack' to release the secondary cluster IP"),
        "{err}"
    );

    // Upgrade: a dual-stack policy adds the secondary, the primary stays.
    let single = strings(&svc(&s, "single")["clusterIPs"]);
    s.ok(V, &["patch", "svc", "single", "--type=merge", "-p", r#"{"spec":{"ipFamilyPolicy":"PreferDualStack"}}"#]);
    let upgraded = svc(&s, "single");
    let ips = strings(&upgraded["clusterIPs"]);
    assert_eq!(families_of(&ips), ["IPv4", "IPv6"], "{upgraded:#}");
    assert_eq!(ips[0], single[0]);
    // The released secondary of `prefer` is free again: ask for it.
    let reuse = format!(
        r#"{{"apiVersion": "v1", "kind": "Service", "metadata": {{"name": "reuse"}},
        "spec": {{"ipFamilies": ["IPv6"], "clusterIPs": ["{}"], "ports": [{{"port": 80}}]}}}}"#,
        before[1]
    );
    create(&s, &reuse).expect("the released address is free");
    assert_eq!(strings(&svc(&s, "reuse")["clusterIPs"]), [before[1].clone()]);
    // The primary family is immutable.
    let err = s.fails(V, &["patch", "svc", "v6-only", "--type=merge", "-p", r#"{"spec":{"ipFamilies":["IPv4"]}}"#]);
    assert!(err.contains("spec.ipFamilies[0]"), "{err}");

    // The API's own Service stays on the primary family.
    let api = svc(&s, "kubernetes");
    assert_eq!(
        (strings(&api["clusterIPs"]), api["ipFamilyPolicy"].clone()),
        (vec!["10.96.0.1".to_string()], Value::from("SingleStack"))
    );
}

#[test]
fn a_single_stack_server_refuses_ipv6_and_dual_stack_services() {
    let s = Server::start().expect("server");
    let v6 = r#"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "v6"}, "spec": {"ipFamilies": ["IPv6"], "ports": [{"port": 80}]}}"#;
    for v in [KUBECTL_OLDEST, KUBECTL_NEWEST] {
        let out = s.kubectl_stdin(v, &["create", "-f", "-"], Some(v6)).expect("kubectl");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            err.contains(r#"The Service "v6" is invalid: spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster"#),
            "kubectl {v}: {err}"
        );
    }
    let require = r#"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "both"}, "spec": {"ipFamilyPolicy": "RequireDualStack", "ports": [{"port": 80}]}}"#;
    let err = create(&s, require).expect_err("RequireDualStack on one stack");
    assert!(
        err.contains(r#"spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services"#),
        "{err}"
    );
    // The Status is a proper 422 with the field cause (kubectl logs the
    // response body, JSON-escaped, at -v=8).
    let raw = s.kubectl_stdin(V, &["create", "-f", "-", "-v=8"], Some(v6)).expect("kubectl");
    let log = String::from_utf8_lossy(&raw.stderr);
    let body = log.lines().find(|l| l.contains(r#"\"kind\":\"Status\""#)).unwrap_or_default();
    for part in ["422 Unprocessable Entity", r#"\"reason\":\"Invalid\""#, r#"\"field\":\"spec.ipFamilies[0]\""#] {
        assert!(log.contains(part), "missing {part} in {body}");
    }
    // PreferDualStack falls back to the one family there is.
    let prefer = r#"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "prefer"}, "spec": {"ipFamilyPolicy": "PreferDualStack", "ports": [{"port": 80}]}}"#;
    create(&s, prefer).expect("PreferDualStack on one stack");
    assert_eq!(strings(&svc(&s, "prefer")["ipFamilies"]), ["IPv4"]);
}

#[test]
fn bad_ranges_stop_the_server_with_a_clear_error() {
    for (flag, message) in [
        ("--service-cidr=10.96.0.0/12,10.100.0.0/16", "are both IPv4"),
        ("--service-cidr=10.96.0.0/12,fd00:10:96::/64", "the mask must be >= 108"),
        ("--cluster-cidr=10.244.0.0/16,fd00::zz/56", "invalid CIDR"),
        ("--cluster-cidr=fd00:10:244::/56,fd01::/56", "are both IPv6"),
    ] {
        let err = match Server::start_with(&[flag]) {
            Ok(_) => panic!("{flag} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(message), "{flag}: {err}");
    }
}

const NODE_AND_POD: &str = r#"
apiVersion: v1
kind: Node
metadata: {name: dual-node}
---
apiVersion: v1
kind: Pod
metadata: {name: dual-pod, labels: {app: dual}}
spec:
  nodeName: dual-node
  containers: [{name: c, image: keel-test/echo:v1, ports: [{containerPort: 8080}]}]
"#;

const DUAL_SERVICES: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: dual}
spec:
  ipFamilyPolicy: PreferDualStack
  selector: {app: dual}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: dual-v4}
spec:
  selector: {app: dual}
  ports: [{port: 80, targetPort: 8080}]
"#;

fn slices(s: &Server, svc: &str) -> Vec<Value> {
    let out = s.ok(V, &["get", "endpointslices", "-l", &format!("kubernetes.io/service-name={svc}"), "-o", "json"]);
    json(&out)["items"].as_array().cloned().unwrap_or_default()
}

/// addressType -> addresses, sorted by type.
fn by_type(slices: &[Value]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = slices
        .iter()
        .map(|s| {
            let addrs =
                s["endpoints"].as_array().into_iter().flatten().flat_map(|e| strings(&e["addresses"])).collect();
            (s["addressType"].as_str().unwrap_or_default().to_string(), addrs)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn nodes_get_both_blocks_and_pods_both_endpoint_slices() {
    let s = Server::start_with(DUAL).expect("server");
    apply(&s, V, NODE_AND_POD);

    let node = eventually(Duration::from_secs(30), "the node's podCIDRs", || {
        let n = json(&s.ok(V, &["get", "node", "dual-node", "-o", "json"]));
        (strings(&n["spec"]["podCIDRs"]).len() == 2).then_some(n)
    });
    let cidrs = strings(&node["spec"]["podCIDRs"]);
    assert!(cidrs[0].starts_with("10.244.") && cidrs[0].ends_with("/24"), "{cidrs:?}");
    assert!(cidrs[1].starts_with("fd00:10:244:") && cidrs[1].ends_with("/64"), "{cidrs:?}");
    assert_eq!(node["spec"]["podCIDR"].as_str(), Some(cidrs[0].as_str()));

    // Stand in for the kubelet: report both pod addresses.
    let status = r#"{"status": {"phase": "Running", "podIP": "10.244.0.5",
        "podIPs": [{"ip": "10.244.0.5"}, {"ip": "fd00:10:244::5"}],
        "conditions": [{"type": "Ready", "status": "True"}]}}"#;
    s.ok(V, &["patch", "pod", "dual-pod", "--subresource=status", "--type=merge", "-p", status]);

    // The Services come after the pod has its addresses: the controller's
    // pod cache and its pod trigger are separate watches, and this test is
    // about families, not about that ordering.
    eventually(Duration::from_secs(10), "the pod's addresses", || {
        let p = json(&s.ok(V, &["get", "pod", "dual-pod", "-o", "json"]));
        (p["status"]["podIPs"].as_array().map(Vec::len) == Some(2)).then_some(())
    });
    apply(&s, V, DUAL_SERVICES);

    let want = vec![
        ("IPv4".to_string(), vec!["10.244.0.5".to_string()]),
        ("IPv6".to_string(), vec!["fd00:10:244::5".to_string()]),
    ];
    let got = eventually(Duration::from_secs(30), "one IPv4 and one IPv6 slice with the pod", || {
        let got = by_type(&slices(&s, "dual"));
        (got == want).then_some(got)
    });
    assert_eq!(got, want);
    let v4 = eventually(Duration::from_secs(30), "the single-stack service's slice", || {
        let got = by_type(&slices(&s, "dual-v4"));
        (got.len() == 1 && !got[0].1.is_empty()).then_some(got)
    });
    assert_eq!(v4, want[..1]);
    // Endpoints (v1) stay on the primary family.
    let ep = eventually(Duration::from_secs(30), "the Endpoints", || {
        let ep = json(&s.ok(KUBECTL_OLDEST, &["get", "endpoints", "dual", "-o", "json"]));
        ep["subsets"].is_array().then_some(ep)
    });
    let ips: Vec<String> = ep["subsets"][0]["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["ip"].as_str().map(String::from))
        .collect();
    assert_eq!(ips, ["10.244.0.5"]);

    // Downgrading the Service drops its IPv6 slice.
    s.ok(V, &["patch", "svc", "dual", "--type=merge", "-p", r#"{"spec":{"ipFamilyPolicy":"SingleStack"}}"#]);
    eventually(Duration::from_secs(30), "only the IPv4 slice left", || {
        (by_type(&slices(&s, "dual")) == want[..1]).then_some(())
    });
}

//! `allocate` against a real store: addresses per policy, clashes, and
//! addresses freed by a downgrade or a deletion.

use super::*;
use crate::api::User;
use crate::registry::Registry;
use crate::store::{SledBackend, Store};
use serde_json::json;
use std::sync::Arc;

fn server(dir: &std::path::Path, ranges: &str) -> ApiServer {
    let backend = SledBackend::open(dir, 4 << 20).expect("sled");
    let store = Store::open(Box::new(backend)).expect("store");
    let tokens = HashMap::from([("t".to_string(), User { name: "admin".into() })]);
    let ranges = Ranges::parse_service("--service-cidr", ranges).expect("ranges");
    ApiServer::new(store, Arc::new(Registry::new()), tokens, "127.0.0.1:6443".into(), ranges)
}

fn svc(name: &str, spec: Value) -> Value {
    let mut spec = spec;
    if let Some(m) = spec.as_object_mut() {
        m.entry("type").or_insert(json!("ClusterIP"));
        m.entry("selector").or_insert(json!({"app": name}));
        m.entry("ports").or_insert(json!([{"port": 80, "protocol": "TCP"}]));
    }
    json!({"metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")}, "spec": spec})
}

async fn store(server: &ApiServer, obj: &Value) {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let key = format!("/registry/core/services/default/{name}");
    match server.store.get(&key) {
        Some(_) => server.store.update(&key, obj.clone(), None).await.map(drop),
        None => server.store.create(&key, obj.clone()).await.map(drop),
    }
    .expect("stored");
}

fn messages(r: Result<(), Vec<FieldError>>) -> Vec<String> {
    r.err().unwrap_or_default().iter().map(FieldError::message).collect()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect()
}

fn ip_in(server: &ApiServer, family: IpFamily, ip: &Value) -> bool {
    let ip: IpAddr = ip.as_str().and_then(|s| s.parse().ok()).expect("an address");
    server.service_cidrs.get(family).is_some_and(|c| c.contains(ip))
}

#[tokio::test]
async fn each_policy_on_a_dual_stack_cluster() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), "10.96.0.0/12,fd00:10:96::/112");

    let mut single = svc("single", json!({}));
    allocate(&s, &mut single, None).expect("single");
    let spec = &single["spec"];
    assert_eq!((spec["ipFamilyPolicy"].clone(), spec["ipFamilies"].clone()), (json!("SingleStack"), json!(["IPv4"])));
    assert_eq!(spec["clusterIP"], spec["clusterIPs"][0]);
    assert!(ip_in(&s, IpFamily::V4, &spec["clusterIP"]));

    let mut prefer = svc("prefer", json!({"ipFamilyPolicy": "PreferDualStack"}));
    allocate(&s, &mut prefer, None).expect("prefer");
    let spec = &prefer["spec"];
    assert_eq!(spec["ipFamilies"], json!(["IPv4", "IPv6"]));
    assert!(ip_in(&s, IpFamily::V4, &spec["clusterIPs"][0]) && ip_in(&s, IpFamily::V6, &spec["clusterIPs"][1]));

    let mut v6_first = svc("v6", json!({"ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv6", "IPv4"]}));
    allocate(&s, &mut v6_first, None).expect("require");
    let spec = &v6_first["spec"];
    assert!(ip_in(&s, IpFamily::V6, &spec["clusterIP"]) && ip_in(&s, IpFamily::V4, &spec["clusterIPs"][1]));

    let mut headless =
        svc("headless", json!({"clusterIP": "None", "clusterIPs": ["None"], "ipFamilyPolicy": "PreferDualStack"}));
    allocate(&s, &mut headless, None).expect("headless");
    assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
    assert_eq!(headless["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));

    let mut external = svc("ext", json!({"type": "ExternalName", "externalName": "example.com"}));
    allocate(&s, &mut external, None).expect("external");
    for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        assert!(external["spec"].get(field).is_none(), "{field}");
    }
}

#[tokio::test]
async fn requested_addresses_are_checked_per_family() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), "10.96.0.0/12,fd00:10:96::/112");
    let mut a = svc(
        "a",
        json!({"ipFamilyPolicy": "RequireDualStack", "clusterIP": "10.96.0.50", "clusterIPs": ["10.96.0.50", "fd00:10:96::50"]}),
    );
    allocate(&s, &mut a, None).expect("requested");
    assert_eq!(a["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
    store(&s, &a).await;

    let mut clash = svc(
        "b",
        json!({"ipFamilyPolicy": "PreferDualStack", "clusterIP": "10.96.0.51", "clusterIPs": ["10.96.0.51", "fd00:10:96::50"]}),
    );
    assert_eq!(
        messages(allocate(&s, &mut clash, None)),
        ["spec.clusterIPs: Invalid value: [\"10.96.0.51\",\"fd00:10:96::50\"]: failed to allocate IP fd00:10:96::50: provided IP is already allocated"]
    );
    let mut outside = svc("c", json!({"clusterIP": "fd00:10:97::1", "clusterIPs": ["fd00:10:97::1"]}));
    assert_eq!(
        messages(allocate(&s, &mut outside, None)),
        ["spec.clusterIPs: Invalid value: [\"fd00:10:97::1\"]: failed to allocate IP fd00:10:97::1: provided IP is not in the valid range. The range of valid IPs is fd00:10:96::/112"]
    );
}

#[tokio::test]
async fn single_stack_cluster_refuses_ipv6_and_dual_stack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), "10.96.0.0/12");
    let mut v6 = svc("v6", json!({"ipFamilies": ["IPv6"]}));
    assert_eq!(
        messages(allocate(&s, &mut v6, None)),
        ["spec.ipFamilies[0]: Invalid value: \"IPv6\": not configured on this cluster"]
    );
    let mut require = svc("r", json!({"ipFamilyPolicy": "RequireDualStack"}));
    assert_eq!(
        messages(allocate(&s, &mut require, None)),
        ["spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": this cluster is not configured for dual-stack services"]
    );
    let mut prefer = svc("p", json!({"ipFamilyPolicy": "PreferDualStack"}));
    allocate(&s, &mut prefer, None).expect("prefer falls back to one family");
    assert_eq!(prefer["spec"]["ipFamilies"], json!(["IPv4"]));
    assert_eq!(strs(&prefer["spec"]["clusterIPs"]).len(), 1);
}

#[tokio::test]
async fn upgrade_downgrade_and_freed_addresses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), "10.96.0.0/12,fd00:10:96::/112");
    let mut web = svc("web", json!({}));
    allocate(&s, &mut web, None).expect("create");
    store(&s, &web).await;
    let primary = web["spec"]["clusterIP"].clone();

    let mut up = web.clone();
    up["spec"]["ipFamilyPolicy"] = json!("PreferDualStack");
    allocate(&s, &mut up, Some(&web)).expect("upgrade");
    assert_eq!(up["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
    assert_eq!(up["spec"]["clusterIPs"][0], primary, "the primary address stays");
    let secondary = up["spec"]["clusterIPs"][1].clone();
    assert!(ip_in(&s, IpFamily::V6, &secondary));
    store(&s, &up).await;

    // While stored, nobody else gets the secondary.
    let mut other = svc("other", json!({"ipFamilies": ["IPv6"], "clusterIP": secondary, "clusterIPs": [secondary]}));
    assert_eq!(messages(allocate(&s, &mut other.clone(), None)).len(), 1);

    let mut down = up.clone();
    down["spec"]["ipFamilyPolicy"] = json!("SingleStack");
    allocate(&s, &mut down, Some(&up)).expect("downgrade");
    assert_eq!(
        (down["spec"]["ipFamilies"].clone(), down["spec"]["clusterIPs"].clone()),
        (json!(["IPv4"]), json!([primary]))
    );
    store(&s, &down).await;
    // Released: the address is free again at once.
    allocate(&s, &mut other, None).expect("the released secondary is free");

    // Dropping the secondary needs SingleStack.
    let mut shrink = up.clone();
    shrink["spec"]["clusterIPs"] = json!([primary]);
    shrink["spec"]["ipFamilies"] = json!(["IPv4"]);
    assert_eq!(
        messages(allocate(&s, &mut shrink, Some(&up))),
        [
            "spec.ipFamilyPolicy: Invalid value: \"PreferDualStack\": must be 'SingleStack' to release the secondary cluster IP",
            "spec.ipFamilyPolicy: Invalid value: \"PreferDualStack\": must be 'SingleStack' to release the secondary IP family"
        ]
    );
}

#[tokio::test]
async fn the_kubernetes_service_address_stays_on_the_primary_family() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), "fd00:10:96::/112,10.96.0.0/12");
    let mut api = svc(
        "kubernetes",
        json!({"clusterIP": s.service_cidrs.primary().nth(1).to_string(), "ipFamilyPolicy": "SingleStack"}),
    );
    allocate(&s, &mut api, None).expect("api");
    assert_eq!(api["spec"]["clusterIPs"], json!(["fd00:10:96::1"]));
    assert_eq!(api["spec"]["ipFamilies"], json!(["IPv6"]));
}

//! The EndpointSlices and Endpoints a Service's endpoint groups turn into:
//! slices of at most 100 endpoints per port list and address family (one
//! empty placeholder per family when there are none), and the legacy v1
//! Endpoints with ready and not-ready addresses per subset, for clients
//! that still read them. Pure.

use super::desired::{Endpoint, Groups, Port};
use crate::services::IpFamily;
use k8s_openapi::api::core::v1::Service;
use serde_json::{json, Map, Value};

pub const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub const CONTROLLER: &str = "endpointslice-controller.k8s.io";
pub const SERVICE_NAME: &str = "kubernetes.io/service-name";
const MAX_PER_SLICE: usize = 100;

/// The address type, ports and endpoints of one slice, as JSON in
/// canonical order.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceContent {
    /// `IPv4` or `IPv6` (immutable on a slice).
    pub address_type: String,
    pub ports: Value,
    pub endpoints: Value,
}

fn port_json(p: &Port) -> Value {
    let mut m = Map::new();
    if let Some(n) = &p.name {
        m.insert("name".into(), json!(n));
    }
    m.insert("protocol".into(), json!(p.protocol));
    m.insert("port".into(), json!(p.port));
    if let Some(a) = &p.app_protocol {
        m.insert("appProtocol".into(), json!(a));
    }
    Value::Object(m)
}

fn target_ref(e: &Endpoint) -> Value {
    json!({"kind": "Pod", "namespace": e.pod_namespace, "name": e.pod_name, "uid": e.pod_uid})
}

fn endpoint_json(e: &Endpoint) -> Value {
    let mut m = Map::new();
    m.insert("addresses".into(), json!([e.ip]));
    m.insert("conditions".into(), json!({"ready": e.ready, "serving": e.serving, "terminating": e.terminating}));
    if let Some(h) = &e.hostname {
        m.insert("hostname".into(), json!(h));
    }
    if let Some(n) = &e.node_name {
        m.insert("nodeName".into(), json!(n));
    }
    if let Some(z) = &e.zone {
        m.insert("zone".into(), json!(z));
    }
    m.insert("targetRef".into(), target_ref(e));
    Value::Object(m)
}

/// What the slices of a service should hold for one address family.
pub fn slice_contents(groups: &Groups, family: IpFamily) -> Vec<SliceContent> {
    let address_type = family.as_str().to_string();
    let mut out = Vec::new();
    for (ports, eps) in groups {
        let ports = Value::Array(ports.iter().map(port_json).collect());
        for chunk in eps.chunks(MAX_PER_SLICE) {
            out.push(SliceContent {
                address_type: address_type.clone(),
                ports: ports.clone(),
                endpoints: Value::Array(chunk.iter().map(endpoint_json).collect()),
            });
        }
    }
    if out.is_empty() {
        out.push(SliceContent { address_type, ports: json!([]), endpoints: json!([]) });
    }
    out
}

/// The labels a managed slice carries: the service's own, plus ours.
pub fn slice_labels(svc: &Service) -> Value {
    let mut labels: Map<String, Value> =
        svc.metadata.labels.iter().flatten().map(|(k, v)| (k.clone(), json!(v))).collect();
    labels.insert(SERVICE_NAME.into(), json!(svc.metadata.name));
    labels.insert(MANAGED_BY.into(), json!(CONTROLLER));
    let headless = svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None");
    if headless {
        labels.insert("service.kubernetes.io/headless".into(), json!(""));
    }
    Value::Object(labels)
}

/// The subsets of the legacy Endpoints object: ready pods as addresses,
/// unready (not terminating) ones as notReadyAddresses.
pub fn endpoints_subsets(groups: &Groups) -> Value {
    let mut subsets = Vec::new();
    for (ports, eps) in groups.iter().filter(|(p, _)| !p.is_empty()) {
        let address = |e: &Endpoint| {
            let mut m = Map::new();
            m.insert("ip".into(), json!(e.ip));
            if let Some(h) = &e.hostname {
                m.insert("hostname".into(), json!(h));
            }
            if let Some(n) = &e.node_name {
                m.insert("nodeName".into(), json!(n));
            }
            m.insert("targetRef".into(), target_ref(e));
            Value::Object(m)
        };
        let ready: Vec<Value> = eps.iter().filter(|e| e.ready).map(address).collect();
        let not_ready: Vec<Value> = eps.iter().filter(|e| !e.ready && !e.terminating).map(address).collect();
        if ready.is_empty() && not_ready.is_empty() {
            continue;
        }
        let mut s = Map::new();
        if !ready.is_empty() {
            s.insert("addresses".into(), Value::Array(ready));
        }
        if !not_ready.is_empty() {
            s.insert("notReadyAddresses".into(), Value::Array(not_ready));
        }
        s.insert("ports".into(), Value::Array(ports.iter().map(port_json).collect()));
        subsets.push(Value::Object(s));
    }
    Value::Array(subsets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(i: usize, ready: bool, terminating: bool) -> Endpoint {
        Endpoint {
            ip: format!("10.0.{}.{}", i / 250, i % 250 + 1),
            ready,
            serving: ready,
            terminating,
            hostname: None,
            node_name: Some("n1".into()),
            zone: None,
            pod_name: format!("p{i}"),
            pod_namespace: "default".into(),
            pod_uid: format!("u{i}"),
        }
    }

    fn port(p: i32) -> Port {
        Port { name: Some("http".into()), protocol: "TCP".into(), port: p, app_protocol: None }
    }

    #[test]
    fn slices_hold_at_most_100_and_an_empty_service_gets_a_placeholder() {
        let mut g = Groups::new();
        g.insert(vec![port(8080)], (0..250).map(|i| ep(i, true, false)).collect());
        let s = slice_contents(&g, IpFamily::V4);
        assert_eq!(s.len(), 3);
        assert_eq!(s[2].endpoints.as_array().map(Vec::len), Some(50));
        assert_eq!(s[0].ports, json!([{"name": "http", "protocol": "TCP", "port": 8080}]));
        assert_eq!(s[0].endpoints[0]["conditions"], json!({"ready": true, "serving": true, "terminating": false}));
        assert_eq!(s[0].endpoints[0]["targetRef"]["kind"], "Pod");
        assert_eq!(s[0].address_type, "IPv4");
        let empty = slice_contents(&Groups::new(), IpFamily::V6);
        assert_eq!(empty, vec![SliceContent { address_type: "IPv6".into(), ports: json!([]), endpoints: json!([]) }]);
    }

    #[test]
    fn legacy_endpoints_split_ready_and_not_ready_and_drop_terminating() {
        let mut g = Groups::new();
        g.insert(vec![port(8080)], vec![ep(0, true, false), ep(1, false, false), ep(2, false, true)]);
        let subsets = endpoints_subsets(&g);
        assert_eq!(subsets[0]["addresses"].as_array().map(Vec::len), Some(1));
        assert_eq!(subsets[0]["notReadyAddresses"].as_array().map(Vec::len), Some(1));
        assert_eq!(subsets[0]["ports"][0]["port"], 8080);
        assert_eq!(endpoints_subsets(&Groups::new()), json!([]));
    }

    #[test]
    fn labels_name_the_service_and_the_manager() {
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "db", "labels": {"tier": "data"}},
            "spec": {"clusterIP": "None"},
        }))
        .unwrap();
        let l = slice_labels(&svc);
        assert_eq!(l[SERVICE_NAME], "db");
        assert_eq!(l[MANAGED_BY], CONTROLLER);
        assert_eq!(l["tier"], "data");
        assert_eq!(l["service.kubernetes.io/headless"], "");
    }
}

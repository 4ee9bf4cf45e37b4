//! Which endpoints a Service should have, as the EndpointSlice controller
//! computes them: the pods its selector picks that have an IP and have not
//! finished, with ready/serving/terminating conditions, and each service
//! port resolved against the pod (a named targetPort is looked up in the
//! pod's container ports, so pods can differ). Pods resolving to the same
//! ports form one group; a group becomes one or more slices. Computed per
//! address family: a dual-stack Service gets each pod's IP of each family.
//! Pure.

use crate::services::IpFamily;
use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// One port of a group, resolved.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Port {
    pub name: Option<String>,
    pub protocol: String,
    pub port: i32,
    pub app_protocol: Option<String>,
}

/// One pod as an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: String,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
    pub hostname: Option<String>,
    pub node_name: Option<String>,
    pub zone: Option<String>,
    pub pod_name: String,
    pub pod_namespace: String,
    pub pod_uid: String,
}

/// Endpoints sharing one resolved port list.
pub type Groups = BTreeMap<Vec<Port>, Vec<Endpoint>>;

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The pod's IP of `family`: from `status.podIPs`, or `status.podIP` for
/// pods reported without the list.
pub fn pod_ip(pod: &Pod, family: IpFamily) -> Option<String> {
    let status = pod.status.as_ref()?;
    let listed: Vec<&str> = status.pod_ips.iter().flatten().map(|p| p.ip.as_str()).collect();
    let candidates = if listed.is_empty() { status.pod_ip.as_deref().into_iter().collect() } else { listed };
    candidates.into_iter().find(|ip| IpFamily::of_str(ip) == Some(family)).map(String::from)
}

/// The families a Service's endpoints are kept for, primary first: its
/// `spec.ipFamilies`, else the family of its cluster IP, else IPv4.
pub fn service_families(svc: &Service) -> Vec<IpFamily> {
    let spec = svc.spec.as_ref();
    let mut families: Vec<IpFamily> =
        spec.and_then(|s| s.ip_families.as_ref()).into_iter().flatten().filter_map(|f| IpFamily::parse(f)).collect();
    families.dedup();
    if families.is_empty() {
        let from_ip = spec.and_then(|s| s.cluster_ip.as_deref()).and_then(IpFamily::of_str);
        families.push(from_ip.unwrap_or(IpFamily::V4));
    }
    families
}

/// Pods that finished (for good) are not endpoints; everything else with
/// an IP of the family is, terminating ones included (marked so).
fn is_candidate(pod: &Pod, family: IpFamily) -> bool {
    let ip = pod_ip(pod, family).is_some();
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let restart = pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always");
    let finished = match phase {
        Some("Failed") => restart != "Always",
        Some("Succeeded") => restart != "Always",
        _ => false,
    };
    ip && !finished
}

/// The port a service port reaches on this pod, or None when a named
/// targetPort is not among the pod's container ports.
fn resolve(sp: &ServicePort, pod: &Pod) -> Option<i32> {
    match sp.target_port.as_ref() {
        None => Some(sp.port),
        Some(IntOrString::Int(p)) => Some(*p),
        Some(IntOrString::String(name)) => {
            let proto = sp.protocol.as_deref().unwrap_or("TCP");
            pod.spec.as_ref()?.containers.iter().flat_map(|c| c.ports.iter().flatten()).find_map(|cp| {
                let cp_proto = cp.protocol.as_deref().unwrap_or("TCP");
                (cp.name.as_deref() == Some(name.as_str()) && cp_proto == proto).then_some(cp.container_port)
            })
        }
    }
}

/// The `family` endpoints of `svc` among `pods` (already those its selector
/// picks, in its namespace). `zone_of` gives a node's zone label.
pub fn groups(svc: &Service, pods: &[&Pod], family: IpFamily, zone_of: impl Fn(&str) -> Option<String>) -> Groups {
    let spec = svc.spec.clone().unwrap_or_default();
    let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
    let svc_name = svc.metadata.name.clone().unwrap_or_default();
    let mut out = Groups::new();
    for pod in pods.iter().copied().filter(|p| is_candidate(p, family)) {
        let ports: Vec<Port> = spec
            .ports
            .iter()
            .flatten()
            .filter_map(|sp| {
                Some(Port {
                    name: sp.name.clone().filter(|n| !n.is_empty()),
                    protocol: sp.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    port: resolve(sp, pod)?,
                    app_protocol: sp.app_protocol.clone(),
                })
            })
            .collect();
        let pspec = pod.spec.as_ref();
        let terminating = pod.metadata.deletion_timestamp.is_some();
        let ready = is_ready(pod);
        // A pod's hostname is published only under its own subdomain.
        let hostname = pspec
            .and_then(|s| s.hostname.clone())
            .filter(|_| pspec.and_then(|s| s.subdomain.as_deref()) == Some(svc_name.as_str()));
        let node_name = pspec.and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty());
        let endpoint = Endpoint {
            ip: pod_ip(pod, family).unwrap_or_default(),
            ready: publish_not_ready || (ready && !terminating),
            serving: publish_not_ready || ready,
            terminating,
            hostname,
            zone: node_name.as_deref().and_then(&zone_of),
            node_name,
            pod_name: pod.metadata.name.clone().unwrap_or_default(),
            pod_namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            pod_uid: pod.metadata.uid.clone().unwrap_or_default(),
        };
        out.entry(ports).or_default().push(endpoint);
    }
    for eps in out.values_mut() {
        eps.sort();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(ports: serde_json::Value, extra: serde_json::Value) -> Service {
        let mut spec = json!({"selector": {"app": "web"}, "ports": ports});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec}))
            .expect("service")
    }

    fn pod(name: &str, ip: &str, ready: bool, container_port: Option<(&str, i32)>) -> Pod {
        let ports = container_port.map(|(n, p)| json!([{"name": n, "containerPort": p}])).unwrap_or(json!([]));
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": ports}]},
            "status": {"podIP": ip, "phase": "Running",
                       "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
        }))
        .expect("pod")
    }

    #[test]
    fn ready_and_not_ready_pods_with_numeric_ports() {
        let s = svc(json!([{"name": "http", "port": 80, "targetPort": 8080}]), json!({}));
        let (a, b) = (pod("a", "10.0.0.1", true, None), pod("b", "10.0.0.2", false, None));
        let g = groups(&s, &[&a, &b], IpFamily::V4, |_| Some("z1".into()));
        assert_eq!(g.len(), 1);
        let (ports, eps) = g.iter().next().unwrap();
        assert_eq!(ports[0].port, 8080);
        assert_eq!(ports[0].name.as_deref(), Some("http"));
        assert_eq!((eps[0].ip.as_str(), eps[0].ready, eps[0].serving), ("10.0.0.1", true, true));
        assert_eq!((eps[1].ip.as_str(), eps[1].ready, eps[1].serving), ("10.0.0.2", false, false));
        assert_eq!(eps[0].zone.as_deref(), Some("z1"));
    }

    #[test]
    fn named_target_ports_split_pods_into_groups_and_skip_unresolved() {
        let s = svc(json!([{"port": 80, "targetPort": "web"}]), json!({}));
        let a = pod("a", "10.0.0.1", true, Some(("web", 8080)));
        let b = pod("b", "10.0.0.2", true, Some(("web", 9090)));
        let c = pod("c", "10.0.0.3", true, Some(("other", 1)));
        let g = groups(&s, &[&a, &b, &c], IpFamily::V4, |_| None);
        assert_eq!(g.len(), 3, "{g:?}");
        let ports: Vec<Vec<i32>> = g.keys().map(|k| k.iter().map(|p| p.port).collect()).collect();
        assert!(ports.contains(&vec![8080]) && ports.contains(&vec![9090]) && ports.contains(&vec![]));
    }

    #[test]
    fn terminating_pods_serve_but_are_not_ready_and_finished_pods_leave() {
        let s = svc(json!([{"port": 80}]), json!({}));
        let mut t = pod("t", "10.0.0.1", true, None);
        t.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
        let mut done = pod("d", "10.0.0.2", false, None);
        done.spec.as_mut().unwrap().restart_policy = Some("Never".into());
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        let no_ip = pod("n", "", false, None);
        let g = groups(&s, &[&t, &done, &no_ip], IpFamily::V4, |_| None);
        let eps: Vec<&Endpoint> = g.values().flatten().collect();
        assert_eq!(eps.len(), 1);
        assert_eq!((eps[0].ready, eps[0].serving, eps[0].terminating), (false, true, true));
    }

    #[test]
    fn publish_not_ready_addresses_and_hostnames() {
        let s = svc(json!([{"port": 80}]), json!({"publishNotReadyAddresses": true}));
        let mut p = pod("p", "10.0.0.1", false, None);
        p.spec.as_mut().unwrap().hostname = Some("p-0".into());
        p.spec.as_mut().unwrap().subdomain = Some("web".into());
        let mut q = pod("q", "10.0.0.2", false, None);
        q.spec.as_mut().unwrap().hostname = Some("q-0".into());
        q.spec.as_mut().unwrap().subdomain = Some("other".into());
        let g = groups(&s, &[&p, &q], IpFamily::V4, |_| None);
        let eps: Vec<&Endpoint> = g.values().flatten().collect();
        assert!(eps.iter().all(|e| e.ready && e.serving));
        assert_eq!(eps[0].hostname.as_deref(), Some("p-0"));
        assert_eq!(eps[1].hostname, None, "another subdomain's hostname is not published");
    }

    #[test]
    fn each_family_takes_the_pods_ip_of_that_family() {
        let s = svc(json!([{"port": 80}]), json!({"ipFamilies": ["IPv6", "IPv4"]}));
        assert_eq!(service_families(&s), [IpFamily::V6, IpFamily::V4]);
        let mut dual = pod("d", "10.0.0.1", true, None);
        dual.status.as_mut().unwrap().pod_ips =
            serde_json::from_value(json!([{"ip": "10.0.0.1"}, {"ip": "fd00::1"}])).expect("podIPs");
        let v4_only = pod("v", "10.0.0.2", true, None);
        let ips = |f| -> Vec<String> {
            groups(&s, &[&dual, &v4_only], f, |_| None).values().flatten().map(|e| e.ip.clone()).collect()
        };
        assert_eq!(ips(IpFamily::V4), ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(ips(IpFamily::V6), ["fd00::1"], "a pod without an IPv6 address is no IPv6 endpoint");
        assert_eq!(pod_ip(&v4_only, IpFamily::V6), None);

        let legacy = svc(json!([{"port": 80}]), json!({"clusterIP": "fd00:10:96::5"}));
        assert_eq!(service_families(&legacy), [IpFamily::V6]);
        assert_eq!(service_families(&svc(json!([{"port": 80}]), json!({}))), [IpFamily::V4]);
    }
}

//! What the load balancer should hold for one Service: a frontend per
//! address and port clients may use (ClusterIP, externalIPs, LoadBalancer
//! ingress IPs, and this node's IPs at the NodePort), each with the ready
//! backends of that port from the Service's EndpointSlices. Pure, so the
//! rules (named ports, internalTrafficPolicy, terminating endpoints,
//! session affinity) are tested without a kernel.
//!
//! Dual-stack: each ClusterIP (and externalIP/LoadBalancer IP) gets the
//! backends of its own family, from the slices of that addressType. The
//! per-packet path for outside traffic is IPv4, so only IPv4 addresses get
//! an `external` part; IPv6 ones are translated for clients on the node.

use crate::lb::{Backend, Frontend, Protocol};
use ipnet::Ipv4Net;
use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

fn protocol(s: Option<&str>) -> Option<Protocol> {
    match s.unwrap_or("TCP") {
        "TCP" => Some(Protocol::Tcp),
        "UDP" => Some(Protocol::Udp),
        _ => None,
    }
}

/// Which kind of address a frontend is (for listing and policies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A pod's hostPort on this node.
    HostPort,
    ClusterIp,
    ExternalIp,
    LoadBalancer,
    NodePort,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub frontend: Frontend,
    pub kind: Kind,
    /// `namespace/name:port-name`, for listing.
    pub service: String,
    pub backends: Vec<Backend>,
    /// sessionAffinity ClientIP and its timeout.
    pub affinity: Option<Duration>,
    /// For addresses reachable from outside the node (NodePort, externalIPs,
    /// LoadBalancer): what the per-packet path needs besides the backends.
    pub external: Option<External>,
}

/// The outside-traffic side of a frontend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct External {
    /// Backends that are pods on this node (reached without SNAT).
    pub local: Vec<Backend>,
    /// externalTrafficPolicy: Local (only local backends, client IP kept).
    pub policy_local: bool,
    /// loadBalancerSourceRanges (LoadBalancer addresses only).
    pub source_ranges: Vec<Ipv4Net>,
    /// healthCheckNodePort, served for Local-policy LoadBalancers.
    pub health_check_port: Option<u16>,
}

fn port_u16(p: i32) -> Option<u16> {
    u16::try_from(p).ok().filter(|p| *p > 0)
}

/// The ready backends of one service port across the slices, optionally
/// only those on `node` (internalTrafficPolicy: Local), per address family.
#[derive(Debug, Clone, Default)]
struct Backends {
    v4: Vec<Backend>,
    v6: Vec<Backend>,
}

impl Backends {
    fn collect(sp: &ServicePort, slices: &[&EndpointSlice], only_node: Option<&str>) -> Self {
        Self { v4: backends_for(sp, slices, only_node, "IPv4"), v6: backends_for(sp, slices, only_node, "IPv6") }
    }

    /// Those a frontend at `ip` can reach: the same family.
    fn for_ip(&self, ip: IpAddr) -> Vec<Backend> {
        if ip.is_ipv4() {
            self.v4.clone()
        } else {
            self.v6.clone()
        }
    }
}

fn backends_for(
    sp: &ServicePort,
    slices: &[&EndpointSlice],
    only_node: Option<&str>,
    address_type: &str,
) -> Vec<Backend> {
    let name = sp.name.as_deref().unwrap_or("");
    let proto = sp.protocol.as_deref().unwrap_or("TCP");
    let mut out = BTreeSet::new();
    for slice in slices.iter().filter(|s| s.address_type == address_type) {
        let port = slice
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref().unwrap_or("") == name && p.protocol.as_deref().unwrap_or("TCP") == proto);
        let Some(port) = port.and_then(|p| p.port).and_then(port_u16) else { continue };
        for ep in &slice.endpoints {
            // A missing `ready` means ready (the API's rule); terminating
            // endpoints are not ready and take no new connections.
            let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            if !ready {
                continue;
            }
            if only_node.is_some() && ep.node_name.as_deref() != only_node {
                continue;
            }
            for addr in &ep.addresses {
                // The slice's addressType decides the family; a stray address of the other one is skipped.
                match addr.parse::<IpAddr>() {
                    Ok(ip) if ip.is_ipv4() == (address_type == "IPv4") => {
                        out.insert(Backend::new(SocketAddr::new(ip, port)));
                    }
                    _ => {}
                }
            }
        }
    }
    out.into_iter().collect()
}

/// The entries for `svc` on the node `node` whose addresses are `node_ips`.
pub fn entries(svc: &Service, slices: &[&EndpointSlice], node: &str, node_ips: &[Ipv4Addr]) -> Vec<Entry> {
    let Some(spec) = svc.spec.as_ref() else { return Vec::new() };
    let ty = spec.type_.as_deref().unwrap_or("ClusterIP");
    if ty == "ExternalName" {
        return Vec::new();
    }
    let id =
        format!("{}/{}", svc.metadata.namespace.as_deref().unwrap_or(""), svc.metadata.name.as_deref().unwrap_or(""));
    let affinity = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        let secs = spec
            .session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .unwrap_or(10800);
        Duration::from_secs(u64::try_from(secs).unwrap_or(10800))
    });
    let local_only = spec.internal_traffic_policy.as_deref() == Some("Local");
    let external_local = spec.external_traffic_policy.as_deref() == Some("Local");
    let source_ranges: Vec<Ipv4Net> =
        spec.load_balancer_source_ranges.iter().flatten().filter_map(|r| r.trim().parse().ok()).collect();
    let health_check_port = spec.health_check_node_port.and_then(port_u16).filter(|_| external_local);
    let cluster_ips: Vec<IpAddr> = spec
        .cluster_ips
        .iter()
        .flatten()
        .chain(spec.cluster_ip.iter())
        .filter_map(|ip| ip.parse().ok())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let external_ips: Vec<IpAddr> = spec.external_ips.iter().flatten().filter_map(|ip| ip.parse().ok()).collect();
    let lb: Vec<IpAddr> = if ty == "LoadBalancer" {
        svc.status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|i| i.ip.as_deref()?.parse().ok())
            .collect()
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    for sp in spec.ports.iter().flatten() {
        let (Some(protocol), Some(port)) = (protocol(sp.protocol.as_deref()), port_u16(sp.port)) else {
            continue;
        };
        let service = format!("{id}:{}", sp.name.as_deref().unwrap_or(""));
        let all = Backends::collect(sp, slices, None);
        let here = Backends::collect(sp, slices, Some(node));
        // Only IPv4 addresses are reachable from outside (the per-packet path is IPv4).
        let external = |ip: IpAddr, ranges: Vec<Ipv4Net>| {
            ip.is_ipv4().then(|| External {
                local: here.v4.clone(),
                policy_local: external_local,
                source_ranges: ranges,
                health_check_port,
            })
        };
        let mut push = |ip: IpAddr, port: u16, kind: Kind, backends: Vec<Backend>, external: Option<External>| {
            out.push(Entry {
                frontend: Frontend::new(SocketAddr::new(ip, port), protocol),
                kind,
                service: service.clone(),
                backends,
                affinity,
                external,
            });
        };
        // Headless services have no virtual address to translate.
        if !cluster_ips.is_empty() {
            let internal = if local_only { &here } else { &all };
            for ip in &cluster_ips {
                push(*ip, port, Kind::ClusterIp, internal.for_ip(*ip), None);
            }
        }
        for ip in &external_ips {
            push(*ip, port, Kind::ExternalIp, all.for_ip(*ip), external(*ip, Vec::new()));
        }
        for ip in &lb {
            push(*ip, port, Kind::LoadBalancer, all.for_ip(*ip), external(*ip, source_ranges.clone()));
        }
        if matches!(ty, "NodePort" | "LoadBalancer") {
            if let Some(node_port) = sp.node_port.and_then(port_u16) {
                for ip in node_ips {
                    let ip = IpAddr::V4(*ip);
                    push(ip, node_port, Kind::NodePort, all.v4.clone(), external(ip, Vec::new()));
                }
            }
        }
    }
    out
}

/// A pod's hostPorts on this node: the node's address at each hostPort,
/// leading to the pod (always local: no SNAT, the client's address kept).
/// Host-network pods bind the port themselves and need nothing.
pub fn host_port_entries(pod: &k8s_openapi::api::core::v1::Pod, node_ips: &[Ipv4Addr]) -> Vec<Entry> {
    let Some(spec) = pod.spec.as_ref() else { return Vec::new() };
    if spec.host_network.unwrap_or(false) || pod.metadata.deletion_timestamp.is_some() {
        return Vec::new();
    }
    let Some(pod_ip) = pod.status.as_ref().and_then(|s| s.pod_ip.as_deref()).and_then(|ip| ip.parse::<Ipv4Addr>().ok())
    else {
        return Vec::new();
    };
    let id =
        format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or(""), pod.metadata.name.as_deref().unwrap_or(""));
    let mut out = Vec::new();
    for cp in spec.containers.iter().flat_map(|c| c.ports.iter().flatten()) {
        let (Some(host_port), Some(target), Some(protocol)) =
            (cp.host_port.and_then(port_u16), port_u16(cp.container_port), protocol(cp.protocol.as_deref()))
        else {
            continue;
        };
        let host_ip: Option<Ipv4Addr> =
            cp.host_ip.as_deref().and_then(|ip| ip.parse().ok()).filter(|ip: &Ipv4Addr| !ip.is_unspecified());
        let backend = Backend::new(SocketAddrV4::new(pod_ip, target));
        for ip in node_ips.iter().filter(|ip| host_ip.is_none_or(|h| h == **ip)) {
            out.push(Entry {
                frontend: Frontend::new(SocketAddrV4::new(*ip, host_port), protocol),
                kind: Kind::HostPort,
                service: format!("pod {id}:{}", cp.name.as_deref().unwrap_or("")),
                backends: vec![backend],
                affinity: None,
                external: Some(External {
                    local: vec![backend],
                    policy_local: true,
                    source_ranges: Vec::new(),
                    health_check_port: None,
                }),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(spec: serde_json::Value, status: serde_json::Value) -> Service {
        serde_json::from_value(
            json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec, "status": status}),
        )
        .expect("service")
    }

    fn slice(ports: serde_json::Value, eps: &[(&str, Option<bool>, &str)]) -> EndpointSlice {
        let endpoints: Vec<serde_json::Value> = eps
            .iter()
            .map(|(ip, ready, node)| {
                let mut e = json!({"addresses": [ip], "nodeName": node});
                if let Some(r) = ready {
                    e["conditions"] = json!({"ready": r});
                }
                e
            })
            .collect();
        serde_json::from_value(
            json!({"metadata": {"name": "s"}, "addressType": "IPv4", "ports": ports, "endpoints": endpoints}),
        )
        .expect("slice")
    }

    fn ips(bs: &[Backend]) -> Vec<String> {
        bs.iter().map(|b| b.addr.to_string()).collect()
    }

    #[test]
    fn each_cluster_ip_gets_the_backends_of_its_family() {
        let s = svc(
            json!({"type": "NodePort", "clusterIP": "10.96.0.50", "clusterIPs": ["10.96.0.50", "fd00:10:96::50"],
                   "ipFamilies": ["IPv4", "IPv6"], "ports": [{"port": 80, "nodePort": 30080}]}),
            json!({}),
        );
        let v4 = slice(json!([{"port": 8080}]), &[("10.244.0.5", None, "n1")]);
        let mut v6 = slice(json!([{"port": 8080}]), &[("fd00:10:244::5", None, "n1")]);
        v6.address_type = "IPv6".into();
        let e = entries(&s, &[&v4, &v6], "n1", &["172.31.0.2".parse().unwrap()]);
        let by = |addr: &str| e.iter().find(|x| x.frontend.addr.to_string() == addr).expect(addr);
        assert_eq!(ips(&by("10.96.0.50:80").backends), ["10.244.0.5:8080"]);
        assert_eq!(ips(&by("[fd00:10:96::50]:80").backends), ["[fd00:10:244::5]:8080"]);
        // The node port is IPv4 (the per-packet path), with the IPv4 backends only.
        let np = by("172.31.0.2:30080");
        assert_eq!(ips(&np.backends), ["10.244.0.5:8080"]);
        assert!(np.external.is_some());
        assert_eq!(e.len(), 3);
    }

    #[test]
    fn cluster_ip_frontends_get_the_ready_backends_of_their_named_port() {
        let s = svc(
            json!({"clusterIP": "10.96.0.50", "clusterIPs": ["10.96.0.50"], "ports": [
                {"name": "http", "port": 80, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"}]}),
            json!({}),
        );
        let sl = slice(
            json!([{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "dns", "port": 5353, "protocol": "UDP"}]),
            &[("10.244.0.5", Some(true), "n1"), ("10.244.1.5", None, "n2"), ("10.244.1.6", Some(false), "n2")],
        );
        let e = entries(&s, &[&sl], "n1", &[]);
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[0].frontend,
            Frontend::new("10.96.0.50:80".parse::<std::net::SocketAddr>().unwrap(), Protocol::Tcp)
        );
        assert_eq!(ips(&e[0].backends), ["10.244.0.5:8080", "10.244.1.5:8080"]);
        assert_eq!(e[1].frontend.protocol, Protocol::Udp);
        assert_eq!(ips(&e[1].backends), ["10.244.0.5:5353", "10.244.1.5:5353"]);
        assert_eq!(e[0].service, "default/web:http");
        assert_eq!(e[0].affinity, None);
    }

    #[test]
    fn internal_traffic_policy_local_keeps_this_nodes_backends() {
        let s = svc(
            json!({"clusterIP": "10.96.0.50", "internalTrafficPolicy": "Local", "ports": [{"port": 80}]}),
            json!({}),
        );
        let sl = slice(json!([{"port": 8080}]), &[("10.244.0.5", Some(true), "n1"), ("10.244.1.5", Some(true), "n2")]);
        assert_eq!(ips(&entries(&s, &[&sl], "n2", &[])[0].backends), ["10.244.1.5:8080"]);
    }

    #[test]
    fn node_ports_load_balancer_ips_external_ips_and_affinity() {
        let s = svc(
            json!({"type": "LoadBalancer", "clusterIP": "10.96.0.50", "externalIPs": ["192.0.2.7"],
                   "sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                   "ports": [{"port": 80, "nodePort": 30080}]}),
            json!({"loadBalancer": {"ingress": [{"ip": "172.31.0.200"}]}}),
        );
        let sl = slice(json!([{"port": 8080}]), &[("10.244.0.5", Some(true), "n1")]);
        let e = entries(&s, &[&sl], "n1", &["172.31.0.11".parse().unwrap()]);
        let kinds: Vec<(Kind, String)> = e.iter().map(|x| (x.kind, x.frontend.addr.to_string())).collect();
        assert_eq!(
            kinds,
            [
                (Kind::ClusterIp, "10.96.0.50:80".into()),
                (Kind::ExternalIp, "192.0.2.7:80".into()),
                (Kind::LoadBalancer, "172.31.0.200:80".into()),
                (Kind::NodePort, "172.31.0.11:30080".into()),
            ]
        );
        assert!(e.iter().all(|x| x.affinity == Some(Duration::from_secs(60)) && x.backends.len() == 1));
    }

    #[test]
    fn outside_frontends_carry_policy_local_backends_ranges_and_health_port() {
        let s = svc(
            json!({"type": "LoadBalancer", "clusterIP": "10.96.0.50", "externalTrafficPolicy": "Local",
                   "healthCheckNodePort": 31000, "loadBalancerSourceRanges": ["192.0.2.0/24"],
                   "ports": [{"port": 80, "nodePort": 30080}]}),
            json!({"loadBalancer": {"ingress": [{"ip": "172.31.0.200"}]}}),
        );
        let sl = slice(json!([{"port": 8080}]), &[("10.244.0.5", Some(true), "n1"), ("10.244.1.5", Some(true), "n2")]);
        let e = entries(&s, &[&sl], "n1", &["172.31.0.11".parse().unwrap()]);
        assert!(e[0].external.is_none(), "ClusterIP is inside-only");
        let lb = e.iter().find(|x| x.kind == Kind::LoadBalancer).and_then(|x| x.external.clone()).unwrap();
        assert!(lb.policy_local);
        assert_eq!(ips(&lb.local), ["10.244.0.5:8080"]);
        assert_eq!(lb.source_ranges, vec!["192.0.2.0/24".parse::<Ipv4Net>().unwrap()]);
        assert_eq!(lb.health_check_port, Some(31000));
        let np = e.iter().find(|x| x.kind == Kind::NodePort).and_then(|x| x.external.clone()).unwrap();
        assert!(np.source_ranges.is_empty(), "source ranges guard LoadBalancer addresses only");
    }

    #[test]
    fn host_ports_lead_to_the_pod_on_this_node() {
        let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "ports": [
                {"containerPort": 8080, "hostPort": 8081},
                {"containerPort": 53, "hostPort": 5353, "protocol": "UDP", "hostIP": "10.0.0.9"},
                {"containerPort": 9090}]}]},
            "status": {"podIP": "10.244.0.7"},
        }))
        .unwrap();
        let e = host_port_entries(&pod, &["172.31.0.11".parse().unwrap()]);
        assert_eq!(e.len(), 1, "the UDP port is bound to another host IP: {e:?}");
        assert_eq!(e[0].frontend.addr.to_string(), "172.31.0.11:8081");
        assert_eq!(ips(&e[0].backends), ["10.244.0.7:8080"]);
        assert!(e[0].external.as_ref().is_some_and(|x| x.policy_local && x.local.len() == 1));
    }

    #[test]
    fn headless_external_name_and_empty_services() {
        let headless = svc(json!({"clusterIP": "None", "ports": [{"port": 80}]}), json!({}));
        assert!(entries(&headless, &[], "n1", &[]).is_empty());
        let ext = svc(json!({"type": "ExternalName", "externalName": "example.invalid"}), json!({}));
        assert!(entries(&ext, &[], "n1", &[]).is_empty());
        let empty = svc(json!({"clusterIP": "10.96.0.9", "ports": [{"port": 80}]}), json!({}));
        let e = entries(&empty, &[], "n1", &[]);
        assert_eq!(e.len(), 1);
        assert!(e[0].backends.is_empty(), "a frontend without backends still exists (and refuses)");
    }
}

//! ClusterIP and NodePort allocation for Services.
//!
//! The allocator reads what Services already hold from the store and keeps
//! a short-lived set of addresses handed out but not yet stored, so two
//! concurrent creates do not pick the same one.

use crate::api::ApiServer;
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An IPv4 CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub base: u32,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (ip, len) = s.split_once('/').ok_or_else(|| format!("invalid CIDR {s:?}"))?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| format!("invalid CIDR {s:?}"))?;
        let prefix: u8 = len.parse().ok().filter(|p| *p <= 30).ok_or_else(|| format!("invalid prefix in {s:?}"))?;
        let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
        Ok(Cidr { base: u32::from(ip) & mask, prefix })
    }
    pub fn size(&self) -> u32 {
        1u32 << (32 - self.prefix)
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let ip = u32::from(ip);
        ip >= self.base && ip - self.base < self.size()
    }
    /// The n-th address of the block.
    pub fn nth(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.base + n)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

/// Addresses and ports handed out in the last minute.
#[derive(Default)]
pub struct Pending(Mutex<HashMap<String, Instant>>);

impl Pending {
    fn reserve(&self, what: String) -> bool {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, t| t.elapsed() < Duration::from_secs(60));
        m.insert(what, Instant::now()).is_none()
    }
}

/// What other Services hold.
fn in_use(server: &ApiServer, except_uid: Option<&str>) -> (Vec<String>, Vec<i64>) {
    let (items, _, _) = server.store.list("/registry/core/services/", None, None);
    let mut ips = Vec::new();
    let mut ports = Vec::new();
    for (_, svc) in items {
        if except_uid.is_some() && svc.pointer("/metadata/uid").and_then(Value::as_str) == except_uid {
            continue;
        }
        if let Some(ip) = svc.pointer("/spec/clusterIP").and_then(Value::as_str) {
            ips.push(ip.to_string());
        }
        for p in svc.pointer("/spec/ports").and_then(Value::as_array).into_iter().flatten() {
            if let Some(n) = p.get("nodePort").and_then(Value::as_i64) {
                ports.push(n);
            }
        }
        if let Some(n) = svc.pointer("/spec/healthCheckNodePort").and_then(Value::as_i64) {
            ports.push(n);
        }
    }
    (ips, ports)
}

/// Give a Service its ClusterIP and NodePorts (keeping those it had).
pub fn allocate(server: &ApiServer, svc: &mut Value, old: Option<&Value>) -> Result<(), Vec<FieldError>> {
    let ty = svc.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
    let uid = svc.pointer("/metadata/uid").and_then(Value::as_str).map(String::from);
    let (used_ips, used_ports) = in_use(server, uid.as_deref());
    let mut errors = Vec::new();
    if let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) {
        if ty == "ExternalName" {
            spec.remove("clusterIP");
            spec.remove("clusterIPs");
        } else {
            let mut ip = spec.get("clusterIP").and_then(Value::as_str).unwrap_or_default().to_string();
            if ip.is_empty() {
                ip = old
                    .and_then(|o| o.pointer("/spec/clusterIP"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
            }
            if ip.is_empty() {
                match pick_ip(server, &used_ips) {
                    Some(a) => ip = a,
                    None => errors.push(FieldError::invalid("spec.clusterIPs", "", "range is full")),
                }
            } else if ip != "None"
                && old.and_then(|o| o.pointer("/spec/clusterIP")).and_then(Value::as_str) != Some(ip.as_str())
            {
                match ip.parse::<Ipv4Addr>() {
                    Ok(a) if !server.service_cidr.contains(a) => errors.push(FieldError::invalid(
                        "spec.clusterIPs",
                        ip.as_str(),
                        format!("failed to allocate IP {ip}: provided IP is not in the valid range. The range of valid IPs is {}", server.service_cidr),
                    )),
                    Ok(_) if used_ips.contains(&ip) || !server.allocations.reserve(format!("ip/{ip}")) => errors.push(FieldError::invalid(
                        "spec.clusterIPs",
                        ip.as_str(),
                        format!("failed to allocate IP {ip}: provided IP is already allocated"),
                    )),
                    Ok(_) => {}
                    Err(_) => errors.push(FieldError::invalid("spec.clusterIPs", ip.as_str(), "must be a valid IP address")),
                }
            }
            if !ip.is_empty() {
                spec.insert("clusterIP".into(), json!(ip));
                spec.insert("clusterIPs".into(), json!([ip]));
                if ip != "None" || spec.get("ipFamilies").is_none() {
                    spec.insert("ipFamilies".into(), json!(["IPv4"]));
                }
            }
        }
        let wants_node_ports = ty == "NodePort" || ty == "LoadBalancer";
        let old_ports: Vec<Value> =
            old.and_then(|o| o.pointer("/spec/ports")).and_then(Value::as_array).cloned().unwrap_or_default();
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for (i, p) in ports.iter_mut().enumerate() {
                if !wants_node_ports {
                    if let Some(o) = p.as_object_mut() {
                        o.remove("nodePort");
                    }
                    continue;
                }
                let existing = p.get("nodePort").and_then(Value::as_i64);
                let kept = old_ports
                    .iter()
                    .find(|o| o.get("port") == p.get("port") && o.get("protocol") == p.get("protocol"))
                    .and_then(|o| o.get("nodePort"))
                    .and_then(Value::as_i64);
                let port = match existing.or(kept) {
                    Some(n) => {
                        let (lo, hi) = server.node_port_range;
                        if n < lo as i64 || n > hi as i64 {
                            errors.push(FieldError::invalid(
                                format!("spec.ports[{i}].nodePort"),
                                n,
                                format!(
                                    "provided port is not in the valid range. The range of valid ports is {lo}-{hi}"
                                ),
                            ));
                        } else if Some(n) != kept
                            && (used_ports.contains(&n) || !server.allocations.reserve(format!("port/{n}")))
                        {
                            errors.push(FieldError::invalid(
                                format!("spec.ports[{i}].nodePort"),
                                n,
                                "provided port is already allocated",
                            ));
                        }
                        n
                    }
                    None => match pick_port(server, &used_ports) {
                        Some(n) => n,
                        None => {
                            errors.push(FieldError::invalid(format!("spec.ports[{i}].nodePort"), 0, "range is full"));
                            0
                        }
                    },
                };
                if let Some(o) = p.as_object_mut() {
                    o.insert("nodePort".into(), json!(port));
                }
            }
        }
    }
    allocate_health_check_port(server, svc, old, &used_ports, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A LoadBalancer with externalTrafficPolicy Local gets a healthCheckNodePort
/// (kept across updates) from the NodePort range, which the nodes serve.
fn allocate_health_check_port(
    server: &ApiServer,
    svc: &mut Value,
    old: Option<&Value>,
    used: &[i64],
    errors: &mut Vec<FieldError>,
) {
    let ty = svc.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP");
    let local = svc.pointer("/spec/externalTrafficPolicy").and_then(Value::as_str) == Some("Local");
    if ty != "LoadBalancer" || !local {
        return;
    }
    let kept = old.and_then(|o| o.pointer("/spec/healthCheckNodePort")).and_then(Value::as_i64).filter(|n| *n != 0);
    let asked = svc.pointer("/spec/healthCheckNodePort").and_then(Value::as_i64).filter(|n| *n != 0);
    let port = match asked.or(kept) {
        Some(n) => {
            let (lo, hi) = server.node_port_range;
            if n < lo as i64 || n > hi as i64 {
                errors.push(FieldError::invalid(
                    "spec.healthCheckNodePort",
                    n,
                    format!("provided port is not in the valid range. The range of valid ports is {lo}-{hi}"),
                ));
            } else if Some(n) != kept && (used.contains(&n) || !server.allocations.reserve(format!("port/{n}"))) {
                errors.push(FieldError::invalid("spec.healthCheckNodePort", n, "provided port is already allocated"));
            }
            n
        }
        None => match pick_port(server, used) {
            Some(n) => n,
            None => {
                errors.push(FieldError::invalid("spec.healthCheckNodePort", 0, "range is full"));
                return;
            }
        },
    };
    if let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("healthCheckNodePort".into(), json!(port));
    }
}

fn pick_ip(server: &ApiServer, used: &[String]) -> Option<String> {
    let cidr = server.service_cidr;
    // Low addresses are for fixed assignments (10.96.0.1 API, .10 DNS).
    let lo = 16.min(cidr.size() / 2);
    let span = cidr.size().saturating_sub(lo + 1);
    if span == 0 {
        return None;
    }
    let start = rand::random::<u32>() % span;
    (0..span)
        .map(|i| cidr.nth(lo + (start + i) % span).to_string())
        .find(|ip| !used.contains(ip) && server.allocations.reserve(format!("ip/{ip}")))
}

fn pick_port(server: &ApiServer, used: &[i64]) -> Option<i64> {
    let (lo, hi) = server.node_port_range;
    let span = (hi - lo) as i64 + 1;
    let start = rand::random::<u32>() as i64 % span;
    (0..span)
        .map(|i| lo as i64 + (start + i) % span)
        .find(|p| !used.contains(p) && server.allocations.reserve(format!("port/{p}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_math() {
        let c = Cidr::parse("10.96.0.0/12").expect("parse");
        assert_eq!(c.size(), 1 << 20);
        assert!(c.contains("10.111.255.255".parse().expect("ip")));
        assert!(!c.contains("10.112.0.0".parse().expect("ip")));
        assert_eq!(c.nth(1).to_string(), "10.96.0.1");
        assert!(Cidr::parse("10.0.0.0").is_err());
    }
}

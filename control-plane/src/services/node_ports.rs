//! NodePorts and the healthCheckNodePort, from the server's port range,
//! kept across updates.

use super::Pending;
use crate::validation::field_error::FieldError;
use serde_json::{json, Value};
use std::collections::HashSet;

/// What the ports need from the server.
pub struct PortRange<'a> {
    pub range: (u16, u16),
    pub pending: &'a Pending,
}

impl PortRange<'_> {
    fn out_of_range(&self, n: i64) -> Option<String> {
        let (lo, hi) = self.range;
        (n < i64::from(lo) || n > i64::from(hi))
            .then(|| format!("provided port is not in the valid range. The range of valid ports is {lo}-{hi}"))
    }

    fn pick(&self, used: &HashSet<i64>) -> Option<i64> {
        let (lo, hi) = self.range;
        let span = i64::from(hi) - i64::from(lo) + 1;
        if span <= 0 {
            return None;
        }
        let start = i64::from(rand::random::<u32>()) % span;
        (0..span)
            .map(|i| i64::from(lo) + (start + i) % span)
            .find(|p| !used.contains(p) && self.pending.reserve(format!("port/{p}")))
    }
}

/// Each port of a NodePort or LoadBalancer Service gets a nodePort (the one
/// asked for, the one it had, or a free one); other types have none.
pub fn allocate(
    ports: &PortRange<'_>,
    svc: &mut Value,
    old: Option<&Value>,
    used: &HashSet<i64>,
    errors: &mut Vec<FieldError>,
) {
    let ty = svc.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP");
    let wants_node_ports = ty == "NodePort" || ty == "LoadBalancer";
    let old_ports: Vec<Value> =
        old.and_then(|o| o.pointer("/spec/ports")).and_then(Value::as_array).cloned().unwrap_or_default();
    let Some(list) = svc.pointer_mut("/spec/ports").and_then(Value::as_array_mut) else { return };
    for (i, p) in list.iter_mut().enumerate() {
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
        let path = format!("spec.ports[{i}].nodePort");
        let port = match existing.or(kept) {
            Some(n) => {
                if let Some(msg) = ports.out_of_range(n) {
                    errors.push(FieldError::invalid(path, n, msg));
                } else if Some(n) != kept && (used.contains(&n) || !ports.pending.reserve(format!("port/{n}"))) {
                    errors.push(FieldError::invalid(path, n, "provided port is already allocated"));
                }
                n
            }
            None => match ports.pick(used) {
                Some(n) => n,
                None => {
                    errors.push(FieldError::invalid(path, 0, "range is full"));
                    0
                }
            },
        };
        if let Some(o) = p.as_object_mut() {
            o.insert("nodePort".into(), json!(port));
        }
    }
}

/// A LoadBalancer with externalTrafficPolicy Local gets a healthCheckNodePort
/// (kept across updates) from the NodePort range, which the nodes serve.
pub fn allocate_health_check(
    ports: &PortRange<'_>,
    svc: &mut Value,
    old: Option<&Value>,
    used: &HashSet<i64>,
    errors: &mut Vec<FieldError>,
) {
    let ty = svc.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP");
    let local = svc.pointer("/spec/externalTrafficPolicy").and_then(Value::as_str) == Some("Local");
    if ty != "LoadBalancer" || !local {
        return;
    }
    let kept = old.and_then(|o| o.pointer("/spec/healthCheckNodePort")).and_then(Value::as_i64).filter(|n| *n != 0);
    let asked = svc.pointer("/spec/healthCheckNodePort").and_then(Value::as_i64).filter(|n| *n != 0);
    let path = "spec.healthCheckNodePort";
    let port = match asked.or(kept) {
        Some(n) => {
            if let Some(msg) = ports.out_of_range(n) {
                errors.push(FieldError::invalid(path, n, msg));
            } else if Some(n) != kept && (used.contains(&n) || !ports.pending.reserve(format!("port/{n}"))) {
                errors.push(FieldError::invalid(path, n, "provided port is already allocated"));
            }
            n
        }
        None => match ports.pick(used) {
            Some(n) => n,
            None => {
                errors.push(FieldError::invalid(path, 0, "range is full"));
                return;
            }
        },
    };
    if let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("healthCheckNodePort".into(), json!(port));
    }
}

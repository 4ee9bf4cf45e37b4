//! ClusterIP and NodePort allocation for Services, single- or dual-stack.
//!
//! The allocator reads what Services already hold from the store (every
//! entry of `clusterIPs`, so a released secondary is free again) and keeps
//! a short-lived set of addresses handed out but not yet stored, so two
//! concurrent creates do not pick the same one.

mod cidr;
mod family;
mod ip_alloc;
pub mod ip_families;
mod node_ports;
mod ranges;

pub use cidr::{Cidr, CidrError};
pub use family::IpFamily;
pub use ranges::{Ranges, RangesError, MAX_SERVICE_HOST_BITS};

use crate::api::ApiServer;
use crate::validation::field_error::FieldError;
use ip_families::{Cluster, IpFields, Plan};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Addresses and ports handed out in the last minute.
#[derive(Default)]
pub struct Pending(Mutex<HashMap<String, Instant>>);

impl Pending {
    pub(crate) fn reserve(&self, what: String) -> bool {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, t| t.elapsed() < Duration::from_secs(60));
        m.insert(what, Instant::now()).is_none()
    }

    /// Drop a hold early: an address an update gives back (a downgrade's
    /// secondary) is free at once, as upstream releases it.
    fn release(&self, what: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(what);
    }
}

/// What the other Services hold.
#[derive(Default)]
struct InUse {
    /// Every cluster IP of every family (an address names its family).
    ips: HashSet<IpAddr>,
    ports: HashSet<i64>,
}

fn in_use(server: &ApiServer, except_uid: Option<&str>) -> InUse {
    let (items, _, _) = server.store.list("/registry/core/services/", None, None);
    let mut used = InUse::default();
    for (_, svc) in items {
        if except_uid.is_some() && svc.pointer("/metadata/uid").and_then(Value::as_str) == except_uid {
            continue;
        }
        let Some(spec) = svc.get("spec") else { continue };
        let ips = IpFields::from_spec(spec).cluster_ips;
        used.ips.extend(ips.iter().filter_map(|ip| ip.parse::<IpAddr>().ok()));
        for p in spec.get("ports").and_then(Value::as_array).into_iter().flatten() {
            if let Some(n) = p.get("nodePort").and_then(Value::as_i64) {
                used.ports.insert(n);
            }
        }
        if let Some(n) = spec.get("healthCheckNodePort").and_then(Value::as_i64) {
            used.ports.insert(n);
        }
    }
    used
}

/// Give a Service its family fields, cluster IPs and NodePorts (keeping
/// those it had).
pub fn allocate(server: &ApiServer, svc: &mut Value, old: Option<&Value>) -> Result<(), Vec<FieldError>> {
    let uid = svc.pointer("/metadata/uid").and_then(Value::as_str).map(String::from);
    let used = in_use(server, uid.as_deref());
    let mut errors = Vec::new();
    // Port errors would only add noise to a refused address plan.
    allocate_cluster_ips(server, svc, old, &used.ips)?;
    let ports = node_ports::PortRange { range: server.node_port_range, pending: &server.allocations };
    node_ports::allocate(&ports, svc, old, &used.ports, &mut errors);
    node_ports::allocate_health_check(&ports, svc, old, &used.ports, &mut errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn allocate_cluster_ips(
    server: &ApiServer,
    svc: &mut Value,
    old: Option<&Value>,
    used: &HashSet<IpAddr>,
) -> Result<(), Vec<FieldError>> {
    let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) else { return Ok(()) };
    let mut fields = IpFields::from_spec(&Value::Object(spec.clone()));
    let old_fields = old.and_then(|o| o.get("spec")).map(IpFields::from_spec);
    let families = server.service_cidrs.families();
    let plan = ip_families::resolve(&mut fields, old_fields.as_ref(), Cluster(&families))?;
    if plan == Plan::Allocate {
        let kept = old_fields.as_ref().map(|o| o.cluster_ips.as_slice()).unwrap_or_default();
        assign_ips(server, &mut fields, kept, used)?;
    }
    for gone in old_fields.iter().flat_map(|o| &o.cluster_ips).filter(|ip| !fields.cluster_ips.contains(ip)) {
        server.allocations.release(&format!("ip/{gone}"));
    }
    fields.write_to(spec);
    Ok(())
}

/// One IP per family: the one it has (or had), a requested one if free and
/// in range, else a free one.
fn assign_ips(
    server: &ApiServer,
    fields: &mut IpFields,
    kept: &[String],
    used: &HashSet<IpAddr>,
) -> Result<(), Vec<FieldError>> {
    let reserve = |ip: IpAddr| server.allocations.reserve(format!("ip/{ip}"));
    let requested = fields.cluster_ips.clone();
    let mut errors = Vec::new();
    let mut assigned = Vec::with_capacity(fields.families.len());
    for (i, family) in fields.families.iter().enumerate() {
        let Some(cidr) = IpFamily::parse(family).and_then(|f| server.service_cidrs.get(f)) else {
            // resolve() has refused unknown and unconfigured families.
            errors.push(FieldError::invalid(
                format!("spec.ipFamilies[{i}]"),
                family.as_str(),
                "not configured on this cluster",
            ));
            continue;
        };
        let ip = requested.get(i).map(String::as_str).unwrap_or_default();
        if ip.is_empty() {
            match ip_alloc::pick(&cidr, used, reserve) {
                Some(a) => assigned.push(a.to_string()),
                None => errors.push(FieldError::invalid("spec.clusterIPs", json!(requested), "range is full")),
            }
            continue;
        }
        if !kept.iter().any(|k| k == ip) {
            let checked = match ip.parse::<IpAddr>() {
                Ok(a) => ip_alloc::check_requested(&cidr, a, used, reserve),
                Err(_) => Err("must be a valid IP address".to_string()),
            };
            if let Err(msg) = checked {
                errors.push(FieldError::invalid("spec.clusterIPs", json!(requested), msg));
            }
        }
        assigned.push(ip.to_string());
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    fields.cluster_ips = assigned;
    Ok(())
}

#[cfg(test)]
mod tests;

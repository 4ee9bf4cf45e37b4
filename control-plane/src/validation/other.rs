//! Smaller groups: `discovery.k8s.io/v1` EndpointSlice, `events.k8s.io/v1` Event,
//! `coordination.k8s.io/v1` Lease, `policy/v1` PodDisruptionBudget.

use std::collections::HashSet;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use super::common::{self, json};
use super::field_error::FieldError;
use super::names;
use super::path::FieldPath;
use super::Builtin;

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const MAX_ENDPOINTS: usize = 1000;
const MAX_ADDRESSES: usize = 100;
const MAX_PORTS: usize = 20000;

// --- EndpointSlice ---

impl Builtin for EndpointSlice {
    fn set_defaults(&mut self) {
        for port in self.ports.iter_mut().flatten() {
            port.name.get_or_insert_with(String::new);
            port.protocol.get_or_insert_with(|| "TCP".to_string());
        }
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let address_type = self.address_type.as_str();
        let mut errs =
            common::enum_value(Some(address_type), &FieldPath::new("addressType"), &["FQDN", "IPv4", "IPv6"], true);
        errs.extend(validate_endpoints(&self.endpoints, address_type, &FieldPath::new("endpoints")));
        errs.extend(validate_slice_ports(self.ports.as_deref().unwrap_or_default(), &FieldPath::new("ports")));
        if let Some(old) = old {
            errs.extend(common::immutable(&self.address_type, &old.address_type, &FieldPath::new("addressType")));
        }
        errs
    }
}

fn validate_endpoints(endpoints: &[Endpoint], address_type: &str, path: &FieldPath) -> Vec<FieldError> {
    if endpoints.len() > MAX_ENDPOINTS {
        return vec![common::too_many(path, endpoints.len(), MAX_ENDPOINTS)];
    }
    let mut errs = Vec::new();
    for (i, endpoint) in endpoints.iter().enumerate() {
        let endpoint_path = path.index(i);
        let addresses_path = endpoint_path.child("addresses");
        if endpoint.addresses.is_empty() {
            errs.push(FieldError::required(&addresses_path, "must contain at least 1 address"));
        } else if endpoint.addresses.len() > MAX_ADDRESSES {
            errs.push(common::too_many(&addresses_path, endpoint.addresses.len(), MAX_ADDRESSES));
        }
        for (j, address) in endpoint.addresses.iter().enumerate() {
            errs.extend(address_errors(address, address_type, &addresses_path.index(j)));
        }
        if let Some(node) = &endpoint.node_name {
            errs.extend(common::dns1123_subdomain(node, &endpoint_path.child("nodeName")));
        }
        if let Some(hostname) = &endpoint.hostname {
            errs.extend(common::dns1123_label(hostname, &endpoint_path.child("hostname")));
        }
        errs.extend(common::labels(endpoint.deprecated_topology.as_ref(), &endpoint_path.child("deprecatedTopology")));
    }
    errs
}

fn address_errors(address: &str, address_type: &str, path: &FieldPath) -> Vec<FieldError> {
    let ip = common::parse_ip(address);
    match address_type {
        "IPv4" if !ip.is_some_and(|ip| ip.is_ipv4()) => {
            vec![FieldError::invalid(path, address, "must be a valid IPv4 address")]
        }
        "IPv6" if !ip.is_some_and(|ip| ip.is_ipv6()) => {
            vec![FieldError::invalid(path, address, "must be a valid IPv6 address")]
        }
        "FQDN" => fqdn_errors(address, path),
        _ => Vec::new(),
    }
}

/// `IsFullyQualifiedDomainName`: a subdomain of at least two labels, trailing dot allowed.
fn fqdn_errors(address: &str, path: &FieldPath) -> Vec<FieldError> {
    let name = address.strip_suffix('.').unwrap_or(address);
    let messages = names::is_dns1123_subdomain(name);
    if !messages.is_empty() {
        return vec![FieldError::invalid(path, name, messages.join(","))];
    }
    if name.split('.').count() < 2 {
        return vec![FieldError::invalid(
            path,
            name,
            "should be a domain with at least two segments separated by dots",
        )];
    }
    Vec::new()
}

fn validate_slice_ports(ports: &[EndpointPort], path: &FieldPath) -> Vec<FieldError> {
    if ports.len() > MAX_PORTS {
        return vec![common::too_many(path, ports.len(), MAX_PORTS)];
    }
    let mut errs = Vec::new();
    let mut names_seen = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let port_path = path.index(i);
        let name = port.name.as_deref().unwrap_or_default();
        if !name.is_empty() {
            errs.extend(common::dns1123_label(name, &port_path.child("name")));
        }
        if !names_seen.insert(name) {
            errs.push(FieldError::duplicate(port_path.child("name"), name));
        }
        if let Some(number) = port.port {
            errs.extend(common::invalid_each(
                &port_path.child("port"),
                number,
                names::is_valid_port_num(i64::from(number)),
            ));
        }
        errs.extend(common::enum_value(port.protocol.as_deref(), &port_path.child("protocol"), PROTOCOLS, true));
        if let Some(app_protocol) = &port.app_protocol {
            errs.extend(common::qualified_name(app_protocol, &port_path.child("appProtocol")));
        }
    }
    errs
}

// --- events.k8s.io Event ---

impl Builtin for Event {
    /// The strict rules of the `events.k8s.io` API, reported with its own field names.
    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if self.event_time.is_none() {
            errs.push(FieldError::required("eventTime", ""));
        }
        let controller = self.reporting_controller.as_deref().unwrap_or_default();
        if controller.is_empty() {
            errs.push(FieldError::required("reportingController", ""));
        } else {
            errs.extend(common::qualified_name(controller, &FieldPath::new("reportingController")));
        }
        let limited = [
            ("reportingInstance", self.reporting_instance.as_deref(), 128, true),
            ("action", self.action.as_deref(), 128, true),
            ("reason", self.reason.as_deref(), 128, true),
            ("note", self.note.as_deref(), 1024, false),
        ];
        errs.extend(common::limited_fields(&limited));
        let event_type = self.type_.as_deref().unwrap_or_default();
        if !matches!(event_type, "Normal" | "Warning") {
            errs.push(FieldError::invalid("type", "", format!("has invalid value: {event_type}")));
        }
        errs.extend(namespace_match(self));
        errs.extend(deprecated_fields_unset(self));
        if let Some(series) = &self.series {
            if series.count < 2 {
                errs.push(FieldError::invalid(FieldPath::new("series").child("count"), "", "should be at least 2"));
            }
        }
        errs
    }
}

fn namespace_match(event: &Event) -> Vec<FieldError> {
    let namespace = event.metadata.namespace.as_deref().unwrap_or_default();
    let regarding = event.regarding.as_ref().and_then(|r| r.namespace.as_deref()).unwrap_or_default();
    let mismatch =
        if regarding.is_empty() { !matches!(namespace, "default" | "kube-system") } else { regarding != namespace };
    if mismatch {
        vec![FieldError::invalid(
            FieldPath::new("regarding").child("namespace"),
            regarding,
            "does not match event.namespace",
        )]
    } else {
        Vec::new()
    }
}

fn deprecated_fields_unset(event: &Event) -> Vec<FieldError> {
    let set = [
        ("deprecatedFirstTimestamp", event.deprecated_first_timestamp.is_some()),
        ("deprecatedLastTimestamp", event.deprecated_last_timestamp.is_some()),
        ("deprecatedCount", event.deprecated_count.is_some_and(|c| c != 0)),
        (
            "deprecatedSource",
            event.deprecated_source.as_ref().is_some_and(|s| s.component.is_some() || s.host.is_some()),
        ),
    ];
    set.into_iter()
        .filter(|(_, is_set)| *is_set)
        .map(|(field, _)| FieldError::invalid(field, "", "needs to be unset"))
        .collect()
}

// --- Lease ---

impl Builtin for Lease {
    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        let spec = self.spec.clone().unwrap_or_default();
        let path = FieldPath::new("spec");
        let mut errs = Vec::new();
        if let Some(duration) = spec.lease_duration_seconds.filter(|d| *d <= 0) {
            errs.push(FieldError::invalid(path.child("leaseDurationSeconds"), duration, "must be greater than 0"));
        }
        errs.extend(common::non_negative_opt(spec.lease_transitions, &path.child("leaseTransitions")));
        if let Some(strategy) = &spec.strategy {
            errs.extend(common::enum_value(Some(strategy), &path.child("strategy"), &["OldestEmulationVersion"], true));
        }
        let has_strategy = spec.strategy.as_deref().is_some_and(|s| !s.is_empty());
        if spec.preferred_holder.as_deref().is_some_and(|h| !h.is_empty()) && !has_strategy {
            errs.push(FieldError::forbidden(
                path.child("preferredHolder"),
                "may only be specified if `strategy` is defined",
            ));
        }
        errs
    }
}

// --- PodDisruptionBudget ---

impl Builtin for PodDisruptionBudget {
    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        let spec = self.spec.clone().unwrap_or_default();
        let path = FieldPath::new("spec");
        let mut errs = Vec::new();
        if spec.min_available.is_some() && spec.max_unavailable.is_some() {
            errs.push(FieldError::invalid(&path, json(&spec), "minAvailable and maxUnavailable cannot be both set"));
        }
        for (field, value) in [("minAvailable", &spec.min_available), ("maxUnavailable", &spec.max_unavailable)] {
            if let Some(value) = value {
                errs.extend(common::int_or_percent(value, &path.child(field)));
                errs.extend(common::not_more_than_100_percent(value, &path.child(field)));
            }
        }
        if let Some(selector) = &spec.selector {
            errs.extend(common::label_selector(selector, &path.child("selector")));
        }
        if let Some(policy) = &spec.unhealthy_pod_eviction_policy {
            let allowed = ["AlwaysAllow", "IfHealthyBudget"];
            errs.extend(common::enum_value(Some(policy), &path.child("unhealthyPodEvictionPolicy"), &allowed, true));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::{default_builtin, validate_builtin};
    use serde_json::{json as j, Value};

    fn check(group: &str, kind: &str, mut obj: Value, old: Option<Value>) -> Vec<String> {
        default_builtin(group, kind, &mut obj);
        validate_builtin(group, kind, &obj, old.as_ref()).iter().map(FieldError::message).collect()
    }

    #[test]
    fn endpoint_slices() {
        let slice = j!({"metadata": {"name": "web-abc"}, "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": true}, "nodeName": "node-1"}],
            "ports": [{"name": "http", "port": 80}]});
        let mut defaulted = slice.clone();
        default_builtin("discovery.k8s.io", "EndpointSlice", &mut defaulted);
        assert_eq!(defaulted["ports"][0]["protocol"], "TCP");
        assert!(check("discovery.k8s.io", "EndpointSlice", slice.clone(), None).is_empty());
        let bad = j!({"metadata": {"name": "web-abc"}, "addressType": "IPv5",
            "endpoints": [{"addresses": []}, {"addresses": ["::1"], "hostname": "Bad_Host"}],
            "ports": [{"name": "http", "port": 70000, "protocol": "ICMP"}, {"name": "http"}]});
        assert_eq!(
            check("discovery.k8s.io", "EndpointSlice", bad, None)
                .iter()
                .map(|m| m.split(':').next().unwrap_or_default().to_string())
                .collect::<Vec<_>>(),
            vec![
                "addressType",
                "endpoints[0].addresses",
                "endpoints[1].hostname",
                "ports[0].port",
                "ports[0].protocol",
                "ports[1].name"
            ]
        );
        let ipv4_bad =
            j!({"metadata": {"name": "s"}, "addressType": "IPv4", "endpoints": [{"addresses": ["2001:db8::1"]}]});
        assert_eq!(
            check("discovery.k8s.io", "EndpointSlice", ipv4_bad, None),
            vec!["endpoints[0].addresses[0]: Invalid value: \"2001:db8::1\": must be a valid IPv4 address"]
        );
        let mut v6 = slice.clone();
        v6["addressType"] = j!("IPv6");
        v6["endpoints"] = j!([]);
        assert_eq!(
            check("discovery.k8s.io", "EndpointSlice", v6, Some(slice)),
            vec!["addressType: Invalid value: \"IPv6\": field is immutable"]
        );
    }

    #[test]
    fn events() {
        let event = j!({"metadata": {"name": "pod.17a", "namespace": "default"}, "eventTime": "2024-05-01T10:00:00.000000Z",
            "reportingController": "example.com/controller", "reportingInstance": "controller-1",
            "action": "Scheduling", "reason": "Scheduled", "type": "Normal", "note": "ok",
            "regarding": {"kind": "Pod", "namespace": "default", "name": "p"}});
        assert!(check("events.k8s.io", "Event", event, None).is_empty());
        let bad = j!({"metadata": {"name": "e", "namespace": "default"}, "type": "Info", "regarding": {"namespace": "other"}, "deprecatedCount": 3});
        assert_eq!(
            check("events.k8s.io", "Event", bad, None),
            vec![
                "eventTime: Required value",
                "reportingController: Required value",
                "reportingInstance: Required value",
                "action: Required value",
                "reason: Required value",
                "type: Invalid value: \"\": has invalid value: Info",
                "regarding.namespace: Invalid value: \"other\": does not match event.namespace",
                "deprecatedCount: Invalid value: \"\": needs to be unset"
            ]
        );
    }

    #[test]
    fn leases() {
        let lease = j!({"metadata": {"name": "leader"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15, "leaseTransitions": 0}});
        assert!(check("coordination.k8s.io", "Lease", lease, None).is_empty());
        let bad = j!({"metadata": {"name": "leader"}, "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1, "preferredHolder": "b"}});
        assert_eq!(
            check("coordination.k8s.io", "Lease", bad, None),
            vec![
                "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
                "spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"
            ]
        );
    }

    #[test]
    fn disruption_budgets() {
        let pdb = j!({"metadata": {"name": "web"}, "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}});
        assert!(check("policy", "PodDisruptionBudget", pdb, None).is_empty());
        let bad = j!({"metadata": {"name": "web"}, "spec": {"minAvailable": -1, "maxUnavailable": "150%", "unhealthyPodEvictionPolicy": "Never"}});
        assert_eq!(
            check("policy", "PodDisruptionBudget", bad, None)
                .iter()
                .map(|m| m.split(':').next().unwrap_or_default().to_string())
                .collect::<Vec<_>>(),
            vec!["spec", "spec.minAvailable", "spec.maxUnavailable", "spec.unhealthyPodEvictionPolicy"]
        );
    }
}

//! Services: defaults, validation, and what an update keeps from the stored object.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{ClientIPConfig, Service, ServicePort, ServiceSpec, SessionAffinityConfig};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::common::{self, json};
use super::field_error::FieldError;
use super::names;
use super::path::FieldPath;
use super::Builtin;

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const NODE_PORT_RANGE: (i32, i32) = (30000, 32767);
const MAX_AFFINITY_SECONDS: i32 = 86400;
const DEFAULT_AFFINITY_SECONDS: i32 = 10800;
const CHANGED: &str = "may not change once set";

impl Builtin for Service {
    fn set_defaults(&mut self) {
        default_service_spec(self.spec.get_or_insert_with(ServiceSpec::default));
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let empty = ServiceSpec::default();
        let spec = self.spec.as_ref().unwrap_or(&empty);
        let mut errs = validate_spec(spec);
        if let Some(old) = old {
            errs.extend(validate_update(spec, old.spec.as_ref().unwrap_or(&empty)));
        }
        errs
    }

    /// Clients that replace a Service without its allocated values keep them, and values that
    /// only made sense for the old type are dropped when the client left them unchanged, as the
    /// apiserver's strategy does.
    fn prepare_update(&mut self, old: &Self) {
        let (Some(new), Some(old)) = (self.spec.as_mut(), old.spec.as_ref()) else { return };
        drop_type_dependent_fields(new, old);
        keep_allocated_values(new, old);
    }
}

fn drop_type_dependent_fields(new: &mut ServiceSpec, old: &ServiceSpec) {
    if needs_cluster_ip(old) && !needs_cluster_ip(new) {
        if new.cluster_ips == old.cluster_ips && new.cluster_ip == old.cluster_ip {
            new.cluster_ip = None;
            new.cluster_ips = None;
        }
        if new.ip_families == old.ip_families {
            new.ip_families = None;
        }
        if new.ip_family_policy == old.ip_family_policy {
            new.ip_family_policy = None;
        }
    }
    let node_ports =
        |spec: &ServiceSpec| -> Vec<Option<i32>> { spec.ports.iter().flatten().map(|p| p.node_port).collect() };
    if needs_node_port(old) && !needs_node_port(new) && node_ports(new) == node_ports(old) {
        new.ports.iter_mut().flatten().for_each(|p| p.node_port = None);
    }
    if needs_health_check(old) && !needs_health_check(new) && new.health_check_node_port == old.health_check_node_port {
        new.health_check_node_port = None;
    }
    if service_type(new) != "LoadBalancer" {
        new.allocate_load_balancer_node_ports = None;
        if new.load_balancer_class == old.load_balancer_class {
            new.load_balancer_class = None;
        }
    }
    if !externally_accessible(new) && new.external_traffic_policy == old.external_traffic_policy {
        new.external_traffic_policy = None;
    }
    if !needs_cluster_ip(new) && new.internal_traffic_policy == old.internal_traffic_policy {
        new.internal_traffic_policy = None;
    }
}

/// Only the addresses, as upstream's `patchAllocatedValues`: the family
/// fields are settled by the allocator (`services::ip_families`), which
/// keeps the stored policy and infers families from the addresses.
fn keep_allocated_values(new: &mut ServiceSpec, old: &ServiceSpec) {
    if !needs_cluster_ip(new) || !needs_cluster_ip(old) {
        return;
    }
    if new.cluster_ip.as_deref().is_none_or(str::is_empty) && new.cluster_ips.as_ref().is_none_or(Vec::is_empty) {
        new.cluster_ip.clone_from(&old.cluster_ip);
        new.cluster_ips.clone_from(&old.cluster_ips);
    }
    if needs_node_port(new) && needs_node_port(old) {
        carry_node_ports(new, old);
    }
    if new.health_check_node_port.unwrap_or(0) == 0 && needs_health_check(new) && needs_health_check(old) {
        new.health_check_node_port = old.health_check_node_port;
    }
}

fn carry_node_ports(new: &mut ServiceSpec, old: &ServiceSpec) {
    let old_ports = old.ports.as_deref().unwrap_or_default();
    for port in new.ports.iter_mut().flatten().filter(|p| p.node_port.unwrap_or(0) == 0) {
        let same = old_ports
            .iter()
            .find(|o| o.port == port.port && o.protocol == port.protocol)
            .or_else(|| old_ports.iter().find(|o| o.name.is_some() && o.name == port.name));
        port.node_port = same.and_then(|o| o.node_port);
    }
}

// ---------------------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------------------

fn default_service_spec(spec: &mut ServiceSpec) {
    if spec.session_affinity.as_deref().is_none_or(str::is_empty) {
        spec.session_affinity = Some("None".to_string());
    }
    default_session_affinity_config(spec);
    if spec.type_.as_deref().is_none_or(str::is_empty) {
        spec.type_ = Some("ClusterIP".to_string());
    }
    for port in spec.ports.iter_mut().flatten() {
        default_port(port);
    }
    if externally_accessible(spec) && spec.external_traffic_policy.as_deref().is_none_or(str::is_empty) {
        spec.external_traffic_policy = Some("Cluster".to_string());
    }
    let service_type = spec.type_.as_deref().unwrap_or_default();
    if matches!(service_type, "ClusterIP" | "NodePort" | "LoadBalancer") && spec.internal_traffic_policy.is_none() {
        spec.internal_traffic_policy = Some("Cluster".to_string());
    }
    if service_type == "LoadBalancer" {
        spec.allocate_load_balancer_node_ports.get_or_insert(true);
    }
    default_cluster_ip_fields(spec);
}

fn default_session_affinity_config(spec: &mut ServiceSpec) {
    match spec.session_affinity.as_deref() {
        Some("None") => spec.session_affinity_config = None,
        Some("ClientIP") => {
            let config = spec.session_affinity_config.get_or_insert_with(SessionAffinityConfig::default);
            let client_ip = config.client_ip.get_or_insert_with(ClientIPConfig::default);
            client_ip.timeout_seconds.get_or_insert(DEFAULT_AFFINITY_SECONDS);
        }
        _ => {}
    }
}

fn default_port(port: &mut ServicePort) {
    if port.protocol.as_deref().is_none_or(str::is_empty) {
        port.protocol = Some("TCP".to_string());
    }
    let unset = match &port.target_port {
        None => true,
        Some(IntOrString::Int(n)) => *n == 0,
        Some(IntOrString::String(s)) => s.is_empty(),
    };
    if unset {
        port.target_port = Some(IntOrString::Int(port.port));
    }
}

/// Keeps `clusterIP` and `clusterIPs` in step. `ipFamilyPolicy` and `ipFamilies` depend on the
/// cluster's ranges and the stored object, so the allocator fills them (as upstream's registry).
fn default_cluster_ip_fields(spec: &mut ServiceSpec) {
    if !needs_cluster_ip(spec) {
        return;
    }
    let cluster_ip = spec.cluster_ip.clone().unwrap_or_default();
    let cluster_ips = spec.cluster_ips.clone().unwrap_or_default();
    match (cluster_ip.is_empty(), cluster_ips.first()) {
        (false, None) => spec.cluster_ips = Some(vec![cluster_ip]),
        (true, Some(first)) => spec.cluster_ip = Some(first.clone()),
        _ => {}
    }
}

fn service_type(spec: &ServiceSpec) -> &str {
    spec.type_.as_deref().unwrap_or_default()
}

fn needs_cluster_ip(spec: &ServiceSpec) -> bool {
    service_type(spec) != "ExternalName"
}

fn needs_node_port(spec: &ServiceSpec) -> bool {
    matches!(service_type(spec), "NodePort" | "LoadBalancer")
}

fn externally_accessible(spec: &ServiceSpec) -> bool {
    needs_node_port(spec)
        || (service_type(spec) == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|ips| !ips.is_empty()))
}

fn needs_health_check(spec: &ServiceSpec) -> bool {
    service_type(spec) == "LoadBalancer" && spec.external_traffic_policy.as_deref() == Some("Local")
}

fn is_headless(spec: &ServiceSpec) -> bool {
    spec.cluster_ips.as_deref().is_some_and(|ips| ips.len() == 1 && ips[0] == "None")
        || (spec.cluster_ips.as_ref().is_none_or(Vec::is_empty) && spec.cluster_ip.as_deref() == Some("None"))
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

fn validate_spec(spec: &ServiceSpec) -> Vec<FieldError> {
    let path = FieldPath::new("spec");
    let ports = spec.ports.as_deref().unwrap_or_default();
    let mut errs = Vec::new();
    if ports.is_empty() && !is_headless(spec) && service_type(spec) != "ExternalName" {
        errs.push(FieldError::required(path.child("ports"), ""));
    }
    errs.extend(validate_type_specifics(spec, &path));
    let mut port_names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        errs.extend(validate_port(port, ports.len() > 1, &mut port_names, &path.child("ports").index(i)));
    }
    errs.extend(common::labels(spec.selector.as_ref(), &path.child("selector")));
    errs.extend(validate_session_affinity(spec, &path));
    errs.extend(validate_cluster_ips(spec, &path));
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        errs.extend(common::ip_address(ip, &path.child("externalIPs").index(i)));
    }
    errs.extend(common::enum_value(spec.type_.as_deref(), &path.child("type"), TYPES, true));
    errs.extend(validate_node_ports(spec, &path));
    errs.extend(validate_duplicate_ports(ports, &path.child("ports")));
    errs.extend(validate_load_balancer_fields(spec, &path));
    errs.extend(validate_traffic_policies(spec, &path));
    errs
}

fn validate_type_specifics(spec: &ServiceSpec, path: &FieldPath) -> Vec<FieldError> {
    let first_ip = || spec.cluster_ips.as_ref().and_then(|ips| ips.first()).cloned().unwrap_or_default();
    match service_type(spec) {
        kind @ ("LoadBalancer" | "NodePort") if is_headless(spec) => {
            let msg = format!("may not be set to 'None' for {kind} services");
            vec![FieldError::invalid(path.child("clusterIPs").index(0), first_ip(), msg)]
        }
        "ExternalName" => validate_external_name(spec, path),
        _ => Vec::new(),
    }
}

fn validate_external_name(spec: &ServiceSpec, path: &FieldPath) -> Vec<FieldError> {
    const MSG: &str = "may not be set for ExternalName services";
    let mut errs = Vec::new();
    let has_ips = spec.cluster_ips.as_ref().is_some_and(|ips| !ips.is_empty())
        || spec.cluster_ip.as_deref().is_some_and(|ip| !ip.is_empty());
    if has_ips {
        errs.push(FieldError::forbidden(path.child("clusterIPs"), MSG));
    }
    if spec.ip_families.as_ref().is_some_and(|f| !f.is_empty()) {
        errs.push(FieldError::forbidden(path.child("ipFamilies"), MSG));
    }
    if spec.ip_family_policy.is_some() {
        errs.push(FieldError::forbidden(path.child("ipFamilyPolicy"), MSG));
    }
    let name = spec.external_name.as_deref().unwrap_or_default();
    let cname = name.strip_suffix('.').unwrap_or(name);
    if cname.is_empty() {
        errs.push(FieldError::required(path.child("externalName"), ""));
    } else {
        errs.extend(common::dns1123_subdomain(cname, &path.child("externalName")));
    }
    errs
}

fn validate_port(
    port: &ServicePort,
    name_required: bool,
    seen: &mut HashSet<String>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match port.name.as_deref().unwrap_or_default() {
        "" if name_required => errs.push(FieldError::required(path.child("name"), "")),
        "" => {}
        name => {
            errs.extend(common::dns1123_label(name, &path.child("name")));
            if !seen.insert(name.to_string()) {
                errs.push(FieldError::duplicate(path.child("name"), name));
            }
        }
    }
    errs.extend(common::invalid_each(&path.child("port"), port.port, names::is_valid_port_num(i64::from(port.port))));
    errs.extend(common::enum_value(port.protocol.as_deref(), &path.child("protocol"), PROTOCOLS, true));
    if let Some(target) = &port.target_port {
        errs.extend(common::port_num_or_name(target, &path.child("targetPort")));
    }
    if let Some(app_protocol) = &port.app_protocol {
        errs.extend(common::qualified_name(app_protocol, &path.child("appProtocol")));
    }
    errs
}

fn validate_session_affinity(spec: &ServiceSpec, path: &FieldPath) -> Vec<FieldError> {
    let affinity = spec.session_affinity.as_deref();
    let mut errs = common::enum_value(affinity, &path.child("sessionAffinity"), &["ClientIP", "None"], true);
    let config_path = path.child("sessionAffinityConfig");
    match affinity {
        Some("None") if spec.session_affinity_config.is_some() => {
            errs.push(FieldError::forbidden(config_path, "must not be set when session affinity is None"));
        }
        Some("ClientIP") => {
            let timeout_path = config_path.child("clientIP").child("timeoutSeconds");
            let timeout = spec
                .session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds);
            match timeout {
                None => errs.push(FieldError::required(timeout_path, "when session affinity type is ClientIP")),
                Some(t) if t <= 0 || t > MAX_AFFINITY_SECONDS => {
                    let msg = format!("must be greater than 0 and less than {MAX_AFFINITY_SECONDS}");
                    errs.push(FieldError::invalid(timeout_path, t, msg));
                }
                Some(_) => {}
            }
        }
        _ => {}
    }
    errs
}

/// `ValidateServiceClusterIPsRelatedFields`
fn validate_cluster_ips(spec: &ServiceSpec, path: &FieldPath) -> Vec<FieldError> {
    if !needs_cluster_ip(spec) {
        return Vec::new();
    }
    let ips_path = path.child("clusterIPs");
    let cluster_ip = spec.cluster_ip.as_deref().unwrap_or_default();
    let ips = spec.cluster_ips.as_deref().unwrap_or_default();
    let mut errs = Vec::new();
    match (cluster_ip.is_empty(), ips.first()) {
        (false, None) => errs.push(FieldError::required(&ips_path, "")),
        (false, Some(first)) if first != cluster_ip => {
            errs.push(FieldError::invalid(&ips_path, json(ips), "first value must match `clusterIP`"))
        }
        (true, Some(_)) => {
            errs.push(FieldError::invalid(&ips_path, json(ips), "must be empty when `clusterIP` is not specified"))
        }
        _ => {}
    }
    let mut families_seen = HashSet::new();
    for (i, family) in spec.ip_families.iter().flatten().enumerate() {
        let family_path = path.child("ipFamilies").index(i);
        errs.extend(common::enum_value(Some(family), &family_path, &["IPv4", "IPv6"], true));
        if !families_seen.insert(family.as_str()) {
            errs.push(FieldError::duplicate(family_path, family.as_str()));
        }
    }
    let policies = ["PreferDualStack", "RequireDualStack", "SingleStack"];
    errs.extend(common::enum_value(spec.ip_family_policy.as_deref(), &path.child("ipFamilyPolicy"), &policies, false));
    let mut invalid_ips = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && ip == "None" {
            if ips.len() > 1 {
                invalid_ips = true;
                errs.push(FieldError::invalid(&ips_path, json(ips), "'None' must be the first and only value"));
            }
            continue;
        }
        let ip_errs = common::ip_address(ip, &ips_path.index(i));
        invalid_ips |= !ip_errs.is_empty();
        errs.extend(ip_errs);
    }
    if ips.len() > 2 {
        errs.push(FieldError::invalid(&ips_path, json(ips), "may only hold up to 2 values"));
    }
    if !invalid_ips {
        errs.extend(validate_ip_families_match(spec, ips, &ips_path));
    }
    errs
}

fn validate_ip_families_match(spec: &ServiceSpec, ips: &[String], ips_path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let is_v6 = |ip: &String| matches!(common::parse_ip(ip), Some(std::net::IpAddr::V6(_)));
    if ips.len() == 2 && is_v6(&ips[0]) == is_v6(&ips[1]) {
        errs.push(FieldError::invalid(ips_path, json(ips), "may specify no more than one IP for each IP family"));
    }
    if is_headless(spec) {
        return errs;
    }
    for (i, (ip, family)) in ips.iter().zip(spec.ip_families.iter().flatten()).enumerate() {
        let expected = match family.as_str() {
            "IPv4" if is_v6(ip) => "IPv4",
            "IPv6" if !is_v6(ip) => "IPv6",
            _ => continue,
        };
        let msg = format!("expected an {expected} value as indicated by `ipFamilies[{i}]`");
        errs.push(FieldError::invalid(ips_path.index(i), ip.as_str(), msg));
    }
    errs
}

fn validate_node_ports(spec: &ServiceSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen = HashSet::new();
    for (i, port) in spec.ports.iter().flatten().enumerate() {
        let node_port = port.node_port.unwrap_or(0);
        if node_port == 0 {
            continue;
        }
        let node_port_path = path.child("ports").index(i).child("nodePort");
        if service_type(spec) == "ClusterIP" {
            errs.push(FieldError::forbidden(&node_port_path, "may not be used when `type` is 'ClusterIP'"));
        } else if !(NODE_PORT_RANGE.0..=NODE_PORT_RANGE.1).contains(&node_port) {
            let msg = format!(
                "provided port is not in the valid range. The range of valid ports is {}-{}",
                NODE_PORT_RANGE.0, NODE_PORT_RANGE.1
            );
            errs.push(FieldError::invalid(&node_port_path, node_port, msg));
        }
        if !seen.insert((port.protocol.clone(), node_port)) {
            errs.push(FieldError::duplicate(&node_port_path, node_port));
        }
    }
    errs
}

/// Two ports may not share a (port, protocol) pair.
fn validate_duplicate_ports(ports: &[ServicePort], path: &FieldPath) -> Vec<FieldError> {
    let mut seen = HashSet::new();
    let mut errs = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let protocol = port.protocol.clone().unwrap_or_default();
        if !seen.insert((port.port, protocol.clone())) {
            errs.push(FieldError::duplicate(
                path.index(i),
                serde_json::json!({"port": port.port, "protocol": protocol}),
            ));
        }
    }
    errs
}

fn validate_load_balancer_fields(spec: &ServiceSpec, path: &FieldPath) -> Vec<FieldError> {
    const ONLY_LB: &str = "may only be used when `type` is 'LoadBalancer'";
    let load_balancer = service_type(spec) == "LoadBalancer";
    let mut errs = Vec::new();
    let ranges = spec.load_balancer_source_ranges.as_deref().unwrap_or_default();
    if !ranges.is_empty() && !load_balancer {
        errs.push(FieldError::forbidden(path.child("loadBalancerSourceRanges"), ONLY_LB));
    }
    for (i, range) in ranges.iter().enumerate() {
        errs.extend(common::cidr(range.trim(), &path.child("loadBalancerSourceRanges").index(i)));
    }
    if spec.allocate_load_balancer_node_ports.is_some() && !load_balancer {
        errs.push(FieldError::forbidden(path.child("allocateLoadBalancerNodePorts"), ONLY_LB));
    }
    if load_balancer && spec.allocate_load_balancer_node_ports.is_none() {
        errs.push(FieldError::required(path.child("allocateLoadBalancerNodePorts"), ""));
    }
    match (&spec.load_balancer_class, load_balancer) {
        (Some(class), true) => errs.extend(common::qualified_name(class, &path.child("loadBalancerClass"))),
        (Some(_), false) => errs.push(FieldError::forbidden(path.child("loadBalancerClass"), ONLY_LB)),
        _ => {}
    }
    errs
}

fn validate_traffic_policies(spec: &ServiceSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let external = spec.external_traffic_policy.as_deref().unwrap_or_default();
    if !externally_accessible(spec) {
        if !external.is_empty() {
            errs.push(FieldError::invalid(
                path.child("externalTrafficPolicy"),
                external,
                "may only be set for externally-accessible services",
            ));
        }
    } else {
        errs.extend(common::enum_value(
            Some(external),
            &path.child("externalTrafficPolicy"),
            &["Cluster", "Local"],
            true,
        ));
    }
    let health_port = spec.health_check_node_port.unwrap_or(0);
    if !needs_health_check(spec) && health_port != 0 {
        errs.push(FieldError::invalid(
            path.child("healthCheckNodePort"),
            health_port,
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ));
    }
    let internal_path = path.child("internalTrafficPolicy");
    if matches!(service_type(spec), "ClusterIP" | "NodePort" | "LoadBalancer") && spec.internal_traffic_policy.is_none()
    {
        errs.push(FieldError::required(&internal_path, ""));
    }
    errs.extend(common::enum_value(
        spec.internal_traffic_policy.as_deref(),
        &internal_path,
        &["Cluster", "Local"],
        false,
    ));
    if let Some(distribution) = &spec.traffic_distribution {
        errs.extend(common::enum_value(Some(distribution), &path.child("trafficDistribution"), &["PreferClose"], true));
    }
    errs
}

// --- updates ---

fn validate_update(new: &ServiceSpec, old: &ServiceSpec) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if needs_cluster_ip(new) && needs_cluster_ip(old) && !(is_headless(new) && is_headless(old)) {
        errs.extend(cluster_ips_update(new, old));
        if is_headless(new) == is_headless(old) && !is_headless(new) {
            errs.extend(families_update(new, old));
        }
    }
    if service_type(new) == "LoadBalancer"
        && service_type(old) == "LoadBalancer"
        && new.load_balancer_class != old.load_balancer_class
    {
        let class = new.load_balancer_class.clone().map(Value::from).unwrap_or(Value::Null);
        errs.push(FieldError::invalid(FieldPath::new("spec").child("loadBalancerClass"), class, CHANGED));
    }
    if needs_health_check(new) && needs_health_check(old) && new.health_check_node_port != old.health_check_node_port {
        errs.push(FieldError::forbidden(FieldPath::new("spec").child("healthCheckNodePort"), "field is immutable"));
    }
    errs
}

/// Cluster IPs never change once allocated; a secondary may be added or released.
fn cluster_ips_update(new: &ServiceSpec, old: &ServiceSpec) -> Vec<FieldError> {
    let new_ips = new.cluster_ips.as_deref().unwrap_or_default();
    let old_ips = old.cluster_ips.as_deref().unwrap_or_default();
    let path = FieldPath::new("spec").child("clusterIPs");
    let mut errs = Vec::new();
    if new_ips.len() == old_ips.len() {
        for (i, (n, o)) in new_ips.iter().zip(old_ips).enumerate() {
            if n != o {
                errs.push(FieldError::invalid(path.index(i), json(new_ips), CHANGED));
            }
        }
        return errs;
    }
    match new_ips.first() {
        None => errs.push(FieldError::invalid(path.index(0), json(new_ips), "primary clusterIP can not be unset")),
        Some(first) if old_ips.first().is_some_and(|o| o != first) => {
            errs.push(FieldError::invalid(path.index(0), json(new_ips), CHANGED))
        }
        _ => {}
    }
    if new_ips.len() == 1 && old_ips.len() > 1 && new.ip_family_policy.as_deref() != Some("SingleStack") {
        errs.push(FieldError::invalid(
            FieldPath::new("spec").child("ipFamilyPolicy"),
            json(&new.ip_family_policy),
            "must be set to 'SingleStack' when releasing the secondary clusterIP",
        ));
    }
    errs
}

fn families_update(new: &ServiceSpec, old: &ServiceSpec) -> Vec<FieldError> {
    let new_families = new.ip_families.as_deref().unwrap_or_default();
    let old_families = old.ip_families.as_deref().unwrap_or_default();
    let path = FieldPath::new("spec").child("ipFamilies").index(0);
    let primary_changed = match (new_families.first(), old_families.first()) {
        (Some(n), Some(o)) => n != o,
        _ => false,
    };
    let same_length_changed = new_families.len() == old_families.len() && new_families != old_families;
    if primary_changed || same_length_changed {
        vec![FieldError::invalid(path, json(new_families), CHANGED)]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::{default_builtin, prepare_update_builtin, validate_builtin};
    use serde_json::json as j;

    fn defaulted(mut obj: Value) -> Value {
        default_builtin("", "Service", &mut obj);
        obj
    }

    fn check(obj: Value, old: Option<Value>) -> Vec<String> {
        let obj = defaulted(obj);
        let old = old.map(defaulted);
        validate_builtin("", "Service", &obj, old.as_ref()).iter().map(FieldError::message).collect()
    }

    fn web() -> Value {
        j!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    }

    #[test]
    fn defaults_match_kubernetes() {
        let svc = defaulted(web());
        let spec = &svc["spec"];
        assert_eq!(spec["type"], "ClusterIP");
        assert_eq!(spec["sessionAffinity"], "None");
        assert_eq!(spec["ports"][0], j!({"port": 80, "protocol": "TCP", "targetPort": 80}));
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        // Family fields come from the allocator, which knows the cluster's ranges.
        assert!(spec.get("ipFamilyPolicy").is_none() && spec.get("ipFamilies").is_none());
        assert!(spec.get("externalTrafficPolicy").is_none());

        let lb = defaulted(
            j!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "clusterIP": "10.96.0.10", "ports": [{"port": 443, "targetPort": "https"}]}}),
        );
        let spec = &lb["spec"];
        assert_eq!(spec["externalTrafficPolicy"], "Cluster");
        assert_eq!(spec["allocateLoadBalancerNodePorts"], true);
        assert_eq!(spec["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"], 10800);
        assert_eq!(spec["clusterIPs"], j!(["10.96.0.10"]));
        assert_eq!(spec["ports"][0]["targetPort"], "https");

        let external = defaulted(
            j!({"metadata": {"name": "db"}, "spec": {"type": "ExternalName", "externalName": "db.example.com"}}),
        );
        assert!(external["spec"].get("ipFamilyPolicy").is_none());
        assert!(external["spec"].get("internalTrafficPolicy").is_none());
    }

    #[test]
    fn valid_services_pass() {
        assert!(check(web(), None).is_empty());
        assert!(check(j!({"metadata": {"name": "h"}, "spec": {"clusterIP": "None", "selector": {"app": "db"}}}), None)
            .is_empty());
        assert!(check(
            j!({"metadata": {"name": "x"}, "spec": {"type": "ExternalName", "externalName": "db.example.com."}}),
            None
        )
        .is_empty());
        assert!(check(j!({"metadata": {"name": "n"}, "spec": {"type": "NodePort", "ports": [{"name": "http", "port": 80, "nodePort": 30080}, {"name": "https", "port": 443}]}}), None).is_empty());
    }

    #[test]
    fn port_rules() {
        let svc = j!({"metadata": {"name": "s"}, "spec": {"ports": [
            {"port": 80}, {"name": "Bad_Name", "port": 0, "protocol": "ICMP"}, {"name": "b", "port": 81, "targetPort": "not-a-valid-port-name"}, {"name": "b", "port": 80, "nodePort": 30001}
        ]}});
        assert_eq!(
            check(svc, None),
            vec![
                "spec.ports[0].name: Required value",
                "spec.ports[1].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                "spec.ports[1].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[2].targetPort: Invalid value: \"not-a-valid-port-name\": must be no more than 15 characters",
                "spec.ports[3].name: Duplicate value: \"b\"",
                "spec.ports[3].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
                "spec.ports[3]: Duplicate value: {\"port\":80,\"protocol\":\"TCP\"}"
            ]
        );
        assert_eq!(check(j!({"metadata": {"name": "s"}, "spec": {}}), None), vec!["spec.ports: Required value"]);
    }

    #[test]
    fn type_and_node_port_rules() {
        assert_eq!(
            check(j!({"metadata": {"name": "s"}, "spec": {"type": "Magic", "ports": [{"port": 80}]}}), None),
            vec!["spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""]
        );
        assert_eq!(
            check(j!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}}), None),
            vec!["spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"]
        );
        assert_eq!(
            check(
                j!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "clusterIP": "None", "ports": [{"port": 80}]}}),
                None
            ),
            vec!["spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"]
        );
        assert_eq!(
            check(j!({"metadata": {"name": "s"}, "spec": {"type": "ExternalName", "externalName": "Bad_Host", "clusterIP": "10.0.0.1"}}), None).iter().map(|m| m.split(':').next().unwrap_or_default().to_string()).collect::<Vec<_>>(),
            vec!["spec.clusterIPs", "spec.externalName"]
        );
        assert_eq!(
            check(j!({"metadata": {"name": "s"}, "spec": {"selector": {"bad key": "v"}, "clusterIP": "10.0.0.300", "ports": [{"port": 80}], "sessionAffinity": "Sticky"}}), None).iter().map(|m| m.split(':').next().unwrap_or_default().to_string()).collect::<Vec<_>>(),
            vec!["spec.selector", "spec.sessionAffinity", "spec.clusterIPs[0]"]
        );
    }

    #[test]
    fn cluster_ips_are_immutable_once_set() {
        let mut old = web();
        old["spec"]["clusterIP"] = j!("10.96.0.20");
        let mut new = old.clone();
        new["spec"]["clusterIP"] = j!("10.96.0.21");
        new["spec"]["clusterIPs"] = j!(["10.96.0.21"]);
        assert_eq!(
            check(new, Some(old.clone())),
            vec!["spec.clusterIPs[0]: Invalid value: [\"10.96.0.21\"]: may not change once set"]
        );
        assert!(check(old.clone(), Some(old.clone())).is_empty());
        let to_external =
            j!({"metadata": {"name": "web"}, "spec": {"type": "ExternalName", "externalName": "web.example.com"}});
        assert!(check(to_external, Some(old)).is_empty());
    }

    #[test]
    fn update_keeps_allocated_values() {
        let mut old = defaulted(
            j!({"metadata": {"name": "n"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.5", "ports": [{"port": 80, "nodePort": 30100}]}}),
        );
        old["spec"]["ipFamilies"] = j!(["IPv4"]);
        let mut new = defaulted(j!({"metadata": {"name": "n"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}));
        prepare_update_builtin("", "Service", &mut new, &old);
        assert_eq!(new["spec"]["clusterIP"], "10.96.0.5");
        assert_eq!(new["spec"]["clusterIPs"], j!(["10.96.0.5"]));
        assert_eq!(new["spec"]["ports"][0]["nodePort"], 30100);
        assert!(validate_builtin("", "Service", &new, Some(&old)).is_empty());
    }

    #[test]
    fn switching_type_drops_what_the_old_type_needed() {
        let old = defaulted(
            j!({"metadata": {"name": "n"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.5", "ports": [{"port": 80, "nodePort": 30100}]}}),
        );
        let mut to_external = old.clone();
        to_external["spec"]["type"] = j!("ExternalName");
        to_external["spec"]["externalName"] = j!("db.example.com");
        prepare_update_builtin("", "Service", &mut to_external, &old);
        assert!(to_external["spec"].get("clusterIP").is_none());
        assert!(to_external["spec"].get("externalTrafficPolicy").is_none());
        assert!(to_external["spec"]["ports"][0].get("nodePort").is_none());
        let errs: Vec<String> =
            validate_builtin("", "Service", &to_external, Some(&old)).iter().map(FieldError::message).collect();
        assert_eq!(errs, Vec::<String>::new());
    }
}

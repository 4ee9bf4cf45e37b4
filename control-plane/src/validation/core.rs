//! Core (`v1`) kinds other than Service and storage: Namespace, Pod, Endpoints, ConfigMap,
//! Secret, ServiceAccount, Node, Event, ResourceQuota, LimitRange, PodTemplate,
//! ReplicationController.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, EndpointAddress, EndpointPort, Endpoints, Event, LimitRange, LimitRangeItem, Namespace, NamespaceStatus,
    Node, Pod, PodSpec, PodTemplate, ReplicationController, ReplicationControllerSpec, ResourceQuota, Secret,
    ServiceAccount, Taint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::ByteString;
use serde_json::Value;

use super::common::{self, json};
use super::field_error::FieldError;
use super::names;
use super::path::FieldPath;
use super::pod;
use super::quantity::parse_quantity;
use super::Builtin;

/// ConfigMaps and Secrets hold at most 1 MiB of data.
const MAX_DATA_SIZE: usize = 1024 * 1024;
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const IMMUTABLE_WHEN_SET: &str = "field is immutable when `immutable` is set";

impl Builtin for Namespace {
    fn set_defaults(&mut self) {
        if let Some(name) = self.metadata.name.clone().filter(|n| !n.is_empty()) {
            let labels = self.metadata.labels.get_or_insert_with(BTreeMap::new);
            labels.insert("kubernetes.io/metadata.name".to_string(), name);
        }
        let status = self.status.get_or_insert_with(NamespaceStatus::default);
        if status.phase.as_deref().is_none_or(str::is_empty) {
            status.phase = Some("Active".to_string());
        }
    }

    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        let path = FieldPath::new("spec").child("finalizers");
        let finalizers = self.spec.as_ref().and_then(|s| s.finalizers.as_deref()).unwrap_or_default();
        finalizers.iter().flat_map(|f| kube_finalizer_name(f, &path)).collect()
    }
}

/// Finalizer names without a domain must be one of Kubernetes' own.
fn kube_finalizer_name(name: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = common::qualified_name(name, path);
    if errs.is_empty() && !name.contains('/') && name != "kubernetes" {
        errs.push(FieldError::invalid(
            path,
            name,
            "name is neither a standard finalizer name nor is it fully qualified",
        ));
    }
    errs
}

impl Builtin for Pod {
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(PodSpec::default);
        pod::default_pod_spec(spec);
        pod::default_pod_only(spec);
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let empty = PodSpec::default();
        let spec = self.spec.as_ref().unwrap_or(&empty);
        let path = FieldPath::new("spec");
        let mut errs = pod::validate_pod_spec(spec, &path);
        match old {
            None if spec.ephemeral_containers.as_ref().is_some_and(|e| !e.is_empty()) => {
                errs.push(FieldError::forbidden(path.child("ephemeralContainers"), "cannot be set on create"));
            }
            None => {}
            Some(old) => errs.extend(pod::validate_pod_spec_update(spec, old.spec.as_ref().unwrap_or(&empty), &path)),
        }
        errs
    }
}

impl Builtin for Endpoints {
    fn set_defaults(&mut self) {
        let ports = self.subsets.iter_mut().flatten().flat_map(|s| s.ports.iter_mut().flatten());
        for port in ports {
            if port.protocol.as_deref().is_none_or(str::is_empty) {
                port.protocol = Some("TCP".to_string());
            }
        }
    }

    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        for (i, subset) in self.subsets.iter().flatten().enumerate() {
            let path = FieldPath::new("subsets").index(i);
            let addresses = subset.addresses.as_deref().unwrap_or_default();
            let not_ready = subset.not_ready_addresses.as_deref().unwrap_or_default();
            if addresses.is_empty() && not_ready.is_empty() {
                errs.push(FieldError::required(&path, "must specify `addresses` or `notReadyAddresses`"));
            }
            for (j, address) in addresses.iter().enumerate() {
                errs.extend(endpoint_address(address, &path.child("addresses").index(j)));
            }
            for (j, address) in not_ready.iter().enumerate() {
                errs.extend(endpoint_address(address, &path.child("notReadyAddresses").index(j)));
            }
            let ports = subset.ports.as_deref().unwrap_or_default();
            for (j, port) in ports.iter().enumerate() {
                errs.extend(endpoint_port(port, ports.len() > 1, &path.child("ports").index(j)));
            }
        }
        errs
    }
}

fn endpoint_address(address: &EndpointAddress, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = common::ip_address(&address.ip, &path.child("ip"));
    if let Some(hostname) = address.hostname.as_deref().filter(|h| !h.is_empty()) {
        errs.extend(common::dns1123_label(hostname, &path.child("hostname")));
    }
    if let Some(node) = address.node_name.as_deref().filter(|n| !n.is_empty()) {
        errs.extend(common::dns1123_subdomain(node, &path.child("nodeName")));
    }
    errs
}

fn endpoint_port(port: &EndpointPort, name_required: bool, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match port.name.as_deref().unwrap_or_default() {
        "" if name_required => errs.push(FieldError::required(path.child("name"), "")),
        "" => {}
        name => errs.extend(common::dns1123_label(name, &path.child("name"))),
    }
    errs.extend(common::invalid_each(&path.child("port"), port.port, names::is_valid_port_num(i64::from(port.port))));
    errs.extend(common::enum_value(port.protocol.as_deref(), &path.child("protocol"), PROTOCOLS, true));
    if let Some(app_protocol) = &port.app_protocol {
        errs.extend(common::qualified_name(app_protocol, &path.child("appProtocol")));
    }
    errs
}

impl Builtin for ConfigMap {
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let data = self.data.clone().unwrap_or_default();
        let binary = self.binary_data.clone().unwrap_or_default();
        let mut errs = Vec::new();
        let mut total = 0;
        for (key, value) in &data {
            let path = FieldPath::new("data").key(key);
            errs.extend(common::invalid_each(&path, key.as_str(), names::is_config_map_key(key)));
            if binary.contains_key(key) {
                errs.push(FieldError::invalid(&path, key.as_str(), "duplicate of key present in binaryData"));
            }
            total += value.len();
        }
        for (key, value) in &binary {
            let path = FieldPath::new("binaryData").key(key);
            errs.extend(common::invalid_each(&path, key.as_str(), names::is_config_map_key(key)));
            if data.contains_key(key) {
                errs.push(FieldError::invalid(&path, key.as_str(), "duplicate of key present in data"));
            }
            total += value.0.len();
        }
        if total > MAX_DATA_SIZE {
            errs.push(common::too_long(&FieldPath::new(""), MAX_DATA_SIZE));
        }
        if let Some(old) = old.filter(|o| o.immutable == Some(true)) {
            let fields = [
                ("data", json(&self.data), json(&old.data)),
                ("binaryData", json(&self.binary_data), json(&old.binary_data)),
            ];
            errs.extend(immutable_data(self.immutable, &fields));
        }
        errs
    }
}

/// Once `immutable: true` is stored, neither it nor the data may change.
fn immutable_data(new_flag: Option<bool>, fields: &[(&str, Value, Value)]) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if new_flag != Some(true) {
        errs.push(FieldError::forbidden("immutable", IMMUTABLE_WHEN_SET));
    }
    for (field, new, old) in fields {
        if !common::semantic_eq(new, old) {
            errs.push(FieldError::forbidden(*field, IMMUTABLE_WHEN_SET));
        }
    }
    errs
}

impl Builtin for Secret {
    /// `stringData` is write-only: it is merged into `data` (as the v1 conversion does).
    fn set_defaults(&mut self) {
        if self.type_.as_deref().is_none_or(str::is_empty) {
            self.type_ = Some("Opaque".to_string());
        }
        if let Some(string_data) = self.string_data.take() {
            let data = self.data.get_or_insert_with(BTreeMap::new);
            for (key, value) in string_data {
                data.insert(key, ByteString(value.into_bytes()));
            }
        }
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let data_path = FieldPath::new("data");
        let data = self.data.clone().unwrap_or_default();
        let mut errs = Vec::new();
        let mut total = 0;
        for (key, value) in &data {
            errs.extend(common::invalid_each(&data_path.key(key), key.as_str(), names::is_config_map_key(key)));
            total += value.0.len();
        }
        if total > MAX_DATA_SIZE {
            errs.push(common::too_long(&data_path, MAX_DATA_SIZE));
        }
        errs.extend(secret_type_rules(self, &data));
        if let Some(old) = old {
            errs.extend(common::immutable(&self.type_, &old.type_, &FieldPath::new("type")));
            if old.immutable == Some(true) {
                errs.extend(immutable_data(self.immutable, &[("data", json(&self.data), json(&old.data))]));
            }
        }
        errs
    }
}

/// Keys each well-known Secret type must carry.
fn secret_type_rules(secret: &Secret, data: &BTreeMap<String, ByteString>) -> Vec<FieldError> {
    let data_path = FieldPath::new("data");
    let required = |key: &str| FieldError::required(data_path.key(key), "");
    match secret.type_.as_deref().unwrap_or_default() {
        "kubernetes.io/service-account-token" => {
            let annotations = secret.metadata.annotations.as_ref();
            let name = annotations.and_then(|a| a.get("kubernetes.io/service-account.name"));
            if name.is_none_or(|n| n.is_empty()) {
                let path = FieldPath::new("metadata").child("annotations").key("kubernetes.io/service-account.name");
                return vec![FieldError::required(path, "")];
            }
            Vec::new()
        }
        "kubernetes.io/dockercfg" => json_key(data, ".dockercfg", &data_path),
        "kubernetes.io/dockerconfigjson" => json_key(data, ".dockerconfigjson", &data_path),
        "kubernetes.io/basic-auth" if !data.contains_key("username") && !data.contains_key("password") => {
            vec![required("username"), required("password")]
        }
        "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(|v| v.0.is_empty()) => {
            vec![required("ssh-privatekey")]
        }
        "kubernetes.io/tls" => {
            ["tls.crt", "tls.key"].into_iter().filter(|k| !data.contains_key(*k)).map(required).collect()
        }
        _ => Vec::new(),
    }
}

/// A key that must be present and hold a JSON object.
fn json_key(data: &BTreeMap<String, ByteString>, key: &str, data_path: &FieldPath) -> Vec<FieldError> {
    let Some(bytes) = data.get(key) else {
        return vec![FieldError::required(data_path.key(key), "")];
    };
    match serde_json::from_slice::<serde_json::Map<String, Value>>(&bytes.0) {
        Ok(_) => Vec::new(),
        Err(e) => vec![FieldError::invalid(data_path.key(key), "<secret contents redacted>", e.to_string())],
    }
}

impl Builtin for ServiceAccount {}

impl Builtin for Node {
    fn set_defaults(&mut self) {
        if let Some(status) = &mut self.status {
            if status.allocatable.is_none() {
                status.allocatable.clone_from(&status.capacity);
            }
        }
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let spec = self.spec.clone().unwrap_or_default();
        let spec_path = FieldPath::new("spec");
        let mut errs = node_taints(spec.taints.as_deref().unwrap_or_default(), &spec_path.child("taints"));
        errs.extend(pod_cidrs(spec.pod_cidrs.as_deref().unwrap_or_default(), &spec_path.child("podCIDRs")));
        let status = self.status.clone().unwrap_or_default();
        for (field, list) in [("capacity", &status.capacity), ("allocatable", &status.allocatable)] {
            for (name, value) in list.iter().flatten() {
                errs.extend(common::quantity_value(value, &FieldPath::new("status").child(field).child(name)));
            }
        }
        if let Some(old) = old {
            errs.extend(node_update(&spec, &old.spec.clone().unwrap_or_default(), &spec_path));
        }
        errs
    }
}

fn node_taints(taints: &[Taint], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for (i, taint) in taints.iter().enumerate() {
        let taint_path = path.index(i);
        errs.extend(common::qualified_name(&taint.key, &taint_path.child("key")));
        let value = taint.value.as_deref().unwrap_or_default();
        let messages = names::is_valid_label_value(value);
        if !messages.is_empty() {
            errs.push(FieldError::invalid(taint_path.child("value"), value, messages.join(";")));
        }
        let effects = ["NoSchedule", "PreferNoSchedule", "NoExecute"];
        errs.extend(common::enum_value(Some(&taint.effect), &taint_path.child("effect"), &effects, true));
        let pair = (taint.key.as_str(), taint.effect.as_str());
        if seen.contains(&pair) {
            let mut dup = FieldError::duplicate(&taint_path, json(taint));
            dup.detail = "taints must be unique by key and effect pair".to_string();
            errs.push(dup);
        } else {
            seen.push(pair);
        }
    }
    errs
}

/// Each a CIDR; two at most, one per family (`ValidateDualStackCIDRs`).
fn pod_cidrs(cidrs: &[String], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, cidr) in cidrs.iter().enumerate() {
        errs.extend(common::cidr(cidr, &path.index(i)));
    }
    if cidrs.len() > 2 {
        errs.push(FieldError::invalid(path, json(cidrs), "may specify no more than one CIDR for each IP family"));
    } else if let [a, b] = cidrs {
        let is_v6 = |c: &String| common::parse_cidr(c).map(|(ip, _)| ip.is_ipv6());
        if is_v6(a).is_some() && is_v6(a) == is_v6(b) {
            errs.push(FieldError::invalid(path, json(cidrs), "may specify no more than one CIDR for each IP family"));
        }
    }
    errs
}

/// podCIDRs are set once. Unlike upstream (which never lets them change), a
/// single-stack node may gain the other family's block when the cluster
/// turns dual-stack, so nodes need not be re-created for it.
fn pod_cidrs_update(new: &[String], old: &[String]) -> bool {
    old.is_empty() || new == old || (old.len() == 1 && new.len() == 2 && new[0] == old[0])
}

fn node_update(
    new: &k8s_openapi::api::core::v1::NodeSpec,
    old: &k8s_openapi::api::core::v1::NodeSpec,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let old_cidrs = old.pod_cidrs.as_deref().unwrap_or_default();
    if !pod_cidrs_update(new.pod_cidrs.as_deref().unwrap_or_default(), old_cidrs) {
        errs.push(FieldError::forbidden(
            path.child("podCIDRs"),
            "node updates may not change podCIDR except from \"\" to valid",
        ));
    }
    let old_provider = old.provider_id.as_deref().unwrap_or_default();
    if !old_provider.is_empty() && new.provider_id.as_deref().unwrap_or_default() != old_provider {
        errs.push(FieldError::forbidden(
            path.child("providerID"),
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    errs
}

impl Builtin for Event {
    /// The legacy (`v1`) Event rules: namespaces must agree, and events with an `eventTime`
    /// need their reporting fields.
    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        let namespace = self.metadata.namespace.as_deref().unwrap_or_default();
        let involved_namespace = self.involved_object.namespace.as_deref().unwrap_or_default();
        let mut errs = Vec::new();
        let mismatch = if self.event_time.is_none() {
            if involved_namespace.is_empty() {
                !matches!(namespace, "" | "default")
            } else {
                namespace != involved_namespace
            }
        } else {
            involved_namespace.is_empty() && !matches!(namespace, "default" | "kube-system")
        };
        if mismatch {
            let path = FieldPath::new("involvedObject").child("namespace");
            errs.push(FieldError::invalid(path, involved_namespace, "does not match event.namespace"));
        }
        if self.event_time.is_some() {
            errs.extend(reporting_fields(self));
        }
        errs
    }
}

fn reporting_fields(event: &Event) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let component = event.reporting_component.as_deref().unwrap_or_default();
    if component.is_empty() {
        errs.push(FieldError::required("reportingComponent", ""));
    }
    errs.extend(common::qualified_name(component, &FieldPath::new("reportingComponent")));
    let limited = [
        ("reportingInstance", event.reporting_instance.as_deref(), 128, true),
        ("action", event.action.as_deref(), 128, true),
        ("reason", event.reason.as_deref(), 128, true),
        ("message", event.message.as_deref(), 1024, false),
    ];
    errs.extend(common::limited_fields(&limited));
    errs
}

impl Builtin for ResourceQuota {
    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        let spec = self.spec.clone().unwrap_or_default();
        let path = FieldPath::new("spec");
        let mut errs = Vec::new();
        for (name, value) in spec.hard.iter().flatten() {
            let entry = path.child("hard").key(name);
            errs.extend(common::qualified_name(name, &entry));
            if !name.contains('/') && !is_standard_quota_resource(name) {
                errs.push(FieldError::invalid(&entry, name.as_str(), "must be a standard resource for quota"));
            }
            errs.extend(common::quantity_value(value, &entry));
        }
        let scopes = [
            "BestEffort",
            "CrossNamespacePodAffinity",
            "NotBestEffort",
            "NotTerminating",
            "PriorityClass",
            "Terminating",
            "VolumeAttributesClass",
        ];
        for (i, scope) in spec.scopes.iter().flatten().enumerate() {
            errs.extend(common::enum_value(Some(scope), &path.child("scopes").index(i), &scopes, true));
        }
        errs
    }
}

fn is_standard_quota_resource(name: &str) -> bool {
    const STANDARD: &[&str] = &[
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
        "cpu",
        "memory",
        "ephemeral-storage",
        "storage",
        "requests.cpu",
        "requests.memory",
        "requests.storage",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
    ];
    STANDARD.contains(&name) || name.starts_with("hugepages-") || name.starts_with("requests.hugepages-")
}

impl Builtin for LimitRange {
    fn set_defaults(&mut self) {
        for item in self.spec.iter_mut().flat_map(|s| s.limits.iter_mut()) {
            default_limit_range_item(item);
        }
    }

    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let mut types_seen = Vec::new();
        for (i, item) in self.spec.iter().flat_map(|s| s.limits.iter()).enumerate() {
            let path = FieldPath::new("spec").child("limits").index(i);
            errs.extend(limit_type(&item.type_, &path.child("type")));
            if types_seen.contains(&item.type_) {
                errs.push(FieldError::duplicate(path.child("type"), item.type_.as_str()));
            }
            types_seen.push(item.type_.clone());
            errs.extend(limit_range_item(item, &path));
        }
        errs
    }
}

/// For containers: the default limit comes from max, the default request from the default
/// limit, then from min.
fn default_limit_range_item(item: &mut LimitRangeItem) {
    if item.type_ != "Container" {
        return;
    }
    let default = item.default.get_or_insert_with(BTreeMap::new);
    for (name, value) in item.max.iter().flatten() {
        default.entry(name.clone()).or_insert_with(|| value.clone());
    }
    let request = item.default_request.get_or_insert_with(BTreeMap::new);
    for (name, value) in default.iter().chain(item.min.iter().flatten()) {
        request.entry(name.clone()).or_insert_with(|| value.clone());
    }
}

fn limit_type(value: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = common::qualified_name(value, path);
    if !value.contains('/') && !matches!(value, "Pod" | "Container" | "PersistentVolumeClaim") {
        errs.push(FieldError::invalid(path, value, "must be a standard limit type or fully qualified"));
    }
    errs
}

fn limit_range_item(item: &LimitRangeItem, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let maps = [
        ("max", &item.max),
        ("min", &item.min),
        ("default", &item.default),
        ("defaultRequest", &item.default_request),
        ("maxLimitRequestRatio", &item.max_limit_request_ratio),
    ];
    for (field, map) in maps {
        for (name, value) in map.iter().flatten() {
            errs.extend(common::qualified_name(name, &path.child(field).key(name)));
            errs.extend(common::quantity_value(value, &path.child(field).key(name)));
        }
    }
    if item.type_ == "Pod" {
        for (field, map) in [("default", &item.default), ("defaultRequest", &item.default_request)] {
            if map.as_ref().is_some_and(|m| !m.is_empty()) {
                errs.push(FieldError::forbidden(path.child(field), "may not be specified when `type` is 'Pod'"));
            }
        }
    }
    errs.extend(limit_ordering(item, path));
    errs
}

/// min <= defaultRequest <= default <= max, and ratios of at least 1.
fn limit_ordering(item: &LimitRangeItem, path: &FieldPath) -> Vec<FieldError> {
    let empty = BTreeMap::new();
    let get = |map: &Option<BTreeMap<String, Quantity>>, name: &str| -> Option<Quantity> {
        map.as_ref().unwrap_or(&empty).get(name).cloned()
    };
    let mut names: Vec<&String> = [&item.max, &item.min, &item.default, &item.default_request]
        .into_iter()
        .flat_map(|m| m.iter().flatten().map(|(k, _)| k))
        .collect();
    names.sort();
    names.dedup();
    let mut errs = Vec::new();
    for name in names {
        // Each bound once, as (field name, value); the table below pairs them up.
        let min = ("min", get(&item.min, name));
        let max = ("max", get(&item.max, name));
        let default_request = ("defaultRequest", get(&item.default_request, name));
        let default = ("default", get(&item.default, name));
        let pairs = [
            (&min, &max, "min value {a} is greater than max value {b}"),
            (&min, &default_request, "min value {a} is greater than default request value {b}"),
            (&default_request, &max, "default request value {a} is greater than max value {b}"),
            (&default_request, &default, "default request value {a} is greater than default limit value {b}"),
            (&min, &default, "min value {a} is greater than default value {b}"),
            (&default, &max, "default value {a} is greater than max value {b}"),
        ];
        for ((low_field, low), (_, high), template) in pairs {
            let (Some(low), Some(high)) = (low, high) else { continue };
            let (Some(l), Some(h)) = (parse_quantity(&low.0), parse_quantity(&high.0)) else { continue };
            if l.compare(&h).is_gt() {
                let msg = template.replace("{a}", &low.0).replace("{b}", &high.0);
                errs.push(FieldError::invalid(path.child(low_field).key(name), low.0.as_str(), msg));
            }
        }
    }
    let one = parse_quantity("1");
    for (name, ratio) in item.max_limit_request_ratio.iter().flatten() {
        let below_one = parse_quantity(&ratio.0).zip(one).is_some_and(|(r, o)| r.compare(&o).is_lt());
        if below_one {
            let msg = format!("ratio {} is less than 1", ratio.0);
            errs.push(FieldError::invalid(path.child("maxLimitRequestRatio").key(name), ratio.0.as_str(), msg));
        }
    }
    errs
}

impl Builtin for PodTemplate {
    fn set_defaults(&mut self) {
        pod::default_pod_template(self.template.get_or_insert_with(Default::default));
    }

    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        pod::validate_pod_template(&self.template.clone().unwrap_or_default(), &FieldPath::new("template"))
    }
}

impl Builtin for ReplicationController {
    /// Selector and labels default to the template's labels; replicas to 1.
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(ReplicationControllerSpec::default);
        let template_labels = spec.template.as_ref().and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.clone());
        if let Some(labels) = template_labels {
            if spec.selector.as_ref().is_none_or(|s| s.is_empty()) {
                spec.selector = Some(labels.clone());
            }
            if self.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
                self.metadata.labels = Some(labels);
            }
        }
        spec.replicas.get_or_insert(1);
        if let Some(template) = &mut spec.template {
            pod::default_pod_template(template);
        }
    }

    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        let spec = self.spec.clone().unwrap_or_default();
        let path = FieldPath::new("spec");
        let mut errs = common::non_negative_opt(spec.min_ready_seconds, &path.child("minReadySeconds"));
        let selector = spec.selector.clone().unwrap_or_default();
        if selector.is_empty() {
            errs.push(FieldError::required(path.child("selector"), ""));
        }
        errs.extend(common::non_negative_opt(spec.replicas, &path.child("replicas")));
        errs.extend(rc_template(&spec, &selector, &path.child("template")));
        errs
    }
}

fn rc_template(
    spec: &ReplicationControllerSpec,
    selector: &BTreeMap<String, String>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let Some(template) = &spec.template else {
        return vec![FieldError::required(path, "")];
    };
    let labels = template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
    let mut errs = Vec::new();
    if !selector.is_empty() && !selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
        let labels_path = path.child("metadata").child("labels");
        errs.push(FieldError::invalid(labels_path, json(&labels), "`selector` does not match template `labels`"));
    }
    errs.extend(pod::validate_pod_template(template, path));
    errs.extend(workload_template_rules(template.spec.as_ref(), path, "ReplicationController"));
    errs
}

/// Controllers that keep pods running need `restartPolicy: Always` and no deadline.
pub fn workload_template_rules(spec: Option<&PodSpec>, template_path: &FieldPath, kind: &str) -> Vec<FieldError> {
    let spec_path = template_path.child("spec");
    let mut errs = Vec::new();
    let policy = spec.and_then(|s| s.restart_policy.as_deref()).unwrap_or_default();
    if policy != "Always" {
        errs.push(FieldError::not_supported(spec_path.child("restartPolicy"), policy, &["Always"]));
    }
    if let Some(deadline) = spec.and_then(|s| s.active_deadline_seconds) {
        let deadline_path = spec_path.child("activeDeadlineSeconds");
        let msg = format!("activeDeadlineSeconds in {kind} is not Supported");
        // Kubernetes reports this as Forbidden for some kinds and Invalid for others.
        errs.push(match kind {
            "ReplicationController" | "StatefulSet" => FieldError::forbidden(deadline_path, msg),
            _ => FieldError::invalid(deadline_path, deadline, msg),
        });
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::{default_builtin, validate_builtin};
    use serde_json::json as j;

    fn check(kind: &str, mut obj: Value, old: Option<Value>) -> Vec<String> {
        default_builtin("", kind, &mut obj);
        let old = old.map(|mut o| {
            default_builtin("", kind, &mut o);
            o
        });
        validate_builtin("", kind, &obj, old.as_ref()).iter().map(FieldError::message).collect()
    }

    fn defaulted(kind: &str, mut obj: Value) -> Value {
        default_builtin("", kind, &mut obj);
        obj
    }

    #[test]
    fn namespace_defaults_and_finalizers() {
        let ns = defaulted("Namespace", j!({"metadata": {"name": "team-a"}}));
        assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "team-a");
        assert_eq!(ns["status"]["phase"], "Active");
        assert!(check("Namespace", j!({"metadata": {"name": "a"}, "spec": {"finalizers": ["kubernetes"]}}), None)
            .is_empty());
        assert_eq!(
            check("Namespace", j!({"metadata": {"name": "a"}, "spec": {"finalizers": ["custom"]}}), None),
            vec!["spec.finalizers: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified"]
        );
    }

    #[test]
    fn pod_defaults_and_rules() {
        let pod = j!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]}});
        let defaulted_pod = defaulted("Pod", pod.clone());
        assert_eq!(defaulted_pod["spec"]["enableServiceLinks"], true);
        assert_eq!(defaulted_pod["spec"]["restartPolicy"], "Always");
        assert!(check("Pod", pod.clone(), None).is_empty());
        let mut with_debug = pod.clone();
        with_debug["spec"]["ephemeralContainers"] = j!([{"name": "dbg", "image": "busybox"}]);
        assert_eq!(
            check("Pod", with_debug, None),
            vec!["spec.ephemeralContainers: Forbidden: cannot be set on create"]
        );
        let mut changed = pod.clone();
        changed["spec"]["containers"][0]["image"] = j!("busybox:1.37");
        assert!(check("Pod", changed.clone(), Some(pod.clone())).is_empty());
        changed["spec"]["containers"][0]["command"] = j!(["sh"]);
        let errs = check("Pod", changed, Some(pod));
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("spec: Forbidden: pod updates may not change fields other than"));
    }

    #[test]
    fn endpoints() {
        let ok =
            j!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]});
        assert_eq!(defaulted("Endpoints", ok.clone())["subsets"][0]["ports"][0]["protocol"], "TCP");
        assert!(check("Endpoints", ok, None).is_empty());
        let bad = j!({"metadata": {"name": "e"}, "subsets": [{"ports": [{"port": 0}, {"name": "b", "port": 81, "protocol": "X"}]}, {"addresses": [{"ip": "nope"}]}]});
        assert_eq!(
            check("Endpoints", bad, None),
            vec![
                "subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`",
                "subsets[0].ports[0].name: Required value",
                "subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "subsets[0].ports[1].protocol: Unsupported value: \"X\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                "subsets[1].addresses[0].ip: Invalid value: \"nope\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
            ]
        );
    }

    #[test]
    fn config_maps() {
        let ok =
            j!({"metadata": {"name": "c"}, "data": {"app.properties": "a=b"}, "binaryData": {"logo.png": "iVBORw=="}});
        assert!(check("ConfigMap", ok.clone(), None).is_empty());
        let bad = j!({"metadata": {"name": "c"}, "data": {"bad key": "x", "dup": "y", "big": "x".repeat(MAX_DATA_SIZE)}, "binaryData": {"dup": ""}});
        assert_eq!(
            check("ConfigMap", bad, None)
                .iter()
                .map(|m| m.split(':').next().unwrap_or_default().to_string())
                .collect::<Vec<_>>(),
            vec!["data[bad key]", "data[dup]", "binaryData[dup]", ""]
        );
        let frozen = j!({"metadata": {"name": "c"}, "data": {"a": "1"}, "immutable": true});
        let edited = j!({"metadata": {"name": "c"}, "data": {"a": "2"}});
        assert_eq!(
            check("ConfigMap", edited, Some(frozen.clone())),
            vec![
                "immutable: Forbidden: field is immutable when `immutable` is set",
                "data: Forbidden: field is immutable when `immutable` is set"
            ]
        );
        assert!(check("ConfigMap", frozen.clone(), Some(frozen)).is_empty());
    }

    #[test]
    fn secrets() {
        let secret = defaulted("Secret", j!({"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}}));
        assert_eq!(secret["type"], "Opaque");
        assert_eq!(secret["data"]["password"], "aHVudGVyMg==");
        assert!(secret.get("stringData").is_none());
        assert_eq!(
            check(
                "Secret",
                j!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": ""}}),
                None
            ),
            vec!["data[tls.key]: Required value"]
        );
        assert_eq!(
            check("Secret", j!({"metadata": {"name": "s"}, "type": "kubernetes.io/service-account-token"}), None),
            vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"]
        );
        assert_eq!(
            check("Secret", j!({"metadata": {"name": "s"}, "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "bm90IGpzb24="}}), None).len(),
            1
        );
        let old = j!({"metadata": {"name": "s"}, "data": {"a": "YQ=="}});
        let new = j!({"metadata": {"name": "s"}, "type": "kubernetes.io/basic-auth", "data": {"a": "YQ=="}});
        assert_eq!(
            check("Secret", new, Some(old)),
            vec![
                "data[username]: Required value",
                "data[password]: Required value",
                "type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"
            ]
        );
    }

    #[test]
    fn nodes() {
        let node = j!({"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.244.0.0/24"], "taints": [{"key": "a", "effect": "NoSchedule"}]}, "status": {"capacity": {"cpu": "4"}}});
        assert_eq!(defaulted("Node", node.clone())["status"]["allocatable"]["cpu"], "4");
        assert!(check("Node", node.clone(), None).is_empty());
        let bad = j!({"metadata": {"name": "n1"}, "spec": {"podCIDRs": ["10.245.0.0/33"], "taints": [{"key": "a", "effect": "Sometimes"}, {"key": "b", "effect": "NoSchedule"}, {"key": "b", "effect": "NoSchedule"}]}});
        assert_eq!(
            check("Node", bad, Some(node)),
            vec![
                "spec.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                "spec.taints[2]: Duplicate value: {\"effect\":\"NoSchedule\",\"key\":\"b\"}: taints must be unique by key and effect pair",
                "spec.podCIDRs[0]: Invalid value: \"10.245.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid"
            ]
        );
    }

    #[test]
    fn node_pod_cidrs_are_one_per_family_and_may_only_gain_the_other_family() {
        let node = |cidrs: &[&str]| j!({"metadata": {"name": "n1"}, "spec": {"podCIDRs": cidrs}});
        let v4 = node(&["10.244.0.0/24"]);
        let dual = node(&["10.244.0.0/24", "fd00:10:244::/64"]);
        assert!(check("Node", dual.clone(), None).is_empty());
        assert!(check("Node", dual.clone(), Some(v4.clone())).is_empty(), "the missing family may be added");
        let forbidden = "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid";
        assert_eq!(check("Node", v4.clone(), Some(dual.clone())), vec![forbidden]);
        assert_eq!(check("Node", node(&["fd00:10:244::/64", "10.244.0.0/24"]), Some(v4.clone())), vec![forbidden]);
        assert_eq!(
            check("Node", node(&["10.244.0.0/24", "10.245.0.0/24"]), None),
            vec!["spec.podCIDRs: Invalid value: [\"10.244.0.0/24\",\"10.245.0.0/24\"]: may specify no more than one CIDR for each IP family"]
        );
    }

    #[test]
    fn events() {
        let ok = j!({"metadata": {"name": "pod.1", "namespace": "default"}, "involvedObject": {"kind": "Pod", "namespace": "default", "name": "p"}, "reason": "Started"});
        assert!(check("Event", ok, None).is_empty());
        let bad = j!({"metadata": {"name": "e", "namespace": "default"}, "involvedObject": {"namespace": "other"}});
        assert_eq!(
            check("Event", bad, None),
            vec!["involvedObject.namespace: Invalid value: \"other\": does not match event.namespace"]
        );
        let new_style = j!({"metadata": {"name": "e", "namespace": "default"}, "involvedObject": {"namespace": "default"}, "eventTime": "2024-01-01T00:00:00.000000Z"});
        assert_eq!(
            check("Event", new_style, None),
            vec![
                "reportingComponent: Required value",
                "reportingComponent: Invalid value: \"\": name part must be non-empty",
                "reportingComponent: Invalid value: \"\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
                "reportingInstance: Required value",
                "action: Required value",
                "reason: Required value"
            ]
        );
    }

    #[test]
    fn quotas_and_limit_ranges() {
        let quota = j!({"metadata": {"name": "q"}, "spec": {"hard": {"pods": "10", "requests.cpu": "4", "bogus": "1", "memory": "-1Gi"}, "scopes": ["Forever"]}});
        assert_eq!(
            check("ResourceQuota", quota, None),
            vec![
                "spec.hard[bogus]: Invalid value: \"bogus\": must be a standard resource for quota",
                "spec.hard[memory]: Invalid value: \"-1Gi\": must be greater than or equal to 0",
                "spec.scopes[0]: Unsupported value: \"Forever\": supported values: \"BestEffort\", \"CrossNamespacePodAffinity\", \"NotBestEffort\", \"NotTerminating\", \"PriorityClass\", \"Terminating\", \"VolumeAttributesClass\""
            ]
        );
        let range = defaulted(
            "LimitRange",
            j!({"metadata": {"name": "l"}, "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}}]}}),
        );
        assert_eq!(range["spec"]["limits"][0]["default"], j!({"cpu": "2"}));
        assert_eq!(range["spec"]["limits"][0]["defaultRequest"], j!({"cpu": "2", "memory": "64Mi"}));
        assert!(check("LimitRange", range, None).is_empty());
        let bad = j!({"metadata": {"name": "l"}, "spec": {"limits": [{"type": "Pod", "default": {"cpu": "1"}, "min": {"cpu": "2"}, "max": {"cpu": "1"}}, {"type": "Pod"}]}});
        assert_eq!(
            check("LimitRange", bad, None),
            vec![
                "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'",
                "spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1",
                "spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than default value 1",
                "spec.limits[1].type: Duplicate value: \"Pod\""
            ]
        );
    }

    #[test]
    fn pod_templates_and_replication_controllers() {
        let template =
            j!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}});
        assert!(check("PodTemplate", j!({"metadata": {"name": "t"}, "template": template.clone()}), None).is_empty());
        assert_eq!(
            check("PodTemplate", j!({"metadata": {"name": "t"}}), None),
            vec!["template.spec.containers: Required value"]
        );
        let rc = defaulted(
            "ReplicationController",
            j!({"metadata": {"name": "rc"}, "spec": {"template": template.clone()}}),
        );
        assert_eq!(rc["spec"]["selector"], j!({"app": "web"}));
        assert_eq!(rc["metadata"]["labels"], j!({"app": "web"}));
        assert_eq!(rc["spec"]["replicas"], 1);
        assert!(check("ReplicationController", rc, None).is_empty());
        let mut bad_template = template.clone();
        bad_template["spec"]["restartPolicy"] = j!("Never");
        bad_template["spec"]["activeDeadlineSeconds"] = j!(10);
        let bad = j!({"metadata": {"name": "rc"}, "spec": {"replicas": -1, "selector": {"app": "db"}, "template": bad_template}});
        assert_eq!(
            check("ReplicationController", bad, None),
            vec![
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
                "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicationController is not Supported"
            ]
        );
    }
}

//! `networking.k8s.io/v1`: Ingress, IngressClass, NetworkPolicy.

use k8s_openapi::api::core::v1::TypedLocalObjectReference;
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, IPBlock, Ingress, IngressBackend, IngressClass, IngressClassParametersReference, IngressRule,
    IngressSpec, IngressTLS, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::common::{self, json};
use super::field_error::FieldError;
use super::names;
use super::path::FieldPath;
use super::Builtin;

const MAX_CONTROLLER_LEN: usize = 250;
const INVALID_PATH_SEQUENCES: &[&str] = &["//", "/./", "/../", "%2f", "%2F"];
const INVALID_PATH_SUFFIXES: &[&str] = &["/..", "/."];

// --- Ingress ---

impl Builtin for Ingress {
    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        validate_ingress_spec(&self.spec.clone().unwrap_or_default(), &FieldPath::new("spec"))
    }
}

fn validate_ingress_spec(spec: &IngressSpec, path: &FieldPath) -> Vec<FieldError> {
    let rules = spec.rules.as_deref().unwrap_or_default();
    let mut errs = Vec::new();
    if rules.is_empty() && spec.default_backend.is_none() {
        errs.push(FieldError::invalid(path, json(&spec.rules), "either `defaultBackend` or `rules` must be specified"));
    }
    if let Some(backend) = &spec.default_backend {
        errs.extend(validate_backend(backend, &path.child("defaultBackend")));
    }
    for (i, rule) in rules.iter().enumerate() {
        errs.extend(validate_rule(rule, &path.child("rules").index(i)));
    }
    for (i, tls) in spec.tls.iter().flatten().enumerate() {
        errs.extend(validate_tls(tls, &path.child("tls").index(i)));
    }
    if let Some(class) = &spec.ingress_class_name {
        errs.extend(common::dns1123_subdomain(class, &path.child("ingressClassName")));
    }
    errs
}

/// Hosts are DNS names, optionally with a leading `*.` wildcard, never IP addresses.
fn host_errors(host: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if common::parse_ip(host).is_some() {
        errs.push(FieldError::invalid(path, host, "must be a DNS name, not an IP address"));
    }
    let messages =
        if host.contains('*') { names::is_wildcard_dns1123_subdomain(host) } else { names::is_dns1123_subdomain(host) };
    errs.extend(common::invalid_each(path, host, messages));
    errs
}

fn validate_rule(rule: &IngressRule, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(host) = rule.host.as_deref().filter(|h| !h.is_empty()) {
        errs.extend(host_errors(host, &path.child("host")));
    }
    if let Some(http) = &rule.http {
        let paths_path = path.child("http").child("paths");
        if http.paths.is_empty() {
            errs.push(FieldError::required(&paths_path, ""));
        }
        for (i, http_path) in http.paths.iter().enumerate() {
            errs.extend(validate_http_path(http_path, &paths_path.index(i)));
        }
    }
    errs
}

fn validate_http_path(http_path: &HTTPIngressPath, path: &FieldPath) -> Vec<FieldError> {
    let value = http_path.path.as_deref().unwrap_or_default();
    let value_path = path.child("path");
    let mut errs = Vec::new();
    match http_path.path_type.as_str() {
        "" => return vec![FieldError::required(path.child("pathType"), "pathType must be specified")],
        "Exact" | "Prefix" => {
            if !value.starts_with('/') {
                errs.push(FieldError::invalid(&value_path, value, "must be an absolute path"));
            }
            for sequence in INVALID_PATH_SEQUENCES.iter().filter(|s| value.contains(**s)) {
                errs.push(FieldError::invalid(&value_path, value, format!("must not contain '{sequence}'")));
            }
            for suffix in INVALID_PATH_SUFFIXES.iter().filter(|s| value.ends_with(**s)) {
                errs.push(FieldError::invalid(&value_path, value, format!("cannot end with '{suffix}'")));
            }
        }
        "ImplementationSpecific" => {
            if !value.is_empty() && !value.starts_with('/') {
                errs.push(FieldError::invalid(&value_path, value, "must be an absolute path"));
            }
        }
        other => {
            let supported = ["Exact", "ImplementationSpecific", "Prefix"];
            errs.push(FieldError::not_supported(path.child("pathType"), other, &supported));
        }
    }
    errs.extend(validate_backend(&http_path.backend, &path.child("backend")));
    errs
}

/// Exactly one of a Service (with a port name or number) or a resource reference.
fn validate_backend(backend: &IngressBackend, path: &FieldPath) -> Vec<FieldError> {
    match (&backend.service, &backend.resource) {
        (Some(_), Some(_)) => vec![FieldError::invalid(path, "", "cannot set both resource and service backends")],
        (None, Some(resource)) => validate_typed_reference(resource, &path.child("resource")),
        (None, None) => vec![FieldError::invalid(path, "", "resource or service backend is required")],
        (Some(service), None) => {
            let service_path = path.child("service");
            let mut errs = if service.name.is_empty() {
                vec![FieldError::required(service_path.child("name"), "")]
            } else {
                common::invalid_each(
                    &service_path.child("name"),
                    service.name.as_str(),
                    names::is_dns1035_label(&service.name),
                )
            };
            let port = service.port.clone().unwrap_or_default();
            let port_path = service_path.child("port");
            let name = port.name.as_deref().unwrap_or_default();
            let number = port.number.unwrap_or(0);
            match (name.is_empty(), number == 0) {
                (false, false) => errs.push(FieldError::invalid(path, "", "cannot set both port name & port number")),
                (false, true) => {
                    errs.extend(common::invalid_each(&port_path.child("name"), name, names::is_valid_port_name(name)))
                }
                (true, false) => errs.extend(common::invalid_each(
                    &port_path.child("number"),
                    number,
                    names::is_valid_port_num(i64::from(number)),
                )),
                (true, true) => errs.push(FieldError::required(path, "port name or number is required")),
            }
            errs
        }
    }
}

fn validate_typed_reference(reference: &TypedLocalObjectReference, path: &FieldPath) -> Vec<FieldError> {
    reference_errors(reference.api_group.as_deref(), &reference.kind, &reference.name, path)
}

fn reference_errors(api_group: Option<&str>, kind: &str, name: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(group) = api_group {
        errs.extend(common::dns1123_subdomain(group, &path.child("apiGroup")));
    }
    for (field, value) in [("kind", kind), ("name", name)] {
        if value.is_empty() {
            errs.push(FieldError::required(path.child(field), format!("{field} is required")));
        } else {
            errs.extend(common::invalid_each(&path.child(field), value, names::is_path_segment_name(value)));
        }
    }
    errs
}

fn validate_tls(tls: &IngressTLS, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, host) in tls.hosts.iter().flatten().enumerate() {
        let messages = if host.contains('*') {
            names::is_wildcard_dns1123_subdomain(host)
        } else {
            names::is_dns1123_subdomain(host)
        };
        errs.extend(common::invalid_each(&path.child("hosts").index(i), host.as_str(), messages));
    }
    if let Some(secret) = tls.secret_name.as_deref().filter(|s| !s.is_empty()) {
        errs.extend(common::dns1123_subdomain(secret, &path.child("secretName")));
    }
    errs
}

// --- IngressClass ---

impl Builtin for IngressClass {
    fn set_defaults(&mut self) {
        let parameters = self.spec.as_mut().and_then(|s| s.parameters.as_mut());
        if let Some(parameters) = parameters {
            parameters.scope.get_or_insert_with(|| "Cluster".to_string());
        }
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let spec = self.spec.clone().unwrap_or_default();
        let path = FieldPath::new("spec");
        let controller = spec.controller.as_deref().unwrap_or_default();
        let mut errs = Vec::new();
        if controller.len() > MAX_CONTROLLER_LEN {
            let msg = format!("may not be more than {MAX_CONTROLLER_LEN} bytes");
            errs.push(FieldError::new(super::field_error::ErrorType::TooLong, path.child("controller"), None, msg));
        }
        errs.extend(domain_prefixed_path(controller, &path.child("controller")));
        if let Some(parameters) = &spec.parameters {
            errs.extend(validate_parameters(parameters, &path.child("parameters")));
        }
        if let Some(old) = old {
            let old_controller = old.spec.as_ref().and_then(|s| s.controller.clone());
            errs.extend(common::immutable(&spec.controller, &old_controller, &path.child("controller")));
        }
        errs
    }
}

/// `example.com/ingress-controller`: a DNS subdomain, `/`, then HTTP path characters.
fn domain_prefixed_path(value: &str, path: &FieldPath) -> Vec<FieldError> {
    if value.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let Some((host, rest)) = value.split_once('/').filter(|(h, r)| !h.is_empty() && !r.is_empty()) else {
        return vec![FieldError::invalid(path, value, "must be a domain-prefixed path (such as \"acme.io/foo\")")];
    };
    let mut errs = common::invalid_each(path, host, names::is_dns1123_subdomain(host));
    let path_char = |c: char| c.is_ascii_alphanumeric() || "/-._~%!$&'()*+,;=:".contains(c);
    if !rest.chars().all(path_char) {
        let msg = names::regex_error("Invalid path", "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+", &[]);
        errs.push(FieldError::invalid(path, rest, msg));
    }
    errs
}

fn validate_parameters(parameters: &IngressClassParametersReference, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = reference_errors(parameters.api_group.as_deref(), &parameters.kind, &parameters.name, path);
    let scope = parameters.scope.as_deref();
    errs.extend(common::enum_value(scope, &path.child("scope"), &["Cluster", "Namespace"], true));
    match (scope, parameters.namespace.as_deref()) {
        (Some("Namespace"), None) => {
            errs.push(FieldError::required(path.child("namespace"), "`parameters.scope` is set to 'Namespace'"))
        }
        (Some("Namespace"), Some(namespace)) => errs.extend(common::dns1123_label(namespace, &path.child("namespace"))),
        (Some("Cluster"), Some(_)) => {
            errs.push(FieldError::forbidden(path.child("namespace"), "`parameters.scope` is set to 'Cluster'"))
        }
        _ => {}
    }
    errs
}

// --- NetworkPolicy ---

impl Builtin for NetworkPolicy {
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(NetworkPolicySpec::default);
        let ingress_ports = spec.ingress.iter_mut().flatten().flat_map(|r| r.ports.iter_mut().flatten());
        let egress_ports = spec.egress.iter_mut().flatten().flat_map(|r| r.ports.iter_mut().flatten());
        for port in ingress_ports.chain(egress_ports) {
            port.protocol.get_or_insert_with(|| "TCP".to_string());
        }
        if spec.policy_types.as_ref().is_none_or(Vec::is_empty) {
            let mut types = vec!["Ingress".to_string()];
            if spec.egress.as_ref().is_some_and(|e| !e.is_empty()) {
                types.push("Egress".to_string());
            }
            spec.policy_types = Some(types);
        }
    }

    fn validate(&self, _old: Option<&Self>) -> Vec<FieldError> {
        let spec = self.spec.clone().unwrap_or_default();
        let path = FieldPath::new("spec");
        let mut errs =
            common::label_selector(&spec.pod_selector.clone().unwrap_or_default(), &path.child("podSelector"));
        for (i, rule) in spec.ingress.iter().flatten().enumerate() {
            let rule_path = path.child("ingress").index(i);
            errs.extend(ports_and_peers(rule.ports.as_deref(), rule.from.as_deref(), &rule_path, "from"));
        }
        for (i, rule) in spec.egress.iter().flatten().enumerate() {
            let rule_path = path.child("egress").index(i);
            errs.extend(ports_and_peers(rule.ports.as_deref(), rule.to.as_deref(), &rule_path, "to"));
        }
        errs.extend(policy_types(spec.policy_types.as_deref().unwrap_or_default(), &path.child("policyTypes")));
        errs
    }
}

fn ports_and_peers(
    ports: Option<&[NetworkPolicyPort]>,
    peers: Option<&[NetworkPolicyPeer]>,
    path: &FieldPath,
    peers_field: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, port) in ports.unwrap_or_default().iter().enumerate() {
        errs.extend(policy_port(port, &path.child("ports").index(i)));
    }
    for (i, peer) in peers.unwrap_or_default().iter().enumerate() {
        errs.extend(policy_peer(peer, &path.child(peers_field).index(i)));
    }
    errs
}

fn policy_port(port: &NetworkPolicyPort, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(protocol) = &port.protocol {
        errs.extend(common::enum_value(Some(protocol), &path.child("protocol"), &["TCP", "UDP", "SCTP"], true));
    }
    let end_path = path.child("endPort");
    match (&port.port, port.end_port) {
        (Some(IntOrString::Int(number)), end) => {
            errs.extend(common::invalid_each(
                &path.child("port"),
                *number,
                names::is_valid_port_num(i64::from(*number)),
            ));
            if let Some(end) = end {
                if end < *number {
                    errs.push(FieldError::invalid(&end_path, *number, "must be greater than or equal to `port`"));
                }
                errs.extend(common::invalid_each(&end_path, end, names::is_valid_port_num(i64::from(end))));
            }
        }
        (Some(IntOrString::String(name)), end) => {
            if let Some(end) = end {
                errs.push(FieldError::invalid(&end_path, end, "may not be specified when `port` is non-numeric"));
            }
            errs.extend(common::invalid_each(&path.child("port"), name.as_str(), names::is_valid_port_name(name)));
        }
        (None, Some(end)) => {
            errs.push(FieldError::invalid(&end_path, end, "may not be specified when `port` is not specified"))
        }
        (None, None) => {}
    }
    errs
}

fn policy_peer(peer: &NetworkPolicyPeer, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut count = 0;
    if let Some(selector) = &peer.pod_selector {
        count += 1;
        errs.extend(common::label_selector(selector, &path.child("podSelector")));
    }
    if let Some(selector) = &peer.namespace_selector {
        count += 1;
        errs.extend(common::label_selector(selector, &path.child("namespaceSelector")));
    }
    if let Some(block) = &peer.ip_block {
        count += 1;
        errs.extend(ip_block(block, &path.child("ipBlock")));
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a peer"));
    } else if count > 1 && peer.ip_block.is_some() {
        errs.push(FieldError::forbidden(path, "may not specify both ipBlock and another peer"));
    }
    errs
}

fn ip_block(block: &IPBlock, path: &FieldPath) -> Vec<FieldError> {
    if block.cidr.is_empty() {
        return vec![FieldError::required(path.child("cidr"), "")];
    }
    let mut errs = common::cidr(&block.cidr, &path.child("cidr"));
    let Some(outer) = common::parse_cidr(&block.cidr) else { return errs };
    for (i, except) in block.except.iter().flatten().enumerate() {
        let except_path = path.child("except").index(i);
        match common::parse_cidr(except) {
            None => errs.extend(common::cidr(except, &except_path)),
            Some(inner) if !common::cidr_strict_subset(outer, inner) => {
                errs.push(FieldError::invalid(&except_path, except.as_str(), "must be a strict subset of `cidr`"))
            }
            Some(_) => {}
        }
    }
    errs
}

fn policy_types(types: &[String], path: &FieldPath) -> Vec<FieldError> {
    if types.len() > 2 {
        return vec![FieldError::invalid(path, json(types), "may not specify more than two policyTypes")];
    }
    let mut errs = Vec::new();
    for (i, policy_type) in types.iter().enumerate() {
        errs.extend(common::enum_value(Some(policy_type), &path.index(i), &["Ingress", "Egress"], true));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::{default_builtin, validate_builtin};
    use serde_json::{json as j, Value};

    fn check(kind: &str, mut obj: Value, old: Option<Value>) -> Vec<String> {
        default_builtin("networking.k8s.io", kind, &mut obj);
        validate_builtin("networking.k8s.io", kind, &obj, old.as_ref()).iter().map(FieldError::message).collect()
    }

    fn ingress(rules: Value) -> Value {
        j!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"ingressClassName": "nginx", "rules": rules}})
    }

    fn backend() -> Value {
        j!({"service": {"name": "web", "port": {"number": 80}}})
    }

    #[test]
    fn valid_ingresses_pass() {
        let rules = j!([{"host": "*.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": backend()},
            {"path": "/api", "pathType": "Exact", "backend": {"service": {"name": "api", "port": {"name": "http"}}}},
            {"pathType": "ImplementationSpecific", "backend": {"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "assets"}}}
        ]}}]);
        assert!(check("Ingress", ingress(rules), None).is_empty());
        assert!(
            check("Ingress", j!({"metadata": {"name": "d"}, "spec": {"defaultBackend": backend()}}), None).is_empty()
        );
    }

    #[test]
    fn ingress_rules() {
        assert_eq!(
            check("Ingress", j!({"metadata": {"name": "e"}, "spec": {}}), None),
            vec!["spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"]
        );
        let rules = j!([
            {"host": "10.0.0.1", "http": {"paths": [{"path": "/", "backend": backend()}]}},
            {"host": "app.example.com", "http": {"paths": [
                {"path": "api//v1", "pathType": "Prefix", "backend": {"service": {"name": "web"}}},
                {"path": "/", "pathType": "Fuzzy", "backend": {}},
                {"path": "/", "pathType": "Exact", "backend": {"service": {"name": "web", "port": {"name": "http", "number": 80}}, "resource": {"kind": "X", "name": "y"}}}
            ]}},
            {"http": {"paths": []}}
        ]);
        assert_eq!(
            check("Ingress", ingress(rules), None),
            vec![
                "spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address",
                "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
                "spec.rules[1].http.paths[0].path: Invalid value: \"api//v1\": must be an absolute path",
                "spec.rules[1].http.paths[0].path: Invalid value: \"api//v1\": must not contain '//'",
                "spec.rules[1].http.paths[0].backend: Required value: port name or number is required",
                "spec.rules[1].http.paths[1].pathType: Unsupported value: \"Fuzzy\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\"",
                "spec.rules[1].http.paths[1].backend: Invalid value: \"\": resource or service backend is required",
                "spec.rules[1].http.paths[2].backend: Invalid value: \"\": cannot set both resource and service backends",
                "spec.rules[2].http.paths: Required value"
            ]
        );
    }

    #[test]
    fn ingress_classes() {
        let class = j!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx", "parameters": {"kind": "IngressParameters", "name": "p"}}});
        let mut defaulted = class.clone();
        default_builtin("networking.k8s.io", "IngressClass", &mut defaulted);
        assert_eq!(defaulted["spec"]["parameters"]["scope"], "Cluster");
        assert!(check("IngressClass", class.clone(), None).is_empty());
        assert_eq!(
            check("IngressClass", j!({"metadata": {"name": "x"}, "spec": {}}), None),
            vec!["spec.controller: Required value"]
        );
        assert_eq!(
            check("IngressClass", j!({"metadata": {"name": "x"}, "spec": {"controller": "nginx"}}), None),
            vec!["spec.controller: Invalid value: \"nginx\": must be a domain-prefixed path (such as \"acme.io/foo\")"]
        );
        let mut changed = class.clone();
        changed["spec"]["controller"] = j!("example.com/other");
        changed["spec"]["parameters"]["scope"] = j!("Namespace");
        let mut old = class;
        default_builtin("networking.k8s.io", "IngressClass", &mut old);
        assert_eq!(
            check("IngressClass", changed, Some(old)),
            vec![
                "spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'",
                "spec.controller: Invalid value: \"example.com/other\": field is immutable"
            ]
        );
    }

    #[test]
    fn network_policies() {
        let policy = j!({"metadata": {"name": "db"}, "spec": {
            "podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}, {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}], "ports": [{"port": 5432}]}],
            "egress": [{"to": [{"namespaceSelector": {}}]}]
        }});
        let mut defaulted = policy.clone();
        default_builtin("networking.k8s.io", "NetworkPolicy", &mut defaulted);
        assert_eq!(defaulted["spec"]["policyTypes"], j!(["Ingress", "Egress"]));
        assert_eq!(defaulted["spec"]["ingress"][0]["ports"][0]["protocol"], "TCP");
        assert!(check("NetworkPolicy", policy, None).is_empty());
        let bad = j!({"metadata": {"name": "db"}, "spec": {
            "podSelector": {},
            "ingress": [{"from": [{}, {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.0.0/8"]}, "podSelector": {}}], "ports": [{"port": "http", "endPort": 90, "protocol": "ICMP"}]}],
            "policyTypes": ["Ingress", "Sideways"]
        }});
        assert_eq!(
            check("NetworkPolicy", bad, None),
            vec![
                "spec.ingress[0].ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\"",
                "spec.ingress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
                "spec.ingress[0].from[0]: Required value: must specify a peer",
                "spec.ingress[0].from[1].ipBlock.except[0]: Invalid value: \"10.0.0.0/8\": must be a strict subset of `cidr`",
                "spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer",
                "spec.policyTypes[1]: Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\""
            ]
        );
    }
}

//! Containers of a pod: names, images, ports, environment, mounts, resources, probes and
//! lifecycle hooks (`validateContainers` and friends).

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{
    Container, EnvFromSource, EnvVar, EnvVarSource, ExecAction, HTTPGetAction, Lifecycle, LifecycleHandler, Probe,
    ResourceRequirements, SecurityContext, TCPSocketAction, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as QuantityString;

use super::common::{self, json};
use super::field_error::FieldError;
use super::names;
use super::path::FieldPath;
use super::pod::local_descending_path;
use super::quantity::{self, parse_quantity};

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];
const RESOURCE_FIELD_REFS: &[&str] = &[
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
];

/// What a container check needs to know about its pod.
pub struct PodContext<'a> {
    /// Names of the pod's valid volumes, which mounts may refer to.
    pub volumes: HashSet<&'a str>,
    pub host_network: bool,
    pub grace_period: Option<i64>,
}

/// Init containers follow different rules (sidecars, probes).
#[derive(Clone, Copy, PartialEq)]
pub enum ContainerKind {
    Regular,
    Init,
}

/// Every rule for one container; `names_seen` spans all containers of the pod.
pub fn validate_container(
    container: &Container,
    kind: ContainerKind,
    ctx: &PodContext,
    names_seen: &mut HashSet<String>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = validate_container_name(&container.name, names_seen, &path.child("name"));
    errs.extend(validate_image(container.image.as_deref(), &path.child("image")));
    errs.extend(common::enum_value(
        container.image_pull_policy.as_deref(),
        &path.child("imagePullPolicy"),
        &["Always", "IfNotPresent", "Never"],
        true,
    ));
    errs.extend(validate_termination_message_policy(container.termination_message_policy.as_deref(), path));
    errs.extend(validate_container_ports(container, ctx.host_network, &path.child("ports")));
    for (i, env) in container.env.iter().flatten().enumerate() {
        errs.extend(validate_env_var(env, &path.child("env").index(i)));
    }
    for (i, source) in container.env_from.iter().flatten().enumerate() {
        errs.extend(validate_env_from(source, &path.child("envFrom").index(i)));
    }
    errs.extend(validate_volume_mounts(
        container.volume_mounts.as_deref().unwrap_or_default(),
        container.security_context.as_ref(),
        ctx,
        &path.child("volumeMounts"),
    ));
    if let Some(resources) = &container.resources {
        errs.extend(validate_resources(resources, &path.child("resources")));
    }
    if let Some(context) = &container.security_context {
        errs.extend(validate_security_context(context, &path.child("securityContext")));
    }
    errs.extend(validate_restart_rules(container, kind, ctx, path));
    errs
}

fn validate_container_name(name: &str, seen: &mut HashSet<String>, path: &FieldPath) -> Vec<FieldError> {
    if name.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut errs = common::dns1123_label(name, path);
    if !seen.insert(name.to_string()) {
        errs.push(FieldError::duplicate(path, name));
    }
    errs
}

fn validate_image(image: Option<&str>, path: &FieldPath) -> Vec<FieldError> {
    match image {
        None | Some("") => vec![FieldError::required(path, "")],
        Some(image) if image.trim() != image => {
            vec![FieldError::invalid(path, image, "must not have leading or trailing whitespace")]
        }
        Some(_) => Vec::new(),
    }
}

fn validate_termination_message_policy(policy: Option<&str>, path: &FieldPath) -> Vec<FieldError> {
    const MSG: &str = "must be 'File' or 'FallbackToLogsOnError'";
    let policy_path = path.child("terminationMessagePolicy");
    match policy {
        Some("File" | "FallbackToLogsOnError") => Vec::new(),
        None | Some("") => vec![FieldError::required(policy_path, MSG)],
        Some(other) => vec![FieldError::invalid(policy_path, other, MSG)],
    }
}

fn validate_container_ports(container: &Container, host_network: bool, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut port_names = HashSet::new();
    for (i, port) in container.ports.iter().flatten().enumerate() {
        let port_path = path.index(i);
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let messages = names::is_valid_port_name(name);
            if !messages.is_empty() {
                errs.extend(common::invalid_each(&port_path.child("name"), name, messages));
            } else if !port_names.insert(name) {
                errs.push(FieldError::duplicate(port_path.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errs.push(FieldError::required(port_path.child("containerPort"), ""));
        } else {
            let messages = names::is_valid_port_num(i64::from(port.container_port));
            errs.extend(common::invalid_each(&port_path.child("containerPort"), port.container_port, messages));
        }
        let host_port = port.host_port.unwrap_or(0);
        if host_port != 0 {
            errs.extend(common::invalid_each(
                &port_path.child("hostPort"),
                host_port,
                names::is_valid_port_num(i64::from(host_port)),
            ));
        }
        if host_network && host_port != port.container_port {
            errs.push(FieldError::invalid(
                port_path.child("hostPort"),
                host_port,
                "must match `containerPort` when `hostNetwork` is true",
            ));
        }
        errs.extend(common::enum_value(port.protocol.as_deref(), &port_path.child("protocol"), PROTOCOLS, true));
    }
    errs
}

fn validate_env_var(env: &EnvVar, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if env.name.is_empty() {
        errs.push(FieldError::required(path.child("name"), ""));
    }
    errs.extend(common::invalid_each(&path.child("name"), env.name.as_str(), names::is_env_var_name(&env.name)));
    if let Some(source) = &env.value_from {
        let has_value = env.value.as_deref().is_some_and(|v| !v.is_empty());
        errs.extend(validate_env_source(source, has_value, &path.child("valueFrom")));
    }
    errs
}

fn validate_env_source(source: &EnvVarSource, has_value: bool, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut count = 0;
    if let Some(field_ref) = &source.field_ref {
        count += 1;
        errs.extend(validate_env_field_path(&field_ref.field_path, &path.child("fieldRef").child("fieldPath")));
    }
    if let Some(resource_ref) = &source.resource_field_ref {
        count += 1;
        let resource_path = path.child("resourceFieldRef").child("resource");
        errs.extend(common::enum_value(Some(&resource_ref.resource), &resource_path, RESOURCE_FIELD_REFS, true));
    }
    if let Some(key_ref) = &source.config_map_key_ref {
        count += 1;
        errs.extend(validate_key_selector(&key_ref.name, &key_ref.key, &path.child("configMapKeyRef")));
    }
    if let Some(key_ref) = &source.secret_key_ref {
        count += 1;
        errs.extend(validate_key_selector(&key_ref.name, &key_ref.key, &path.child("secretKeyRef")));
    }
    if count == 0 {
        let msg = "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`";
        errs.push(FieldError::invalid(path, "", msg));
    } else if has_value {
        errs.push(FieldError::invalid(path, "", "may not be specified when `value` is not empty"));
    } else if count > 1 {
        errs.push(FieldError::invalid(path, "", "may not have more than one field specified at a time"));
    }
    errs
}

fn validate_env_field_path(field_path: &str, path: &FieldPath) -> Vec<FieldError> {
    if field_path.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let subscripted = ["metadata.labels", "metadata.annotations"]
        .iter()
        .find_map(|prefix| field_path.strip_prefix(prefix).map(|rest| (*prefix, rest)));
    match subscripted {
        Some((_, "")) => Vec::new(),
        Some((prefix, rest)) => match rest.strip_prefix("['").and_then(|r| r.strip_suffix("']")) {
            Some(key) if prefix == "metadata.annotations" => {
                common::invalid_each(path, key, names::is_qualified_name(&key.to_lowercase()))
            }
            Some(key) => common::qualified_name(key, path),
            None => vec![FieldError::invalid(
                path,
                field_path,
                format!("error converting fieldPath: field label not supported: {field_path}"),
            )],
        },
        None if ENV_FIELD_PATHS.contains(&field_path) => Vec::new(),
        None => vec![FieldError::not_supported(path, field_path, ENV_FIELD_PATHS)],
    }
}

fn validate_key_selector(name: &str, key: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = common::dns1123_subdomain(name, &path.child("name"));
    if key.is_empty() {
        errs.push(FieldError::required(path.child("key"), ""));
    } else {
        errs.extend(common::invalid_each(&path.child("key"), key, names::is_config_map_key(key)));
    }
    errs
}

fn validate_env_from(source: &EnvFromSource, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(prefix) = source.prefix.as_deref().filter(|p| !p.is_empty()) {
        errs.extend(common::invalid_each(&path.child("prefix"), prefix, names::is_env_var_name(prefix)));
    }
    let mut count = 0;
    if let Some(config_map) = &source.config_map_ref {
        count += 1;
        errs.extend(common::dns1123_subdomain(&config_map.name, &path.child("configMapRef").child("name")));
    }
    if let Some(secret) = &source.secret_ref {
        count += 1;
        errs.extend(common::dns1123_subdomain(&secret.name, &path.child("secretRef").child("name")));
    }
    match count {
        0 => errs.push(FieldError::invalid(path, "", "must specify one of: `configMapRef` or `secretRef`")),
        1 => {}
        _ => errs.push(FieldError::invalid(path, "", "may not have more than one field specified at a time")),
    }
    errs
}

fn validate_volume_mounts(
    mounts: &[VolumeMount],
    security: Option<&SecurityContext>,
    ctx: &PodContext,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut mount_points = HashSet::new();
    let privileged = security.and_then(|s| s.privileged) == Some(true);
    for (i, mount) in mounts.iter().enumerate() {
        let mount_path = path.index(i);
        if mount.name.is_empty() {
            errs.push(FieldError::required(mount_path.child("name"), ""));
        }
        if !ctx.volumes.contains(mount.name.as_str()) {
            errs.push(common::not_found(&mount_path.child("name"), &mount.name));
        }
        if mount.mount_path.is_empty() {
            errs.push(FieldError::required(mount_path.child("mountPath"), ""));
        }
        if !mount_points.insert(mount.mount_path.as_str()) {
            errs.push(FieldError::invalid(mount_path.child("mountPath"), mount.mount_path.as_str(), "must be unique"));
        }
        let sub_path = mount.sub_path.as_deref().unwrap_or_default();
        if !sub_path.is_empty() {
            errs.extend(local_descending_path(sub_path, &mount_path.child("subPath")));
        }
        if let Some(expr) = mount.sub_path_expr.as_deref().filter(|e| !e.is_empty()) {
            if !sub_path.is_empty() {
                errs.push(FieldError::invalid(
                    mount_path.child("subPathExpr"),
                    expr,
                    "subPathExpr and subPath are mutually exclusive",
                ));
            }
            errs.extend(local_descending_path(expr, &mount_path.child("subPathExpr")));
        }
        let propagation_path = mount_path.child("mountPropagation");
        let modes = ["Bidirectional", "HostToContainer", "None"];
        errs.extend(common::enum_value(mount.mount_propagation.as_deref(), &propagation_path, &modes, false));
        if mount.mount_propagation.as_deref() == Some("Bidirectional") && !privileged {
            errs.push(FieldError::forbidden(
                propagation_path,
                "Bidirectional mount propagation is available only to privileged containers",
            ));
        }
    }
    errs
}

/// Requests and limits: known names, parseable non-negative quantities, requests within limits.
pub fn validate_resources(resources: &ResourceRequirements, path: &FieldPath) -> Vec<FieldError> {
    let empty = BTreeMap::new();
    let limits = resources.limits.as_ref().unwrap_or(&empty);
    let requests = resources.requests.as_ref().unwrap_or(&empty);
    let mut errs = Vec::new();
    for (name, value) in limits {
        errs.extend(validate_resource_entry(name, value, &path.child("limits").key(name)));
    }
    for (name, value) in requests {
        let entry_path = path.child("requests").key(name);
        errs.extend(validate_resource_entry(name, value, &entry_path));
        errs.extend(request_within_limit(name, value, limits.get(name), &entry_path, &path.child("limits")));
    }
    errs
}

fn validate_resource_entry(name: &str, value: &QuantityString, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = validate_container_resource_name(name, path);
    match parse_quantity(&value.0) {
        None => errs.push(FieldError::invalid(path, value.0.as_str(), quantity::QUANTITY_FORMAT_ERROR)),
        Some(q) if q.is_negative() => errs.push(FieldError::invalid(path, value.0.as_str(), common::IS_NEGATIVE_MSG)),
        Some(q) if is_extended_resource(name) && !q.is_integer() => {
            errs.push(FieldError::invalid(path, value.0.as_str(), "must be an integer"))
        }
        Some(_) => {}
    }
    errs
}

fn validate_container_resource_name(name: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = common::qualified_name(name, path);
    let standard = matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-");
    if !name.contains('/') && !standard {
        errs.push(FieldError::invalid(path, name, "must be a standard resource for containers"));
    }
    errs
}

/// Resources outside `kubernetes.io` with a domain, like `example.com/gpu`.
fn is_extended_resource(name: &str) -> bool {
    name.contains('/') && !name.contains("kubernetes.io/")
}

fn request_within_limit(
    name: &str,
    request: &QuantityString,
    limit: Option<&QuantityString>,
    path: &FieldPath,
    limits_path: &FieldPath,
) -> Vec<FieldError> {
    let overcommit_allowed = !is_extended_resource(name) && !name.starts_with("hugepages-");
    let Some(limit) = limit else {
        return if overcommit_allowed {
            Vec::new()
        } else {
            vec![FieldError::required(limits_path, "Limit must be set for non overcommitable resources")]
        };
    };
    let (Some(req), Some(lim)) = (parse_quantity(&request.0), parse_quantity(&limit.0)) else {
        return Vec::new();
    };
    let order = req.compare(&lim);
    if !overcommit_allowed && order.is_ne() {
        let msg = format!("must be equal to {name} limit of {}", limit.0);
        vec![FieldError::invalid(path, request.0.as_str(), msg)]
    } else if order.is_gt() {
        let msg = format!("must be less than or equal to {name} limit of {}", limit.0);
        vec![FieldError::invalid(path, request.0.as_str(), msg)]
    } else {
        Vec::new()
    }
}

fn validate_security_context(context: &SecurityContext, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if context.allow_privilege_escalation == Some(false) && context.privileged == Some(true) {
        errs.push(FieldError::invalid(
            path,
            json(context),
            "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
        ));
    }
    for (field, id) in [("runAsUser", context.run_as_user), ("runAsGroup", context.run_as_group)] {
        if let Some(id) = id.filter(|id| !(0..=i64::from(i32::MAX)).contains(id)) {
            errs.push(FieldError::invalid(path.child(field), id, names::inclusive_range_error(0, i64::from(i32::MAX))));
        }
    }
    errs
}

/// Container `restartPolicy` (sidecars) and what it allows: probes and lifecycle hooks.
fn validate_restart_rules(
    container: &Container,
    kind: ContainerKind,
    ctx: &PodContext,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let sidecar = container.restart_policy.as_deref() == Some("Always");
    match (kind, container.restart_policy.as_deref()) {
        (ContainerKind::Regular, Some(_)) => {
            errs.push(FieldError::forbidden(path.child("restartPolicy"), "may not be set for non-init containers"))
        }
        (ContainerKind::Init, Some(policy)) if policy != "Always" => {
            errs.push(FieldError::not_supported(path.child("restartPolicy"), policy, &["Always"]))
        }
        _ => {}
    }
    let probes = [
        ("livenessProbe", container.liveness_probe.as_ref()),
        ("readinessProbe", container.readiness_probe.as_ref()),
        ("startupProbe", container.startup_probe.as_ref()),
    ];
    if kind == ContainerKind::Init && !sidecar {
        const MSG: &str = "may not be set for init containers without restartPolicy=Always";
        let present = probes.iter().filter(|(_, p)| p.is_some()).map(|(name, _)| *name);
        let lifecycle = container.lifecycle.as_ref().map(|_| "lifecycle");
        errs.extend(lifecycle.into_iter().chain(present).map(|field| FieldError::forbidden(path.child(field), MSG)));
        return errs;
    }
    for (field, probe) in probes {
        if let Some(probe) = probe {
            errs.extend(validate_probe(probe, field, &path.child(field)));
        }
    }
    if let Some(lifecycle) = &container.lifecycle {
        errs.extend(validate_lifecycle(lifecycle, ctx.grace_period, &path.child("lifecycle")));
    }
    errs
}

fn validate_probe(probe: &Probe, kind: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut handlers = shared_handlers(probe.exec.as_ref(), probe.http_get.as_ref(), probe.tcp_socket.as_ref(), path);
    handlers.extend(probe.grpc.as_ref().map(|g| {
        let port_path = path.child("grpc").child("port");
        ("grpc", common::invalid_each(&port_path, g.port, names::is_valid_port_num(i64::from(g.port))))
    }));
    let mut errs = one_handler(handlers, path);
    let counts = [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ];
    for (field, value) in counts {
        errs.extend(common::non_negative_opt(value, &path.child(field)));
    }
    let success = probe.success_threshold.unwrap_or(1);
    if kind != "readinessProbe" && success != 1 {
        errs.push(FieldError::invalid(path.child("successThreshold"), success, "must be 1"));
    }
    if let Some(grace) = probe.termination_grace_period_seconds {
        if kind == "readinessProbe" {
            errs.push(FieldError::invalid(
                path.child("terminationGracePeriodSeconds"),
                grace,
                "must not be set for readinessProbes",
            ));
        } else if grace <= 0 {
            errs.push(FieldError::invalid(
                path.child("terminationGracePeriodSeconds"),
                grace,
                "must be greater than 0",
            ));
        }
    }
    errs
}

fn validate_lifecycle(lifecycle: &Lifecycle, grace_period: Option<i64>, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (field, handler) in [("postStart", &lifecycle.post_start), ("preStop", &lifecycle.pre_stop)] {
        if let Some(handler) = handler {
            errs.extend(validate_lifecycle_handler(handler, grace_period, &path.child(field)));
        }
    }
    errs
}

fn validate_lifecycle_handler(
    handler: &LifecycleHandler,
    grace_period: Option<i64>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let sleep_errors = |seconds: i64| {
        let grace = grace_period.unwrap_or(30);
        if seconds < 0 || seconds > grace {
            let msg = format!("must be non-negative and less than terminationGracePeriodSeconds ({grace})");
            vec![FieldError::invalid(path.child("sleep").child("seconds"), seconds, msg)]
        } else {
            Vec::new()
        }
    };
    let mut handlers =
        shared_handlers(handler.exec.as_ref(), handler.http_get.as_ref(), handler.tcp_socket.as_ref(), path);
    handlers.extend(handler.sleep.as_ref().map(|s| ("sleep", sleep_errors(s.seconds))));
    one_handler(handlers, path)
}

/// The handlers probes and lifecycle hooks both have (exec, httpGet, tcpSocket), each set one
/// with its own errors, in the order `one_handler` reports them; callers add their extra kind.
fn shared_handlers(
    exec: Option<&ExecAction>,
    http_get: Option<&HTTPGetAction>,
    tcp_socket: Option<&TCPSocketAction>,
    path: &FieldPath,
) -> Vec<(&'static str, Vec<FieldError>)> {
    [
        exec.map(|e| ("exec", exec_errors(e.command.as_deref(), &path.child("exec")))),
        http_get.map(|h| ("httpGet", http_get_errors(h, &path.child("httpGet")))),
        tcp_socket.map(|t| ("tcpSocket", common::port_num_or_name(&t.port, &path.child("tcpSocket").child("port")))),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Exactly one handler: the first one's own errors, `Forbidden` for each extra one.
fn one_handler(handlers: Vec<(&str, Vec<FieldError>)>, path: &FieldPath) -> Vec<FieldError> {
    let mut iter = handlers.into_iter();
    let Some((_, first_errs)) = iter.next() else {
        return vec![FieldError::required(path, "must specify a handler type")];
    };
    let extra =
        iter.map(|(name, _)| FieldError::forbidden(path.child(name), "may not specify more than 1 handler type"));
    first_errs.into_iter().chain(extra).collect()
}

fn exec_errors(command: Option<&[String]>, path: &FieldPath) -> Vec<FieldError> {
    if command.unwrap_or_default().is_empty() {
        vec![FieldError::required(path.child("command"), "")]
    } else {
        Vec::new()
    }
}

fn http_get_errors(action: &HTTPGetAction, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if action.path.as_deref().unwrap_or_default().is_empty() {
        errs.push(FieldError::required(path.child("path"), ""));
    }
    errs.extend(common::port_num_or_name(&action.port, &path.child("port")));
    errs.extend(common::enum_value(action.scheme.as_deref(), &path.child("scheme"), &["HTTP", "HTTPS"], true));
    for header in action.http_headers.iter().flatten() {
        errs.extend(common::invalid_each(
            &path.child("httpHeaders"),
            header.name.as_str(),
            names::is_http_header_name(&header.name),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::field_error::ErrorType;
    use crate::validation::pod::{default_pod_spec, validate_pod_spec};
    use k8s_openapi::api::core::v1::PodSpec;
    use serde_json::{json as j, Value};

    fn defaulted(value: Value) -> PodSpec {
        let mut spec: PodSpec = serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"));
        default_pod_spec(&mut spec);
        spec
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    fn fields(errs: &[FieldError]) -> Vec<&str> {
        errs.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn containers_are_required_and_checked() {
        let errs = validate_pod_spec(&defaulted(j!({"containers": []})), &FieldPath::new("spec"));
        assert_eq!(messages(&errs), vec!["spec.containers: Required value"]);

        let s = defaulted(j!({"containers": [
            {"name": "Web_1", "image": ""},
            {"name": "dup", "image": " nginx"},
            {"name": "dup", "image": "nginx", "imagePullPolicy": "Sometimes", "terminationMessagePolicy": "Bad"},
            {"image": "nginx"}
        ]}));
        let errs = validate_pod_spec(&s, &FieldPath::new("spec"));
        assert_eq!(
            fields(&errs),
            vec![
                "spec.containers[0].name",
                "spec.containers[0].image",
                "spec.containers[1].image",
                "spec.containers[2].name",
                "spec.containers[2].imagePullPolicy",
                "spec.containers[2].terminationMessagePolicy",
                "spec.containers[3].name"
            ]
        );
        assert_eq!(errs[3].kind, ErrorType::Duplicate);
        assert_eq!(errs[4].message(), "spec.containers[2].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"");
        assert_eq!(errs[6].message(), "spec.containers[3].name: Required value");
    }

    #[test]
    fn ports_env_and_mounts() {
        let s = defaulted(j!({
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "data", "emptyDir": {}}, {"name": "x", "emptyDir": {}, "hostPath": {"path": "/x"}}],
            "containers": [{
                "name": "web", "image": "nginx",
                "ports": [{"containerPort": 70000, "name": "http"}, {"containerPort": 0, "name": "http", "protocol": "ICMP"}],
                "env": [{"name": "A=B"}, {"name": "C", "value": "v", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}, {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "spec.bogus"}}}],
                "volumeMounts": [{"name": "missing", "mountPath": "/a"}, {"name": "data", "mountPath": "/a", "subPath": "../etc"}]
            }]
        }));
        let errs = validate_pod_spec(&s, &FieldPath::new("spec"));
        assert_eq!(
            fields(&errs),
            vec![
                "spec.volumes[1].name",
                "spec.volumes[2].hostPath",
                "spec.containers[0].ports[0].containerPort",
                "spec.containers[0].ports[1].name",
                "spec.containers[0].ports[1].containerPort",
                "spec.containers[0].ports[1].protocol",
                "spec.containers[0].env[0].name",
                "spec.containers[0].env[1].valueFrom",
                "spec.containers[0].env[2].valueFrom.fieldRef.fieldPath",
                "spec.containers[0].volumeMounts[0].name",
                "spec.containers[0].volumeMounts[1].mountPath",
                "spec.containers[0].volumeMounts[1].subPath"
            ]
        );
        assert_eq!(errs[1].message(), "spec.volumes[2].hostPath: Forbidden: may not specify more than 1 volume type");
        assert_eq!(
            errs[2].message(),
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        assert_eq!(errs[9].message(), "spec.containers[0].volumeMounts[0].name: Invalid value: \"missing\": not found");
    }

    #[test]
    fn resources_must_parse_and_fit_limits() {
        let s = defaulted(j!({"containers": [{"name": "a", "image": "x", "resources": {
            "limits": {"cpu": "500m", "memory": "lots", "example.com/gpu": "1"},
            "requests": {"cpu": "1", "gpus": "1", "example.com/gpu": "2"}
        }}]}));
        let errs = validate_pod_spec(&s, &FieldPath::new("spec"));
        assert_eq!(
            messages(&errs),
            vec![
                "spec.containers[0].resources.limits[memory]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                "spec.containers[0].resources.requests[cpu]: Invalid value: \"1\": must be less than or equal to cpu limit of 500m",
                "spec.containers[0].resources.requests[example.com/gpu]: Invalid value: \"2\": must be equal to example.com/gpu limit of 1",
                "spec.containers[0].resources.requests[gpus]: Invalid value: \"gpus\": must be a standard resource for containers"
            ]
        );
    }

    #[test]
    fn probes_and_init_containers() {
        let s = defaulted(j!({
            "initContainers": [{"name": "init", "image": "x", "readinessProbe": {"exec": {"command": ["true"]}}}, {"name": "side", "image": "x", "restartPolicy": "Always", "startupProbe": {"tcpSocket": {"port": 1}}}],
            "containers": [{"name": "a", "image": "x", "restartPolicy": "Always",
                "livenessProbe": {"exec": {"command": []}, "tcpSocket": {"port": 80}, "successThreshold": 2},
                "readinessProbe": {}}]
        }));
        let errs = validate_pod_spec(&s, &FieldPath::new("spec"));
        assert_eq!(
            messages(&errs),
            vec![
                "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
                "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers",
                "spec.containers[0].livenessProbe.exec.command: Required value",
                "spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
                "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
                "spec.containers[0].readinessProbe: Required value: must specify a handler type"
            ]
        );
    }
}

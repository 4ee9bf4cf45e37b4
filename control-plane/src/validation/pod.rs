//! Pod specs: the defaults and validation shared by Pods and every pod template
//! (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, ReplicationController, PodTemplate).

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{
    Affinity, Container, EnvVarSource, EphemeralContainer, HTTPGetAction, KeyToPath, NodeSelectorRequirement,
    NodeSelectorTerm, PodAffinityTerm, PodDNSConfig, PodSpec, PodTemplateSpec, Probe, Toleration,
    TopologySpreadConstraint, Volume,
};
use serde_json::Value;

use super::common::{self, json};
use super::container::{validate_container, ContainerKind, PodContext};
use super::field_error::FieldError;
use super::names;
use super::path::FieldPath;
use super::quantity::parse_quantity;

const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const UPDATABLE_POD_FIELDS: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

// ---------------------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------------------

/// Defaults every PodSpec gets, in a Pod or a template (`SetDefaults_PodSpec` and nested types).
pub fn default_pod_spec(spec: &mut PodSpec) {
    set_if_none(&mut spec.dns_policy, "ClusterFirst");
    set_if_none(&mut spec.restart_policy, "Always");
    spec.security_context.get_or_insert_with(Default::default);
    spec.termination_grace_period_seconds.get_or_insert(30);
    set_if_none(&mut spec.scheduler_name, "default-scheduler");
    spec.containers.iter_mut().for_each(default_container);
    spec.init_containers.iter_mut().flatten().for_each(default_container);
    spec.ephemeral_containers.iter_mut().flatten().for_each(default_ephemeral_container);
    spec.volumes.iter_mut().flatten().for_each(default_volume);
}

/// Defaults only a Pod gets, not a template (`SetDefaults_Pod`).
pub fn default_pod_only(spec: &mut PodSpec) {
    let host_network = spec.host_network == Some(true);
    for container in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
        requests_from_limits(container);
        if host_network {
            for port in container.ports.iter_mut().flatten() {
                if port.host_port.unwrap_or(0) == 0 {
                    port.host_port = Some(port.container_port);
                }
            }
        }
    }
    spec.enable_service_links.get_or_insert(true);
}

/// A template's spec gets the PodSpec defaults (an absent spec is defaulted as an empty one).
pub fn default_pod_template(template: &mut PodTemplateSpec) {
    default_pod_spec(template.spec.get_or_insert_with(Default::default));
}

fn set_if_none(field: &mut Option<String>, value: &str) {
    if field.as_deref().is_none_or(str::is_empty) {
        *field = Some(value.to_string());
    }
}

fn default_container(container: &mut Container) {
    if container.image_pull_policy.as_deref().is_none_or(str::is_empty) {
        container.image_pull_policy = Some(default_pull_policy(container.image.as_deref().unwrap_or_default()).into());
    }
    set_if_none(&mut container.termination_message_path, "/dev/termination-log");
    set_if_none(&mut container.termination_message_policy, "File");
    for port in container.ports.iter_mut().flatten() {
        set_if_none(&mut port.protocol, "TCP");
    }
    for probe in [&mut container.liveness_probe, &mut container.readiness_probe, &mut container.startup_probe] {
        probe.iter_mut().for_each(default_probe);
    }
    if let Some(lifecycle) = &mut container.lifecycle {
        for handler in [&mut lifecycle.post_start, &mut lifecycle.pre_stop].into_iter().flatten() {
            handler.http_get.iter_mut().for_each(default_http_get);
        }
    }
    container.env.iter_mut().flatten().filter_map(|e| e.value_from.as_mut()).for_each(default_env_source);
}

fn default_ephemeral_container(container: &mut EphemeralContainer) {
    if container.image_pull_policy.as_deref().is_none_or(str::is_empty) {
        container.image_pull_policy = Some(default_pull_policy(container.image.as_deref().unwrap_or_default()).into());
    }
    set_if_none(&mut container.termination_message_path, "/dev/termination-log");
    set_if_none(&mut container.termination_message_policy, "File");
}

/// `Always` for `:latest` or an untagged image without a digest, else `IfNotPresent`.
pub fn default_pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((name, _)) => (name, true),
        None => (image, false),
    };
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    let tag = last_segment.rsplit_once(':').map(|(_, tag)| tag);
    match tag {
        Some("latest") => "Always",
        None if !digest => "Always",
        _ => "IfNotPresent",
    }
}

fn default_probe(probe: &mut Probe) {
    for (field, value) in [
        (&mut probe.timeout_seconds, 1),
        (&mut probe.period_seconds, 10),
        (&mut probe.success_threshold, 1),
        (&mut probe.failure_threshold, 3),
    ] {
        if field.unwrap_or(0) == 0 {
            *field = Some(value);
        }
    }
    probe.http_get.iter_mut().for_each(default_http_get);
}

fn default_http_get(action: &mut HTTPGetAction) {
    set_if_none(&mut action.path, "/");
    set_if_none(&mut action.scheme, "HTTP");
}

fn default_env_source(source: &mut EnvVarSource) {
    if let Some(field_ref) = &mut source.field_ref {
        set_if_none(&mut field_ref.api_version, "v1");
    }
}

/// A volume with no source is an emptyDir; file-projecting sources get mode 0644.
fn default_volume(volume: &mut Volume) {
    if volume_sources(volume).is_empty() {
        volume.empty_dir = Some(Default::default());
    }
    const DEFAULT_MODE: i32 = 0o644;
    if let Some(secret) = &mut volume.secret {
        secret.default_mode.get_or_insert(DEFAULT_MODE);
    }
    if let Some(config_map) = &mut volume.config_map {
        config_map.default_mode.get_or_insert(DEFAULT_MODE);
    }
    if let Some(downward) = &mut volume.downward_api {
        downward.default_mode.get_or_insert(DEFAULT_MODE);
        for item in downward.items.iter_mut().flatten() {
            if let Some(field_ref) = &mut item.field_ref {
                set_if_none(&mut field_ref.api_version, "v1");
            }
        }
    }
    if let Some(projected) = &mut volume.projected {
        projected.default_mode.get_or_insert(DEFAULT_MODE);
        for token in projected.sources.iter_mut().flatten().filter_map(|s| s.service_account_token.as_mut()) {
            token.expiration_seconds.get_or_insert(3600);
        }
    }
    if let Some(host_path) = &mut volume.host_path {
        host_path.type_.get_or_insert_with(String::new);
    }
    if let Some(template) = volume.ephemeral.as_mut().and_then(|e| e.volume_claim_template.as_mut()) {
        set_if_none(&mut template.spec.volume_mode, "Filesystem");
    }
}

/// Pods (not templates) request what they limit unless told otherwise.
fn requests_from_limits(container: &mut Container) {
    let Some(resources) = &mut container.resources else { return };
    let Some(limits) = &resources.limits else { return };
    let requests = resources.requests.get_or_insert_with(BTreeMap::new);
    for (name, value) in limits {
        requests.entry(name.clone()).or_insert_with(|| value.clone());
    }
}

/// The source fields a volume sets (everything but its name).
fn volume_sources(volume: &Volume) -> Vec<String> {
    match json(volume) {
        Value::Object(map) => map.into_iter().filter(|(k, v)| k != "name" && !v.is_null()).map(|(k, _)| k).collect(),
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// A template: its labels and annotations, its spec, and no ephemeral containers.
pub fn validate_pod_template(template: &PodTemplateSpec, path: &FieldPath) -> Vec<FieldError> {
    let metadata = template.metadata.as_ref();
    let mut errs = common::labels(metadata.and_then(|m| m.labels.as_ref()), &path.child("labels"));
    for key in metadata.and_then(|m| m.annotations.as_ref()).into_iter().flatten().map(|(k, _)| k) {
        let messages = names::is_qualified_name(&key.to_lowercase());
        errs.extend(common::invalid_each(&path.child("annotations"), key.as_str(), messages));
    }
    let default_spec = PodSpec::default();
    let spec = template.spec.as_ref().unwrap_or(&default_spec);
    errs.extend(validate_pod_spec(spec, &path.child("spec")));
    if spec.ephemeral_containers.as_ref().is_some_and(|e| !e.is_empty()) {
        errs.push(FieldError::forbidden(
            path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// `ValidatePodSpec`: volumes, containers, and pod-level settings.
pub fn validate_pod_spec(spec: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    let (volume_errs, volumes) = validate_volumes(spec.volumes.as_deref().unwrap_or_default(), &path.child("volumes"));
    let ctx = PodContext {
        volumes,
        host_network: spec.host_network == Some(true),
        grace_period: spec.termination_grace_period_seconds,
    };
    let mut errs = volume_errs;
    let mut container_names = HashSet::new();
    if spec.containers.is_empty() {
        errs.push(FieldError::required(path.child("containers"), ""));
    }
    let init = spec.init_containers.as_deref().unwrap_or_default();
    for (i, container) in init.iter().enumerate() {
        let container_path = path.child("initContainers").index(i);
        errs.extend(validate_container(container, ContainerKind::Init, &ctx, &mut container_names, &container_path));
    }
    for (i, container) in spec.containers.iter().enumerate() {
        let container_path = path.child("containers").index(i);
        errs.extend(validate_container(container, ContainerKind::Regular, &ctx, &mut container_names, &container_path));
    }
    errs.extend(validate_pod_settings(spec, path));
    errs
}

fn validate_pod_settings(spec: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = common::enum_value(
        spec.restart_policy.as_deref(),
        &path.child("restartPolicy"),
        &["Always", "OnFailure", "Never"],
        true,
    );
    errs.extend(validate_dns(spec, path));
    errs.extend(common::labels(spec.node_selector.as_ref(), &path.child("nodeSelector")));
    let subdomain_fields = [
        ("serviceAccountName", &spec.service_account_name),
        ("nodeName", &spec.node_name),
        ("schedulerName", &spec.scheduler_name),
        ("priorityClassName", &spec.priority_class_name),
    ];
    for (field, value) in subdomain_fields {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            errs.extend(common::dns1123_subdomain(value, &path.child(field)));
        }
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            errs.extend(common::dns1123_label(value, &path.child(field)));
        }
    }
    if let Some(deadline) = spec.active_deadline_seconds {
        if !(1..=i64::from(i32::MAX)).contains(&deadline) {
            let msg = names::inclusive_range_error(1, i64::from(i32::MAX));
            errs.push(FieldError::invalid(path.child("activeDeadlineSeconds"), deadline, msg));
        }
    }
    for (i, toleration) in spec.tolerations.iter().flatten().enumerate() {
        errs.extend(validate_toleration(toleration, &path.child("tolerations").index(i)));
    }
    if let Some(affinity) = &spec.affinity {
        errs.extend(validate_affinity(affinity, &path.child("affinity")));
    }
    for (i, constraint) in spec.topology_spread_constraints.iter().flatten().enumerate() {
        errs.extend(validate_spread_constraint(constraint, &path.child("topologySpreadConstraints").index(i)));
    }
    errs
}

fn validate_dns(spec: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    let policies = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
    let mut errs = common::enum_value(spec.dns_policy.as_deref(), &path.child("dnsPolicy"), &policies, true);
    let none = spec.dns_policy.as_deref() == Some("None");
    match &spec.dns_config {
        None if none => errs
            .push(FieldError::required(path.child("dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None")),
        Some(config) => errs.extend(validate_dns_config(config, none, &path.child("dnsConfig"))),
        None => {}
    }
    errs
}

fn validate_dns_config(config: &PodDNSConfig, policy_none: bool, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let nameservers = config.nameservers.as_deref().unwrap_or_default();
    if policy_none && nameservers.is_empty() {
        errs.push(FieldError::required(
            path.child("nameservers"),
            "must provide at least one DNS nameserver when `dnsPolicy` is None",
        ));
    }
    if nameservers.len() > 3 {
        errs.push(FieldError::invalid(
            path.child("nameservers"),
            json(nameservers),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, server) in nameservers.iter().enumerate() {
        errs.extend(common::ip_address(server, &path.child("nameservers").index(i)));
    }
    let searches = config.searches.as_deref().unwrap_or_default();
    if searches.len() > 32 {
        errs.push(FieldError::invalid(
            path.child("searches"),
            json(searches),
            "must not have more than 32 search paths",
        ));
    }
    errs
}

fn validate_toleration(toleration: &Toleration, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let key = toleration.key.as_deref().unwrap_or_default();
    let operator = toleration.operator.as_deref().unwrap_or_default();
    let effect = toleration.effect.as_deref().unwrap_or_default();
    let value = toleration.value.as_deref().unwrap_or_default();
    if !key.is_empty() {
        errs.extend(common::qualified_name(key, &path.child("key")));
    }
    if key.is_empty() && operator != "Exists" {
        errs.push(FieldError::invalid(
            path.child("operator"),
            operator,
            "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
        ));
    }
    if toleration.toleration_seconds.is_some() && effect != "NoExecute" {
        errs.push(FieldError::invalid(
            path.child("effect"),
            effect,
            "effect must be 'NoExecute' when `tolerationSeconds` is set",
        ));
    }
    match operator {
        "Equal" | "" => {
            let messages = names::is_valid_label_value(value);
            if !messages.is_empty() {
                errs.push(FieldError::invalid(path.child("operator"), value, messages.join(";")));
            }
        }
        "Exists" if !value.is_empty() => errs.push(FieldError::invalid(
            path.child("operator"),
            json(toleration),
            "value must be empty when `operator` is 'Exists'",
        )),
        "Exists" => {}
        other => errs.push(FieldError::not_supported(path.child("operator"), other, &["Equal", "Exists"])),
    }
    if !effect.is_empty() {
        errs.extend(common::enum_value(
            Some(effect),
            &path.child("effect"),
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            false,
        ));
    }
    errs
}

fn validate_affinity(affinity: &Affinity, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(node) = &affinity.node_affinity {
        let node_path = path.child("nodeAffinity");
        if let Some(required) = &node.required_during_scheduling_ignored_during_execution {
            let terms_path =
                node_path.child("requiredDuringSchedulingIgnoredDuringExecution").child("nodeSelectorTerms");
            if required.node_selector_terms.is_empty() {
                errs.push(FieldError::required(&terms_path, "must have at least one node selector term"));
            }
            for (i, term) in required.node_selector_terms.iter().enumerate() {
                errs.extend(validate_node_selector_term(term, &terms_path.index(i)));
            }
        }
        let preferred_path = node_path.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, preferred) in node.preferred_during_scheduling_ignored_during_execution.iter().flatten().enumerate() {
            errs.extend(validate_weight(preferred.weight, &preferred_path.index(i).child("weight")));
            errs.extend(validate_node_selector_term(
                &preferred.preference,
                &preferred_path.index(i).child("preference"),
            ));
        }
    }
    let pod_terms = [
        (
            "podAffinity",
            affinity.pod_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
        (
            "podAntiAffinity",
            affinity.pod_anti_affinity.as_ref().map(|a| {
                (
                    &a.required_during_scheduling_ignored_during_execution,
                    &a.preferred_during_scheduling_ignored_during_execution,
                )
            }),
        ),
    ];
    for (name, terms) in pod_terms {
        let Some((required, preferred)) = terms else { continue };
        let base = path.child(name);
        for (i, term) in required.iter().flatten().enumerate() {
            errs.extend(validate_pod_affinity_term(
                term,
                &base.child("requiredDuringSchedulingIgnoredDuringExecution").index(i),
            ));
        }
        for (i, weighted) in preferred.iter().flatten().enumerate() {
            let weighted_path = base.child("preferredDuringSchedulingIgnoredDuringExecution").index(i);
            errs.extend(validate_weight(weighted.weight, &weighted_path.child("weight")));
            errs.extend(validate_pod_affinity_term(
                &weighted.pod_affinity_term,
                &weighted_path.child("podAffinityTerm"),
            ));
        }
    }
    errs
}

fn validate_weight(weight: i32, path: &FieldPath) -> Vec<FieldError> {
    if (1..=100).contains(&weight) {
        Vec::new()
    } else {
        vec![FieldError::invalid(path, weight, "must be in the range 1-100")]
    }
}

fn validate_node_selector_term(term: &NodeSelectorTerm, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, req) in term.match_expressions.iter().flatten().enumerate() {
        errs.extend(validate_node_selector_requirement(req, &path.child("matchExpressions").index(i)));
    }
    errs
}

fn validate_node_selector_requirement(req: &NodeSelectorRequirement, path: &FieldPath) -> Vec<FieldError> {
    let values = req.values.as_deref().unwrap_or_default();
    let mut errs = match req.operator.as_str() {
        "In" | "NotIn" if values.is_empty() => {
            vec![FieldError::required(path.child("values"), "must be specified when `operator` is 'In' or 'NotIn'")]
        }
        "Exists" | "DoesNotExist" if !values.is_empty() => vec![FieldError::forbidden(
            path.child("values"),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )],
        "Gt" | "Lt" if values.len() != 1 => vec![FieldError::required(
            path.child("values"),
            "must be specified single value when `operator` is 'Lt' or 'Gt'",
        )],
        "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => Vec::new(),
        other => vec![FieldError::invalid(path.child("operator"), other, "not a valid selector operator")],
    };
    errs.extend(common::qualified_name(&req.key, &path.child("key")));
    errs
}

fn validate_pod_affinity_term(term: &PodAffinityTerm, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(selector) = &term.label_selector {
        errs.extend(common::label_selector(selector, &path.child("labelSelector")));
    }
    if let Some(selector) = &term.namespace_selector {
        errs.extend(common::label_selector(selector, &path.child("namespaceSelector")));
    }
    if term.topology_key.is_empty() {
        errs.push(FieldError::required(path.child("topologyKey"), "can not be empty"));
    } else {
        errs.extend(common::qualified_name(&term.topology_key, &path.child("topologyKey")));
    }
    errs
}

fn validate_spread_constraint(constraint: &TopologySpreadConstraint, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if constraint.max_skew <= 0 {
        errs.push(FieldError::invalid(path.child("maxSkew"), constraint.max_skew, "must be greater than zero"));
    }
    if constraint.topology_key.is_empty() {
        errs.push(FieldError::required(path.child("topologyKey"), "can not be empty"));
    } else {
        errs.extend(common::qualified_name(&constraint.topology_key, &path.child("topologyKey")));
    }
    errs.extend(common::enum_value(
        Some(&constraint.when_unsatisfiable),
        &path.child("whenUnsatisfiable"),
        &["DoNotSchedule", "ScheduleAnyway"],
        true,
    ));
    if let Some(selector) = &constraint.label_selector {
        errs.extend(common::label_selector(selector, &path.child("labelSelector")));
    }
    errs
}

// --- volumes ---

/// Validates volumes; returns the errors and the names of the valid ones (mounts may refer to those).
fn validate_volumes<'a>(volumes: &'a [Volume], path: &FieldPath) -> (Vec<FieldError>, HashSet<&'a str>) {
    let mut errs = Vec::new();
    let mut names = HashSet::new();
    for (i, volume) in volumes.iter().enumerate() {
        let volume_path = path.index(i);
        let name_path = volume_path.child("name");
        let mut volume_errs = validate_volume_source(volume, &volume_path);
        if volume.name.is_empty() {
            volume_errs.push(FieldError::required(&name_path, ""));
        } else {
            volume_errs.extend(common::dns1123_label(&volume.name, &name_path));
        }
        if names.contains(volume.name.as_str()) {
            volume_errs.push(FieldError::duplicate(&name_path, volume.name.as_str()));
        }
        if volume_errs.is_empty() {
            names.insert(volume.name.as_str());
        }
        errs.extend(volume_errs);
    }
    (errs, names)
}

fn validate_volume_source(volume: &Volume, path: &FieldPath) -> Vec<FieldError> {
    let sources = volume_sources(volume);
    let Some(first) = sources.first() else {
        return vec![FieldError::required(path, "must specify a volume type")];
    };
    let mut errs: Vec<FieldError> = sources[1..]
        .iter()
        .map(|extra| FieldError::forbidden(path.child(extra), "may not specify more than 1 volume type"))
        .collect();
    errs.extend(validate_known_source(volume, &path.child(first)));
    errs
}

/// The checks for the common volume sources; others are accepted as they are.
fn validate_known_source(volume: &Volume, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(host_path) = &volume.host_path {
        errs.extend(required_string(&host_path.path, &path.child("path")));
        errs.extend(no_backsteps(&host_path.path, &path.child("path")));
        let types =
            ["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"];
        errs.extend(common::enum_value(host_path.type_.as_deref(), &path.child("type"), &types[1..], false));
    }
    if let Some(secret) = &volume.secret {
        errs.extend(required_string(secret.secret_name.as_deref().unwrap_or_default(), &path.child("secretName")));
        errs.extend(file_mode(secret.default_mode, &path.child("defaultMode")));
        errs.extend(validate_items(secret.items.as_deref(), &path.child("items")));
    }
    if let Some(config_map) = &volume.config_map {
        errs.extend(required_string(&config_map.name, &path.child("name")));
        errs.extend(file_mode(config_map.default_mode, &path.child("defaultMode")));
        errs.extend(validate_items(config_map.items.as_deref(), &path.child("items")));
    }
    if let Some(claim) = &volume.persistent_volume_claim {
        errs.extend(required_string(&claim.claim_name, &path.child("claimName")));
    }
    if let Some(nfs) = &volume.nfs {
        errs.extend(required_string(&nfs.server, &path.child("server")));
        errs.extend(required_string(&nfs.path, &path.child("path")));
        if !nfs.path.is_empty() && !nfs.path.starts_with('/') {
            errs.push(FieldError::invalid(path.child("path"), nfs.path.as_str(), "must be an absolute path"));
        }
    }
    if let Some(csi) = &volume.csi {
        errs.extend(required_string(&csi.driver, &path.child("driver")));
    }
    if let Some(empty_dir) = &volume.empty_dir {
        let negative =
            empty_dir.size_limit.as_ref().and_then(|q| parse_quantity(&q.0)).is_some_and(|q| q.is_negative());
        if negative {
            errs.push(FieldError::forbidden(
                path.child("sizeLimit"),
                "SizeLimit field must be a valid resource quantity",
            ));
        }
    }
    if let Some(projected) = &volume.projected {
        errs.extend(file_mode(projected.default_mode, &path.child("defaultMode")));
    }
    if let Some(downward) = &volume.downward_api {
        errs.extend(file_mode(downward.default_mode, &path.child("defaultMode")));
    }
    if let Some(ephemeral) = &volume.ephemeral {
        if ephemeral.volume_claim_template.is_none() {
            errs.push(FieldError::required(path.child("volumeClaimTemplate"), ""));
        }
    }
    errs
}

fn required_string(value: &str, path: &FieldPath) -> Vec<FieldError> {
    if value.is_empty() {
        vec![FieldError::required(path, "")]
    } else {
        Vec::new()
    }
}

fn file_mode(mode: Option<i32>, path: &FieldPath) -> Vec<FieldError> {
    match mode {
        Some(m) if !(0..=0o777).contains(&m) => vec![FieldError::invalid(path, m, FILE_MODE_MSG)],
        _ => Vec::new(),
    }
}

fn no_backsteps(target: &str, path: &FieldPath) -> Vec<FieldError> {
    if target.split(['/', '\\']).any(|part| part == "..") {
        vec![FieldError::invalid(path, target, "must not contain '..'")]
    } else {
        Vec::new()
    }
}

/// A path inside a volume: relative and not climbing out.
pub fn local_descending_path(target: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if target.starts_with('/') {
        errs.push(FieldError::invalid(path, target, "must be a relative path"));
    }
    errs.extend(no_backsteps(target, path));
    errs
}

fn validate_items(items: Option<&[KeyToPath]>, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, item) in items.unwrap_or_default().iter().enumerate() {
        let item_path = path.index(i);
        errs.extend(required_string(&item.key, &item_path.child("key")));
        errs.extend(required_string(&item.path, &item_path.child("path")));
        errs.extend(local_descending_path(&item.path, &item_path.child("path")));
        if item.path.starts_with("..") && item.path != ".." {
            errs.push(FieldError::invalid(item_path.child("path"), item.path.as_str(), "must not start with '..'"));
        }
        errs.extend(file_mode(item.mode, &item_path.child("mode")));
    }
    errs
}

// --- updates ---

/// `ValidatePodUpdate`: only images, `activeDeadlineSeconds`, added tolerations and a fixed-up
/// negative grace period may change.
pub fn validate_pod_spec_update(new: &PodSpec, old: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = validate_deadline_update(new.active_deadline_seconds, old.active_deadline_seconds, path);
    errs.extend(validate_tolerations_only_added(new, old, &path.child("tolerations")));
    let mut munged = new.clone();
    for (container, old_container) in munged.containers.iter_mut().zip(&old.containers) {
        container.image.clone_from(&old_container.image);
    }
    let old_init = old.init_containers.as_deref().unwrap_or_default();
    for (container, old_container) in munged.init_containers.iter_mut().flatten().zip(old_init) {
        container.image.clone_from(&old_container.image);
    }
    munged.active_deadline_seconds = old.active_deadline_seconds;
    munged.tolerations.clone_from(&old.tolerations);
    // Ephemeral containers change through their own subresource.
    munged.ephemeral_containers.clone_from(&old.ephemeral_containers);
    if old.termination_grace_period_seconds.is_some_and(|g| g < 0) && new.termination_grace_period_seconds == Some(1) {
        munged.termination_grace_period_seconds = old.termination_grace_period_seconds;
    }
    if !common::semantic_eq(&munged, old) {
        errs.push(FieldError::forbidden(path, UPDATABLE_POD_FIELDS));
    }
    errs
}

fn validate_deadline_update(new: Option<i64>, old: Option<i64>, path: &FieldPath) -> Vec<FieldError> {
    let deadline_path = path.child("activeDeadlineSeconds");
    match (new, old) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            vec![FieldError::invalid(deadline_path, n, names::inclusive_range_error(0, i64::from(i32::MAX)))]
        }
        (Some(n), Some(o)) if o < n => {
            vec![FieldError::invalid(deadline_path, n, "must be less than or equal to previous value")]
        }
        (None, Some(_)) => vec![FieldError::invalid(
            deadline_path,
            Value::Null,
            "must not update from a positive integer to nil value",
        )],
        _ => Vec::new(),
    }
}

fn validate_tolerations_only_added(new: &PodSpec, old: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    let new_list = new.tolerations.as_deref().unwrap_or_default();
    let kept = |old_t: &Toleration| {
        new_list.iter().any(|t| {
            let same_seconds = match (t.toleration_seconds, old_t.toleration_seconds) {
                (Some(n), Some(o)) => n <= o,
                (n, o) => n == o,
            };
            t.key == old_t.key
                && t.operator == old_t.operator
                && t.value == old_t.value
                && t.effect == old_t.effect
                && same_seconds
        })
    };
    if old.tolerations.iter().flatten().all(kept) {
        Vec::new()
    } else {
        vec![FieldError::forbidden(path, "existing toleration can not be modified except its tolerationSeconds")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json as j;

    fn spec(value: Value) -> PodSpec {
        serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"))
    }

    fn defaulted(value: Value) -> PodSpec {
        let mut s = spec(value);
        default_pod_spec(&mut s);
        s
    }

    fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    fn fields(errs: &[FieldError]) -> Vec<&str> {
        errs.iter().map(|e| e.field.as_str()).collect()
    }

    fn web_spec() -> Value {
        j!({
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}, {"name": "cache"}],
            "initContainers": [{"name": "init", "image": "busybox:1.36", "command": ["sh", "-c", "true"]}],
            "containers": [{
                "name": "web", "image": "nginx",
                "ports": [{"name": "http", "containerPort": 80}],
                "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}, {"name": "MODE", "value": "prod"}],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": 1, "memory": "128Mi"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "cache", "mountPath": "/cache"}],
                "livenessProbe": {"httpGet": {"port": "http"}},
                "readinessProbe": {"tcpSocket": {"port": 80}}
            }],
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}],
            "nodeSelector": {"kubernetes.io/os": "linux"}
        })
    }

    #[test]
    fn defaults_match_kubernetes() {
        let s = defaulted(web_spec());
        let v = json(&s);
        assert_eq!(v["restartPolicy"], "Always");
        assert_eq!(v["dnsPolicy"], "ClusterFirst");
        assert_eq!(v["schedulerName"], "default-scheduler");
        assert_eq!(v["terminationGracePeriodSeconds"], 30);
        assert_eq!(v["securityContext"], j!({}));
        assert!(v.get("enableServiceLinks").is_none(), "templates do not get enableServiceLinks");
        let c = &v["containers"][0];
        assert_eq!(c["imagePullPolicy"], "Always");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c["terminationMessagePolicy"], "File");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(
            c["livenessProbe"],
            j!({"httpGet": {"port": "http", "path": "/", "scheme": "HTTP"}, "failureThreshold": 3, "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1})
        );
        assert_eq!(v["initContainers"][0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(v["volumes"][1]["emptyDir"], j!({}));
    }

    #[test]
    fn pull_policy_follows_the_tag() {
        assert_eq!(default_pull_policy("nginx"), "Always");
        assert_eq!(default_pull_policy("nginx:latest"), "Always");
        assert_eq!(default_pull_policy("nginx:1.27"), "IfNotPresent");
        assert_eq!(default_pull_policy("localhost:5000/app"), "Always");
        assert_eq!(default_pull_policy("localhost:5000/app:v2"), "IfNotPresent");
        assert_eq!(default_pull_policy("nginx@sha256:abcd"), "IfNotPresent");
    }

    #[test]
    fn pod_only_defaults() {
        let mut s = spec(
            j!({"hostNetwork": true, "containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 53}], "resources": {"limits": {"cpu": "1"}}}]}),
        );
        default_pod_only(&mut s);
        let v = json(&s);
        assert_eq!(v["enableServiceLinks"], true);
        assert_eq!(v["containers"][0]["ports"][0]["hostPort"], 53);
        assert_eq!(v["containers"][0]["resources"]["requests"], j!({"cpu": "1"}));
    }

    #[test]
    fn valid_spec_passes() {
        assert_eq!(messages(&validate_pod_spec(&defaulted(web_spec()), &FieldPath::new("spec"))), Vec::<String>::new());
    }

    #[test]
    fn pod_settings() {
        let s = spec(j!({
            "containers": [{"name": "a", "image": "x", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"}],
            "restartPolicy": "Sometimes", "dnsPolicy": "None", "activeDeadlineSeconds": 0,
            "tolerations": [{"operator": "Equal", "value": "x"}, {"key": "k", "operator": "Exists", "value": "v", "tolerationSeconds": 5, "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In"}]}]}}}
        }));
        let errs = validate_pod_spec(&s, &FieldPath::new("spec"));
        assert_eq!(
            fields(&errs),
            vec![
                "spec.restartPolicy",
                "spec.dnsConfig",
                "spec.activeDeadlineSeconds",
                "spec.tolerations[0].operator",
                "spec.tolerations[1].effect",
                "spec.tolerations[1].operator",
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values"
            ]
        );
        assert_eq!(errs[0].message(), "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"");
    }

    #[test]
    fn templates_check_labels_and_ephemeral_containers() {
        let template: PodTemplateSpec = serde_json::from_value(j!({
            "metadata": {"labels": {"app": "bad value!"}},
            "spec": {"containers": [{"name": "a", "image": "x"}], "ephemeralContainers": [{"name": "debug", "image": "busybox"}]}
        }))
        .unwrap_or_default();
        let mut template = template;
        default_pod_template(&mut template);
        let errs = validate_pod_template(&template, &FieldPath::new("spec").child("template"));
        assert_eq!(fields(&errs), vec!["spec.template.labels", "spec.template.spec.ephemeralContainers"]);
    }

    #[test]
    fn updates_allow_only_mutable_fields() {
        let old = defaulted(
            j!({"activeDeadlineSeconds": 100, "containers": [{"name": "a", "image": "x:1"}], "tolerations": [{"key": "k", "operator": "Exists"}]}),
        );
        let mut new = old.clone();
        new.containers[0].image = Some("x:2".into());
        new.active_deadline_seconds = Some(50);
        new.tolerations
            .get_or_insert_with(Vec::new)
            .push(Toleration { operator: Some("Exists".into()), ..Default::default() });
        assert!(validate_pod_spec_update(&new, &old, &FieldPath::new("spec")).is_empty());

        new.restart_policy = Some("Never".into());
        new.active_deadline_seconds = Some(200);
        new.tolerations = None;
        let errs = validate_pod_spec_update(&new, &old, &FieldPath::new("spec"));
        assert_eq!(fields(&errs), vec!["spec.activeDeadlineSeconds", "spec.tolerations", "spec"]);
        assert!(errs[2].detail.starts_with("pod updates may not change fields other than `spec.containers[*].image`"));
    }
}

//! `apps/v1`: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision.

use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, Deployment, DeploymentSpec,
    DeploymentStrategy, ReplicaSet, ReplicaSetSpec, RollingUpdateDaemonSet, RollingUpdateDeployment,
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{PersistentVolumeClaimVolumeSource, PodTemplateSpec, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::common::{self, json};
use super::core::workload_template_rules;
use super::field_error::FieldError;
use super::path::FieldPath;
use super::pod;
use super::storage;
use super::Builtin;

const STATEFULSET_UPDATE_MSG: &str = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

fn percent(value: &str) -> Option<IntOrString> {
    Some(IntOrString::String(value.to_string()))
}

/// Selector present, well-formed and matching the template; the template valid for a
/// controller that keeps pods running.
fn selector_and_template(selector: &LabelSelector, template: &PodTemplateSpec, kind: &str) -> Vec<FieldError> {
    let spec_path = FieldPath::new("spec");
    let template_path = spec_path.child("template");
    let mut errs = Vec::new();
    if common::selector_is_empty(selector) {
        errs.push(FieldError::required(spec_path.child("selector"), ""));
    } else {
        errs.extend(common::label_selector(selector, &spec_path.child("selector")));
        let labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
        errs.extend(common::selector_matches_template(
            selector,
            labels,
            &template_path.child("metadata").child("labels"),
        ));
    }
    errs.extend(pod::validate_pod_template(template, &template_path));
    errs.extend(workload_template_rules(template.spec.as_ref(), &template_path, kind));
    errs
}

fn selector_immutable(new: &LabelSelector, old: &LabelSelector) -> Vec<FieldError> {
    common::immutable(new, old, &FieldPath::new("spec").child("selector"))
}

// --- Deployment ---

impl Builtin for Deployment {
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(DeploymentSpec::default);
        spec.replicas.get_or_insert(1);
        let strategy = spec.strategy.get_or_insert_with(DeploymentStrategy::default);
        if strategy.type_.as_deref().is_none_or(str::is_empty) {
            strategy.type_ = Some("RollingUpdate".to_string());
        }
        if strategy.type_.as_deref() == Some("RollingUpdate") {
            let rolling = strategy.rolling_update.get_or_insert_with(RollingUpdateDeployment::default);
            rolling.max_unavailable = rolling.max_unavailable.take().or_else(|| percent("25%"));
            rolling.max_surge = rolling.max_surge.take().or_else(|| percent("25%"));
        }
        spec.revision_history_limit.get_or_insert(10);
        spec.progress_deadline_seconds.get_or_insert(600);
        pod::default_pod_template(&mut spec.template);
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let spec = self.spec.clone().unwrap_or_default();
        let path = FieldPath::new("spec");
        let mut errs = common::non_negative_opt(spec.replicas, &path.child("replicas"));
        errs.extend(selector_and_template(&spec.selector, &spec.template, "ReplicaSet"));
        errs.extend(deployment_strategy(spec.strategy.as_ref(), &path.child("strategy")));
        errs.extend(common::non_negative_opt(spec.min_ready_seconds, &path.child("minReadySeconds")));
        errs.extend(common::non_negative_opt(spec.revision_history_limit, &path.child("revisionHistoryLimit")));
        if let Some(deadline) = spec.progress_deadline_seconds {
            errs.extend(common::non_negative(i64::from(deadline), &path.child("progressDeadlineSeconds")));
            if deadline <= spec.min_ready_seconds.unwrap_or(0) {
                errs.push(FieldError::invalid(
                    path.child("progressDeadlineSeconds"),
                    deadline,
                    "must be greater than minReadySeconds",
                ));
            }
        }
        if let Some(old) = old {
            errs.extend(selector_immutable(&spec.selector, &old.spec.clone().unwrap_or_default().selector));
        }
        errs
    }
}

fn deployment_strategy(strategy: Option<&DeploymentStrategy>, path: &FieldPath) -> Vec<FieldError> {
    let Some(strategy) = strategy else { return Vec::new() };
    match (strategy.type_.as_deref(), &strategy.rolling_update) {
        (Some("Recreate"), Some(_)) => vec![FieldError::forbidden(
            path.child("rollingUpdate"),
            "may not be specified when strategy `type` is 'Recreate'",
        )],
        (Some("Recreate"), None) => Vec::new(),
        (Some("RollingUpdate"), None) => {
            vec![FieldError::required(path.child("rollingUpdate"), "this should be defaulted and never be nil")]
        }
        (Some("RollingUpdate"), Some(rolling)) => rolling_update_deployment(rolling, &path.child("rollingUpdate")),
        _ => vec![FieldError::not_supported(path, json(strategy), &["Recreate", "RollingUpdate"])],
    }
}

fn rolling_update_deployment(rolling: &RollingUpdateDeployment, path: &FieldPath) -> Vec<FieldError> {
    let zero = IntOrString::Int(0);
    let unavailable = rolling.max_unavailable.as_ref().unwrap_or(&zero);
    let surge = rolling.max_surge.as_ref().unwrap_or(&zero);
    let mut errs = common::int_or_percent(unavailable, &path.child("maxUnavailable"));
    errs.extend(common::int_or_percent(surge, &path.child("maxSurge")));
    if common::int_or_percent_value(unavailable) == 0 && common::int_or_percent_value(surge) == 0 {
        errs.push(FieldError::invalid(
            path.child("maxUnavailable"),
            json(unavailable),
            "may not be 0 when `maxSurge` is 0",
        ));
    }
    errs.extend(common::not_more_than_100_percent(unavailable, &path.child("maxUnavailable")));
    errs
}

// --- ReplicaSet ---

impl Builtin for ReplicaSet {
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(ReplicaSetSpec::default);
        spec.replicas.get_or_insert(1);
        if let Some(template) = &mut spec.template {
            pod::default_pod_template(template);
        }
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let spec = self.spec.clone().unwrap_or_default();
        let path = FieldPath::new("spec");
        let mut errs = common::non_negative_opt(spec.replicas, &path.child("replicas"));
        errs.extend(common::non_negative_opt(spec.min_ready_seconds, &path.child("minReadySeconds")));
        match &spec.template {
            Some(template) => errs.extend(selector_and_template(&spec.selector, template, "ReplicaSet")),
            None => errs.push(FieldError::required(path.child("template"), "")),
        }
        if let Some(old) = old {
            errs.extend(selector_immutable(&spec.selector, &old.spec.clone().unwrap_or_default().selector));
        }
        errs
    }
}

// --- StatefulSet ---

impl Builtin for StatefulSet {
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(StatefulSetSpec::default);
        if spec.pod_management_policy.as_deref().is_none_or(str::is_empty) {
            spec.pod_management_policy = Some("OrderedReady".to_string());
        }
        let strategy = spec.update_strategy.get_or_insert_with(StatefulSetUpdateStrategy::default);
        if strategy.type_.as_deref().is_none_or(str::is_empty) {
            strategy.type_ = Some("RollingUpdate".to_string());
            strategy.rolling_update.get_or_insert_with(RollingUpdateStatefulSetStrategy::default);
        }
        if let Some(rolling) =
            strategy.rolling_update.as_mut().filter(|_| strategy.type_.as_deref() == Some("RollingUpdate"))
        {
            rolling.partition.get_or_insert(0);
        }
        let retention = spec
            .persistent_volume_claim_retention_policy
            .get_or_insert_with(StatefulSetPersistentVolumeClaimRetentionPolicy::default);
        retention.when_deleted.get_or_insert_with(|| "Retain".to_string());
        retention.when_scaled.get_or_insert_with(|| "Retain".to_string());
        spec.replicas.get_or_insert(1);
        spec.revision_history_limit.get_or_insert(10);
        pod::default_pod_template(&mut spec.template);
        for claim in spec.volume_claim_templates.iter_mut().flatten() {
            storage::default_pvc_spec(claim.spec.get_or_insert_with(Default::default));
        }
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let spec = self.spec.clone().unwrap_or_default();
        let path = FieldPath::new("spec");
        let policy_path = path.child("podManagementPolicy");
        let mut errs = match spec.pod_management_policy.as_deref() {
            None | Some("") => vec![FieldError::required(policy_path, "")],
            Some("OrderedReady" | "Parallel") => Vec::new(),
            Some(other) => vec![FieldError::invalid(policy_path, other, "must be 'OrderedReady' or 'Parallel'")],
        };
        errs.extend(statefulset_strategy(spec.update_strategy.as_ref(), &path.child("updateStrategy")));
        errs.extend(retention_policy(spec.persistent_volume_claim_retention_policy.as_ref(), &path));
        errs.extend(common::non_negative_opt(spec.replicas, &path.child("replicas")));
        errs.extend(common::non_negative_opt(spec.min_ready_seconds, &path.child("minReadySeconds")));
        errs.extend(common::non_negative_opt(
            spec.ordinals.as_ref().and_then(|o| o.start),
            &path.child("ordinals").child("start"),
        ));
        errs.extend(selector_and_template(&spec.selector, &with_claim_volumes(&spec), "StatefulSet"));
        for (i, claim) in spec.volume_claim_templates.iter().flatten().enumerate() {
            let claim_path = path.child("volumeClaimTemplates").index(i);
            errs.extend(storage::validate_pvc_spec(&claim.spec.clone().unwrap_or_default(), &claim_path.child("spec")));
        }
        if let Some(old) = old {
            errs.extend(statefulset_update(&spec, &old.spec.clone().unwrap_or_default()));
        }
        errs
    }
}

/// The template as its pods will see it: claim templates become volumes mounts may use.
fn with_claim_volumes(spec: &StatefulSetSpec) -> PodTemplateSpec {
    let mut template = spec.template.clone();
    let pod_spec = template.spec.get_or_insert_with(Default::default);
    let volumes = pod_spec.volumes.get_or_insert_with(Vec::new);
    for claim in spec.volume_claim_templates.iter().flatten() {
        let name = claim.metadata.name.clone().unwrap_or_default();
        if !volumes.iter().any(|v| v.name == name) {
            let source = PersistentVolumeClaimVolumeSource { claim_name: name.clone(), read_only: None };
            volumes.push(Volume { name, persistent_volume_claim: Some(source), ..Default::default() });
        }
    }
    template
}

fn statefulset_strategy(strategy: Option<&StatefulSetUpdateStrategy>, path: &FieldPath) -> Vec<FieldError> {
    let strategy = strategy.cloned().unwrap_or_default();
    match strategy.type_.as_deref() {
        None | Some("") => vec![FieldError::required(path, "")],
        Some("OnDelete") if strategy.rolling_update.is_some() => vec![FieldError::invalid(
            path.child("rollingUpdate"),
            json(&strategy.rolling_update),
            "only allowed for updateStrategy 'RollingUpdate'",
        )],
        Some("OnDelete") => Vec::new(),
        Some("RollingUpdate") => {
            let rolling = strategy.rolling_update.unwrap_or_default();
            let rolling_path = path.child("rollingUpdate");
            let mut errs = common::non_negative_opt(rolling.partition, &rolling_path.child("partition"));
            if let Some(max) = &rolling.max_unavailable {
                errs.extend(common::int_or_percent(max, &rolling_path.child("maxUnavailable")));
            }
            errs
        }
        Some(_) => vec![FieldError::invalid(path, json(&strategy), "must be 'RollingUpdate' or 'OnDelete'")],
    }
}

fn retention_policy(
    policy: Option<&StatefulSetPersistentVolumeClaimRetentionPolicy>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let Some(policy) = policy else { return Vec::new() };
    let policy_path = path.child("persistentVolumeClaimRetentionPolicy");
    let mut errs = Vec::new();
    for (field, value) in [("whenDeleted", &policy.when_deleted), ("whenScaled", &policy.when_scaled)] {
        errs.extend(common::enum_value(value.as_deref(), &policy_path.child(field), &["Retain", "Delete"], true));
    }
    errs
}

/// Only replicas, ordinals, template, update strategy, history limit, claim retention and
/// minReadySeconds may change.
fn statefulset_update(new: &StatefulSetSpec, old: &StatefulSetSpec) -> Vec<FieldError> {
    let mut masked = new.clone();
    masked.replicas = old.replicas;
    masked.ordinals.clone_from(&old.ordinals);
    masked.template.clone_from(&old.template);
    masked.update_strategy.clone_from(&old.update_strategy);
    masked.revision_history_limit = old.revision_history_limit;
    masked.persistent_volume_claim_retention_policy.clone_from(&old.persistent_volume_claim_retention_policy);
    masked.min_ready_seconds = old.min_ready_seconds;
    if common::semantic_eq(&masked, old) {
        Vec::new()
    } else {
        vec![FieldError::forbidden("spec", STATEFULSET_UPDATE_MSG)]
    }
}

// --- DaemonSet ---

impl Builtin for DaemonSet {
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(DaemonSetSpec::default);
        let strategy = spec.update_strategy.get_or_insert_with(DaemonSetUpdateStrategy::default);
        if strategy.type_.as_deref().is_none_or(str::is_empty) {
            strategy.type_ = Some("RollingUpdate".to_string());
        }
        if strategy.type_.as_deref() == Some("RollingUpdate") {
            let rolling = strategy.rolling_update.get_or_insert_with(RollingUpdateDaemonSet::default);
            rolling.max_unavailable.get_or_insert(IntOrString::Int(1));
            rolling.max_surge.get_or_insert(IntOrString::Int(0));
        }
        spec.revision_history_limit.get_or_insert(10);
        pod::default_pod_template(&mut spec.template);
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let spec = self.spec.clone().unwrap_or_default();
        let path = FieldPath::new("spec");
        let mut errs = selector_and_template(&spec.selector, &spec.template, "DaemonSet");
        errs.extend(common::non_negative_opt(spec.min_ready_seconds, &path.child("minReadySeconds")));
        errs.extend(daemonset_strategy(spec.update_strategy.as_ref(), &path.child("updateStrategy")));
        errs.extend(common::non_negative_opt(spec.revision_history_limit, &path.child("revisionHistoryLimit")));
        if let Some(old) = old {
            errs.extend(selector_immutable(&spec.selector, &old.spec.clone().unwrap_or_default().selector));
        }
        errs
    }
}

fn daemonset_strategy(strategy: Option<&DaemonSetUpdateStrategy>, path: &FieldPath) -> Vec<FieldError> {
    let strategy = strategy.cloned().unwrap_or_default();
    match (strategy.type_.as_deref(), &strategy.rolling_update) {
        (Some("OnDelete"), _) => Vec::new(),
        (Some("RollingUpdate"), None) => vec![FieldError::required(path.child("rollingUpdate"), "")],
        (Some("RollingUpdate"), Some(rolling)) => rolling_update_daemonset(rolling, &path.child("rollingUpdate")),
        _ => vec![FieldError::not_supported(path, json(&strategy), &["RollingUpdate", "OnDelete"])],
    }
}

fn rolling_update_daemonset(rolling: &RollingUpdateDaemonSet, path: &FieldPath) -> Vec<FieldError> {
    let zero = IntOrString::Int(0);
    let unavailable = rolling.max_unavailable.as_ref().unwrap_or(&zero);
    let surge = rolling.max_surge.as_ref().unwrap_or(&zero);
    let mut errs = common::int_or_percent(unavailable, &path.child("maxUnavailable"));
    errs.extend(common::int_or_percent(surge, &path.child("maxSurge")));
    errs.extend(common::not_more_than_100_percent(unavailable, &path.child("maxUnavailable")));
    errs.extend(common::not_more_than_100_percent(surge, &path.child("maxSurge")));
    match (common::int_or_percent_value(unavailable) != 0, common::int_or_percent_value(surge) != 0) {
        (true, true) => errs.push(FieldError::invalid(
            path.child("maxSurge"),
            json(surge),
            "may not be set when maxUnavailable is non-zero",
        )),
        (false, false) => {
            errs.push(FieldError::required(path.child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
        }
        _ => {}
    }
    errs
}

// --- ControllerRevision ---

impl Builtin for ControllerRevision {
    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if self.data.is_none() {
            errs.push(FieldError::required("data", "data is mandatory"));
        }
        errs.extend(common::non_negative(self.revision, &FieldPath::new("revision")));
        if let Some(old) = old {
            errs.extend(common::immutable(&self.data, &old.data, &FieldPath::new("data")));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::{default_builtin, validate_builtin};
    use serde_json::{json as j, Value};

    fn defaulted(kind: &str, mut obj: Value) -> Value {
        default_builtin("apps", kind, &mut obj);
        obj
    }

    fn check(kind: &str, obj: Value, old: Option<Value>) -> Vec<String> {
        let obj = defaulted(kind, obj);
        let old = old.map(|o| defaulted(kind, o));
        validate_builtin("apps", kind, &obj, old.as_ref()).iter().map(FieldError::message).collect()
    }

    fn template() -> Value {
        j!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}})
    }

    fn workload(extra: Value) -> Value {
        let mut spec = j!({"selector": {"matchLabels": {"app": "web"}}, "template": template()});
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        j!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    #[test]
    fn deployment_defaults() {
        let d = defaulted("Deployment", workload(j!({})));
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(
            d["spec"]["strategy"],
            j!({"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"})
        );
        assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
        let recreate = defaulted("Deployment", workload(j!({"strategy": {"type": "Recreate"}})));
        assert_eq!(recreate["spec"]["strategy"], j!({"type": "Recreate"}));
    }

    #[test]
    fn deployment_rules() {
        assert!(check("Deployment", workload(j!({})), None).is_empty());
        let mut no_selector = workload(j!({}));
        no_selector["spec"]["selector"] = j!({});
        assert_eq!(check("Deployment", no_selector, None), vec!["spec.selector: Required value"]);
        let bad = workload(j!({
            "replicas": -1,
            "selector": {"matchLabels": {"app": "api"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}},
            "minReadySeconds": 700
        }));
        let mut bad = bad;
        bad["spec"]["template"]["spec"]["restartPolicy"] = j!("OnFailure");
        assert_eq!(
            check("Deployment", bad, None),
            vec![
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`",
                "spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"",
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
                "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"
            ]
        );
        assert_eq!(
            check("Deployment", workload(j!({"strategy": {"type": "Blue"}})), None),
            vec!["spec.strategy: Unsupported value: {\"type\":\"Blue\"}: supported values: \"Recreate\", \"RollingUpdate\""]
        );
        assert_eq!(
            check("Deployment", workload(j!({"strategy": {"type": "Recreate", "rollingUpdate": {}}})), None),
            vec!["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]
        );
    }

    #[test]
    fn deployment_selector_is_immutable() {
        let old = workload(j!({}));
        let mut new = workload(j!({"selector": {"matchLabels": {"app": "web", "tier": "fe"}}}));
        new["spec"]["template"]["metadata"]["labels"]["tier"] = j!("fe");
        assert_eq!(
            check("Deployment", new, Some(old)),
            vec![
                "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"tier\":\"fe\"}}: field is immutable"
            ]
        );
    }

    #[test]
    fn replica_sets() {
        assert_eq!(defaulted("ReplicaSet", workload(j!({})))["spec"]["replicas"], 1);
        assert!(check("ReplicaSet", workload(j!({})), None).is_empty());
        let mut bad = workload(j!({"minReadySeconds": -5}));
        bad["spec"]["template"]["spec"]["activeDeadlineSeconds"] = j!(30);
        assert_eq!(
            check("ReplicaSet", bad, None),
            vec![
                "spec.minReadySeconds: Invalid value: -5: must be greater than or equal to 0",
                "spec.template.spec.activeDeadlineSeconds: Invalid value: 30: activeDeadlineSeconds in ReplicaSet is not Supported"
            ]
        );
    }

    fn statefulset() -> Value {
        let mut sts = workload(j!({
            "serviceName": "web",
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
        }));
        sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = j!([{"name": "data", "mountPath": "/data"}]);
        sts
    }

    #[test]
    fn statefulset_defaults_and_rules() {
        let s = defaulted("StatefulSet", statefulset());
        assert_eq!(s["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(s["spec"]["updateStrategy"], j!({"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"}));
        assert_eq!(
            s["spec"]["persistentVolumeClaimRetentionPolicy"],
            j!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(s["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"], "Filesystem");
        assert!(check("StatefulSet", statefulset(), None).is_empty());

        let mut bad = statefulset();
        bad["spec"]["podManagementPolicy"] = j!("Random");
        bad["spec"]["updateStrategy"] = j!({"type": "OnDelete", "rollingUpdate": {"partition": 1}});
        bad["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"] = j!([]);
        assert_eq!(
            check("StatefulSet", bad, None),
            vec![
                "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
                "spec.updateStrategy.rollingUpdate: Invalid value: {\"partition\":1}: only allowed for updateStrategy 'RollingUpdate'",
                "spec.volumeClaimTemplates[0].spec.accessModes: Required value: at least 1 access mode is required"
            ]
        );
    }

    #[test]
    fn statefulset_updates() {
        let old = statefulset();
        let mut scaled = statefulset();
        scaled["spec"]["replicas"] = j!(5);
        scaled["spec"]["template"]["spec"]["containers"][0]["image"] = j!("nginx:1.28");
        assert!(check("StatefulSet", scaled, Some(old.clone())).is_empty());
        let mut resized = statefulset();
        resized["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = j!("2Gi");
        assert_eq!(
            check("StatefulSet", resized, Some(old)),
            vec![format!("spec: Forbidden: {STATEFULSET_UPDATE_MSG}")]
        );
    }

    #[test]
    fn daemonsets() {
        let d = defaulted("DaemonSet", workload(j!({})));
        assert_eq!(
            d["spec"]["updateStrategy"],
            j!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}, "type": "RollingUpdate"})
        );
        assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
        assert!(check("DaemonSet", workload(j!({})), None).is_empty());
        let bad = workload(
            j!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "150%"}}}),
        );
        assert_eq!(
            check("DaemonSet", bad, None),
            vec![
                "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: \"150%\": must not be greater than 100%",
                "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: \"150%\": may not be set when maxUnavailable is non-zero"
            ]
        );
        assert_eq!(
            check("DaemonSet", workload(j!({"updateStrategy": {"type": "Sometimes"}})), None),
            vec!["spec.updateStrategy: Unsupported value: {\"type\":\"Sometimes\"}: supported values: \"RollingUpdate\", \"OnDelete\""]
        );
    }

    #[test]
    fn controller_revisions() {
        let rev = j!({"metadata": {"name": "web-1"}, "revision": 1, "data": {"spec": {}}});
        assert!(check("ControllerRevision", rev.clone(), None).is_empty());
        assert_eq!(
            check("ControllerRevision", j!({"metadata": {"name": "r"}, "revision": -1}), None),
            vec![
                "data: Required value: data is mandatory",
                "revision: Invalid value: -1: must be greater than or equal to 0"
            ]
        );
        let changed = j!({"metadata": {"name": "web-1"}, "revision": 1, "data": {"spec": {"x": 1}}});
        assert_eq!(
            check("ControllerRevision", changed, Some(rev)),
            vec!["data: Invalid value: {\"spec\":{\"x\":1}}: field is immutable"]
        );
    }
}

//! `batch/v1`: Job and CronJob.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::common::{self, json};
use super::cron;
use super::field_error::FieldError;
use super::path::FieldPath;
use super::pod;
use super::Builtin;

const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
const JOB_NAME: &str = "batch.kubernetes.io/job-name";
const LEGACY_CONTROLLER_UID: &str = "controller-uid";
const LEGACY_JOB_NAME: &str = "job-name";
/// CronJob names leave room for the 11-character suffix of the Jobs they create.
const MAX_CRONJOB_NAME: usize = 52;
const ZONEINFO: &str = "/usr/share/zoneinfo";

impl Builtin for Job {
    /// Kubernetes' Job defaults, plus the selector the apiserver generates from the Job's UID
    /// (when `metadata.uid` is already set) unless `manualSelector` is true.
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(JobSpec::default);
        default_job_spec(spec);
        if self.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
            self.metadata.labels = spec.template.metadata.as_ref().and_then(|m| m.labels.clone());
        }
        let uid = self.metadata.uid.clone().filter(|u| !u.is_empty());
        let name = self.metadata.name.clone().unwrap_or_default();
        if let Some(uid) = uid.filter(|_| spec.manual_selector != Some(true) && spec.selector.is_none()) {
            generate_selector(spec, &uid, &name);
        }
        pod::default_pod_template(&mut spec.template);
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let spec = self.spec.clone().unwrap_or_default();
        let path = FieldPath::new("spec");
        let mut errs = validate_job_spec(&spec, &path);
        match &spec.selector {
            None => errs.push(FieldError::required(path.child("selector"), "")),
            Some(selector) => {
                errs.extend(common::label_selector(selector, &path.child("selector")));
                let labels = spec.template.metadata.as_ref().and_then(|m| m.labels.as_ref());
                let labels_path = path.child("template").child("metadata").child("labels");
                if common::selector_matches(selector, labels) == Some(false) {
                    errs.push(FieldError::invalid(
                        labels_path,
                        json(&labels),
                        "`selector` does not match template `labels`",
                    ));
                }
            }
        }
        if let Some(old) = old {
            errs.extend(validate_job_update(&spec, old));
        }
        errs
    }

    /// A replaced Job keeps its generated selector and template labels.
    fn prepare_update(&mut self, old: &Self) {
        let (Some(spec), Some(old_spec)) = (self.spec.as_mut(), old.spec.as_ref()) else { return };
        if spec.selector.is_some() || spec.manual_selector == Some(true) {
            return;
        }
        spec.selector.clone_from(&old_spec.selector);
        let old_labels = old_spec.template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
        let labels =
            spec.template.metadata.get_or_insert_with(Default::default).labels.get_or_insert_with(BTreeMap::new);
        for key in [CONTROLLER_UID, JOB_NAME, LEGACY_CONTROLLER_UID, LEGACY_JOB_NAME] {
            if let Some(value) = old_labels.get(key) {
                labels.entry(key.to_string()).or_insert_with(|| value.clone());
            }
        }
    }
}

fn default_job_spec(spec: &mut JobSpec) {
    if spec.completions.is_none() && spec.parallelism.is_none() {
        spec.completions = Some(1);
    }
    spec.parallelism.get_or_insert(1);
    if spec.backoff_limit.is_none() {
        spec.backoff_limit = Some(if spec.backoff_limit_per_index.is_some() { i32::MAX } else { 6 });
    }
    spec.completion_mode.get_or_insert_with(|| "NonIndexed".to_string());
    spec.suspend.get_or_insert(false);
    if spec.pod_replacement_policy.is_none() {
        let policy = if spec.pod_failure_policy.is_some() { "Failed" } else { "TerminatingOrFailed" };
        spec.pod_replacement_policy = Some(policy.to_string());
    }
    let patterns = spec.pod_failure_policy.iter_mut().flat_map(|p| p.rules.iter_mut());
    for pattern in patterns.flat_map(|r| r.on_pod_conditions.iter_mut().flatten()) {
        if pattern.status.is_empty() {
            pattern.status = "True".to_string();
        }
    }
}

/// The apiserver's generated selector: the Job's UID, also stamped on its pod template.
fn generate_selector(spec: &mut JobSpec, uid: &str, name: &str) {
    let metadata = spec.template.metadata.get_or_insert_with(Default::default);
    let labels = metadata.labels.get_or_insert_with(BTreeMap::new);
    for (key, value) in [(CONTROLLER_UID, uid), (JOB_NAME, name), (LEGACY_CONTROLLER_UID, uid), (LEGACY_JOB_NAME, name)]
    {
        labels.insert(key.to_string(), value.to_string());
    }
    let match_labels = BTreeMap::from([(CONTROLLER_UID.to_string(), uid.to_string())]);
    spec.selector = Some(LabelSelector { match_labels: Some(match_labels), match_expressions: None });
}

/// The rules shared by Jobs and CronJob job templates.
fn validate_job_spec(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let counts = [
        ("parallelism", spec.parallelism.map(i64::from)),
        ("completions", spec.completions.map(i64::from)),
        ("activeDeadlineSeconds", spec.active_deadline_seconds),
        ("backoffLimit", spec.backoff_limit.map(i64::from)),
        ("ttlSecondsAfterFinished", spec.ttl_seconds_after_finished.map(i64::from)),
        ("backoffLimitPerIndex", spec.backoff_limit_per_index.map(i64::from)),
    ];
    for (field, value) in counts {
        errs.extend(common::non_negative_opt(value, &path.child(field)));
    }
    let mode = spec.completion_mode.as_deref();
    errs.extend(common::enum_value(mode, &path.child("completionMode"), &["NonIndexed", "Indexed"], false));
    if mode == Some("Indexed") && spec.completions.is_none() {
        errs.push(FieldError::required(path.child("completions"), "when completion mode is Indexed"));
    }
    if spec.backoff_limit_per_index.is_some() && mode != Some("Indexed") {
        errs.push(FieldError::forbidden(path.child("backoffLimitPerIndex"), "requires indexed completion mode"));
    }
    if let Some(policy) = &spec.pod_replacement_policy {
        let allowed = ["TerminatingOrFailed", "Failed"];
        errs.extend(common::enum_value(Some(policy), &path.child("podReplacementPolicy"), &allowed, true));
    }
    errs.extend(validate_pod_failure_policy(spec, path));
    let template_path = path.child("template");
    errs.extend(pod::validate_pod_template(&spec.template, &template_path));
    errs.extend(job_restart_policy(spec, &template_path.child("spec").child("restartPolicy")));
    errs
}

fn validate_pod_failure_policy(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let Some(policy) = &spec.pod_failure_policy else { return Vec::new() };
    let rules_path = path.child("podFailurePolicy").child("rules");
    let actions = ["Count", "FailIndex", "FailJob", "Ignore"];
    let mut errs = Vec::new();
    for (i, rule) in policy.rules.iter().enumerate() {
        let rule_path = rules_path.index(i);
        errs.extend(common::enum_value(Some(&rule.action), &rule_path.child("action"), &actions, true));
        if rule.on_exit_codes.is_some() == rule.on_pod_conditions.is_some() {
            errs.push(FieldError::invalid(
                &rule_path,
                json(rule),
                "specifying one of OnExitCodes and OnPodConditions is required",
            ));
        }
    }
    errs
}

fn job_restart_policy(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let policy = spec.template.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or_default();
    match policy {
        "" | "Always" => vec![FieldError::required(path, "valid values: \"OnFailure\", \"Never\"")],
        "OnFailure" if spec.pod_failure_policy.is_some() => {
            vec![FieldError::invalid(path, policy, "only \"Never\" is supported when podFailurePolicy is specified")]
        }
        "OnFailure" | "Never" => Vec::new(),
        other => vec![FieldError::not_supported(path, other, &["OnFailure", "Never"])],
    }
}

fn validate_job_update(spec: &JobSpec, old: &Job) -> Vec<FieldError> {
    let old_spec = old.spec.clone().unwrap_or_default();
    let path = FieldPath::new("spec");
    let mut errs = common::immutable(&spec.completions, &old_spec.completions, &path.child("completions"));
    errs.extend(common::immutable(&spec.selector, &old_spec.selector, &path.child("selector")));
    errs.extend(template_update(spec, &old_spec, old, &path.child("template")));
    errs.extend(common::immutable(&spec.completion_mode, &old_spec.completion_mode, &path.child("completionMode")));
    errs.extend(common::immutable(
        &spec.pod_failure_policy,
        &old_spec.pod_failure_policy,
        &path.child("podFailurePolicy"),
    ));
    errs.extend(common::immutable(
        &spec.backoff_limit_per_index,
        &old_spec.backoff_limit_per_index,
        &path.child("backoffLimitPerIndex"),
    ));
    errs.extend(common::immutable(&spec.success_policy, &old_spec.success_policy, &path.child("successPolicy")));
    errs.extend(common::immutable(
        &spec.pod_replacement_policy,
        &old_spec.pod_replacement_policy,
        &path.child("podReplacementPolicy"),
    ));
    errs
}

/// The pod template is fixed, except scheduling directives of a suspended Job that never ran.
fn template_update(spec: &JobSpec, old_spec: &JobSpec, old: &Job, path: &FieldPath) -> Vec<FieldError> {
    let never_started = old.status.as_ref().and_then(|s| s.start_time.as_ref()).is_none();
    let mutable_scheduling = old_spec.suspend == Some(true) && never_started;
    if !mutable_scheduling {
        return common::immutable(&spec.template, &old_spec.template, path);
    }
    let strip = |template: &PodTemplateSpec| {
        let mut template = template.clone();
        if let Some(metadata) = &mut template.metadata {
            metadata.labels = None;
            metadata.annotations = None;
        }
        if let Some(pod) = &mut template.spec {
            pod.node_selector = None;
            pod.affinity = None;
            pod.tolerations = None;
            pod.scheduling_gates = None;
        }
        template
    };
    if common::semantic_eq(&strip(&spec.template), &strip(&old_spec.template)) {
        Vec::new()
    } else {
        vec![FieldError::invalid(path, json(&spec.template), common::IMMUTABLE_MSG)]
    }
}

impl Builtin for CronJob {
    fn set_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(CronJobSpec::default);
        spec.concurrency_policy.get_or_insert_with(|| "Allow".to_string());
        spec.suspend.get_or_insert(false);
        spec.successful_jobs_history_limit.get_or_insert(3);
        spec.failed_jobs_history_limit.get_or_insert(1);
        let job_spec = spec.job_template.spec.get_or_insert_with(JobSpec::default);
        pod::default_pod_template(&mut job_spec.template);
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let spec = self.spec.clone().unwrap_or_default();
        let old_spec = old.map(|o| o.spec.clone().unwrap_or_default());
        let path = FieldPath::new("spec");
        let mut errs = Vec::new();
        let name = self.metadata.name.as_deref().unwrap_or_default();
        if name.len() > MAX_CRONJOB_NAME {
            let msg = format!("must be no more than {MAX_CRONJOB_NAME} characters");
            errs.push(FieldError::invalid(FieldPath::new("metadata").child("name"), name, msg));
        }
        errs.extend(validate_schedule(&spec, old_spec.as_ref(), &path.child("schedule")));
        errs.extend(common::non_negative_opt(spec.starting_deadline_seconds, &path.child("startingDeadlineSeconds")));
        if old_spec.as_ref().is_none_or(|o| o.time_zone != spec.time_zone) {
            errs.extend(validate_time_zone(spec.time_zone.as_deref(), &path.child("timeZone")));
        }
        let policies = ["Allow", "Forbid", "Replace"];
        errs.extend(common::enum_value(
            spec.concurrency_policy.as_deref(),
            &path.child("concurrencyPolicy"),
            &policies,
            true,
        ));
        errs.extend(validate_job_template(&spec.job_template, &path.child("jobTemplate")));
        errs.extend(common::non_negative_opt(
            spec.successful_jobs_history_limit,
            &path.child("successfulJobsHistoryLimit"),
        ));
        errs.extend(common::non_negative_opt(spec.failed_jobs_history_limit, &path.child("failedJobsHistoryLimit")));
        errs
    }
}

fn validate_schedule(spec: &CronJobSpec, old: Option<&CronJobSpec>, path: &FieldPath) -> Vec<FieldError> {
    if spec.schedule.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut errs = Vec::new();
    if let Err(msg) = cron::parse_schedule(&spec.schedule) {
        errs.push(FieldError::invalid(path, spec.schedule.as_str(), msg));
    }
    // Schedules stored before timeZone existed may keep their TZ prefix.
    let allow_tz = old.is_some_and(|o| o.schedule.contains("TZ"));
    if spec.schedule.contains("TZ") {
        if !allow_tz {
            let msg = "cannot use TZ or CRON_TZ in schedule, use timeZone field instead";
            errs.push(FieldError::invalid(path, spec.schedule.as_str(), msg));
        } else if spec.time_zone.is_some() {
            let msg = "cannot use both timeZone field and TZ or CRON_TZ in schedule";
            errs.push(FieldError::invalid(path, spec.schedule.as_str(), msg));
        }
    }
    errs
}

fn validate_time_zone(zone: Option<&str>, path: &FieldPath) -> Vec<FieldError> {
    let Some(zone) = zone else { return Vec::new() };
    if zone.is_empty() {
        return vec![FieldError::invalid(path, zone, "timeZone must be nil or non-empty string")];
    }
    let unknown = || vec![FieldError::invalid(path, zone, format!("unknown time zone {zone}"))];
    let part_ok = |part: &str| {
        !matches!(part, "." | "..")
            && !part.starts_with('-')
            && (1..=14).contains(&part.len())
            && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
    };
    if !zone.split('/').all(part_ok) {
        return unknown();
    }
    if zone.eq_ignore_ascii_case("Local") {
        let msg = "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones";
        return vec![FieldError::invalid(path, zone, msg)];
    }
    // The zone database is checked when the machine has one; "UTC" is always known.
    let database = Path::new(ZONEINFO);
    if zone != "UTC" && database.is_dir() && !database.join(zone).is_file() {
        return unknown();
    }
    Vec::new()
}

/// A CronJob's job template: Job rules, but the selector is always generated.
fn validate_job_template(template: &JobTemplateSpec, path: &FieldPath) -> Vec<FieldError> {
    let spec = template.spec.clone().unwrap_or_default();
    let spec_path = path.child("spec");
    let mut errs = validate_job_spec(&spec, &spec_path);
    if let Some(selector) = &spec.selector {
        errs.push(FieldError::invalid(
            spec_path.child("selector"),
            json(selector),
            "`selector` will be auto-generated",
        ));
    }
    if spec.manual_selector == Some(true) {
        errs.push(FieldError::not_supported(spec_path.child("manualSelector"), true, &["nil", "false"]));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::{default_builtin, prepare_update_builtin, validate_builtin};
    use serde_json::{json as j, Value};

    fn defaulted(kind: &str, mut obj: Value) -> Value {
        default_builtin("batch", kind, &mut obj);
        obj
    }

    fn check(kind: &str, obj: Value, old: Option<Value>) -> Vec<String> {
        let obj = defaulted(kind, obj);
        let old = old.map(|o| defaulted(kind, o));
        validate_builtin("batch", kind, &obj, old.as_ref()).iter().map(FieldError::message).collect()
    }

    fn pod_template() -> Value {
        j!({"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl:5.34", "command": ["perl", "-e", "print 1"]}]}})
    }

    fn job() -> Value {
        j!({"metadata": {"name": "pi", "namespace": "default", "uid": "1234-abcd"}, "spec": {"template": pod_template()}})
    }

    #[test]
    fn job_defaults_generate_the_selector() {
        let j = defaulted("Job", job());
        let spec = &j["spec"];
        assert_eq!(spec["completions"], 1);
        assert_eq!(spec["parallelism"], 1);
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(spec["selector"], j!({"matchLabels": {"batch.kubernetes.io/controller-uid": "1234-abcd"}}));
        assert_eq!(spec["template"]["metadata"]["labels"]["job-name"], "pi");
        assert_eq!(spec["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert!(check("Job", job(), None).is_empty());
    }

    #[test]
    fn job_rules() {
        let mut no_uid = job();
        no_uid["metadata"]["uid"] = Value::Null;
        no_uid["spec"]["template"]["spec"]["restartPolicy"] = Value::Null;
        no_uid["spec"]["parallelism"] = j!(-1);
        no_uid["spec"]["completionMode"] = j!("Indexed");
        no_uid["spec"]["completions"] = Value::Null;
        assert_eq!(
            check("Job", no_uid, None),
            vec![
                "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
                "spec.completions: Required value: when completion mode is Indexed",
                "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
                "spec.selector: Required value"
            ]
        );
        let mut manual = job();
        manual["spec"]["manualSelector"] = j!(true);
        manual["spec"]["selector"] = j!({"matchLabels": {"app": "pi"}});
        assert_eq!(
            check("Job", manual, None),
            vec!["spec.template.metadata.labels: Invalid value: null: `selector` does not match template `labels`"]
        );
    }

    #[test]
    fn job_updates() {
        let old = defaulted("Job", job());
        let mut new = old.clone();
        new["spec"]["template"]["spec"]["containers"][0]["image"] = j!("perl:5.36");
        new["spec"]["completions"] = j!(3);
        assert_eq!(
            check("Job", new, Some(old.clone()))
                .iter()
                .map(|m| m.split(':').next().unwrap_or_default().to_string())
                .collect::<Vec<_>>(),
            vec!["spec.completions", "spec.template"]
        );
        let mut replaced = job();
        replaced["spec"]["parallelism"] = j!(2);
        replaced["spec"]["completions"] = j!(1);
        replaced["metadata"]["uid"] = Value::Null;
        let mut replaced = defaulted("Job", replaced);
        prepare_update_builtin("batch", "Job", &mut replaced, &old);
        let errs: Vec<String> =
            validate_builtin("batch", "Job", &replaced, Some(&old)).iter().map(FieldError::message).collect();
        assert_eq!(errs, Vec::<String>::new());
    }

    fn cronjob(schedule: &str) -> Value {
        j!({"metadata": {"name": "nightly", "namespace": "default"}, "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": pod_template()}}}})
    }

    #[test]
    fn cronjob_defaults_and_rules() {
        let c = defaulted("CronJob", cronjob("0 3 * * *"));
        assert_eq!(c["spec"]["concurrencyPolicy"], "Allow");
        assert_eq!(c["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(c["spec"]["failedJobsHistoryLimit"], 1);
        assert_eq!(c["spec"]["suspend"], false);
        assert!(c["spec"]["jobTemplate"]["spec"].get("backoffLimit").is_none());
        assert!(check("CronJob", cronjob("0 3 * * *"), None).is_empty());
        assert!(check("CronJob", cronjob("@daily"), None).is_empty());

        let mut bad = cronjob("0 25 * * *");
        bad["metadata"]["name"] = j!("a".repeat(53));
        bad["spec"]["concurrencyPolicy"] = j!("Sometimes");
        bad["spec"]["jobTemplate"]["spec"]["selector"] = j!({"matchLabels": {"a": "b"}});
        bad["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = j!("Always");
        assert_eq!(
            check("CronJob", bad, None),
            vec![
                format!("metadata.name: Invalid value: \"{}\": must be no more than 52 characters", "a".repeat(53)),
                "spec.schedule: Invalid value: \"0 25 * * *\": end of range (25) above maximum (23): 25".to_string(),
                "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"".to_string(),
                "spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"".to_string(),
                "spec.jobTemplate.spec.selector: Invalid value: {\"matchLabels\":{\"a\":\"b\"}}: `selector` will be auto-generated".to_string()
            ]
        );
        assert_eq!(check("CronJob", cronjob(""), None), vec!["spec.schedule: Required value"]);
        assert_eq!(
            check("CronJob", cronjob("TZ=UTC 0 * * * *"), None),
            vec!["spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"]
        );
    }

    #[test]
    fn cronjob_time_zones() {
        let with_zone = |zone: &str| {
            let mut c = cronjob("0 * * * *");
            c["spec"]["timeZone"] = j!(zone);
            check("CronJob", c, None)
        };
        assert!(with_zone("UTC").is_empty());
        assert_eq!(with_zone(""), vec!["spec.timeZone: Invalid value: \"\": timeZone must be nil or non-empty string"]);
        assert_eq!(with_zone("../etc"), vec!["spec.timeZone: Invalid value: \"../etc\": unknown time zone ../etc"]);
        assert_eq!(with_zone("local").len(), 1);
        if Path::new(ZONEINFO).join("Europe/Paris").is_file() {
            assert!(with_zone("Europe/Paris").is_empty());
            assert_eq!(
                with_zone("Mars/Olympus"),
                vec!["spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus"]
            );
        }
    }
}

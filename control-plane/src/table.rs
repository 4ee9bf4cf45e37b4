//! Server-side Table printing: the `meta.k8s.io/v1` Table responses that
//! `kubectl get` asks for (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`).
//!
//! Built-in kinds get the columns and cell text of Kubernetes' own printers
//! (`pkg/printers/internalversion`); custom resources get NAME plus their
//! CRD's `additionalPrinterColumns`, evaluated with a small JSONPath subset.
//!
//! Objects are user data in their JSON wire form: any field may be missing or
//! of the wrong type, so every accessor here falls back to what Kubernetes
//! prints for a zero value (`""`, `0`, `<none>`, `<unknown>`) instead of
//! failing. Like the real API server, rows always carry the `-o wide` cells
//! too; kubectl hides priority-1 columns unless asked for them.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use crate::registry::PrinterColumn;

// ---------------------------------------------------------------------------
// Column definitions
// ---------------------------------------------------------------------------

/// One `TableColumnDefinition`.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    /// "string" | "integer" | "number" | "boolean" | "date".
    pub type_: String,
    /// "name" for the NAME column, else "".
    pub format: String,
    pub description: String,
    /// 0 = always shown, 1 = only with `-o wide`.
    pub priority: i32,
}

impl Column {
    fn new(name: &str, type_: &str, description: &str) -> Self {
        Column {
            name: name.to_string(),
            type_: type_.to_string(),
            format: String::new(),
            description: description.to_string(),
            priority: 0,
        }
    }

    /// Marks the column as shown only with `-o wide`.
    fn wide(mut self) -> Self {
        self.priority = 1;
        self
    }

    /// The wire form: a `TableColumnDefinition`.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Cannot be updated. \
     More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was \
     created. Populated by the system. Read-only. Null for lists.";
const CONTAINERS_DESCRIPTION: &str = "Names of each container in the template.";
const IMAGES_DESCRIPTION: &str = "Images referenced by each container in the template.";

fn string_column(name: &str, description: &str) -> Column {
    Column::new(name, "string", description)
}

fn integer_column(name: &str, description: &str) -> Column {
    Column::new(name, "integer", description)
}

fn name_column() -> Column {
    Column { format: "name".to_string(), ..string_column("Name", NAME_DESCRIPTION) }
}

fn age_column() -> Column {
    string_column("Age", AGE_DESCRIPTION)
}

/// The wide CONTAINERS and IMAGES columns of workload kinds.
fn template_columns() -> [Column; 2] {
    [string_column("Containers", CONTAINERS_DESCRIPTION).wide(), string_column("Images", IMAGES_DESCRIPTION).wide()]
}

fn selector_column(description: &str) -> Column {
    string_column("Selector", description).wide()
}

// ---------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------

type CellsFn = fn(&Value, SystemTime) -> Vec<Value>;

/// A built-in kind's printer: its columns and how one object becomes a row.
struct Printer {
    columns: fn() -> Vec<Column>,
    cells: CellsFn,
}

fn printer(group: &str, kind: &str) -> Option<Printer> {
    let (columns, cells): (fn() -> Vec<Column>, CellsFn) = match (group, kind) {
        ("", "Pod") => (pod_columns, pod_cells),
        ("", "Service") => (service_columns, service_cells),
        ("", "Endpoints") => (endpoints_columns, endpoints_cells),
        ("", "ConfigMap") => (config_map_columns, config_map_cells),
        ("", "Secret") => (secret_columns, secret_cells),
        ("", "ServiceAccount") => (service_account_columns, service_account_cells),
        ("", "Node") => (node_columns, node_cells),
        ("", "Namespace") => (namespace_columns, namespace_cells),
        ("", "Event") => (event_columns, core_event_cells),
        ("events.k8s.io", "Event") => (event_columns, events_v1_event_cells),
        ("", "PersistentVolume") => (persistent_volume_columns, persistent_volume_cells),
        ("", "PersistentVolumeClaim") => (persistent_volume_claim_columns, persistent_volume_claim_cells),
        ("", "ResourceQuota") => (resource_quota_columns, resource_quota_cells),
        ("", "LimitRange") | ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            (created_at_columns, created_at_cells)
        }
        ("", "PodTemplate") => (pod_template_columns, pod_template_cells),
        ("", "ReplicationController") => (replication_controller_columns, replication_controller_cells),
        ("apps", "Deployment") => (deployment_columns, deployment_cells),
        ("apps", "ReplicaSet") => (replica_set_columns, replica_set_cells),
        ("apps", "StatefulSet") => (stateful_set_columns, stateful_set_cells),
        ("apps", "DaemonSet") => (daemon_set_columns, daemon_set_cells),
        ("apps", "ControllerRevision") => (controller_revision_columns, controller_revision_cells),
        ("batch", "Job") => (job_columns, job_cells),
        ("batch", "CronJob") => (cron_job_columns, cron_job_cells),
        ("networking.k8s.io", "Ingress") => (ingress_columns, ingress_cells),
        ("networking.k8s.io", "IngressClass") => (ingress_class_columns, ingress_class_cells),
        ("networking.k8s.io", "NetworkPolicy") => (network_policy_columns, network_policy_cells),
        ("discovery.k8s.io", "EndpointSlice") => (endpoint_slice_columns, endpoint_slice_cells),
        ("coordination.k8s.io", "Lease") => (lease_columns, lease_cells),
        ("storage.k8s.io", "StorageClass") => (storage_class_columns, storage_class_cells),
        ("policy", "PodDisruptionBudget") => (pod_disruption_budget_columns, pod_disruption_budget_cells),
        _ => return None,
    };
    Some(Printer { columns, cells })
}

/// Columns for a built-in kind (group "" = core), or None if the kind has no
/// dedicated printer.
pub fn builtin_columns(group: &str, kind: &str) -> Option<Vec<Column>> {
    printer(group, kind).map(|p| (p.columns)())
}

/// The cells of one object's row for a built-in kind, in the order of
/// [`builtin_columns`]. A kind without a printer gets [`default_cells`].
pub fn builtin_cells(group: &str, kind: &str, obj: &Value, now: SystemTime) -> Vec<Value> {
    match printer(group, kind) {
        Some(p) => (p.cells)(obj, now),
        None => default_cells(obj, now),
    }
}

/// Columns for kinds without a printer: NAME, AGE.
pub fn default_columns() -> Vec<Column> {
    vec![name_column(), age_column()]
}

pub fn default_cells(obj: &Value, now: SystemTime) -> Vec<Value> {
    vec![name_cell(obj), age(obj, now).into()]
}

/// Custom resources: NAME, then the CRD's `additionalPrinterColumns`; a CRD
/// without columns gets the AGE column the apiextensions server adds.
pub fn custom_columns(cols: &[PrinterColumn]) -> Vec<Column> {
    let mut columns = vec![name_column()];
    columns.extend(effective_printer_columns(cols).iter().map(custom_column));
    columns
}

pub fn custom_cells(cols: &[PrinterColumn], obj: &Value, now: SystemTime) -> Vec<Value> {
    let mut cells = vec![name_cell(obj)];
    cells.extend(effective_printer_columns(cols).iter().map(|col| custom_cell(col, obj, now)));
    cells
}

/// A whole Table object.
pub fn table(
    columns: &[Column],
    rows: Vec<(Vec<Value>, Value)>,
    resource_version: &str,
    continue_token: Option<&str>,
) -> Value {
    // ListMeta fields are omitempty on the wire.
    let mut metadata = Map::new();
    if !resource_version.is_empty() {
        metadata.insert("resourceVersion".to_string(), resource_version.into());
    }
    if let Some(token) = continue_token.filter(|t| !t.is_empty()) {
        metadata.insert("continue".to_string(), token.into());
    }
    let rows: Vec<Value> = rows.into_iter().map(|(cells, object)| json!({"cells": cells, "object": object})).collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns.iter().map(Column::to_json).collect::<Vec<_>>(),
        "rows": rows,
    })
}

// ---------------------------------------------------------------------------
// Durations and timestamps
// ---------------------------------------------------------------------------

/// kubectl's `HumanDuration`: about two significant figures, e.g. "45s",
/// "5m3s", "3h", "2d5h", "400d", "3y45d".
pub fn human_duration(d: Duration) -> String {
    let seconds = d.as_secs();
    if seconds < 2 * 60 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return with_remainder(minutes, "m", seconds % 60, "s");
    }
    if minutes < 3 * 60 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return with_remainder(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return with_remainder(days, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return with_remainder(years, "y", days % 365, "d");
    }
    format!("{years}y")
}

/// "5m" or "5m3s": the smaller unit is left out when it is zero.
fn with_remainder(major: u64, major_unit: &str, minor: u64, minor_unit: &str) -> String {
    if minor == 0 {
        format!("{major}{major_unit}")
    } else {
        format!("{major}{major_unit}{minor}{minor_unit}")
    }
}

/// Age of an object from `metadata.creationTimestamp`; "<unknown>" when it
/// is missing or unparseable.
pub fn age(obj: &Value, now: SystemTime) -> String {
    since(time_at(obj, &["metadata", "creationTimestamp"]), now)
}

/// Time elapsed since `then`, as kubectl's `translateTimestampSince` prints it.
fn since(then: Option<SystemTime>, now: SystemTime) -> String {
    match then {
        Some(then) => elapsed(then, now),
        None => "<unknown>".to_string(),
    }
}

/// `HumanDuration(now - then)`, including its handling of timestamps in the
/// future: up to 2s of clock skew reads as "0s", more is "<invalid>".
fn elapsed(then: SystemTime, now: SystemTime) -> String {
    match now.duration_since(then) {
        Ok(d) => human_duration(d),
        Err(ahead) if ahead.duration().as_secs() < 2 => "0s".to_string(),
        Err(_) => "<invalid>".to_string(),
    }
}

/// Parses an RFC 3339 timestamp ("2026-11-22T07:44:44Z", with optional
/// fraction or numeric offset).
fn parse_time(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    if let Some(utc) = text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        return humantime::parse_rfc3339(&format!("{utc}Z")).ok();
    }
    // humantime only reads "Z"; shift numeric offsets ("+02:00") by hand.
    let split = text.len().checked_sub(6).filter(|&i| text.is_char_boundary(i))?;
    let (local, offset) = text.split_at(split);
    let sign = offset.chars().next()?;
    let (hours, minutes) = offset.get(1..)?.split_once(':')?;
    let offset_secs = hours.parse::<u64>().ok()? * 3600 + minutes.parse::<u64>().ok()? * 60;
    let local_time = humantime::parse_rfc3339(&format!("{local}Z")).ok()?;
    match sign {
        '+' => local_time.checked_sub(Duration::from_secs(offset_secs)),
        '-' => local_time.checked_add(Duration::from_secs(offset_secs)),
        _ => None,
    }
}

fn time_at(v: &Value, path: &[&str]) -> Option<SystemTime> {
    field(v, path).and_then(Value::as_str).and_then(parse_time)
}

/// `since` for an optional timestamp field.
fn since_field(v: &Value, path: &[&str], now: SystemTime) -> String {
    since(time_at(v, path), now)
}

// ---------------------------------------------------------------------------
// Tolerant field access
// ---------------------------------------------------------------------------

/// Walks `path` through nested objects; None when a step is missing or not
/// an object.
fn field<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |current, key| current.as_object()?.get(*key))
}

/// A string field, "" when missing or not a string (Go's zero value).
fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    field(v, path).and_then(Value::as_str).unwrap_or("")
}

/// A string field that Go models as a pointer: None when absent.
fn opt_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    field(v, path).and_then(Value::as_str)
}

fn as_int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

/// An integer field, 0 when missing or not a number.
fn int_at(v: &Value, path: &[&str]) -> i64 {
    field(v, path).and_then(as_int).unwrap_or(0)
}

fn bool_at(v: &Value, path: &[&str]) -> bool {
    field(v, path).and_then(Value::as_bool).unwrap_or(false)
}

/// An array field, empty when missing or not an array.
fn items<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    field(v, path).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// The string elements of an array field.
fn strings_at<'a>(v: &'a Value, path: &[&str]) -> Vec<&'a str> {
    items(v, path).iter().filter_map(Value::as_str).collect()
}

/// A field that Go models as a pointer to a struct: present and an object.
fn object_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    field(v, path).filter(|x| x.is_object())
}

/// Whether a field is set at all (Go: pointer != nil).
fn is_set(v: &Value, path: &[&str]) -> bool {
    field(v, path).is_some_and(|x| !x.is_null())
}

/// Number of entries of a map or list field (Go's `len`).
fn len_at(v: &Value, path: &[&str]) -> i64 {
    let len = match field(v, path) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    };
    len as i64
}

fn name_cell(obj: &Value) -> Value {
    str_at(obj, &["metadata", "name"]).into()
}

fn or_none(s: &str) -> String {
    or_placeholder(s, "<none>")
}

fn or_placeholder(s: &str, placeholder: &str) -> String {
    if s.is_empty() {
        placeholder.to_string()
    } else {
        s.to_string()
    }
}

/// A resource quantity as printed ("10Gi"); the zero quantity prints "0".
fn quantity_at(v: &Value, path: &[&str]) -> String {
    match field(v, path) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".to_string(),
    }
}

/// An IntOrString as printed: "2" or "50%".
fn int_or_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Go's `printBoolPtr`.
fn bool_ptr_text(v: Option<&Value>) -> String {
    match v.and_then(Value::as_bool) {
        Some(true) => "True".to_string(),
        Some(false) => "False".to_string(),
        None => "<unset>".to_string(),
    }
}

/// Whether `obj.status.conditions` has a condition of this type with status "True".
fn has_true_condition(obj: &Value, condition_type: &str) -> bool {
    items(obj, &["status", "conditions"])
        .iter()
        .any(|c| str_at(c, &["type"]) == condition_type && str_at(c, &["status"]) == "True")
}

// ---------------------------------------------------------------------------
// Labels, selectors and containers
// ---------------------------------------------------------------------------

/// `labels.FormatLabels`: "k=v,k2=v2" sorted by key, "<none>" when empty.
fn format_labels(map: Option<&Value>) -> String {
    let mut pairs: Vec<(&str, String)> = map
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), scalar_text(v))).collect())
        .unwrap_or_default();
    pairs.sort();
    let joined: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    or_none(&joined.join(","))
}

/// A label value as text; label maps hold strings, but tolerate others.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `metav1.LabelSelectorAsSelector(sel).String()`: requirements sorted by
/// key, e.g. "app=web,tier in (back,front)"; "" for a missing or empty
/// selector, Err for a malformed one.
fn selector_string(selector: Option<&Value>) -> Result<String, ()> {
    let selector = match selector {
        None | Some(Value::Null) => return Ok(String::new()),
        Some(s) => s,
    };
    let mut requirements: Vec<(String, String)> = Vec::new();
    if let Some(labels) = field(selector, &["matchLabels"]).filter(|v| !v.is_null()) {
        for (key, value) in labels.as_object().ok_or(())? {
            let value = value.as_str().ok_or(())?;
            requirements.push((key.clone(), format!("{key}={value}")));
        }
    }
    if let Some(expressions) = field(selector, &["matchExpressions"]).filter(|v| !v.is_null()) {
        for expression in expressions.as_array().ok_or(())? {
            requirements.push(selector_requirement(expression)?);
        }
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    let rendered: Vec<String> = requirements.into_iter().map(|(_, text)| text).collect();
    Ok(rendered.join(","))
}

/// One matchExpressions entry as (key, text), validated like NewRequirement.
fn selector_requirement(expression: &Value) -> Result<(String, String), ()> {
    let key = opt_str(expression, &["key"]).filter(|k| !k.is_empty()).ok_or(())?;
    let mut values = match field(expression, &["values"]) {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => v.as_array().ok_or(())?.iter().map(|x| x.as_str().ok_or(())).collect::<Result<Vec<_>, _>>()?,
    };
    values.sort_unstable();
    let text = match str_at(expression, &["operator"]) {
        "In" if !values.is_empty() => format!("{key} in ({})", values.join(",")),
        "NotIn" if !values.is_empty() => format!("{key} notin ({})", values.join(",")),
        "Exists" if values.is_empty() => key.to_string(),
        "DoesNotExist" if values.is_empty() => format!("!{key}"),
        _ => return Err(()),
    };
    Ok((key.to_string(), text))
}

/// `metav1.FormatLabelSelector`: "<none>" when empty, "<error>" when malformed.
fn format_label_selector(selector: Option<&Value>) -> String {
    match selector_string(selector) {
        Ok(text) => or_none(&text),
        Err(()) => "<error>".to_string(),
    }
}

/// The wide CONTAINERS and IMAGES cells: names and images joined with ",".
fn container_cells(pod_spec: Option<&Value>) -> [Value; 2] {
    let containers = pod_spec.map(|spec| items(spec, &["containers"])).unwrap_or(&[]);
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    [names.join(",").into(), images.join(",").into()]
}

/// `list` joined with ",", or "a,b,c + N more..." when `total` exceeds what
/// was listed (kubectl lists at most three).
fn list_with_more(list: &[String], total: usize) -> String {
    let joined = list.join(",");
    if total > list.len() {
        format!("{joined} + {} more...", total - list.len())
    } else {
        joined
    }
}

const MAX_LISTED: usize = 3;

// ---------------------------------------------------------------------------
// core/v1 Pod
// ---------------------------------------------------------------------------

fn pod_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
        string_column("Status", "The aggregate status of the containers in this pod."),
        string_column(
            "Restarts",
            "The number of times the containers in this pod have been restarted and when the last container in \
             this pod has restarted.",
        ),
        age_column(),
        string_column("IP", "IP address allocated to the pod. Routable at least within the cluster.").wide(),
        string_column("Node", "NodeName is the name of the node this pod is scheduled to.").wide(),
        string_column("Nominated Node", "The node this pod is nominated to run on while preempting others.").wide(),
        string_column("Readiness Gates", "Pod readiness gates that are met, out of those declared.").wide(),
    ]
}

fn pod_cells(pod: &Value, now: SystemTime) -> Vec<Value> {
    let PodSummary { ready, total, reason, restarts } = PodSummary::of(pod);
    vec![
        name_cell(pod),
        format!("{ready}/{total}").into(),
        reason.into(),
        restarts.text(now).into(),
        age(pod, now).into(),
        pod_ip(pod).into(),
        or_none(str_at(pod, &["spec", "nodeName"])).into(),
        or_none(str_at(pod, &["status", "nominatedNodeName"])).into(),
        readiness_gates(pod).into(),
    ]
}

/// Restarts summed over containers, with the latest termination time.
#[derive(Clone, Copy, Default)]
struct RestartTally {
    count: i64,
    last: Option<SystemTime>,
}

impl RestartTally {
    fn record(&mut self, status: &Value) {
        self.count += int_at(status, &["restartCount"]);
        self.last = self.last.max(time_at(status, &["lastState", "terminated", "finishedAt"]));
    }

    /// "3", or "3 (45s ago)" when the last restart time is known.
    fn text(&self, now: SystemTime) -> String {
        match self.last {
            Some(last) if self.count != 0 => format!("{} ({} ago)", self.count, elapsed(last, now)),
            _ => self.count.to_string(),
        }
    }
}

/// READY, STATUS and RESTARTS of a pod, derived the way the kubelet-facing
/// printer does it.
struct PodSummary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: RestartTally,
}

/// What one init container's status means for the pod's STATUS.
enum InitProgress {
    /// Finished successfully: look at the next one.
    Done,
    /// A started sidecar (restartable init container): look at the next one.
    SidecarStarted,
    /// Initialization is stuck here; the pod's STATUS is this text.
    Blocking(String),
}

impl PodSummary {
    fn of(pod: &Value) -> Self {
        let declared_inits = items(pod, &["spec", "initContainers"]);
        // Restartable init containers ("sidecars") run alongside the regular ones.
        let sidecar_specs: Vec<&Value> =
            declared_inits.iter().filter(|c| str_at(c, &["restartPolicy"]) == "Always").collect();
        let sidecars: BTreeSet<&str> = sidecar_specs.iter().map(|c| str_at(c, &["name"])).collect();
        let mut summary = PodSummary {
            ready: 0,
            total: items(pod, &["spec", "containers"]).len() + sidecar_specs.len(),
            reason: initial_pod_reason(pod),
            restarts: RestartTally::default(),
        };

        let mut sidecar_restarts = RestartTally::default();
        let mut initializing = false;
        for (index, status) in items(pod, &["status", "initContainerStatuses"]).iter().enumerate() {
            summary.restarts.record(status);
            let restartable = sidecars.contains(str_at(status, &["name"]));
            if restartable {
                sidecar_restarts.record(status);
            }
            match init_progress(status, restartable, index, declared_inits.len()) {
                InitProgress::Done => {}
                InitProgress::SidecarStarted => summary.ready += usize::from(bool_at(status, &["ready"])),
                InitProgress::Blocking(reason) => {
                    summary.reason = reason;
                    initializing = true;
                    break;
                }
            }
        }

        if !initializing || has_true_condition(pod, "Initialized") {
            // Only sidecar restarts count once the pod is past initialization.
            summary.restarts = sidecar_restarts;
            summary.apply_container_statuses(pod);
        }
        summary.apply_deletion(pod);
        summary
    }

    /// Regular containers, walked last to first so the first container's
    /// state wins, as in kubectl.
    fn apply_container_statuses(&mut self, pod: &Value) {
        let mut has_running = false;
        for status in items(pod, &["status", "containerStatuses"]).iter().rev() {
            self.restarts.record(status);
            if let Some(reason) = container_reason(status) {
                self.reason = reason;
            } else if bool_at(status, &["ready"]) && object_at(status, &["state", "running"]).is_some() {
                has_running = true;
                self.ready += 1;
            }
        }
        // A container that completed while others still run does not make the pod "Completed".
        if self.reason == "Completed" && has_running {
            self.reason = if has_true_condition(pod, "Ready") { "Running" } else { "NotReady" }.to_string();
        }
    }

    fn apply_deletion(&mut self, pod: &Value) {
        if !is_set(pod, &["metadata", "deletionTimestamp"]) {
            return;
        }
        if str_at(pod, &["status", "reason"]) == "NodeLost" {
            self.reason = "Unknown".to_string();
        } else if !matches!(str_at(pod, &["status", "phase"]), "Succeeded" | "Failed") {
            self.reason = "Terminating".to_string();
        }
    }
}

/// The pod's status before looking at containers: status.reason, else the phase.
fn initial_pod_reason(pod: &Value) -> String {
    let gated = items(pod, &["status", "conditions"])
        .iter()
        .any(|c| str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated");
    if gated {
        return "SchedulingGated".to_string();
    }
    let reason = str_at(pod, &["status", "reason"]);
    if reason.is_empty() {
        str_at(pod, &["status", "phase"]).to_string()
    } else {
        reason.to_string()
    }
}

fn init_progress(status: &Value, restartable: bool, index: usize, declared: usize) -> InitProgress {
    let terminated = object_at(status, &["state", "terminated"]);
    if terminated.is_some_and(|t| int_at(t, &["exitCode"]) == 0) {
        return InitProgress::Done;
    }
    if restartable && bool_at(status, &["started"]) {
        return InitProgress::SidecarStarted;
    }
    if let Some(terminated) = terminated {
        return InitProgress::Blocking(format!("Init:{}", termination_reason(terminated)));
    }
    let waiting = str_at(status, &["state", "waiting", "reason"]);
    if !waiting.is_empty() && waiting != "PodInitializing" {
        return InitProgress::Blocking(format!("Init:{waiting}"));
    }
    InitProgress::Blocking(format!("Init:{index}/{declared}"))
}

/// A regular container's contribution to STATUS: its waiting or terminated reason.
fn container_reason(status: &Value) -> Option<String> {
    let waiting = str_at(status, &["state", "waiting", "reason"]);
    if !waiting.is_empty() {
        return Some(waiting.to_string());
    }
    object_at(status, &["state", "terminated"]).map(termination_reason)
}

/// A terminated state's reason, or "Signal:N" / "ExitCode:N" without one.
fn termination_reason(terminated: &Value) -> String {
    let reason = str_at(terminated, &["reason"]);
    if !reason.is_empty() {
        return reason.to_string();
    }
    match int_at(terminated, &["signal"]) {
        0 => format!("ExitCode:{}", int_at(terminated, &["exitCode"])),
        signal => format!("Signal:{signal}"),
    }
}

fn pod_ip(pod: &Value) -> String {
    let first = items(pod, &["status", "podIPs"]).first().map(|ip| str_at(ip, &["ip"])).unwrap_or("");
    // Older writers set only status.podIP.
    let ip = if first.is_empty() { str_at(pod, &["status", "podIP"]) } else { first };
    or_none(ip)
}

/// "met/declared" readiness gates, "<none>" without any.
fn readiness_gates(pod: &Value) -> String {
    let gates = items(pod, &["spec", "readinessGates"]);
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let conditions = items(pod, &["status", "conditions"]);
    let met = gates
        .iter()
        .filter(|gate| {
            let wanted = str_at(gate, &["conditionType"]);
            conditions.iter().find(|c| str_at(c, &["type"]) == wanted).is_some_and(|c| str_at(c, &["status"]) == "True")
        })
        .count();
    format!("{met}/{}", gates.len())
}

// ---------------------------------------------------------------------------
// core/v1 Service, Endpoints
// ---------------------------------------------------------------------------

fn service_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("Type", "type determines how the Service is exposed."),
        string_column("Cluster-IP", "clusterIP is the IP address of the service."),
        string_column("External-IP", "externalIPs is a list of IP addresses for which nodes will also accept traffic."),
        string_column("Port(s)", "The list of ports that are exposed by this service."),
        age_column(),
        selector_column("Route service traffic to pods with label keys and values matching this selector."),
    ]
}

fn service_cells(svc: &Value, now: SystemTime) -> Vec<Value> {
    // An unset type is defaulted to ClusterIP by the API.
    let svc_type = Some(str_at(svc, &["spec", "type"])).filter(|t| !t.is_empty()).unwrap_or("ClusterIP");
    vec![
        name_cell(svc),
        svc_type.into(),
        cluster_ip(svc).into(),
        service_external_ip(svc, svc_type).into(),
        or_none(&service_ports(svc)).into(),
        age(svc, now).into(),
        format_labels(field(svc, &["spec", "selector"])).into(),
    ]
}

fn cluster_ip(svc: &Value) -> String {
    let ips = strings_at(svc, &["spec", "clusterIPs"]);
    let ip = ips.first().copied().unwrap_or_else(|| str_at(svc, &["spec", "clusterIP"]));
    or_none(ip)
}

fn service_external_ip(svc: &Value, svc_type: &str) -> String {
    let external_ips = strings_at(svc, &["spec", "externalIPs"]);
    match svc_type {
        "ClusterIP" | "NodePort" => or_none(&external_ips.join(",")),
        "LoadBalancer" => {
            let mut all = load_balancer_addresses(svc);
            all.extend(external_ips.iter().map(|ip| ip.to_string()));
            or_placeholder(&all.join(","), "<pending>")
        }
        "ExternalName" => str_at(svc, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

/// The sorted, de-duplicated IPs (or hostnames) of status.loadBalancer.ingress.
fn load_balancer_addresses(obj: &Value) -> Vec<String> {
    let addresses: BTreeSet<&str> = items(obj, &["status", "loadBalancer", "ingress"])
        .iter()
        .filter_map(|ingress| {
            [str_at(ingress, &["ip"]), str_at(ingress, &["hostname"])].into_iter().find(|s| !s.is_empty())
        })
        .collect();
    addresses.into_iter().map(str::to_string).collect()
}

/// "80/TCP,443:30443/TCP".
fn service_ports(svc: &Value) -> String {
    let ports: Vec<String> = items(svc, &["spec", "ports"])
        .iter()
        .map(|port| {
            let number = int_at(port, &["port"]);
            let protocol = Some(str_at(port, &["protocol"])).filter(|p| !p.is_empty()).unwrap_or("TCP");
            match int_at(port, &["nodePort"]) {
                node_port if node_port > 0 => format!("{number}:{node_port}/{protocol}"),
                _ => format!("{number}/{protocol}"),
            }
        })
        .collect();
    ports.join(",")
}

fn endpoints_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("Endpoints", "The set of all endpoints is the union of all subsets."),
        age_column(),
    ]
}

fn endpoints_cells(obj: &Value, now: SystemTime) -> Vec<Value> {
    vec![name_cell(obj), format_endpoints(obj).into(), age(obj, now).into()]
}

/// "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more...", "<none>" without subsets.
fn format_endpoints(obj: &Value) -> String {
    let subsets = items(obj, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut listed = Vec::new();
    let mut total = 0;
    for subset in subsets {
        let ips: Vec<&str> = items(subset, &["addresses"]).iter().map(|a| str_at(a, &["ip"])).collect();
        let ports = items(subset, &["ports"]);
        // Headless services may have addresses without ports.
        let targets: Vec<String> = if ports.is_empty() {
            ips.iter().map(|ip| ip.to_string()).collect()
        } else {
            ports.iter().flat_map(|port| ips.iter().map(|ip| join_host_port(ip, int_at(port, &["port"])))).collect()
        };
        total += targets.len();
        listed.extend(targets.into_iter().take(MAX_LISTED - listed.len()));
    }
    list_with_more(&listed, total)
}

/// Go's `net.JoinHostPort`: IPv6 addresses get brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

// ---------------------------------------------------------------------------
// core/v1 ConfigMap, Secret, ServiceAccount, Namespace, PodTemplate
// ---------------------------------------------------------------------------

fn config_map_columns() -> Vec<Column> {
    vec![name_column(), string_column("Data", "Data contains the configuration data."), age_column()]
}

fn config_map_cells(obj: &Value, now: SystemTime) -> Vec<Value> {
    let data = len_at(obj, &["data"]) + len_at(obj, &["binaryData"]);
    vec![name_cell(obj), data.into(), age(obj, now).into()]
}

fn secret_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("Type", "Used to facilitate programmatic handling of secret data."),
        string_column("Data", "Data contains the secret data."),
        age_column(),
    ]
}

fn secret_cells(obj: &Value, now: SystemTime) -> Vec<Value> {
    vec![name_cell(obj), str_at(obj, &["type"]).into(), len_at(obj, &["data"]).into(), age(obj, now).into()]
}

fn service_account_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("Secrets", "Secrets is a list of the secrets in the same namespace that pods may use."),
        age_column(),
    ]
}

fn service_account_cells(obj: &Value, now: SystemTime) -> Vec<Value> {
    vec![name_cell(obj), len_at(obj, &["secrets"]).into(), age(obj, now).into()]
}

fn namespace_columns() -> Vec<Column> {
    vec![name_column(), string_column("Status", "The status of the namespace"), age_column()]
}

fn namespace_cells(obj: &Value, now: SystemTime) -> Vec<Value> {
    vec![name_cell(obj), str_at(obj, &["status", "phase"]).into(), age(obj, now).into()]
}

fn pod_template_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("Containers", CONTAINERS_DESCRIPTION),
        string_column("Images", IMAGES_DESCRIPTION),
        string_column("Pod Labels", "The labels for the pod template."),
    ]
}

fn pod_template_cells(obj: &Value, _now: SystemTime) -> Vec<Value> {
    let [names, images] = container_cells(field(obj, &["template", "spec"]));
    vec![name_cell(obj), names, images, format_labels(field(obj, &["template", "metadata", "labels"])).into()]
}

/// LimitRange and CustomResourceDefinition have no printer: the API server's
/// default table shows NAME and CREATED AT (an RFC 3339 timestamp).
fn created_at_columns() -> Vec<Column> {
    vec![name_column(), Column::new("Created At", "date", AGE_DESCRIPTION)]
}

fn created_at_cells(obj: &Value, _now: SystemTime) -> Vec<Value> {
    let created = time_at(obj, &["metadata", "creationTimestamp"])
        .map(|t| humantime::format_rfc3339_seconds(t).to_string())
        // Go formats the zero time.
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
    vec![name_cell(obj), created.into()]
}

// ---------------------------------------------------------------------------
// core/v1 Node
// ---------------------------------------------------------------------------

fn node_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("Status", "The status of the node"),
        string_column("Roles", "The roles of the node"),
        age_column(),
        string_column("Version", "Kubelet Version reported by the node."),
        string_column("Internal-IP", "List of addresses reachable to the node.").wide(),
        string_column("External-IP", "List of addresses reachable to the node.").wide(),
        string_column("OS-Image", "OS Image reported by the node from /etc/os-release.").wide(),
        string_column("Kernel-Version", "Kernel Version reported by the node from 'uname -r'.").wide(),
        string_column("Container-Runtime", "ContainerRuntime Version reported by the node.").wide(),
    ]
}

fn node_cells(node: &Value, now: SystemTime) -> Vec<Value> {
    let info = |key: &str| or_placeholder(str_at(node, &["status", "nodeInfo", key]), "<unknown>");
    vec![
        name_cell(node),
        node_status(node).into(),
        or_none(&node_roles(node).join(",")).into(),
        age(node, now).into(),
        str_at(node, &["status", "nodeInfo", "kubeletVersion"]).into(),
        node_address(node, "InternalIP").into(),
        node_address(node, "ExternalIP").into(),
        info("osImage").into(),
        info("kernelVersion").into(),
        info("containerRuntimeVersion").into(),
    ]
}

/// "Ready", "NotReady" or "Unknown" from the Ready condition, plus
/// ",SchedulingDisabled" for a cordoned node.
fn node_status(node: &Value) -> String {
    let ready = items(node, &["status", "conditions"]).iter().rev().find(|c| str_at(c, &["type"]) == "Ready");
    let mut status = match ready {
        Some(c) if str_at(c, &["status"]) == "True" => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if bool_at(node, &["spec", "unschedulable"]) {
        status.push_str(",SchedulingDisabled");
    }
    status
}

/// Sorted roles from `node-role.kubernetes.io/<role>` and `kubernetes.io/role` labels.
fn node_roles(node: &Value) -> Vec<String> {
    let Some(labels) = field(node, &["metadata", "labels"]).and_then(Value::as_object) else {
        return Vec::new();
    };
    let roles: BTreeSet<String> = labels
        .iter()
        .filter_map(|(key, value)| match key.strip_prefix("node-role.kubernetes.io/") {
            Some(role) if !role.is_empty() => Some(role.to_string()),
            Some(_) => None,
            None if key == "kubernetes.io/role" => value.as_str().filter(|v| !v.is_empty()).map(str::to_string),
            None => None,
        })
        .collect();
    roles.into_iter().collect()
}

fn node_address(node: &Value, address_type: &str) -> String {
    items(node, &["status", "addresses"])
        .iter()
        .find(|a| str_at(a, &["type"]) == address_type)
        .map(|a| str_at(a, &["address"]).to_string())
        .unwrap_or_else(|| "<none>".to_string())
}

// ---------------------------------------------------------------------------
// Events (core/v1 and events.k8s.io/v1)
// ---------------------------------------------------------------------------

fn event_columns() -> Vec<Column> {
    vec![
        string_column("Last Seen", "The time at which the most recent occurrence of this event was recorded."),
        string_column("Type", "Type of this event (Normal, Warning), new types could be added in the future"),
        string_column("Reason", "This should be a short, machine understandable string that gives the reason."),
        string_column("Object", "The object that this event is about."),
        string_column("Subobject", "The field of the involved object this event is about.").wide(),
        string_column("Source", "The component reporting this event.").wide(),
        string_column("Message", "A human-readable description of the status of this operation."),
        string_column("First Seen", "The time at which the event was first recorded.").wide(),
        string_column("Count", "The number of times this event has occurred.").wide(),
        name_column().wide(),
    ]
}

/// The fields of an event that the printer reads, wherever its API version keeps them.
struct EventFields<'a> {
    event: &'a Value,
    involved: Option<&'a Value>,
    message: &'a str,
    source: Option<&'a Value>,
    reporting_controller: &'a str,
    first_timestamp: Option<SystemTime>,
    last_timestamp: Option<SystemTime>,
    count: i64,
}

fn core_event_cells(event: &Value, now: SystemTime) -> Vec<Value> {
    event_cells(
        &EventFields {
            event,
            involved: field(event, &["involvedObject"]),
            message: str_at(event, &["message"]),
            source: field(event, &["source"]),
            reporting_controller: str_at(event, &["reportingComponent"]),
            first_timestamp: time_at(event, &["firstTimestamp"]),
            last_timestamp: time_at(event, &["lastTimestamp"]),
            count: int_at(event, &["count"]),
        },
        now,
    )
}

/// events.k8s.io/v1 keeps the same facts under new names (regarding, note,
/// deprecated*); the API server converts it to the core shape before printing.
fn events_v1_event_cells(event: &Value, now: SystemTime) -> Vec<Value> {
    event_cells(
        &EventFields {
            event,
            involved: field(event, &["regarding"]),
            message: str_at(event, &["note"]),
            source: field(event, &["deprecatedSource"]),
            reporting_controller: str_at(event, &["reportingController"]),
            first_timestamp: time_at(event, &["deprecatedFirstTimestamp"]),
            last_timestamp: time_at(event, &["deprecatedLastTimestamp"]),
            count: int_at(event, &["deprecatedCount"]),
        },
        now,
    )
}

fn event_cells(e: &EventFields, now: SystemTime) -> Vec<Value> {
    let first_seen = match e.first_timestamp {
        Some(first) => elapsed(first, now),
        None => since_field(e.event, &["eventTime"], now),
    };
    let mut last_seen = match e.last_timestamp {
        Some(last) => elapsed(last, now),
        None => first_seen.clone(),
    };
    let mut count = e.count;
    if let Some(series) = object_at(e.event, &["series"]) {
        last_seen = since_field(series, &["lastObservedTime"], now);
        count = int_at(series, &["count"]);
    } else if count == 0 {
        // Singleton events of the new API carry no count.
        count = 1;
    }
    let involved = e.involved.unwrap_or(&Value::Null);
    vec![
        last_seen.into(),
        str_at(e.event, &["type"]).into(),
        str_at(e.event, &["reason"]).into(),
        event_target(involved).into(),
        str_at(involved, &["fieldPath"]).into(),
        event_source(e).into(),
        e.message.trim().into(),
        first_seen.into(),
        count.into(),
        name_cell(e.event),
    ]
}

/// "pod/web-0", or just the lower-cased kind when the object has no name.
fn event_target(involved: &Value) -> String {
    let kind = str_at(involved, &["kind"]).to_lowercase();
    match str_at(involved, &["name"]) {
        "" => kind,
        name => format!("{kind}/{name}"),
    }
}

/// "component, host", falling back to the reporting controller and instance.
fn event_source(e: &EventFields) -> String {
    let source = e.source.unwrap_or(&Value::Null);
    let component = Some(str_at(source, &["component"])).filter(|c| !c.is_empty()).unwrap_or(e.reporting_controller);
    let instance =
        Some(str_at(source, &["host"])).filter(|h| !h.is_empty()).unwrap_or(str_at(e.event, &["reportingInstance"]));
    if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    }
}

// ---------------------------------------------------------------------------
// core/v1 PersistentVolume, PersistentVolumeClaim, ResourceQuota
// ---------------------------------------------------------------------------

fn persistent_volume_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("Capacity", "capacity is the description of the persistent volume's resources and capacity."),
        string_column("Access Modes", "accessModes contains all ways the volume can be mounted."),
        string_column("Reclaim Policy", "What happens to a persistent volume when released from its claim."),
        string_column("Status", "phase indicates if a volume is available, bound to a claim, or released by a claim."),
        string_column("Claim", "claimRef is part of a bi-directional binding between PersistentVolume and Claim."),
        string_column("StorageClass", "StorageClass of the pv"),
        string_column("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
        string_column("Reason", "reason is a brief CamelCase string that describes any failure."),
        age_column(),
        string_column(
            "VolumeMode",
            "volumeMode defines if a volume is intended to be used with a formatted filesystem.",
        )
        .wide(),
    ]
}

fn persistent_volume_cells(pv: &Value, now: SystemTime) -> Vec<Value> {
    let claim = match object_at(pv, &["spec", "claimRef"]) {
        Some(claim) => format!("{}/{}", str_at(claim, &["namespace"]), str_at(claim, &["name"])),
        None => String::new(),
    };
    vec![
        name_cell(pv),
        quantity_at(pv, &["spec", "capacity", "storage"]).into(),
        access_modes(items(pv, &["spec", "accessModes"])).into(),
        str_at(pv, &["spec", "persistentVolumeReclaimPolicy"]).into(),
        volume_phase(pv).into(),
        claim.into(),
        storage_class_of(pv).into(),
        unset_or(opt_str(pv, &["spec", "volumeAttributesClassName"])).into(),
        str_at(pv, &["status", "reason"]).into(),
        age(pv, now).into(),
        unset_or(opt_str(pv, &["spec", "volumeMode"])).into(),
    ]
}

fn persistent_volume_claim_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("Status", "phase represents the current phase of PersistentVolumeClaim."),
        string_column("Volume", "volumeName is the binding reference to the PersistentVolume backing this claim."),
        string_column("Capacity", "capacity represents the actual resources of the underlying volume."),
        string_column("Access Modes", "accessModes contains the actual access modes the volume backing the PVC has."),
        string_column("StorageClass", "StorageClass of the pvc"),
        string_column("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
        age_column(),
        string_column("VolumeMode", "volumeMode defines what type of volume is required by the claim.").wide(),
    ]
}

fn persistent_volume_claim_cells(pvc: &Value, now: SystemTime) -> Vec<Value> {
    let volume = str_at(pvc, &["spec", "volumeName"]);
    // Capacity and access modes are only meaningful once bound to a volume.
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (quantity_at(pvc, &["status", "capacity", "storage"]), access_modes(items(pvc, &["status", "accessModes"])))
    };
    vec![
        name_cell(pvc),
        volume_phase(pvc).into(),
        volume.into(),
        capacity.into(),
        modes.into(),
        storage_class_of(pvc).into(),
        unset_or(opt_str(pvc, &["spec", "volumeAttributesClassName"])).into(),
        age(pvc, now).into(),
        unset_or(opt_str(pvc, &["spec", "volumeMode"])).into(),
    ]
}

/// status.phase, or "Terminating" once deletion has started.
fn volume_phase(obj: &Value) -> String {
    if is_set(obj, &["metadata", "deletionTimestamp"]) {
        "Terminating".to_string()
    } else {
        str_at(obj, &["status", "phase"]).to_string()
    }
}

fn unset_or(value: Option<&str>) -> String {
    value.unwrap_or("<unset>").to_string()
}

/// The storage class: the legacy beta annotation wins over spec.storageClassName.
fn storage_class_of(obj: &Value) -> String {
    let annotation = field(obj, &["metadata", "annotations", "volume.beta.kubernetes.io/storage-class"]);
    annotation.and_then(Value::as_str).unwrap_or_else(|| str_at(obj, &["spec", "storageClassName"])).to_string()
}

/// "RWO,ROX,RWX,RWOP" in that fixed order, duplicates dropped.
fn access_modes(modes: &[Value]) -> String {
    const ABBREVIATIONS: [(&str, &str); 4] =
        [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")];
    let present: BTreeSet<&str> = modes.iter().filter_map(Value::as_str).collect();
    let short: Vec<&str> = ABBREVIATIONS
        .iter()
        .filter(|(mode, _)| present.contains(mode))
        .map(|(_, abbreviation)| *abbreviation)
        .collect();
    short.join(",")
}

fn resource_quota_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("Request", "Request represents a minimum amount of cpu/memory that a container may consume."),
        string_column(
            "Limit",
            "Limits control the maximum amount of cpu/memory that a container may use independent of contention on \
             the node.",
        ),
        age_column(),
    ]
}

/// REQUEST and LIMIT list "resource: used/hard" for every hard limit, sorted;
/// `limits.*` resources go to LIMIT, all others to REQUEST.
fn resource_quota_cells(quota: &Value, now: SystemTime) -> Vec<Value> {
    let mut resources: Vec<&String> = field(quota, &["status", "hard"])
        .and_then(Value::as_object)
        .map(|hard| hard.keys().collect())
        .unwrap_or_default();
    resources.sort();
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    for resource in resources {
        let used = quantity_at(quota, &["status", "used", resource]);
        let hard = quantity_at(quota, &["status", "hard", resource]);
        let entry = format!("{resource}: {used}/{hard}");
        if resource.starts_with("limits.") {
            limits.push(entry);
        } else {
            requests.push(entry);
        }
    }
    vec![name_cell(quota), requests.join(", ").into(), limits.join(", ").into(), age(quota, now).into()]
}

// ---------------------------------------------------------------------------
// Workloads: ReplicationController, Deployment, ReplicaSet, StatefulSet,
// DaemonSet, ControllerRevision
// ---------------------------------------------------------------------------

/// spec.replicas, which the API defaults to 1 when unset.
fn desired_replicas(obj: &Value) -> i64 {
    field(obj, &["spec", "replicas"]).and_then(as_int).unwrap_or(1)
}

fn template_pod_spec(obj: &Value) -> Option<&Value> {
    field(obj, &["spec", "template", "spec"])
}

fn replication_controller_columns() -> Vec<Column> {
    let mut columns = vec![
        name_column(),
        integer_column("Desired", "Replicas is the number of desired replicas."),
        integer_column("Current", "Replicas is the most recently observed number of replicas."),
        integer_column("Ready", "The number of ready replicas for this replication controller."),
        age_column(),
    ];
    columns.extend(template_columns());
    columns.push(selector_column("Selector is a label query over pods that should match the Replicas count."));
    columns
}

fn replication_controller_cells(rc: &Value, now: SystemTime) -> Vec<Value> {
    let [names, images] = container_cells(template_pod_spec(rc));
    vec![
        name_cell(rc),
        desired_replicas(rc).into(),
        int_at(rc, &["status", "replicas"]).into(),
        int_at(rc, &["status", "readyReplicas"]).into(),
        age(rc, now).into(),
        names,
        images,
        format_labels(field(rc, &["spec", "selector"])).into(),
    ]
}

fn deployment_columns() -> Vec<Column> {
    let mut columns = vec![
        name_column(),
        string_column("Ready", "Number of the pod with ready state"),
        string_column(
            "Up-to-date",
            "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
        ),
        string_column(
            "Available",
            "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
        ),
        age_column(),
    ];
    columns.extend(template_columns());
    columns.push(selector_column("Label selector for pods."));
    columns
}

fn deployment_cells(deployment: &Value, now: SystemTime) -> Vec<Value> {
    let [names, images] = container_cells(template_pod_spec(deployment));
    // Deployments print the raw selector string, not FormatLabelSelector's "<none>".
    let selector = selector_string(field(deployment, &["spec", "selector"])).unwrap_or_else(|()| "<invalid>".into());
    vec![
        name_cell(deployment),
        format!("{}/{}", int_at(deployment, &["status", "readyReplicas"]), desired_replicas(deployment)).into(),
        int_at(deployment, &["status", "updatedReplicas"]).into(),
        int_at(deployment, &["status", "availableReplicas"]).into(),
        age(deployment, now).into(),
        names,
        images,
        selector.into(),
    ]
}

fn replica_set_columns() -> Vec<Column> {
    let mut columns = vec![
        name_column(),
        integer_column("Desired", "Replicas is the number of desired pods."),
        integer_column("Current", "Replicas is the most recently observed number of non-terminating pods."),
        integer_column(
            "Ready",
            "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
        ),
        age_column(),
    ];
    columns.extend(template_columns());
    columns.push(selector_column("Selector is a label query over pods that should match the replica count."));
    columns
}

fn replica_set_cells(rs: &Value, now: SystemTime) -> Vec<Value> {
    let [names, images] = container_cells(template_pod_spec(rs));
    vec![
        name_cell(rs),
        desired_replicas(rs).into(),
        int_at(rs, &["status", "replicas"]).into(),
        int_at(rs, &["status", "readyReplicas"]).into(),
        age(rs, now).into(),
        names,
        images,
        format_label_selector(field(rs, &["spec", "selector"])).into(),
    ]
}

fn stateful_set_columns() -> Vec<Column> {
    let mut columns = vec![name_column(), string_column("Ready", "Number of the pod with ready state"), age_column()];
    columns.extend(template_columns());
    columns
}

fn stateful_set_cells(sts: &Value, now: SystemTime) -> Vec<Value> {
    let [names, images] = container_cells(template_pod_spec(sts));
    vec![
        name_cell(sts),
        format!("{}/{}", int_at(sts, &["status", "readyReplicas"]), desired_replicas(sts)).into(),
        age(sts, now).into(),
        names,
        images,
    ]
}

fn daemon_set_columns() -> Vec<Column> {
    let mut columns = vec![
        name_column(),
        integer_column("Desired", "The total number of nodes that should be running the daemon pod."),
        integer_column("Current", "The number of nodes that are running at least 1 daemon pod."),
        integer_column("Ready", "The number of nodes that should be running the daemon pod and have it Ready."),
        integer_column("Up-to-date", "The total number of nodes that are running updated daemon pod."),
        integer_column("Available", "The number of nodes running the daemon pod that are available."),
        string_column("Node Selector", "NodeSelector is a selector which must be true for the pod to fit on a node."),
        age_column(),
    ];
    columns.extend(template_columns());
    columns.push(selector_column("A label query over pods that are managed by the daemon set."));
    columns
}

fn daemon_set_cells(ds: &Value, now: SystemTime) -> Vec<Value> {
    let [names, images] = container_cells(template_pod_spec(ds));
    let status = |key: &str| Value::from(int_at(ds, &["status", key]));
    vec![
        name_cell(ds),
        status("desiredNumberScheduled"),
        status("currentNumberScheduled"),
        status("numberReady"),
        status("updatedNumberScheduled"),
        status("numberAvailable"),
        format_labels(field(ds, &["spec", "template", "spec", "nodeSelector"])).into(),
        age(ds, now).into(),
        names,
        images,
        format_label_selector(field(ds, &["spec", "selector"])).into(),
    ]
}

fn controller_revision_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("Controller", "Controller of the object"),
        string_column("Revision", "Revision indicates the revision of the state represented by Data."),
        age_column(),
    ]
}

fn controller_revision_cells(rev: &Value, now: SystemTime) -> Vec<Value> {
    vec![name_cell(rev), controller_of(rev).into(), int_at(rev, &["revision"]).into(), age(rev, now).into()]
}

/// The controlling owner as "kind.group/name" (e.g. "statefulset.apps/web"),
/// "<none>" without one.
fn controller_of(obj: &Value) -> String {
    let Some(owner) = items(obj, &["metadata", "ownerReferences"]).iter().find(|o| bool_at(o, &["controller"])) else {
        return "<none>".to_string();
    };
    let name = str_at(owner, &["name"]);
    let kind = str_at(owner, &["kind"]);
    // "apps/v1" has group "apps"; a bare "v1" is the core group.
    let group = str_at(owner, &["apiVersion"]).rsplit_once('/').map(|(group, _)| group).unwrap_or("");
    match (kind, group) {
        ("", "") => name.to_string(),
        (kind, "") => format!("{}/{name}", kind.to_lowercase()),
        (kind, group) => format!("{}.{}/{name}", kind.to_lowercase(), group.to_lowercase()),
    }
}

// ---------------------------------------------------------------------------
// batch/v1 Job, CronJob
// ---------------------------------------------------------------------------

fn job_columns() -> Vec<Column> {
    let mut columns = vec![
        name_column(),
        string_column("Status", "Status of the job."),
        string_column("Completions", "The number of pods which reached phase Succeeded."),
        string_column("Duration", "Time required to complete the job."),
        age_column(),
    ];
    columns.extend(template_columns());
    columns.push(selector_column("A label query over pods that should match the pod count."));
    columns
}

fn job_cells(job: &Value, now: SystemTime) -> Vec<Value> {
    let [names, images] = container_cells(template_pod_spec(job));
    vec![
        name_cell(job),
        job_status(job).into(),
        job_completions(job).into(),
        job_duration(job, now).into(),
        age(job, now).into(),
        names,
        images,
        format_label_selector(field(job, &["spec", "selector"])).into(),
    ]
}

/// Whether the first condition of this type has status "True".
fn job_condition(job: &Value, condition_type: &str) -> bool {
    items(job, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == condition_type)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

fn job_status(job: &Value) -> &'static str {
    if job_condition(job, "Complete") {
        "Complete"
    } else if job_condition(job, "Failed") {
        "Failed"
    } else if is_set(job, &["metadata", "deletionTimestamp"]) {
        "Terminating"
    } else if job_condition(job, "Suspended") {
        "Suspended"
    } else if job_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

/// "succeeded/completions"; without completions "n/1", or "n/1 of p" when parallel.
fn job_completions(job: &Value) -> String {
    let succeeded = int_at(job, &["status", "succeeded"]);
    if let Some(completions) = field(job, &["spec", "completions"]).and_then(as_int) {
        return format!("{succeeded}/{completions}");
    }
    match int_at(job, &["spec", "parallelism"]) {
        parallelism if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
        _ => format!("{succeeded}/1"),
    }
}

/// Start to completion, or start to now while running; "" before it starts.
fn job_duration(job: &Value, now: SystemTime) -> String {
    let Some(start) = time_at(job, &["status", "startTime"]) else {
        return String::new();
    };
    let end = time_at(job, &["status", "completionTime"]).unwrap_or(now);
    elapsed(start, end)
}

fn cron_job_columns() -> Vec<Column> {
    let mut columns = vec![
        name_column(),
        string_column("Schedule", "The schedule in Cron format."),
        string_column("Timezone", "The time zone name for the given schedule."),
        Column::new("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions."),
        integer_column("Active", "A list of pointers to currently running jobs."),
        string_column("Last Schedule", "Information when was the last time the job was successfully scheduled."),
        age_column(),
    ];
    columns.extend(template_columns());
    columns.push(selector_column("A label query over pods that should match the pod count."));
    columns
}

fn cron_job_cells(cron_job: &Value, now: SystemTime) -> Vec<Value> {
    let job_spec = field(cron_job, &["spec", "jobTemplate", "spec"]).unwrap_or(&Value::Null);
    let [names, images] = container_cells(field(job_spec, &["template", "spec"]));
    let last_schedule = match time_at(cron_job, &["status", "lastScheduleTime"]) {
        Some(t) => elapsed(t, now),
        None => "<none>".to_string(),
    };
    vec![
        name_cell(cron_job),
        str_at(cron_job, &["spec", "schedule"]).into(),
        opt_str(cron_job, &["spec", "timeZone"]).unwrap_or("<none>").into(),
        bool_ptr_text(field(cron_job, &["spec", "suspend"])).into(),
        len_at(cron_job, &["status", "active"]).into(),
        last_schedule.into(),
        age(cron_job, now).into(),
        names,
        images,
        format_label_selector(field(job_spec, &["selector"])).into(),
    ]
}

// ---------------------------------------------------------------------------
// networking.k8s.io Ingress, IngressClass, NetworkPolicy;
// discovery.k8s.io EndpointSlice
// ---------------------------------------------------------------------------

fn ingress_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column(
            "Class",
            "The name of the IngressClass resource that should be used for additional configuration",
        ),
        string_column("Hosts", "Hosts that incoming requests are matched against before the ingress rule"),
        string_column("Address", "Address is a list containing ingress points for the load-balancer"),
        string_column("Ports", "Ports of TLS configurations that open"),
        age_column(),
    ]
}

fn ingress_cells(ingress: &Value, now: SystemTime) -> Vec<Value> {
    let ports = if items(ingress, &["spec", "tls"]).is_empty() { "80" } else { "80, 443" };
    vec![
        name_cell(ingress),
        opt_str(ingress, &["spec", "ingressClassName"]).unwrap_or("<none>").into(),
        ingress_hosts(items(ingress, &["spec", "rules"])).into(),
        load_balancer_addresses(ingress).join(",").into(),
        ports.into(),
        age(ingress, now).into(),
    ]
}

/// The first three rule hosts, "*" when no rule names one. As in kubectl,
/// "+ N more" appears once a rule follows a full list, and N counts all rules
/// beyond three, host or not.
fn ingress_hosts(rules: &[Value]) -> String {
    let mut hosts = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX_LISTED {
            more = true;
            break;
        }
        let host = str_at(rule, &["host"]);
        if !host.is_empty() {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return "*".to_string();
    }
    let joined = hosts.join(",");
    if more {
        format!("{joined} + {} more...", rules.len() - MAX_LISTED)
    } else {
        joined
    }
}

fn ingress_class_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("Controller", "Controller that is responsible for handling this class"),
        string_column("Parameters", "A reference to a resource with additional parameters"),
        age_column(),
    ]
}

fn ingress_class_cells(class: &Value, now: SystemTime) -> Vec<Value> {
    let parameters = match object_at(class, &["spec", "parameters"]) {
        Some(p) => {
            let kind = match opt_str(p, &["apiGroup"]) {
                Some(group) => format!("{}.{group}", str_at(p, &["kind"])),
                None => str_at(p, &["kind"]).to_string(),
            };
            format!("{kind}/{}", str_at(p, &["name"]))
        }
        None => "<none>".to_string(),
    };
    vec![name_cell(class), str_at(class, &["spec", "controller"]).into(), parameters.into(), age(class, now).into()]
}

fn network_policy_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("Pod-Selector", "Selects the pods to which this NetworkPolicy object applies."),
        age_column(),
    ]
}

fn network_policy_cells(policy: &Value, now: SystemTime) -> Vec<Value> {
    // A missing podSelector is the empty selector (all pods): "<none>".
    let selector = format_label_selector(field(policy, &["spec", "podSelector"]));
    vec![name_cell(policy), selector.into(), age(policy, now).into()]
}

fn endpoint_slice_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("AddressType", "addressType specifies the type of address carried by this EndpointSlice."),
        string_column("Ports", "ports specifies the list of network ports exposed by each endpoint in this slice."),
        string_column("Endpoints", "endpoints is a list of unique endpoints in this slice."),
        age_column(),
    ]
}

fn endpoint_slice_cells(slice: &Value, now: SystemTime) -> Vec<Value> {
    let ports: Vec<String> = items(slice, &["ports"])
        .iter()
        .map(|port| match (field(port, &["port"]).and_then(as_int), opt_str(port, &["name"])) {
            (Some(number), _) => number.to_string(),
            (None, Some(name)) => name.to_string(),
            (None, None) => "*".to_string(),
        })
        .collect();
    let addresses: Vec<String> = items(slice, &["endpoints"])
        .iter()
        .flat_map(|endpoint| strings_at(endpoint, &["addresses"]))
        .map(str::to_string)
        .collect();
    vec![
        name_cell(slice),
        str_at(slice, &["addressType"]).into(),
        listed_or_unset(&ports).into(),
        listed_or_unset(&addresses).into(),
        age(slice, now).into(),
    ]
}

/// At most three entries plus "+ N more...", "<unset>" when empty.
fn listed_or_unset(all: &[String]) -> String {
    if all.is_empty() {
        return "<unset>".to_string();
    }
    list_with_more(&all[..all.len().min(MAX_LISTED)], all.len())
}

// ---------------------------------------------------------------------------
// coordination Lease, storage StorageClass, policy PodDisruptionBudget
// ---------------------------------------------------------------------------

fn lease_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("Holder", "holderIdentity contains the identity of the holder of a current lease."),
        age_column(),
    ]
}

fn lease_cells(lease: &Value, now: SystemTime) -> Vec<Value> {
    vec![name_cell(lease), str_at(lease, &["spec", "holderIdentity"]).into(), age(lease, now).into()]
}

fn storage_class_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("Provisioner", "provisioner indicates the type of the provisioner."),
        string_column("ReclaimPolicy", "reclaimPolicy controls the reclaimPolicy for dynamically provisioned volumes."),
        string_column(
            "VolumeBindingMode",
            "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.",
        ),
        string_column(
            "AllowVolumeExpansion",
            "allowVolumeExpansion shows whether the storage class allow volume expand.",
        ),
        age_column(),
    ]
}

fn storage_class_cells(class: &Value, now: SystemTime) -> Vec<Value> {
    let mut name = str_at(class, &["metadata", "name"]).to_string();
    if is_default_storage_class(class) {
        name.push_str(" (default)");
    }
    vec![
        name.into(),
        str_at(class, &["provisioner"]).into(),
        opt_str(class, &["reclaimPolicy"]).unwrap_or("Delete").into(),
        opt_str(class, &["volumeBindingMode"]).unwrap_or("Immediate").into(),
        bool_at(class, &["allowVolumeExpansion"]).into(),
        age(class, now).into(),
    ]
}

fn is_default_storage_class(class: &Value) -> bool {
    ["storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"]
        .iter()
        .any(|key| str_at(class, &["metadata", "annotations", key]) == "true")
}

fn pod_disruption_budget_columns() -> Vec<Column> {
    vec![
        name_column(),
        string_column("Min Available", "The minimum number of pods that must be available."),
        string_column("Max Unavailable", "The maximum number of pods that may be unavailable."),
        integer_column("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time."),
        age_column(),
    ]
}

fn pod_disruption_budget_cells(pdb: &Value, now: SystemTime) -> Vec<Value> {
    let bound = |key: &str| field(pdb, &["spec", key]).and_then(int_or_string).unwrap_or_else(|| "N/A".to_string());
    vec![
        name_cell(pdb),
        bound("minAvailable").into(),
        bound("maxUnavailable").into(),
        int_at(pdb, &["status", "disruptionsAllowed"]).into(),
        age(pdb, now).into(),
    ]
}

// ---------------------------------------------------------------------------
// Custom resources
// ---------------------------------------------------------------------------

/// The CRD's columns, or the AGE column the apiextensions server serves when
/// a CRD declares none.
fn effective_printer_columns(cols: &[PrinterColumn]) -> Vec<PrinterColumn> {
    if !cols.is_empty() {
        return cols.to_vec();
    }
    vec![PrinterColumn {
        name: "Age".to_string(),
        type_: "date".to_string(),
        format: None,
        description: AGE_DESCRIPTION.to_string(),
        priority: 0,
        json_path: ".metadata.creationTimestamp".to_string(),
    }]
}

fn custom_column(col: &PrinterColumn) -> Column {
    let description = if col.description.is_empty() {
        format!("Custom resource definition column (in JSONPath format): {}", col.json_path)
    } else {
        col.description.clone()
    };
    Column {
        name: col.name.clone(),
        type_: col.type_.clone(),
        format: col.format.clone().unwrap_or_default(),
        description,
        priority: i32::try_from(col.priority).unwrap_or(i32::MAX),
    }
}

/// One CRD column's cell; null (kubectl prints "<none>") when the path
/// matches nothing or the value does not fit the column's type.
fn custom_cell(col: &PrinterColumn, obj: &Value, now: SystemTime) -> Value {
    let results = json_path(obj, &col.json_path);
    let Some(first) = results.first() else {
        return Value::Null;
    };
    match col.type_.as_str() {
        "string" => {
            let texts: Vec<String> = results.iter().filter_map(jsonpath_text).collect();
            if texts.is_empty() {
                Value::Null
            } else {
                texts.join(",").into()
            }
        }
        "integer" => as_int(first).map_or(Value::Null, Value::from),
        "number" if first.is_number() => first.clone(),
        "boolean" if first.is_boolean() => first.clone(),
        "date" => match first.as_str() {
            Some(text) => parse_time(text).map_or_else(|| "<invalid>".to_string(), |t| elapsed(t, now)).into(),
            None => Value::Null,
        },
        _ => Value::Null,
    }
}

/// How kubectl's JSONPath prints one value: strings bare, scalars as text,
/// maps and lists as compact JSON with sorted keys.
fn jsonpath_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) => Some(v.to_string()),
        Value::Array(_) | Value::Object(_) => Some(sorted_keys(v).to_string()),
    }
}

/// A copy of `v` with object keys in sorted order, as Go's encoder writes maps.
fn sorted_keys(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), sorted_keys(v))).collect())
        }
        Value::Array(list) => Value::Array(list.iter().map(sorted_keys).collect()),
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------
// JSONPath (the subset CRD printer columns use)
// ---------------------------------------------------------------------------

/// Evaluates a JSONPath such as ".spec.replicas", ".status.conditions[0].type",
/// ".spec.hosts[*]", ".metadata.labels['app.kubernetes.io/name']" or
/// ".status.conditions[?(@.type=="Ready")].status", with or without
/// surrounding "{...}". Returns every match; nothing for a missing field or
/// an expression outside the supported subset.
pub fn json_path(obj: &Value, path: &str) -> Vec<Value> {
    let mut expr = path.trim();
    if let Some(inner) = expr.strip_prefix('{').and_then(|e| e.strip_suffix('}')) {
        expr = inner.trim();
    }
    let expr = expr.strip_prefix('$').unwrap_or(expr);
    // Tolerate a missing leading dot ("spec.replicas").
    let expr = if expr.is_empty() || expr.starts_with('.') || expr.starts_with('[') {
        expr.to_string()
    } else {
        format!(".{expr}")
    };
    match PathParser::new(&expr).parse_all() {
        Some(steps) => evaluate(obj, &steps).into_iter().cloned().collect(),
        None => Vec::new(),
    }
}

#[derive(Debug)]
enum Step {
    Field(String),
    Wildcard,
    Index(i64),
    Slice(Option<i64>, Option<i64>),
    Filter(Filter),
}

/// `[?(@.path)]` (exists) or `[?(@.path OP literal)]`.
#[derive(Debug)]
struct Filter {
    path: Vec<Step>,
    test: Option<(Comparison, Value)>,
}

#[derive(Clone, Copy, Debug)]
enum Comparison {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

struct PathParser {
    chars: Vec<char>,
    pos: usize,
}

impl PathParser {
    fn new(text: &str) -> Self {
        PathParser { chars: text.chars().collect(), pos: 0 }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let matched = self.peek() == Some(c);
        if matched {
            self.pos += 1;
        }
        matched
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn parse_all(&mut self) -> Option<Vec<Step>> {
        let steps = self.steps(false)?;
        (self.pos == self.chars.len()).then_some(steps)
    }

    /// A run of `.field`, `.*` and `[...]` steps. Inside a filter the run ends
    /// at the first other character (an operator or ')').
    fn steps(&mut self, in_filter: bool) -> Option<Vec<Step>> {
        let mut steps = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                '.' => {
                    self.pos += 1;
                    if self.eat('*') {
                        steps.push(Step::Wildcard);
                    } else {
                        // An empty name also rejects recursive descent (".."), which is unsupported.
                        let name = self.field_name();
                        if name.is_empty() {
                            return None;
                        }
                        steps.push(Step::Field(name));
                    }
                }
                '[' => {
                    self.pos += 1;
                    steps.push(self.bracket()?);
                }
                _ if in_filter => break,
                _ => return None,
            }
        }
        Some(steps)
    }

    /// A dotted field name; a backslash escapes the next character ("app\.kubernetes\.io").
    fn field_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            match c {
                '\\' => {
                    self.pos += 1;
                    if let Some(escaped) = self.peek() {
                        name.push(escaped);
                        self.pos += 1;
                    }
                }
                '.' | '[' | ']' | '(' | ')' | '=' | '!' | '<' | '>' | ' ' => break,
                _ => {
                    name.push(c);
                    self.pos += 1;
                }
            }
        }
        name
    }

    /// The inside of `[...]`, after the '['.
    fn bracket(&mut self) -> Option<Step> {
        self.skip_spaces();
        let step = match self.peek()? {
            '*' => {
                self.pos += 1;
                Step::Wildcard
            }
            '\'' | '"' => Step::Field(self.quoted()?),
            '?' => {
                self.pos += 1;
                Step::Filter(self.filter()?)
            }
            _ => self.index_or_slice()?,
        };
        self.skip_spaces();
        self.eat(']').then_some(step)
    }

    fn quoted(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek()? {
                '\\' => {
                    self.pos += 1;
                    text.push(self.peek()?);
                }
                c if c == quote => {
                    self.pos += 1;
                    return Some(text);
                }
                c => text.push(c),
            }
            self.pos += 1;
        }
    }

    fn index_or_slice(&mut self) -> Option<Step> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c != ']') {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        let bound = |s: &str| -> Option<Option<i64>> {
            let s = s.trim();
            if s.is_empty() {
                Some(None)
            } else {
                s.parse().ok().map(Some)
            }
        };
        match text.split_once(':') {
            Some((from, to)) => Some(Step::Slice(bound(from)?, bound(to.split(':').next()?)?)),
            None => Some(Step::Index(text.trim().parse().ok()?)),
        }
    }

    /// `(@.path)` or `(@.path OP literal)`, after the '?'.
    fn filter(&mut self) -> Option<Filter> {
        self.skip_spaces();
        if !self.eat('(') {
            return None;
        }
        self.skip_spaces();
        if !self.eat('@') {
            return None;
        }
        let path = self.steps(true)?;
        self.skip_spaces();
        let test = match self.comparison() {
            Some(op) => {
                self.skip_spaces();
                Some((op, self.literal()?))
            }
            None => None,
        };
        self.skip_spaces();
        self.eat(')').then_some(Filter { path, test })
    }

    fn comparison(&mut self) -> Option<Comparison> {
        let two: String = self.chars.iter().skip(self.pos).take(2).collect();
        let (op, len) = match two.as_str() {
            "==" => (Comparison::Eq, 2),
            "!=" => (Comparison::Ne, 2),
            "<=" => (Comparison::Le, 2),
            ">=" => (Comparison::Ge, 2),
            _ if two.starts_with('<') => (Comparison::Lt, 1),
            _ if two.starts_with('>') => (Comparison::Gt, 1),
            _ if two.starts_with('=') => (Comparison::Eq, 1),
            _ => return None,
        };
        self.pos += len;
        Some(op)
    }

    /// A quoted string, number, true, false or null.
    fn literal(&mut self) -> Option<Value> {
        if matches!(self.peek()?, '\'' | '"') {
            return self.quoted().map(Value::String);
        }
        let start = self.pos;
        while self.peek().is_some_and(|c| !c.is_whitespace() && c != ')') {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        serde_json::from_str(&text).ok()
    }
}

fn evaluate<'a>(root: &'a Value, steps: &[Step]) -> Vec<&'a Value> {
    steps.iter().fold(vec![root], |current, step| current.into_iter().flat_map(|v| apply_step(step, v)).collect())
}

fn apply_step<'a>(step: &Step, v: &'a Value) -> Vec<&'a Value> {
    match (step, v) {
        (Step::Field(name), Value::Object(map)) => map.get(name).into_iter().collect(),
        (Step::Wildcard, Value::Object(map)) => map.values().collect(),
        (Step::Wildcard, Value::Array(list)) => list.iter().collect(),
        (Step::Index(i), Value::Array(list)) => {
            resolve_index(*i, list.len()).and_then(|i| list.get(i)).into_iter().collect()
        }
        (Step::Slice(from, to), Value::Array(list)) => {
            let len = list.len();
            let clamp = |bound: i64| resolve_index(bound, len).unwrap_or(if bound < 0 { 0 } else { len });
            let from = from.map_or(0, clamp);
            let to = to.map_or(len, clamp);
            list.get(from..to.max(from)).unwrap_or(&[]).iter().collect()
        }
        (Step::Filter(filter), Value::Array(list)) => list.iter().filter(|item| filter_matches(filter, item)).collect(),
        _ => Vec::new(),
    }
}

/// A possibly negative (from the end) index into a list of `len` items.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let resolved = if index < 0 {
        len.checked_sub(usize::try_from(index.unsigned_abs()).ok()?)?
    } else {
        usize::try_from(index).ok()?
    };
    (resolved < len).then_some(resolved)
}

fn filter_matches(filter: &Filter, item: &Value) -> bool {
    let found = evaluate(item, &filter.path);
    match &filter.test {
        None => !found.is_empty(),
        Some((op, literal)) => found.iter().any(|value| compare(value, *op, literal)),
    }
}

fn compare(value: &Value, op: Comparison, literal: &Value) -> bool {
    let equal = match (value.as_f64(), literal.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => value == literal,
    };
    match op {
        Comparison::Eq => equal,
        Comparison::Ne => !equal,
        _ => match (value.as_f64(), literal.as_f64()) {
            (Some(a), Some(b)) => match op {
                Comparison::Lt => a < b,
                Comparison::Le => a <= b,
                Comparison::Gt => a > b,
                _ => a >= b,
            },
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed "now" so ages are exact.
    fn now() -> SystemTime {
        humantime::parse_rfc3339("2026-11-22T12:00:00Z").expect("valid test timestamp")
    }

    /// The RFC 3339 timestamp `secs` seconds before `now()`.
    fn ago(secs: u64) -> String {
        humantime::format_rfc3339_seconds(now() - Duration::from_secs(secs)).to_string()
    }

    /// The cell under `column` in `obj`'s row, checking the row matches the columns.
    fn cell(group: &str, kind: &str, obj: &Value, column: &str) -> Value {
        let columns = builtin_columns(group, kind).expect("kind has a printer");
        let cells = builtin_cells(group, kind, obj, now());
        assert_eq!(columns.len(), cells.len(), "{kind}: one cell per column");
        let index = columns.iter().position(|c| c.name == column).unwrap_or_else(|| panic!("{kind} has no {column}"));
        cells[index].clone()
    }

    fn column_names(group: &str, kind: &str) -> Vec<String> {
        builtin_columns(group, kind).expect("kind has a printer").into_iter().map(|c| c.name).collect()
    }

    fn wide_names(group: &str, kind: &str) -> Vec<String> {
        let columns = builtin_columns(group, kind).expect("kind has a printer");
        columns.into_iter().filter(|c| c.priority == 1).map(|c| c.name).collect()
    }

    const ALL_KINDS: [(&str, &str); 31] = [
        ("", "Pod"),
        ("", "Service"),
        ("", "Endpoints"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("", "Node"),
        ("", "Namespace"),
        ("", "Event"),
        ("events.k8s.io", "Event"),
        ("", "PersistentVolume"),
        ("", "PersistentVolumeClaim"),
        ("", "ResourceQuota"),
        ("", "LimitRange"),
        ("", "PodTemplate"),
        ("", "ReplicationController"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ControllerRevision"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("coordination.k8s.io", "Lease"),
        ("storage.k8s.io", "StorageClass"),
        ("policy", "PodDisruptionBudget"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ];

    #[test]
    fn human_duration_follows_kubectl_thresholds() {
        let cases = [
            (0, "0s"),
            (45, "45s"),
            (119, "119s"),
            (120, "2m"),
            (5 * 60 + 3, "5m3s"),
            (10 * 60 + 59, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (7 * 3600 + 59 * 60, "7h59m"),
            (8 * 3600 + 30 * 60, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (53 * 3600, "2d5h"),
            (7 * 86400 + 23 * 3600, "7d23h"),
            (8 * 86400 + 5 * 3600, "8d"),
            (400 * 86400, "400d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            ((3 * 365 + 45) * 86400, "3y45d"),
            (8 * 365 * 86400, "8y"),
            (20 * 365 * 86400 + 7 * 86400, "20y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(Duration::from_secs(secs)), want, "{secs}s");
        }
    }

    #[test]
    fn age_reads_creation_timestamp() {
        let at = |ts: Value| age(&json!({"metadata": {"creationTimestamp": ts}}), now());
        assert_eq!(at(ago(303).into()), "5m3s");
        assert_eq!(at("2026-11-22T11:59:59.750Z".into()), "0s");
        assert_eq!(at("2026-11-22T13:00:00+02:00".into()), "60m", "numeric offsets are honoured");
        assert_eq!(at("2026-11-22T12:00:01Z".into()), "0s", "one second of clock skew is tolerated");
        assert_eq!(at("2026-11-22T12:00:05Z".into()), "<invalid>", "the future is not an age");
        assert_eq!(at("yesterday".into()), "<unknown>");
        assert_eq!(at(json!(12)), "<unknown>");
        assert_eq!(age(&json!({"metadata": {}}), now()), "<unknown>");
        assert_eq!(age(&json!("not an object"), now()), "<unknown>");
    }

    #[test]
    fn every_printer_survives_empty_and_mistyped_objects() {
        let odd = json!({
            "metadata": {"name": 7, "labels": "x", "ownerReferences": {"a": 1}, "creationTimestamp": false},
            "spec": {"containers": "nginx", "ports": [1, "x"], "rules": [null], "selector": [1], "replicas": "3"},
            "status": {"conditions": [{"type": 1}], "containerStatuses": [{"state": "running"}], "hard": [1]},
            "subsets": [{"addresses": "x"}], "endpoints": [{"addresses": [1]}], "data": 5,
        });
        for (group, kind) in ALL_KINDS {
            let columns = builtin_columns(group, kind).expect("kind has a printer");
            for obj in [json!({}), json!(null), json!([1, 2]), odd.clone()] {
                let cells = builtin_cells(group, kind, &obj, now());
                assert_eq!(cells.len(), columns.len(), "{group}/{kind} for {obj}");
            }
            assert_eq!(columns.iter().filter(|c| c.format == "name").count(), 1, "{kind}: one NAME column");
        }
    }

    #[test]
    fn unknown_kinds_get_name_and_age() {
        assert_eq!(builtin_columns("rbac.authorization.k8s.io", "Role"), None);
        assert_eq!(builtin_columns("", "Deployment"), None, "kinds are matched with their group");
        let obj = json!({"metadata": {"name": "reader", "creationTimestamp": ago(3 * 86400)}});
        assert_eq!(default_cells(&obj, now()), vec![json!("reader"), json!("3d")]);
        assert_eq!(builtin_cells("rbac.authorization.k8s.io", "Role", &obj, now()), default_cells(&obj, now()));
        let names: Vec<String> = default_columns().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["Name", "Age"]);
    }

    fn running_pod() -> Value {
        json!({
            "metadata": {"name": "web-7d9f", "creationTimestamp": ago(3 * 3600)},
            "spec": {"nodeName": "node-a", "containers": [{"name": "app"}, {"name": "proxy"}]},
            "status": {
                "phase": "Running",
                "podIP": "10.244.1.7",
                "podIPs": [{"ip": "10.244.1.7"}, {"ip": "fd00::7"}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {"name": "app", "ready": true, "restartCount": 3, "state": {"running": {"startedAt": ago(45)}},
                     "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(45)}}},
                    {"name": "proxy", "ready": true, "restartCount": 0, "state": {"running": {}}},
                ],
            },
        })
    }

    #[test]
    fn pod_row_for_a_running_pod() {
        let pod = running_pod();
        let cells = builtin_cells("", "Pod", &pod, now());
        assert_eq!(
            cells,
            vec![
                json!("web-7d9f"),
                json!("2/2"),
                json!("Running"),
                json!("3 (45s ago)"),
                json!("3h"),
                json!("10.244.1.7"),
                json!("node-a"),
                json!("<none>"),
                json!("<none>"),
            ]
        );
        assert_eq!(column_names("", "Pod")[..5], ["Name", "Ready", "Status", "Restarts", "Age"]);
        assert_eq!(wide_names("", "Pod"), ["IP", "Node", "Nominated Node", "Readiness Gates"]);
    }

    #[test]
    fn pod_status_from_container_states() {
        let with_state = |state: Value| {
            let mut pod = running_pod();
            pod["status"]["containerStatuses"][0]["state"] = state;
            pod["status"]["containerStatuses"][0]["ready"] = json!(false);
            pod
        };
        let crash = with_state(json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}));
        assert_eq!(cell("", "Pod", &crash, "Status"), "CrashLoopBackOff");
        assert_eq!(cell("", "Pod", &crash, "Ready"), "1/2");
        let pulling = with_state(json!({"waiting": {"reason": "ImagePullBackOff"}}));
        assert_eq!(cell("", "Pod", &pulling, "Status"), "ImagePullBackOff");
        let killed = with_state(json!({"terminated": {"exitCode": 137, "signal": 9}}));
        assert_eq!(cell("", "Pod", &killed, "Status"), "Signal:9");
        let failed = with_state(json!({"terminated": {"exitCode": 2}}));
        assert_eq!(cell("", "Pod", &failed, "Status"), "ExitCode:2");
        let oom = with_state(json!({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}));
        assert_eq!(cell("", "Pod", &oom, "Status"), "OOMKilled");

        // One container completed while the other still runs: Running or NotReady, never Completed.
        let mut partly_done = with_state(json!({"terminated": {"exitCode": 0, "reason": "Completed"}}));
        assert_eq!(cell("", "Pod", &partly_done, "Status"), "Running");
        partly_done["status"]["conditions"] = json!([{"type": "Ready", "status": "False"}]);
        assert_eq!(cell("", "Pod", &partly_done, "Status"), "NotReady");

        let pending = json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "app"}]},
            "status": {"phase": "Pending", "containerStatuses": [
                {"name": "app", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": "ContainerCreating"}}}
            ]},
        });
        assert_eq!(cell("", "Pod", &pending, "Status"), "ContainerCreating");
        assert_eq!(cell("", "Pod", &pending, "Ready"), "0/1");
        assert_eq!(cell("", "Pod", &pending, "Restarts"), "0");
    }

    #[test]
    fn pod_status_during_initialization() {
        let pod = |init_statuses: Value| {
            json!({
                "metadata": {"name": "db-0"},
                "spec": {"initContainers": [{"name": "migrate"}, {"name": "seed"}], "containers": [{"name": "db"}]},
                "status": {"phase": "Pending", "initContainerStatuses": init_statuses, "containerStatuses": [
                    {"name": "db", "ready": false, "restartCount": 0,
                     "state": {"waiting": {"reason": "PodInitializing"}}}
                ]},
            })
        };
        let waiting = json!({"waiting": {"reason": "PodInitializing"}});
        let fresh = pod(json!([
            {"name": "migrate", "restartCount": 0, "state": {"running": {}}},
            {"name": "seed", "restartCount": 0, "state": waiting},
        ]));
        assert_eq!(cell("", "Pod", &fresh, "Status"), "Init:0/2");
        let second = pod(json!([
            {"name": "migrate", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            {"name": "seed", "restartCount": 0, "state": {"running": {}}},
        ]));
        assert_eq!(cell("", "Pod", &second, "Status"), "Init:1/2");
        let errored = pod(json!([
            {"name": "migrate", "restartCount": 4, "state": {"terminated": {"exitCode": 1, "reason": "Error"}},
             "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(90)}}},
        ]));
        assert_eq!(cell("", "Pod", &errored, "Status"), "Init:Error");
        assert_eq!(cell("", "Pod", &errored, "Restarts"), "4 (90s ago)", "init restarts count while initializing");
        let looping =
            pod(json!([{"name": "migrate", "restartCount": 5, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]));
        assert_eq!(cell("", "Pod", &looping, "Status"), "Init:CrashLoopBackOff");
        let signalled = pod(json!([{"name": "migrate", "state": {"terminated": {"exitCode": 143, "signal": 15}}}]));
        assert_eq!(cell("", "Pod", &signalled, "Status"), "Init:Signal:15");
    }

    #[test]
    fn pod_sidecars_count_as_containers() {
        let pod = json!({
            "metadata": {"name": "mesh"},
            "spec": {
                "initContainers": [{"name": "istio-proxy", "restartPolicy": "Always"}],
                "containers": [{"name": "app"}],
            },
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
                "initContainerStatuses": [{"name": "istio-proxy", "ready": true, "started": true, "restartCount": 1,
                    "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(600)}}}],
                "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}],
            },
        });
        assert_eq!(cell("", "Pod", &pod, "Ready"), "2/2");
        assert_eq!(cell("", "Pod", &pod, "Status"), "Running");
        assert_eq!(cell("", "Pod", &pod, "Restarts"), "1 (10m ago)");
    }

    #[test]
    fn pod_status_overrides() {
        let mut terminating = running_pod();
        terminating["metadata"]["deletionTimestamp"] = json!(ago(5));
        assert_eq!(cell("", "Pod", &terminating, "Status"), "Terminating");
        terminating["status"]["reason"] = json!("NodeLost");
        assert_eq!(cell("", "Pod", &terminating, "Status"), "Unknown");

        let done = json!({"metadata": {"name": "job-x", "deletionTimestamp": ago(1)}, "spec": {"containers": [{}]},
            "status": {"phase": "Succeeded", "containerStatuses": [
                {"ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}});
        assert_eq!(cell("", "Pod", &done, "Status"), "Completed", "finished pods are not Terminating");

        let evicted = json!({"metadata": {"name": "e"}, "status": {"phase": "Failed", "reason": "Evicted"}});
        assert_eq!(cell("", "Pod", &evicted, "Status"), "Evicted");
        assert_eq!(cell("", "Pod", &evicted, "Ready"), "0/0");

        let gated = json!({"metadata": {"name": "g"}, "status": {"phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}});
        assert_eq!(cell("", "Pod", &gated, "Status"), "SchedulingGated");

        let mut gates = running_pod();
        gates["spec"]["readinessGates"] = json!([{"conditionType": "lb/ready"}, {"conditionType": "dns/ready"}]);
        gates["status"]["conditions"] = json!([{"type": "lb/ready", "status": "True"}]);
        gates["status"]["nominatedNodeName"] = json!("node-b");
        assert_eq!(cell("", "Pod", &gates, "Readiness Gates"), "1/2");
        assert_eq!(cell("", "Pod", &gates, "Nominated Node"), "node-b");
    }

    #[test]
    fn service_rows_by_type() {
        let svc = |spec: Value, status: Value| {
            json!({
                "metadata": {"name": "web", "creationTimestamp": ago(60)},
                "spec": spec,
                "status": status,
            })
        };
        let cluster_ip = svc(
            json!({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                "selector": {"k8s-app": "kube-dns", "app": "dns"}}),
            json!({}),
        );
        assert_eq!(
            builtin_cells("", "Service", &cluster_ip, now()),
            vec![
                json!("web"),
                json!("ClusterIP"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("53/UDP,53/TCP"),
                json!("60s"),
                json!("app=dns,k8s-app=kube-dns"),
            ]
        );
        let node_port = svc(
            json!({"type": "NodePort", "clusterIPs": ["10.96.3.4"], "externalIPs": ["1.2.3.4", "5.6.7.8"],
                "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 443, "nodePort": 30443}]}),
            json!({}),
        );
        assert_eq!(cell("", "Service", &node_port, "Port(s)"), "80:30080/TCP,443:30443/TCP");
        assert_eq!(cell("", "Service", &node_port, "External-IP"), "1.2.3.4,5.6.7.8");
        assert_eq!(cell("", "Service", &node_port, "Selector"), "<none>");

        let pending = svc(json!({"type": "LoadBalancer", "clusterIP": "10.96.5.5", "ports": []}), json!({}));
        assert_eq!(cell("", "Service", &pending, "External-IP"), "<pending>");
        assert_eq!(cell("", "Service", &pending, "Cluster-IP"), "10.96.5.5", "clusterIP when clusterIPs is unset");
        assert_eq!(cell("", "Service", &pending, "Port(s)"), "<none>");
        let balanced = svc(
            json!({"type": "LoadBalancer", "externalIPs": ["9.9.9.9"]}),
            json!({"loadBalancer": {"ingress": [
                {"ip": "203.0.113.9"}, {"hostname": "lb.example.com"}, {"ip": "203.0.113.9"}]}}),
        );
        assert_eq!(cell("", "Service", &balanced, "External-IP"), "203.0.113.9,lb.example.com,9.9.9.9");
        let external = svc(json!({"type": "ExternalName", "externalName": "db.example.com"}), json!({}));
        assert_eq!(cell("", "Service", &external, "External-IP"), "db.example.com");
        assert_eq!(cell("", "Service", &external, "Cluster-IP"), "<none>");
        let headless = svc(json!({"clusterIP": "None", "clusterIPs": ["None"]}), json!({}));
        assert_eq!(cell("", "Service", &headless, "Type"), "ClusterIP", "unset type is the API default");
        assert_eq!(cell("", "Service", &headless, "Cluster-IP"), "None");
    }

    #[test]
    fn endpoints_list_three_and_count_the_rest() {
        let addresses = |ips: &[&str]| -> Value { ips.iter().map(|ip| json!({"ip": ip})).collect() };
        let eps = json!({"metadata": {"name": "web"}, "subsets": [
            {"addresses": addresses(&["10.0.0.1", "10.0.0.2"]), "ports": [{"port": 80}, {"port": 443}]},
            {"addresses": addresses(&["fd00::3"]), "ports": [{"port": 80}]},
        ]});
        assert_eq!(cell("", "Endpoints", &eps, "Endpoints"), "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...");
        let few = json!({"subsets": [{"addresses": addresses(&["fd00::3"]), "ports": [{"port": 8080}]}]});
        assert_eq!(cell("", "Endpoints", &few, "Endpoints"), "[fd00::3]:8080");
        let headless = json!({"subsets": [{"addresses": addresses(&["10.0.0.1", "10.0.0.2"])}]});
        assert_eq!(cell("", "Endpoints", &headless, "Endpoints"), "10.0.0.1,10.0.0.2");
        assert_eq!(cell("", "Endpoints", &json!({"subsets": []}), "Endpoints"), "<none>");
        let not_ready = json!({"subsets": [{"notReadyAddresses": addresses(&["10.0.0.9"]), "ports": [{"port": 80}]}]});
        assert_eq!(cell("", "Endpoints", &not_ready, "Endpoints"), "");
    }

    #[test]
    fn config_objects_count_their_entries() {
        let cm = json!({"metadata": {"name": "cfg", "creationTimestamp": ago(400 * 86400)},
            "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(builtin_cells("", "ConfigMap", &cm, now()), vec![json!("cfg"), json!(3), json!("400d")]);
        let secret = json!({"metadata": {"name": "tls"}, "type": "kubernetes.io/tls",
            "data": {"tls.crt": "", "tls.key": ""}, "stringData": {"x": "y"}});
        assert_eq!(cell("", "Secret", &secret, "Type"), "kubernetes.io/tls");
        assert_eq!(cell("", "Secret", &secret, "Data"), 2);
        let sa = json!({"metadata": {"name": "default"}, "secrets": [{"name": "default-token"}]});
        assert_eq!(cell("", "ServiceAccount", &sa, "Secrets"), 1);
        let ns = json!({"metadata": {"name": "kube-system"}, "status": {"phase": "Active"}});
        assert_eq!(cell("", "Namespace", &ns, "Status"), "Active");
        assert_eq!(column_names("", "Secret"), ["Name", "Type", "Data", "Age"]);
    }

    #[test]
    fn node_status_roles_and_addresses() {
        let node = json!({
            "metadata": {"name": "cp-1", "creationTimestamp": ago(30 * 86400), "labels": {
                "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/etcd": "true",
                "node-role.kubernetes.io/": "", "kubernetes.io/role": "master", "kubernetes.io/hostname": "cp-1"}},
            "spec": {"unschedulable": true},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                "addresses": [
                    {"type": "Hostname", "address": "cp-1"}, {"type": "InternalIP", "address": "192.168.1.10"}],
                "nodeInfo": {"kubeletVersion": "v1.31.2", "osImage": "Ubuntu 24.04.1 LTS",
                    "kernelVersion": "6.8.0-45-generic", "containerRuntimeVersion": "containerd://1.7.22"},
            },
        });
        assert_eq!(
            builtin_cells("", "Node", &node, now()),
            vec![
                json!("cp-1"),
                json!("Ready,SchedulingDisabled"),
                json!("control-plane,etcd,master"),
                json!("30d"),
                json!("v1.31.2"),
                json!("192.168.1.10"),
                json!("<none>"),
                json!("Ubuntu 24.04.1 LTS"),
                json!("6.8.0-45-generic"),
                json!("containerd://1.7.22"),
            ]
        );
        let not_ready = json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        assert_eq!(cell("", "Node", &not_ready, "Status"), "NotReady");
        assert_eq!(cell("", "Node", &not_ready, "Roles"), "<none>");
        assert_eq!(cell("", "Node", &not_ready, "OS-Image"), "<unknown>");
        assert_eq!(cell("", "Node", &json!({}), "Status"), "Unknown");
    }

    #[test]
    fn core_event_row() {
        let event = json!({
            "metadata": {"name": "web-0.17a8f3", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web-0", "fieldPath": "spec.containers{app}"},
            "reason": "BackOff", "type": "Warning",
            "message": "Back-off restarting failed container\n",
            "source": {"component": "kubelet", "host": "node-a"},
            "firstTimestamp": ago(3600), "lastTimestamp": ago(30), "count": 12,
        });
        assert_eq!(
            builtin_cells("", "Event", &event, now()),
            vec![
                json!("30s"),
                json!("Warning"),
                json!("BackOff"),
                json!("pod/web-0"),
                json!("spec.containers{app}"),
                json!("kubelet, node-a"),
                json!("Back-off restarting failed container"),
                json!("60m"),
                json!(12),
                json!("web-0.17a8f3"),
            ]
        );
        assert_eq!(
            column_names("", "Event"),
            ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count", "Name"]
        );
        assert_eq!(wide_names("", "Event"), ["Subobject", "Source", "First Seen", "Count", "Name"]);
    }

    #[test]
    fn new_style_events_print_like_core_events() {
        let event = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web.1"},
            "eventTime": "2026-11-22T11:57:59.500001Z",
            "regarding": {"kind": "Deployment", "name": "web"},
            "note": "Scaled up replica set web-7d9f to 3", "reason": "ScalingReplicaSet", "type": "Normal",
            "reportingController": "deployment-controller", "reportingInstance": "kcm-1", "action": "Scale",
        });
        let cells = builtin_cells("events.k8s.io", "Event", &event, now());
        assert_eq!(cells[0], "2m", "last seen falls back to eventTime");
        assert_eq!(cells[3], "deployment/web");
        assert_eq!(cells[5], "deployment-controller, kcm-1");
        assert_eq!(cells[6], "Scaled up replica set web-7d9f to 3");
        assert_eq!(cells[7], "2m");
        assert_eq!(cells[8], 1, "singleton events count once");

        let series = json!({
            "eventTime": ago(600), "regarding": {"kind": "Node"},
            "series": {"count": 7, "lastObservedTime": ago(20)}, "deprecatedCount": 2,
        });
        let cells = builtin_cells("events.k8s.io", "Event", &series, now());
        assert_eq!((cells[0].clone(), cells[3].clone(), cells[8].clone()), (json!("20s"), json!("node"), json!(7)));
        assert_eq!(cell("", "Event", &json!({}), "Last Seen"), "<unknown>");
    }

    #[test]
    fn persistent_volume_rows() {
        let pv = json!({
            "metadata": {"name": "pv-data", "creationTimestamp": ago(86400)},
            "spec": {"capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "fast",
                "claimRef": {"namespace": "db", "name": "data-db-0"}, "volumeMode": "Filesystem"},
            "status": {"phase": "Bound"},
        });
        assert_eq!(
            builtin_cells("", "PersistentVolume", &pv, now()),
            vec![
                json!("pv-data"),
                json!("10Gi"),
                json!("RWO,RWX"),
                json!("Retain"),
                json!("Bound"),
                json!("db/data-db-0"),
                json!("fast"),
                json!("<unset>"),
                json!(""),
                json!("24h"),
                json!("Filesystem"),
            ]
        );
        let pvc = json!({
            "metadata": {"name": "data-db-0", "annotations": {"volume.beta.kubernetes.io/storage-class": "legacy"}},
            "spec": {"volumeName": "pv-data", "storageClassName": "fast", "volumeAttributesClassName": "gold"},
            "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOncePod"]},
        });
        let cells = builtin_cells("", "PersistentVolumeClaim", &pvc, now());
        assert_eq!(
            cells[1..7],
            [json!("Bound"), json!("pv-data"), json!("10Gi"), json!("RWOP"), json!("legacy"), json!("gold")]
        );
        assert_eq!(cells[8], "<unset>");
        let pending = json!({"metadata": {"deletionTimestamp": ago(1)},
            "spec": {"resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Pending"}});
        let cells = builtin_cells("", "PersistentVolumeClaim", &pending, now());
        assert_eq!(cells[1..5], [json!("Terminating"), json!(""), json!(""), json!("")]);
        assert_eq!(wide_names("", "PersistentVolume"), ["VolumeMode"]);
    }

    #[test]
    fn resource_quota_splits_requests_and_limits() {
        let quota = json!({
            "metadata": {"name": "compute"},
            "status": {
                "hard": {"requests.cpu": "1", "limits.memory": "2Gi", "pods": "10", "limits.cpu": "2"},
                "used": {"requests.cpu": "500m", "limits.memory": "1Gi", "pods": "3"},
            },
        });
        assert_eq!(cell("", "ResourceQuota", &quota, "Request"), "pods: 3/10, requests.cpu: 500m/1");
        assert_eq!(cell("", "ResourceQuota", &quota, "Limit"), "limits.cpu: 0/2, limits.memory: 1Gi/2Gi");
        assert_eq!(column_names("", "ResourceQuota"), ["Name", "Request", "Limit", "Age"]);
    }

    #[test]
    fn kinds_without_printer_show_created_at() {
        let lr = json!({"metadata": {"name": "limits", "creationTimestamp": "2026-11-22T07:44:44Z"}});
        assert_eq!(builtin_cells("", "LimitRange", &lr, now()), vec![json!("limits"), json!("2026-11-22T07:44:44Z")]);
        let columns = builtin_columns("apiextensions.k8s.io", "CustomResourceDefinition").expect("printer");
        assert_eq!((columns[1].name.as_str(), columns[1].type_.as_str()), ("Created At", "date"));
        let crd = json!({"metadata": {"name": "widgets.example.com"}});
        assert_eq!(
            cell("apiextensions.k8s.io", "CustomResourceDefinition", &crd, "Created At"),
            "0001-01-01T00:00:00Z"
        );
    }

    fn pod_template_spec() -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
            {"name": "app", "image": "nginx:1.27"}, {"name": "sidecar", "image": "envoy:v1.31"}]}})
    }

    #[test]
    fn workload_rows() {
        let deployment = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(5 * 60)},
            "spec": {"replicas": 3, "template": pod_template_spec(),
                "selector": {"matchLabels": {"app": "web"},
                    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
        });
        assert_eq!(
            builtin_cells("apps", "Deployment", &deployment, now()),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("5m"),
                json!("app,sidecar"),
                json!("nginx:1.27,envoy:v1.31"),
                json!("app=web,tier in (back,front)"),
            ]
        );
        assert_eq!(cell("apps", "Deployment", &json!({"spec": {"replicas": 0}}), "Ready"), "0/0");

        let rs = json!({"metadata": {"name": "web-7d9f"}, "spec": {"replicas": 3, "template": pod_template_spec(),
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7d9f"}}},
            "status": {"replicas": 3, "readyReplicas": 1}});
        let cells = builtin_cells("apps", "ReplicaSet", &rs, now());
        assert_eq!(cells[1..4], [json!(3), json!(3), json!(1)]);
        assert_eq!(cells[7], "app=web,pod-template-hash=7d9f");

        let sts = json!({"metadata": {"name": "db"}, "spec": {"template": pod_template_spec()},
            "status": {"readyReplicas": 1}});
        assert_eq!(cell("apps", "StatefulSet", &sts, "Ready"), "1/1", "unset replicas default to 1");
        assert_eq!(column_names("apps", "StatefulSet"), ["Name", "Ready", "Age", "Containers", "Images"]);

        let ds = json!({"metadata": {"name": "fluentd"},
            "spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist"}]},
                "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": []}}},
            "status": {"desiredNumberScheduled": 4, "currentNumberScheduled": 4, "numberReady": 3,
                "updatedNumberScheduled": 4, "numberAvailable": 3}});
        let cells = builtin_cells("apps", "DaemonSet", &ds, now());
        assert_eq!(cells[1..7], [json!(4), json!(4), json!(3), json!(4), json!(3), json!("kubernetes.io/os=linux")]);
        assert_eq!(cells[10], "app,!legacy");

        let rc = json!({"metadata": {"name": "legacy"}, "spec": {"replicas": 2, "selector": {"app": "legacy"},
            "template": pod_template_spec()}, "status": {"replicas": 2, "readyReplicas": 2}});
        let cells = builtin_cells("", "ReplicationController", &rc, now());
        assert_eq!(cells[1..4], [json!(2), json!(2), json!(2)]);
        assert_eq!(cells[7], "app=legacy");

        let template = json!({"metadata": {"name": "tpl"}, "template": pod_template_spec()});
        assert_eq!(
            builtin_cells("", "PodTemplate", &template, now()),
            vec![json!("tpl"), json!("app,sidecar"), json!("nginx:1.27,envoy:v1.31"), json!("app=web")]
        );
    }

    #[test]
    fn controller_revision_names_its_owner() {
        let rev = json!({"metadata": {"name": "web-5c8d", "ownerReferences": [
            {"apiVersion": "v1", "kind": "Pod", "name": "x"},
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true}]}, "revision": 4});
        let cells = builtin_cells("apps", "ControllerRevision", &rev, now());
        assert_eq!(cells[1..3], [json!("statefulset.apps/web"), json!(4)]);
        let core_owner = json!({"metadata": {"ownerReferences": [
            {"apiVersion": "v1", "kind": "Node", "name": "n1", "controller": true}]}});
        assert_eq!(cell("apps", "ControllerRevision", &core_owner, "Controller"), "node/n1");
        assert_eq!(cell("apps", "ControllerRevision", &json!({}), "Controller"), "<none>");
    }

    #[test]
    fn job_and_cron_job_rows() {
        let job = |spec: Value, status: Value| json!({"metadata": {"name": "pi"}, "spec": spec, "status": status});
        let running = job(json!({"completions": 5, "parallelism": 2}), json!({"succeeded": 2, "startTime": ago(150)}));
        let cells = builtin_cells("batch", "Job", &running, now());
        assert_eq!(cells[1..4], [json!("Running"), json!("2/5"), json!("2m30s")]);
        let complete = job(
            json!({"template": pod_template_spec(),
                "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}}}),
            json!({"succeeded": 1, "startTime": ago(100), "completionTime": ago(58),
                "conditions": [{"type": "Complete", "status": "True"}]}),
        );
        let cells = builtin_cells("batch", "Job", &complete, now());
        assert_eq!(cells[1..4], [json!("Complete"), json!("1/1"), json!("42s")]);
        assert_eq!(cells[7], "batch.kubernetes.io/controller-uid=u1");
        let parallel = job(json!({"parallelism": 3}), json!({"conditions": [{"type": "Failed", "status": "True"}]}));
        let cells = builtin_cells("batch", "Job", &parallel, now());
        assert_eq!(cells[1..4], [json!("Failed"), json!("0/1 of 3"), json!("")]);
        let suspended = job(json!({}), json!({"conditions": [{"type": "Suspended", "status": "True"}]}));
        assert_eq!(cell("batch", "Job", &suspended, "Status"), "Suspended");
        assert_eq!(cell("batch", "Job", &suspended, "Selector"), "<none>");

        let cron = json!({
            "metadata": {"name": "backup", "creationTimestamp": ago(86400)},
            "spec": {"schedule": "0 3 * * *", "timeZone": "Europe/Berlin", "suspend": false,
                "jobTemplate": {"spec": {"template": pod_template_spec()}}},
            "status": {"active": [{"name": "backup-1"}], "lastScheduleTime": ago(9 * 3600)},
        });
        assert_eq!(
            builtin_cells("batch", "CronJob", &cron, now()),
            vec![
                json!("backup"),
                json!("0 3 * * *"),
                json!("Europe/Berlin"),
                json!("False"),
                json!(1),
                json!("9h"),
                json!("24h"),
                json!("app,sidecar"),
                json!("nginx:1.27,envoy:v1.31"),
                json!("<none>"),
            ]
        );
        let bare = json!({"spec": {"schedule": "@hourly"}});
        let cells = builtin_cells("batch", "CronJob", &bare, now());
        assert_eq!(cells[2..6], [json!("<none>"), json!("<unset>"), json!(0), json!("<none>")]);
    }

    #[test]
    fn ingress_rows() {
        let ingress = json!({
            "metadata": {"name": "web"},
            "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"]}],
                "rules": [{"host": "a.example.com"}, {}, {"host": "b.example.com"}, {"host": "c.example.com"},
                    {"host": "d.example.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}, {"hostname": "lb.example.com"}]}},
        });
        let cells = builtin_cells("networking.k8s.io", "Ingress", &ingress, now());
        assert_eq!(
            cells[1..5],
            [
                json!("nginx"),
                json!("a.example.com,b.example.com,c.example.com + 2 more..."),
                json!("203.0.113.7,lb.example.com"),
                json!("80, 443"),
            ]
        );
        let catch_all = json!({"spec": {"defaultBackend": {"service": {"name": "web"}}}});
        let cells = builtin_cells("networking.k8s.io", "Ingress", &catch_all, now());
        assert_eq!(cells[1..5], [json!("<none>"), json!("*"), json!(""), json!("80")]);
        let exactly_three = json!({"spec": {"rules": [{"host": "a"}, {"host": "b"}, {"host": "c"}]}});
        assert_eq!(cell("networking.k8s.io", "Ingress", &exactly_three, "Hosts"), "a,b,c");

        let class = json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}});
        let cells = builtin_cells("networking.k8s.io", "IngressClass", &class, now());
        assert_eq!(
            cells[1..3],
            [json!("k8s.io/ingress-nginx"), json!("IngressParameters.k8s.example.com/external-lb")]
        );
        assert_eq!(cell("networking.k8s.io", "IngressClass", &json!({}), "Parameters"), "<none>");
    }

    #[test]
    fn network_policy_and_endpoint_slice_rows() {
        let policy = json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}});
        assert_eq!(cell("networking.k8s.io", "NetworkPolicy", &policy, "Pod-Selector"), "<none>");
        let policy = json!({"spec": {"podSelector": {"matchLabels": {"role": "db"}}}});
        assert_eq!(cell("networking.k8s.io", "NetworkPolicy", &policy, "Pod-Selector"), "role=db");
        let broken =
            json!({"spec": {"podSelector": {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}}});
        assert_eq!(cell("networking.k8s.io", "NetworkPolicy", &broken, "Pod-Selector"), "<error>");

        let slice = json!({
            "metadata": {"name": "web-abc12"}, "addressType": "IPv4",
            "ports": [{"name": "http", "port": 80}, {"name": "metrics"}, {}, {"port": 9090}],
            "endpoints": [
                {"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]}, {"addresses": ["10.0.0.4"]}],
        });
        let cells = builtin_cells("discovery.k8s.io", "EndpointSlice", &slice, now());
        assert_eq!(
            cells[1..4],
            [json!("IPv4"), json!("80,metrics,* + 1 more..."), json!("10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...")]
        );
        let empty = builtin_cells("discovery.k8s.io", "EndpointSlice", &json!({"addressType": "IPv6"}), now());
        assert_eq!(empty[2..4], [json!("<unset>"), json!("<unset>")]);
    }

    #[test]
    fn cluster_level_kinds() {
        let lease = json!({"metadata": {"name": "kube-scheduler"}, "spec": {"holderIdentity": "cp-1_4f2a"}});
        assert_eq!(cell("coordination.k8s.io", "Lease", &lease, "Holder"), "cp-1_4f2a");

        let class = json!({"metadata": {"name": "standard",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer",
            "allowVolumeExpansion": true});
        let cells = builtin_cells("storage.k8s.io", "StorageClass", &class, now());
        assert_eq!(
            cells[..5],
            [
                json!("standard (default)"),
                json!("rancher.io/local-path"),
                json!("Delete"),
                json!("WaitForFirstConsumer"),
                json!(true)
            ]
        );
        let plain = builtin_cells("storage.k8s.io", "StorageClass", &json!({"metadata": {"name": "slow"}}), now());
        assert_eq!(plain[..5], [json!("slow"), json!(""), json!("Delete"), json!("Immediate"), json!(false)]);

        let pdb =
            json!({"metadata": {"name": "web"}, "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1}});
        let cells = builtin_cells("policy", "PodDisruptionBudget", &pdb, now());
        assert_eq!(cells[1..4], [json!("2"), json!("N/A"), json!(1)]);
        let pdb = json!({"spec": {"maxUnavailable": "25%"}});
        assert_eq!(cell("policy", "PodDisruptionBudget", &pdb, "Max Unavailable"), "25%");
    }

    #[test]
    fn label_selectors_format_like_kubectl() {
        let format = |sel: Value| format_label_selector(Some(&sel));
        assert_eq!(format(json!({"matchLabels": {"app": "web"}})), "app=web");
        assert_eq!(format(json!({})), "<none>");
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(
            format(json!({"matchLabels": {"z": "1"}, "matchExpressions": [
                {"key": "env", "operator": "NotIn", "values": ["prod", "dev"]},
                {"key": "b", "operator": "Exists"}]})),
            "b,env notin (dev,prod),z=1"
        );
        assert_eq!(format(json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})), "<error>");
        assert_eq!(
            format(json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})),
            "<error>"
        );
        assert_eq!(format(json!({"matchLabels": {"a": 1}})), "<error>");
    }

    #[test]
    fn json_path_subset() {
        let obj = json!({
            "metadata": {"name": "w", "labels": {"app": "web", "app.kubernetes.io/name": "widget"}},
            "spec": {"replicas": 3, "hosts": ["a.example.com", "b.example.com"], "paused": false},
            "status": {"conditions": [
                {"type": "Progressing", "status": "True"}, {"type": "Ready", "status": "False", "observed": 2}]},
        });
        assert_eq!(json_path(&obj, ".spec.replicas"), vec![json!(3)]);
        assert_eq!(json_path(&obj, "{.spec.replicas}"), vec![json!(3)]);
        assert_eq!(json_path(&obj, "spec.replicas"), vec![json!(3)]);
        assert_eq!(json_path(&obj, ".status.conditions[0].type"), vec![json!("Progressing")]);
        assert_eq!(json_path(&obj, ".status.conditions[-1].type"), vec![json!("Ready")]);
        assert_eq!(json_path(&obj, ".status.conditions[5].type"), Vec::<Value>::new());
        assert_eq!(json_path(&obj, ".metadata.labels.app"), vec![json!("web")]);
        assert_eq!(json_path(&obj, ".metadata.labels['app.kubernetes.io/name']"), vec![json!("widget")]);
        assert_eq!(json_path(&obj, r".metadata.labels.app\.kubernetes\.io/name"), vec![json!("widget")]);
        assert_eq!(json_path(&obj, ".spec.hosts[*]"), vec![json!("a.example.com"), json!("b.example.com")]);
        assert_eq!(json_path(&obj, ".spec.hosts[0:1]"), vec![json!("a.example.com")]);
        assert_eq!(json_path(&obj, ".status.conditions[*].status"), vec![json!("True"), json!("False")]);
        assert_eq!(json_path(&obj, r#".status.conditions[?(@.type=="Ready")].status"#), vec![json!("False")]);
        assert_eq!(json_path(&obj, ".status.conditions[?(@.type != 'Ready')].type"), vec![json!("Progressing")]);
        assert_eq!(json_path(&obj, ".status.conditions[?(@.observed)].type"), vec![json!("Ready")]);
        assert_eq!(json_path(&obj, ".status.conditions[?(@.observed > 1)].type"), vec![json!("Ready")]);
        assert_eq!(json_path(&obj, ".spec.missing.deeper"), Vec::<Value>::new());
        assert_eq!(json_path(&obj, ".spec.replicas.deeper"), Vec::<Value>::new());
        for malformed in ["..name", ".spec[", ".spec[?(@.a==", "{.spec.replicas", ".spec.hosts[x]"] {
            assert_eq!(json_path(&obj, malformed), Vec::<Value>::new(), "{malformed}");
        }
    }

    fn printer_column(name: &str, type_: &str, json_path: &str, priority: i64) -> PrinterColumn {
        PrinterColumn {
            name: name.to_string(),
            type_: type_.to_string(),
            format: None,
            description: String::new(),
            priority,
            json_path: json_path.to_string(),
        }
    }

    #[test]
    fn custom_resource_columns_and_cells() {
        let cols = vec![
            printer_column("Replicas", "integer", ".spec.replicas", 0),
            printer_column("Ready", "string", r#".status.conditions[?(@.type=="Ready")].status"#, 0),
            printer_column("Hosts", "string", ".spec.hosts[*]", 1),
            printer_column("Ratio", "number", ".status.ratio", 0),
            printer_column("Paused", "boolean", ".spec.paused", 0),
            printer_column("Age", "date", ".metadata.creationTimestamp", 0),
            printer_column("Last Sync", "date", ".status.lastSync", 1),
            printer_column("Config", "string", ".spec.config", 1),
            printer_column("Missing", "string", ".status.nothing", 0),
        ];
        let columns = custom_columns(&cols);
        assert_eq!(columns[0].format, "name");
        assert_eq!((columns[3].name.as_str(), columns[3].priority), ("Hosts", 1));
        assert_eq!(columns[6].type_, "date");
        assert_eq!(columns[1].description, "Custom resource definition column (in JSONPath format): .spec.replicas");

        let widget = json!({
            "metadata": {"name": "w1", "creationTimestamp": ago(90)},
            "spec": {"replicas": 2.0, "hosts": ["a", "b"], "paused": true, "config": {"z": 1, "a": [true]}},
            "status": {"ratio": 0.5, "lastSync": "soon", "conditions": [{"type": "Ready", "status": "True"}]},
        });
        assert_eq!(
            custom_cells(&cols, &widget, now()),
            vec![
                json!("w1"),
                json!(2),
                json!("True"),
                json!("a,b"),
                json!(0.5),
                json!(true),
                json!("90s"),
                json!("<invalid>"),
                json!(r#"{"a":[true],"z":1}"#),
                Value::Null,
            ]
        );
        let mistyped = json!({"spec": {"replicas": "two", "paused": "yes"}, "status": {"ratio": "half"}});
        let cells = custom_cells(&cols, &mistyped, now());
        assert_eq!(cells.len(), columns.len());
        assert_eq!(cells[1..6], [Value::Null, Value::Null, Value::Null, Value::Null, Value::Null]);
    }

    #[test]
    fn custom_resources_without_columns_get_age() {
        let names: Vec<String> = custom_columns(&[]).into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["Name", "Age"]);
        assert_eq!(custom_columns(&[])[1].type_, "date");
        let obj = json!({"metadata": {"name": "w", "creationTimestamp": ago(3 * 3600)}});
        assert_eq!(custom_cells(&[], &obj, now()), vec![json!("w"), json!("3h")]);
    }

    #[test]
    fn table_wraps_rows() {
        let pod = running_pod();
        let columns = builtin_columns("", "Pod").expect("printer");
        let rows = vec![(builtin_cells("", "Pod", &pod, now()), pod.clone())];
        let table = table(&columns, rows, "4711", Some("eyJ2IjoxfQ"));
        assert_eq!(table["kind"], "Table");
        assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(table["metadata"], json!({"resourceVersion": "4711", "continue": "eyJ2IjoxfQ"}));
        assert_eq!(
            table["columnDefinitions"][0],
            json!({"name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION, "priority": 0})
        );
        assert_eq!(table["columnDefinitions"][5]["priority"], 1);
        assert_eq!(table["rows"][0]["cells"][2], "Running");
        assert_eq!(table["rows"][0]["object"], pod);

        let empty = super::table(&default_columns(), Vec::new(), "", None);
        assert_eq!(empty["metadata"], json!({}));
        assert_eq!(empty["rows"], json!([]));
    }
}

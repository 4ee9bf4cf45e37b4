//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`).
//!
//! kubectl's typed clients (`kubectl create configmap|secret|deployment|job|...`) send objects as
//! protobuf; the store keeps JSON. [`decode`] reads the `k8s\0` + `runtime.Unknown` envelope, decodes
//! `raw` with the prost structs of `k8s-pb` and converts the result into the object's Kubernetes JSON
//! form, i.e. what Go's `json.Marshal` would print for the same object.
//!
//! The conversion is the `ToJson` trait. Every message reachable from a supported kind implements
//! it through `to_json_message!`, which lists each prost field with its JSON name and destructures
//! the struct exhaustively, so a field the table misses fails the build instead of being dropped.
//!
//! Omission follows Go: a field tagged `omitempty` is left out when it is zero (`""`, `0`, `false`,
//! empty list or map, unset); a `keep` field (a Go pointer, or a field without `omitempty`) is written
//! whenever the client sent it, so `replicas: 0` or `automountServiceAccountToken: false` survive.
//! Messages are written whenever present (Go never omits structs), which keeps `emptyDir: {}`.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use k8s_pb::api::apps::v1 as apps_v1;
use k8s_pb::api::authentication::v1 as authentication_v1;
use k8s_pb::api::authorization::v1 as authorization_v1;
use k8s_pb::api::batch::v1 as batch_v1;
use k8s_pb::api::core::v1 as core_v1;
use k8s_pb::api::networking::v1 as networking_v1;
use k8s_pb::api::policy::v1 as policy_v1;
use k8s_pb::api::rbac::v1 as rbac_v1;
use k8s_pb::api::scheduling::v1 as scheduling_v1;
use k8s_pb::apimachinery::pkg::api::resource;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_v1;
use k8s_pb::apimachinery::pkg::runtime;
use k8s_pb::apimachinery::pkg::util::intstr;
use prost::Message;
use serde_json::{Map, Value};

/// The media type kubectl uses for protobuf bodies.
const PROTOBUF_MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Prefix of every Kubernetes protobuf body, before the `runtime.Unknown` envelope.
const MAGIC: &[u8] = b"k8s\0";

/// Last second RFC 3339 can name (9999-12-31T23:59:59Z).
const MAX_RFC3339_SECONDS: i64 = 253_402_300_799;

/// Whether a Content-Type names Kubernetes protobuf.
pub fn is_protobuf(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default();
    essence.trim().eq_ignore_ascii_case(PROTOBUF_MEDIA_TYPE)
}

/// Decode a protobuf request body into the object's JSON form.
///
/// Fails on a malformed body and on a kind this module has no mapping for (the caller answers 415).
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let envelope = body.strip_prefix(MAGIC).ok_or("protobuf body does not start with the k8s\\0 magic")?;
    let unknown = runtime::Unknown::decode(envelope).map_err(|e| format!("malformed protobuf envelope: {e}"))?;
    if let Some(encoding) = unknown.content_encoding.as_deref().filter(|e| !e.is_empty()) {
        return Err(format!("protobuf content encoding {encoding:?} is not supported"));
    }
    let type_meta = unknown.type_meta.unwrap_or_default();
    let api_version = type_meta.api_version.unwrap_or_default();
    let kind = type_meta.kind.unwrap_or_default();
    let object = decode_object(&api_version, &kind, &unknown.raw.unwrap_or_default())?;
    Ok(with_type_meta(api_version, kind, object))
}

/// Decode `raw` as the message of `apiVersion`/`kind`.
fn decode_object(api_version: &str, kind: &str, raw: &[u8]) -> Result<Value, String> {
    match (api_version, kind) {
        ("v1", "ConfigMap") => convert::<core_v1::ConfigMap>(kind, raw),
        ("v1", "Secret") => convert::<core_v1::Secret>(kind, raw),
        ("v1", "Namespace") => convert::<core_v1::Namespace>(kind, raw),
        ("v1", "ServiceAccount") => convert::<core_v1::ServiceAccount>(kind, raw),
        ("v1", "Service") => convert::<core_v1::Service>(kind, raw),
        ("v1", "ResourceQuota") => convert::<core_v1::ResourceQuota>(kind, raw),
        ("apps/v1", "Deployment") => convert::<apps_v1::Deployment>(kind, raw),
        ("batch/v1", "Job") => convert::<batch_v1::Job>(kind, raw),
        ("batch/v1", "CronJob") => convert::<batch_v1::CronJob>(kind, raw),
        ("networking.k8s.io/v1", "Ingress") => convert::<networking_v1::Ingress>(kind, raw),
        ("policy/v1", "PodDisruptionBudget") => convert::<policy_v1::PodDisruptionBudget>(kind, raw),
        ("rbac.authorization.k8s.io/v1", "Role") => convert::<rbac_v1::Role>(kind, raw),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => convert::<rbac_v1::ClusterRole>(kind, raw),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => convert::<rbac_v1::RoleBinding>(kind, raw),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => convert::<rbac_v1::ClusterRoleBinding>(kind, raw),
        ("scheduling.k8s.io/v1", "PriorityClass") => convert::<scheduling_v1::PriorityClass>(kind, raw),
        ("authentication.k8s.io/v1", "TokenRequest") => convert::<authentication_v1::TokenRequest>(kind, raw),
        ("authentication.k8s.io/v1", "SelfSubjectReview") => convert::<authentication_v1::SelfSubjectReview>(kind, raw),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => {
            convert::<authorization_v1::SelfSubjectAccessReview>(kind, raw)
        }
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => {
            convert::<authorization_v1::SelfSubjectRulesReview>(kind, raw)
        }
        _ => Err(format!("protobuf is not supported for kind {kind:?} in {api_version:?}; send JSON instead")),
    }
}

fn convert<M: Message + Default + ToJson>(kind: &str, raw: &[u8]) -> Result<Value, String> {
    let message = M::decode(raw).map_err(|e| format!("malformed protobuf {kind}: {e}"))?;
    message.to_json()
}

/// Put `apiVersion` and `kind` first, as the JSON API does; protobuf carries them only in the envelope.
fn with_type_meta(api_version: String, kind: String, object: Value) -> Value {
    let mut out = Map::new();
    out.insert("apiVersion".to_owned(), Value::String(api_version));
    out.insert("kind".to_owned(), Value::String(kind));
    if let Value::Object(fields) = object {
        out.extend(fields);
    }
    Value::Object(out)
}

/// Conversion of a decoded protobuf value into its Kubernetes JSON form.
trait ToJson {
    /// The JSON value; `Null` means "leave the field out".
    fn to_json(&self) -> Result<Value, String>;

    /// Whether Go's `omitempty` would leave this value out. Messages never are: Go always prints structs.
    fn is_zero(&self) -> bool {
        false
    }
}

impl ToJson for String {
    fn to_json(&self) -> Result<Value, String> {
        Ok(Value::String(self.clone()))
    }
    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

impl ToJson for bool {
    fn to_json(&self) -> Result<Value, String> {
        Ok(Value::Bool(*self))
    }
    fn is_zero(&self) -> bool {
        !*self
    }
}

impl ToJson for i32 {
    fn to_json(&self) -> Result<Value, String> {
        Ok(Value::from(*self))
    }
    fn is_zero(&self) -> bool {
        *self == 0
    }
}

impl ToJson for i64 {
    fn to_json(&self) -> Result<Value, String> {
        Ok(Value::from(*self))
    }
    fn is_zero(&self) -> bool {
        *self == 0
    }
}

/// Protobuf `bytes` (Secret data, ConfigMap binaryData): base64, as Go prints `[]byte`.
impl ToJson for Vec<u8> {
    fn to_json(&self) -> Result<Value, String> {
        Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(self)))
    }
    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn to_json(&self) -> Result<Value, String> {
        self.as_ref().map_or(Ok(Value::Null), ToJson::to_json)
    }
    fn is_zero(&self) -> bool {
        self.as_ref().is_none_or(ToJson::is_zero)
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn to_json(&self) -> Result<Value, String> {
        self.iter().map(ToJson::to_json).collect::<Result<Vec<_>, _>>().map(Value::Array)
    }
    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

impl<V: ToJson> ToJson for BTreeMap<String, V> {
    fn to_json(&self) -> Result<Value, String> {
        let entries = self.iter().map(|(key, value)| Ok((key.clone(), value.to_json()?)));
        entries.collect::<Result<Map<_, _>, String>>().map(Value::Object)
    }
    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

/// `metav1.Time`: RFC 3339 in seconds; the zero time (kubectl's unset `creationTimestamp`) is left out.
impl ToJson for meta_v1::Time {
    fn to_json(&self) -> Result<Value, String> {
        if self.is_zero() {
            return Ok(Value::Null);
        }
        format_time(self.seconds.unwrap_or_default()).map(Value::String)
    }
    fn is_zero(&self) -> bool {
        self.seconds.unwrap_or_default() == 0 && self.nanos.unwrap_or_default() == 0
    }
}

fn format_time(seconds: i64) -> Result<String, String> {
    // humantime panics before the epoch and fails past year 9999: refuse those instead.
    let offset = u64::try_from(seconds)
        .ok()
        .filter(|_| seconds <= MAX_RFC3339_SECONDS)
        .ok_or_else(|| format!("timestamp {seconds}s is outside 1970..=9999"))?;
    Ok(humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(offset)).to_string())
}

/// `intstr.IntOrString`: a JSON number (type 0) or string (type 1).
impl ToJson for intstr::IntOrString {
    fn to_json(&self) -> Result<Value, String> {
        match self.r#type.unwrap_or_default() {
            0 => Ok(Value::from(self.int_val.unwrap_or_default())),
            1 => Ok(Value::String(self.str_val.clone().unwrap_or_default())),
            other => Err(format!("IntOrString has unknown type {other}")),
        }
    }
}

/// `resource.Quantity`: its canonical string, e.g. `"500m"`.
impl ToJson for resource::Quantity {
    fn to_json(&self) -> Result<Value, String> {
        Ok(Value::String(self.string.clone().unwrap_or_default()))
    }
}

/// `metav1.FieldsV1`: `raw` holds the JSON document itself (managedFields).
impl ToJson for meta_v1::FieldsV1 {
    fn to_json(&self) -> Result<Value, String> {
        match self.raw.as_deref() {
            None | Some([]) => Ok(Value::Null),
            Some(raw) => serde_json::from_slice(raw).map_err(|e| format!("FieldsV1 is not JSON: {e}")),
        }
    }
}

/// `authentication/v1.ExtraValue` is a Go `[]string`: a plain JSON array.
impl ToJson for authentication_v1::ExtraValue {
    fn to_json(&self) -> Result<Value, String> {
        self.items.to_json()
    }
}

/// Implements `ToJson` for a message: `field => "json"` (omitempty), `field => keep "json"` (written
/// whenever sent: Go pointers and fields without omitempty) or `field => inline` (Go `json:",inline"`).
macro_rules! to_json_message {
    ($ty:path { $($field:ident => $($mode:ident)? $($json:literal)?),* $(,)? }) => {
        impl ToJson for $ty {
            fn to_json(&self) -> Result<Value, String> {
                // Exhaustive on purpose: a field added to the prost struct must be mapped here.
                let Self { $($field),* } = self;
                let mut object = Map::new();
                $(put_field!(object, $field, $($mode)? $($json)?);)*
                Ok(Value::Object(object))
            }
        }
    };
}

macro_rules! put_field {
    ($object:ident, $value:ident, inline) => {
        merge_inline(&mut $object, $value.to_json()?)
    };
    ($object:ident, $value:ident, keep $json:literal) => {
        put(&mut $object, $json, $value.to_json()?)
    };
    ($object:ident, $value:ident, $json:literal) => {
        if !$value.is_zero() {
            put(&mut $object, $json, $value.to_json()?)
        }
    };
}

fn put(object: &mut Map<String, Value>, key: &str, value: Value) {
    if !value.is_null() {
        object.insert(key.to_owned(), value);
    }
}

/// Go embeds some structs (`LocalObjectReference`, `VolumeSource`, `ProbeHandler`...) into their parent.
fn merge_inline(object: &mut Map<String, Value>, value: Value) {
    if let Value::Object(fields) = value {
        object.extend(fields);
    }
}

// Field tables. Generated from the prost structs of k8s-pb 0.9 (Kubernetes 1.35) with JSON names and
// required fields from k8s-openapi (v1_35); `keep` marks Go pointers, checked against kubectl's wire
// output (Go always sends value fields, so an absent scalar is a nil pointer).

// meta/v1

to_json_message!(meta_v1::ObjectMeta {
    name => "name",
    generate_name => "generateName",
    namespace => "namespace",
    self_link => "selfLink",
    uid => "uid",
    resource_version => "resourceVersion",
    generation => "generation",
    creation_timestamp => "creationTimestamp",
    deletion_timestamp => "deletionTimestamp",
    deletion_grace_period_seconds => keep "deletionGracePeriodSeconds",
    labels => "labels",
    annotations => "annotations",
    owner_references => "ownerReferences",
    finalizers => "finalizers",
    managed_fields => "managedFields",
});

to_json_message!(meta_v1::OwnerReference {
    api_version => keep "apiVersion",
    kind => keep "kind",
    name => keep "name",
    uid => keep "uid",
    controller => keep "controller",
    block_owner_deletion => keep "blockOwnerDeletion",
});

to_json_message!(meta_v1::ManagedFieldsEntry {
    manager => "manager",
    operation => "operation",
    api_version => "apiVersion",
    time => "time",
    fields_type => "fieldsType",
    fields_v1 => "fieldsV1",
    subresource => "subresource",
});

to_json_message!(meta_v1::Condition {
    r#type => keep "type",
    status => keep "status",
    observed_generation => "observedGeneration",
    last_transition_time => "lastTransitionTime",
    reason => keep "reason",
    message => keep "message",
});

to_json_message!(meta_v1::LabelSelector {
    match_labels => "matchLabels",
    match_expressions => "matchExpressions",
});

to_json_message!(meta_v1::LabelSelectorRequirement {
    key => keep "key",
    operator => keep "operator",
    values => "values",
});

to_json_message!(meta_v1::FieldSelectorRequirement {
    key => keep "key",
    operator => keep "operator",
    values => "values",
});

// core/v1

to_json_message!(core_v1::ConfigMap {
    metadata => "metadata",
    immutable => keep "immutable",
    data => "data",
    binary_data => "binaryData",
});

to_json_message!(core_v1::Secret {
    metadata => "metadata",
    immutable => keep "immutable",
    data => "data",
    string_data => "stringData",
    r#type => "type",
});

to_json_message!(core_v1::Namespace {
    metadata => "metadata",
    spec => "spec",
    status => "status",
});

to_json_message!(core_v1::ServiceAccount {
    metadata => "metadata",
    secrets => "secrets",
    image_pull_secrets => "imagePullSecrets",
    automount_service_account_token => keep "automountServiceAccountToken",
});

to_json_message!(core_v1::Service {
    metadata => "metadata",
    spec => "spec",
    status => "status",
});

to_json_message!(core_v1::ResourceQuota {
    metadata => "metadata",
    spec => "spec",
    status => "status",
});

to_json_message!(core_v1::NamespaceSpec {
    finalizers => "finalizers",
});

to_json_message!(core_v1::NamespaceStatus {
    phase => "phase",
    conditions => "conditions",
});

to_json_message!(core_v1::ObjectReference {
    kind => "kind",
    namespace => "namespace",
    name => "name",
    uid => "uid",
    api_version => "apiVersion",
    resource_version => "resourceVersion",
    field_path => "fieldPath",
});

to_json_message!(core_v1::LocalObjectReference {
    name => keep "name",
});

to_json_message!(core_v1::ServiceSpec {
    ports => "ports",
    selector => "selector",
    cluster_ip => "clusterIP",
    cluster_ips => "clusterIPs",
    r#type => "type",
    external_ips => "externalIPs",
    session_affinity => "sessionAffinity",
    load_balancer_ip => "loadBalancerIP",
    load_balancer_source_ranges => "loadBalancerSourceRanges",
    external_name => "externalName",
    external_traffic_policy => "externalTrafficPolicy",
    health_check_node_port => "healthCheckNodePort",
    publish_not_ready_addresses => "publishNotReadyAddresses",
    session_affinity_config => "sessionAffinityConfig",
    ip_families => "ipFamilies",
    ip_family_policy => keep "ipFamilyPolicy",
    allocate_load_balancer_node_ports => keep "allocateLoadBalancerNodePorts",
    load_balancer_class => keep "loadBalancerClass",
    internal_traffic_policy => keep "internalTrafficPolicy",
    traffic_distribution => keep "trafficDistribution",
});

to_json_message!(core_v1::ServiceStatus {
    load_balancer => "loadBalancer",
    conditions => "conditions",
});

to_json_message!(core_v1::ResourceQuotaSpec {
    hard => "hard",
    scopes => "scopes",
    scope_selector => "scopeSelector",
});

to_json_message!(core_v1::ResourceQuotaStatus {
    hard => "hard",
    used => "used",
});

to_json_message!(core_v1::NamespaceCondition {
    r#type => keep "type",
    status => keep "status",
    last_transition_time => "lastTransitionTime",
    reason => "reason",
    message => "message",
});

to_json_message!(core_v1::ServicePort {
    name => "name",
    protocol => "protocol",
    app_protocol => keep "appProtocol",
    port => keep "port",
    target_port => "targetPort",
    node_port => "nodePort",
});

to_json_message!(core_v1::SessionAffinityConfig {
    client_ip => "clientIP",
});

to_json_message!(core_v1::LoadBalancerStatus {
    ingress => "ingress",
});

to_json_message!(core_v1::ScopeSelector {
    match_expressions => "matchExpressions",
});

to_json_message!(core_v1::PodTemplateSpec {
    metadata => "metadata",
    spec => "spec",
});

to_json_message!(core_v1::ClientIpConfig {
    timeout_seconds => keep "timeoutSeconds",
});

to_json_message!(core_v1::LoadBalancerIngress {
    ip => "ip",
    hostname => "hostname",
    ip_mode => keep "ipMode",
    ports => "ports",
});

to_json_message!(core_v1::ScopedResourceSelectorRequirement {
    scope_name => keep "scopeName",
    operator => keep "operator",
    values => "values",
});

to_json_message!(core_v1::PodSpec {
    volumes => "volumes",
    init_containers => "initContainers",
    containers => "containers",
    ephemeral_containers => "ephemeralContainers",
    restart_policy => "restartPolicy",
    termination_grace_period_seconds => keep "terminationGracePeriodSeconds",
    active_deadline_seconds => keep "activeDeadlineSeconds",
    dns_policy => "dnsPolicy",
    node_selector => "nodeSelector",
    service_account_name => "serviceAccountName",
    service_account => "serviceAccount",
    automount_service_account_token => keep "automountServiceAccountToken",
    node_name => "nodeName",
    host_network => "hostNetwork",
    host_pid => "hostPID",
    host_ipc => "hostIPC",
    share_process_namespace => keep "shareProcessNamespace",
    security_context => "securityContext",
    image_pull_secrets => "imagePullSecrets",
    hostname => "hostname",
    subdomain => "subdomain",
    affinity => "affinity",
    scheduler_name => "schedulerName",
    tolerations => "tolerations",
    host_aliases => "hostAliases",
    priority_class_name => "priorityClassName",
    priority => keep "priority",
    dns_config => "dnsConfig",
    readiness_gates => "readinessGates",
    runtime_class_name => keep "runtimeClassName",
    enable_service_links => keep "enableServiceLinks",
    preemption_policy => keep "preemptionPolicy",
    overhead => "overhead",
    topology_spread_constraints => "topologySpreadConstraints",
    set_hostname_as_fqdn => keep "setHostnameAsFQDN",
    os => "os",
    host_users => keep "hostUsers",
    scheduling_gates => "schedulingGates",
    resource_claims => "resourceClaims",
    resources => "resources",
    hostname_override => keep "hostnameOverride",
    workload_ref => "workloadRef",
});

to_json_message!(core_v1::TypedLocalObjectReference {
    api_group => keep "apiGroup",
    kind => keep "kind",
    name => keep "name",
});

to_json_message!(core_v1::PortStatus {
    port => keep "port",
    protocol => keep "protocol",
    error => keep "error",
});

to_json_message!(core_v1::Volume {
    name => keep "name",
    volume_source => inline,
});

to_json_message!(core_v1::Container {
    name => keep "name",
    image => "image",
    command => "command",
    args => "args",
    working_dir => "workingDir",
    ports => "ports",
    env_from => "envFrom",
    env => "env",
    resources => "resources",
    resize_policy => "resizePolicy",
    restart_policy => keep "restartPolicy",
    restart_policy_rules => "restartPolicyRules",
    volume_mounts => "volumeMounts",
    volume_devices => "volumeDevices",
    liveness_probe => "livenessProbe",
    readiness_probe => "readinessProbe",
    startup_probe => "startupProbe",
    lifecycle => "lifecycle",
    termination_message_path => "terminationMessagePath",
    termination_message_policy => "terminationMessagePolicy",
    image_pull_policy => "imagePullPolicy",
    security_context => "securityContext",
    stdin => "stdin",
    stdin_once => "stdinOnce",
    tty => "tty",
});

to_json_message!(core_v1::EphemeralContainer {
    ephemeral_container_common => inline,
    target_container_name => "targetContainerName",
});

to_json_message!(core_v1::PodSecurityContext {
    se_linux_options => "seLinuxOptions",
    windows_options => "windowsOptions",
    run_as_user => keep "runAsUser",
    run_as_group => keep "runAsGroup",
    run_as_non_root => keep "runAsNonRoot",
    supplemental_groups => "supplementalGroups",
    supplemental_groups_policy => keep "supplementalGroupsPolicy",
    fs_group => keep "fsGroup",
    sysctls => "sysctls",
    fs_group_change_policy => keep "fsGroupChangePolicy",
    seccomp_profile => "seccompProfile",
    app_armor_profile => "appArmorProfile",
    se_linux_change_policy => keep "seLinuxChangePolicy",
});

to_json_message!(core_v1::Affinity {
    node_affinity => "nodeAffinity",
    pod_affinity => "podAffinity",
    pod_anti_affinity => "podAntiAffinity",
});

to_json_message!(core_v1::Toleration {
    key => "key",
    operator => "operator",
    value => "value",
    effect => "effect",
    toleration_seconds => keep "tolerationSeconds",
});

to_json_message!(core_v1::HostAlias {
    ip => keep "ip",
    hostnames => "hostnames",
});

to_json_message!(core_v1::PodDnsConfig {
    nameservers => "nameservers",
    searches => "searches",
    options => "options",
});

to_json_message!(core_v1::PodReadinessGate {
    condition_type => keep "conditionType",
});

to_json_message!(core_v1::TopologySpreadConstraint {
    max_skew => keep "maxSkew",
    topology_key => keep "topologyKey",
    when_unsatisfiable => keep "whenUnsatisfiable",
    label_selector => "labelSelector",
    min_domains => keep "minDomains",
    node_affinity_policy => keep "nodeAffinityPolicy",
    node_taints_policy => keep "nodeTaintsPolicy",
    match_label_keys => "matchLabelKeys",
});

to_json_message!(core_v1::PodOs {
    name => keep "name",
});

to_json_message!(core_v1::PodSchedulingGate {
    name => keep "name",
});

to_json_message!(core_v1::PodResourceClaim {
    name => keep "name",
    resource_claim_name => keep "resourceClaimName",
    resource_claim_template_name => keep "resourceClaimTemplateName",
});

to_json_message!(core_v1::ResourceRequirements {
    limits => "limits",
    requests => "requests",
    claims => "claims",
});

to_json_message!(core_v1::WorkloadReference {
    name => keep "name",
    pod_group => keep "podGroup",
    pod_group_replica_key => "podGroupReplicaKey",
});

to_json_message!(core_v1::VolumeSource {
    host_path => "hostPath",
    empty_dir => "emptyDir",
    gce_persistent_disk => "gcePersistentDisk",
    aws_elastic_block_store => "awsElasticBlockStore",
    git_repo => "gitRepo",
    secret => "secret",
    nfs => "nfs",
    iscsi => "iscsi",
    glusterfs => "glusterfs",
    persistent_volume_claim => "persistentVolumeClaim",
    rbd => "rbd",
    flex_volume => "flexVolume",
    cinder => "cinder",
    cephfs => "cephfs",
    flocker => "flocker",
    downward_api => "downwardAPI",
    fc => "fc",
    azure_file => "azureFile",
    config_map => "configMap",
    vsphere_volume => "vsphereVolume",
    quobyte => "quobyte",
    azure_disk => "azureDisk",
    photon_persistent_disk => "photonPersistentDisk",
    projected => "projected",
    portworx_volume => "portworxVolume",
    scale_io => "scaleIO",
    storageos => "storageos",
    csi => "csi",
    ephemeral => "ephemeral",
    image => "image",
});

to_json_message!(core_v1::ContainerPort {
    name => "name",
    host_port => "hostPort",
    container_port => keep "containerPort",
    protocol => "protocol",
    host_ip => "hostIP",
});

to_json_message!(core_v1::EnvFromSource {
    prefix => "prefix",
    config_map_ref => "configMapRef",
    secret_ref => "secretRef",
});

to_json_message!(core_v1::EnvVar {
    name => keep "name",
    value => "value",
    value_from => "valueFrom",
});

to_json_message!(core_v1::ContainerResizePolicy {
    resource_name => keep "resourceName",
    restart_policy => keep "restartPolicy",
});

to_json_message!(core_v1::ContainerRestartRule {
    action => keep "action",
    exit_codes => "exitCodes",
});

to_json_message!(core_v1::VolumeMount {
    name => keep "name",
    read_only => "readOnly",
    recursive_read_only => keep "recursiveReadOnly",
    mount_path => keep "mountPath",
    sub_path => "subPath",
    mount_propagation => keep "mountPropagation",
    sub_path_expr => "subPathExpr",
});

to_json_message!(core_v1::VolumeDevice {
    name => keep "name",
    device_path => keep "devicePath",
});

to_json_message!(core_v1::Probe {
    handler => inline,
    initial_delay_seconds => "initialDelaySeconds",
    timeout_seconds => "timeoutSeconds",
    period_seconds => "periodSeconds",
    success_threshold => "successThreshold",
    failure_threshold => "failureThreshold",
    termination_grace_period_seconds => keep "terminationGracePeriodSeconds",
});

to_json_message!(core_v1::Lifecycle {
    post_start => "postStart",
    pre_stop => "preStop",
    stop_signal => keep "stopSignal",
});

to_json_message!(core_v1::SecurityContext {
    capabilities => "capabilities",
    privileged => keep "privileged",
    se_linux_options => "seLinuxOptions",
    windows_options => "windowsOptions",
    run_as_user => keep "runAsUser",
    run_as_group => keep "runAsGroup",
    run_as_non_root => keep "runAsNonRoot",
    read_only_root_filesystem => keep "readOnlyRootFilesystem",
    allow_privilege_escalation => keep "allowPrivilegeEscalation",
    proc_mount => keep "procMount",
    seccomp_profile => "seccompProfile",
    app_armor_profile => "appArmorProfile",
});

to_json_message!(core_v1::EphemeralContainerCommon {
    name => keep "name",
    image => "image",
    command => "command",
    args => "args",
    working_dir => "workingDir",
    ports => "ports",
    env_from => "envFrom",
    env => "env",
    resources => "resources",
    resize_policy => "resizePolicy",
    restart_policy => keep "restartPolicy",
    restart_policy_rules => "restartPolicyRules",
    volume_mounts => "volumeMounts",
    volume_devices => "volumeDevices",
    liveness_probe => "livenessProbe",
    readiness_probe => "readinessProbe",
    startup_probe => "startupProbe",
    lifecycle => "lifecycle",
    termination_message_path => "terminationMessagePath",
    termination_message_policy => "terminationMessagePolicy",
    image_pull_policy => "imagePullPolicy",
    security_context => "securityContext",
    stdin => "stdin",
    stdin_once => "stdinOnce",
    tty => "tty",
});

to_json_message!(core_v1::SeLinuxOptions {
    user => "user",
    role => "role",
    r#type => "type",
    level => "level",
});

to_json_message!(core_v1::WindowsSecurityContextOptions {
    gmsa_credential_spec_name => keep "gmsaCredentialSpecName",
    gmsa_credential_spec => keep "gmsaCredentialSpec",
    run_as_user_name => keep "runAsUserName",
    host_process => keep "hostProcess",
});

to_json_message!(core_v1::Sysctl {
    name => keep "name",
    value => keep "value",
});

to_json_message!(core_v1::SeccompProfile {
    r#type => keep "type",
    localhost_profile => keep "localhostProfile",
});

to_json_message!(core_v1::AppArmorProfile {
    r#type => keep "type",
    localhost_profile => keep "localhostProfile",
});

to_json_message!(core_v1::NodeAffinity {
    required_during_scheduling_ignored_during_execution => "requiredDuringSchedulingIgnoredDuringExecution",
    preferred_during_scheduling_ignored_during_execution => "preferredDuringSchedulingIgnoredDuringExecution",
});

to_json_message!(core_v1::PodAffinity {
    required_during_scheduling_ignored_during_execution => "requiredDuringSchedulingIgnoredDuringExecution",
    preferred_during_scheduling_ignored_during_execution => "preferredDuringSchedulingIgnoredDuringExecution",
});

to_json_message!(core_v1::PodAntiAffinity {
    required_during_scheduling_ignored_during_execution => "requiredDuringSchedulingIgnoredDuringExecution",
    preferred_during_scheduling_ignored_during_execution => "preferredDuringSchedulingIgnoredDuringExecution",
});

to_json_message!(core_v1::PodDnsConfigOption {
    name => "name",
    value => keep "value",
});

to_json_message!(core_v1::ResourceClaim {
    name => keep "name",
    request => "request",
});

to_json_message!(core_v1::HostPathVolumeSource {
    path => keep "path",
    r#type => keep "type",
});

to_json_message!(core_v1::EmptyDirVolumeSource {
    medium => "medium",
    size_limit => "sizeLimit",
});

to_json_message!(core_v1::GcePersistentDiskVolumeSource {
    pd_name => keep "pdName",
    fs_type => "fsType",
    partition => "partition",
    read_only => "readOnly",
});

to_json_message!(core_v1::AwsElasticBlockStoreVolumeSource {
    volume_id => keep "volumeID",
    fs_type => "fsType",
    partition => "partition",
    read_only => "readOnly",
});

to_json_message!(core_v1::GitRepoVolumeSource {
    repository => keep "repository",
    revision => "revision",
    directory => "directory",
});

to_json_message!(core_v1::SecretVolumeSource {
    secret_name => "secretName",
    items => "items",
    default_mode => keep "defaultMode",
    optional => keep "optional",
});

to_json_message!(core_v1::NfsVolumeSource {
    server => keep "server",
    path => keep "path",
    read_only => "readOnly",
});

to_json_message!(core_v1::IscsiVolumeSource {
    target_portal => keep "targetPortal",
    iqn => keep "iqn",
    lun => keep "lun",
    iscsi_interface => "iscsiInterface",
    fs_type => "fsType",
    read_only => "readOnly",
    portals => "portals",
    chap_auth_discovery => "chapAuthDiscovery",
    chap_auth_session => "chapAuthSession",
    secret_ref => "secretRef",
    initiator_name => keep "initiatorName",
});

to_json_message!(core_v1::GlusterfsVolumeSource {
    endpoints => keep "endpoints",
    path => keep "path",
    read_only => "readOnly",
});

to_json_message!(core_v1::PersistentVolumeClaimVolumeSource {
    claim_name => keep "claimName",
    read_only => "readOnly",
});

to_json_message!(core_v1::RbdVolumeSource {
    monitors => "monitors",
    image => keep "image",
    fs_type => "fsType",
    pool => "pool",
    user => "user",
    keyring => "keyring",
    secret_ref => "secretRef",
    read_only => "readOnly",
});

to_json_message!(core_v1::FlexVolumeSource {
    driver => keep "driver",
    fs_type => "fsType",
    secret_ref => "secretRef",
    read_only => "readOnly",
    options => "options",
});

to_json_message!(core_v1::CinderVolumeSource {
    volume_id => keep "volumeID",
    fs_type => "fsType",
    read_only => "readOnly",
    secret_ref => "secretRef",
});

to_json_message!(core_v1::CephFsVolumeSource {
    monitors => "monitors",
    path => "path",
    user => "user",
    secret_file => "secretFile",
    secret_ref => "secretRef",
    read_only => "readOnly",
});

to_json_message!(core_v1::FlockerVolumeSource {
    dataset_name => "datasetName",
    dataset_uuid => "datasetUUID",
});

to_json_message!(core_v1::DownwardAPIVolumeSource {
    items => "items",
    default_mode => keep "defaultMode",
});

to_json_message!(core_v1::FcVolumeSource {
    target_ww_ns => "targetWWNs",
    lun => keep "lun",
    fs_type => "fsType",
    read_only => "readOnly",
    wwids => "wwids",
});

to_json_message!(core_v1::AzureFileVolumeSource {
    secret_name => keep "secretName",
    share_name => keep "shareName",
    read_only => "readOnly",
});

to_json_message!(core_v1::ConfigMapVolumeSource {
    local_object_reference => inline,
    items => "items",
    default_mode => keep "defaultMode",
    optional => keep "optional",
});

to_json_message!(core_v1::VsphereVirtualDiskVolumeSource {
    volume_path => keep "volumePath",
    fs_type => "fsType",
    storage_policy_name => "storagePolicyName",
    storage_policy_id => "storagePolicyID",
});

to_json_message!(core_v1::QuobyteVolumeSource {
    registry => keep "registry",
    volume => keep "volume",
    read_only => "readOnly",
    user => "user",
    group => "group",
    tenant => "tenant",
});

to_json_message!(core_v1::AzureDiskVolumeSource {
    disk_name => keep "diskName",
    disk_uri => keep "diskURI",
    caching_mode => keep "cachingMode",
    fs_type => keep "fsType",
    read_only => keep "readOnly",
    kind => keep "kind",
});

to_json_message!(core_v1::PhotonPersistentDiskVolumeSource {
    pd_id => keep "pdID",
    fs_type => "fsType",
});

to_json_message!(core_v1::ProjectedVolumeSource {
    sources => "sources",
    default_mode => keep "defaultMode",
});

to_json_message!(core_v1::PortworxVolumeSource {
    volume_id => keep "volumeID",
    fs_type => "fsType",
    read_only => "readOnly",
});

to_json_message!(core_v1::ScaleIoVolumeSource {
    gateway => keep "gateway",
    system => keep "system",
    secret_ref => "secretRef",
    ssl_enabled => "sslEnabled",
    protection_domain => "protectionDomain",
    storage_pool => "storagePool",
    storage_mode => "storageMode",
    volume_name => "volumeName",
    fs_type => "fsType",
    read_only => "readOnly",
});

to_json_message!(core_v1::StorageOsVolumeSource {
    volume_name => "volumeName",
    volume_namespace => "volumeNamespace",
    fs_type => "fsType",
    read_only => "readOnly",
    secret_ref => "secretRef",
});

to_json_message!(core_v1::CSIVolumeSource {
    driver => keep "driver",
    read_only => keep "readOnly",
    fs_type => keep "fsType",
    volume_attributes => "volumeAttributes",
    node_publish_secret_ref => "nodePublishSecretRef",
});

to_json_message!(core_v1::EphemeralVolumeSource {
    volume_claim_template => "volumeClaimTemplate",
});

to_json_message!(core_v1::ImageVolumeSource {
    reference => "reference",
    pull_policy => "pullPolicy",
});

to_json_message!(core_v1::ConfigMapEnvSource {
    local_object_reference => inline,
    optional => keep "optional",
});

to_json_message!(core_v1::SecretEnvSource {
    local_object_reference => inline,
    optional => keep "optional",
});

to_json_message!(core_v1::EnvVarSource {
    field_ref => "fieldRef",
    resource_field_ref => "resourceFieldRef",
    config_map_key_ref => "configMapKeyRef",
    secret_key_ref => "secretKeyRef",
    file_key_ref => "fileKeyRef",
});

to_json_message!(core_v1::ContainerRestartRuleOnExitCodes {
    operator => keep "operator",
    values => "values",
});

to_json_message!(core_v1::ProbeHandler {
    exec => "exec",
    http_get => "httpGet",
    tcp_socket => "tcpSocket",
    grpc => "grpc",
});

to_json_message!(core_v1::LifecycleHandler {
    exec => "exec",
    http_get => "httpGet",
    tcp_socket => "tcpSocket",
    sleep => "sleep",
});

to_json_message!(core_v1::Capabilities {
    add => "add",
    drop => "drop",
});

to_json_message!(core_v1::NodeSelector {
    node_selector_terms => "nodeSelectorTerms",
});

to_json_message!(core_v1::PreferredSchedulingTerm {
    weight => keep "weight",
    preference => "preference",
});

to_json_message!(core_v1::PodAffinityTerm {
    label_selector => "labelSelector",
    namespaces => "namespaces",
    topology_key => keep "topologyKey",
    namespace_selector => "namespaceSelector",
    match_label_keys => "matchLabelKeys",
    mismatch_label_keys => "mismatchLabelKeys",
});

to_json_message!(core_v1::WeightedPodAffinityTerm {
    weight => keep "weight",
    pod_affinity_term => "podAffinityTerm",
});

to_json_message!(core_v1::KeyToPath {
    key => keep "key",
    path => keep "path",
    mode => keep "mode",
});

to_json_message!(core_v1::DownwardAPIVolumeFile {
    path => keep "path",
    field_ref => "fieldRef",
    resource_field_ref => "resourceFieldRef",
    mode => keep "mode",
});

to_json_message!(core_v1::VolumeProjection {
    secret => "secret",
    downward_api => "downwardAPI",
    config_map => "configMap",
    service_account_token => "serviceAccountToken",
    cluster_trust_bundle => "clusterTrustBundle",
    pod_certificate => "podCertificate",
});

to_json_message!(core_v1::PersistentVolumeClaimTemplate {
    metadata => "metadata",
    spec => "spec",
});

to_json_message!(core_v1::ObjectFieldSelector {
    api_version => "apiVersion",
    field_path => keep "fieldPath",
});

to_json_message!(core_v1::ResourceFieldSelector {
    container_name => "containerName",
    resource => keep "resource",
    divisor => "divisor",
});

to_json_message!(core_v1::ConfigMapKeySelector {
    local_object_reference => inline,
    key => keep "key",
    optional => keep "optional",
});

to_json_message!(core_v1::SecretKeySelector {
    local_object_reference => inline,
    key => keep "key",
    optional => keep "optional",
});

to_json_message!(core_v1::FileKeySelector {
    volume_name => keep "volumeName",
    path => keep "path",
    key => keep "key",
    optional => keep "optional",
});

to_json_message!(core_v1::ExecAction {
    command => "command",
});

to_json_message!(core_v1::HttpGetAction {
    path => "path",
    port => "port",
    host => "host",
    scheme => "scheme",
    http_headers => "httpHeaders",
});

to_json_message!(core_v1::TcpSocketAction {
    port => "port",
    host => "host",
});

to_json_message!(core_v1::GrpcAction {
    port => keep "port",
    service => keep "service",
});

to_json_message!(core_v1::SleepAction {
    seconds => keep "seconds",
});

to_json_message!(core_v1::NodeSelectorTerm {
    match_expressions => "matchExpressions",
    match_fields => "matchFields",
});

to_json_message!(core_v1::SecretProjection {
    local_object_reference => inline,
    items => "items",
    optional => keep "optional",
});

to_json_message!(core_v1::DownwardAPIProjection {
    items => "items",
});

to_json_message!(core_v1::ConfigMapProjection {
    local_object_reference => inline,
    items => "items",
    optional => keep "optional",
});

to_json_message!(core_v1::ServiceAccountTokenProjection {
    audience => "audience",
    expiration_seconds => keep "expirationSeconds",
    path => keep "path",
});

to_json_message!(core_v1::ClusterTrustBundleProjection {
    name => keep "name",
    signer_name => keep "signerName",
    label_selector => "labelSelector",
    optional => keep "optional",
    path => keep "path",
});

to_json_message!(core_v1::PodCertificateProjection {
    signer_name => keep "signerName",
    key_type => keep "keyType",
    max_expiration_seconds => keep "maxExpirationSeconds",
    credential_bundle_path => "credentialBundlePath",
    key_path => "keyPath",
    certificate_chain_path => "certificateChainPath",
    user_annotations => "userAnnotations",
});

to_json_message!(core_v1::PersistentVolumeClaimSpec {
    access_modes => "accessModes",
    selector => "selector",
    resources => "resources",
    volume_name => "volumeName",
    storage_class_name => keep "storageClassName",
    volume_mode => keep "volumeMode",
    data_source => "dataSource",
    data_source_ref => "dataSourceRef",
    volume_attributes_class_name => keep "volumeAttributesClassName",
});

to_json_message!(core_v1::HttpHeader {
    name => keep "name",
    value => keep "value",
});

to_json_message!(core_v1::NodeSelectorRequirement {
    key => keep "key",
    operator => keep "operator",
    values => "values",
});

to_json_message!(core_v1::VolumeResourceRequirements {
    limits => "limits",
    requests => "requests",
});

to_json_message!(core_v1::TypedObjectReference {
    api_group => keep "apiGroup",
    kind => keep "kind",
    name => keep "name",
    namespace => keep "namespace",
});

// apps/v1

to_json_message!(apps_v1::Deployment {
    metadata => "metadata",
    spec => "spec",
    status => "status",
});

to_json_message!(apps_v1::DeploymentSpec {
    replicas => keep "replicas",
    selector => "selector",
    template => "template",
    strategy => "strategy",
    min_ready_seconds => "minReadySeconds",
    revision_history_limit => keep "revisionHistoryLimit",
    paused => "paused",
    progress_deadline_seconds => keep "progressDeadlineSeconds",
});

to_json_message!(apps_v1::DeploymentStatus {
    observed_generation => "observedGeneration",
    replicas => "replicas",
    updated_replicas => "updatedReplicas",
    ready_replicas => "readyReplicas",
    available_replicas => "availableReplicas",
    unavailable_replicas => "unavailableReplicas",
    terminating_replicas => keep "terminatingReplicas",
    conditions => "conditions",
    collision_count => keep "collisionCount",
});

to_json_message!(apps_v1::DeploymentStrategy {
    r#type => "type",
    rolling_update => "rollingUpdate",
});

to_json_message!(apps_v1::DeploymentCondition {
    r#type => keep "type",
    status => keep "status",
    last_update_time => "lastUpdateTime",
    last_transition_time => "lastTransitionTime",
    reason => "reason",
    message => "message",
});

to_json_message!(apps_v1::RollingUpdateDeployment {
    max_unavailable => "maxUnavailable",
    max_surge => "maxSurge",
});

// batch/v1

to_json_message!(batch_v1::Job {
    metadata => "metadata",
    spec => "spec",
    status => "status",
});

to_json_message!(batch_v1::CronJob {
    metadata => "metadata",
    spec => "spec",
    status => "status",
});

to_json_message!(batch_v1::JobSpec {
    parallelism => keep "parallelism",
    completions => keep "completions",
    active_deadline_seconds => keep "activeDeadlineSeconds",
    pod_failure_policy => "podFailurePolicy",
    success_policy => "successPolicy",
    backoff_limit => keep "backoffLimit",
    backoff_limit_per_index => keep "backoffLimitPerIndex",
    max_failed_indexes => keep "maxFailedIndexes",
    selector => "selector",
    manual_selector => keep "manualSelector",
    template => "template",
    ttl_seconds_after_finished => keep "ttlSecondsAfterFinished",
    completion_mode => keep "completionMode",
    suspend => keep "suspend",
    pod_replacement_policy => keep "podReplacementPolicy",
    managed_by => keep "managedBy",
});

to_json_message!(batch_v1::JobStatus {
    conditions => "conditions",
    start_time => "startTime",
    completion_time => "completionTime",
    active => "active",
    succeeded => "succeeded",
    failed => "failed",
    terminating => keep "terminating",
    completed_indexes => "completedIndexes",
    failed_indexes => keep "failedIndexes",
    uncounted_terminated_pods => "uncountedTerminatedPods",
    ready => keep "ready",
});

to_json_message!(batch_v1::CronJobSpec {
    schedule => keep "schedule",
    time_zone => keep "timeZone",
    starting_deadline_seconds => keep "startingDeadlineSeconds",
    concurrency_policy => "concurrencyPolicy",
    suspend => keep "suspend",
    job_template => "jobTemplate",
    successful_jobs_history_limit => keep "successfulJobsHistoryLimit",
    failed_jobs_history_limit => keep "failedJobsHistoryLimit",
});

to_json_message!(batch_v1::CronJobStatus {
    active => "active",
    last_schedule_time => "lastScheduleTime",
    last_successful_time => "lastSuccessfulTime",
});

to_json_message!(batch_v1::PodFailurePolicy {
    rules => "rules",
});

to_json_message!(batch_v1::SuccessPolicy {
    rules => "rules",
});

to_json_message!(batch_v1::JobCondition {
    r#type => keep "type",
    status => keep "status",
    last_probe_time => "lastProbeTime",
    last_transition_time => "lastTransitionTime",
    reason => "reason",
    message => "message",
});

to_json_message!(batch_v1::UncountedTerminatedPods {
    succeeded => "succeeded",
    failed => "failed",
});

to_json_message!(batch_v1::JobTemplateSpec {
    metadata => "metadata",
    spec => "spec",
});

to_json_message!(batch_v1::PodFailurePolicyRule {
    action => keep "action",
    on_exit_codes => "onExitCodes",
    on_pod_conditions => "onPodConditions",
});

to_json_message!(batch_v1::SuccessPolicyRule {
    succeeded_indexes => keep "succeededIndexes",
    succeeded_count => keep "succeededCount",
});

to_json_message!(batch_v1::PodFailurePolicyOnExitCodesRequirement {
    container_name => keep "containerName",
    operator => keep "operator",
    values => "values",
});

to_json_message!(batch_v1::PodFailurePolicyOnPodConditionsPattern {
    r#type => keep "type",
    status => "status",
});

// networking/v1

to_json_message!(networking_v1::Ingress {
    metadata => "metadata",
    spec => "spec",
    status => "status",
});

to_json_message!(networking_v1::IngressSpec {
    ingress_class_name => keep "ingressClassName",
    default_backend => "defaultBackend",
    tls => "tls",
    rules => "rules",
});

to_json_message!(networking_v1::IngressStatus {
    load_balancer => "loadBalancer",
});

to_json_message!(networking_v1::IngressBackend {
    service => "service",
    resource => "resource",
});

to_json_message!(networking_v1::IngressTls {
    hosts => "hosts",
    secret_name => "secretName",
});

to_json_message!(networking_v1::IngressRule {
    host => "host",
    ingress_rule_value => inline,
});

to_json_message!(networking_v1::IngressLoadBalancerStatus {
    ingress => "ingress",
});

to_json_message!(networking_v1::IngressServiceBackend {
    name => keep "name",
    port => "port",
});

to_json_message!(networking_v1::IngressRuleValue {
    http => "http",
});

to_json_message!(networking_v1::IngressLoadBalancerIngress {
    ip => "ip",
    hostname => "hostname",
    ports => "ports",
});

to_json_message!(networking_v1::ServiceBackendPort {
    name => "name",
    number => "number",
});

to_json_message!(networking_v1::HttpIngressRuleValue {
    paths => "paths",
});

to_json_message!(networking_v1::IngressPortStatus {
    port => keep "port",
    protocol => keep "protocol",
    error => keep "error",
});

to_json_message!(networking_v1::HttpIngressPath {
    path => "path",
    path_type => keep "pathType",
    backend => "backend",
});

// policy/v1

to_json_message!(policy_v1::PodDisruptionBudget {
    metadata => "metadata",
    spec => "spec",
    status => "status",
});

to_json_message!(policy_v1::PodDisruptionBudgetSpec {
    min_available => "minAvailable",
    selector => "selector",
    max_unavailable => "maxUnavailable",
    unhealthy_pod_eviction_policy => keep "unhealthyPodEvictionPolicy",
});

to_json_message!(policy_v1::PodDisruptionBudgetStatus {
    observed_generation => "observedGeneration",
    disrupted_pods => "disruptedPods",
    disruptions_allowed => keep "disruptionsAllowed",
    current_healthy => keep "currentHealthy",
    desired_healthy => keep "desiredHealthy",
    expected_pods => keep "expectedPods",
    conditions => "conditions",
});

// rbac/v1

to_json_message!(rbac_v1::Role {
    metadata => "metadata",
    rules => "rules",
});

to_json_message!(rbac_v1::ClusterRole {
    metadata => "metadata",
    rules => "rules",
    aggregation_rule => "aggregationRule",
});

to_json_message!(rbac_v1::RoleBinding {
    metadata => "metadata",
    subjects => "subjects",
    role_ref => "roleRef",
});

to_json_message!(rbac_v1::ClusterRoleBinding {
    metadata => "metadata",
    subjects => "subjects",
    role_ref => "roleRef",
});

to_json_message!(rbac_v1::PolicyRule {
    verbs => "verbs",
    api_groups => "apiGroups",
    resources => "resources",
    resource_names => "resourceNames",
    non_resource_ur_ls => "nonResourceURLs",
});

to_json_message!(rbac_v1::AggregationRule {
    cluster_role_selectors => "clusterRoleSelectors",
});

to_json_message!(rbac_v1::Subject {
    kind => keep "kind",
    api_group => "apiGroup",
    name => keep "name",
    namespace => "namespace",
});

to_json_message!(rbac_v1::RoleRef {
    api_group => keep "apiGroup",
    kind => keep "kind",
    name => keep "name",
});

// scheduling/v1

to_json_message!(scheduling_v1::PriorityClass {
    metadata => "metadata",
    value => keep "value",
    global_default => "globalDefault",
    description => "description",
    preemption_policy => keep "preemptionPolicy",
});

// authentication/v1

to_json_message!(authentication_v1::TokenRequest {
    metadata => "metadata",
    spec => "spec",
    status => "status",
});

to_json_message!(authentication_v1::SelfSubjectReview {
    metadata => "metadata",
    status => "status",
});

to_json_message!(authentication_v1::TokenRequestSpec {
    audiences => "audiences",
    expiration_seconds => keep "expirationSeconds",
    bound_object_ref => "boundObjectRef",
});

to_json_message!(authentication_v1::TokenRequestStatus {
    token => keep "token",
    expiration_timestamp => "expirationTimestamp",
});

to_json_message!(authentication_v1::SelfSubjectReviewStatus {
    user_info => "userInfo",
});

to_json_message!(authentication_v1::BoundObjectReference {
    kind => "kind",
    api_version => "apiVersion",
    name => "name",
    u_id => "uid",
});

to_json_message!(authentication_v1::UserInfo {
    username => "username",
    uid => "uid",
    groups => "groups",
    extra => "extra",
});

// authorization/v1

to_json_message!(authorization_v1::SelfSubjectAccessReview {
    metadata => "metadata",
    spec => "spec",
    status => "status",
});

to_json_message!(authorization_v1::SelfSubjectRulesReview {
    metadata => "metadata",
    spec => "spec",
    status => "status",
});

to_json_message!(authorization_v1::SelfSubjectAccessReviewSpec {
    resource_attributes => "resourceAttributes",
    non_resource_attributes => "nonResourceAttributes",
});

to_json_message!(authorization_v1::SubjectAccessReviewStatus {
    allowed => keep "allowed",
    denied => "denied",
    reason => "reason",
    evaluation_error => "evaluationError",
});

to_json_message!(authorization_v1::SelfSubjectRulesReviewSpec {
    namespace => "namespace",
});

to_json_message!(authorization_v1::SubjectRulesReviewStatus {
    resource_rules => "resourceRules",
    non_resource_rules => "nonResourceRules",
    incomplete => keep "incomplete",
    evaluation_error => "evaluationError",
});

to_json_message!(authorization_v1::ResourceAttributes {
    namespace => "namespace",
    verb => "verb",
    group => "group",
    version => "version",
    resource => "resource",
    subresource => "subresource",
    name => "name",
    field_selector => "fieldSelector",
    label_selector => "labelSelector",
});

to_json_message!(authorization_v1::NonResourceAttributes {
    path => "path",
    verb => "verb",
});

to_json_message!(authorization_v1::ResourceRule {
    verbs => "verbs",
    api_groups => "apiGroups",
    resources => "resources",
    resource_names => "resourceNames",
});

to_json_message!(authorization_v1::NonResourceRule {
    verbs => "verbs",
    non_resource_ur_ls => "nonResourceURLs",
});

to_json_message!(authorization_v1::FieldSelectorAttributes {
    raw_selector => "rawSelector",
    requirements => "requirements",
});

to_json_message!(authorization_v1::LabelSelectorAttributes {
    raw_selector => "rawSelector",
    requirements => "requirements",
});

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2026-11-22T07:44:44Z
    const SECONDS: i64 = 1_795_333_484;

    fn unhex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
    }

    /// A protobuf body as kubectl frames it: magic, then `runtime.Unknown` around the encoded object.
    fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let unknown = runtime::Unknown {
            type_meta: Some(runtime::TypeMeta { api_version: s(api_version), kind: s(kind) }),
            raw: Some(raw),
            content_encoding: s(""),
            content_type: s(""),
        };
        [MAGIC.to_vec(), unknown.encode_to_vec()].concat()
    }

    fn s(value: &str) -> Option<String> {
        Some(value.to_owned())
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    fn string_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, resource::Quantity> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), resource::Quantity { string: s(v) })).collect()
    }

    fn int_port(port: i32) -> Option<intstr::IntOrString> {
        Some(intstr::IntOrString { r#type: Some(0), int_val: Some(port), str_val: s("") })
    }

    fn named_port(name: &str) -> Option<intstr::IntOrString> {
        Some(intstr::IntOrString { r#type: Some(1), int_val: Some(0), str_val: s(name) })
    }

    fn time(seconds: i64) -> Option<meta_v1::Time> {
        Some(meta_v1::Time { seconds: Some(seconds), nanos: Some(0) })
    }

    fn local_ref(name: &str) -> Option<core_v1::LocalObjectReference> {
        Some(core_v1::LocalObjectReference { name: s(name) })
    }

    fn selector(pairs: &[(&str, &str)]) -> Option<meta_v1::LabelSelector> {
        Some(meta_v1::LabelSelector { match_labels: string_map(pairs), match_expressions: vec![] })
    }

    fn volume(name: &str, source: core_v1::VolumeSource) -> core_v1::Volume {
        core_v1::Volume { name: s(name), volume_source: Some(source) }
    }

    fn env_from(name: &str, source: core_v1::EnvVarSource) -> core_v1::EnvVar {
        core_v1::EnvVar { name: s(name), value: s(""), value_from: Some(source) }
    }

    #[test]
    fn recognises_the_protobuf_media_type() {
        assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
        assert!(is_protobuf("Application/VND.Kubernetes.Protobuf ; charset=binary"));
        assert!(!is_protobuf("application/json"));
        assert!(!is_protobuf("application/vnd.kubernetes.protobuf+json"));
        assert!(!is_protobuf(""));
    }

    #[test]
    fn writes_api_version_and_kind_first() {
        let text = decode(&unhex(CONFIGMAP)).map(|v| v.to_string()).unwrap_or_default();
        assert!(text.starts_with(r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":"#), "{text}");
    }

    #[test]
    fn refuses_kinds_without_a_mapping() {
        let pod = core_v1::Pod::default().encode_to_vec();
        let err = decode(&envelope("v1", "Pod", pod)).unwrap_err();
        assert!(err.contains("not supported") && err.contains("Pod"), "{err}");
        let err = decode(&envelope("apps/v1beta1", "Deployment", vec![])).unwrap_err();
        assert!(err.contains("not supported"), "{err}");
    }

    #[test]
    fn refuses_malformed_bodies() {
        assert!(decode(b"").unwrap_err().contains("magic"));
        assert!(decode(b"{\"kind\":\"ConfigMap\"}").unwrap_err().contains("magic"));
        assert!(decode(b"k8s\0\xff\xff\xff").unwrap_err().contains("envelope"));
        let not_a_configmap = envelope("v1", "ConfigMap", vec![0x0a, 0x05, 0x01]);
        assert!(decode(&not_a_configmap).unwrap_err().contains("malformed protobuf ConfigMap"));
    }

    #[test]
    fn refuses_encoded_content() {
        let mut unknown = runtime::Unknown::decode(&unhex(NAMESPACE)[MAGIC.len()..]).unwrap();
        unknown.content_encoding = s("gzip");
        let body = [MAGIC.to_vec(), unknown.encode_to_vec()].concat();
        assert!(decode(&body).unwrap_err().contains("gzip"));
    }

    #[test]
    fn truncated_or_corrupted_bodies_fail_without_panicking() {
        for fixture in FIXTURES {
            let body = unhex(fixture);
            for end in 0..body.len() {
                let _ = decode(&body[..end]);
            }
            for index in MAGIC.len()..body.len() {
                let mut corrupted = body.clone();
                corrupted[index] ^= 0xa5;
                let _ = decode(&corrupted);
            }
        }
    }

    #[test]
    fn every_supported_kind_decodes_an_empty_object() {
        let kinds = [
            ("v1", "ConfigMap"),
            ("v1", "Secret"),
            ("v1", "Namespace"),
            ("v1", "ServiceAccount"),
            ("v1", "Service"),
            ("v1", "ResourceQuota"),
            ("apps/v1", "Deployment"),
            ("batch/v1", "Job"),
            ("batch/v1", "CronJob"),
            ("networking.k8s.io/v1", "Ingress"),
            ("policy/v1", "PodDisruptionBudget"),
            ("rbac.authorization.k8s.io/v1", "Role"),
            ("rbac.authorization.k8s.io/v1", "ClusterRole"),
            ("rbac.authorization.k8s.io/v1", "RoleBinding"),
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
            ("scheduling.k8s.io/v1", "PriorityClass"),
            ("authentication.k8s.io/v1", "TokenRequest"),
            ("authentication.k8s.io/v1", "SelfSubjectReview"),
            ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
            ("authorization.k8s.io/v1", "SelfSubjectRulesReview"),
        ];
        for (api_version, kind) in kinds {
            let decoded = decode(&envelope(api_version, kind, vec![]));
            assert_eq!(decoded, Ok(json!({"apiVersion": api_version, "kind": kind})), "{kind}");
        }
    }

    #[test]
    fn formats_times_and_refuses_unprintable_ones() {
        assert_eq!(format_time(SECONDS).as_deref(), Ok("2026-11-22T07:44:44Z"));
        assert_eq!(format_time(MAX_RFC3339_SECONDS).as_deref(), Ok("9999-12-31T23:59:59Z"));
        assert!(format_time(MAX_RFC3339_SECONDS + 1).is_err());
        assert!(format_time(-1).is_err());
        let namespace = core_v1::Namespace {
            metadata: Some(meta_v1::ObjectMeta { name: s("old"), creation_timestamp: time(-1), ..Default::default() }),
            ..Default::default()
        };
        assert!(decode(&envelope("v1", "Namespace", namespace.encode_to_vec())).unwrap_err().contains("1970"));
    }

    #[test]
    fn refuses_bad_int_or_string_and_fields_v1() {
        let pdb = policy_v1::PodDisruptionBudget {
            spec: Some(policy_v1::PodDisruptionBudgetSpec {
                min_available: Some(intstr::IntOrString { r#type: Some(7), int_val: None, str_val: None }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let err = decode(&envelope("policy/v1", "PodDisruptionBudget", pdb.encode_to_vec())).unwrap_err();
        assert!(err.contains("IntOrString"), "{err}");

        let entry = meta_v1::ManagedFieldsEntry {
            fields_v1: Some(meta_v1::FieldsV1 { raw: Some(b"{not json".to_vec()) }),
            ..Default::default()
        };
        let config_map = core_v1::ConfigMap {
            metadata: Some(meta_v1::ObjectMeta { managed_fields: vec![entry], ..Default::default() }),
            ..Default::default()
        };
        let err = decode(&envelope("v1", "ConfigMap", config_map.encode_to_vec())).unwrap_err();
        assert!(err.contains("FieldsV1"), "{err}");
    }

    /// Go pointers keep their zero values, `omitempty` values drop them, embedded structs are inlined,
    /// empty structs (`emptyDir: {}`) stay: checked across the deep parts of a pod template.
    #[test]
    fn decodes_a_full_pod_template() {
        let deployment = apps_v1::Deployment {
            metadata: Some(full_metadata()),
            spec: Some(apps_v1::DeploymentSpec {
                replicas: Some(0),
                selector: selector(&[("app", "web")]),
                template: Some(core_v1::PodTemplateSpec {
                    metadata: Some(meta_v1::ObjectMeta {
                        labels: string_map(&[("app", "web")]),
                        creation_timestamp: Some(meta_v1::Time::default()),
                        ..Default::default()
                    }),
                    spec: Some(full_pod_spec()),
                }),
                strategy: Some(apps_v1::DeploymentStrategy {
                    r#type: s("RollingUpdate"),
                    rolling_update: Some(apps_v1::RollingUpdateDeployment {
                        max_unavailable: named_port("25%"),
                        max_surge: int_port(1),
                    }),
                }),
                min_ready_seconds: Some(0),
                revision_history_limit: Some(0),
                paused: Some(false),
                progress_deadline_seconds: None,
            }),
            status: Some(apps_v1::DeploymentStatus::default()),
        };
        let decoded = decode(&envelope("apps/v1", "Deployment", deployment.encode_to_vec()));
        let expected = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": full_metadata_json(),
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": full_pod_spec_json()},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}},
                "revisionHistoryLimit": 0,
            },
            "status": {},
        });
        assert_eq!(decoded, Ok(expected));
    }

    fn full_metadata() -> meta_v1::ObjectMeta {
        meta_v1::ObjectMeta {
            name: s("web"),
            generate_name: s(""),
            namespace: s("default"),
            uid: s("0b1c"),
            generation: Some(0),
            creation_timestamp: time(SECONDS),
            deletion_grace_period_seconds: Some(0),
            labels: string_map(&[("app", "web")]),
            annotations: string_map(&[("note", "")]),
            owner_references: vec![meta_v1::OwnerReference {
                api_version: s("v1"),
                kind: s("ConfigMap"),
                name: s("owner"),
                uid: s("9f"),
                controller: Some(false),
                block_owner_deletion: Some(true),
            }],
            finalizers: strings(&["keel.dev/test"]),
            managed_fields: vec![meta_v1::ManagedFieldsEntry {
                manager: s("kubectl-create"),
                operation: s("Update"),
                api_version: s("apps/v1"),
                time: time(SECONDS),
                fields_type: s("FieldsV1"),
                fields_v1: Some(meta_v1::FieldsV1 { raw: Some(br#"{"f:spec":{"f:replicas":{}}}"#.to_vec()) }),
                subresource: s(""),
            }],
            ..Default::default()
        }
    }

    fn full_metadata_json() -> Value {
        json!({
            "name": "web",
            "namespace": "default",
            "uid": "0b1c",
            "creationTimestamp": "2026-11-22T07:44:44Z",
            "deletionGracePeriodSeconds": 0,
            "labels": {"app": "web"},
            "annotations": {"note": ""},
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "9f", "controller": false,
                 "blockOwnerDeletion": true},
            ],
            "finalizers": ["keel.dev/test"],
            "managedFields": [{
                "manager": "kubectl-create",
                "operation": "Update",
                "apiVersion": "apps/v1",
                "time": "2026-11-22T07:44:44Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:replicas": {}}},
            }],
        })
    }

    fn full_pod_spec() -> core_v1::PodSpec {
        core_v1::PodSpec {
            volumes: full_volumes(),
            init_containers: vec![core_v1::Container {
                name: s("sidecar"),
                image: s("busybox"),
                restart_policy: s("Always"),
                ..Default::default()
            }],
            containers: vec![full_container()],
            ephemeral_containers: vec![core_v1::EphemeralContainer {
                ephemeral_container_common: Some(core_v1::EphemeralContainerCommon {
                    name: s("debug"),
                    image: s("busybox"),
                    stdin: Some(true),
                    tty: Some(false),
                    ..Default::default()
                }),
                target_container_name: s("app"),
            }],
            restart_policy: s("Always"),
            termination_grace_period_seconds: Some(30),
            dns_policy: s("ClusterFirst"),
            node_selector: string_map(&[("disk", "ssd")]),
            service_account_name: s("runner"),
            automount_service_account_token: Some(false),
            host_network: Some(false),
            share_process_namespace: Some(false),
            security_context: Some(core_v1::PodSecurityContext {
                run_as_user: Some(1000),
                run_as_non_root: Some(true),
                fs_group: Some(2000),
                supplemental_groups: vec![3000],
                sysctls: vec![core_v1::Sysctl { name: s("net.core.somaxconn"), value: s("1024") }],
                ..Default::default()
            }),
            image_pull_secrets: vec![core_v1::LocalObjectReference { name: s("registry") }],
            affinity: Some(full_affinity()),
            tolerations: vec![core_v1::Toleration {
                key: s("node.kubernetes.io/unreachable"),
                operator: s("Exists"),
                value: s(""),
                effect: s("NoExecute"),
                toleration_seconds: Some(0),
            }],
            host_aliases: vec![core_v1::HostAlias { ip: s("127.0.0.1"), hostnames: strings(&["db.local"]) }],
            priority: Some(0),
            dns_config: Some(core_v1::PodDnsConfig {
                nameservers: strings(&["1.1.1.1"]),
                searches: vec![],
                options: vec![core_v1::PodDnsConfigOption { name: s("ndots"), value: s("2") }],
            }),
            enable_service_links: Some(false),
            topology_spread_constraints: vec![core_v1::TopologySpreadConstraint {
                max_skew: Some(1),
                topology_key: s("zone"),
                when_unsatisfiable: s("DoNotSchedule"),
                label_selector: selector(&[("app", "web")]),
                ..Default::default()
            }],
            os: Some(core_v1::PodOs { name: s("linux") }),
            ..Default::default()
        }
    }

    fn full_pod_spec_json() -> Value {
        json!({
            "volumes": full_volumes_json(),
            "initContainers": [{"name": "sidecar", "image": "busybox", "restartPolicy": "Always"}],
            "containers": [full_container_json()],
            "ephemeralContainers": [{"name": "debug", "image": "busybox", "stdin": true, "targetContainerName": "app"}],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "nodeSelector": {"disk": "ssd"},
            "serviceAccountName": "runner",
            "automountServiceAccountToken": false,
            "shareProcessNamespace": false,
            "securityContext": {
                "runAsUser": 1000,
                "runAsNonRoot": true,
                "supplementalGroups": [3000],
                "fsGroup": 2000,
                "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}],
            },
            "imagePullSecrets": [{"name": "registry"}],
            "affinity": full_affinity_json(),
            "tolerations": [
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 0},
            ],
            "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["db.local"]}],
            "priority": 0,
            "dnsConfig": {"nameservers": ["1.1.1.1"], "options": [{"name": "ndots", "value": "2"}]},
            "enableServiceLinks": false,
            "topologySpreadConstraints": [
                {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
                 "labelSelector": {"matchLabels": {"app": "web"}}},
            ],
            "os": {"name": "linux"},
        })
    }

    fn full_volumes() -> Vec<core_v1::Volume> {
        vec![
            volume(
                "cache",
                core_v1::VolumeSource {
                    empty_dir: Some(core_v1::EmptyDirVolumeSource::default()),
                    ..Default::default()
                },
            ),
            volume(
                "config",
                core_v1::VolumeSource {
                    config_map: Some(core_v1::ConfigMapVolumeSource {
                        local_object_reference: local_ref("app-config"),
                        items: vec![core_v1::KeyToPath { key: s("a"), path: s("a.txt"), mode: Some(0o400) }],
                        default_mode: Some(0o644),
                        optional: Some(false),
                    }),
                    ..Default::default()
                },
            ),
            volume(
                "data",
                core_v1::VolumeSource {
                    persistent_volume_claim: Some(core_v1::PersistentVolumeClaimVolumeSource {
                        claim_name: s("data"),
                        read_only: Some(false),
                    }),
                    ..Default::default()
                },
            ),
            volume(
                "token",
                core_v1::VolumeSource {
                    projected: Some(core_v1::ProjectedVolumeSource {
                        sources: vec![
                            core_v1::VolumeProjection {
                                service_account_token: Some(core_v1::ServiceAccountTokenProjection {
                                    audience: s("api"),
                                    expiration_seconds: Some(3600),
                                    path: s("token"),
                                }),
                                ..Default::default()
                            },
                            core_v1::VolumeProjection {
                                downward_api: Some(core_v1::DownwardAPIProjection {
                                    items: vec![core_v1::DownwardAPIVolumeFile {
                                        path: s("labels"),
                                        field_ref: Some(core_v1::ObjectFieldSelector {
                                            api_version: s("v1"),
                                            field_path: s("metadata.labels"),
                                        }),
                                        ..Default::default()
                                    }],
                                }),
                                ..Default::default()
                            },
                        ],
                        default_mode: None,
                    }),
                    ..Default::default()
                },
            ),
            volume(
                "scratch",
                core_v1::VolumeSource {
                    ephemeral: Some(core_v1::EphemeralVolumeSource {
                        volume_claim_template: Some(core_v1::PersistentVolumeClaimTemplate {
                            metadata: Some(meta_v1::ObjectMeta::default()),
                            spec: Some(core_v1::PersistentVolumeClaimSpec {
                                access_modes: strings(&["ReadWriteOnce"]),
                                resources: Some(core_v1::VolumeResourceRequirements {
                                    limits: BTreeMap::new(),
                                    requests: quantities(&[("storage", "1Gi")]),
                                }),
                                storage_class_name: s(""),
                                ..Default::default()
                            }),
                        }),
                    }),
                    ..Default::default()
                },
            ),
        ]
    }

    fn full_volumes_json() -> Value {
        json!([
            {"name": "cache", "emptyDir": {}},
            {
                "name": "config",
                "configMap": {
                    "name": "app-config",
                    "items": [{"key": "a", "path": "a.txt", "mode": 256}],
                    "defaultMode": 420,
                    "optional": false,
                },
            },
            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
            {
                "name": "token",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"audience": "api", "expirationSeconds": 3600, "path": "token"}},
                        {"downwardAPI": {"items": [
                            {"path": "labels", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels"}},
                        ]}},
                    ],
                },
            },
            {
                "name": "scratch",
                "ephemeral": {"volumeClaimTemplate": {
                    "metadata": {},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                        "storageClassName": "",
                    },
                }},
            },
        ])
    }

    fn full_container() -> core_v1::Container {
        core_v1::Container {
            name: s("app"),
            image: s("nginx:1.27"),
            command: strings(&["nginx"]),
            args: strings(&["-g", "daemon off;"]),
            working_dir: s(""),
            ports: vec![core_v1::ContainerPort {
                name: s("http"),
                host_port: Some(0),
                container_port: Some(8080),
                protocol: s("TCP"),
                host_ip: s(""),
            }],
            env_from: vec![core_v1::EnvFromSource {
                prefix: s("APP_"),
                config_map_ref: None,
                secret_ref: Some(core_v1::SecretEnvSource {
                    local_object_reference: local_ref("creds"),
                    optional: Some(true),
                }),
            }],
            env: full_env(),
            resources: Some(core_v1::ResourceRequirements {
                limits: quantities(&[("cpu", "500m"), ("memory", "128Mi")]),
                requests: quantities(&[("cpu", "100m")]),
                claims: vec![],
            }),
            volume_mounts: vec![core_v1::VolumeMount {
                name: s("cache"),
                read_only: Some(true),
                mount_path: s("/cache"),
                sub_path: s(""),
                ..Default::default()
            }],
            liveness_probe: Some(core_v1::Probe {
                handler: Some(core_v1::ProbeHandler {
                    http_get: Some(core_v1::HttpGetAction {
                        path: s("/healthz"),
                        port: named_port("http"),
                        host: s(""),
                        scheme: s("HTTP"),
                        http_headers: vec![core_v1::HttpHeader { name: s("X-Probe"), value: s("1") }],
                    }),
                    ..Default::default()
                }),
                initial_delay_seconds: Some(5),
                timeout_seconds: Some(0),
                period_seconds: Some(10),
                termination_grace_period_seconds: Some(0),
                ..Default::default()
            }),
            readiness_probe: Some(core_v1::Probe {
                handler: Some(core_v1::ProbeHandler {
                    tcp_socket: Some(core_v1::TcpSocketAction { port: int_port(8080), host: s("") }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            lifecycle: Some(core_v1::Lifecycle {
                pre_stop: Some(core_v1::LifecycleHandler {
                    sleep: Some(core_v1::SleepAction { seconds: Some(5) }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            termination_message_path: s("/dev/termination-log"),
            image_pull_policy: s("IfNotPresent"),
            security_context: Some(core_v1::SecurityContext {
                capabilities: Some(core_v1::Capabilities { add: vec![], drop: strings(&["ALL"]) }),
                privileged: Some(false),
                run_as_user: Some(0),
                allow_privilege_escalation: Some(false),
                seccomp_profile: Some(core_v1::SeccompProfile { r#type: s("RuntimeDefault"), localhost_profile: None }),
                ..Default::default()
            }),
            stdin: Some(false),
            tty: Some(false),
            ..Default::default()
        }
    }

    fn full_env() -> Vec<core_v1::EnvVar> {
        vec![
            core_v1::EnvVar { name: s("PLAIN"), value: s("1"), value_from: None },
            core_v1::EnvVar { name: s("EMPTY"), value: s(""), value_from: None },
            env_from(
                "FROM_CONFIG",
                core_v1::EnvVarSource {
                    config_map_key_ref: Some(core_v1::ConfigMapKeySelector {
                        local_object_reference: local_ref("app-config"),
                        key: s("level"),
                        optional: Some(false),
                    }),
                    ..Default::default()
                },
            ),
            env_from(
                "CPU",
                core_v1::EnvVarSource {
                    resource_field_ref: Some(core_v1::ResourceFieldSelector {
                        container_name: s(""),
                        resource: s("limits.cpu"),
                        divisor: Some(resource::Quantity { string: s("1m") }),
                    }),
                    ..Default::default()
                },
            ),
        ]
    }

    fn full_container_json() -> Value {
        json!({
            "name": "app",
            "image": "nginx:1.27",
            "command": ["nginx"],
            "args": ["-g", "daemon off;"],
            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
            "envFrom": [{"prefix": "APP_", "secretRef": {"name": "creds", "optional": true}}],
            "env": [
                {"name": "PLAIN", "value": "1"},
                {"name": "EMPTY"},
                {"name": "FROM_CONFIG", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "level",
                                                                          "optional": false}}},
                {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
            ],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m"}},
            "volumeMounts": [{"name": "cache", "readOnly": true, "mountPath": "/cache"}],
            "livenessProbe": {
                "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP",
                            "httpHeaders": [{"name": "X-Probe", "value": "1"}]},
                "initialDelaySeconds": 5,
                "periodSeconds": 10,
                "terminationGracePeriodSeconds": 0,
            },
            "readinessProbe": {"tcpSocket": {"port": 8080}},
            "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
            "terminationMessagePath": "/dev/termination-log",
            "imagePullPolicy": "IfNotPresent",
            "securityContext": {
                "capabilities": {"drop": ["ALL"]},
                "privileged": false,
                "runAsUser": 0,
                "allowPrivilegeEscalation": false,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        })
    }

    fn full_affinity() -> core_v1::Affinity {
        let zone = core_v1::NodeSelectorRequirement { key: s("zone"), operator: s("In"), values: strings(&["a"]) };
        core_v1::Affinity {
            node_affinity: Some(core_v1::NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(core_v1::NodeSelector {
                    node_selector_terms: vec![core_v1::NodeSelectorTerm {
                        match_expressions: vec![zone],
                        match_fields: vec![],
                    }],
                }),
                preferred_during_scheduling_ignored_during_execution: vec![],
            }),
            pod_affinity: None,
            pod_anti_affinity: Some(core_v1::PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: vec![],
                preferred_during_scheduling_ignored_during_execution: vec![core_v1::WeightedPodAffinityTerm {
                    weight: Some(100),
                    pod_affinity_term: Some(core_v1::PodAffinityTerm {
                        label_selector: selector(&[("app", "web")]),
                        topology_key: s("kubernetes.io/hostname"),
                        ..Default::default()
                    }),
                }],
            }),
        }
    }

    fn full_affinity_json() -> Value {
        json!({
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
            ]}},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}},
                                    "topologyKey": "kubernetes.io/hostname"},
            }]},
        })
    }

    #[test]
    fn decodes_service_pointers_and_status() {
        let service = core_v1::Service {
            metadata: Some(meta_v1::ObjectMeta { name: s("web"), ..Default::default() }),
            spec: Some(core_v1::ServiceSpec {
                ports: vec![core_v1::ServicePort {
                    name: s("http"),
                    protocol: s("TCP"),
                    app_protocol: s(""),
                    port: Some(80),
                    target_port: named_port("http"),
                    node_port: Some(0),
                }],
                selector: string_map(&[("app", "web")]),
                cluster_ip: s("None"),
                r#type: s("ClusterIP"),
                session_affinity: s("ClientIP"),
                session_affinity_config: Some(core_v1::SessionAffinityConfig {
                    client_ip: Some(core_v1::ClientIpConfig { timeout_seconds: Some(10800) }),
                }),
                publish_not_ready_addresses: Some(false),
                allocate_load_balancer_node_ports: Some(false),
                ip_families: strings(&["IPv4"]),
                ip_family_policy: s("SingleStack"),
                ..Default::default()
            }),
            status: Some(core_v1::ServiceStatus {
                load_balancer: Some(core_v1::LoadBalancerStatus {
                    ingress: vec![core_v1::LoadBalancerIngress {
                        ip: s("10.0.0.1"),
                        hostname: s(""),
                        ip_mode: s("VIP"),
                        ports: vec![core_v1::PortStatus { port: Some(80), protocol: s("TCP"), error: None }],
                    }],
                }),
                conditions: vec![meta_v1::Condition {
                    r#type: s("Ready"),
                    status: s("True"),
                    observed_generation: Some(0),
                    last_transition_time: time(SECONDS),
                    reason: s("Up"),
                    message: s(""),
                }],
            }),
        };
        let expected = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {
                "ports": [{"name": "http", "protocol": "TCP", "appProtocol": "", "port": 80, "targetPort": "http"}],
                "selector": {"app": "web"},
                "clusterIP": "None",
                "type": "ClusterIP",
                "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "allocateLoadBalancerNodePorts": false,
            },
            "status": {
                "loadBalancer": {"ingress": [
                    {"ip": "10.0.0.1", "ipMode": "VIP", "ports": [{"port": 80, "protocol": "TCP"}]},
                ]},
                "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-22T07:44:44Z", "reason": "Up",
                     "message": ""},
                ],
            },
        });
        assert_eq!(decode(&envelope("v1", "Service", service.encode_to_vec())), Ok(expected));
    }

    #[test]
    fn decodes_job_policies_and_ingress_resource_backends() {
        let job = batch_v1::Job {
            spec: Some(batch_v1::JobSpec {
                parallelism: Some(0),
                backoff_limit: Some(0),
                suspend: Some(false),
                pod_failure_policy: Some(batch_v1::PodFailurePolicy {
                    rules: vec![batch_v1::PodFailurePolicyRule {
                        action: s("FailJob"),
                        on_exit_codes: Some(batch_v1::PodFailurePolicyOnExitCodesRequirement {
                            container_name: s(""),
                            operator: s("In"),
                            values: vec![42],
                        }),
                        on_pod_conditions: vec![],
                    }],
                }),
                success_policy: Some(batch_v1::SuccessPolicy {
                    rules: vec![batch_v1::SuccessPolicyRule { succeeded_indexes: s("0-2"), succeeded_count: Some(0) }],
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let expected = json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "spec": {
                "parallelism": 0,
                "podFailurePolicy": {"rules": [
                    {"action": "FailJob", "onExitCodes": {"containerName": "", "operator": "In", "values": [42]}},
                ]},
                "successPolicy": {"rules": [{"succeededIndexes": "0-2", "succeededCount": 0}]},
                "backoffLimit": 0,
                "suspend": false,
            },
        });
        assert_eq!(decode(&envelope("batch/v1", "Job", job.encode_to_vec())), Ok(expected));

        let ingress = networking_v1::Ingress {
            spec: Some(networking_v1::IngressSpec {
                default_backend: Some(networking_v1::IngressBackend {
                    service: None,
                    resource: Some(core_v1::TypedLocalObjectReference {
                        api_group: s(""),
                        kind: s("Bucket"),
                        name: s("static"),
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let expected = json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "spec": {"defaultBackend": {"resource": {"apiGroup": "", "kind": "Bucket", "name": "static"}}},
        });
        assert_eq!(decode(&envelope("networking.k8s.io/v1", "Ingress", ingress.encode_to_vec())), Ok(expected));
    }

    #[test]
    fn decodes_user_info_extra_as_string_lists() {
        let review = authentication_v1::SelfSubjectReview {
            metadata: None,
            status: Some(authentication_v1::SelfSubjectReviewStatus {
                user_info: Some(authentication_v1::UserInfo {
                    username: s("admin"),
                    uid: s(""),
                    groups: strings(&["system:masters"]),
                    extra: [("scopes".to_owned(), authentication_v1::ExtraValue { items: strings(&["a", "b"]) })]
                        .into(),
                }),
            }),
        };
        let expected = json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "SelfSubjectReview",
            "status": {"userInfo": {
                "username": "admin",
                "groups": ["system:masters"],
                "extra": {"scopes": ["a", "b"]},
            }},
        });
        let body = envelope("authentication.k8s.io/v1", "SelfSubjectReview", review.encode_to_vec());
        assert_eq!(decode(&body), Ok(expected));
    }

    // Bodies captured from kubectl 1.33 with `-v=9` (kubectl 1.32 sends the same bytes). Expected JSON is
    // `kubectl ... --dry-run=client -o json` for the same command, minus its nulls (`creationTimestamp`);
    // `create token` and `auth` have no dry run: their expectations were checked by hand.

    /// `kubectl create configmap cm --from-literal=a=b --from-literal=empty= --from-file=small.txt`
    const CONFIGMAP: &str = "\
        6b3873000a0f0a0276311209436f6e6669674d617012420a120a02636d12001a0022002a0032003800420012060a0161\
        12016212090a05656d707479120012190a09736d616c6c2e747874120c6c696e65310a6c696e65320a1a002200";

    /// `kubectl create configmap cmb --from-file=bin.dat`
    const CONFIGMAP_BIN: &str = "\
        6b3873000a0f0a0276311209436f6e6669674d617012260a130a03636d6212001a0022002a003200380042001a0f0a07\
        62696e2e64617412040001fffe1a002200";

    /// `kubectl create secret generic s --from-literal=k=v --type=Opaque`
    const SECRET_GENERIC: &str = "\
        6b3873000a0c0a027631120653656372657412230a110a017312001a0022002a0032003800420012060a016b1201761a\
        064f70617175651a002200";

    /// `kubectl create secret tls t --cert=ec.crt --key=ec.key`
    const SECRET_TLS: &str = "\
        6b3873000a0c0a027631120653656372657412f3060a110a017412001a0022002a0032003800420012ca040a07746c73\
        2e63727412be042d2d2d2d2d424547494e2043455254494649434154452d2d2d2d2d0a4d494942656a434341522b6741\
        774942416749554e66516b746b5a387450633134702f795939395a37672f2b4f474177436759494b6f5a497a6a304541\
        7749770a456a45514d41344741315545417777485a6d39764c6d4e7662544165467730794e6a45784d6a49774f444579\
        4d6a56614677307a4e6a45784d546b774f4445790a4d6a56614d4249784544414f42674e5642414d4d42325a76627935\
        6a623230775754415442676371686b6a4f5051494242676771686b6a4f50514d4242774e430a41415247314333565574\
        51476346434178723052684d71772b3669664235576769427236746b62575837597556377176724668656c6f66496c31\
        65352f536b4f0a7a6a726273316c74747645706a434c7977754e614b34376b6f314d775554416442674e564851344546\
        6751556c48794c78664e426d372f6778395032513779390a4261754865453077487759445652306a42426777466f4155\
        6c48794c78664e426d372f677839503251377939426175486545307744775944565230544151482f0a42415577417745\
        422f7a414b42676771686b6a4f5051514441674e4a41444247416945413232445a4570484b4c5a306b446239546b6951\
        702b7a3272477a47770a5a6a44617a724c425746726a77754d4349514370504438767856303963484b4d415834326359\
        42584e76624f4963762b4f394165584e7231497863534e673d3d0a2d2d2d2d2d454e442043455254494649434154452d\
        2d2d2d2d0a12fd010a07746c732e6b657912f1012d2d2d2d2d424547494e2050524956415445204b45592d2d2d2d2d0a\
        4d494748416745414d424d4742797147534d34394167454743437147534d343941774548424730776177494241515167\
        66507736646b7253433638656d3636760a5575413342596d7862474761696a654150463546754e635448522b6852414e\
        434141524731433356557451476346434178723052684d71772b366966423557670a69427236746b6257583759755637\
        7176724668656c6f66496c3165352f536b4f7a6a726273316c74747645706a434c7977754e614b34376b0a2d2d2d2d2d\
        454e442050524956415445204b45592d2d2d2d2d0a1a116b756265726e657465732e696f2f746c731a002200";

    /// `kubectl create secret docker-registry d --docker-server=reg.example.com --docker-username=u`
    /// `--docker-password=p --docker-email=e@x.com`
    const SECRET_DOCKER: &str = "\
        6b3873000a0c0a027631120653656372657412a7010a110a016412001a0022002a0032003800420012720a112e646f63\
        6b6572636f6e6669676a736f6e125d7b226175746873223a7b227265672e6578616d706c652e636f6d223a7b22757365\
        726e616d65223a2275222c2270617373776f7264223a2270222c22656d61696c223a226540782e636f6d222c22617574\
        68223a2264547077227d7d7d1a1e6b756265726e657465732e696f2f646f636b6572636f6e6669676a736f6e1a002200";

    /// `kubectl create namespace ns1`
    const NAMESPACE: &str = "\
        6b3873000a0f0a02763112094e616d657370616365121b0a130a036e733112001a0022002a0032003800420012001a02\
        0a001a002200";

    /// `kubectl create serviceaccount sa1`
    const SERVICEACCOUNT: &str = "\
        6b3873000a140a027631120e536572766963654163636f756e7412150a130a0373613112001a0022002a003200380042\
        001a002200";

    /// `kubectl create deployment web --image=nginx --replicas=2 --port=80`
    const DEPLOYMENT: &str = "\
        6b3873000a150a07617070732f7631120a4465706c6f796d656e7412b8010a1f0a0377656212001a0022002a00320038\
        0042005a0a0a0361707012037765621286010802120c0a0a0a0361707012037765621a6c0a1c0a0012001a0022002a00\
        3200380042005a0a0a036170701203776562124c122e0a056e67696e7812056e67696e782a00320a0a00100018502200\
        2a0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a0100c20100\
        22020a00280038001a0c0800100018002000280038001a002200";

    /// `kubectl create deployment web0 --image=nginx --replicas=0`
    const DEPLOYMENT_ZERO: &str = "\
        6b3873000a150a07617070732f7631120a4465706c6f796d656e7412af010a210a047765623012001a0022002a003200\
        380042005a0b0a03617070120477656230127c0800120d0a0b0a036170701204776562301a610a1d0a0012001a002200\
        2a003200380042005a0b0a03617070120477656230124012220a056e67696e7812056e67696e782a0042006a00720080\
        0100880100900100a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a\
        0c0800100018002000280038001a002200";

    /// `kubectl create job j --image=busybox -- echo hi`
    const JOB: &str = "\
        6b3873000a0f0a0862617463682f763112034a6f621282010a110a016a12001a0022002a00320038004200126332610a\
        100a0012001a0022002a00320038004200124d122a0a016a120762757379626f781a046563686f1a0268692a0042006a\
        007200800100880100900100a201001a054e65766572320042004a0052005800600068008201008a01009a0100c20100\
        1a082000280030003a001a002200";

    /// `kubectl create job j2 --image=busybox`
    const JOB_NOCMD: &str = "\
        6b3873000a0f0a0862617463682f763112034a6f62127a0a120a026a3212001a0022002a00320038004200125a32580a\
        100a0012001a0022002a00320038004200124412210a026a32120762757379626f782a0042006a007200800100880100\
        900100a201001a054e65766572320042004a0052005800600068008201008a01009a0100c201001a082000280030003a\
        001a002200";

    /// `kubectl create cronjob c --image=busybox --schedule="*/1 * * * *" -- date`
    const CRONJOB: &str = "\
        6b3873000a130a0862617463682f7631120743726f6e4a6f6212a1010a110a016312001a0022002a0032003800420012\
        89010a0b2a2f31202a202a202a202a1a002a780a110a016312001a0022002a00320038004200126332610a100a001200\
        1a0022002a00320038004200124d12260a0163120762757379626f781a04646174652a0042006a007200800100880100\
        900100a201001a094f6e4661696c757265320042004a0052005800600068008201008a01009a0100c201001a001a0022\
        00";

    /// `kubectl create service clusterip my-cs --tcp=5678:8080`
    const SVC_CLUSTERIP: &str = "\
        6b3873000a0d0a02763112075365727669636512720a230a056d792d637312001a0022002a003200380042005a0c0a03\
        61707012056d792d637312470a1e0a09353637382d38303830120354435018ae2c2207080010903f1a002800120c0a03\
        61707012056d792d63731a002209436c757374657249503a00420052005a00600068001a020a001a002200";

    /// `kubectl create service clusterip hl --clusterip=None`
    const SVC_HEADLESS: &str = "\
        6b3873000a0d0a027631120753657276696365124d0a1d0a02686c12001a0022002a003200380042005a090a03617070\
        1202686c122812090a036170701202686c1a044e6f6e652209436c757374657249503a00420052005a00600068001a02\
        0a001a002200";

    /// `kubectl create service nodeport n --tcp=80:8080 --node-port=30080`
    const SVC_NODEPORT: &str = "\
        6b3873000a0d0a02763112075365727669636512640a1b0a016e12001a0022002a003200380042005a080a0361707012\
        016e12410a1d0a0738302d38303830120354435018502207080010903f1a002880eb0112080a0361707012016e1a0022\
        084e6f6465506f72743a00420052005a00600068001a020a001a002200";

    /// `kubectl create service loadbalancer lb --tcp=443:8443`
    const SVC_LB: &str = "\
        6b3873000a0d0a027631120753657276696365126b0a1d0a026c6212001a0022002a003200380042005a090a03617070\
        12026c6212460a1d0a083434332d38343433120354435018bb032207080010fb411a00280012090a0361707012026c62\
        1a00220c4c6f616442616c616e6365723a00420052005a00600068001a020a001a002200";

    /// `kubectl create service externalname en --external-name=bar.com`
    const SVC_EXTNAME: &str = "\
        6b3873000a0d0a02763112075365727669636512530a1d0a02656e12001a0022002a003200380042005a090a03617070\
        1202656e122e12090a036170701202656e1a00220c45787465726e616c4e616d653a00420052076261722e636f6d5a00\
        600068001a020a001a002200";

    /// `kubectl create ingress i --rule=foo.com/bar=svc1:8080,tls=my-cert --class=nginx`
    /// `--default-backend=defsvc:http --annotation=a=b`
    const INGRESS: &str = "\
        6b3873000a1f0a146e6574776f726b696e672e6b38732e696f2f76311207496e67726573731281010a190a016912001a\
        0022002a0032003800420062060a016112016212600a1422120a0664656673766312080a0468747470100012120a0766\
        6f6f2e636f6d12076d792d636572741a2d0a07666f6f2e636f6d12220a200a1e0a042f626172120f220d0a0473766331\
        12050a0010903f1a05457861637422056e67696e781a020a001a002200";

    /// `kubectl create ingress ip --rule=foo.com/path*=svc2:http`
    const INGRESS_PREFIX: &str = "\
        6b3873000a1f0a146e6574776f726b696e672e6b38732e696f2f76311207496e6772657373124e0a120a02697012001a\
        0022002a0032003800420012341a320a07666f6f2e636f6d12270a250a230a052f70617468121222100a047376633212\
        080a046874747010001a065072656669781a020a001a002200";

    /// `kubectl create pdb p --selector=app=x --min-available=1`
    const PDB: &str = "\
        6b3873000a200a09706f6c6963792f76311213506f6444697372757074696f6e42756467657412350a110a017012001a\
        0022002a0032003800420012140a06080010011a00120a0a080a036170701201781a0a080018002000280030001a0022\
        00";

    /// `kubectl create pdb p2 --selector=app=y --max-unavailable=50%`
    const PDB_PCT: &str = "\
        6b3873000a200a09706f6c6963792f76311213506f6444697372757074696f6e42756467657412390a120a0270321200\
        1a0022002a003200380042001217120a0a080a036170701201791a09080110001a033530251a0a080018002000280030\
        001a002200";

    /// `kubectl create quota q --hard=pods=10,cpu=1,memory=1Gi --scopes=BestEffort`
    const QUOTA: &str = "\
        6b3873000a130a027631120d5265736f7572636551756f7461124e0a110a017112001a0022002a003200380042001237\
        0a0a0a0363707512030a01310a0f0a066d656d6f727912050a033147690a0c0a04706f647312040a023130120a426573\
        744566666f72741a001a002200";

    /// `kubectl create role r --verb=get --resource=pods`
    const ROLE: &str = "\
        6b3873000a240a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f76311204526f6c6512220a110a01\
        7212001a0022002a00320038004200120d0a0367657412001a04706f64731a002200";

    /// `kubectl create rolebinding rb --role=r --user=u`
    const ROLEBINDING: &str = "\
        6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b526f6c6542696e64696e\
        6712620a120a02726212001a0022002a0032003800420012260a04557365721219726261632e617574686f72697a6174\
        696f6e2e6b38732e696f1a017522001a240a19726261632e617574686f72697a6174696f6e2e6b38732e696f1204526f\
        6c651a01721a002200";

    /// `kubectl create clusterrole cr --verb=get,list --resource=pods,deployments.apps --resource-name=x`
    const CLUSTERROLE: &str = "\
        6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b436c7573746572526f6c\
        65124f0a120a02637212001a0022002a0032003800420012160a036765740a046c69737412001a04706f647322017812\
        210a036765740a046c6973741204617070731a0b6465706c6f796d656e74732201781a002200";

    /// `kubectl create clusterrole cra --aggregation-rule=rbac.example.com/aggregate=true`
    const CLUSTERROLE_AGG: &str = "\
        6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b436c7573746572526f6c\
        65123d0a130a0363726112001a0022002a003200380042001a260a240a220a1a726261632e6578616d706c652e636f6d\
        2f6167677265676174651204747275651a002200";

    /// `kubectl create clusterrole cru --verb=get --non-resource-url=/logs/*`
    const CLUSTERROLE_URL: &str = "\
        6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b436c7573746572526f6c\
        6512250a130a0363727512001a0022002a00320038004200120e0a036765742a072f6c6f67732f2a1a002200";

    /// `kubectl create clusterrolebinding crb --clusterrole=cr --user=u --group=g --serviceaccount=default:sa1`
    const CLUSTERROLEBINDING: &str = "\
        6b3873000a320a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f76311212436c7573746572526f6c\
        6542696e64696e6712b6010a130a0363726212001a0022002a0032003800420012260a04557365721219726261632e61\
        7574686f72697a6174696f6e2e6b38732e696f1a0175220012270a0547726f75701219726261632e617574686f72697a\
        6174696f6e2e6b38732e696f1a0167220012200a0e536572766963654163636f756e7412001a03736131220764656661\
        756c741a2c0a19726261632e617574686f72697a6174696f6e2e6b38732e696f120b436c7573746572526f6c651a0263\
        721a002200";

    /// `kubectl create priorityclass pc --value=100`
    const PRIORITYCLASS: &str = "\
        6b3873000a250a147363686564756c696e672e6b38732e696f2f7631120d5072696f72697479436c61737312300a120a\
        02706312001a0022002a003200380042001064180022002a14507265656d70744c6f7765725072696f726974791a0022\
        00";

    /// `kubectl create token default`
    const TOKEN: &str = "\
        6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f6b656e52657175657374121a\
        0a100a0012001a0022002a0032003800420012001a040a0012001a002200";

    /// `kubectl create token sa1 --audience=api --duration=10m`
    const TOKEN_AUD: &str = "\
        6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f6b656e526571756573741222\
        0a100a0012001a0022002a0032003800420012080a0361706920d8041a040a0012001a002200";

    /// `kubectl auth can-i get pods`
    const CANI: &str = "\
        6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a65637441636365\
        7373526576696577123c0a100a0012001a0022002a00320038004200121e0a1c0a0764656661756c7412036765741a00\
        22002a04706f647332003a001a08080012001a0020001a002200";

    /// `kubectl auth can-i update deployments.apps --subresource=scale -n kube-system`
    const CANI_SUB: &str = "\
        6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a65637441636365\
        737352657669657712530a100a0012001a0022002a0032003800420012350a330a0b6b7562652d73797374656d120675\
        70646174651a046170707322002a0b6465706c6f796d656e747332057363616c653a001a08080012001a0020001a0022\
        00";

    /// `kubectl auth can-i get /logs`
    const CANI_URL: &str = "\
        6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c665375626a65637441636365\
        7373526576696577122c0a100a0012001a0022002a00320038004200120e120c0a052f6c6f677312036765741a080800\
        12001a0020001a002200";

    /// `kubectl auth can-i --list -n default`
    const CANI_LIST: &str = "\
        6b3873000a310a17617574686f72697a6174696f6e2e6b38732e696f2f7631121653656c665375626a65637452756c65\
        7352657669657712230a100a0012001a0022002a0032003800420012090a0764656661756c741a04180022001a002200";

    /// `kubectl auth whoami`
    const WHOAMI: &str = "\
        6b3873000a2d0a1861757468656e7469636174696f6e2e6b38732e696f2f7631121153656c665375626a656374526576\
        696577121a0a100a0012001a0022002a0032003800420012060a040a0012001a002200";

    /// Every captured body, for the robustness tests.
    const FIXTURES: &[&str] = &[
        CONFIGMAP,
        CONFIGMAP_BIN,
        SECRET_GENERIC,
        SECRET_TLS,
        SECRET_DOCKER,
        NAMESPACE,
        SERVICEACCOUNT,
        DEPLOYMENT,
        DEPLOYMENT_ZERO,
        JOB,
        JOB_NOCMD,
        CRONJOB,
        SVC_CLUSTERIP,
        SVC_HEADLESS,
        SVC_NODEPORT,
        SVC_LB,
        SVC_EXTNAME,
        INGRESS,
        INGRESS_PREFIX,
        PDB,
        PDB_PCT,
        QUOTA,
        ROLE,
        ROLEBINDING,
        CLUSTERROLE,
        CLUSTERROLE_AGG,
        CLUSTERROLE_URL,
        CLUSTERROLEBINDING,
        PRIORITYCLASS,
        TOKEN,
        TOKEN_AUD,
        CANI,
        CANI_SUB,
        CANI_URL,
        CANI_LIST,
        WHOAMI,
    ];

    #[test]
    fn decodes_configmap() {
        let expected = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cm"},
            "data": {"a": "b", "empty": "", "small.txt": "line1\nline2\n"},
        });
        assert_eq!(decode(&unhex(CONFIGMAP)), Ok(expected));
    }

    #[test]
    fn decodes_configmap_bin() {
        let expected = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cmb"},
            "binaryData": {"bin.dat": "AAH//g=="},
        });
        assert_eq!(decode(&unhex(CONFIGMAP_BIN)), Ok(expected));
    }

    #[test]
    fn decodes_secret_generic() {
        let expected = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s"},
            "data": {"k": "dg=="},
            "type": "Opaque",
        });
        assert_eq!(decode(&unhex(SECRET_GENERIC)), Ok(expected));
    }

    #[test]
    fn decodes_secret_tls() {
        let expected = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "t"},
            "data": {
                "tls.crt": concat!(
                    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJlakNDQVIrZ0F3SUJBZ0lVTmZRa3RrWjh0UGMxNHAveVk5OVo3Zy8r",
                    "T0dBd0NnWUlLb1pJemowRUF3SXcKRWpFUU1BNEdBMVVFQXd3SFptOXZMbU52YlRBZUZ3MHlOakV4TWpJd09ERXlNalZhRncw",
                    "ek5qRXhNVGt3T0RFeQpNalZhTUJJeEVEQU9CZ05WQkFNTUIyWnZieTVqYjIwd1dUQVRCZ2NxaGtqT1BRSUJCZ2dxaGtqT1BR",
                    "TUJCd05DCkFBUkcxQzNWVXRRR2NGQ0F4cjBSaE1xdys2aWZCNVdnaUJyNnRrYldYN1l1VjdxdnJGaGVsb2ZJbDFlNS9Ta08K",
                    "empyYnMxbHR0dkVwakNMeXd1TmFLNDdrbzFNd1VUQWRCZ05WSFE0RUZnUVVsSHlMeGZOQm03L2d4OVAyUTd5OQpCYXVIZUUw",
                    "d0h3WURWUjBqQkJnd0ZvQVVsSHlMeGZOQm03L2d4OVAyUTd5OUJhdUhlRTB3RHdZRFZSMFRBUUgvCkJBVXdBd0VCL3pBS0Jn",
                    "Z3Foa2pPUFFRREFnTkpBREJHQWlFQTIyRFpFcEhLTFowa0RiOVRraVFwK3oyckd6R3cKWmpEYXpyTEJXRnJqd3VNQ0lRQ3BQ",
                    "RDh2eFYwOWNIS01BWDQyY1lCWE52Yk9JY3YrTzlBZVhOcjFJeGNTTmc9PQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==",
                ),
                "tls.key": concat!(
                    "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5QWdFR0NDcUdTTTQ5QXdFSEJHMHdhd0lC",
                    "QVFRZ2ZQdzZka3JTQzY4ZW02NnYKVXVBM0JZbXhiR0dhaWplQVBGNUZ1TmNUSFIraFJBTkNBQVJHMUMzVlV0UUdjRkNBeHIw",
                    "UmhNcXcrNmlmQjVXZwppQnI2dGtiV1g3WXVWN3F2ckZoZWxvZklsMWU1L1NrT3pqcmJzMWx0dHZFcGpDTHl3dU5hSzQ3awot",
                    "LS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg==",
                ),
            },
            "type": "kubernetes.io/tls",
        });
        assert_eq!(decode(&unhex(SECRET_TLS)), Ok(expected));
    }

    #[test]
    fn decodes_secret_docker() {
        let expected = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "d"},
            "data": {
                ".dockerconfigjson": concat!(
                    "eyJhdXRocyI6eyJyZWcuZXhhbXBsZS5jb20iOnsidXNlcm5hbWUiOiJ1IiwicGFzc3dvcmQiOiJwIiwiZW1haWwiOiJlQHgu",
                    "Y29tIiwiYXV0aCI6ImRUcHcifX19",
                ),
            },
            "type": "kubernetes.io/dockerconfigjson",
        });
        assert_eq!(decode(&unhex(SECRET_DOCKER)), Ok(expected));
    }

    #[test]
    fn decodes_namespace() {
        let expected = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "ns1"},
            "spec": {},
            "status": {},
        });
        assert_eq!(decode(&unhex(NAMESPACE)), Ok(expected));
    }

    #[test]
    fn decodes_serviceaccount() {
        let expected = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa1"}});
        assert_eq!(decode(&unhex(SERVICEACCOUNT)), Ok(expected));
    }

    #[test]
    fn decodes_deployment() {
        let expected = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}], "resources": {}},
                        ],
                    },
                },
                "strategy": {},
            },
            "status": {},
        });
        assert_eq!(decode(&unhex(DEPLOYMENT)), Ok(expected));
    }

    #[test]
    fn decodes_deployment_zero() {
        let expected = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web0", "labels": {"app": "web0"}},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "web0"}},
                "template": {
                    "metadata": {"labels": {"app": "web0"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]},
                },
                "strategy": {},
            },
            "status": {},
        });
        assert_eq!(decode(&unhex(DEPLOYMENT_ZERO)), Ok(expected));
    }

    #[test]
    fn decodes_job() {
        let expected = json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "j"},
            "spec": {
                "template": {
                    "metadata": {},
                    "spec": {
                        "containers": [{"name": "j", "image": "busybox", "command": ["echo", "hi"], "resources": {}}],
                        "restartPolicy": "Never",
                    },
                },
            },
            "status": {},
        });
        assert_eq!(decode(&unhex(JOB)), Ok(expected));
    }

    #[test]
    fn decodes_job_nocmd() {
        let expected = json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "j2"},
            "spec": {
                "template": {
                    "metadata": {},
                    "spec": {
                        "containers": [{"name": "j2", "image": "busybox", "resources": {}}],
                        "restartPolicy": "Never",
                    },
                },
            },
            "status": {},
        });
        assert_eq!(decode(&unhex(JOB_NOCMD)), Ok(expected));
    }

    #[test]
    fn decodes_cronjob() {
        let expected = json!({
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "c"},
            "spec": {
                "schedule": "*/1 * * * *",
                "jobTemplate": {
                    "metadata": {"name": "c"},
                    "spec": {
                        "template": {
                            "metadata": {},
                            "spec": {
                                "containers": [{"name": "c", "image": "busybox", "command": ["date"], "resources": {}}],
                                "restartPolicy": "OnFailure",
                            },
                        },
                    },
                },
            },
            "status": {},
        });
        assert_eq!(decode(&unhex(CRONJOB)), Ok(expected));
    }

    #[test]
    fn decodes_svc_clusterip() {
        let expected = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "my-cs", "labels": {"app": "my-cs"}},
            "spec": {
                "ports": [{"name": "5678-8080", "protocol": "TCP", "port": 5678, "targetPort": 8080}],
                "selector": {"app": "my-cs"},
                "type": "ClusterIP",
            },
            "status": {"loadBalancer": {}},
        });
        assert_eq!(decode(&unhex(SVC_CLUSTERIP)), Ok(expected));
    }

    #[test]
    fn decodes_svc_headless() {
        let expected = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "hl", "labels": {"app": "hl"}},
            "spec": {"selector": {"app": "hl"}, "clusterIP": "None", "type": "ClusterIP"},
            "status": {"loadBalancer": {}},
        });
        assert_eq!(decode(&unhex(SVC_HEADLESS)), Ok(expected));
    }

    #[test]
    fn decodes_svc_nodeport() {
        let expected = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "n", "labels": {"app": "n"}},
            "spec": {
                "ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080}],
                "selector": {"app": "n"},
                "type": "NodePort",
            },
            "status": {"loadBalancer": {}},
        });
        assert_eq!(decode(&unhex(SVC_NODEPORT)), Ok(expected));
    }

    #[test]
    fn decodes_svc_lb() {
        let expected = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "lb", "labels": {"app": "lb"}},
            "spec": {
                "ports": [{"name": "443-8443", "protocol": "TCP", "port": 443, "targetPort": 8443}],
                "selector": {"app": "lb"},
                "type": "LoadBalancer",
            },
            "status": {"loadBalancer": {}},
        });
        assert_eq!(decode(&unhex(SVC_LB)), Ok(expected));
    }

    #[test]
    fn decodes_svc_extname() {
        let expected = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "en", "labels": {"app": "en"}},
            "spec": {"selector": {"app": "en"}, "type": "ExternalName", "externalName": "bar.com"},
            "status": {"loadBalancer": {}},
        });
        assert_eq!(decode(&unhex(SVC_EXTNAME)), Ok(expected));
    }

    #[test]
    fn decodes_ingress() {
        let expected = json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "i", "annotations": {"a": "b"}},
            "spec": {
                "ingressClassName": "nginx",
                "defaultBackend": {"service": {"name": "defsvc", "port": {"name": "http"}}},
                "tls": [{"hosts": ["foo.com"], "secretName": "my-cert"}],
                "rules": [
                    {
                        "host": "foo.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/bar",
                                    "pathType": "Exact",
                                    "backend": {"service": {"name": "svc1", "port": {"number": 8080}}},
                                },
                            ],
                        },
                    },
                ],
            },
            "status": {"loadBalancer": {}},
        });
        assert_eq!(decode(&unhex(INGRESS)), Ok(expected));
    }

    #[test]
    fn decodes_ingress_prefix() {
        let expected = json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "ip"},
            "spec": {
                "rules": [
                    {
                        "host": "foo.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/path",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "svc2", "port": {"name": "http"}}},
                                },
                            ],
                        },
                    },
                ],
            },
            "status": {"loadBalancer": {}},
        });
        assert_eq!(decode(&unhex(INGRESS_PREFIX)), Ok(expected));
    }

    #[test]
    fn decodes_pdb() {
        let expected = json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "p"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "x"}}},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0},
        });
        assert_eq!(decode(&unhex(PDB)), Ok(expected));
    }

    #[test]
    fn decodes_pdb_pct() {
        let expected = json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "p2"},
            "spec": {"selector": {"matchLabels": {"app": "y"}}, "maxUnavailable": "50%"},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0},
        });
        assert_eq!(decode(&unhex(PDB_PCT)), Ok(expected));
    }

    #[test]
    fn decodes_quota() {
        let expected = json!({
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "q"},
            "spec": {"hard": {"cpu": "1", "memory": "1Gi", "pods": "10"}, "scopes": ["BestEffort"]},
            "status": {},
        });
        assert_eq!(decode(&unhex(QUOTA)), Ok(expected));
    }

    #[test]
    fn decodes_role() {
        let expected = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "r"},
            "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}],
        });
        assert_eq!(decode(&unhex(ROLE)), Ok(expected));
    }

    #[test]
    fn decodes_rolebinding() {
        let expected = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "rb"},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "u"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        });
        assert_eq!(decode(&unhex(ROLEBINDING)), Ok(expected));
    }

    #[test]
    fn decodes_clusterrole() {
        let expected = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "cr"},
            "rules": [
                {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["x"]},
                {"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["x"]},
            ],
        });
        assert_eq!(decode(&unhex(CLUSTERROLE)), Ok(expected));
    }

    #[test]
    fn decodes_clusterrole_agg() {
        let expected = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "cra"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate": "true"}}]},
        });
        assert_eq!(decode(&unhex(CLUSTERROLE_AGG)), Ok(expected));
    }

    #[test]
    fn decodes_clusterrole_url() {
        let expected = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "cru"},
            "rules": [{"verbs": ["get"], "nonResourceURLs": ["/logs/*"]}],
        });
        assert_eq!(decode(&unhex(CLUSTERROLE_URL)), Ok(expected));
    }

    #[test]
    fn decodes_clusterrolebinding() {
        let expected = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "crb"},
            "subjects": [
                {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "u"},
                {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "g"},
                {"kind": "ServiceAccount", "name": "sa1", "namespace": "default"},
            ],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cr"},
        });
        assert_eq!(decode(&unhex(CLUSTERROLEBINDING)), Ok(expected));
    }

    #[test]
    fn decodes_priorityclass() {
        let expected = json!({
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "pc"},
            "value": 100,
            "preemptionPolicy": "PreemptLowerPriority",
        });
        assert_eq!(decode(&unhex(PRIORITYCLASS)), Ok(expected));
    }

    #[test]
    fn decodes_token() {
        let expected = json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "metadata": {},
            "spec": {},
            "status": {"token": ""},
        });
        assert_eq!(decode(&unhex(TOKEN)), Ok(expected));
    }

    #[test]
    fn decodes_token_aud() {
        let expected = json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "metadata": {},
            "spec": {"audiences": ["api"], "expirationSeconds": 600},
            "status": {"token": ""},
        });
        assert_eq!(decode(&unhex(TOKEN_AUD)), Ok(expected));
    }

    #[test]
    fn decodes_cani() {
        let expected = json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "metadata": {},
            "spec": {"resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}},
            "status": {"allowed": false},
        });
        assert_eq!(decode(&unhex(CANI)), Ok(expected));
    }

    #[test]
    fn decodes_cani_sub() {
        let expected = json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "metadata": {},
            "spec": {
                "resourceAttributes": {
                    "namespace": "kube-system",
                    "verb": "update",
                    "group": "apps",
                    "resource": "deployments",
                    "subresource": "scale",
                },
            },
            "status": {"allowed": false},
        });
        assert_eq!(decode(&unhex(CANI_SUB)), Ok(expected));
    }

    #[test]
    fn decodes_cani_url() {
        let expected = json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "metadata": {},
            "spec": {"nonResourceAttributes": {"path": "/logs", "verb": "get"}},
            "status": {"allowed": false},
        });
        assert_eq!(decode(&unhex(CANI_URL)), Ok(expected));
    }

    #[test]
    fn decodes_cani_list() {
        let expected = json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectRulesReview",
            "metadata": {},
            "spec": {"namespace": "default"},
            "status": {"incomplete": false},
        });
        assert_eq!(decode(&unhex(CANI_LIST)), Ok(expected));
    }

    #[test]
    fn decodes_whoami() {
        let expected = json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "SelfSubjectReview",
            "metadata": {},
            "status": {"userInfo": {}},
        });
        assert_eq!(decode(&unhex(WHOAMI)), Ok(expected));
    }
}

//! The merge facts of the built-in types that k8s-openapi's schemas leave out:
//! strategic merge patch strategies and merge keys
//! (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`) and
//! server-side apply list and map types (`x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`), as kube-apiserver
//! v1.33 publishes them for the kinds served here.
//!
//! kubectl computes client-side apply patches from these, and the patch
//! engines read them back through [`super::SchemaNode`].

use serde_json::{json, Map, Value};

/// How server-side apply treats one list.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ListKind {
    Atomic,
    Set,
    /// Keyed by these item fields.
    Map(&'static [&'static str]),
}

/// The merge facts of one property of a definition.
#[derive(Clone, Copy, Debug)]
struct Fact {
    property: &'static str,
    /// `merge`, `retainKeys` or `merge,retainKeys`.
    patch_strategy: Option<&'static str>,
    merge_key: Option<&'static str>,
    list: Option<ListKind>,
    /// `x-kubernetes-map-type` of a map-valued property.
    map_atomic: bool,
}

const fn fact(property: &'static str) -> Fact {
    Fact { property, patch_strategy: None, merge_key: None, list: None, map_atomic: false }
}

/// A list merged by key in both strategic merge patch (on the first key) and
/// server-side apply (on all keys).
const fn merge_map(property: &'static str, keys: &'static [&'static str]) -> Fact {
    Fact { patch_strategy: Some("merge"), merge_key: Some(keys[0]), list: Some(ListKind::Map(keys)), ..fact(property) }
}

/// As [`merge_map`], and a patch also clears the fields of a replaced item
/// that it does not mention (`retainKeys`, for one-of items like volumes).
const fn merge_retain_map(property: &'static str, keys: &'static [&'static str]) -> Fact {
    Fact { patch_strategy: Some("merge,retainKeys"), ..merge_map(property, keys) }
}

/// Merged by key in strategic merge patch but atomic for server-side apply.
const fn merge_atomic(property: &'static str, key: &'static str) -> Fact {
    Fact { patch_strategy: Some("merge"), merge_key: Some(key), list: Some(ListKind::Atomic), ..fact(property) }
}

/// Merged by key in strategic merge patch; server-side apply derives the
/// same key from the patch strategy.
const fn merge_by(property: &'static str, key: &'static str) -> Fact {
    Fact { patch_strategy: Some("merge"), merge_key: Some(key), ..fact(property) }
}

/// A set of scalars in both strategic merge patch and server-side apply.
const fn merge_set(property: &'static str) -> Fact {
    Fact { patch_strategy: Some("merge"), list: Some(ListKind::Set), ..fact(property) }
}

/// Keyed for server-side apply only.
const fn map(property: &'static str, keys: &'static [&'static str]) -> Fact {
    Fact { list: Some(ListKind::Map(keys)), ..fact(property) }
}

/// A set for server-side apply only.
const fn set(property: &'static str) -> Fact {
    Fact { list: Some(ListKind::Set), ..fact(property) }
}

/// Replaced as a whole.
const fn atomic(property: &'static str) -> Fact {
    Fact { list: Some(ListKind::Atomic), ..fact(property) }
}

/// A struct-valued field whose unmentioned fields a patch clears.
const fn retain_keys(property: &'static str) -> Fact {
    Fact { patch_strategy: Some("retainKeys"), ..fact(property) }
}

/// A string map replaced as a whole.
const fn atomic_map(property: &'static str) -> Fact {
    Fact { map_atomic: true, ..fact(property) }
}

const NAME: &[&str] = &["name"];
const TYPE: &[&str] = &["type"];
const IP: &[&str] = &["ip"];
const MOUNT_PATH: &[&str] = &["mountPath"];
const CONTAINER_PORT: &[&str] = &["containerPort", "protocol"];

/// The lists (and the few other fields) of one container-like definition.
const CONTAINER: &[Fact] = &[
    atomic("args"),
    atomic("command"),
    merge_map("env", NAME),
    atomic("envFrom"),
    merge_map("ports", CONTAINER_PORT),
    atomic("resizePolicy"),
    merge_map("volumeDevices", &["devicePath"]),
    merge_map("volumeMounts", MOUNT_PATH),
];

/// Facts by definition. Lists not named here are atomic, as for any list
/// without annotations.
const FACTS: &[(&str, &[Fact])] = &[
    // apps/v1
    ("io.k8s.api.apps.v1.DaemonSetStatus", &[merge_map("conditions", TYPE)]),
    ("io.k8s.api.apps.v1.DeploymentSpec", &[retain_keys("strategy")]),
    ("io.k8s.api.apps.v1.DeploymentStatus", &[merge_map("conditions", TYPE)]),
    ("io.k8s.api.apps.v1.ReplicaSetStatus", &[merge_map("conditions", TYPE)]),
    ("io.k8s.api.apps.v1.StatefulSetSpec", &[atomic("volumeClaimTemplates")]),
    ("io.k8s.api.apps.v1.StatefulSetStatus", &[merge_map("conditions", TYPE)]),
    // batch/v1
    ("io.k8s.api.batch.v1.CronJobStatus", &[atomic("active")]),
    ("io.k8s.api.batch.v1.JobStatus", &[merge_atomic("conditions", "type")]),
    ("io.k8s.api.batch.v1.PodFailurePolicy", &[atomic("rules")]),
    ("io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement", &[set("values")]),
    ("io.k8s.api.batch.v1.PodFailurePolicyRule", &[atomic("onPodConditions")]),
    ("io.k8s.api.batch.v1.SuccessPolicy", &[atomic("rules")]),
    ("io.k8s.api.batch.v1.UncountedTerminatedPods", &[set("failed"), set("succeeded")]),
    // core/v1
    ("io.k8s.api.core.v1.Capabilities", &[atomic("add"), atomic("drop")]),
    ("io.k8s.api.core.v1.CephFSPersistentVolumeSource", &[atomic("monitors")]),
    ("io.k8s.api.core.v1.CephFSVolumeSource", &[atomic("monitors")]),
    ("io.k8s.api.core.v1.ConfigMapProjection", &[atomic("items")]),
    ("io.k8s.api.core.v1.ConfigMapVolumeSource", &[atomic("items")]),
    ("io.k8s.api.core.v1.Container", CONTAINER),
    (
        "io.k8s.api.core.v1.ContainerStatus",
        &[merge_map("allocatedResourcesStatus", NAME), merge_map("volumeMounts", MOUNT_PATH)],
    ),
    ("io.k8s.api.core.v1.ContainerImage", &[atomic("names")]),
    ("io.k8s.api.core.v1.DownwardAPIProjection", &[atomic("items")]),
    ("io.k8s.api.core.v1.DownwardAPIVolumeSource", &[atomic("items")]),
    ("io.k8s.api.core.v1.EndpointSubset", &[atomic("addresses"), atomic("notReadyAddresses"), atomic("ports")]),
    ("io.k8s.api.core.v1.Endpoints", &[atomic("subsets")]),
    ("io.k8s.api.core.v1.EphemeralContainer", CONTAINER),
    ("io.k8s.api.core.v1.ExecAction", &[atomic("command")]),
    ("io.k8s.api.core.v1.FCVolumeSource", &[atomic("targetWWNs"), atomic("wwids")]),
    ("io.k8s.api.core.v1.HTTPGetAction", &[atomic("httpHeaders")]),
    ("io.k8s.api.core.v1.HostAlias", &[atomic("hostnames")]),
    ("io.k8s.api.core.v1.ISCSIPersistentVolumeSource", &[atomic("portals")]),
    ("io.k8s.api.core.v1.ISCSIVolumeSource", &[atomic("portals")]),
    ("io.k8s.api.core.v1.LimitRangeSpec", &[atomic("limits")]),
    ("io.k8s.api.core.v1.LoadBalancerIngress", &[atomic("ports")]),
    ("io.k8s.api.core.v1.LoadBalancerStatus", &[atomic("ingress")]),
    ("io.k8s.api.core.v1.LinuxContainerUser", &[atomic("supplementalGroups")]),
    ("io.k8s.api.core.v1.NamespaceSpec", &[atomic("finalizers")]),
    ("io.k8s.api.core.v1.NamespaceStatus", &[merge_map("conditions", TYPE)]),
    ("io.k8s.api.core.v1.NodeAffinity", &[atomic("preferredDuringSchedulingIgnoredDuringExecution")]),
    ("io.k8s.api.core.v1.NodeSelector", &[atomic("nodeSelectorTerms")]),
    ("io.k8s.api.core.v1.NodeSelectorRequirement", &[atomic("values")]),
    ("io.k8s.api.core.v1.NodeSelectorTerm", &[atomic("matchExpressions"), atomic("matchFields")]),
    ("io.k8s.api.core.v1.NodeSpec", &[merge_set("podCIDRs"), atomic("taints")]),
    (
        "io.k8s.api.core.v1.NodeStatus",
        &[
            merge_map("addresses", TYPE),
            merge_map("conditions", TYPE),
            atomic("images"),
            atomic("runtimeHandlers"),
            atomic("volumesAttached"),
            atomic("volumesInUse"),
        ],
    ),
    ("io.k8s.api.core.v1.PersistentVolumeClaimSpec", &[atomic("accessModes")]),
    ("io.k8s.api.core.v1.PersistentVolumeClaimStatus", &[atomic("accessModes"), merge_map("conditions", TYPE)]),
    ("io.k8s.api.core.v1.PersistentVolumeSpec", &[atomic("accessModes"), atomic("mountOptions")]),
    (
        "io.k8s.api.core.v1.PodAffinity",
        &[
            atomic("preferredDuringSchedulingIgnoredDuringExecution"),
            atomic("requiredDuringSchedulingIgnoredDuringExecution"),
        ],
    ),
    (
        "io.k8s.api.core.v1.PodAffinityTerm",
        &[atomic("matchLabelKeys"), atomic("mismatchLabelKeys"), atomic("namespaces")],
    ),
    (
        "io.k8s.api.core.v1.PodAntiAffinity",
        &[
            atomic("preferredDuringSchedulingIgnoredDuringExecution"),
            atomic("requiredDuringSchedulingIgnoredDuringExecution"),
        ],
    ),
    ("io.k8s.api.core.v1.PodDNSConfig", &[atomic("nameservers"), atomic("options"), atomic("searches")]),
    ("io.k8s.api.core.v1.PodSecurityContext", &[atomic("supplementalGroups"), atomic("sysctls")]),
    (
        "io.k8s.api.core.v1.PodSpec",
        &[
            merge_map("containers", NAME),
            merge_map("ephemeralContainers", NAME),
            merge_map("hostAliases", IP),
            merge_map("imagePullSecrets", NAME),
            merge_map("initContainers", NAME),
            atomic_map("nodeSelector"),
            atomic("readinessGates"),
            merge_retain_map("resourceClaims", NAME),
            merge_map("schedulingGates", NAME),
            atomic("tolerations"),
            merge_map("topologySpreadConstraints", &["topologyKey", "whenUnsatisfiable"]),
            merge_retain_map("volumes", NAME),
        ],
    ),
    (
        "io.k8s.api.core.v1.PodStatus",
        &[
            merge_map("conditions", TYPE),
            atomic("containerStatuses"),
            atomic("ephemeralContainerStatuses"),
            merge_atomic("hostIPs", "ip"),
            atomic("initContainerStatuses"),
            merge_map("podIPs", IP),
            merge_retain_map("resourceClaimStatuses", NAME),
        ],
    ),
    ("io.k8s.api.core.v1.ProjectedVolumeSource", &[atomic("sources")]),
    ("io.k8s.api.core.v1.RBDPersistentVolumeSource", &[atomic("monitors")]),
    ("io.k8s.api.core.v1.RBDVolumeSource", &[atomic("monitors")]),
    ("io.k8s.api.core.v1.ReplicationControllerSpec", &[atomic_map("selector")]),
    ("io.k8s.api.core.v1.ReplicationControllerStatus", &[merge_map("conditions", TYPE)]),
    ("io.k8s.api.core.v1.ResourceQuotaSpec", &[atomic("scopes")]),
    ("io.k8s.api.core.v1.ResourceRequirements", &[map("claims", NAME)]),
    ("io.k8s.api.core.v1.ResourceStatus", &[map("resources", &["resourceID"])]),
    ("io.k8s.api.core.v1.ScopeSelector", &[atomic("matchExpressions")]),
    ("io.k8s.api.core.v1.ScopedResourceSelectorRequirement", &[atomic("values")]),
    ("io.k8s.api.core.v1.SecretProjection", &[atomic("items")]),
    ("io.k8s.api.core.v1.SecretVolumeSource", &[atomic("items")]),
    ("io.k8s.api.core.v1.ServiceAccount", &[atomic("imagePullSecrets"), merge_by("secrets", "name")]),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        &[
            atomic("clusterIPs"),
            atomic("externalIPs"),
            atomic("ipFamilies"),
            atomic("loadBalancerSourceRanges"),
            merge_map("ports", &["port", "protocol"]),
            atomic_map("selector"),
        ],
    ),
    ("io.k8s.api.core.v1.ServiceStatus", &[merge_map("conditions", TYPE)]),
    ("io.k8s.api.core.v1.TopologySelectorLabelRequirement", &[atomic("values")]),
    ("io.k8s.api.core.v1.TopologySelectorTerm", &[atomic("matchLabelExpressions")]),
    ("io.k8s.api.core.v1.TopologySpreadConstraint", &[atomic("matchLabelKeys")]),
    // discovery.k8s.io/v1
    ("io.k8s.api.discovery.v1.Endpoint", &[set("addresses")]),
    ("io.k8s.api.discovery.v1.EndpointHints", &[atomic("forNodes"), atomic("forZones")]),
    ("io.k8s.api.discovery.v1.EndpointSlice", &[atomic("endpoints"), atomic("ports")]),
    // networking.k8s.io/v1
    ("io.k8s.api.networking.v1.HTTPIngressRuleValue", &[atomic("paths")]),
    ("io.k8s.api.networking.v1.IPBlock", &[atomic("except")]),
    ("io.k8s.api.networking.v1.IngressLoadBalancerIngress", &[atomic("ports")]),
    ("io.k8s.api.networking.v1.IngressLoadBalancerStatus", &[atomic("ingress")]),
    ("io.k8s.api.networking.v1.IngressSpec", &[atomic("rules"), atomic("tls")]),
    ("io.k8s.api.networking.v1.IngressTLS", &[atomic("hosts")]),
    ("io.k8s.api.networking.v1.NetworkPolicyEgressRule", &[atomic("ports"), atomic("to")]),
    ("io.k8s.api.networking.v1.NetworkPolicyIngressRule", &[atomic("from"), atomic("ports")]),
    ("io.k8s.api.networking.v1.NetworkPolicySpec", &[atomic("egress"), atomic("ingress"), atomic("policyTypes")]),
    // policy/v1
    ("io.k8s.api.policy.v1.PodDisruptionBudgetStatus", &[merge_map("conditions", TYPE)]),
    // storage.k8s.io/v1
    ("io.k8s.api.storage.v1.StorageClass", &[atomic("allowedTopologies"), atomic("mountOptions")]),
    // apiextensions.k8s.io/v1
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames",
        &[atomic("categories"), atomic("shortNames")],
    ),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec", &[atomic("versions")]),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus",
        &[map("conditions", TYPE), atomic("storedVersions")],
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion",
        &[atomic("additionalPrinterColumns"), atomic("selectableFields")],
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
        &[
            atomic("allOf"),
            atomic("anyOf"),
            atomic("enum"),
            atomic("oneOf"),
            atomic("required"),
            atomic("x-kubernetes-list-map-keys"),
            merge_map("x-kubernetes-validations", &["rule"]),
        ],
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.WebhookConversion",
        &[atomic("conversionReviewVersions")],
    ),
    // meta/v1
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup", &[atomic("serverAddressByClientCIDRs"), atomic("versions")]),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList", &[atomic("groups")]),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIResource",
        &[atomic("categories"), atomic("shortNames"), atomic("verbs")],
    ),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList", &[atomic("resources")]),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions", &[atomic("serverAddressByClientCIDRs"), atomic("versions")]),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", &[atomic("dryRun")]),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", &[atomic("matchExpressions")]),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement", &[atomic("values")]),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        &[merge_set("finalizers"), atomic("managedFields"), merge_map("ownerReferences", &["uid"])],
    ),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails", &[atomic("causes")]),
];

/// Definitions that are replaced as a whole (`x-kubernetes-map-type: atomic`
/// on the definition): references and selectors.
const ATOMIC_STRUCTS: &[&str] = &[
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.NodeSelectorTerm",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.ResourceFieldSelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.TopologySelectorTerm",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
];

/// Adds every fact of the table to the definitions it names. Facts about
/// definitions or properties that are absent are skipped (a test checks that
/// none are).
pub(super) fn apply(definitions: &mut Map<String, Value>) {
    for (name, facts) in FACTS {
        let Some(properties) = properties_mut(definitions, name) else { continue };
        for fact in *facts {
            if let Some(Value::Object(property)) = properties.get_mut(fact.property) {
                annotate(property, fact);
            }
        }
    }
    for name in ATOMIC_STRUCTS {
        if let Some(Value::Object(definition)) = definitions.get_mut(*name) {
            definition.insert("x-kubernetes-map-type".into(), json!("atomic"));
        }
    }
}

fn properties_mut<'a>(definitions: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Map<String, Value>> {
    definitions.get_mut(name)?.get_mut("properties")?.as_object_mut()
}

/// Writes one fact's extensions, in the key order kube-apiserver uses.
fn annotate(property: &mut Map<String, Value>, fact: &Fact) {
    if let Some(ListKind::Map(keys)) = fact.list {
        property.insert("x-kubernetes-list-map-keys".into(), json!(keys));
    }
    if let Some(kind) = fact.list {
        let name = match kind {
            ListKind::Atomic => "atomic",
            ListKind::Set => "set",
            ListKind::Map(_) => "map",
        };
        property.insert("x-kubernetes-list-type".into(), json!(name));
    }
    if fact.map_atomic {
        property.insert("x-kubernetes-map-type".into(), json!("atomic"));
    }
    if let Some(key) = fact.merge_key {
        property.insert("x-kubernetes-patch-merge-key".into(), json!(key));
    }
    if let Some(strategy) = fact.patch_strategy {
        property.insert("x-kubernetes-patch-strategy".into(), json!(strategy));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::definitions;

    #[test]
    fn every_fact_names_an_existing_property() {
        let defs = definitions();
        for (name, facts) in FACTS {
            let definition = defs.get(*name).unwrap_or_else(|| panic!("no definition {name}"));
            for fact in *facts {
                assert!(definition["properties"].get(fact.property).is_some(), "{name} has no {}", fact.property);
            }
        }
        for name in ATOMIC_STRUCTS {
            assert!(defs.contains_key(*name), "no definition {name}");
        }
    }

    #[test]
    fn lists_with_facts_are_arrays_and_maps_are_objects() {
        let defs = definitions();
        for (name, facts) in FACTS {
            for fact in *facts {
                let property = &defs[*name]["properties"][fact.property];
                if fact.list.is_some() {
                    assert_eq!(property["type"], "array", "{name}.{}", fact.property);
                }
                if fact.map_atomic {
                    assert_eq!(property["type"], "object", "{name}.{}", fact.property);
                }
            }
        }
    }

    #[test]
    fn container_lists_carry_strategic_merge_and_apply_facts() {
        let containers = &definitions()["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-list-type"], "map");
        assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]));
        let ports = &definitions()["io.k8s.api.core.v1.Container"]["properties"]["ports"];
        assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
        assert_eq!(ports["x-kubernetes-list-map-keys"], json!(["containerPort", "protocol"]));
    }

    #[test]
    fn retain_keys_on_struct_fields_and_volumes() {
        let defs = definitions();
        let strategy = &defs["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
        assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
        assert!(strategy.get("$ref").is_some(), "the extension sits beside the reference");
        let volumes = &defs["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"];
        assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
    }

    #[test]
    fn metadata_lists() {
        let meta = &definitions()["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"];
        assert_eq!(meta["finalizers"]["x-kubernetes-list-type"], "set");
        assert_eq!(meta["finalizers"]["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(meta["ownerReferences"]["x-kubernetes-patch-merge-key"], "uid");
        assert_eq!(meta["managedFields"]["x-kubernetes-list-type"], "atomic");
    }

    #[test]
    fn every_status_conditions_list_merges_on_type() {
        for (name, definition) in definitions() {
            let Some(conditions) = definition.pointer("/properties/conditions") else { continue };
            if !name.ends_with("Status") || conditions["type"] != "array" {
                continue;
            }
            let by_type = conditions["x-kubernetes-patch-merge-key"] == "type"
                || conditions["x-kubernetes-list-map-keys"] == json!(["type"]);
            assert!(by_type, "{name}.conditions");
        }
    }

    #[test]
    fn atomic_structs_are_marked() {
        let selector = &definitions()["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"];
        assert_eq!(selector["x-kubernetes-map-type"], "atomic");
    }
}

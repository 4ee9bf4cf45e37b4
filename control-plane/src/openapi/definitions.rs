//! The definitions of the built-in kinds, generated once from k8s-openapi's
//! `JsonSchema` impls and named, tagged and annotated as kube-apiserver
//! publishes them.

use super::{definition_ref, extensions, ref_target, Gvk};
use crate::registry;
use k8s_openapi::api::storage::v1 as storage;
use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, coordination::v1 as coordination};
use k8s_openapi::api::{autoscaling::v1 as autoscaling, core::v1 as core, discovery::v1 as discovery};
use k8s_openapi::api::{events::v1 as events, networking::v1 as networking, policy::v1 as policy};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// Adds one type's schema (and all it reaches) to a generator.
type AddSchema = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// The k8s-openapi type of every built-in kind, by group, version and kind.
const KINDS: &[(&str, &str, &str, AddSchema)] = &[
    ("", "v1", "ConfigMap", schema_of::<core::ConfigMap>),
    ("", "v1", "Endpoints", schema_of::<core::Endpoints>),
    ("", "v1", "Event", schema_of::<core::Event>),
    ("", "v1", "LimitRange", schema_of::<core::LimitRange>),
    ("", "v1", "Namespace", schema_of::<core::Namespace>),
    ("", "v1", "Node", schema_of::<core::Node>),
    ("", "v1", "PersistentVolume", schema_of::<core::PersistentVolume>),
    ("", "v1", "PersistentVolumeClaim", schema_of::<core::PersistentVolumeClaim>),
    ("", "v1", "Pod", schema_of::<core::Pod>),
    ("", "v1", "PodTemplate", schema_of::<core::PodTemplate>),
    ("", "v1", "ReplicationController", schema_of::<core::ReplicationController>),
    ("", "v1", "ResourceQuota", schema_of::<core::ResourceQuota>),
    ("", "v1", "Secret", schema_of::<core::Secret>),
    ("", "v1", "Service", schema_of::<core::Service>),
    ("", "v1", "ServiceAccount", schema_of::<core::ServiceAccount>),
    ("apps", "v1", "ControllerRevision", schema_of::<apps::ControllerRevision>),
    ("apps", "v1", "DaemonSet", schema_of::<apps::DaemonSet>),
    ("apps", "v1", "Deployment", schema_of::<apps::Deployment>),
    ("apps", "v1", "ReplicaSet", schema_of::<apps::ReplicaSet>),
    ("apps", "v1", "StatefulSet", schema_of::<apps::StatefulSet>),
    ("batch", "v1", "CronJob", schema_of::<batch::CronJob>),
    ("batch", "v1", "Job", schema_of::<batch::Job>),
    ("networking.k8s.io", "v1", "Ingress", schema_of::<networking::Ingress>),
    ("networking.k8s.io", "v1", "IngressClass", schema_of::<networking::IngressClass>),
    ("networking.k8s.io", "v1", "NetworkPolicy", schema_of::<networking::NetworkPolicy>),
    ("discovery.k8s.io", "v1", "EndpointSlice", schema_of::<discovery::EndpointSlice>),
    ("events.k8s.io", "v1", "Event", schema_of::<events::Event>),
    ("coordination.k8s.io", "v1", "Lease", schema_of::<coordination::Lease>),
    ("storage.k8s.io", "v1", "StorageClass", schema_of::<storage::StorageClass>),
    ("policy", "v1", "PodDisruptionBudget", schema_of::<policy::PodDisruptionBudget>),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", schema_of::<apiextensions::CustomResourceDefinition>),
];

/// Types that operations take or return besides the kinds themselves.
const SUPPORT: &[AddSchema] = &[
    schema_of::<autoscaling::Scale>,
    schema_of::<meta::APIGroup>,
    schema_of::<meta::APIGroupList>,
    schema_of::<meta::APIResourceList>,
    schema_of::<meta::APIVersions>,
    schema_of::<meta::DeleteOptions>,
    schema_of::<meta::ListMeta>,
    schema_of::<meta::Patch>,
    schema_of::<meta::Status>,
    // The type parameter is never part of the schema: `object` is raw.
    schema_of::<meta::WatchEvent<core::Pod>>,
];

pub(super) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
pub(super) const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
pub(super) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(super) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(super) const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
pub(super) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
pub(super) const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";
pub(super) const API_GROUP: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup";
pub(super) const API_GROUP_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList";
pub(super) const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
pub(super) const API_VERSIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions";
const META_PREFIX: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.";

/// All definitions of the built-in kinds, their lists and the types their
/// operations use, sorted by name. Built on first use.
pub fn definitions() -> &'static Map<String, Value> {
    static DEFINITIONS: OnceLock<Map<String, Value>> = OnceLock::new();
    DEFINITIONS.get_or_init(build)
}

/// The name of the built-in definition tagged with this group, version and
/// kind (kinds, their lists, and `autoscaling/v1` `Scale`).
pub(super) fn definition_for(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    static INDEX: OnceLock<HashMap<Gvk, &'static str>> = OnceLock::new();
    let index = INDEX.get_or_init(|| kind_index(definitions()));
    index.get(&Gvk::new(group, version, kind)).copied()
}

fn kind_index(definitions: &'static Map<String, Value>) -> HashMap<Gvk, &'static str> {
    let mut index = HashMap::new();
    for (name, definition) in definitions {
        let Some(Value::Array(tags)) = definition.get("x-kubernetes-group-version-kind") else { continue };
        // Shared types (DeleteOptions, WatchEvent) carry one tag per group
        // version; they describe no kind of their own.
        if let [tag] = tags.as_slice() {
            if let Some(gvk) = gvk_of(tag) {
                index.insert(gvk, name.as_str());
            }
        }
    }
    index
}

fn gvk_of(tag: &Value) -> Option<Gvk> {
    Some(Gvk::new(tag.get("group")?.as_str()?, tag.get("version")?.as_str()?, tag.get("kind")?.as_str()?))
}

fn build() -> Map<String, Value> {
    let mut generator = SchemaSettings::draft07()
        .with(|settings| {
            settings.definitions_path = "/definitions".into();
            settings.transforms.clear();
        })
        .into_generator();
    let kinds: Vec<(Gvk, String)> = KINDS
        .iter()
        .filter_map(|(group, version, kind, add)| {
            let name = ref_target(add(&mut generator).get("$ref")?.as_str()?)?.to_string();
            Some((Gvk::new(group, version, kind), name))
        })
        .collect();
    for add in SUPPORT {
        add(&mut generator);
    }
    let mut definitions = generator.take_definitions(false);
    definitions.values_mut().for_each(metadata_optional);
    for (gvk, name) in &kinds {
        tag(&mut definitions, name, std::slice::from_ref(gvk));
        let list = list_definition(name, gvk);
        definitions.insert(format!("{name}List"), list);
    }
    add_meta_definitions(&mut definitions);
    tag_shared_types(&mut definitions);
    extensions::apply(&mut definitions);
    let sorted: BTreeMap<String, Value> = definitions.into_iter().collect();
    sorted.into_iter().collect()
}

/// k8s-openapi lists `metadata` as required on every object, which
/// kube-apiserver does not (and `kubectl explain` would print).
fn metadata_optional(definition: &mut Value) {
    let Some(Value::Array(required)) = definition.get_mut("required") else { return };
    required.retain(|name| name != "metadata");
    if required.is_empty() {
        if let Value::Object(map) = definition {
            map.remove("required");
        }
    }
}

/// Sets `x-kubernetes-group-version-kind` on a definition.
fn tag(definitions: &mut Map<String, Value>, name: &str, gvks: &[Gvk]) {
    if let Some(Value::Object(definition)) = definitions.get_mut(name) {
        let tags: Vec<Value> = gvks.iter().map(Gvk::to_json).collect();
        definition.insert("x-kubernetes-group-version-kind".into(), Value::Array(tags));
    }
}

/// Tags the types that every group version serves (as kube-apiserver does),
/// and the scale subresource's kind.
fn tag_shared_types(definitions: &mut Map<String, Value>) {
    let group_versions = builtin_group_versions();
    let each = |kind: &str| -> Vec<Gvk> { group_versions.iter().map(|(g, v)| Gvk::new(g, v, kind)).collect() };
    tag(definitions, DELETE_OPTIONS, &each("DeleteOptions"));
    tag(definitions, WATCH_EVENT, &each("WatchEvent"));
    tag(definitions, STATUS, &[Gvk::new("", "v1", "Status")]);
    tag(definitions, SCALE, &[Gvk::new("autoscaling", "v1", "Scale")]);
}

/// Every built-in group version, core first.
fn builtin_group_versions() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![(String::new(), "v1".into())];
    for resource in registry::builtin_types() {
        let pair = (resource.group.clone(), resource.version.clone());
        if !out.contains(&pair) {
            out.push(pair);
        }
    }
    out
}

/// The `apiVersion` property every object has.
pub(super) fn api_version_property() -> Value {
    json!({
        "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
        "type": "string"
    })
}

/// The `kind` property every object has.
pub(super) fn kind_property() -> Value {
    json!({
        "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
        "type": "string"
    })
}

/// The `metadata` property of an object.
pub(super) fn object_metadata_property() -> Value {
    with_description(
        definition_ref(OBJECT_META),
        "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    )
}

/// The `metadata` property of a list.
fn list_metadata_property() -> Value {
    with_description(
        definition_ref(LIST_META),
        "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    )
}

fn with_description(mut schema: Value, description: &str) -> Value {
    if let Value::Object(map) = &mut schema {
        map.insert("description".into(), json!(description));
    }
    schema
}

/// The list type of a kind (`PodList`), which k8s-openapi has no schema for.
pub(super) fn list_definition(item: &str, gvk: &Gvk) -> Value {
    let kind = &gvk.kind;
    json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": api_version_property(),
            "items": {
                "description": format!("List of {kind} objects."),
                "type": "array",
                "items": definition_ref(item),
            },
            "kind": kind_property(),
            "metadata": list_metadata_property(),
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": [Gvk::new(&gvk.group, &gvk.version, &format!("{kind}List")).to_json()],
    })
}

/// meta/v1 types that k8s-openapi does not model: the metadata-only and
/// table views of objects that `Accept` headers can ask for.
fn add_meta_definitions(definitions: &mut Map<String, Value>) {
    let meta = |name: &str| format!("{META_PREFIX}{name}");
    let tagged = |kind: &str| json!([{"group": "meta.k8s.io", "kind": kind, "version": "v1"}]);
    definitions.insert(
        meta("PartialObjectMetadata"),
        json!({
            "description": "PartialObjectMetadata is the generic representation of any object with ObjectMeta: the object without its spec and status.",
            "type": "object",
            "properties": {
                "apiVersion": api_version_property(),
                "kind": kind_property(),
                "metadata": object_metadata_property(),
            },
            "x-kubernetes-group-version-kind": tagged("PartialObjectMetadata"),
        }),
    );
    definitions.insert(
        meta("PartialObjectMetadataList"),
        json!({
            "description": "PartialObjectMetadataList is a list of objects reduced to their metadata.",
            "type": "object",
            "properties": {
                "apiVersion": api_version_property(),
                "items": {
                    "description": "The objects' metadata.",
                    "type": "array",
                    "items": definition_ref(&meta("PartialObjectMetadata")),
                },
                "kind": kind_property(),
                "metadata": list_metadata_property(),
            },
            "required": ["items"],
            "x-kubernetes-group-version-kind": tagged("PartialObjectMetadataList"),
        }),
    );
    definitions.insert(meta("Table"), table_definition());
    definitions.insert(meta("TableColumnDefinition"), table_column_definition());
    definitions.insert(meta("TableRow"), table_row_definition());
    definitions.insert(meta("TableRowCondition"), table_row_condition_definition());
}

fn table_definition() -> Value {
    json!({
        "description": "Table is a tabular representation of a set of API resources, as `kubectl get` prints them.",
        "type": "object",
        "properties": {
            "apiVersion": api_version_property(),
            "columnDefinitions": {
                "description": "The columns of each row, in order.",
                "type": "array",
                "items": definition_ref(&format!("{META_PREFIX}TableColumnDefinition")),
                "x-kubernetes-list-type": "atomic",
            },
            "kind": kind_property(),
            "metadata": list_metadata_property(),
            "rows": {
                "description": "One row per object, with cells in column order.",
                "type": "array",
                "items": definition_ref(&format!("{META_PREFIX}TableRow")),
                "x-kubernetes-list-type": "atomic",
            },
        },
        "required": ["columnDefinitions", "rows"],
        "x-kubernetes-group-version-kind": [{"group": "meta.k8s.io", "kind": "Table", "version": "v1"}],
    })
}

fn table_column_definition() -> Value {
    json!({
        "description": "TableColumnDefinition describes one column of a Table.",
        "type": "object",
        "properties": {
            "description": {"description": "What the column shows, for people.", "type": "string"},
            "format": {"description": "A hint for displaying the cells (an OpenAPI format such as `name` or `date-time`).", "type": "string"},
            "name": {"description": "The column header.", "type": "string"},
            "priority": {"description": "0 for columns shown by default; higher numbers for columns shown only in wide output.", "type": "integer", "format": "int32"},
            "type": {"description": "The OpenAPI type of the cells: integer, number, string, boolean.", "type": "string"},
        },
        "required": ["name", "type", "format", "description", "priority"],
    })
}

fn table_row_definition() -> Value {
    json!({
        "description": "TableRow is one object's row in a Table.",
        "type": "object",
        "properties": {
            "cells": {
                "description": "The row's values, one per column definition.",
                "type": "array",
                "items": {"type": "object"},
                "x-kubernetes-list-type": "atomic",
            },
            "conditions": {
                "description": "Conditions that describe the row, such as whether the object is completed.",
                "type": "array",
                "items": definition_ref(&format!("{META_PREFIX}TableRowCondition")),
                "x-kubernetes-list-type": "atomic",
            },
            "object": with_description(
                definition_ref("io.k8s.apimachinery.pkg.runtime.RawExtension"),
                "The object the row describes, as requested by includeObject (None, Metadata or Object).",
            ),
        },
        "required": ["cells"],
    })
}

fn table_row_condition_definition() -> Value {
    json!({
        "description": "TableRowCondition is one condition of a Table row.",
        "type": "object",
        "properties": {
            "message": {"description": "A human readable message about the condition.", "type": "string"},
            "reason": {"description": "A machine readable reason for the condition.", "type": "string"},
            "status": {"description": "True, False or Unknown.", "type": "string"},
            "type": {"description": "The condition type, such as Completed.", "type": "string"},
        },
        "required": ["type", "status"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::for_each_ref;

    #[test]
    fn every_builtin_kind_has_a_tagged_definition_and_list() {
        for resource in registry::builtin_types() {
            let (group, version, kind) = (&resource.group, &resource.version, &resource.kind);
            let name = definition_for(group, version, kind).unwrap_or_else(|| panic!("no schema for {kind}"));
            let list = definition_for(group, version, &format!("{kind}List")).unwrap_or_else(|| panic!("{kind}List"));
            assert_eq!(list, format!("{name}List"));
        }
    }

    #[test]
    fn names_follow_kubernetes() {
        assert_eq!(definition_for("", "v1", "Pod"), Some("io.k8s.api.core.v1.Pod"));
        assert_eq!(definition_for("events.k8s.io", "v1", "Event"), Some("io.k8s.api.events.v1.Event"));
        assert_eq!(definition_for("autoscaling", "v1", "Scale"), Some(SCALE));
        let crd = definition_for("apiextensions.k8s.io", "v1", "CustomResourceDefinition");
        assert_eq!(crd, Some("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"));
    }

    #[test]
    fn every_reference_resolves() {
        let defs = definitions();
        for (name, definition) in defs {
            for_each_ref(definition, &mut |reference| {
                let target = ref_target(reference).unwrap_or_else(|| panic!("{name}: odd ref {reference}"));
                assert!(defs.contains_key(target), "{name} refers to missing {target}");
            });
        }
    }

    #[test]
    fn required_support_types_exist() {
        let defs = definitions();
        for name in [STATUS, DELETE_OPTIONS, WATCH_EVENT, PATCH, SCALE, API_RESOURCE_LIST, API_GROUP, API_GROUP_LIST] {
            assert!(defs.contains_key(name), "{name}");
        }
        for name in ["PartialObjectMetadata", "PartialObjectMetadataList", "Table", "TableRow"] {
            assert!(defs.contains_key(&format!("{META_PREFIX}{name}")), "{name}");
        }
        assert!(defs.contains_key(API_VERSIONS));
    }

    #[test]
    fn shared_types_are_tagged_for_every_group_version() {
        let tags = definitions()[DELETE_OPTIONS]["x-kubernetes-group-version-kind"].as_array().cloned();
        let tags = tags.unwrap_or_default();
        assert!(tags.contains(&json!({"group": "apps", "kind": "DeleteOptions", "version": "v1"})));
        assert!(tags.contains(&json!({"group": "", "kind": "DeleteOptions", "version": "v1"})));
    }

    #[test]
    fn definitions_are_sorted_and_built_once() {
        let names: Vec<&String> = definitions().keys().collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(std::ptr::eq(definitions(), definitions()));
    }

    #[test]
    fn metadata_is_not_required() {
        let defs = definitions();
        assert!(defs["io.k8s.api.core.v1.Pod"].get("required").is_none());
        assert_eq!(defs["io.k8s.api.storage.v1.StorageClass"]["required"], json!(["provisioner"]));
    }

    #[test]
    fn list_definitions_point_at_their_items() {
        let list = &definitions()["io.k8s.api.apps.v1.DeploymentList"];
        assert_eq!(list["properties"]["items"]["items"]["$ref"], "#/definitions/io.k8s.api.apps.v1.Deployment");
        assert_eq!(list["x-kubernetes-group-version-kind"][0]["kind"], "DeploymentList");
    }
}

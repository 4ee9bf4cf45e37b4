//! `apiextensions.k8s.io/v1` CustomResourceDefinition: names, group, scope, versions and a
//! light structural check of each version's schema.

use std::collections::HashSet;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceConversion, CustomResourceDefinition, CustomResourceDefinitionNames, CustomResourceDefinitionSpec,
    CustomResourceDefinitionStatus, CustomResourceDefinitionVersion, JSONSchemaProps, JSONSchemaPropsOrArray,
    JSONSchemaPropsOrBool,
};

use super::common::{self, json};
use super::field_error::FieldError;
use super::names;
use super::path::FieldPath;
use super::Builtin;

const PRINTER_COLUMN_TYPES: &[&str] = &["boolean", "date", "integer", "number", "string"];

impl Builtin for CustomResourceDefinition {
    fn set_defaults(&mut self) {
        let spec = &mut self.spec;
        if spec.names.singular.as_deref().is_none_or(str::is_empty) {
            spec.names.singular = Some(spec.names.kind.to_lowercase());
        }
        if spec.names.list_kind.as_deref().is_none_or(str::is_empty) && !spec.names.kind.is_empty() {
            spec.names.list_kind = Some(format!("{}List", spec.names.kind));
        }
        let conversion = spec
            .conversion
            .get_or_insert_with(|| CustomResourceConversion { strategy: "None".to_string(), webhook: None });
        let service =
            conversion.webhook.as_mut().and_then(|w| w.client_config.as_mut()).and_then(|c| c.service.as_mut());
        if let Some(service) = service {
            service.port.get_or_insert(443);
        }
        let storage_version = spec.versions.iter().find(|v| v.storage).map(|v| v.name.clone());
        let status = self.status.get_or_insert_with(CustomResourceDefinitionStatus::default);
        if status.stored_versions.as_ref().is_none_or(Vec::is_empty) {
            status.stored_versions = storage_version.map(|v| vec![v]);
        }
    }

    fn validate(&self, old: Option<&Self>) -> Vec<FieldError> {
        let spec = &self.spec;
        let path = FieldPath::new("spec");
        let mut errs = Vec::new();
        let name = self.metadata.name.as_deref().unwrap_or_default();
        if name != format!("{}.{}", spec.names.plural, spec.group) {
            errs.push(FieldError::invalid(
                FieldPath::new("metadata").child("name"),
                name,
                "must be spec.names.plural+\".\"+spec.group",
            ));
        }
        errs.extend(validate_group(&spec.group, &path.child("group")));
        errs.extend(common::enum_value(Some(&spec.scope), &path.child("scope"), &["Cluster", "Namespaced"], true));
        errs.extend(validate_versions(&spec.versions, &path.child("versions")));
        errs.extend(required_names(&spec.names, &path.child("names")));
        errs.extend(validate_names(&spec.names, &path.child("names")));
        if spec.preserve_unknown_fields == Some(true) {
            let msg = "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead";
            errs.push(FieldError::invalid(path.child("preserveUnknownFields"), true, msg));
        }
        if let Some(conversion) = &spec.conversion {
            errs.extend(validate_conversion(conversion, &path.child("conversion")));
        }
        errs.extend(validate_stored_versions(self));
        if let Some(old) = old {
            errs.extend(validate_update(spec, old));
        }
        errs
    }
}

fn validate_group(group: &str, path: &FieldPath) -> Vec<FieldError> {
    if group.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let messages = names::is_dns1123_subdomain(group);
    if !messages.is_empty() {
        return vec![FieldError::invalid(path, group, messages.join(","))];
    }
    if !group.contains('.') {
        return vec![FieldError::invalid(path, group, "should be a domain with at least one dot")];
    }
    Vec::new()
}

fn validate_versions(versions: &[CustomResourceDefinitionVersion], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut seen = HashSet::new();
    let mut unique = true;
    for (i, version) in versions.iter().enumerate() {
        let version_path = path.index(i);
        unique &= seen.insert(version.name.as_str());
        let messages = names::is_dns1035_label(&version.name);
        if !messages.is_empty() {
            errs.push(FieldError::invalid(version_path.child("name"), version.name.as_str(), messages.join(",")));
        }
        errs.extend(validate_version(version, &version_path));
    }
    if !unique {
        errs.push(FieldError::invalid(path, json(versions), "must contain unique version names"));
    }
    if versions.iter().filter(|v| v.storage).count() != 1 {
        errs.push(FieldError::invalid(path, json(versions), "must have exactly one version marked as storage version"));
    }
    errs
}

fn validate_version(version: &CustomResourceDefinitionVersion, path: &FieldPath) -> Vec<FieldError> {
    let schema_path = path.child("schema").child("openAPIV3Schema");
    let mut errs = match version.schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref()) {
        None => vec![FieldError::required(&schema_path, "schemas are required")],
        Some(schema) => validate_root_schema(schema, &schema_path),
    };
    if let Some(scale) = version.subresources.as_ref().and_then(|s| s.scale.as_ref()) {
        let scale_path = path.child("subresources").child("scale");
        errs.extend(json_path_under(&scale.spec_replicas_path, ".spec.", &scale_path.child("specReplicasPath")));
        errs.extend(json_path_under(&scale.status_replicas_path, ".status.", &scale_path.child("statusReplicasPath")));
    }
    for (i, column) in version.additional_printer_columns.iter().flatten().enumerate() {
        let column_path = path.child("additionalPrinterColumns").index(i);
        if column.name.is_empty() {
            errs.push(FieldError::required(column_path.child("name"), ""));
        }
        errs.extend(common::enum_value(Some(&column.type_), &column_path.child("type"), PRINTER_COLUMN_TYPES, true));
        if column.json_path.is_empty() {
            errs.push(FieldError::required(column_path.child("jsonPath"), ""));
        }
    }
    errs
}

fn json_path_under(value: &str, prefix: &str, path: &FieldPath) -> Vec<FieldError> {
    if value.is_empty() {
        vec![FieldError::required(path, "")]
    } else if !value.starts_with(prefix) {
        let place = prefix.trim_end_matches('.');
        vec![FieldError::invalid(path, value, format!("should be a json path under {place}"))]
    } else {
        Vec::new()
    }
}

/// The root of a structural schema is an object; every specified field has a type.
fn validate_root_schema(schema: &JSONSchemaProps, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = match schema.type_.as_deref() {
        None | Some("") => vec![FieldError::required(path.child("type"), "must not be empty at the root")],
        Some("object") => Vec::new(),
        Some(other) => vec![FieldError::invalid(path.child("type"), other, "must be object at the root")],
    };
    errs.extend(validate_schema_children(schema, path));
    errs
}

fn validate_schema_children(schema: &JSONSchemaProps, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if schema.unique_items == Some(true) {
        let msg = "uniqueItems cannot be set to true since the runtime complexity becomes quadratic";
        errs.push(FieldError::forbidden(path.child("uniqueItems"), msg));
    }
    for (name, property) in schema.properties.iter().flatten() {
        let property_path = path.child("properties").key(name);
        errs.extend(typed_node(property, &property_path, "must not be empty for specified object fields"));
    }
    if let Some(JSONSchemaPropsOrArray::Schema(items)) = &schema.items {
        errs.extend(typed_node(items, &path.child("items"), "must not be empty for specified array items"));
    }
    if let Some(JSONSchemaPropsOrBool::Schema(values)) = &schema.additional_properties {
        if schema.properties.as_ref().is_some_and(|p| !p.is_empty()) {
            let msg = "additionalProperties and properties are mutual exclusive";
            errs.push(FieldError::forbidden(path.child("additionalProperties"), msg));
        }
        let msg = "must not be empty for specified additionalProperties";
        errs.extend(typed_node(values, &path.child("additionalProperties"), msg));
    }
    errs
}

/// A nested schema must have a type unless it is int-or-string or preserves unknown fields.
fn typed_node(schema: &JSONSchemaProps, path: &FieldPath, missing_type: &str) -> Vec<FieldError> {
    let untyped = schema.type_.as_deref().is_none_or(str::is_empty);
    let exempt =
        schema.x_kubernetes_int_or_string == Some(true) || schema.x_kubernetes_preserve_unknown_fields == Some(true);
    let mut errs = Vec::new();
    if untyped && !exempt {
        errs.push(FieldError::required(path.child("type"), missing_type));
    }
    errs.extend(validate_schema_children(schema, path));
    errs
}

fn required_names(names: &CustomResourceDefinitionNames, path: &FieldPath) -> Vec<FieldError> {
    let fields = [
        ("plural", names.plural.as_str()),
        ("singular", names.singular.as_deref().unwrap_or_default()),
        ("kind", names.kind.as_str()),
        ("listKind", names.list_kind.as_deref().unwrap_or_default()),
    ];
    fields
        .iter()
        .filter(|(_, value)| value.is_empty())
        .map(|(field, _)| FieldError::required(path.child(field), ""))
        .collect()
}

/// `ValidateCustomResourceDefinitionNames`: lowercase DNS-1035 labels (kinds may mix case).
fn validate_names(names: &CustomResourceDefinitionNames, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let label = |value: &str, field: &FieldPath, mixed_case: bool| -> Option<FieldError> {
        let checked = if mixed_case { value.to_lowercase() } else { value.to_string() };
        let messages = names::is_dns1035_label(&checked);
        if value.is_empty() || messages.is_empty() {
            return None;
        }
        let prefix = if mixed_case { "may have mixed case, but should otherwise match: " } else { "" };
        Some(FieldError::invalid(field, value, format!("{prefix}{}", messages.join(","))))
    };
    let list_kind = names.list_kind.as_deref().unwrap_or_default();
    errs.extend(label(&names.plural, &path.child("plural"), false));
    errs.extend(label(names.singular.as_deref().unwrap_or_default(), &path.child("singular"), false));
    errs.extend(label(&names.kind, &path.child("kind"), true));
    errs.extend(label(list_kind, &path.child("listKind"), true));
    for (i, short) in names.short_names.iter().flatten().enumerate() {
        errs.extend(label(short, &path.child("shortNames").index(i), false));
    }
    if !names.kind.is_empty() && names.kind == list_kind {
        errs.push(FieldError::invalid(path.child("listKind"), list_kind, "kind and listKind may not be the same"));
    }
    for (i, category) in names.categories.iter().flatten().enumerate() {
        errs.extend(label(category, &path.child("categories").index(i), false));
    }
    errs
}

fn validate_conversion(conversion: &CustomResourceConversion, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = common::enum_value(Some(&conversion.strategy), &path.child("strategy"), &["None", "Webhook"], true);
    let webhook_path = path.child("webhook");
    match (conversion.strategy.as_str(), &conversion.webhook) {
        ("Webhook", None) => errs.push(FieldError::required(&webhook_path, "required when strategy is set to Webhook")),
        ("Webhook", Some(webhook)) => {
            let config_path = webhook_path.child("clientConfig");
            match &webhook.client_config {
                None => errs.push(FieldError::required(&config_path, "required when strategy is set to Webhook")),
                Some(config) if config.url.is_some() == config.service.is_some() => {
                    errs.push(FieldError::required(&config_path, "exactly one of url or service is required"))
                }
                Some(_) => {}
            }
            if webhook.conversion_review_versions.is_empty() {
                let msg = "must include at least one of v1, v1beta1";
                errs.push(FieldError::required(webhook_path.child("conversionReviewVersions"), msg));
            }
        }
        (_, Some(_)) => {
            errs.push(FieldError::forbidden(webhook_path, "should not be set when strategy is not set to Webhook"))
        }
        _ => {}
    }
    errs
}

fn validate_stored_versions(crd: &CustomResourceDefinition) -> Vec<FieldError> {
    let stored = crd.status.as_ref().and_then(|s| s.stored_versions.as_deref()).unwrap_or_default();
    let path = FieldPath::new("status").child("storedVersions");
    stored
        .iter()
        .enumerate()
        .filter(|(_, name)| !crd.spec.versions.iter().any(|v| &v.name == *name))
        .map(|(i, name)| FieldError::invalid(path.index(i), name.as_str(), "must appear in spec.versions"))
        .collect()
}

/// Group and plural name the stored data and never change; scope and kind are fixed once the
/// definition is established.
fn validate_update(spec: &CustomResourceDefinitionSpec, old: &CustomResourceDefinition) -> Vec<FieldError> {
    let path = FieldPath::new("spec");
    let mut errs = Vec::new();
    let established = old
        .status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .any(|c| c.type_ == "Established" && c.status == "True");
    if established {
        errs.extend(common::immutable(&spec.scope, &old.spec.scope, &path.child("scope")));
        errs.extend(common::immutable(&spec.names.kind, &old.spec.names.kind, &path.child("names").child("kind")));
    }
    errs.extend(common::immutable(&spec.group, &old.spec.group, &path.child("group")));
    errs.extend(common::immutable(&spec.names.plural, &old.spec.names.plural, &path.child("names").child("plural")));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::{default_builtin, validate_builtin};
    use serde_json::{json as j, Value};

    const GROUP: &str = "apiextensions.k8s.io";
    const KIND: &str = "CustomResourceDefinition";

    fn crd() -> Value {
        j!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [{
                    "name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {"size": {"type": "integer"}, "port": {"x-kubernetes-int-or-string": true}}},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }}},
                    "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}},
                    "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]
                }]
            }
        })
    }

    fn defaulted(mut obj: Value) -> Value {
        default_builtin(GROUP, KIND, &mut obj);
        obj
    }

    fn check(obj: Value, old: Option<Value>) -> Vec<String> {
        let obj = defaulted(obj);
        let old = old.map(defaulted);
        validate_builtin(GROUP, KIND, &obj, old.as_ref()).iter().map(FieldError::message).collect()
    }

    #[test]
    fn defaults() {
        let c = defaulted(crd());
        assert_eq!(c["spec"]["names"]["singular"], "widget");
        assert_eq!(c["spec"]["names"]["listKind"], "WidgetList");
        assert_eq!(c["spec"]["conversion"], j!({"strategy": "None"}));
        assert_eq!(c["status"]["storedVersions"], j!(["v1"]));
    }

    #[test]
    fn valid_definition_passes() {
        assert_eq!(check(crd(), None), Vec::<String>::new());
        assert_eq!(check(crd(), Some(crd())), Vec::<String>::new());
    }

    #[test]
    fn name_group_scope_and_versions() {
        let mut bad = crd();
        bad["metadata"]["name"] = j!("widgets.example.org");
        bad["spec"]["group"] = j!("example");
        bad["spec"]["scope"] = j!("Global");
        bad["spec"]["versions"] = j!([
            {"name": "V1", "served": true, "storage": false},
            {"name": "V1", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "string"}}}
        ]);
        assert_eq!(
            check(bad, None).iter().map(|m| m.split(": ").take(2).collect::<Vec<_>>().join(": ")).collect::<Vec<_>>(),
            vec![
                "metadata.name: Invalid value",
                "spec.group: Invalid value",
                "spec.scope: Unsupported value",
                "spec.versions[0].name: Invalid value",
                "spec.versions[0].schema.openAPIV3Schema: Required value",
                "spec.versions[1].name: Invalid value",
                "spec.versions[1].schema.openAPIV3Schema.type: Invalid value",
                "spec.versions: Invalid value",
                "spec.versions: Invalid value"
            ]
        );
    }

    #[test]
    fn structural_checks_and_names() {
        let mut bad = crd();
        bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"] =
            j!({"properties": {"spec": {"properties": {"list": {"type": "array", "items": {}}}}}});
        bad["spec"]["names"]["kind"] = j!("Widget_Thing");
        bad["spec"]["names"]["listKind"] = j!("Widget_Thing");
        bad["spec"]["preserveUnknownFields"] = j!(true);
        assert_eq!(
            check(bad, None),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.type: Required value: must not be empty at the root",
                "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
                "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[list].items.type: Required value: must not be empty for specified array items",
                "spec.names.singular: Invalid value: \"widget_thing\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
                "spec.names.kind: Invalid value: \"Widget_Thing\": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
                "spec.names.listKind: Invalid value: \"Widget_Thing\": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
                "spec.names.listKind: Invalid value: \"Widget_Thing\": kind and listKind may not be the same",
                "spec.preserveUnknownFields: Invalid value: true: cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"
            ]
        );
    }

    #[test]
    fn conversion_and_updates() {
        let mut webhook = crd();
        webhook["spec"]["conversion"] = j!({"strategy": "Webhook", "webhook": {"conversionReviewVersions": []}});
        assert_eq!(
            check(webhook, None),
            vec![
                "spec.conversion.webhook.clientConfig: Required value: required when strategy is set to Webhook",
                "spec.conversion.webhook.conversionReviewVersions: Required value: must include at least one of v1, v1beta1"
            ]
        );
        let mut old = crd();
        old["status"] = j!({"storedVersions": ["v1"], "conditions": [{"type": "Established", "status": "True"}]});
        let mut new = crd();
        new["spec"]["scope"] = j!("Cluster");
        new["spec"]["names"]["plural"] = j!("gadgets");
        new["metadata"]["name"] = j!("gadgets.example.com");
        assert_eq!(
            check(new, Some(old)),
            vec![
                "spec.scope: Invalid value: \"Cluster\": field is immutable",
                "spec.names.plural: Invalid value: \"gadgets\": field is immutable"
            ]
        );
    }
}

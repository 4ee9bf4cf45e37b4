//! [`SchemaNode`]: one place in a schema, as the patch engines see it.

use super::custom::object_schema;
use super::definitions::{definition_for, definitions, OBJECT_META};
use super::ref_target;
use crate::patch::schema::{ListType, PatchSchema};
use serde_json::Value;
use std::sync::Arc;

/// How many `$ref`s in a row are followed before giving up (the built-in
/// definitions never chain more than one).
const MAX_REF_HOPS: usize = 8;

/// A handle on one node of a schema: a built-in definition or a custom
/// resource's schema. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SchemaNode(Node);

#[derive(Clone, Debug)]
enum Node {
    /// A place in the built-in definitions: the schema where the field is
    /// declared (which carries the patch and list extensions) and the schema
    /// its `$ref` leads to (which has the structure).
    Builtin { site: &'static Value, target: &'static Value },
    /// A place in a custom resource's schema, as a JSON pointer.
    Custom { root: Arc<Value>, pointer: String },
    /// Nothing is known here: maps merge, lists are atomic.
    Unknown,
}

/// The schema of a built-in kind (or `autoscaling/v1` `Scale`), if served.
pub fn builtin_schema(group: &str, version: &str, kind: &str) -> Option<SchemaNode> {
    let definition = definitions().get(definition_for(group, version, kind)?)?;
    Some(SchemaNode(builtin_at(definition)))
}

/// The schema of a custom resource, from its CRD's `openAPIV3Schema`.
/// `metadata` is the built-in `ObjectMeta`, whatever the CRD says; a schema
/// that declares no fields (`{}`, or none) leaves the rest unknown.
pub fn custom_schema(schema: &Value) -> SchemaNode {
    let mut root = object_schema(Some(schema));
    if schema.get("properties").is_none() {
        if let Value::Object(map) = &mut root {
            map.insert("x-kubernetes-preserve-unknown-fields".into(), Value::Bool(true));
        }
    }
    SchemaNode(Node::Custom { root: Arc::new(root), pointer: String::new() })
}

fn builtin_at(site: &'static Value) -> Node {
    Node::Builtin { site, target: follow_refs(site) }
}

/// What a schema's `$ref` (or an `allOf` holding a single one) leads to.
fn follow_refs(site: &'static Value) -> &'static Value {
    let mut current = site;
    for _ in 0..MAX_REF_HOPS {
        match reference_of(current).and_then(|name| definitions().get(name)) {
            Some(next) => current = next,
            None => break,
        }
    }
    current
}

/// The definition a schema refers to, directly or as `allOf: [{$ref}]`.
fn reference_of(schema: &Value) -> Option<&str> {
    let reference = match schema.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
        Some([only]) => only.get("$ref"),
        _ => schema.get("$ref"),
    };
    ref_target(reference?.as_str()?)
}

/// Whether a schema leaves its content open: unknown fields preserved, or no
/// structure declared at all (RawExtension, FieldsV1, JSON).
fn is_open(schema: &Value) -> bool {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return true;
    }
    let declared = ["properties", "additionalProperties", "items"].iter().any(|key| schema.get(key).is_some());
    let scalar =
        matches!(schema.get("type").and_then(Value::as_str), Some("string" | "integer" | "number" | "boolean"));
    !declared && !scalar && schema.get("x-kubernetes-int-or-string").is_none()
}

/// Escapes one JSON pointer segment.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl Node {
    /// The schema value here (for custom nodes, resolved through the root).
    fn schema(&self) -> Option<&Value> {
        match self {
            Node::Builtin { target, .. } => Some(target),
            Node::Custom { root, pointer } => root.pointer(pointer),
            Node::Unknown => None,
        }
    }

    /// An extension, read where the field is declared first.
    fn extension(&self, key: &str) -> Option<&str> {
        let site = match self {
            Node::Builtin { site, target } => site.get(key).or_else(|| target.get(key)),
            Node::Custom { .. } => self.schema()?.get(key),
            Node::Unknown => None,
        };
        site?.as_str()
    }

    fn strategy_has(&self, part: &str) -> bool {
        self.extension("x-kubernetes-patch-strategy").is_some_and(|s| s.split(',').any(|p| p.trim() == part))
    }

    /// The node at a child keyword (`properties/<name>`, `items`,
    /// `additionalProperties`) if it holds a schema.
    fn child(&self, path: &[&str]) -> Option<Node> {
        match self {
            Node::Builtin { target, .. } => {
                let mut value: &'static Value = target;
                for key in path {
                    value = value.get(*key)?;
                }
                value.is_object().then(|| builtin_at(value))
            }
            Node::Custom { root, pointer } => {
                let mut pointer = pointer.clone();
                for key in path {
                    pointer.push('/');
                    pointer.push_str(&escape(key));
                }
                let value = root.pointer(&pointer)?;
                if !value.is_object() {
                    return None;
                }
                // The only references in a custom schema are to built-ins.
                match reference_of(value).and_then(|name| definitions().get(name)) {
                    Some(definition) => Some(builtin_at(definition)),
                    None => Some(Node::Custom { root: Arc::clone(root), pointer }),
                }
            }
            Node::Unknown => Some(Node::Unknown),
        }
    }

    /// `metadata` of an object embedded in a custom resource
    /// (`x-kubernetes-embedded-resource`) that declares nothing about it.
    fn embedded_metadata(&self, name: &str) -> Option<Node> {
        let schema = self.schema()?;
        let embedded = schema.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true));
        let declared = schema.pointer("/properties/metadata/properties").is_some();
        if name != "metadata" || !embedded || declared || !matches!(self, Node::Custom { .. }) {
            return None;
        }
        definitions().get(OBJECT_META).map(builtin_at)
    }
}

impl PatchSchema for SchemaNode {
    fn field(&self, name: &str) -> Option<Self> {
        let node = &self.0;
        let Some(schema) = node.schema() else { return Some(SchemaNode(Node::Unknown)) };
        if let Some(metadata) = node.embedded_metadata(name) {
            return Some(SchemaNode(metadata));
        }
        if schema.get("properties").and_then(|p| p.get(name)).is_some() {
            return node.child(&["properties", name]).map(SchemaNode);
        }
        match schema.get("additionalProperties") {
            Some(Value::Object(_)) => node.child(&["additionalProperties"]).map(SchemaNode),
            Some(Value::Bool(true)) => Some(SchemaNode(Node::Unknown)),
            _ => is_open(schema).then_some(SchemaNode(Node::Unknown)),
        }
    }

    fn items(&self) -> Option<Self> {
        let node = &self.0;
        let Some(schema) = node.schema() else { return Some(SchemaNode(Node::Unknown)) };
        if schema.get("items").is_some_and(Value::is_object) {
            return node.child(&["items"]).map(SchemaNode);
        }
        let array = schema.get("type").and_then(Value::as_str) == Some("array");
        (array || is_open(schema)).then_some(SchemaNode(Node::Unknown))
    }

    /// `x-kubernetes-list-type`, or, for lists that only have a patch
    /// strategy, what server-side apply derives from it (a map on the merge
    /// key, or a set without one).
    fn list_type(&self) -> ListType {
        let node = &self.0;
        match node.extension("x-kubernetes-list-type") {
            Some("set") => return ListType::Set,
            Some("map") => return self.map_keys().map(ListType::Map).unwrap_or_default(),
            Some(_) => return ListType::Atomic,
            None => {}
        }
        if !node.strategy_has("merge") {
            return ListType::Atomic;
        }
        match node.extension("x-kubernetes-patch-merge-key") {
            Some(key) => ListType::Map(vec![key.to_string()]),
            None => ListType::Set,
        }
    }

    fn patch_merge_key(&self) -> Option<String> {
        let node = &self.0;
        if !node.strategy_has("merge") {
            return None;
        }
        node.extension("x-kubernetes-patch-merge-key").map(str::to_string)
    }

    fn patch_strategy_merge(&self) -> bool {
        self.0.strategy_has("merge")
    }

    fn patch_strategy_retain_keys(&self) -> bool {
        self.0.strategy_has("retainKeys")
    }
}

impl SchemaNode {
    /// `x-kubernetes-list-map-keys`, falling back to the merge key.
    fn map_keys(&self) -> Option<Vec<String>> {
        let from_site = match &self.0 {
            Node::Builtin { site, .. } => site.get("x-kubernetes-list-map-keys"),
            node => node.schema().and_then(|s| s.get("x-kubernetes-list-map-keys")),
        };
        let keys: Vec<String> = from_site
            .and_then(Value::as_array)
            .map(|keys| keys.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        if !keys.is_empty() {
            return Some(keys);
        }
        self.0.extension("x-kubernetes-patch-merge-key").map(|key| vec![key.to_string()])
    }

    /// The schema's `description`, for diagnostics and tests.
    pub fn description(&self) -> Option<&str> {
        self.0.schema()?.get("description")?.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> SchemaNode {
        builtin_schema("", "v1", "Pod").expect("Pod schema")
    }

    fn path(node: &SchemaNode, fields: &[&str]) -> SchemaNode {
        fields.iter().fold(node.clone(), |n, f| n.field(f).unwrap_or_else(|| panic!("no field {f}")))
    }

    #[test]
    fn containers_merge_on_name() {
        let containers = path(&pod(), &["spec", "containers"]);
        assert!(containers.patch_strategy_merge());
        assert_eq!(containers.patch_merge_key().as_deref(), Some("name"));
        assert_eq!(containers.list_type(), ListType::Map(vec!["name".into()]));
        let ports = path(&containers.items().expect("items"), &["ports"]);
        assert_eq!(ports.list_type(), ListType::Map(vec!["containerPort".into(), "protocol".into()]));
        assert_eq!(ports.patch_merge_key().as_deref(), Some("containerPort"));
    }

    #[test]
    fn volumes_retain_keys() {
        let volumes = path(&pod(), &["spec", "volumes"]);
        assert!(volumes.patch_strategy_merge() && volumes.patch_strategy_retain_keys());
        let deployment = builtin_schema("apps", "v1", "Deployment").expect("Deployment");
        let strategy = path(&deployment, &["spec", "strategy"]);
        assert!(strategy.patch_strategy_retain_keys() && !strategy.patch_strategy_merge());
        assert!(strategy.field("rollingUpdate").is_some(), "the reference is followed");
    }

    #[test]
    fn maps_give_their_value_schema() {
        let labels = path(&pod(), &["metadata", "labels"]);
        assert_eq!(labels.field("app").and_then(|v| v.description().map(str::to_string)), None);
        let limits = path(&pod(), &["spec", "containers"]).items().expect("items");
        assert!(path(&limits, &["resources", "limits", "cpu"]).field("x").is_none(), "quantities are scalars");
    }

    #[test]
    fn finalizers_are_a_merged_set_and_unannotated_lists_atomic() {
        let finalizers = path(&pod(), &["metadata", "finalizers"]);
        assert_eq!(finalizers.list_type(), ListType::Set);
        assert!(finalizers.patch_strategy_merge());
        assert_eq!(finalizers.patch_merge_key(), None);
        let args = path(&pod(), &["spec", "containers"]).items().map(|c| path(&c, &["args"])).expect("args");
        assert_eq!(args.list_type(), ListType::Atomic);
        assert!(!args.patch_strategy_merge());
    }

    #[test]
    fn job_conditions_merge_by_type_but_apply_atomically() {
        let job = builtin_schema("batch", "v1", "Job").expect("Job");
        let conditions = path(&job, &["status", "conditions"]);
        assert_eq!(conditions.patch_merge_key().as_deref(), Some("type"));
        assert_eq!(conditions.list_type(), ListType::Atomic);
    }

    #[test]
    fn unknown_fields_of_closed_types_are_none_and_open_types_unknown() {
        assert!(pod().field("nonsense").is_none());
        let managed = path(&pod(), &["metadata", "managedFields"]).items().expect("items");
        let fields_v1 = path(&managed, &["fieldsV1"]);
        let anything = fields_v1.field("f:spec").expect("FieldsV1 is open");
        assert_eq!(anything.list_type(), ListType::Atomic);
        assert!(anything.field("deeper").and_then(|n| n.items()).is_some());
    }

    #[test]
    fn scale_and_lists_are_found() {
        assert!(builtin_schema("autoscaling", "v1", "Scale").is_some());
        assert!(builtin_schema("", "v1", "PodList").and_then(|l| l.field("items")).and_then(|i| i.items()).is_some());
        assert!(builtin_schema("", "v1", "Nothing").is_none());
    }

    #[test]
    fn custom_schema_reads_list_extensions() {
        let node = custom_schema(&json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port", "protocol"],
                "items": {"type": "object", "properties": {"port": {"type": "integer"}}}},
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "hosts": {"type": "array", "items": {"type": "string"}},
            "routes": {"type": "array", "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name",
                "items": {"type": "object"}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        }}}}));
        let spec = path(&node, &["spec"]);
        assert_eq!(path(&spec, &["ports"]).list_type(), ListType::Map(vec!["port".into(), "protocol".into()]));
        assert!(path(&spec, &["ports"]).items().and_then(|i| i.field("port")).is_some());
        assert_eq!(path(&spec, &["tags"]).list_type(), ListType::Set);
        assert_eq!(path(&spec, &["hosts"]).list_type(), ListType::Atomic);
        assert_eq!(path(&spec, &["routes"]).patch_merge_key().as_deref(), Some("name"));
        assert_eq!(path(&spec, &["routes"]).list_type(), ListType::Map(vec!["name".into()]));
        assert!(path(&spec, &["labels", "any"]).description().is_none());
        assert!(path(&spec, &["raw", "x", "y"]).items().is_some());
        assert!(spec.field("undeclared").is_none());
    }

    #[test]
    fn custom_metadata_is_object_meta() {
        let node = custom_schema(&json!({"type": "object", "properties": {"metadata": {"type": "object"}}}));
        let owners = path(&node, &["metadata", "ownerReferences"]);
        assert_eq!(owners.patch_merge_key().as_deref(), Some("uid"));
        let embedded = custom_schema(&json!({"type": "object", "properties": {"template": {
            "type": "object", "x-kubernetes-embedded-resource": true, "properties": {"metadata": {"type": "object"}}}}}));
        assert_eq!(path(&embedded, &["template", "metadata", "finalizers"]).list_type(), ListType::Set);
    }

    #[test]
    fn custom_schema_without_structure_is_unknown_below() {
        let node = custom_schema(&json!({"x-kubernetes-preserve-unknown-fields": true}));
        let deep = path(&node, &["spec", "anything"]);
        assert_eq!(deep.list_type(), ListType::Atomic);
        assert!(deep.items().is_some());
        let odd = custom_schema(&json!(["not", "a", "schema"]));
        assert!(odd.field("spec").is_some());
        let empty = custom_schema(&json!({}));
        assert!(empty.field("spec").and_then(|s| s.field("x")).is_some());
        assert_eq!(path(&empty, &["metadata", "finalizers"]).list_type(), ListType::Set);
    }

    #[test]
    fn field_names_with_slashes_are_escaped() {
        let node = custom_schema(
            &json!({"type": "object", "properties": {"a/b~c": {"type": "array", "x-kubernetes-list-type": "set"}}}),
        );
        assert_eq!(path(&node, &["a/b~c"]).list_type(), ListType::Set);
    }
}

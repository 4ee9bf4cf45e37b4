//! Sets of field paths, the unit of ownership in server-side apply.
//!
//! A path is a sequence of [`PathElement`]s: an object field (`f:name`), a
//! list element picked by its key fields (`k:{"name":"nginx"}`), a set
//! element picked by its value (`v:"foo"`) or a list element picked by index
//! (`i:0`). A [`FieldSet`] is stored in `managedFields[].fieldsV1` as a tree
//! of such keys, where `"."` marks a node that is itself in the set as well
//! as having members below it.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

use super::schema::{ListType, PatchSchema};
use super::values::{compare_values, kind_of};
use super::PatchError;

/// One step of a field path.
#[derive(Clone, Debug)]
pub enum PathElement {
    /// A field of an object (or key of a map).
    Field(String),
    /// The element of an associative list whose key fields have these values,
    /// sorted by field name.
    Key(Vec<(String, Value)>),
    /// The element of a set equal to this value.
    Value(Value),
    /// The element of a list at this index.
    Index(i64),
}

impl PathElement {
    /// The `Key` element for a list item, from the key fields it has.
    pub(crate) fn key_of(item: &Map<String, Value>, keys: &[String]) -> Option<PathElement> {
        let mut fields: Vec<(String, Value)> =
            keys.iter().filter_map(|key| item.get(key).map(|value| (key.clone(), value.clone()))).collect();
        if fields.is_empty() {
            return None;
        }
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        Some(PathElement::Key(fields))
    }

    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The `fieldsV1` spelling: `f:name`, `k:{...}`, `v:...`, `i:3`.
    pub fn to_fields_v1_key(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let object: Map<String, Value> = fields.iter().cloned().collect();
                format!("k:{}", Value::Object(object))
            }
            PathElement::Value(value) => format!("v:{value}"),
            PathElement::Index(index) => format!("i:{index}"),
        }
    }

    /// Parses a `fieldsV1` key. `Ok(None)` for element types this version
    /// does not know (they are skipped, as Kubernetes does).
    pub fn from_fields_v1_key(key: &str) -> Result<Option<PathElement>, PatchError> {
        let Some((kind, rest)) = key.split_once(':') else {
            return Err(PatchError::invalid(format!("invalid managed field path element {key:?}: missing ':'")));
        };
        let bad = |why: String| PatchError::invalid(format!("invalid managed field path element {key:?}: {why}"));
        match kind {
            "f" => Ok(Some(PathElement::Field(rest.to_string()))),
            "v" => {
                let value = serde_json::from_str(rest).map_err(|err| bad(err.to_string()))?;
                Ok(Some(PathElement::Value(value)))
            }
            "k" => match serde_json::from_str::<Value>(rest).map_err(|err| bad(err.to_string()))? {
                Value::Object(object) => {
                    let mut fields: Vec<(String, Value)> = object.into_iter().collect();
                    fields.sort_by(|a, b| a.0.cmp(&b.0));
                    Ok(Some(PathElement::Key(fields)))
                }
                other => Err(bad(format!("a key must be an object, got {}", kind_of(&other)))),
            },
            "i" => {
                let index = rest.parse().map_err(|_| bad("an index must be an integer".to_string()))?;
                Ok(Some(PathElement::Index(index)))
            }
            _ if kind.len() == 1 => Ok(None),
            _ => Err(bad("unknown element type".to_string())),
        }
    }
}

/// The human form used in conflict messages: `.name`, `[name="nginx"]`,
/// `[="foo"]`, `[0]`.
impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields.iter().map(|(name, value)| format!("{name}={value}")).collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(value) => write!(f, "[={value}]"),
            PathElement::Index(index) => write!(f, "[{index}]"),
        }
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => compare_key_fields(a, b),
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

fn compare_key_fields(a: &[(String, Value)], b: &[(String, Value)]) -> Ordering {
    for ((an, av), (bn, bv)) in a.iter().zip(b.iter()) {
        let order = an.cmp(bn).then_with(|| compare_values(av, bv));
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

/// A path as a human-readable string, e.g.
/// `.spec.template.spec.containers[name="nginx"].image`.
pub(crate) fn path_to_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of field paths, kept as a tree: `members` are the paths of one
/// element below this node, `children` the subtrees below each element.
/// Children are never empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> Self {
        FieldSet::default()
    }

    /// Every field of `obj` an applier of `obj` would own: each leaf (scalar,
    /// atomic list, empty object, null) and each element of a granular list
    /// (`k:` for map lists, `v:` for sets). Objects themselves are not members;
    /// their fields are.
    pub fn from_object<S: PatchSchema>(obj: &Value, schema: &S) -> FieldSet {
        let mut set = FieldSet::new();
        let mut path = Vec::new();
        collect_fields(obj, Some(schema), &mut path, &mut set);
        set
    }

    /// Parses a `fieldsV1` object. Keys of unknown element types are skipped.
    pub fn from_fields_v1(v: &Value) -> Result<FieldSet, PatchError> {
        match v {
            Value::Null => Ok(FieldSet::new()),
            Value::Object(object) => Ok(parse_node(object)?.0),
            other => Err(PatchError::invalid(format!("fieldsV1 must be an object, got {}", kind_of(other)))),
        }
    }

    /// The `fieldsV1` form of this set.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.fields_v1_object())
    }

    fn fields_v1_object(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for element in self.elements() {
            let mut node = Map::new();
            if let Some(child) = self.children.get(element) {
                if self.members.contains(element) {
                    node.insert(".".to_string(), Value::Object(Map::new()));
                }
                node.extend(child.fields_v1_object());
            }
            out.insert(element.to_fields_v1_key(), Value::Object(node));
        }
        out
    }

    /// Members and children heads, merged in order.
    fn elements(&self) -> impl Iterator<Item = &PathElement> {
        let mut all: Vec<&PathElement> = self.members.iter().chain(self.children.keys()).collect();
        all.sort();
        all.dedup();
        all.into_iter()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    /// Adds a path (the empty path, meaning the whole object, is not tracked).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    pub fn contains(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|child| child.contains(rest)),
        }
    }

    /// The subtree below `element` (paths relative to it).
    pub(crate) fn child(&self, element: &PathElement) -> Option<&FieldSet> {
        self.children.get(element)
    }

    pub(crate) fn has_member(&self, element: &PathElement) -> bool {
        self.members.contains(element)
    }

    /// `true` if the set holds `element` itself or anything below it.
    pub(crate) fn touches(&self, element: &PathElement) -> bool {
        self.members.contains(element) || self.children.contains_key(element)
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (element, child) in &other.children {
            let merged = match out.children.get(element) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(element.clone(), merged);
        }
        out
    }

    /// The paths of `self` that are not in `other` (paths below a path of
    /// `other` stay).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        self.subtract(other, false)
    }

    /// The paths of `self` that are neither in `other` nor below a path of
    /// `other`.
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        self.subtract(other, true)
    }

    /// The walk both differences share; `recursive` also drops whatever lies below a member
    /// of `other`, at every level.
    fn subtract(&self, other: &FieldSet, recursive: bool) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (element, child) in &self.children {
            if recursive && other.members.contains(element) {
                continue;
            }
            let rest = match other.children.get(element) {
                Some(theirs) => child.subtract(theirs, recursive),
                None => child.clone(),
            };
            if !rest.is_empty() {
                children.insert(element.clone(), rest);
            }
        }
        FieldSet { members, children }
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (element, child) in &self.children {
            if let Some(theirs) = other.children.get(element) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    children.insert(element.clone(), both);
                }
            }
        }
        FieldSet { members, children }
    }

    /// Every path in the set, in order, a node before the paths below it.
    pub fn path_elements(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        let mut prefix = Vec::new();
        self.walk_paths(&mut prefix, &mut out);
        out
    }

    fn walk_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for element in self.elements() {
            prefix.push(element.clone());
            if self.members.contains(element) {
                out.push(prefix.clone());
            }
            if let Some(child) = self.children.get(element) {
                child.walk_paths(prefix, out);
            }
            prefix.pop();
        }
    }

    /// Every path in human form, e.g. `.spec.replicas`,
    /// `.spec.template.spec.containers[name="nginx"].image`.
    pub fn paths(&self) -> Vec<String> {
        self.path_elements().iter().map(|path| path_to_string(path)).collect()
    }
}

/// Reads one `fieldsV1` object: the set below it, and whether the node itself
/// is a member (it says `"."`, or has nothing below it).
fn parse_node(object: &Map<String, Value>) -> Result<(FieldSet, bool), PatchError> {
    let mut set = FieldSet::new();
    let mut is_member = false;
    for (key, value) in object {
        if key == "." {
            is_member = true;
            continue;
        }
        let Some(element) = PathElement::from_fields_v1_key(key)? else {
            continue;
        };
        let Value::Object(inner) = value else {
            return Err(PatchError::invalid(format!(
                "invalid managed fields: the value of {key:?} must be an object, got {}",
                kind_of(value)
            )));
        };
        let (below, child_is_member) = parse_node(inner)?;
        if child_is_member {
            set.members.insert(element.clone());
        }
        if !below.is_empty() {
            set.children.insert(element, below);
        }
    }
    let is_member = is_member || set.is_empty();
    Ok((set, is_member))
}

/// The list type to use for a list at a node of the schema.
pub(crate) fn list_type_of<S: PatchSchema>(schema: Option<&S>) -> ListType {
    schema.map(|s| s.list_type()).unwrap_or_default()
}

/// The path element of a granular list's item: `v:` for sets, `k:` for maps
/// (falling back to `i:` for items without any key field).
pub(crate) fn item_element(list_type: &ListType, index: usize, item: &Value) -> PathElement {
    match list_type {
        ListType::Set => PathElement::Value(item.clone()),
        ListType::Map(keys) => item
            .as_object()
            .and_then(|object| PathElement::key_of(object, keys))
            .unwrap_or(PathElement::Index(index as i64)),
        ListType::Atomic => PathElement::Index(index as i64),
    }
}

fn collect_fields<S: PatchSchema>(value: &Value, schema: Option<&S>, path: &mut Vec<PathElement>, set: &mut FieldSet) {
    match value {
        Value::Object(object) if !object.is_empty() => {
            for (name, child) in object {
                let child_schema = schema.and_then(|s| s.field(name));
                path.push(PathElement::Field(name.clone()));
                collect_fields(child, child_schema.as_ref(), path, set);
                path.pop();
            }
        }
        Value::Array(items) => match list_type_of(schema) {
            ListType::Atomic => set.insert(path),
            list_type => {
                let item_schema = schema.and_then(|s| s.items());
                for (index, item) in items.iter().enumerate() {
                    path.push(item_element(&list_type, index, item));
                    set.insert(path);
                    if item.is_object() && !matches!(list_type, ListType::Set) {
                        collect_fields(item, item_schema.as_ref(), path, set);
                    }
                    path.pop();
                }
            }
        },
        // Scalars, nulls and empty objects are leaves.
        _ => set.insert(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::test_schema::deployment;
    use serde_json::json;

    fn field(name: &str) -> PathElement {
        PathElement::Field(name.to_string())
    }

    fn parse(v: Value) -> FieldSet {
        FieldSet::from_fields_v1(&v).unwrap()
    }

    #[test]
    fn from_object_uses_list_types() {
        let obj = json!({
            "apiVersion": "apps/v1",
            "metadata": {"name": "d", "labels": {"app": "x"}, "finalizers": ["a", "b"]},
            "spec": {
                "replicas": 3,
                "selector": {},
                "template": {"spec": {"containers": [
                    {"name": "nginx", "image": "nginx", "args": ["a"],
                     "ports": [{"containerPort": 80, "protocol": "TCP"}]}
                ]}}
            }
        });
        let paths = FieldSet::from_object(&obj, &deployment()).paths();
        assert_eq!(
            paths,
            [
                ".apiVersion",
                ".metadata.finalizers[=\"a\"]",
                ".metadata.finalizers[=\"b\"]",
                ".metadata.labels.app",
                ".metadata.name",
                ".spec.replicas",
                ".spec.selector",
                ".spec.template.spec.containers[name=\"nginx\"]",
                ".spec.template.spec.containers[name=\"nginx\"].args",
                ".spec.template.spec.containers[name=\"nginx\"].image",
                ".spec.template.spec.containers[name=\"nginx\"].name",
                ".spec.template.spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"]",
                ".spec.template.spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"].containerPort",
                ".spec.template.spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"].protocol",
            ]
        );
    }

    #[test]
    fn from_object_unknown_fields_and_odd_items() {
        let obj = json!({"spec": {"custom": {"list": [1, 2], "n": null},
            "template": {"spec": {"containers": [{"image": "no-name"}, "junk"]}}}});
        let paths = FieldSet::from_object(&obj, &deployment()).paths();
        assert_eq!(
            paths,
            [
                ".spec.custom.list",
                ".spec.custom.n",
                ".spec.template.spec.containers[0]",
                ".spec.template.spec.containers[0].image",
                ".spec.template.spec.containers[1]",
            ]
        );
        assert!(FieldSet::from_object(&json!("scalar"), &deployment()).is_empty());
    }

    #[test]
    fn fields_v1_round_trip() {
        let v = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}
                }}}
            },
            "f:finalizers": {"v:\"a\"": {}, "v:1": {}},
            "f:list": {"i:0": {}}
        });
        let set = parse(v.clone());
        assert!(set.contains(&[field("metadata"), field("labels")]));
        assert!(set.contains(&[field("metadata"), field("labels"), field("app")]));
        assert!(!set.contains(&[field("metadata")]));
        assert!(set.contains(&[field("list"), PathElement::Index(0)]));
        let out = set.to_fields_v1();
        assert_eq!(out, v);
        assert_eq!(parse(out), set);
    }

    #[test]
    fn fields_v1_keys_are_sorted_and_canonical() {
        let set = parse(json!({"k:{\"protocol\":\"TCP\",\"containerPort\":80}": {}, "f:b": {}, "f:a": {}}));
        let out = set.to_fields_v1();
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["f:a", "f:b", "k:{\"containerPort\":80,\"protocol\":\"TCP\"}"]);
    }

    #[test]
    fn fields_v1_errors_and_unknown_elements() {
        assert!(FieldSet::from_fields_v1(&json!({"nocolon": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"k:[1]": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"v:{bad": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"i:x": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"f:a": 1})).is_err());
        assert!(FieldSet::from_fields_v1(&json!([1])).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"zz:a": {}})).is_err());
        assert!(FieldSet::from_fields_v1(&json!(null)).unwrap().is_empty());
        // Unknown single-letter types are skipped; a node left with nothing is a member.
        let set = parse(json!({"x:1": {}, "f:a": {"x:2": {}}}));
        assert_eq!(set.paths(), [".a"]);
    }

    #[test]
    fn set_operations() {
        let a = parse(json!({"f:a": {}, "f:b": {"f:c": {}, "f:d": {}}, "f:e": {".": {}, "f:f": {}}}));
        let b = parse(json!({"f:b": {"f:c": {}}, "f:e": {}, "f:g": {}}));
        assert_eq!(a.union(&b).paths(), [".a", ".b.c", ".b.d", ".e", ".e.f", ".g"]);
        assert_eq!(a.difference(&b).paths(), [".a", ".b.d", ".e.f"]);
        assert_eq!(a.recursive_difference(&b).paths(), [".a", ".b.d"]);
        assert_eq!(a.intersection(&b).paths(), [".b.c", ".e"]);
        assert!(a.difference(&a).is_empty());
        assert!(a.intersection(&FieldSet::new()).is_empty());
        assert_eq!(FieldSet::new().union(&a), a);
    }

    #[test]
    fn insert_and_contains() {
        let mut set = FieldSet::new();
        set.insert(&[]);
        assert!(set.is_empty());
        set.insert(&[field("a"), field("b")]);
        assert!(set.contains(&[field("a"), field("b")]));
        assert!(!set.contains(&[field("a")]));
        assert!(!set.contains(&[]));
        assert!(set.touches(&field("a")));
        assert!(!set.has_member(&field("a")));
    }

    #[test]
    fn human_paths() {
        let path = [
            field("spec"),
            PathElement::Key(vec![("name".into(), json!("nginx"))]),
            PathElement::Value(json!(5)),
            PathElement::Index(2),
        ];
        assert_eq!(path_to_string(&path), ".spec[name=\"nginx\"][=5][2]");
    }

    #[test]
    fn element_ordering() {
        let mut elements = [
            PathElement::Index(1),
            PathElement::Value(json!("a")),
            PathElement::Key(vec![("name".into(), json!("b"))]),
            PathElement::Key(vec![("name".into(), json!("a"))]),
            field("z"),
            field("a"),
        ];
        elements.sort();
        let shown: Vec<String> = elements.iter().map(ToString::to_string).collect();
        assert_eq!(shown, [".a", ".z", "[name=\"a\"]", "[name=\"b\"]", "[=\"a\"]", "[1]"]);
        assert_eq!(PathElement::Value(json!(1)), PathElement::Value(json!(1.0)));
    }
}

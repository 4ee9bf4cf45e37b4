//! A small hand-built schema for the unit tests: a Deployment-like shape with
//! every kind of list the engines care about.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::schema::{ListType, PatchSchema};

#[derive(Debug, Default)]
struct NodeData {
    fields: BTreeMap<String, Node>,
    /// Schema of every value of a map (additionalProperties).
    values: Option<Node>,
    items: Option<Node>,
    list_type: ListType,
    merge_key: Option<String>,
    merge: bool,
    retain_keys: bool,
}

/// One node of the test schema. Undeclared fields are unknown (`None`).
#[derive(Clone, Debug, Default)]
pub struct Node(Rc<NodeData>);

impl Node {
    pub fn scalar() -> Node {
        Node::default()
    }

    pub fn object(fields: Vec<(&str, Node)>) -> Node {
        let fields = fields.into_iter().map(|(name, node)| (name.to_string(), node)).collect();
        Node(Rc::new(NodeData { fields, ..NodeData::default() }))
    }

    pub fn map_of(values: Node) -> Node {
        Node(Rc::new(NodeData { values: Some(values), ..NodeData::default() }))
    }

    pub fn atomic_list(items: Node) -> Node {
        Node(Rc::new(NodeData { items: Some(items), ..NodeData::default() }))
    }

    /// A set of scalars with patch strategy `merge` (like finalizers).
    pub fn set(items: Node) -> Node {
        Node(Rc::new(NodeData { items: Some(items), list_type: ListType::Set, merge: true, ..NodeData::default() }))
    }

    /// A list of objects keyed by `keys`, merged on `keys[0]` by strategic merge.
    pub fn map_list(items: Node, keys: &[&str]) -> Node {
        Node(Rc::new(NodeData {
            items: Some(items),
            list_type: ListType::Map(keys.iter().map(|k| k.to_string()).collect()),
            merge_key: keys.first().map(|k| k.to_string()),
            merge: true,
            ..NodeData::default()
        }))
    }

    /// Like `map_list` but with patch strategy `merge,retainKeys`.
    pub fn retain_keys_map_list(items: Node, keys: &[&str]) -> Node {
        let mut data = Rc::try_unwrap(Node::map_list(items, keys).0).unwrap_or_default();
        data.retain_keys = true;
        Node(Rc::new(data))
    }
}

impl PatchSchema for Node {
    fn field(&self, name: &str) -> Option<Self> {
        self.0.fields.get(name).cloned().or_else(|| self.0.values.clone())
    }
    fn items(&self) -> Option<Self> {
        self.0.items.clone()
    }
    fn list_type(&self) -> ListType {
        self.0.list_type.clone()
    }
    fn patch_merge_key(&self) -> Option<String> {
        self.0.merge_key.clone()
    }
    fn patch_strategy_merge(&self) -> bool {
        self.0.merge
    }
    fn patch_strategy_retain_keys(&self) -> bool {
        self.0.retain_keys
    }
}

/// A Deployment-like schema: containers keyed by name, ports keyed by
/// (containerPort, protocol), env keyed by name, finalizers a set, volumes
/// with retainKeys, args an atomic list.
pub fn deployment() -> Node {
    let env = Node::map_list(Node::object(vec![("name", Node::scalar()), ("value", Node::scalar())]), &["name"]);
    let ports = Node::map_list(
        Node::object(vec![("containerPort", Node::scalar()), ("protocol", Node::scalar()), ("name", Node::scalar())]),
        &["containerPort", "protocol"],
    );
    let container = Node::object(vec![
        ("name", Node::scalar()),
        ("image", Node::scalar()),
        ("args", Node::atomic_list(Node::scalar())),
        ("env", env),
        ("ports", ports),
        ("resources", Node::object(vec![("limits", Node::map_of(Node::scalar()))])),
    ]);
    let volume = Node::object(vec![
        ("name", Node::scalar()),
        ("emptyDir", Node::object(vec![("medium", Node::scalar())])),
        ("hostPath", Node::object(vec![("path", Node::scalar())])),
        ("configMap", Node::object(vec![("name", Node::scalar())])),
    ]);
    let pod_spec = Node::object(vec![
        ("containers", Node::map_list(container, &["name"])),
        ("volumes", Node::retain_keys_map_list(volume, &["name"])),
        ("nodeSelector", Node::map_of(Node::scalar())),
    ]);
    let metadata = Node::object(vec![
        ("name", Node::scalar()),
        ("namespace", Node::scalar()),
        ("labels", Node::map_of(Node::scalar())),
        ("annotations", Node::map_of(Node::scalar())),
        ("finalizers", Node::set(Node::scalar())),
    ]);
    let template = Node::object(vec![("metadata", metadata.clone()), ("spec", pod_spec)]);
    let spec = Node::object(vec![
        ("replicas", Node::scalar()),
        ("paused", Node::scalar()),
        ("selector", Node::object(vec![("matchLabels", Node::map_of(Node::scalar()))])),
        ("template", template),
    ]);
    Node::object(vec![
        ("apiVersion", Node::scalar()),
        ("kind", Node::scalar()),
        ("metadata", metadata),
        ("spec", spec),
        ("status", Node::object(vec![("replicas", Node::scalar())])),
    ])
}

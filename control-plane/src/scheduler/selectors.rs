//! Label selectors (pods) and node selector terms (nodes).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, NodeSelectorTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

pub fn labels_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &BTreeMap<String, String> {
    meta.labels.as_ref().unwrap_or(&NO_LABELS)
}

/// A node's value for a topology key. The kubelet always sets `kubernetes.io/hostname`;
/// falling back to the node name keeps per-node spreading working if an agent forgets it.
pub fn node_topology_value<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    match labels_of(&node.metadata).get(key) {
        Some(value) => Some(value.as_str()),
        None if key == HOSTNAME_LABEL => node.metadata.name.as_deref(),
        None => None,
    }
}

/// Whether `selector` selects `labels`. An absent selector selects nothing; `{}` selects everything.
pub fn selector_matches(selector: Option<&LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    let Some(selector) = selector else {
        return false;
    };
    let labels_match =
        selector.match_labels.iter().flatten().all(|(key, value)| labels.get(key).is_some_and(|v| v == value));
    labels_match
        && selector.match_expressions.iter().flatten().all(|req| {
            let values = req.values.as_deref().unwrap_or_default();
            let current = labels.get(&req.key);
            match req.operator.as_str() {
                "In" => current.is_some_and(|v| values.contains(v)),
                "NotIn" => current.is_none_or(|v| !values.contains(v)),
                "Exists" => current.is_some(),
                "DoesNotExist" => current.is_none(),
                _ => false,
            }
        })
}

/// OR of terms; an empty list matches nothing.
pub fn node_matches_any_term(node: &Node, terms: &[NodeSelectorTerm]) -> bool {
    terms.iter().any(|term| node_matches_term(node, term))
}

/// AND of a term's expressions and fields; a term with no requirements matches nothing.
pub fn node_matches_term(node: &Node, term: &NodeSelectorTerm) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    let labels = labels_of(&node.metadata);
    let name = node.metadata.name.as_deref().unwrap_or_default();
    expressions.iter().all(|req| requirement_matches(req, labels.get(&req.key).map(String::as_str)))
        && fields.iter().all(|req| req.key == "metadata.name" && requirement_matches(req, Some(name)))
}

fn requirement_matches(req: &NodeSelectorRequirement, current: Option<&str>) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    let number = |text: &str| text.parse::<i64>().ok();
    let single_bound = || if values.len() == 1 { number(&values[0]) } else { None };
    match req.operator.as_str() {
        "In" => current.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => current.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => current.is_some(),
        "DoesNotExist" => current.is_none(),
        "Gt" => matches!((current.and_then(number), single_bound()), (Some(v), Some(b)) if v > b),
        "Lt" => matches!((current.and_then(number), single_bound()), (Some(v), Some(b)) if v < b),
        _ => false,
    }
}

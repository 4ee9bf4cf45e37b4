//! Which topology spread constraints apply to a pod, and which pods they count.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::context::pod_namespace;
use super::node_filters::matches_node_selector_and_affinity;
use super::selectors::{labels_of, selector_matches, HOSTNAME_LABEL};
use super::taints::{effective_taints, first_untolerated_hard_taint};

pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// Which existing pods a constraint counts (always within the new pod's namespace).
#[derive(Debug, Clone)]
pub enum PodMatcher {
    Selector(Option<LabelSelector>),
    /// System default spreading: pods of the same controller (ReplicaSet, StatefulSet, ...).
    SameController(String),
    /// System default spreading for pods without a controller: pods carrying all the same labels.
    SameLabels(BTreeMap<String, String>),
}

#[derive(Debug, Clone)]
pub struct SpreadConstraint {
    pub topology_key: String,
    pub max_skew: i64,
    pub min_domains: i64,
    pub matcher: PodMatcher,
    pub honor_node_affinity: bool,
    pub honor_taints: bool,
}

impl SpreadConstraint {
    /// Whether `candidate` counts for this constraint of a pod in `namespace`.
    pub fn counts(&self, namespace: &str, candidate: &Pod) -> bool {
        if pod_namespace(candidate) != namespace || candidate.metadata.deletion_timestamp.is_some() {
            return false;
        }
        self.selects(candidate)
    }

    /// Label/owner match only (used for the pod itself too).
    pub fn selects(&self, candidate: &Pod) -> bool {
        match &self.matcher {
            PodMatcher::Selector(selector) => selector_matches(selector.as_ref(), labels_of(&candidate.metadata)),
            PodMatcher::SameController(uid) => controller_uid(candidate) == Some(uid.as_str()),
            PodMatcher::SameLabels(wanted) => {
                let labels = labels_of(&candidate.metadata);
                wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
            }
        }
    }

    /// nodeAffinityPolicy (default Honor) and nodeTaintsPolicy (default Ignore).
    pub fn includes_node(&self, pod: &Pod, node: &Node) -> bool {
        if self.honor_node_affinity && !matches_node_selector_and_affinity(pod, node) {
            return false;
        }
        !self.honor_taints || first_untolerated_hard_taint(pod, &effective_taints(node)).is_none()
    }
}

fn controller_uid(pod: &Pod) -> Option<&str> {
    let owners = pod.metadata.owner_references.as_deref().unwrap_or_default();
    owners.iter().find(|o| o.controller == Some(true)).map(|o| o.uid.as_str())
}

fn from_spec(pod: &Pod, spec: &TopologySpreadConstraint) -> SpreadConstraint {
    let mut selector = spec.label_selector.clone();
    // matchLabelKeys: AND the pod's own values for those keys into the selector.
    if let (Some(selector), Some(keys)) = (selector.as_mut(), spec.match_label_keys.as_ref()) {
        let labels = labels_of(&pod.metadata);
        for key in keys {
            if let Some(value) = labels.get(key) {
                selector.match_labels.get_or_insert_with(BTreeMap::new).insert(key.clone(), value.clone());
            }
        }
    }
    SpreadConstraint {
        topology_key: spec.topology_key.clone(),
        max_skew: i64::from(spec.max_skew),
        min_domains: i64::from(spec.min_domains.unwrap_or(1)),
        matcher: PodMatcher::Selector(selector),
        honor_node_affinity: spec.node_affinity_policy.as_deref() != Some("Ignore"),
        honor_taints: spec.node_taints_policy.as_deref() == Some("Honor"),
    }
}

fn explicit(pod: &Pod) -> &[TopologySpreadConstraint] {
    pod.spec.as_ref().and_then(|s| s.topology_spread_constraints.as_deref()).unwrap_or_default()
}

/// The pod's constraints with the given whenUnsatisfiable.
pub fn explicit_constraints(pod: &Pod, when_unsatisfiable: &str) -> Vec<SpreadConstraint> {
    explicit(pod).iter().filter(|c| c.when_unsatisfiable == when_unsatisfiable).map(|c| from_spec(pod, c)).collect()
}

/// Scoring constraints: the pod's ScheduleAnyway ones, or kube-scheduler's system
/// defaults when it declares none at all. The bool tells whether they are system defaults.
pub fn scoring_constraints(pod: &Pod) -> (Vec<SpreadConstraint>, bool) {
    if !explicit(pod).is_empty() {
        return (explicit_constraints(pod, "ScheduleAnyway"), false);
    }
    let matcher = match controller_uid(pod) {
        Some(uid) => PodMatcher::SameController(uid.to_string()),
        None if !labels_of(&pod.metadata).is_empty() => PodMatcher::SameLabels(labels_of(&pod.metadata).clone()),
        None => return (Vec::new(), true),
    };
    let default = |key: &str, max_skew| SpreadConstraint {
        topology_key: key.to_string(),
        max_skew,
        min_domains: 1,
        matcher: matcher.clone(),
        honor_node_affinity: true,
        honor_taints: false,
    };
    (vec![default(HOSTNAME_LABEL, 3), default(ZONE_LABEL, 5)], true)
}

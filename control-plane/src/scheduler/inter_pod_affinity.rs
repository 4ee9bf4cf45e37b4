//! InterPodAffinity: required terms as a filter, preferred terms as a score.
//!
//! Both work on topology pairs (topologyKey, value): an existing pod on a node
//! stands for every node sharing that node's value for the key.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::{Node, Pod};

use super::context::{pod_namespace, NodeView};
use super::pod_affinity_terms::{affinity_terms, anti_affinity_terms, term_selects};
use super::reasons;
use super::selectors::node_topology_value;

type TopologyPair = (String, String);

fn pair_of(node: &Node, key: &str) -> Option<TopologyPair> {
    node_topology_value(node, key).map(|value| (key.to_string(), value.to_string()))
}

/// Counts gathered over all nodes before filtering any of them.
pub struct PodAffinityFilter {
    /// Pairs where an existing pod's required anti-affinity selects the new pod.
    existing_anti: HashSet<TopologyPair>,
    /// Pairs holding a pod that matches all of the new pod's required affinity terms.
    affinity_counts: HashMap<TopologyPair, i64>,
    /// Pairs holding a pod matched by one of the new pod's required anti-affinity terms.
    anti_counts: HashMap<TopologyPair, i64>,
    /// First pod of a self-affine group: no pod anywhere matches, but the pod matches itself.
    first_of_group: bool,
}

impl PodAffinityFilter {
    pub fn new(pod: &Pod, views: &[NodeView]) -> PodAffinityFilter {
        let namespace = pod_namespace(pod);
        let affinity = affinity_terms(pod).required;
        let anti = anti_affinity_terms(pod).required;
        let mut filter = PodAffinityFilter {
            existing_anti: HashSet::new(),
            affinity_counts: HashMap::new(),
            anti_counts: HashMap::new(),
            first_of_group: false,
        };
        for view in views {
            let node = &view.state.node;
            for existing in &view.pods {
                let existing_namespace = pod_namespace(existing);
                for term in anti_affinity_terms(existing).required {
                    if term_selects(term, existing_namespace, pod) {
                        filter.existing_anti.extend(pair_of(node, &term.topology_key));
                    }
                }
                if !affinity.is_empty() && affinity.iter().all(|t| term_selects(t, namespace, existing)) {
                    for term in affinity {
                        if let Some(pair) = pair_of(node, &term.topology_key) {
                            *filter.affinity_counts.entry(pair).or_insert(0) += 1;
                        }
                    }
                }
                for term in anti.iter().filter(|t| term_selects(t, namespace, existing)) {
                    if let Some(pair) = pair_of(node, &term.topology_key) {
                        *filter.anti_counts.entry(pair).or_insert(0) += 1;
                    }
                }
            }
        }
        filter.first_of_group =
            filter.affinity_counts.is_empty() && affinity.iter().all(|t| term_selects(t, namespace, pod));
        filter
    }

    /// Existing pods' anti-affinity first, then the pod's affinity, then its anti-affinity.
    pub fn check(&self, pod: &Pod, node: &Node) -> Result<(), Vec<String>> {
        let blocked = self.existing_anti.iter().any(|(key, value)| node_topology_value(node, key) == Some(value));
        if blocked {
            return Err(vec![reasons::EXISTING_ANTI_AFFINITY.into()]);
        }
        if !self.satisfies_affinity(pod, node) {
            return Err(vec![reasons::POD_AFFINITY.into()]);
        }
        let anti_hit = anti_affinity_terms(pod).required.iter().any(|term| {
            pair_of(node, &term.topology_key).is_some_and(|pair| self.anti_counts.get(&pair).is_some_and(|c| *c > 0))
        });
        if anti_hit {
            return Err(vec![reasons::POD_ANTI_AFFINITY.into()]);
        }
        Ok(())
    }

    fn satisfies_affinity(&self, pod: &Pod, node: &Node) -> bool {
        let mut pods_exist = true;
        for term in affinity_terms(pod).required {
            // All topology keys must exist on the node, even for the first pod of a group.
            let Some(pair) = pair_of(node, &term.topology_key) else {
                return false;
            };
            if self.affinity_counts.get(&pair).is_none_or(|c| *c <= 0) {
                pods_exist = false;
            }
        }
        pods_exist || self.first_of_group
    }
}

/// Raw preferred-affinity scores per topology pair (before per-node summing).
pub struct PodAffinityScorer {
    scores: HashMap<String, HashMap<String, i64>>,
}

/// kube-scheduler's default weight for existing pods' required affinity terms that select the new pod.
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

impl PodAffinityScorer {
    pub fn new(pod: &Pod, views: &[NodeView]) -> PodAffinityScorer {
        let mut scorer = PodAffinityScorer { scores: HashMap::new() };
        let namespace = pod_namespace(pod);
        let own_affinity = affinity_terms(pod).preferred;
        let own_anti = anti_affinity_terms(pod).preferred;
        for view in views {
            let node = &view.state.node;
            for existing in &view.pods {
                let existing_namespace = pod_namespace(existing);
                for w in own_affinity.iter().filter(|w| term_selects(&w.pod_affinity_term, namespace, existing)) {
                    scorer.add(node, &w.pod_affinity_term.topology_key, i64::from(w.weight));
                }
                for w in own_anti.iter().filter(|w| term_selects(&w.pod_affinity_term, namespace, existing)) {
                    scorer.add(node, &w.pod_affinity_term.topology_key, -i64::from(w.weight));
                }
                let theirs = affinity_terms(existing);
                for term in theirs.required.iter().filter(|t| term_selects(t, existing_namespace, pod)) {
                    scorer.add(node, &term.topology_key, HARD_POD_AFFINITY_WEIGHT);
                }
                for w in theirs.preferred.iter().filter(|w| term_selects(&w.pod_affinity_term, existing_namespace, pod))
                {
                    scorer.add(node, &w.pod_affinity_term.topology_key, i64::from(w.weight));
                }
                let their_anti = anti_affinity_terms(existing).preferred;
                for w in their_anti.iter().filter(|w| term_selects(&w.pod_affinity_term, existing_namespace, pod)) {
                    scorer.add(node, &w.pod_affinity_term.topology_key, -i64::from(w.weight));
                }
            }
        }
        scorer
    }

    fn add(&mut self, node: &Node, key: &str, weight: i64) {
        if let Some(value) = node_topology_value(node, key) {
            *self.scores.entry(key.to_string()).or_default().entry(value.to_string()).or_insert(0) += weight;
        }
    }

    pub fn raw_score(&self, node: &Node) -> i64 {
        self.scores.iter().filter_map(|(key, values)| node_topology_value(node, key).and_then(|v| values.get(v))).sum()
    }
}

/// Scale raw scores linearly so the lowest becomes 0 and the highest 100.
pub fn normalize_min_max(raw: &[i64]) -> Vec<i64> {
    let (Some(min), Some(max)) = (raw.iter().min(), raw.iter().max()) else {
        return Vec::new();
    };
    let spread = max - min;
    raw.iter().map(|s| if spread > 0 { (100.0 * ((s - min) as f64 / spread as f64)) as i64 } else { 0 }).collect()
}

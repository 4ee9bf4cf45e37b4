//! PodTopologySpread: DoNotSchedule constraints filter, ScheduleAnyway (or system
//! default) constraints score.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Node, Pod};

use super::context::{pod_namespace, NodeView};
use super::reasons;
use super::selectors::{node_topology_value, HOSTNAME_LABEL};
use super::spread_constraints::{explicit_constraints, scoring_constraints, SpreadConstraint};

fn has_all_keys(node: &Node, constraints: &[SpreadConstraint]) -> bool {
    constraints.iter().all(|c| node_topology_value(node, &c.topology_key).is_some())
}

fn count_on_node(constraint: &SpreadConstraint, namespace: &str, view: &NodeView) -> i64 {
    let matching = view.pods.iter().filter(|p| constraint.counts(namespace, p)).count();
    i64::try_from(matching).unwrap_or(i64::MAX)
}

/// Matching pod counts per domain value, one map per DoNotSchedule constraint.
pub struct SpreadFilter {
    constraints: Vec<SpreadConstraint>,
    counts: Vec<BTreeMap<String, i64>>,
}

impl SpreadFilter {
    pub fn new(pod: &Pod, views: &[NodeView]) -> SpreadFilter {
        let constraints = explicit_constraints(pod, "DoNotSchedule");
        let namespace = pod_namespace(pod);
        let mut counts = vec![BTreeMap::new(); constraints.len()];
        for view in views {
            let node = &view.state.node;
            if !has_all_keys(node, &constraints) {
                continue;
            }
            for (constraint, domain_counts) in constraints.iter().zip(counts.iter_mut()) {
                if !constraint.includes_node(pod, node) {
                    continue;
                }
                if let Some(value) = node_topology_value(node, &constraint.topology_key) {
                    *domain_counts.entry(value.to_string()).or_insert(0) += count_on_node(constraint, namespace, view);
                }
            }
        }
        SpreadFilter { constraints, counts }
    }

    pub fn check(&self, pod: &Pod, node: &Node) -> Result<(), Vec<String>> {
        if !has_all_keys(node, &self.constraints) {
            return Err(vec![reasons::SPREAD_MISSING_LABEL.into()]);
        }
        for (constraint, domain_counts) in self.constraints.iter().zip(&self.counts) {
            let value = node_topology_value(node, &constraint.topology_key).unwrap_or_default();
            let here = domain_counts.get(value).copied().unwrap_or(0);
            let enough_domains = i64::try_from(domain_counts.len()).unwrap_or(i64::MAX) >= constraint.min_domains;
            // Too few domains: treat the global minimum as 0 so pods go to new domains.
            let global_min = if enough_domains { domain_counts.values().copied().min().unwrap_or(0) } else { 0 };
            let self_match = i64::from(constraint.selects(pod));
            if here + self_match - global_min > constraint.max_skew {
                return Err(vec![reasons::SPREAD_CONSTRAINTS.into()]);
            }
        }
        Ok(())
    }
}

/// Spread scores for the feasible nodes (same order), normalised to 0..100 (fewer matching pods is better).
pub fn spread_scores(pod: &Pod, all: &[NodeView], feasible: &[&NodeView]) -> Vec<i64> {
    let (constraints, system_default) = scoring_constraints(pod);
    if constraints.is_empty() {
        return vec![0; feasible.len()];
    }
    let namespace = pod_namespace(pod);
    // Explicit constraints need every key on a node; system defaults skip missing keys.
    let require_all = !system_default;
    let ignored: Vec<bool> =
        feasible.iter().map(|v| require_all && !has_all_keys(&v.state.node, &constraints)).collect();
    let scored = || feasible.iter().zip(&ignored).filter(|(_, ignored)| !**ignored).map(|(v, _)| *v);

    let mut counts: Vec<BTreeMap<String, i64>> = constraints
        .iter()
        .map(|c| {
            let values = scored().filter_map(|v| node_topology_value(&v.state.node, &c.topology_key));
            values.map(|v| (v.to_string(), 0)).collect()
        })
        .collect();
    let weights: Vec<f64> = constraints
        .iter()
        .zip(&counts)
        .map(|(c, domains)| {
            let size = if c.topology_key == HOSTNAME_LABEL { scored().count() } else { domains.len() };
            ((size + 2) as f64).ln()
        })
        .collect();
    for view in all {
        let node = &view.state.node;
        if require_all && !has_all_keys(node, &constraints) {
            continue;
        }
        for (constraint, domain_counts) in constraints.iter().zip(counts.iter_mut()) {
            if !constraint.includes_node(pod, node) {
                continue;
            }
            let value = node_topology_value(node, &constraint.topology_key);
            if let Some(count) = value.and_then(|v| domain_counts.get_mut(v)) {
                *count += count_on_node(constraint, namespace, view);
            }
        }
    }

    let raw: Vec<i64> = feasible
        .iter()
        .map(|view| {
            let node = &view.state.node;
            let mut score = 0.0;
            for ((constraint, domain_counts), weight) in constraints.iter().zip(&counts).zip(&weights) {
                let Some(value) = node_topology_value(node, &constraint.topology_key) else {
                    continue;
                };
                let count = if constraint.topology_key == HOSTNAME_LABEL {
                    count_on_node(constraint, namespace, view)
                } else {
                    domain_counts.get(value).copied().unwrap_or(0)
                };
                score += count as f64 * weight + (constraint.max_skew - 1) as f64;
            }
            score.round() as i64
        })
        .collect();
    normalize_spread(&raw, &ignored)
}

/// Fewest matching pods gets 100; ignored nodes get 0.
fn normalize_spread(raw: &[i64], ignored: &[bool]) -> Vec<i64> {
    let considered: BTreeSet<i64> = raw.iter().zip(ignored).filter(|(_, i)| !**i).map(|(s, _)| *s).collect();
    let (Some(min), Some(max)) = (considered.first().copied(), considered.last().copied()) else {
        return vec![0; raw.len()];
    };
    raw.iter()
        .zip(ignored)
        .map(|(s, ignored)| match (*ignored, max) {
            (true, _) => 0,
            (false, 0) => 100,
            (false, _) => 100 * (max + min - s) / max,
        })
        .collect()
}

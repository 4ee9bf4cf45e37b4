//! Keel's scheduler algorithm: kube-scheduler's default filters and scores, as pure logic.
//!
//! The caller watches Nodes and Pods, hands a pending pod and the candidate nodes
//! (with the pods bound to each) to [`schedule`], then binds or records the
//! FailedScheduling event itself.

mod context;
mod filtering;
mod inter_pod_affinity;
mod node_filters;
mod node_scores;
mod pod_affinity_terms;
mod quantity;
mod reasons;
mod resources;
mod scoring;
mod selectors;
mod spread_constraints;
pub mod taints;
mod tie_break;
mod topology_spread;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};

use context::NodeView;

/// One candidate node and the non-terminal pods bound to it (including ones just bound by the caller).
#[derive(Debug, Clone)]
pub struct NodeState {
    pub node: Arc<Node>,
    pub pods: Vec<Arc<Pod>>,
}

/// Every node the pod may be placed on.
#[derive(Debug, Clone, Copy)]
pub struct Cluster<'a> {
    pub nodes: &'a [NodeState],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Bind the pod to `node`; `score` is the winning weighted total.
    Bind { node: String, score: i64 },
    /// No node fits; `message` is kube-scheduler's FailedScheduling wording.
    Unschedulable { message: String },
}

/// Pick a node for `pod` (whose `spec.nodeName` is unset) or explain why none fits.
pub fn schedule(pod: &Pod, cluster: &Cluster) -> Outcome {
    if cluster.nodes.is_empty() {
        return Outcome::Unschedulable { message: reasons::NO_NODES.to_string() };
    }
    let views: Vec<NodeView> = cluster.nodes.iter().map(|state| NodeView::new(state, pod)).collect();
    let filtered = filtering::filter_nodes(pod, &views);
    if filtered.feasible.is_empty() {
        let message = reasons::unschedulable_message(views.len(), &filtered.failures);
        return Outcome::Unschedulable { message };
    }
    let feasible: Vec<&NodeView> = filtered.feasible.iter().map(|i| &views[*i]).collect();
    let totals = scoring::score_nodes(pod, &views, &feasible);
    let best = feasible
        .iter()
        .zip(totals)
        .max_by_key(|(view, total)| (*total, tie_break::tie_key(pod, view.name())))
        .map(|(view, total)| (view.name().to_string(), total));
    match best {
        Some((node, score)) => Outcome::Bind { node, score },
        None => Outcome::Unschedulable { message: reasons::NO_NODES.to_string() },
    }
}

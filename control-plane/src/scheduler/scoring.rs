//! Weighted sum of the score plugins over the feasible nodes (kube-scheduler default weights).

use k8s_openapi::api::core::v1::Pod;

use super::context::NodeView;
use super::inter_pod_affinity::{normalize_min_max, PodAffinityScorer};
use super::node_scores::{
    balanced_allocation, least_allocated, node_affinity_raw, normalize_to_max, taint_toleration_raw, PodRequests,
};
use super::topology_spread::spread_scores;

const LEAST_ALLOCATED_WEIGHT: i64 = 1;
const BALANCED_ALLOCATION_WEIGHT: i64 = 1;
const NODE_AFFINITY_WEIGHT: i64 = 2;
const TAINT_TOLERATION_WEIGHT: i64 = 3;
const INTER_POD_AFFINITY_WEIGHT: i64 = 2;
const TOPOLOGY_SPREAD_WEIGHT: i64 = 2;

/// Totals for `feasible`, in the same order.
pub fn score_nodes(pod: &Pod, all: &[NodeView], feasible: &[&NodeView]) -> Vec<i64> {
    let requests = PodRequests::of(pod);
    let per_node = |f: &dyn Fn(&NodeView) -> i64| feasible.iter().map(|v| f(v)).collect::<Vec<i64>>();

    let least = per_node(&|v| least_allocated(&requests.non_zero, v));
    let balanced = per_node(&|v| balanced_allocation(&requests.actual, v));
    let node_affinity = normalize_to_max(&per_node(&|v| node_affinity_raw(pod, v)), false);
    let taints = normalize_to_max(&per_node(&|v| taint_toleration_raw(pod, v)), true);
    let scorer = PodAffinityScorer::new(pod, all);
    let pod_affinity = normalize_min_max(&per_node(&|v| scorer.raw_score(&v.state.node)));
    let spread = spread_scores(pod, all, feasible);

    (0..feasible.len())
        .map(|i| {
            least[i] * LEAST_ALLOCATED_WEIGHT
                + balanced[i] * BALANCED_ALLOCATION_WEIGHT
                + node_affinity[i] * NODE_AFFINITY_WEIGHT
                + taints[i] * TAINT_TOLERATION_WEIGHT
                + pod_affinity[i] * INTER_POD_AFFINITY_WEIGHT
                + spread[i] * TOPOLOGY_SPREAD_WEIGHT
        })
        .collect()
}

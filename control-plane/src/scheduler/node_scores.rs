//! Per-node scores: NodeResourcesFit (LeastAllocated), BalancedAllocation,
//! NodeAffinity (preferred terms) and TaintToleration (PreferNoSchedule).

use k8s_openapi::api::core::v1::Pod;

use super::context::NodeView;
use super::resources::{node_allocatable, node_requested, pod_requests, RequestMode, Resources, CPU, MEMORY};
use super::selectors::node_matches_term;
use super::taints::intolerable_soft_taints;

pub const MAX_NODE_SCORE: i64 = 100;

/// Average over cpu and memory of the free share after placing the pod (default-request accounting).
pub fn least_allocated(pod_request_nonzero: &Resources, view: &NodeView) -> i64 {
    let allocatable = node_allocatable(&view.state.node);
    let requested = node_requested(&view.pods, RequestMode::NonZero);
    let per_resource = [CPU, MEMORY].map(|name| {
        let capacity = allocatable.get(name);
        let used = requested.get(name).saturating_add(pod_request_nonzero.get(name));
        if capacity == 0 || used > capacity {
            0
        } else {
            (capacity - used) * MAX_NODE_SCORE / capacity
        }
    });
    per_resource.iter().sum::<i64>() / 2
}

/// 100 when cpu and memory would be used in the same proportion; skipped (0) for best-effort pods.
pub fn balanced_allocation(pod_request: &Resources, view: &NodeView) -> i64 {
    if pod_request.get(CPU) == 0 && pod_request.get(MEMORY) == 0 {
        return 0;
    }
    let allocatable = node_allocatable(&view.state.node);
    let fractions: Vec<f64> = [CPU, MEMORY]
        .iter()
        .filter(|name| allocatable.get(name) > 0)
        .map(|name| {
            let used = view.requested.get(name).saturating_add(pod_request.get(name));
            (used as f64 / allocatable.get(name) as f64).min(1.0)
        })
        .collect();
    let std_dev = if fractions.len() == 2 { ((fractions[0] - fractions[1]) / 2.0).abs() } else { 0.0 };
    ((1.0 - std_dev) * MAX_NODE_SCORE as f64) as i64
}

/// Sum of weights of the preferred node affinity terms the node matches (raw).
pub fn node_affinity_raw(pod: &Pod, view: &NodeView) -> i64 {
    let preferred = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| na.preferred_during_scheduling_ignored_during_execution.as_deref())
        .unwrap_or_default();
    preferred
        .iter()
        .filter(|t| t.weight != 0 && node_matches_term(&view.state.node, &t.preference))
        .map(|t| i64::from(t.weight))
        .sum()
}

/// Count of PreferNoSchedule taints the pod does not tolerate (raw; fewer is better).
pub fn taint_toleration_raw(pod: &Pod, view: &NodeView) -> i64 {
    intolerable_soft_taints(pod, &view.taints)
}

/// kube-scheduler's DefaultNormalizeScore: scale to the maximum, optionally reversed.
pub fn normalize_to_max(raw: &[i64], reverse: bool) -> Vec<i64> {
    let max = raw.iter().copied().max().unwrap_or(0);
    if max == 0 {
        return vec![if reverse { MAX_NODE_SCORE } else { 0 }; raw.len()];
    }
    raw.iter()
        .map(|s| {
            let scaled = MAX_NODE_SCORE * s / max;
            if reverse {
                MAX_NODE_SCORE - scaled
            } else {
                scaled
            }
        })
        .collect()
}

/// Pod requests computed once per attempt.
pub struct PodRequests {
    pub actual: Resources,
    pub non_zero: Resources,
}

impl PodRequests {
    pub fn of(pod: &Pod) -> PodRequests {
        PodRequests {
            actual: pod_requests(pod, RequestMode::Actual),
            non_zero: pod_requests(pod, RequestMode::NonZero),
        }
    }
}

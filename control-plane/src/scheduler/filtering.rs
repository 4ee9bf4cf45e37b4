//! Runs the filters per node in kube-scheduler's order, stopping at the first failing plugin.

use k8s_openapi::api::core::v1::Pod;

use super::context::NodeView;
use super::inter_pod_affinity::PodAffinityFilter;
use super::node_filters;
use super::resources::{pod_requests, RequestMode};
use super::topology_spread::SpreadFilter;

pub struct FilterResult {
    /// Indices (into the views) of nodes that passed every filter.
    pub feasible: Vec<usize>,
    /// For each failing node, the reasons of its first failing filter.
    pub failures: Vec<Vec<String>>,
}

pub fn filter_nodes(pod: &Pod, views: &[NodeView]) -> FilterResult {
    let request = pod_requests(pod, RequestMode::Actual);
    let spread = SpreadFilter::new(pod, views);
    let affinity = PodAffinityFilter::new(pod, views);
    let mut result = FilterResult { feasible: Vec::new(), failures: Vec::new() };
    for (index, view) in views.iter().enumerate() {
        let node = &view.state.node;
        let outcome = node_filters::node_unschedulable(pod, view)
            .and_then(|()| node_filters::taint_toleration(pod, view))
            .and_then(|()| node_filters::node_affinity(pod, view))
            .and_then(|()| node_filters::node_ports(pod, view))
            .and_then(|()| node_filters::node_resources_fit(&request, view))
            .and_then(|()| spread.check(pod, node))
            .and_then(|()| affinity.check(pod, node));
        match outcome {
            Ok(()) => result.feasible.push(index),
            Err(reasons) => result.failures.push(reasons),
        }
    }
    result
}

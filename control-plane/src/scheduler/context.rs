//! Per-node facts computed once per scheduling attempt.

use k8s_openapi::api::core::v1::{Pod, Taint};

use super::resources::{node_requested, RequestMode, Resources};
use super::taints::effective_taints;
use super::NodeState;

pub struct NodeView<'a> {
    pub state: &'a NodeState,
    /// Pods on the node other than the one being scheduled.
    pub pods: Vec<&'a Pod>,
    pub taints: Vec<Taint>,
    /// Sum of actual requests of `pods`.
    pub requested: Resources,
}

impl<'a> NodeView<'a> {
    pub fn new(state: &'a NodeState, pod: &Pod) -> NodeView<'a> {
        let pods: Vec<&Pod> = state.pods.iter().map(|p| p.as_ref()).filter(|p| !same_pod(p, pod)).collect();
        let requested = node_requested(&pods, RequestMode::Actual);
        NodeView { state, pods, taints: effective_taints(&state.node), requested }
    }

    pub fn name(&self) -> &str {
        self.state.node.metadata.name.as_deref().unwrap_or_default()
    }
}

/// The caller might already list the pod (e.g. a retried bind); never count it against itself.
fn same_pod(a: &Pod, b: &Pod) -> bool {
    match (a.metadata.uid.as_deref(), b.metadata.uid.as_deref()) {
        (Some(x), Some(y)) => x == y,
        _ => a.metadata.namespace == b.metadata.namespace && a.metadata.name == b.metadata.name,
    }
}

pub fn pod_namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("default")
}

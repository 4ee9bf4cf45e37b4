//! What the API needs to know about the node's pods, supplied by the agent.

use std::path::PathBuf;

/// One container of a pod on this node.
#[derive(Clone, Debug)]
pub struct ContainerTarget {
    /// The runtime's state directory (for `Runtime::exec` and `Runtime::state`).
    pub state_dir: PathBuf,
    /// This container's log files, oldest first: the last is the current incarnation, the one before it is
    /// what `previous=true` reads.
    pub logs: Vec<PathBuf>,
    pub running: bool,
}

pub trait PodLookup: Send + Sync + 'static {
    /// `None` when the pod or container is not on this node.
    fn container(&self, namespace: &str, pod: &str, container: &str) -> Option<ContainerTarget>;
    /// The pod's network namespace file (port-forward connects to 127.0.0.1:<port> inside it).
    fn pod_netns(&self, namespace: &str, pod: &str) -> Option<PathBuf>;
}

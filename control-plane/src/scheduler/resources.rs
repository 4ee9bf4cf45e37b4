//! Resource accounting: what a pod requests and what a node offers.
//!
//! Amounts are kept per resource name: `cpu` in millicores, everything else in
//! base units (bytes, counts).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::quantity::{parse_milli_value, parse_value};

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

/// kube-scheduler's assumed request for containers that state none (scoring only).
const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// Amounts per resource name; missing means zero.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources(pub BTreeMap<String, i64>);

impl Resources {
    pub fn get(&self, name: &str) -> i64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    fn add(&mut self, other: &Resources) {
        for (name, amount) in &other.0 {
            let entry = self.0.entry(name.clone()).or_insert(0);
            *entry = entry.saturating_add(*amount);
        }
    }

    fn max_with(&mut self, other: &Resources) {
        for (name, amount) in &other.0 {
            let entry = self.0.entry(name.clone()).or_insert(0);
            *entry = (*entry).max(*amount);
        }
    }

    fn from_list(list: &BTreeMap<String, Quantity>) -> Resources {
        let parsed = list.iter().filter_map(|(name, q)| Some((name.clone(), amount_of(name, &q.0)?)));
        Resources(parsed.collect())
    }
}

fn amount_of(name: &str, text: &str) -> Option<i64> {
    if name == CPU {
        parse_milli_value(text)
    } else {
        parse_value(text)
    }
}

/// Which request figure to compute for a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestMode {
    /// What the pod asks for (filtering, balanced allocation).
    Actual,
    /// Containers without a cpu/memory request count as 100m / 200Mi (least-allocated scoring).
    NonZero,
}

/// The pod's effective request: max(app containers + sidecars, each init step) + overhead.
pub fn pod_requests(pod: &Pod, mode: RequestMode) -> Resources {
    let Some(spec) = pod.spec.as_ref() else {
        return Resources::default();
    };
    let mut total = Resources::default();
    for container in &spec.containers {
        total.add(&container_requests(container, mode));
    }
    // Sidecars (restartable init containers) keep running next to later init
    // containers and the app containers, so they add to both.
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for container in spec.init_containers.iter().flatten() {
        let own = container_requests(container, mode);
        if container.restart_policy.as_deref() == Some("Always") {
            total.add(&own);
            sidecars.add(&own);
            init_peak.max_with(&sidecars);
        } else {
            let mut step = own;
            step.add(&sidecars);
            init_peak.max_with(&step);
        }
    }
    total.max_with(&init_peak);
    if let Some(overhead) = spec.overhead.as_ref() {
        total.add(&Resources::from_list(overhead));
    }
    total
}

/// A container's requests; a resource with only a limit requests its limit (API defaulting).
fn container_requests(container: &Container, mode: RequestMode) -> Resources {
    let mut result = Resources::default();
    if let Some(resources) = container.resources.as_ref() {
        if let Some(limits) = resources.limits.as_ref() {
            result = Resources::from_list(limits);
        }
        if let Some(requests) = resources.requests.as_ref() {
            result.0.extend(Resources::from_list(requests).0);
        }
    }
    if mode == RequestMode::NonZero {
        for (name, default) in [(CPU, DEFAULT_MILLI_CPU_REQUEST), (MEMORY, DEFAULT_MEMORY_REQUEST)] {
            result.0.entry(name.to_string()).or_insert(default);
        }
    }
    result
}

/// Sum of the requests of pods already on a node.
pub fn node_requested(pods: &[&Pod], mode: RequestMode) -> Resources {
    let mut total = Resources::default();
    for pod in pods {
        total.add(&pod_requests(pod, mode));
    }
    total
}

/// `status.allocatable`, falling back to `status.capacity` when an agent reports only that.
pub fn node_allocatable(node: &Node) -> Resources {
    let status = node.status.as_ref();
    let list = status.and_then(|s| s.allocatable.as_ref()).or_else(|| status.and_then(|s| s.capacity.as_ref()));
    list.map(Resources::from_list).unwrap_or_default()
}

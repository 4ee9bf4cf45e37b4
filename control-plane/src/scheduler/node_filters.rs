//! Per-node filters that look only at the pod and the one node:
//! NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit.

use k8s_openapi::api::core::v1::{Node, Pod};

use super::context::NodeView;
use super::reasons;
use super::resources::{node_allocatable, Resources, CPU, EPHEMERAL_STORAGE, MEMORY, PODS};
use super::selectors::{labels_of, node_matches_any_term};
use super::taints::{blocked_by_cordon, first_untolerated_hard_taint};

pub fn node_unschedulable(pod: &Pod, view: &NodeView) -> Result<(), Vec<String>> {
    if blocked_by_cordon(pod, &view.state.node) {
        return Err(vec![reasons::UNSCHEDULABLE.into()]);
    }
    Ok(())
}

pub fn taint_toleration(pod: &Pod, view: &NodeView) -> Result<(), Vec<String>> {
    match first_untolerated_hard_taint(pod, &view.taints) {
        Some(taint) => Err(vec![reasons::untolerated_taint(&taint.key, taint.value.as_deref().unwrap_or(""))]),
        None => Ok(()),
    }
}

/// nodeSelector and required node affinity (also used by topology spread's node inclusion).
pub fn matches_node_selector_and_affinity(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return true;
    };
    let node_labels = labels_of(&node.metadata);
    let selector_ok =
        spec.node_selector.iter().flatten().all(|(key, value)| node_labels.get(key).is_some_and(|v| v == value));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| na.required_during_scheduling_ignored_during_execution.as_ref());
    selector_ok && required.is_none_or(|selector| node_matches_any_term(node, &selector.node_selector_terms))
}

pub fn node_affinity(pod: &Pod, view: &NodeView) -> Result<(), Vec<String>> {
    if matches_node_selector_and_affinity(pod, &view.state.node) {
        Ok(())
    } else {
        Err(vec![reasons::NODE_AFFINITY.into()])
    }
}

/// (protocol, hostIP, hostPort) of every container port that binds on the host.
fn host_ports(pod: &Pod) -> Vec<(String, String, i32)> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let sidecars = spec.init_containers.iter().flatten().filter(|c| c.restart_policy.as_deref() == Some("Always"));
    spec.containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let host_port = p.host_port.filter(|port| *port > 0)?;
            let protocol = p.protocol.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "TCP".into());
            let host_ip = p.host_ip.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "0.0.0.0".into());
            Some((protocol, host_ip, host_port))
        })
        .collect()
}

fn ports_conflict(a: &(String, String, i32), b: &(String, String, i32)) -> bool {
    let wildcard = |ip: &str| ip == "0.0.0.0" || ip == "::";
    a.0 == b.0 && a.2 == b.2 && (a.1 == b.1 || wildcard(&a.1) || wildcard(&b.1))
}

pub fn node_ports(pod: &Pod, view: &NodeView) -> Result<(), Vec<String>> {
    let wanted = host_ports(pod);
    if wanted.is_empty() {
        return Ok(());
    }
    let used: Vec<_> = view.pods.iter().flat_map(|p| host_ports(p)).collect();
    if wanted.iter().any(|w| used.iter().any(|u| ports_conflict(w, u))) {
        return Err(vec![reasons::NODE_PORTS.into()]);
    }
    Ok(())
}

/// Every shortfall is reported, in kube-scheduler's order: pods, cpu, memory, ephemeral-storage, others.
pub fn node_resources_fit(pod_request: &Resources, view: &NodeView) -> Result<(), Vec<String>> {
    let allocatable = node_allocatable(&view.state.node);
    let mut failures = Vec::new();
    let pod_count = i64::try_from(view.pods.len()).unwrap_or(i64::MAX);
    if pod_count.saturating_add(1) > allocatable.get(PODS) {
        failures.push(reasons::TOO_MANY_PODS.to_string());
    }
    let free = |name: &str| allocatable.get(name).saturating_sub(view.requested.get(name));
    for name in [CPU, MEMORY, EPHEMERAL_STORAGE] {
        let wanted = pod_request.get(name);
        if wanted > 0 && wanted > free(name) {
            failures.push(reasons::insufficient(name));
        }
    }
    let extended =
        pod_request.0.iter().filter(|(name, _)| ![CPU, MEMORY, EPHEMERAL_STORAGE, PODS].contains(&name.as_str()));
    for (name, wanted) in extended {
        if *wanted > 0 && *wanted > free(name) {
            failures.push(reasons::insufficient(name));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

//! kube-scheduler's filter failure reasons and FailedScheduling message wording.

use std::collections::BTreeMap;

pub const UNSCHEDULABLE: &str = "node(s) were unschedulable";
pub const NODE_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
pub const NODE_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";
pub const TOO_MANY_PODS: &str = "Too many pods";
pub const POD_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const POD_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const EXISTING_ANTI_AFFINITY: &str = "node(s) didn't satisfy existing pods anti-affinity rules";
pub const SPREAD_CONSTRAINTS: &str = "node(s) didn't match pod topology spread constraints";
pub const SPREAD_MISSING_LABEL: &str = "node(s) didn't match pod topology spread constraints (missing required label)";
pub const NO_NODES: &str = "no nodes available to schedule pods";

pub fn untolerated_taint(key: &str, value: &str) -> String {
    format!("node(s) had untolerated taint {{{key}: {value}}}")
}

pub fn insufficient(resource: &str) -> String {
    format!("Insufficient {resource}")
}

/// The FailedScheduling message for `total` nodes, given each failing node's reasons.
/// Like kube-scheduler, the "<count> <reason>" strings are sorted as strings.
pub fn unschedulable_message(total: usize, per_node: &[Vec<String>]) -> String {
    if total == 0 {
        return NO_NODES.to_string();
    }
    let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
    for reasons in per_node {
        for reason in reasons {
            *histogram.entry(reason.as_str()).or_insert(0) += 1;
        }
    }
    let mut entries: Vec<String> = histogram.iter().map(|(reason, count)| format!("{count} {reason}")).collect();
    entries.sort();
    let mut message = format!("0/{total} nodes are available:");
    if !entries.is_empty() {
        message.push_str(&format!(" {}.", entries.join(", ")));
    }
    // No preemption in Keel: every node is reported as not helped by it, like
    // kube-scheduler does when no victim would make room.
    message.push_str(&format!(
        " preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
    ));
    message
}

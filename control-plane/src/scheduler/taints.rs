//! Taints and tolerations, including the not-ready taint Keel assumes before the
//! node lifecycle controller has added it.

use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};

pub const NO_SCHEDULE: &str = "NoSchedule";
pub const NO_EXECUTE: &str = "NoExecute";
pub const PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let nonempty = |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    if nonempty(&toleration.effect).is_some_and(|effect| effect != taint.effect) {
        return false;
    }
    if nonempty(&toleration.key).is_some_and(|key| key != taint.key) {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        _ => false,
    }
}

pub fn pod_tolerations(pod: &Pod) -> &[Toleration] {
    pod.spec.as_ref().and_then(|s| s.tolerations.as_deref()).unwrap_or_default()
}

pub fn pod_tolerates(pod: &Pod, taint: &Taint) -> bool {
    pod_tolerations(pod).iter().any(|t| tolerates(t, taint))
}

fn is_ready(node: &Node) -> bool {
    let conditions = node.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The node's taints, plus `not-ready:NoSchedule` when it is not Ready and no
/// lifecycle taint has landed yet (so a NotReady node is never picked).
pub fn effective_taints(node: &Node) -> Vec<Taint> {
    let mut taints = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
    let has_lifecycle_taint = taints.iter().any(|t| t.key == NOT_READY_TAINT || t.key == UNREACHABLE_TAINT);
    if !is_ready(node) && !has_lifecycle_taint {
        taints.push(Taint { key: NOT_READY_TAINT.into(), effect: NO_SCHEDULE.into(), ..Taint::default() });
    }
    taints
}

/// First NoSchedule/NoExecute taint the pod does not tolerate.
pub fn first_untolerated_hard_taint<'a>(pod: &Pod, taints: &'a [Taint]) -> Option<&'a Taint> {
    taints.iter().filter(|t| t.effect == NO_SCHEDULE || t.effect == NO_EXECUTE).find(|t| !pod_tolerates(pod, t))
}

/// Number of PreferNoSchedule taints not tolerated by the pod's PreferNoSchedule (or any-effect) tolerations.
pub fn intolerable_soft_taints(pod: &Pod, taints: &[Taint]) -> i64 {
    let soft_tolerations: Vec<&Toleration> = pod_tolerations(pod)
        .iter()
        .filter(|t| matches!(t.effect.as_deref(), None | Some("") | Some(PREFER_NO_SCHEDULE)))
        .collect();
    let untolerated = taints
        .iter()
        .filter(|t| t.effect == PREFER_NO_SCHEDULE)
        .filter(|taint| !soft_tolerations.iter().any(|t| tolerates(t, taint)));
    i64::try_from(untolerated.count()).unwrap_or(i64::MAX)
}

/// `spec.unschedulable` blocks the pod unless it tolerates the unschedulable taint.
pub fn blocked_by_cordon(pod: &Pod, node: &Node) -> bool {
    let cordoned = node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
    let cordon_taint = Taint { key: UNSCHEDULABLE_TAINT.into(), effect: NO_SCHEDULE.into(), ..Taint::default() };
    cordoned && !pod_tolerates(pod, &cordon_taint)
}

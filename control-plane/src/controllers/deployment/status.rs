//! A Deployment's status: the counts kubectl reads (`rollout status`,
//! `get deploy`) summed from its ReplicaSets, and the Available and
//! Progressing conditions with kube-controller-manager's reasons.

use super::plan::Fenceposts;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

pub const PROGRESSING: &str = "Progressing";
pub const AVAILABLE: &str = "Available";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
const PAUSED: &str = "DeploymentPaused";

/// The default progressDeadlineSeconds; i32::MAX means "no deadline".
const DEFAULT_DEADLINE: i32 = 600;

/// What happened to the new ReplicaSet in this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewRs {
    Created,
    Existing,
    None,
}

fn rs_status(rs: &ReplicaSet) -> (i32, i32, i32) {
    let s = rs.status.as_ref();
    (
        s.map_or(0, |s| s.replicas),
        s.and_then(|s| s.ready_replicas).unwrap_or(0),
        s.and_then(|s| s.available_replicas).unwrap_or(0),
    )
}

/// The desired replica count (spec.replicas defaults to 1).
pub fn desired(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0)
}

fn deadline(d: &Deployment) -> Option<i64> {
    let s = d.spec.as_ref()?.progress_deadline_seconds.unwrap_or(DEFAULT_DEADLINE);
    (s != i32::MAX).then_some(i64::from(s))
}

fn find<'a>(conds: &'a [DeploymentCondition], kind: &str) -> Option<&'a DeploymentCondition> {
    conds.iter().find(|c| c.type_ == kind)
}

/// Put a condition in, keeping the old one if status and reason are the
/// same, and its transition time if only the reason changed.
fn set(conds: &mut Vec<DeploymentCondition>, mut c: DeploymentCondition) {
    if let Some(cur) = find(conds, &c.type_) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time = cur.last_transition_time.clone();
        }
    }
    conds.retain(|x| x.type_ != c.type_);
    conds.push(c);
}

fn condition(kind: &str, status: &str, reason: &str, message: String, now: Timestamp) -> DeploymentCondition {
    DeploymentCondition {
        type_: kind.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// The status after this pass. `new_rs` is the ReplicaSet of the current
/// template (if any), `all` every ReplicaSet the Deployment owns.
pub fn next(
    d: &Deployment,
    new_rs: Option<&ReplicaSet>,
    new_state: NewRs,
    all: &[ReplicaSet],
    f: Fenceposts,
    now: Timestamp,
) -> DeploymentStatus {
    let old = d.status.clone().unwrap_or_default();
    let want = desired(d);
    let (mut replicas, mut ready, mut available) = (0, 0, 0);
    for rs in all {
        let (r, re, a) = rs_status(rs);
        replicas += r;
        ready += re;
        available += a;
    }
    let updated = new_rs.map_or(0, |rs| rs_status(rs).0);
    let mut conds = old.conditions.clone().unwrap_or_default();

    let (status, reason, msg) = if available >= want - f.unavailable {
        ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    } else {
        ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
    };
    set(&mut conds, condition(AVAILABLE, status, reason, msg.into(), now));

    let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
    let progressing = find(&conds, PROGRESSING).cloned();
    let rs_name = new_rs.and_then(|rs| rs.metadata.name.clone()).unwrap_or_default();
    if paused {
        set(&mut conds, condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused".into(), now));
    } else if progressing.as_ref().and_then(|c| c.reason.as_deref()) == Some(PAUSED) {
        set(&mut conds, condition(PROGRESSING, "Unknown", "DeploymentResumed", "Deployment is resumed".into(), now));
    }
    match new_state {
        NewRs::Created if !paused => {
            let c = condition(
                PROGRESSING,
                "True",
                "NewReplicaSetCreated",
                format!("Created new replica set {rs_name:?}"),
                now,
            );
            conds.retain(|x| x.type_ != PROGRESSING);
            conds.push(c);
        }
        NewRs::Existing if !paused && find(&conds, PROGRESSING).is_none() => {
            let c =
                condition(PROGRESSING, "True", "FoundNewReplicaSet", format!("Found new replica set {rs_name:?}"), now);
            set(&mut conds, c);
        }
        _ => {}
    }

    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(replicas),
        updated_replicas: Some(updated),
        ready_replicas: Some(ready),
        available_replicas: Some(available),
        unavailable_replicas: Some((want - available).max(0)),
        collision_count: old.collision_count,
        conditions: None,
        terminating_replicas: None,
    };

    let cur = find(&conds, PROGRESSING).cloned();
    let already_complete =
        replicas == updated && cur.as_ref().and_then(|c| c.reason.as_deref()) == Some(NEW_RS_AVAILABLE);
    match deadline(d) {
        None => conds.retain(|c| c.type_ != PROGRESSING || c.reason.as_deref() == Some(PAUSED)),
        Some(secs) if !paused && !already_complete => {
            let complete = updated == want && replicas == want && available == want;
            let old_old = old.replicas.unwrap_or(0) - old.updated_replicas.unwrap_or(0);
            let moved = updated > old.updated_replicas.unwrap_or(0)
                || replicas - updated < old_old
                || ready > old.ready_replicas.unwrap_or(0)
                || available > old.available_replicas.unwrap_or(0);
            if complete {
                let msg = format!("ReplicaSet {rs_name:?} has successfully progressed.");
                set(&mut conds, condition(PROGRESSING, "True", NEW_RS_AVAILABLE, msg, now));
            } else if moved {
                let msg = if rs_name.is_empty() {
                    format!("Deployment {:?} is progressing.", d.metadata.name.clone().unwrap_or_default())
                } else {
                    format!("ReplicaSet {rs_name:?} is progressing.")
                };
                let mut c = condition(PROGRESSING, "True", "ReplicaSetUpdated", msg, now);
                if let Some(cur) = cur.as_ref().filter(|c| c.status == "True") {
                    c.last_transition_time = cur.last_transition_time.clone();
                }
                conds.retain(|x| x.type_ != PROGRESSING);
                conds.push(c);
            } else if timed_out(cur.as_ref(), secs, now) {
                let msg = format!("ReplicaSet {rs_name:?} has timed out progressing.");
                set(&mut conds, condition(PROGRESSING, "False", TIMED_OUT, msg, now));
            }
        }
        Some(_) => {}
    }
    // Stable order: Available, then Progressing, like upstream.
    conds.sort_by_key(|c| if c.type_ == AVAILABLE { 0 } else { 1 });
    status.conditions = Some(conds);
    status
}

fn timed_out(cur: Option<&DeploymentCondition>, secs: i64, now: Timestamp) -> bool {
    let Some(c) = cur else { return false };
    if c.reason.as_deref() == Some(TIMED_OUT) {
        return true;
    }
    c.last_update_time.as_ref().is_some_and(|t| now.duration_since(t.0) > SignedDuration::from_secs(secs))
}

/// When the progress deadline runs out if nothing moves before then.
pub fn until_deadline(d: &Deployment, status: &DeploymentStatus, now: Timestamp) -> Option<std::time::Duration> {
    let secs = deadline(d)?;
    let c = find(status.conditions.as_deref()?, PROGRESSING)?;
    if c.status != "True" || c.reason.as_deref() == Some(NEW_RS_AVAILABLE) {
        return None;
    }
    let left = SignedDuration::from_secs(secs) - now.duration_since(c.last_update_time.as_ref()?.0);
    Some(std::time::Duration::from_millis(left.as_millis().clamp(0, i128::from(u32::MAX)) as u64 + 500))
}

/// Everything but condition timestamps, to tell whether a write is needed.
pub fn same(a: &DeploymentStatus, b: &DeploymentStatus) -> bool {
    let strip = |s: &DeploymentStatus| {
        let mut s = s.clone();
        for c in s.conditions.iter_mut().flatten() {
            c.last_update_time = None;
            c.last_transition_time = None;
        }
        s
    };
    // A ReplicaSetUpdated refresh moves the deadline, so it must be written.
    let refreshed = |s: &DeploymentStatus| {
        s.conditions
            .as_deref()
            .and_then(|c| find(c, PROGRESSING))
            .filter(|c| c.reason.as_deref() == Some("ReplicaSetUpdated"))
            .and_then(|c| c.last_update_time.clone())
    };
    strip(a) == strip(b) && refreshed(a) == refreshed(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, ReplicaSetStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn dep(replicas: i32, generation: i64) -> Deployment {
        Deployment {
            metadata: ObjectMeta { name: Some("web".into()), generation: Some(generation), ..Default::default() },
            spec: Some(DeploymentSpec { replicas: Some(replicas), ..Default::default() }),
            status: None,
        }
    }

    fn rs(name: &str, replicas: i32, ready: i32, available: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            spec: None,
            status: Some(ReplicaSetStatus {
                replicas,
                ready_replicas: Some(ready),
                available_replicas: Some(available),
                ..Default::default()
            }),
        }
    }

    fn reason(s: &DeploymentStatus, kind: &str) -> String {
        find(s.conditions.as_deref().unwrap_or_default(), kind).and_then(|c| c.reason.clone()).unwrap_or_default()
    }

    const F: Fenceposts = Fenceposts { surge: 1, unavailable: 0 };

    #[test]
    fn a_new_rollout_reports_created_then_progress_then_success() {
        let now = Timestamp::now();
        let mut d = dep(2, 1);
        let new = rs("web-abc", 0, 0, 0);
        let s = next(&d, Some(&new), NewRs::Created, std::slice::from_ref(&new), F, now);
        assert_eq!(reason(&s, PROGRESSING), "NewReplicaSetCreated");
        assert_eq!(reason(&s, AVAILABLE), "MinimumReplicasUnavailable");
        d.status = Some(s);
        let new = rs("web-abc", 2, 1, 1);
        let s = next(&d, Some(&new), NewRs::Existing, std::slice::from_ref(&new), F, now);
        assert_eq!(reason(&s, PROGRESSING), "ReplicaSetUpdated");
        d.status = Some(s);
        let new = rs("web-abc", 2, 2, 2);
        let s = next(&d, Some(&new), NewRs::Existing, std::slice::from_ref(&new), F, now);
        assert_eq!(reason(&s, PROGRESSING), NEW_RS_AVAILABLE);
        assert_eq!(reason(&s, AVAILABLE), "MinimumReplicasAvailable");
        assert_eq!((s.replicas, s.updated_replicas, s.available_replicas), (Some(2), Some(2), Some(2)));
        assert_eq!(s.observed_generation, Some(1));
    }

    #[test]
    fn no_progress_past_the_deadline_times_out() {
        let start = Timestamp::now();
        let mut d = dep(2, 1);
        d.spec.as_mut().unwrap().progress_deadline_seconds = Some(10);
        let new = rs("web-abc", 1, 0, 0);
        let s = next(&d, Some(&new), NewRs::Created, std::slice::from_ref(&new), F, start);
        d.status = Some(s.clone());
        assert!(until_deadline(&d, &s, start).is_some_and(|t| t.as_secs() >= 10));
        let later = start + SignedDuration::from_secs(11);
        let s = next(&d, Some(&new), NewRs::Existing, std::slice::from_ref(&new), F, later);
        assert_eq!(reason(&s, PROGRESSING), TIMED_OUT);
        let c = find(s.conditions.as_deref().unwrap(), PROGRESSING).unwrap();
        assert_eq!(c.status, "False");
        assert_eq!(c.message.as_deref(), Some("ReplicaSet \"web-abc\" has timed out progressing."));
    }

    #[test]
    fn paused_and_resumed() {
        let now = Timestamp::now();
        let mut d = dep(1, 2);
        d.spec.as_mut().unwrap().paused = Some(true);
        let new = rs("web-abc", 1, 1, 1);
        let s = next(&d, Some(&new), NewRs::Existing, std::slice::from_ref(&new), F, now);
        assert_eq!(reason(&s, PROGRESSING), PAUSED);
        d.status = Some(s);
        d.spec.as_mut().unwrap().paused = Some(false);
        let s = next(&d, Some(&new), NewRs::Existing, std::slice::from_ref(&new), F, now);
        assert_eq!(reason(&s, PROGRESSING), NEW_RS_AVAILABLE);
    }

    #[test]
    fn sameness_ignores_times_except_progress_refreshes() {
        let now = Timestamp::now();
        let d = dep(1, 1);
        let new = rs("web-abc", 1, 1, 1);
        let a = next(&d, Some(&new), NewRs::Existing, std::slice::from_ref(&new), F, now);
        let b =
            next(&d, Some(&new), NewRs::Existing, std::slice::from_ref(&new), F, now + SignedDuration::from_secs(5));
        assert!(same(&a, &b));
    }
}

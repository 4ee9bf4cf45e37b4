//! Leader election with a coordination.k8s.io Lease, as client-go's
//! leaderelection does for kube-controller-manager and kube-scheduler:
//! whoever holds an unexpired Lease runs the work; it renews the Lease
//! every retry period, and if it cannot renew within the renew deadline it
//! stops the work and competes again. Writes carry the resourceVersion
//! read, so two candidates never both win the same term.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};
use std::time::Duration;
use tokio::task::JoinSet;

pub const NAMESPACE: &str = "kube-system";

/// Timing of an election (client-go's defaults are 15 s, 10 s, 2 s).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// A unique name for this process among the candidates.
pub fn identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    format!("{host}_{}", uuid::Uuid::new_v4())
}

/// Whether `lease` lets `me` take or keep it at `now`.
pub fn can_take(lease: &Lease, me: &str, now: Timestamp) -> bool {
    let Some(spec) = lease.spec.as_ref() else { return true };
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder.is_empty() || holder == me {
        return true;
    }
    let secs = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()).map(|t| t.0);
    renewed.is_none_or(|t| now > t + SignedDuration::from_secs(secs))
}

/// The Lease as `me` holding it from `now`.
fn held(lease: Option<&Lease>, name: &str, me: &str, timing: Timing, now: Timestamp) -> Lease {
    let mut l = lease.cloned().unwrap_or_else(|| Lease {
        metadata: ObjectMeta { name: Some(name.into()), namespace: Some(NAMESPACE.into()), ..Default::default() },
        spec: None,
    });
    let old = l.spec.take().unwrap_or_default();
    let new_term = old.holder_identity.as_deref() != Some(me);
    l.spec = Some(LeaseSpec {
        holder_identity: Some(me.into()),
        lease_duration_seconds: Some(timing.lease_duration.as_secs().max(1) as i32),
        acquire_time: if new_term { Some(MicroTime(now)) } else { old.acquire_time },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(old.lease_transitions.unwrap_or(0) + i32::from(new_term && lease.is_some())),
        ..old
    });
    l
}

/// One attempt to take or renew the Lease; true if we hold it now.
async fn try_hold(api: &Api<Lease>, name: &str, me: &str, timing: Timing) -> kube::Result<bool> {
    let now = Timestamp::now();
    let current = api.get_opt(name).await?;
    if let Some(l) = current.as_ref() {
        if !can_take(l, me, now) {
            return Ok(false);
        }
    }
    let want = held(current.as_ref(), name, me, timing, now);
    let written = match current {
        // replace sends the resourceVersion we read: a rival's write in
        // between makes this a 409 and we lose this round.
        Some(_) => api.replace(name, &PostParams::default(), &want).await,
        None => api.create(&PostParams::default(), &want).await,
    };
    match written {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Run `start`'s tasks while this process holds Lease `name`; stop them
/// when it loses the Lease, and compete again. Never returns.
pub async fn run<F>(client: kube::Client, name: &str, me: String, timing: Timing, start: F)
where
    F: Fn() -> JoinSet<()>,
{
    let api: Api<Lease> = Api::namespaced(client, NAMESPACE);
    loop {
        // Candidate: retry until we hold the Lease.
        loop {
            match try_hold(&api, name, &me, timing).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => tracing::debug!(lease = %name, error = %e, "leader election"),
            }
            tokio::time::sleep(timing.retry_period).await;
        }
        tracing::info!(lease = %name, identity = %me, "became leader");
        let mut work = start();
        // Leader: renew; give up after the renew deadline without success.
        let mut last_renewal = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(timing.retry_period).await;
            match try_hold(&api, name, &me, timing).await {
                Ok(true) => last_renewal = tokio::time::Instant::now(),
                Ok(false) => break,
                Err(e) => tracing::debug!(lease = %name, error = %e, "renewing the lease"),
            }
            if last_renewal.elapsed() > timing.renew_deadline {
                break;
            }
        }
        tracing::warn!(lease = %name, identity = %me, "lost the lease: stopping");
        work.abort_all();
        while work.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: &str, renewed_secs_ago: i64, duration: i32) -> Lease {
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.into()),
                lease_duration_seconds: Some(duration),
                renew_time: Some(MicroTime(Timestamp::now() - SignedDuration::from_secs(renewed_secs_ago))),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn a_live_lease_of_someone_else_cannot_be_taken() {
        let now = Timestamp::now();
        assert!(!can_take(&lease("a", 1, 15), "b", now));
        assert!(can_take(&lease("a", 1, 15), "a", now), "the holder renews");
        assert!(can_take(&lease("a", 20, 15), "b", now), "expired");
        assert!(can_take(&lease("", 1, 15), "b", now), "released");
    }

    #[test]
    fn taking_over_counts_a_transition_and_renewing_does_not() {
        let now = Timestamp::now();
        let t = Timing::default();
        let old = lease("a", 20, 15);
        let mine = held(Some(&old), "x", "b", t, now);
        let spec = mine.spec.clone().unwrap_or_default();
        assert_eq!(spec.holder_identity.as_deref(), Some("b"));
        assert_eq!(spec.lease_transitions, Some(1));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        let renewed = held(Some(&mine), "x", "b", t, now);
        assert_eq!(renewed.spec.unwrap_or_default().lease_transitions, Some(1));
        let fresh = held(None, "x", "b", t, now);
        assert_eq!(fresh.spec.unwrap_or_default().lease_transitions, Some(0));
        assert_eq!(fresh.metadata.namespace.as_deref(), Some(NAMESPACE));
    }
}

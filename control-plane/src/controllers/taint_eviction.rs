//! Taint-based eviction (kube-controller-manager's taint-eviction
//! controller): pods on a node with NoExecute taints leave it, at once if
//! they do not tolerate a taint, else when the shortest tolerationSeconds
//! of their matching tolerations has passed since the taint was added. The
//! pod is deleted (gracefully), so its controller replaces it elsewhere.

use crate::scheduler::taints::{tolerates, NO_EXECUTE};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::events::{EventType, Recorder, Reporter};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::ResourceExt;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

const MANAGER: &str = "taint-eviction-controller";

/// When a pod on a node with these taints must go, if at all.
pub fn eviction_time(pod: &Pod, taints: &[Taint], now: Timestamp) -> Option<Timestamp> {
    let tolerations = pod.spec.as_ref().and_then(|s| s.tolerations.as_deref()).unwrap_or_default();
    let mut due: Option<Timestamp> = None;
    for taint in taints.iter().filter(|t| t.effect == NO_EXECUTE) {
        let matching: Vec<_> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Some(now);
        }
        // No tolerationSeconds on a matching toleration: tolerated forever.
        let Some(secs) = matching.iter().filter_map(|t| t.toleration_seconds).min() else { continue };
        if matching.iter().any(|t| t.toleration_seconds.is_none()) {
            continue;
        }
        let added = taint.time_added.as_ref().map_or(now, |t| t.0);
        let at = added + SignedDuration::from_secs(secs.max(0));
        due = Some(due.map_or(at, |d| d.min(at)));
    }
    due
}

fn taints(node: &Node) -> Vec<Taint> {
    node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default()
}

pub async fn run(client: kube::Client) {
    let (nodes, nodes_writer) = reflector::store::<Node>();
    let (pods, pods_writer) = reflector::store::<Pod>();
    for stream in [
        reflector(nodes_writer, watcher(Api::<Node>::all(client.clone()), watcher::Config::default()))
            .default_backoff()
            .touched_objects()
            .map(|_| ())
            .boxed(),
        reflector(pods_writer, watcher(Api::<Pod>::all(client.clone()), watcher::Config::default()))
            .default_backoff()
            .touched_objects()
            .map(|_| ())
            .boxed(),
    ] {
        tokio::spawn(stream.for_each(|_| async {}));
    }
    if nodes.wait_until_ready().await.is_err() || pods.wait_until_ready().await.is_err() {
        return;
    }
    let recorder = Recorder::new(client.clone(), Reporter { controller: MANAGER.into(), instance: None });
    let mut evicted: HashSet<String> = HashSet::new();
    loop {
        let now = Timestamp::now();
        let tainted: HashMap<String, Vec<Taint>> = nodes
            .state()
            .iter()
            .map(|n| (n.name_any(), taints(n)))
            .filter(|(_, t)| t.iter().any(|t| t.effect == NO_EXECUTE))
            .collect();
        let live: HashSet<String> = pods.state().iter().filter_map(|p| p.uid()).collect();
        evicted.retain(|uid| live.contains(uid));
        for pod in pods.state() {
            let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else { continue };
            let Some(t) = tainted.get(node) else { continue };
            let finished = matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"));
            let uid = pod.uid().unwrap_or_default();
            if pod.metadata.deletion_timestamp.is_some() || finished || evicted.contains(&uid) {
                continue;
            }
            if eviction_time(&pod, t, now).is_some_and(|at| at <= now) && evict(&client, &recorder, &pod).await {
                evicted.insert(uid);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn evict(client: &kube::Client, recorder: &Recorder, pod: &Arc<Pod>) -> bool {
    let (ns, name) = (pod.namespace().unwrap_or_default(), pod.name_any());
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let now = Timestamp::now().round(k8s_openapi::jiff::Unit::Second).unwrap_or_default();
    let condition = json!({"status": {"conditions": [{
        "type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": now.to_string(),
    }]}});
    if let Err(e) = api.patch_status(&name, &PatchParams::default(), &Patch::Strategic(condition)).await {
        tracing::debug!(pod = %name, error = %e, "marking DisruptionTarget");
    }
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => {
            tracing::warn!(pod = %name, error = %e, "evicting");
            return false;
        }
    }
    tracing::info!(pod = %name, node = ?pod.spec.as_ref().and_then(|s| s.node_name.clone()), "evicted for a NoExecute taint");
    let note = format!("Marking for deletion Pod {ns}/{name}");
    super::events::publish(recorder, &**pod, EventType::Normal, "TaintManagerEviction", "Evicting", note);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, Toleration};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn pod(tolerations: Vec<Toleration>) -> Pod {
        Pod { spec: Some(PodSpec { tolerations: Some(tolerations), ..Default::default() }), ..Default::default() }
    }

    fn taint(key: &str, added: Timestamp) -> Taint {
        Taint { key: key.into(), effect: NO_EXECUTE.into(), time_added: Some(Time(added)), value: None }
    }

    fn tol(key: &str, secs: Option<i64>) -> Toleration {
        Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some(NO_EXECUTE.into()),
            toleration_seconds: secs,
            value: None,
        }
    }

    #[test]
    fn untolerated_taints_evict_now() {
        let now = Timestamp::now();
        assert_eq!(eviction_time(&pod(vec![]), &[taint("x", now)], now), Some(now));
    }

    #[test]
    fn toleration_seconds_count_from_the_taint() {
        let now = Timestamp::now();
        let added = now - SignedDuration::from_secs(10);
        let p = pod(vec![tol("node.kubernetes.io/unreachable", Some(30))]);
        let at = eviction_time(&p, &[taint("node.kubernetes.io/unreachable", added)], now).unwrap();
        assert_eq!(at, added + SignedDuration::from_secs(30));
    }

    #[test]
    fn tolerating_forever_or_no_noexecute_taint_means_stay() {
        let now = Timestamp::now();
        let p = pod(vec![tol("k", None)]);
        assert_eq!(eviction_time(&p, &[taint("k", now)], now), None);
        let mut soft = taint("k", now);
        soft.effect = "NoSchedule".into();
        assert_eq!(eviction_time(&pod(vec![]), &[soft], now), None);
    }
}

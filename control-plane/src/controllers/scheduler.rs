//! The scheduler (kube-scheduler's role): binds pending pods to nodes.
//!
//! Reflectors keep Nodes and Pods in memory; any change wakes a pass that
//! tries every pending pod (`schedulerName` default-scheduler, no node yet)
//! against the current picture with `crate::scheduler::schedule`. A chosen
//! node gets a `pods/binding` and the pod is counted on that node at once
//! (assumed), so one pass can place many pods without overcommitting.
//! A pod that fits nowhere gets PodScheduled=False and a FailedScheduling
//! event worded like kube-scheduler's, and is retried when the cluster
//! changes.

use crate::scheduler::{schedule, Cluster, NodeState, Outcome};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{EventType, Recorder, Reporter};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::ResourceExt;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const SCHEDULER_NAME: &str = "default-scheduler";
/// How long a binding we made may take to show up in the watch.
const ASSUME_FOR: Duration = Duration::from_secs(30);

/// Whether this scheduler should place the pod now.
fn pending(pod: &Pod) -> bool {
    let spec = pod.spec.as_ref();
    let unbound = spec.and_then(|s| s.node_name.as_deref()).is_none_or(str::is_empty);
    let ours = spec.and_then(|s| s.scheduler_name.as_deref()).is_none_or(|n| n.is_empty() || n == SCHEDULER_NAME);
    let finished = matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"));
    unbound && ours && !finished && pod.metadata.deletion_timestamp.is_none()
}

fn terminal(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

struct Scheduler {
    client: kube::Client,
    recorder: Recorder,
    /// Pods we bound that the watch has not shown bound yet: uid -> (node, when).
    assumed: HashMap<String, (String, Instant)>,
    /// The last FailedScheduling message per pod, so it is reported once.
    reported: HashMap<String, String>,
}

pub async fn run(client: kube::Client) {
    let (nodes, nodes_writer) = reflector::store::<Node>();
    let (pods, pods_writer) = reflector::store::<Pod>();
    let wake = Arc::new(Notify::new());
    let w = wake.clone();
    let node_stream = reflector(nodes_writer, watcher(Api::<Node>::all(client.clone()), watcher::Config::default()))
        .default_backoff()
        .touched_objects();
    tokio::spawn(async move {
        futures::pin_mut!(node_stream);
        while node_stream.next().await.is_some() {
            w.notify_one();
        }
    });
    let w = wake.clone();
    let pod_stream = reflector(pods_writer, watcher(Api::<Pod>::all(client.clone()), watcher::Config::default()))
        .default_backoff()
        .touched_objects();
    tokio::spawn(async move {
        futures::pin_mut!(pod_stream);
        while pod_stream.next().await.is_some() {
            w.notify_one();
        }
    });
    if nodes.wait_until_ready().await.is_err() || pods.wait_until_ready().await.is_err() {
        tracing::error!("scheduler: informers stopped before they synced");
        return;
    }
    let reporter = Reporter { controller: SCHEDULER_NAME.into(), instance: None };
    let mut s = Scheduler {
        recorder: Recorder::new(client.clone(), reporter),
        client,
        assumed: HashMap::new(),
        reported: HashMap::new(),
    };
    loop {
        s.pass(&nodes.state(), &pods.state()).await;
        // Changes wake us; a periodic pass retries what waits on time alone.
        let _ = tokio::time::timeout(Duration::from_secs(5), wake.notified()).await;
    }
}

impl Scheduler {
    async fn pass(&mut self, nodes: &[Arc<Node>], pods: &[Arc<Pod>]) {
        let now = Instant::now();
        // Forget assumptions the watch has confirmed or that went stale.
        let bound: HashMap<String, bool> = pods.iter().map(|p| (p.uid().unwrap_or_default(), !pending(p))).collect();
        self.assumed.retain(|uid, (_, at)| bound.get(uid) == Some(&false) && now.duration_since(*at) < ASSUME_FOR);
        self.reported.retain(|uid, _| bound.get(uid) == Some(&false));
        let mut states: Vec<NodeState> =
            nodes.iter().map(|n| NodeState { node: n.clone(), pods: Vec::new() }).collect();
        let index: HashMap<String, usize> = states.iter().enumerate().map(|(i, s)| (s.node.name_any(), i)).collect();
        for p in pods.iter().filter(|p| !terminal(p)) {
            let node = p.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty());
            let node = node.or_else(|| self.assumed.get(&p.uid().unwrap_or_default()).map(|(n, _)| n.clone()));
            if let Some((name, i)) = node.and_then(|n| index.get(&n).map(|i| (n, *i))) {
                states[i].pods.push(assumed_on(p, &name));
            }
        }
        let mut queue: Vec<&Arc<Pod>> =
            pods.iter().filter(|p| pending(p) && !self.assumed.contains_key(&p.uid().unwrap_or_default())).collect();
        // Higher priority first, then oldest first.
        queue.sort_by_key(|p| {
            let prio = p.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
            (std::cmp::Reverse(prio), p.metadata.creation_timestamp.clone().map(|t| t.0), p.name_any())
        });
        for pod in queue {
            let outcome = schedule(pod, &Cluster { nodes: &states });
            match outcome {
                Outcome::Bind { node, .. } => {
                    if self.bind(pod, &node).await {
                        if let Some(i) = index.get(&node) {
                            states[*i].pods.push(assumed_on(pod, &node));
                        }
                    }
                }
                Outcome::Unschedulable { message } => self.unschedulable(pod, message).await,
            }
        }
    }

    async fn bind(&mut self, pod: &Pod, node: &str) -> bool {
        let (ns, name) = (pod.namespace().unwrap_or_default(), pod.name_any());
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let binding = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": ns, "uid": pod.uid()},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        match api.create_subresource::<_, serde_json::Value>("binding", &name, &PostParams::default(), &binding).await {
            Ok(_) => {
                self.assumed.insert(pod.uid().unwrap_or_default(), (node.to_string(), Instant::now()));
                self.reported.remove(&pod.uid().unwrap_or_default());
                let note = format!("Successfully assigned {ns}/{name} to {node}");
                self.event(pod, EventType::Normal, "Scheduled", "Binding", note);
                true
            }
            Err(e) => {
                tracing::debug!(pod = %name, error = %e, "binding failed");
                false
            }
        }
    }

    async fn unschedulable(&mut self, pod: &Pod, message: String) {
        let uid = pod.uid().unwrap_or_default();
        if self.reported.get(&uid) == Some(&message) {
            return;
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        let now = k8s_openapi::jiff::Timestamp::now().round(k8s_openapi::jiff::Unit::Second).unwrap_or_default();
        let patch = json!({"status": {"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": message, "lastTransitionTime": now.to_string(), "lastProbeTime": null,
        }]}});
        if let Err(e) = api.patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Strategic(&patch)).await {
            tracing::debug!(pod = %pod.name_any(), error = %e, "reporting Unschedulable");
        }
        self.event(pod, EventType::Warning, "FailedScheduling", "Scheduling", message.clone());
        self.reported.insert(uid, message);
    }

    fn event(&self, pod: &Pod, kind: EventType, reason: &str, action: &str, note: String) {
        super::events::publish(&self.recorder, pod, kind, reason, action, note);
    }
}

/// The pod as it counts on `node` (bound, or assumed bound by us).
fn assumed_on(pod: &Arc<Pod>, node: &str) -> Arc<Pod> {
    if pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node) {
        return pod.clone();
    }
    let mut p = (**pod).clone();
    if let Some(spec) = p.spec.as_mut() {
        spec.node_name = Some(node.to_string());
    }
    Arc::new(p)
}

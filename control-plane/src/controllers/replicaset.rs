//! The ReplicaSet controller: keeps `spec.replicas` pods of the template
//! alive and reports how many are ready and available.
//!
//! Level-triggered like kube-controller-manager's: each pass counts the
//! active pods the ReplicaSet controls (ownerReferences with its UID),
//! creates or deletes the difference, and writes the status. Creations and
//! deletions it has asked for are remembered ("expectations") until the
//! pod watch shows them, so a pass never acts twice on one change.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::core::{Selector, SelectorExt};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::ResourceExt;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a create or delete may take to appear in the watch.
const EXPECT_FOR: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Kube(#[from] kube::Error),
}

/// Names of pods created or deleted that the watch has not shown yet.
#[derive(Default)]
struct Expectations {
    creates: HashSet<String>,
    deletes: HashSet<String>,
    since: Option<Instant>,
}

struct Context {
    client: kube::Client,
    recorder: Recorder,
    pods: Store<Pod>,
    expectations: Mutex<HashMap<String, Expectations>>,
}

fn is_active(p: &Pod) -> bool {
    let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
    p.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Succeeded" | "Failed"))
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Ready for at least `min_ready` seconds.
fn is_available(p: &Pod, min_ready: i64) -> bool {
    let since = p
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready" && c.status == "True"))
        .and_then(|c| c.last_transition_time.as_ref());
    match since {
        Some(t) if is_ready(p) => {
            let age = k8s_openapi::jiff::Timestamp::now().duration_since(t.0).as_secs();
            min_ready <= 0 || age >= min_ready
        }
        _ => false,
    }
}

/// Which pods to delete first: unscheduled, then pending, then not ready,
/// then the newest (kube-controller-manager's ranking, simplified).
fn deletion_rank(p: &Pod) -> (u8, u8, u8, std::cmp::Reverse<Option<k8s_openapi::jiff::Timestamp>>) {
    let scheduled = p.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty());
    let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    (
        u8::from(scheduled),
        u8::from(running),
        u8::from(is_ready(p)),
        std::cmp::Reverse(p.metadata.creation_timestamp.as_ref().map(|t| t.0)),
    )
}

fn controller_of(p: &Pod) -> Option<&OwnerReference> {
    p.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true))
}

fn reference_to(rs: &ReplicaSet) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: rs.name_any(),
        uid: rs.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The pods this ReplicaSet controls, as kube-controller-manager's
/// ControllerRefManager claims them: orphans that match the selector are
/// adopted, owned pods whose labels no longer match are released.
async fn claim_pods(rs: &ReplicaSet, ctx: &Context) -> Result<Vec<Arc<Pod>>, Error> {
    let (ns, uid) = (rs.namespace().unwrap_or_default(), rs.uid().unwrap_or_default());
    let selector: Option<Selector> = rs.spec.as_ref().and_then(|s| s.selector.clone().try_into().ok());
    let matches = |p: &Pod| selector.as_ref().is_some_and(|s| !s.selects_all() && s.matches(p.labels()));
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let mut claimed = Vec::new();
    for p in ctx.pods.state().into_iter().filter(|p| p.metadata.namespace.as_deref() == Some(ns.as_str())) {
        let deleting = p.metadata.deletion_timestamp.is_some();
        match controller_of(&p) {
            Some(o) if o.uid == uid => {
                if matches(&p) || deleting || rs.metadata.deletion_timestamp.is_some() {
                    claimed.push(p);
                    continue;
                }
                let refs: Vec<OwnerReference> =
                    p.metadata.owner_references.iter().flatten().filter(|o| o.uid != uid).cloned().collect();
                let patch =
                    json!({"metadata": {"ownerReferences": if refs.is_empty() { json!(null) } else { json!(refs) }}});
                match api.patch(&p.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await {
                    Ok(_) => {
                        tracing::info!(replicaset = %rs.name_any(), pod = %p.name_any(), "released a pod that no longer matches")
                    }
                    Err(e) => tracing::debug!(pod = %p.name_any(), error = %e, "releasing a pod"),
                }
            }
            None if !deleting && rs.metadata.deletion_timestamp.is_none() && matches(&p) => {
                let mut refs = p.metadata.owner_references.clone().unwrap_or_default();
                refs.push(reference_to(rs));
                let patch = json!({"metadata": {"ownerReferences": refs}});
                match api.patch(&p.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await {
                    Ok(adopted) => {
                        tracing::info!(replicaset = %rs.name_any(), pod = %p.name_any(), "adopted an orphan pod");
                        claimed.push(Arc::new(adopted));
                    }
                    Err(e) => tracing::debug!(pod = %p.name_any(), error = %e, "adopting a pod"),
                }
            }
            _ => {}
        }
    }
    Ok(claimed)
}

async fn reconcile(rs: Arc<ReplicaSet>, ctx: Arc<Context>) -> Result<Action, Error> {
    if rs.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let (ns, name, uid) = (rs.namespace().unwrap_or_default(), rs.name_any(), rs.uid().unwrap_or_default());
    let pods = claim_pods(&rs, &ctx).await?;
    // Wait until what we asked for shows up (or is given up on).
    {
        let mut all = ctx.expectations.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(exp) = all.get_mut(&uid) {
            let names: HashSet<String> = pods.iter().map(|p| p.name_any()).collect();
            exp.creates.retain(|n| !names.contains(n));
            exp.deletes.retain(|n| pods.iter().any(|p| &p.name_any() == n && p.metadata.deletion_timestamp.is_none()));
            let stale = exp.since.is_some_and(|s| s.elapsed() > EXPECT_FOR);
            if (exp.creates.is_empty() && exp.deletes.is_empty()) || stale {
                all.remove(&uid);
            } else {
                return Ok(Action::requeue(Duration::from_millis(200)));
            }
        }
    }
    let mut active: Vec<Arc<Pod>> = pods.iter().filter(|p| is_active(p)).cloned().collect();
    let want = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0) as usize;
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let mut exp = Expectations { since: Some(Instant::now()), ..Default::default() };
    if active.len() < want {
        let template = rs.spec.as_ref().and_then(|s| s.template.clone()).unwrap_or_default();
        let mut meta = template.metadata.unwrap_or_default();
        meta.name = None;
        meta.generate_name = Some(format!("{name}-"));
        meta.namespace = Some(ns.clone());
        meta.owner_references = Some(vec![reference_to(&rs)]);
        let pod = Pod { metadata: meta, spec: template.spec, status: None };
        // kube-controller-manager creates in slow-start batches; a burst of
        // concurrent creates is as good here.
        let pp = PostParams::default();
        let creates = (0..want - active.len()).map(|_| api.create(&pp, &pod));
        for created in futures::future::join_all(creates).await {
            match created {
                Ok(p) => {
                    let note = format!("Created pod: {}", p.name_any());
                    super::events::publish(&ctx.recorder, &*rs, EventType::Normal, "SuccessfulCreate", "Create", note);
                    exp.creates.insert(p.name_any());
                }
                Err(e) => tracing::warn!(replicaset = %name, error = %e, "creating a pod"),
            }
        }
    } else if active.len() > want {
        active.sort_by_key(|p| deletion_rank(p));
        let victims: Vec<String> = active.iter().take(active.len() - want).map(|p| p.name_any()).collect();
        for v in victims {
            match api.delete(&v, &DeleteParams::default()).await {
                Ok(_) => {
                    let note = format!("Deleted pod: {v}");
                    super::events::publish(&ctx.recorder, &*rs, EventType::Normal, "SuccessfulDelete", "Delete", note);
                    exp.deletes.insert(v);
                }
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => tracing::warn!(replicaset = %name, error = %e, "deleting a pod"),
            }
        }
    }
    if !exp.creates.is_empty() || !exp.deletes.is_empty() {
        ctx.expectations.lock().unwrap_or_else(|e| e.into_inner()).insert(uid.clone(), exp);
    }
    // Status from what is there now; the next pass (after the watch) corrects it.
    let min_ready = rs.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0) as i64;
    let active: Vec<&Arc<Pod>> = pods.iter().filter(|p| is_active(p)).collect();
    let labels = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let fully_labeled = active.iter().filter(|p| labels.iter().all(|(k, v)| p.labels().get(k) == Some(v))).count();
    let status = json!({
        "replicas": active.len(),
        "fullyLabeledReplicas": fully_labeled,
        "readyReplicas": active.iter().filter(|p| is_ready(p)).count(),
        "availableReplicas": active.iter().filter(|p| is_available(p, min_ready)).count(),
        "observedGeneration": rs.metadata.generation,
    });
    let current = rs.status.as_ref().map(|s| {
        json!({
            "replicas": s.replicas,
            "fullyLabeledReplicas": s.fully_labeled_replicas.unwrap_or(0),
            "readyReplicas": s.ready_replicas.unwrap_or(0),
            "availableReplicas": s.available_replicas.unwrap_or(0),
            "observedGeneration": s.observed_generation,
        })
    });
    if current.as_ref() != Some(&status) {
        let rss: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
        rss.patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({"status": status}))).await?;
    }
    // Availability can change with time alone (minReadySeconds).
    Ok(if min_ready > 0 { Action::requeue(Duration::from_secs(1)) } else { Action::requeue(Duration::from_secs(30)) })
}

fn error_policy(rs: Arc<ReplicaSet>, e: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(replicaset = %rs.name_any(), error = %e, "replicaset");
    Action::requeue(Duration::from_secs(2))
}

pub async fn run(client: kube::Client) {
    let (pods, writer) = reflector::store::<Pod>();
    let pod_stream = reflector::reflector(writer, watcher(Api::<Pod>::all(client.clone()), watcher::Config::default()))
        .default_backoff()
        .touched_objects();
    tokio::spawn(async move {
        futures::pin_mut!(pod_stream);
        while pod_stream.next().await.is_some() {}
    });
    if pods.wait_until_ready().await.is_err() {
        return;
    }
    let reporter = Reporter { controller: "replicaset-controller".into(), instance: None };
    let ctx = Arc::new(Context {
        client: client.clone(),
        recorder: Recorder::new(client.clone(), reporter),
        pods,
        expectations: Mutex::new(HashMap::new()),
    });
    Controller::new(Api::<ReplicaSet>::all(client.clone()), watcher::Config::default())
        .owns(Api::<Pod>::all(client), watcher::Config::default())
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

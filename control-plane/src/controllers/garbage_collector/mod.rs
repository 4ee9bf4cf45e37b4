//! The garbage collector (kube-controller-manager's): deletes objects whose
//! owners are gone, and carries out foreground and orphan deletion.
//!
//! Discovery finds every resource that can be listed, watched and deleted
//! (again every 30 s, so CRDs join); a metadata-only watch per resource
//! feeds one ownership graph (`graph.rs`). Each change marks the objects it
//! affects; once every watch has listed, marked objects are decided on and
//! acted upon. An owner the graph does not know is asked for directly
//! before anything is deleted, so a slow watch never costs an object.

mod graph;

use futures::StreamExt;
use graph::{Graph, Item, Place, Step};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::core::PartialObjectMeta;
use kube::discovery::{verbs, Discovery, Scope};
use kube::runtime::{watcher, WatchStreamExt};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// A resource the collector watches.
#[derive(Clone)]
struct Resource {
    ar: ApiResource,
    namespaced: bool,
}

/// The watches' news for the graph.
struct Change {
    resource: usize,
    event: watcher::Event<PartialObjectMeta<DynamicObject>>,
}

type Resources = Arc<RwLock<Vec<Resource>>>;

pub async fn run(client: kube::Client) {
    let resources: Resources = Arc::default();
    let (tx, mut rx) = mpsc::unbounded_channel::<Change>();
    let mut graph = Graph::default();
    let mut synced: HashSet<usize> = HashSet::new();
    let mut relisting: HashMap<usize, HashSet<String>> = HashMap::new();
    let mut dirty: HashSet<String> = HashSet::new();
    let mut discover = tokio::time::interval(Duration::from_secs(30));
    let mut sweep = tokio::time::interval(Duration::from_secs(30));
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = discover.tick() => {
                if let Err(e) = watch_new_resources(&client, &resources, &tx).await {
                    tracing::warn!(error = %e, "garbage collector discovery");
                }
            }
            _ = sweep.tick() => dirty.extend(graph.candidates()),
            Some(change) = rx.recv() => {
                apply(&mut graph, &mut relisting, &mut synced, &mut dirty, change);
                // Drain what else is queued before deciding anything.
                while let Ok(change) = rx.try_recv() {
                    apply(&mut graph, &mut relisting, &mut synced, &mut dirty, change);
                }
            }
            _ = tick.tick() => {
                let total = resources.read().map(|r| r.len()).unwrap_or(0);
                if dirty.is_empty() || synced.len() < total {
                    continue;
                }
                let batch: Vec<Vec<Step>> = dirty.drain().map(|uid| graph.decide(&uid)).filter(|s| !s.is_empty()).collect();
                let failed = execute(&client, &resources, batch).await;
                dirty.extend(failed);
            }
        }
    }
}

/// Start a watch for each resource discovery shows that has none yet.
async fn watch_new_resources(
    client: &kube::Client,
    resources: &Resources,
    tx: &mpsc::UnboundedSender<Change>,
) -> Result<(), kube::Error> {
    let discovery = Discovery::new(client.clone()).run().await?;
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            let ops = [verbs::LIST, verbs::WATCH, verbs::DELETE];
            // Events never own anything and are the busiest resource.
            if !ops.iter().all(|v| caps.supports_operation(v)) || ar.plural == "events" {
                continue;
            }
            let index = {
                let mut list = resources.write().unwrap_or_else(|e| e.into_inner());
                if list.iter().any(|r| r.ar.group == ar.group && r.ar.kind == ar.kind) {
                    continue;
                }
                list.push(Resource { ar: ar.clone(), namespaced: caps.scope == Scope::Namespaced });
                list.len() - 1
            };
            let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client.clone(), &ar);
            let tx = tx.clone();
            tokio::spawn(async move {
                let events = watcher(api, watcher::Config::default()).default_backoff();
                futures::pin_mut!(events);
                while let Some(event) = events.next().await {
                    match event {
                        Ok(event) => {
                            if tx.send(Change { resource: index, event }).is_err() {
                                return;
                            }
                        }
                        Err(e) => tracing::debug!(error = %e, "garbage collector watch"),
                    }
                }
            });
        }
    }
    Ok(())
}

fn item(resource: usize, obj: &PartialObjectMeta<DynamicObject>) -> Option<Item> {
    let m = &obj.metadata;
    Some(Item {
        place: Place { resource, namespace: m.namespace.clone(), name: m.name.clone()?, uid: m.uid.clone()? },
        owners: m.owner_references.clone().unwrap_or_default(),
        deleting: m.deletion_timestamp.is_some(),
        finalizers: m.finalizers.clone().unwrap_or_default(),
    })
}

fn apply(
    graph: &mut Graph,
    relisting: &mut HashMap<usize, HashSet<String>>,
    synced: &mut HashSet<usize>,
    dirty: &mut HashSet<String>,
    change: Change,
) {
    let r = change.resource;
    match change.event {
        watcher::Event::Apply(obj) | watcher::Event::InitApply(obj) => {
            if let Some(i) = item(r, &obj) {
                if let Some(seen) = relisting.get_mut(&r) {
                    seen.insert(i.place.uid.clone());
                }
                dirty.extend(graph.upsert(i));
            }
        }
        watcher::Event::Delete(obj) => {
            if let Some(uid) = obj.metadata.uid.as_deref() {
                dirty.extend(graph.remove(uid));
            }
        }
        watcher::Event::Init => {
            relisting.insert(r, HashSet::new());
        }
        watcher::Event::InitDone => {
            // Whatever the relist no longer has was deleted meanwhile.
            if let Some(seen) = relisting.remove(&r) {
                for uid in graph.uids_of(r) {
                    if !seen.contains(&uid) {
                        dirty.extend(graph.remove(&uid));
                    }
                }
            }
            synced.insert(r);
        }
    }
}

/// Run each object's steps (objects concurrently, steps in order); returns
/// the UIDs to look at again because a step failed.
async fn execute(client: &kube::Client, resources: &Resources, batch: Vec<Vec<Step>>) -> Vec<String> {
    let runs = batch.into_iter().map(|steps| async move {
        for step in steps {
            let uid = target(&step).uid.clone();
            if let Err(e) = run_step(client, resources, &step).await {
                tracing::debug!(%uid, error = %e, "garbage collection step");
                return Some(uid);
            }
        }
        None
    });
    futures::stream::iter(runs).buffer_unordered(16).filter_map(|x| async { x }).collect().await
}

fn target(step: &Step) -> &Place {
    match step {
        Step::DeleteUnlessLive { target, .. }
        | Step::SetOwnersUnlessLive { target, .. }
        | Step::Delete { target, .. }
        | Step::RemoveFinalizer { target, .. } => target,
    }
}

fn api_for(client: &kube::Client, res: &Resource, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace.filter(|_| res.namespaced) {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &res.ar),
        None => Api::all_with(client.clone(), &res.ar),
    }
}

fn resource(resources: &Resources, index: usize) -> Option<Resource> {
    resources.read().ok()?.get(index).cloned()
}

/// Whether any of `owners` exists with the UID the reference names. An
/// owner of a kind discovery does not know counts as existing: never
/// delete on a guess.
async fn any_alive(
    client: &kube::Client,
    resources: &Resources,
    owners: &[OwnerReference],
    namespace: Option<&str>,
) -> Result<bool, kube::Error> {
    for o in owners {
        let group = o.api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let res = resources
            .read()
            .ok()
            .and_then(|list| list.iter().find(|r| r.ar.group == group && r.ar.kind == o.kind).cloned());
        let Some(res) = res else { return Ok(true) };
        if let Some(found) = api_for(client, &res, namespace).get_metadata_opt(&o.name).await? {
            if found.metadata.uid.as_deref() == Some(o.uid.as_str()) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

async fn run_step(client: &kube::Client, resources: &Resources, step: &Step) -> Result<(), kube::Error> {
    let place = target(step);
    let Some(res) = resource(resources, place.resource) else { return Ok(()) };
    let api = api_for(client, &res, place.namespace.as_deref());
    let delete = |foreground: bool| DeleteParams {
        propagation_policy: Some(if foreground {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        }),
        preconditions: Some(Preconditions { uid: Some(place.uid.clone()), resource_version: None }),
        ..Default::default()
    };
    let gone_ok = |r: Result<(), kube::Error>| match r {
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        other => other,
    };
    match step {
        Step::DeleteUnlessLive { check, foreground, .. } => {
            if any_alive(client, resources, check, place.namespace.as_deref()).await? {
                return Ok(());
            }
            tracing::debug!(name = %place.name, kind = %res.ar.kind, "deleting an object whose owners are gone");
            gone_ok(api.delete(&place.name, &delete(*foreground)).await.map(|_| ()))
        }
        Step::Delete { foreground, .. } => gone_ok(api.delete(&place.name, &delete(*foreground)).await.map(|_| ())),
        Step::SetOwnersUnlessLive { keep, check, .. } => {
            if any_alive(client, resources, check, place.namespace.as_deref()).await? {
                return Ok(());
            }
            let owners = if keep.is_empty() { json!(null) } else { json!(keep) };
            let patch = json!({"metadata": {"ownerReferences": owners}});
            gone_ok(api.patch(&place.name, &PatchParams::default(), &Patch::Merge(patch)).await.map(|_| ()))
        }
        Step::RemoveFinalizer { finalizers, finalizer, .. } => {
            let rest: Vec<&String> = finalizers.iter().filter(|f| f != finalizer).collect();
            let patch: json_patch::Patch = serde_json::from_value(json!([
                {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
                {"op": "replace", "path": "/metadata/finalizers", "value": rest},
            ]))
            .map_err(kube::Error::SerdeError)?;
            gone_ok(api.patch(&place.name, &PatchParams::default(), &Patch::Json::<()>(patch)).await.map(|_| ()))
        }
    }
}

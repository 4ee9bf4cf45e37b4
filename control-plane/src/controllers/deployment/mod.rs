//! The Deployment controller: rolls a Deployment's pods from one template
//! to the next through ReplicaSets, one per template (named by its
//! `pod-template-hash`), as kube-controller-manager does.
//!
//! Each pass lists the Deployment's ReplicaSets fresh from the API (so it
//! never acts on a stale cache), adopts matching orphans, then takes one
//! step: a scaling event is shared out proportionally; otherwise a rolling
//! update grows the new ReplicaSet within maxSurge and shrinks old ones
//! while availability stays above replicas - maxUnavailable, and Recreate
//! empties the old ones before starting the new. Old ReplicaSets scaled to
//! zero are kept as revision history (`kubectl rollout history|undo`) up to
//! revisionHistoryLimit. The status carries the counts and conditions
//! `kubectl rollout status` waits on. ReplicaSet changes wake the pass.

mod plan;
mod status;
mod template;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::{Selector, SelectorExt};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::ResourceExt;
use plan::{Fenceposts, Rs};
use serde_json::json;
use status::NewRs;
use std::sync::Arc;
use std::time::Duration;

const MANAGER: &str = "deployment-controller";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Kube(#[from] kube::Error),
}

struct Context {
    client: kube::Client,
    recorder: Recorder,
}

pub async fn run(client: kube::Client) {
    let reporter = Reporter { controller: MANAGER.into(), instance: None };
    let ctx = Arc::new(Context { client: client.clone(), recorder: Recorder::new(client.clone(), reporter) });
    Controller::new(Api::<Deployment>::all(client.clone()), watcher::Config::default())
        .owns(Api::<ReplicaSet>::all(client), watcher::Config::default())
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy(d: Arc<Deployment>, e: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(deployment = %d.name_any(), error = %e, "deployment");
    Action::requeue(Duration::from_secs(2))
}

fn controller_uid(rs: &ReplicaSet) -> Option<&str> {
    rs.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true)).map(|o| o.uid.as_str())
}

fn owner_ref(d: &Deployment) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: d.name_any(),
        uid: d.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn annotation_i32(rs: &ReplicaSet, key: &str) -> Option<i32> {
    rs.metadata.annotations.as_ref()?.get(key)?.parse().ok()
}

fn view(rs: &ReplicaSet) -> Rs {
    Rs {
        name: rs.name_any(),
        replicas: spec_replicas(rs),
        available: rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0),
        max_replicas: annotation_i32(rs, template::MAX_REPLICAS),
        desired_replicas: annotation_i32(rs, template::DESIRED_REPLICAS),
    }
}

/// One pass over a Deployment and its ReplicaSets.
struct Pass<'a> {
    ctx: &'a Context,
    d: &'a Deployment,
    rs_api: Api<ReplicaSet>,
    replicas: i32,
    f: Fenceposts,
}

async fn reconcile(d: Arc<Deployment>, ctx: Arc<Context>) -> Result<Action, Error> {
    if d.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = d.namespace().unwrap_or_default();
    let Some(spec) = d.spec.as_ref() else { return Ok(Action::await_change()) };
    let selector: Selector = match spec.selector.clone().try_into() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(deployment = %d.name_any(), error = %e, "invalid selector");
            return Ok(Action::await_change());
        }
    };
    if spec.selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && spec.selector.match_expressions.as_ref().is_none_or(|m| m.is_empty())
    {
        // Upstream refuses to act on an empty selector: it would own everything.
        return Ok(Action::await_change());
    }
    let replicas = status::desired(&d);
    let f = match Fenceposts::resolve(spec.strategy.as_ref(), replicas) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(deployment = %d.name_any(), error = %e, "invalid rolling update parameters");
            return Ok(Action::await_change());
        }
    };
    let p = Pass { ctx: &ctx, d: &d, rs_api: Api::namespaced(ctx.client.clone(), &ns), replicas, f };
    let mut owned = p.owned_replica_sets(&selector).await?;
    // Oldest first: old sets shrink in this order.
    owned.sort_by_key(|rs| (rs.metadata.creation_timestamp.clone().map(|t| t.0), rs.name_any()));
    let template = spec.template.clone();
    let new_index = owned.iter().position(|rs| {
        rs.spec.as_ref().and_then(|s| s.template.as_ref()).is_some_and(|t| template::equal_ignoring_hash(t, &template))
    });
    let mut new = new_index.map(|i| owned.remove(i));
    let mut old = owned;
    let paused = spec.paused.unwrap_or(false);
    let mut new_state = if new.is_some() { NewRs::Existing } else { NewRs::None };
    let all_views = || -> Vec<Rs> {
        // Newest first for proportional scaling.
        new.iter().chain(old.iter().rev()).map(view).collect()
    };
    let scaling = plan::is_scaling_event(replicas, &all_views());
    let recreate = spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate");
    let mut wait = None;
    // A scaling event is handled on its own (no rollout step in the same
    // pass); if there is nothing to share out, the rollout goes on.
    let resize = if paused || scaling { plan::proportional(replicas, f, !recreate, &all_views()) } else { Vec::new() };
    if paused || !resize.is_empty() {
        p.apply(&mut new, &mut old, resize).await?;
    } else {
        let max_old_revision = old.iter().map(template::revision).max().unwrap_or(0);
        match new.take() {
            Some(rs) => new = Some(p.refresh_new(rs, max_old_revision).await?),
            None => {
                let initial = if recreate {
                    0
                } else {
                    let zero = Rs { replicas: 0, ..view(&ReplicaSet::default()) };
                    plan::rolling_new_replicas(replicas, f, &zero, &old.iter().map(view).collect::<Vec<_>>())
                };
                match p.create_new(&template, initial, max_old_revision + 1).await? {
                    Some(rs) => {
                        new = Some(rs);
                        new_state = NewRs::Created;
                    }
                    // A name collision: the status now counts it; go again.
                    None => return Ok(Action::requeue(Duration::from_millis(100))),
                }
            }
        }
        p.record_revision(new.as_ref()).await?;
        if recreate {
            wait = p.recreate(&mut new, &mut old).await?;
        } else {
            p.rolling(&mut new, &mut old).await?;
        }
    }
    let all: Vec<ReplicaSet> = new.iter().chain(old.iter()).cloned().collect();
    let now = Timestamp::now();
    let next = status::next(&d, new.as_ref(), new_state, &all, f, now);
    let complete = next.updated_replicas == Some(replicas)
        && next.replicas == Some(replicas)
        && next.available_replicas == Some(replicas);
    if complete && !paused {
        p.clean_up_history(&old).await?;
    }
    let deadline = status::until_deadline(&d, &next, now);
    if d.status.as_ref().is_none_or(|cur| !status::same(cur, &next)) {
        let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
        api.patch_status(&d.name_any(), &PatchParams::default(), &Patch::Merge(json!({"status": next}))).await?;
    }
    let after = [wait, deadline].into_iter().flatten().min().unwrap_or(Duration::from_secs(60));
    Ok(Action::requeue(after))
}

impl Pass<'_> {
    /// The ReplicaSets this Deployment controls, adopting orphans that
    /// match its selector (as upstream does after a `--cascade=orphan`).
    async fn owned_replica_sets(&self, selector: &Selector) -> Result<Vec<ReplicaSet>, Error> {
        let uid = self.d.uid().unwrap_or_default();
        let listed = self.rs_api.list(&ListParams::default().labels_from(selector)).await?;
        let mut owned = Vec::new();
        for rs in listed.items {
            match controller_uid(&rs) {
                Some(u) if u == uid => owned.push(rs),
                Some(_) => {}
                None if rs.metadata.deletion_timestamp.is_none() && selector.matches(rs.labels()) => {
                    let mut refs = rs.metadata.owner_references.clone().unwrap_or_default();
                    refs.push(owner_ref(self.d));
                    let patch = json!({"metadata": {"ownerReferences": refs, "uid": rs.uid()}});
                    match self.rs_api.patch(&rs.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await {
                        Ok(adopted) => owned.push(adopted),
                        Err(e) => tracing::debug!(replicaset = %rs.name_any(), error = %e, "adopting"),
                    }
                }
                None => {}
            }
        }
        Ok(owned)
    }

    /// Create the ReplicaSet for the current template. `None` when its name
    /// is taken by a different template (the collision count goes up).
    async fn create_new(
        &self,
        template: &k8s_openapi::api::core::v1::PodTemplateSpec,
        replicas: i32,
        revision: i64,
    ) -> Result<Option<ReplicaSet>, Error> {
        let d = self.d;
        let collisions = d.status.as_ref().and_then(|s| s.collision_count);
        let hash = template::hash(template, collisions);
        let mut t = template.clone();
        t.metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(Default::default)
            .insert(template::HASH_LABEL.into(), hash.clone());
        let mut selector = d.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
        selector.match_labels.get_or_insert_with(Default::default).insert(template::HASH_LABEL.into(), hash.clone());
        let mut annotations = template::copied_annotations(d);
        annotations.insert(template::REVISION.into(), revision.to_string());
        annotations.insert(template::DESIRED_REPLICAS.into(), self.replicas.to_string());
        annotations.insert(template::MAX_REPLICAS.into(), (self.replicas + self.f.surge).to_string());
        let name = format!("{}-{hash}", d.name_any());
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: d.namespace(),
                labels: t.metadata.as_ref().and_then(|m| m.labels.clone()),
                annotations: Some(annotations),
                owner_references: Some(vec![owner_ref(d)]),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: d.spec.as_ref().and_then(|s| s.min_ready_seconds),
                selector,
                template: Some(t),
            }),
            status: None,
        };
        match self.rs_api.create(&PostParams::default(), &rs).await {
            Ok(created) => {
                self.event(
                    EventType::Normal,
                    "ScalingReplicaSet",
                    format!("Scaled up replica set {name} from 0 to {replicas}"),
                );
                Ok(Some(created))
            }
            Err(kube::Error::Api(e)) if e.code == 409 => {
                let existing = self.rs_api.get(&name).await?;
                let same = existing
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.as_ref())
                    .is_some_and(|et| template::equal_ignoring_hash(et, template));
                if same && controller_uid(&existing) == d.uid().as_deref() {
                    return Ok(Some(existing));
                }
                let api: Api<Deployment> = Api::namespaced(self.ctx.client.clone(), &d.namespace().unwrap_or_default());
                let patch = json!({"status": {"collisionCount": collisions.unwrap_or(0) + 1}});
                api.patch_status(&d.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Bring an existing new ReplicaSet's revision (it becomes the newest
    /// again after an undo), annotations and minReadySeconds up to date.
    async fn refresh_new(&self, rs: ReplicaSet, max_old_revision: i64) -> Result<ReplicaSet, Error> {
        let current = template::revision(&rs);
        let mut annotations = serde_json::Map::new();
        for (k, v) in template::copied_annotations(self.d) {
            if rs.annotations().get(&k) != Some(&v) {
                annotations.insert(k, json!(v));
            }
        }
        if current <= max_old_revision {
            annotations.insert(template::REVISION.into(), json!((max_old_revision + 1).to_string()));
            if current > 0 {
                let mut history: Vec<String> = rs
                    .annotations()
                    .get(template::REVISION_HISTORY)
                    .map(|h| h.split(',').map(String::from).collect())
                    .unwrap_or_default();
                history.push(current.to_string());
                annotations.insert(template::REVISION_HISTORY.into(), json!(history.join(",")));
            }
        }
        let min_ready = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
        let min_ready_changed = rs.spec.as_ref().and_then(|s| s.min_ready_seconds) != min_ready;
        if annotations.is_empty() && !min_ready_changed {
            return Ok(rs);
        }
        let patch = json!({"metadata": {"annotations": annotations}, "spec": {"minReadySeconds": min_ready}});
        Ok(self.rs_api.patch(&rs.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await?)
    }

    /// The Deployment carries the revision of its current ReplicaSet.
    async fn record_revision(&self, new: Option<&ReplicaSet>) -> Result<(), Error> {
        let Some(rev) = new.and_then(|rs| rs.annotations().get(template::REVISION).cloned()) else { return Ok(()) };
        if self.d.annotations().get(template::REVISION) == Some(&rev) {
            return Ok(());
        }
        let api: Api<Deployment> = Api::namespaced(self.ctx.client.clone(), &self.d.namespace().unwrap_or_default());
        let patch = json!({"metadata": {"annotations": {template::REVISION: rev}}});
        api.patch(&self.d.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await?;
        Ok(())
    }

    /// One step of a rolling update: grow the new set, or else shrink old ones.
    async fn rolling(&self, new: &mut Option<ReplicaSet>, old: &mut [ReplicaSet]) -> Result<(), Error> {
        let old_views: Vec<Rs> = old.iter().map(view).collect();
        if let Some(n) = new.as_ref() {
            let target = plan::rolling_new_replicas(self.replicas, self.f, &view(n), &old_views);
            if target != spec_replicas(n) {
                let changes = vec![(n.name_any(), target)];
                return self.apply(new, old, changes).await;
            }
        }
        let changes = plan::rolling_old_replicas(self.replicas, self.f, new.as_ref().map(view).as_ref(), &old_views);
        self.apply(new, old, changes).await
    }

    /// Recreate: empty the old sets, wait for their pods to be gone, then
    /// start the new one. Returns how soon to look again while waiting.
    async fn recreate(&self, new: &mut Option<ReplicaSet>, old: &mut [ReplicaSet]) -> Result<Option<Duration>, Error> {
        let shrink: Vec<(String, i32)> =
            old.iter().filter(|rs| spec_replicas(rs) > 0).map(|rs| (rs.name_any(), 0)).collect();
        if !shrink.is_empty() {
            self.apply(new, old, shrink).await?;
            return Ok(Some(Duration::from_millis(500)));
        }
        if self.old_pods_remain(old).await? {
            return Ok(Some(Duration::from_millis(500)));
        }
        if let Some(n) = new.as_ref().filter(|n| spec_replicas(n) != self.replicas) {
            let changes = vec![(n.name_any(), self.replicas)];
            self.apply(new, old, changes).await?;
        }
        Ok(None)
    }

    /// Whether any pod of an old ReplicaSet still exists and has not
    /// finished (terminating ones count: Recreate promises no overlap).
    async fn old_pods_remain(&self, old: &[ReplicaSet]) -> Result<bool, Error> {
        if old.is_empty() {
            return Ok(false);
        }
        let pods: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &self.d.namespace().unwrap_or_default());
        let selector: Selector = match self.d.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default().try_into() {
            Ok(s) => s,
            Err(_) => return Ok(false),
        };
        let uids: Vec<String> = old.iter().filter_map(|rs| rs.uid()).collect();
        let listed = pods.list(&ListParams::default().labels_from(&selector)).await?;
        Ok(listed.items.iter().any(|p| {
            let finished = matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"));
            let owner = p.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true));
            !finished && owner.is_some_and(|o| uids.contains(&o.uid))
        }))
    }

    /// Resize ReplicaSets, keeping the in-memory copies current for the status.
    async fn apply(
        &self,
        new: &mut Option<ReplicaSet>,
        old: &mut [ReplicaSet],
        changes: Vec<(String, i32)>,
    ) -> Result<(), Error> {
        for (name, size) in changes {
            let target = new.iter_mut().chain(old.iter_mut()).find(|rs| rs.name_any() == name);
            let Some(rs) = target else { continue };
            let from = spec_replicas(rs);
            let patch = json!({
                "metadata": {"annotations": {
                    template::DESIRED_REPLICAS: self.replicas.to_string(),
                    template::MAX_REPLICAS: (self.replicas + self.f.surge).to_string(),
                }},
                "spec": {"replicas": size},
            });
            *rs = self.rs_api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
            if from != size {
                let verb = if size > from { "up" } else { "down" };
                self.event(
                    EventType::Normal,
                    "ScalingReplicaSet",
                    format!("Scaled {verb} replica set {name} from {from} to {size}"),
                );
            }
        }
        Ok(())
    }

    /// Keep at most revisionHistoryLimit old, empty ReplicaSets, dropping
    /// the lowest revisions first.
    async fn clean_up_history(&self, old: &[ReplicaSet]) -> Result<(), Error> {
        let limit = self.d.spec.as_ref().and_then(|s| s.revision_history_limit).unwrap_or(10).max(0) as usize;
        let mut empty: Vec<&ReplicaSet> = old
            .iter()
            .filter(|rs| {
                spec_replicas(rs) == 0
                    && rs.status.as_ref().is_none_or(|s| s.replicas == 0)
                    && rs.metadata.deletion_timestamp.is_none()
            })
            .collect();
        if empty.len() <= limit {
            return Ok(());
        }
        empty.sort_by_key(|rs| template::revision(rs));
        for rs in &empty[..empty.len() - limit] {
            match self.rs_api.delete(&rs.name_any(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn event(&self, kind: EventType, reason: &str, note: String) {
        super::events::publish(&self.ctx.recorder, self.d, kind, reason, "Scaling", note);
    }
}

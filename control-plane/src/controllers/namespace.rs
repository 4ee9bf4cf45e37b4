//! The namespace controller and the ServiceAccount controller, as
//! kube-controller-manager runs them: a namespace being deleted has
//! everything in it deleted (every namespaced resource discovery lists),
//! and once nothing is left its `kubernetes` finalizer is removed through
//! `namespaces/<name>/finalize`, which lets it go. Every active namespace
//! keeps a `default` ServiceAccount.

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams, PropagationPolicy};
use kube::core::PartialObjectMeta;
use kube::discovery::{verbs, Discovery, Scope};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::ResourceExt;
use std::sync::Arc;
use std::time::Duration;

const FINALIZER: &str = "kubernetes";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

struct Context {
    client: kube::Client,
}

pub async fn run(client: kube::Client) {
    let ctx = Arc::new(Context { client: client.clone() });
    Controller::new(Api::<Namespace>::all(client.clone()), watcher::Config::default())
        .watches(Api::<ServiceAccount>::all(client), watcher::Config::default(), |sa| {
            sa.namespace().map(|ns| ObjectRef::<Namespace>::new(&ns))
        })
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy(ns: Arc<Namespace>, e: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(namespace = %ns.name_any(), error = %e, "namespace");
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = ns.name_any();
    if ns.metadata.deletion_timestamp.is_none() {
        ensure_default_service_account(&ctx.client, &name).await?;
        return Ok(Action::await_change());
    }
    let finalizers = ns.spec.as_ref().and_then(|s| s.finalizers.clone()).unwrap_or_default();
    if !finalizers.iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let remaining = delete_contents(&ctx.client, &name).await?;
    if remaining > 0 {
        tracing::debug!(namespace = %name, remaining, "waiting for the namespace to empty");
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    let mut done = (*ns).clone();
    if let Some(spec) = done.spec.as_mut() {
        spec.finalizers = Some(finalizers.into_iter().filter(|f| f != FINALIZER).collect());
    }
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    match api.replace_subresource("finalize", &name, &PostParams::default(), &done).await {
        Ok(_) => tracing::info!(namespace = %name, "namespace emptied and finalized"),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Action::await_change())
}

async fn ensure_default_service_account(client: &kube::Client, ns: &str) -> Result<(), Error> {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    if api.get_metadata_opt("default").await?.is_some() {
        return Ok(());
    }
    let sa = ServiceAccount {
        metadata: kube::api::ObjectMeta { name: Some("default".into()), ..Default::default() },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &sa).await {
        Ok(_) => Ok(()),
        // Already there (a race with ourselves), or the namespace started terminating.
        Err(kube::Error::Api(e)) if e.code == 409 || e.code == 403 || e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Every namespaced resource that can be listed and deleted.
async fn namespaced_resources(client: &kube::Client) -> Result<Vec<ApiResource>, Error> {
    let discovery = Discovery::new(client.clone()).run().await?;
    let mut out = Vec::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if caps.scope == Scope::Namespaced
                && caps.supports_operation(verbs::LIST)
                && caps.supports_operation(verbs::DELETE)
            {
                out.push(ar);
            }
        }
    }
    Ok(out)
}

/// Ask for everything in the namespace to be deleted; returns how many
/// objects are still there (including ones already terminating).
async fn delete_contents(client: &kube::Client, ns: &str) -> Result<usize, Error> {
    let mut remaining = 0;
    let background = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() };
    for ar in namespaced_resources(client).await? {
        let api: Api<PartialObjectMeta<DynamicObject>> = Api::namespaced_with(client.clone(), ns, &ar);
        let list = api.list(&ListParams::default()).await?;
        remaining += list.items.len();
        let objects: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
        for item in list.items.iter().filter(|i| i.metadata.deletion_timestamp.is_none()) {
            let Some(name) = item.metadata.name.as_deref() else { continue };
            match objects.delete(name, &background).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                Err(e) => {
                    tracing::warn!(namespace = %ns, kind = %ar.kind, %name, error = %e, "deleting namespace content")
                }
            }
        }
    }
    Ok(remaining)
}

//! The kubelet role: run the pods bound to this node.
//!
//! One watch on `spec.nodeName=<node>` feeds one worker task per pod UID
//! (`worker.rs`); a worker owns everything local to its pod (network,
//! volumes, containers) and reports the pod's status. At start-up, once the
//! watch has listed, anything local that the API no longer knows is removed,
//! so an agent that was down while pods were deleted leaves nothing behind.

mod config;
mod env;
mod events;
mod files;
mod images;
mod insecure_tls;
mod lookup;
mod probe;
mod spec;
mod status;
mod volumes;
mod worker;

pub use config::{Config, Context, PodDirs};
pub use lookup::{Lookup, PodIndex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher;
use kube::Api;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Watch this node's pods and keep one worker per pod until it is gone.
pub async fn run(ctx: Arc<Context>) -> anyhow::Result<()> {
    let pods: Api<Pod> = Api::all(ctx.client.clone());
    let selector = format!("spec.nodeName={}", ctx.config.node_name);
    let mut stream = watcher(pods, watcher::Config::default().fields(&selector)).boxed();
    let mut workers: HashMap<String, watch::Sender<Option<Arc<Pod>>>> = HashMap::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<String>();
    let mut listing: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            Some(uid) = done_rx.recv() => {
                ctx.pods.remove_uid(&uid);
                // The worker cleaned up. If the pod came back under the same
                // UID meanwhile (it cannot in Kubernetes), the next event restarts it.
                if workers.get(&uid).is_some_and(|tx| tx.borrow().is_none() || tx.is_closed()) {
                    workers.remove(&uid);
                }
            }
            event = stream.next() => {
                let Some(event) = event else { anyhow::bail!("pod watch ended") };
                match event {
                    Err(e) => {
                        tracing::warn!(error = %e, "pod watch failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                    Ok(watcher::Event::Init) => listing.clear(),
                    Ok(watcher::Event::InitApply(pod)) => {
                        if let Some(uid) = pod.metadata.uid.clone() {
                            listing.insert(uid);
                        }
                        dispatch(&ctx, &mut workers, &done_tx, pod);
                    }
                    Ok(watcher::Event::InitDone) => {
                        for (uid, tx) in &workers {
                            if !listing.contains(uid) {
                                let _ = tx.send(None);
                            }
                        }
                        let known: HashSet<String> = workers.keys().cloned().chain(listing.drain()).collect();
                        let ctx = ctx.clone();
                        tokio::spawn(async move { worker::remove_orphans(&ctx, &known).await });
                    }
                    Ok(watcher::Event::Apply(pod)) => dispatch(&ctx, &mut workers, &done_tx, pod),
                    Ok(watcher::Event::Delete(pod)) => {
                        if let Some(tx) = pod.metadata.uid.as_ref().and_then(|u| workers.get(u)) {
                            let _ = tx.send(None);
                        }
                    }
                }
            }
        }
    }
}

/// Hand the newest version of a pod to its worker, starting one if needed.
fn dispatch(
    ctx: &Arc<Context>,
    workers: &mut HashMap<String, watch::Sender<Option<Arc<Pod>>>>,
    done: &mpsc::UnboundedSender<String>,
    pod: Pod,
) {
    let Some(uid) = pod.metadata.uid.clone() else { return };
    if let (Some(ns), Some(name)) = (pod.metadata.namespace.as_deref(), pod.metadata.name.as_deref()) {
        ctx.pods.insert(ns, name, &uid);
    }
    let pod = Arc::new(pod);
    if let Some(tx) = workers.get(&uid) {
        if !tx.is_closed() {
            let _ = tx.send(Some(pod));
            return;
        }
    }
    let (tx, rx) = watch::channel(Some(pod));
    workers.insert(uid.clone(), tx);
    let ctx = ctx.clone();
    let done = done.clone();
    tokio::spawn(async move {
        worker::PodWorker::new(ctx, uid.clone(), rx).run().await;
        let _ = done.send(uid);
    });
}

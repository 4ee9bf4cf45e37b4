//! Node IPAM: give every Node its podCIDRs, one block per family of the
//! cluster CIDR (a /24 and, dual-stack, a /64 by default), as
//! kube-controller-manager's node-ipam controller does. `podCIDR` is
//! `podCIDRs[0]`.

pub mod blocks;

use super::Settings;
use crate::services::Cidr;
use blocks::BlockError;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

const MANAGER: &str = "node-ipam-controller";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Blocks(#[from] BlockError),
    #[error("patching node: {0}")]
    Kube(#[from] kube::Error),
}

struct Context {
    client: kube::Client,
    nodes: Store<Node>,
    settings: Settings,
    /// Allocation is choose-then-patch; one at a time keeps two nodes from
    /// getting the same block.
    allocating: Mutex<HashSet<Cidr>>,
}

/// The podCIDRs a node holds (podCIDR alone for nodes written without the list).
fn pod_cidrs(node: &Node) -> Vec<String> {
    let spec = node.spec.as_ref();
    match spec.and_then(|s| s.pod_cidrs.clone()).filter(|l| !l.is_empty()) {
        Some(list) => list,
        None => spec.and_then(|s| s.pod_cidr.clone()).filter(|c| !c.is_empty()).into_iter().collect(),
    }
}

/// Blocks already handed out (from the cache, plus in-flight allocations).
fn used_blocks(ctx: &Context, pending: &HashSet<Cidr>) -> HashSet<Cidr> {
    let mut used = pending.clone();
    for n in ctx.nodes.state() {
        used.extend(pod_cidrs(&n).iter().filter_map(|c| Cidr::parse(c).ok()));
    }
    used
}

async fn reconcile(node: Arc<Node>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let current = pod_cidrs(&node);
    let mut pending = ctx.allocating.lock().await;
    let used = used_blocks(&ctx, &pending);
    let Some(cidrs) = blocks::wanted(&ctx.settings.pod_networks, &current, &used)? else {
        return Ok(Action::await_change());
    };
    let added: Vec<Cidr> = cidrs[current.len()..].iter().filter_map(|c| Cidr::parse(c).ok()).collect();
    pending.extend(added.iter().copied());
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let patch = json!({"spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs}});
    let result = nodes.patch(&name, &PatchParams::apply(MANAGER), &Patch::Merge(patch)).await;
    // The cache sees the new podCIDRs soon; until then the blocks stay pending.
    let ctx2 = ctx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let mut pending = ctx2.allocating.lock().await;
        for c in &added {
            pending.remove(c);
        }
    });
    result?;
    tracing::info!(node = %name, pod_cidrs = ?cidrs, "allocated podCIDRs");
    Ok(Action::await_change())
}

fn error_policy(node: Arc<Node>, e: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(node = ?node.metadata.name, error = %e, "node IPAM");
    Action::requeue(Duration::from_secs(2))
}

pub async fn run(client: kube::Client, settings: Settings) {
    let api: Api<Node> = Api::all(client.clone());
    let controller = Controller::new(api, watcher::Config::default());
    let ctx = Arc::new(Context { client, nodes: controller.store(), settings, allocating: Mutex::new(HashSet::new()) });
    controller.run(reconcile, error_policy, ctx).for_each(|_| async {}).await;
}

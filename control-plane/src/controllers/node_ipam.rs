//! Node IPAM: give every Node a podCIDR (a /24 of the cluster CIDR by
//! default), as kube-controller-manager's node-ipam controller does.

use super::Settings;
use crate::services::Cidr;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use serde_json::json;
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

const MANAGER: &str = "node-ipam-controller";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the cluster CIDR {0} has no free /{1} left")]
    Exhausted(Cidr, u8),
    #[error("patching node: {0}")]
    Kube(#[from] kube::Error),
}

struct Context {
    client: kube::Client,
    nodes: Store<Node>,
    settings: Settings,
    /// Allocation is choose-then-patch; one at a time keeps two nodes from
    /// getting the same block.
    allocating: Mutex<HashSet<String>>,
}

/// Blocks already handed out (from the cache, plus in-flight allocations).
fn used_blocks(ctx: &Context, pending: &HashSet<String>) -> HashSet<String> {
    let mut used: HashSet<String> = pending.clone();
    for n in ctx.nodes.state() {
        if let Some(c) = n.spec.as_ref().and_then(|s| s.pod_cidr.clone()) {
            used.insert(c);
        }
    }
    used
}

/// The first free block of the cluster CIDR.
pub fn first_free(cluster: Cidr, mask: u8, used: &HashSet<String>) -> Option<String> {
    if mask < cluster.prefix || mask > 30 {
        return None;
    }
    let count = 1u32 << (mask - cluster.prefix);
    let step = 1u32 << (32 - mask);
    (0..count).map(|i| format!("{}/{mask}", Ipv4Addr::from(cluster.base + i * step))).find(|c| !used.contains(c))
}

async fn reconcile(node: Arc<Node>, ctx: Arc<Context>) -> Result<Action, Error> {
    let name = node.metadata.name.clone().unwrap_or_default();
    if node.spec.as_ref().and_then(|s| s.pod_cidr.as_ref()).is_some() {
        return Ok(Action::await_change());
    }
    let mut pending = ctx.allocating.lock().await;
    let used = used_blocks(&ctx, &pending);
    let cidr = first_free(ctx.settings.cluster_cidr, ctx.settings.node_mask, &used)
        .ok_or(Error::Exhausted(ctx.settings.cluster_cidr, ctx.settings.node_mask))?;
    pending.insert(cidr.clone());
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let patch = json!({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}});
    let result = nodes.patch(&name, &PatchParams::apply(MANAGER), &Patch::Merge(patch)).await;
    // The cache sees the new podCIDR soon; until then the block stays pending.
    let release = cidr.clone();
    let ctx2 = ctx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        ctx2.allocating.lock().await.remove(&release);
    });
    result?;
    tracing::info!(node = %name, pod_cidr = %cidr, "allocated podCIDR");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_in_order_skipping_used() {
        let cluster = Cidr::parse("10.244.0.0/16").expect("cidr");
        let used: HashSet<String> = ["10.244.0.0/24".to_string(), "10.244.2.0/24".to_string()].into();
        assert_eq!(first_free(cluster, 24, &used).as_deref(), Some("10.244.1.0/24"));
        let small = Cidr::parse("10.0.0.0/23").expect("cidr");
        let full: HashSet<String> = ["10.0.0.0/24".to_string(), "10.0.1.0/24".to_string()].into();
        assert_eq!(first_free(small, 24, &full), None);
    }
}

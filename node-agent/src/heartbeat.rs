//! Heartbeats: renew the node's Lease in `kube-node-lease` and report its
//! status, every period. A failed beat is logged and retried next period;
//! the control plane marks the node NotReady if beats stop.

use crate::machine::Facts;
use crate::node::{self, MANAGER};
use anyhow::Result;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use std::time::Duration;

pub const LEASE_NAMESPACE: &str = "kube-node-lease";

pub struct Heartbeat {
    client: kube::Client,
    facts: Facts,
    period: Duration,
    since: String,
}

/// Lease renew times carry microseconds.
fn micro_now() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

impl Heartbeat {
    pub fn new(client: kube::Client, facts: Facts, period: Duration) -> Self {
        Heartbeat { client, facts, period, since: node::now() }
    }

    pub async fn run(self) -> Result<()> {
        let mut ticker = tokio::time::interval(self.period);
        loop {
            ticker.tick().await;
            if let Err(e) = self.beat().await {
                tracing::warn!(error = %e, "heartbeat failed; retrying next period");
            }
        }
    }

    async fn beat(&self) -> Result<()> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let node = nodes.get(&self.facts.name).await?;
        let uid = node.metadata.uid.unwrap_or_default();
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), LEASE_NAMESPACE);
        // Server-side apply creates the Lease the first time and renews it after.
        let lease = json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.facts.name,
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": self.facts.name, "uid": uid}],
            },
            "spec": {
                "holderIdentity": self.facts.name,
                "leaseDurationSeconds": (self.period.as_secs() * 4).max(4),
                "renewTime": micro_now(),
            },
        });
        leases.patch(&self.facts.name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(lease)).await?;
        nodes
            .patch_status(
                &self.facts.name,
                &PatchParams::apply(MANAGER),
                &Patch::Merge(json!({"status": {"conditions": node::status(&self.facts, &self.since)["conditions"]}})),
            )
            .await?;
        Ok(())
    }
}

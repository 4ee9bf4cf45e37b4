//! This node's EndpointSlice of the `kube-dns` Service (kube-system): the node's DNS address,
//! with its node name, so internalTrafficPolicy Local sends each pod to its own node. Owned by
//! the Node, so the garbage collector removes it with the node.
use std::{net::SocketAddr, time::Duration};

use k8s_openapi::api::{core::v1::Node, discovery::v1::EndpointSlice};
use kube::{
    api::{Api, PostParams},
    Resource,
};
use serde_json::json;

const NAMESPACE: &str = "kube-system";
const SERVICE: &str = "kube-dns";

/// Creates or updates the slice, retrying until it is in place (the API may not be ready yet).
pub async fn publish(client: kube::Client, node: String, listen: SocketAddr) {
    let mut delay = Duration::from_millis(200);
    loop {
        match write(&client, &node, listen).await {
            Ok(()) => return,
            Err(e) => tracing::warn!(error = %e, "publishing this node's kube-dns endpoint"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

async fn write(client: &kube::Client, node: &str, listen: SocketAddr) -> Result<(), kube::Error> {
    let owner = Api::<Node>::all(client.clone()).get(node).await?;
    let name = format!("{SERVICE}-{node}");
    let family = if listen.is_ipv4() { "IPv4" } else { "IPv6" };
    let mut slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {
                "kubernetes.io/service-name": SERVICE,
                "endpointslice.kubernetes.io/managed-by": "keel-agent",
            },
            "ownerReferences": [{
                "apiVersion": "v1", "kind": "Node", "name": node,
                "uid": owner.meta().uid.clone().unwrap_or_default(),
            }],
        },
        "addressType": family,
        "endpoints": [{
            "addresses": [listen.ip().to_string()],
            "conditions": {"ready": true, "serving": true, "terminating": false},
            "nodeName": node,
        }],
        "ports": [
            {"name": "dns", "protocol": "UDP", "port": listen.port()},
            {"name": "dns-tcp", "protocol": "TCP", "port": listen.port()},
        ],
    }))
    .map_err(kube::Error::SerdeError)?;
    let api = Api::<EndpointSlice>::namespaced(client.clone(), NAMESPACE);
    match api.get_opt(&name).await? {
        None => api.create(&PostParams::default(), &slice).await.map(|_| ()),
        Some(existing) => {
            slice.metadata.resource_version = existing.metadata.resource_version;
            api.replace(&name, &PostParams::default(), &slice).await.map(|_| ())
        }
    }
}

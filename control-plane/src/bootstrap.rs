//! What every cluster has from its first start: the system namespaces and
//! the `kubernetes` Service and its endpoints. (Default ServiceAccounts and
//! namespace clean-up are controllers: `controllers::namespace`.)

use crate::api::handlers::{self, Call};
use crate::api::request::{Query, Rendering, Target};
use crate::api::{objects, ApiServer};
use crate::registry::ResourceType;
use axum::http::HeaderMap;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::Arc;

pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

fn rt(server: &ApiServer, group: &str, plural: &str) -> anyhow::Result<Arc<ResourceType>> {
    server.registry.find(group, "v1", plural).ok_or_else(|| anyhow::anyhow!("resource {plural} missing"))
}

/// Create an object through the normal create path unless it exists.
async fn ensure(server: &ApiServer, rt: Arc<ResourceType>, namespace: Option<&str>, obj: Value) -> anyhow::Result<()> {
    let name = objects::name(&obj).to_string();
    let target = Target { rt: rt.clone(), namespace: namespace.map(String::from), name: None, subresource: None };
    let key = rt.storage_key(namespace, &name);
    if server.store.get(&key).is_some() {
        return Ok(());
    }
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::USER_AGENT, axum::http::HeaderValue::from_static("keel-apiserver/bootstrap"));
    let call = Call { server, target, query: Query::default(), headers, rendering: Rendering::Full };
    match handlers::create(&call, obj.to_string().as_bytes()).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(anyhow::anyhow!("creating {} {name}: {}", rt.kind, e.message)),
    }
}

/// The namespaces, the `kubernetes` Service pointing at this server, and the `kube-dns` Service.
pub async fn run(server: &ApiServer, api_ip: IpAddr, api_port: u16) -> anyhow::Result<()> {
    let ns = rt(server, "", "namespaces")?;
    for name in SYSTEM_NAMESPACES {
        ensure(server, ns.clone(), None, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
            .await?;
    }
    let svc = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        // The primary family only, as upstream: clients reach the API by one address.
        "spec": {"type": "ClusterIP", "clusterIP": server.service_cidrs.primary().nth(1).to_string(),
                 "ipFamilyPolicy": "SingleStack",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": api_port}]},
    });
    ensure(server, rt(server, "", "services")?, Some("default"), svc).await?;
    // Cluster DNS: every node agent serves it and publishes its own endpoint; Local keeps each
    // pod's queries on its node. No selector: the slices are the agents' own.
    let dns = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system",
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS", "kubernetes.io/cluster-service": "true"}},
        "spec": {"type": "ClusterIP", "clusterIP": server.service_cidrs.primary().nth(10).to_string(),
                 "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Local",
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]},
    });
    // Not fatal: on a cluster created before this Service existed, its address may be taken.
    if let Err(e) = ensure(server, rt(server, "", "services")?, Some("kube-system"), dns).await {
        tracing::warn!(error = %e, "no kube-dns Service: cluster DNS is unreachable by its ClusterIP");
    }
    let endpoints = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": api_ip.to_string()}], "ports": [{"name": "https", "port": api_port, "protocol": "TCP"}]}],
    });
    ensure(server, rt(server, "", "endpoints")?, Some("default"), endpoints).await?;
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "keel-apiserver"}},
        "addressType": if api_ip.is_ipv4() { "IPv4" } else { "IPv6" },
        "endpoints": [{"addresses": [api_ip.to_string()], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": api_port, "protocol": "TCP"}],
    });
    ensure(
        server,
        server
            .registry
            .find("discovery.k8s.io", "v1", "endpointslices")
            .ok_or_else(|| anyhow::anyhow!("endpointslices missing"))?,
        Some("default"),
        slice,
    )
    .await?;
    Ok(())
}

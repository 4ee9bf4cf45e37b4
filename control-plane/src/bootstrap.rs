//! What every cluster has from its first start: the system namespaces, the
//! `kubernetes` Service and its endpoints, and a `default` ServiceAccount in
//! every namespace. Also the clean-up of namespaces being deleted.
//!
//! The service-account and namespace loops run inside the API server for
//! now; they move to the controller manager (issue #4) as API clients.

use crate::api::handlers::{self, Call, DeleteOptions};
use crate::api::request::{Query, Rendering, Target};
use crate::api::{objects, ApiServer};
use crate::registry::ResourceType;
use axum::http::HeaderMap;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

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

/// The namespaces and the `kubernetes` Service pointing at this server.
pub async fn run(server: &ApiServer, api_ip: IpAddr, api_port: u16) -> anyhow::Result<()> {
    let ns = rt(server, "", "namespaces")?;
    for name in SYSTEM_NAMESPACES {
        ensure(server, ns.clone(), None, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
            .await?;
    }
    let svc = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": server.service_cidr.nth(1).to_string(),
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": api_port}]},
    });
    ensure(server, rt(server, "", "services")?, Some("default"), svc).await?;
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

/// Keep a `default` ServiceAccount in every active namespace, and finish
/// deleting namespaces marked for deletion. Level-triggered: each pass looks
/// at the whole state; changes to namespaces wake it early.
pub async fn maintain(server: Arc<ApiServer>) {
    let (_, start) = server.store.list_and_watch("/registry/core/namespaces/");
    let mut wake = start.live;
    loop {
        if let Err(e) = pass(&server).await {
            tracing::warn!(error = %e, "namespace maintenance");
        }
        tokio::select! {
            _ = wake.recv() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
        // Coalesce bursts.
        while wake.try_recv().is_ok() {}
    }
}

async fn pass(server: &ApiServer) -> anyhow::Result<()> {
    let (namespaces, _, _) = server.store.list("/registry/core/namespaces/", None, None);
    let sa = rt(server, "", "serviceaccounts")?;
    for (_, ns) in namespaces {
        let name = objects::name(&ns).to_string();
        if objects::is_deleting(&ns) {
            finish_namespace(server, &ns).await?;
        } else {
            let obj = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}});
            ensure(server, sa.clone(), Some(&name), obj).await?;
        }
    }
    Ok(())
}

/// Delete what a terminating namespace holds; once it is empty, drop its
/// finalizer so the namespace itself goes.
async fn finish_namespace(server: &ApiServer, ns: &Value) -> anyhow::Result<()> {
    let name = objects::name(ns);
    let mut remaining = 0;
    let mut seen = std::collections::HashSet::new();
    for rt in server.registry.all() {
        if !rt.namespaced || !seen.insert(rt.storage_prefix()) {
            continue;
        }
        let (items, _, _) = server.store.list(&format!("{}{name}/", rt.storage_prefix()), None, None);
        for (key, obj) in items {
            remaining += 1;
            if objects::is_deleting(&obj) {
                continue;
            }
            let opts = DeleteOptions { propagation: Some("Background".into()), ..Default::default() };
            if let Err(e) = handlers::delete_object(server, &rt, &key, objects::name(&obj), &opts, false).await {
                if e.code != 404 {
                    tracing::warn!(%key, error = %e.message, "deleting namespace content");
                }
            }
        }
    }
    if remaining > 0 {
        return Ok(());
    }
    let key = format!("/registry/core/namespaces/{name}");
    let Some(current) = server.store.get(&key) else { return Ok(()) };
    let rev = crate::store::object_revision(&current);
    let mut finalized = (*current).clone();
    if let Some(spec) = finalized.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("finalizers");
    }
    if objects::finalizers(&finalized).is_empty() {
        server.store.delete(&key, rev).await.ok();
    } else if finalized != *current {
        server.store.update(&key, finalized, rev).await.ok();
    }
    Ok(())
}

//! Keeps the zone equal to the API: reflectors on Services and EndpointSlices, and a rebuild of
//! the whole zone (milliseconds for thousands of names) after each burst of changes.
use std::{net::IpAddr, sync::Arc, time::Duration};

use futures::StreamExt;
use k8s_openapi::api::{
    core::v1::{Pod, Service},
    discovery::v1::EndpointSlice,
};
use kube::{
    runtime::{reflector, watcher, WatchStreamExt},
    Api,
};
use tokio::sync::Notify;

use super::{
    handler::SharedZone,
    zone::{PodRecords, Sources, Zone},
    DnsConfig, PodRecordsMode,
};

/// Changes arriving within this window are applied together.
const BATCH: Duration = Duration::from_millis(20);

pub async fn run(client: kube::Client, config: DnsConfig, shared: SharedZone) {
    let changed = Arc::new(Notify::new());
    let services = reflect(Api::<Service>::all(client.clone()), changed.clone());
    let slices = reflect(Api::<EndpointSlice>::all(client.clone()), changed.clone());
    // Verified pod records need every pod's address; the other modes need no pod at all.
    let pods =
        (config.pod_records == PodRecordsMode::Verified).then(|| reflect(Api::<Pod>::all(client), changed.clone()));
    if services.wait_until_ready().await.is_err() || slices.wait_until_ready().await.is_err() {
        return;
    }
    if let Some(pods) = &pods {
        if pods.wait_until_ready().await.is_err() {
            return;
        }
    }
    loop {
        tokio::time::sleep(BATCH).await;
        let (svcs, eps) = (services.state(), slices.state());
        let svc_refs: Vec<&Service> = svcs.iter().map(|s| &**s).collect();
        let slice_refs: Vec<&EndpointSlice> = eps.iter().map(|s| &**s).collect();
        let dns_ip = svc_refs
            .iter()
            .find(|s| {
                s.metadata.namespace.as_deref() == Some("kube-system") && s.metadata.name.as_deref() == Some("kube-dns")
            })
            .and_then(|s| s.spec.as_ref()?.cluster_ip.as_deref()?.parse::<IpAddr>().ok());
        let pod_records = match (config.pod_records, &pods) {
            (PodRecordsMode::Verified, Some(pods)) => PodRecords::Verified(pod_addresses(&pods.state())),
            (PodRecordsMode::Disabled, _) => PodRecords::Disabled,
            _ => PodRecords::Insecure,
        };
        let sources = Sources { services: &svc_refs, slices: &slice_refs, dns_ip, pod_records };
        match Zone::build(&config.domain, config.ttl, &sources) {
            Ok(zone) => {
                tracing::debug!(names = zone.names(), "cluster DNS zone rebuilt");
                *shared.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(zone);
            }
            Err(e) => tracing::error!(error = %e, "building the cluster DNS zone"),
        }
        changed.notified().await;
    }
}

/// (address, namespace) of every pod address, for verified pod records.
fn pod_addresses(pods: &[Arc<Pod>]) -> std::collections::HashSet<(IpAddr, String)> {
    let mut out = std::collections::HashSet::new();
    for pod in pods {
        let Some(ns) = pod.metadata.namespace.clone() else { continue };
        let Some(status) = pod.status.as_ref() else { continue };
        let ips = status.pod_ips.iter().flatten().map(|i| i.ip.as_str()).chain(status.pod_ip.as_deref());
        for ip in ips.filter_map(|ip| ip.parse::<IpAddr>().ok()) {
            out.insert((ip, ns.clone()));
        }
    }
    out
}

/// A reflector whose every event wakes `changed` (after the store holds it).
fn reflect<K>(api: Api<K>, changed: Arc<Notify>) -> reflector::Store<K>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (reader, writer) = reflector::store::<K>();
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    tokio::spawn(stream.for_each(move |event| {
        if event.is_ok() {
            changed.notify_one();
        }
        async {}
    }));
    reader
}

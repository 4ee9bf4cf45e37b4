//! Keeps the zone equal to the API: watches on Services and EndpointSlices (and Pods, for
//! verified pod records) that keep only each object's summary, and a rebuild of the zone after
//! each burst of changes. A rebuild indexes the shared summaries; it copies none of them.
use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    net::IpAddr,
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use futures::StreamExt;
use k8s_openapi::api::{
    core::v1::{Pod, Service},
    discovery::v1::EndpointSlice,
};
use kube::{
    runtime::{watcher, WatchStreamExt},
    Api, ResourceExt,
};
use tokio::sync::{watch, Notify};

use super::{
    handler::SharedZone,
    sources::{pod_addresses, PodAddresses, PodIndex, ServiceInfo, ServiceKind, SliceInfo},
    zone::{PodRecords, Sources, Zone},
    DnsConfig, PodRecordsMode,
};

/// Changes arriving within this window are applied together.
const BATCH: Duration = Duration::from_millis(20);

pub async fn run(client: kube::Client, config: DnsConfig, shared: SharedZone) {
    let changed = Arc::new(Notify::new());
    let services =
        Summaries::watch(Api::<Service>::all(client.clone()), |s| ServiceInfo::from_service(s).map(Arc::new), &changed);
    let slices = Summaries::watch(
        Api::<EndpointSlice>::all(client.clone()),
        |s| SliceInfo::from_slice(s).map(Arc::new),
        &changed,
    );
    // Verified pod records need every pod's addresses; the other modes need no pod at all.
    let pods = (config.pod_records == PodRecordsMode::Verified).then(|| Pods::watch(Api::<Pod>::all(client), &changed));
    services.ready().await;
    slices.ready().await;
    if let Some(pods) = &pods {
        pods.summaries.ready().await;
    }
    loop {
        tokio::time::sleep(BATCH).await;
        rebuild(&config, &shared, &services, &slices, pods.as_ref());
        changed.notified().await;
    }
}

fn rebuild(
    config: &DnsConfig,
    shared: &SharedZone,
    services: &Summaries<Arc<ServiceInfo>>,
    slices: &Summaries<Arc<SliceInfo>>,
    pods: Option<&Pods>,
) {
    let (services, slices) = (services.values(), slices.values());
    let dns_ip = services.iter().find(|s| &*s.namespace == "kube-system" && &*s.name == "kube-dns").and_then(|s| {
        match &s.kind {
            ServiceKind::ClusterIp { ips, .. } => ips.first().copied(),
            _ => None,
        }
    });
    let pod_records = match (config.pod_records, pods) {
        (PodRecordsMode::Verified, Some(pods)) => PodRecords::Verified(Arc::new(pods.index())),
        (PodRecordsMode::Disabled, _) => PodRecords::Disabled,
        _ => PodRecords::Insecure,
    };
    let sources = Sources { services: &services, slices: &slices, dns_ip, pod_records };
    match Zone::build(&config.domain, config.ttl, &sources) {
        Ok(zone) => {
            tracing::debug!(services = zone.services(), "cluster DNS zone rebuilt");
            let old = std::mem::replace(&mut *shared.write().unwrap_or_else(|e| e.into_inner()), Arc::new(zone));
            drop(old);
            release_freed_memory();
        }
        Err(e) => tracing::error!(error = %e, "building the cluster DNS zone"),
    }
}

/// Hands the pages freed by the old zone back to the kernel: glibc keeps them otherwise, and a
/// burst of rebuilds would leave the agent's resident memory at its peak.
fn release_freed_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The summary of every watched object: what a reflector keeps, without the rest of each
/// object. Keyed by a 64-bit SipHash of namespace and name with this process's random keys, so
/// keys need no allocation; two objects would have to collide in 64 bits to be confused.
struct Summaries<T> {
    map: Arc<RwLock<HashMap<u64, T>>>,
    ready: watch::Receiver<bool>,
}

impl<T: Clone + Send + Sync + 'static> Summaries<T> {
    /// Starts the watch; every change wakes `changed` after the map holds it. Objects `summary`
    /// maps to `None` are left out.
    fn watch<K>(api: Api<K>, mut summary: impl FnMut(&K) -> Option<T> + Send + 'static, changed: &Arc<Notify>) -> Self
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
        K::DynamicType: Default,
    {
        let map = Arc::new(RwLock::new(HashMap::new()));
        let (ready_tx, ready) = watch::channel(false);
        let (store, changed) = (map.clone(), changed.clone());
        let keys = RandomState::new();
        let key = move |o: &K| keys.hash_one((o.namespace(), o.name_any()));
        tokio::spawn(async move {
            let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
            // A relist fills this, then replaces the map at once.
            let mut relist: Option<HashMap<u64, T>> = None;
            while let Some(event) = events.next().await {
                let mut map = store.write().unwrap_or_else(|e| e.into_inner());
                match event {
                    Ok(watcher::Event::Init) => relist = Some(HashMap::new()),
                    Ok(watcher::Event::InitApply(o)) => {
                        if let (Some(fresh), Some(value)) = (relist.as_mut(), summary(&o)) {
                            fresh.insert(key(&o), value);
                        }
                        continue;
                    }
                    Ok(watcher::Event::InitDone) => {
                        *map = relist.take().unwrap_or_default();
                        map.shrink_to_fit();
                        let _ = ready_tx.send(true);
                    }
                    Ok(watcher::Event::Apply(o)) => match summary(&o) {
                        Some(value) => {
                            map.insert(key(&o), value);
                        }
                        None => {
                            map.remove(&key(&o));
                        }
                    },
                    Ok(watcher::Event::Delete(o)) => {
                        map.remove(&key(&o));
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "cluster DNS watch");
                        continue;
                    }
                }
                drop(map);
                changed.notify_one();
            }
        });
        Self { map, ready }
    }

    async fn ready(&self) {
        let mut ready = self.ready.clone();
        let _ = ready.wait_for(|r| *r).await;
    }

    fn values(&self) -> Vec<T> {
        self.map.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }
}

/// A pod's addresses and its namespace's number: 24 bytes per pod of the cluster.
#[derive(Clone)]
struct PodEntry {
    addresses: PodAddresses,
    namespace: u32,
}

/// Every pod's addresses, for verified pod records.
struct Pods {
    summaries: Summaries<PodEntry>,
    /// Namespace name -> number. Never shrinks: bounded by the namespaces ever seen.
    namespaces: Arc<Mutex<HashMap<Box<str>, u32>>>,
}

impl Pods {
    fn watch(api: Api<Pod>, changed: &Arc<Notify>) -> Self {
        let namespaces: Arc<Mutex<HashMap<Box<str>, u32>>> = Arc::default();
        let numbers = namespaces.clone();
        let summary = move |pod: &Pod| {
            let addresses = pod_addresses(pod)?;
            let mut numbers = numbers.lock().unwrap_or_else(|e| e.into_inner());
            let next = u32::try_from(numbers.len()).unwrap_or(u32::MAX);
            let namespace = *numbers.entry(pod.metadata.namespace.as_deref()?.into()).or_insert(next);
            Some(PodEntry { addresses, namespace })
        };
        Self { summaries: Summaries::watch(api, summary, changed), namespaces }
    }

    fn index(&self) -> PodIndex {
        let addresses: Vec<(IpAddr, u32)> = {
            let map = self.summaries.map.read().unwrap_or_else(|e| e.into_inner());
            map.values().flat_map(|p| p.addresses.iter().map(move |ip| (ip, p.namespace))).collect()
        };
        let namespaces = self.namespaces.lock().unwrap_or_else(|e| e.into_inner()).clone();
        PodIndex::new(namespaces, addresses)
    }
}

//! Keeps the eBPF load balancer's maps equal to the Services and
//! EndpointSlices in the API, incrementally: a change to one Service or
//! one of its slices recomputes that Service's entries and writes only the
//! frontends whose backends changed. After every (re)list the whole state
//! is compared with what the maps hold, so entries left by a previous run
//! of the agent (or a Service deleted while it was down) are removed.

use super::health::{Health, HealthChecks};
use super::model::{self, Entry};
use crate::lb::{ExternalBackend, ExternalFrontendConfig, ExternalLb, Frontend, SocketLb, TrafficPolicy};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, ResourceExt};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::time::Duration;
use tokio::sync::mpsc;

const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Keys of pods (for their hostPorts) among the Service keys.
const POD_KEY: &str = "pod:";

/// What a watch event means for the sync loop.
enum Change {
    /// This `namespace/name` Service needs recomputing.
    Service(String),
    /// A (re)list finished: compare everything.
    Resync,
}

fn key(ns: Option<&str>, name: &str) -> String {
    format!("{}/{name}", ns.unwrap_or(""))
}

fn service_key_of_slice(s: &EndpointSlice) -> Option<String> {
    s.labels().get(SERVICE_NAME_LABEL).map(|svc| key(s.namespace().as_deref(), svc))
}

/// Watch `api` into a store, reporting which Service each event touches.
fn spawn_watch<K>(
    api: Api<K>,
    config: watcher::Config,
    tx: mpsc::UnboundedSender<Change>,
    service_of: fn(&K) -> Option<String>,
) -> Store<K>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (reader, writer) = reflector::store::<K>();
    let events = reflector::reflector(writer, watcher(api, config)).default_backoff();
    tokio::spawn(async move {
        futures::pin_mut!(events);
        while let Some(event) = events.next().await {
            let change = match event {
                Ok(watcher::Event::Apply(o) | watcher::Event::Delete(o)) => service_of(&o).map(Change::Service),
                Ok(watcher::Event::InitDone) => Some(Change::Resync),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "service watch");
                    None
                }
            };
            if let Some(c) = change {
                if tx.send(c).is_err() {
                    return;
                }
            }
        }
    });
    reader
}

/// The node's two dataplanes and their settings.
pub struct Dataplane {
    /// Connections made on the node (pods and host): all frontends.
    pub socket: SocketLb,
    /// Packets arriving from outside: NodePort, externalIP and LoadBalancer frontends.
    pub external: ExternalLb,
    /// Maglev table size for external frontends (a prime).
    pub maglev_size: u32,
    /// Answers ARP for the LoadBalancer addresses this node announces.
    pub announcer: Option<super::announce::Announcer>,
}

struct Syncer {
    lb: SocketLb,
    ext: ExternalLb,
    maglev_size: u32,
    health: HealthChecks,
    announcer: Option<super::announce::Announcer>,
    node: String,
    node_ips: Vec<Ipv4Addr>,
    services: Store<Service>,
    slices: Store<EndpointSlice>,
    pods: Store<Pod>,
    /// What the maps hold per Service, as last written.
    applied: HashMap<String, Vec<Entry>>,
}

/// Run until the agent stops.
pub async fn run(client: kube::Client, dp: Dataplane, node: String, node_ips: Vec<Ipv4Addr>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let all = watcher::Config::default;
    let services = spawn_watch(Api::<Service>::all(client.clone()), all(), tx.clone(), |s: &Service| {
        Some(key(s.namespace().as_deref(), &s.name_any()))
    });
    let slices = spawn_watch(Api::<EndpointSlice>::all(client.clone()), all(), tx.clone(), service_key_of_slice);
    // This node's pods, for their hostPorts.
    let mine = watcher::Config::default().fields(&format!("spec.nodeName={node}"));
    let pods = spawn_watch(Api::<Pod>::all(client), mine, tx, |p: &Pod| {
        Some(format!("{POD_KEY}{}", key(p.namespace().as_deref(), &p.name_any())))
    });
    let mut s = Syncer {
        lb: dp.socket,
        ext: dp.external,
        maglev_size: dp.maglev_size,
        health: HealthChecks::default(),
        announcer: dp.announcer,
        node,
        node_ips,
        services,
        slices,
        pods,
        applied: HashMap::new(),
    };
    let mut synced = 0;
    let mut dirty: HashSet<String> = HashSet::new();
    let mut resync = false;
    while let Some(first) = rx.recv().await {
        // Gather what else arrived together, so one burst is one pass.
        let mut batch = vec![first];
        tokio::time::sleep(Duration::from_millis(5)).await;
        while let Ok(c) = rx.try_recv() {
            batch.push(c);
        }
        for c in batch {
            match c {
                Change::Service(k) => {
                    dirty.insert(k);
                }
                Change::Resync => {
                    synced += 1;
                    resync = true;
                }
            }
        }
        // Every store must have listed once before anything is written.
        if synced < 3 {
            continue;
        }
        if resync {
            s.resync();
            resync = false;
            dirty.clear();
            s.activate();
        } else {
            let keys: Vec<String> = dirty.drain().collect();
            s.sync(&keys);
        }
        s.announce();
    }
}

impl Syncer {
    fn slices_by_service(&self, only: Option<&HashSet<&str>>) -> HashMap<String, Vec<std::sync::Arc<EndpointSlice>>> {
        let mut out: HashMap<String, Vec<_>> = HashMap::new();
        for s in self.slices.state() {
            if let Some(k) = service_key_of_slice(&s) {
                if only.is_none_or(|o| o.contains(k.as_str())) {
                    out.entry(k).or_default().push(s);
                }
            }
        }
        out
    }

    fn wanted(&self, key: &str, slices: &HashMap<String, Vec<std::sync::Arc<EndpointSlice>>>) -> Vec<Entry> {
        if let Some(pod_key) = key.strip_prefix(POD_KEY) {
            let (ns, name) = pod_key.split_once('/').unwrap_or(("", pod_key));
            let Some(pod) = self.pods.get(&ObjectRef::new(name).within(ns)) else { return Vec::new() };
            return model::host_port_entries(&pod, &self.node_ips);
        }
        let (ns, name) = key.split_once('/').unwrap_or(("", key));
        let Some(svc) = self.services.get(&ObjectRef::new(name).within(ns)) else { return Vec::new() };
        let refs: Vec<&EndpointSlice> = slices.get(key).into_iter().flatten().map(|s| &**s).collect();
        model::entries(&svc, &refs, &self.node, &self.node_ips)
    }

    /// Recompute the given Services and write what changed.
    fn sync(&mut self, keys: &[String]) {
        let only: HashSet<&str> = keys.iter().map(String::as_str).collect();
        let slices = self.slices_by_service(Some(&only));
        for k in keys {
            let wanted = self.wanted(k, &slices);
            let old = self.applied.remove(k).unwrap_or_default();
            self.write(&old, &wanted);
            if !wanted.is_empty() {
                self.applied.insert(k.clone(), wanted);
            }
        }
        self.update_health();
    }

    /// Answer ARP for the LoadBalancer addresses this node is chosen for:
    /// among the nodes with a ready endpoint of the Service.
    fn announce(&self) {
        let Some(announcer) = &self.announcer else { return };
        let lbs: Vec<std::sync::Arc<Service>> = self
            .services
            .state()
            .into_iter()
            .filter(|s| s.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer"))
            .collect();
        let mut wanted = std::collections::BTreeSet::new();
        if !lbs.is_empty() {
            let slices = self.slices_by_service(None);
            for svc in lbs {
                let k = key(svc.namespace().as_deref(), &svc.name_any());
                let nodes: std::collections::BTreeSet<String> = slices
                    .get(&k)
                    .into_iter()
                    .flatten()
                    .flat_map(|s| s.endpoints.iter())
                    .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true))
                    .filter_map(|e| e.node_name.clone())
                    .collect();
                let ingress =
                    svc.status.as_ref().and_then(|s| s.load_balancer.as_ref()).and_then(|l| l.ingress.clone());
                for ip in ingress.into_iter().flatten().filter_map(|i| i.ip?.parse::<Ipv4Addr>().ok()) {
                    if super::announce::announcer(ip, nodes.iter().map(String::as_str)) == Some(self.node.as_str()) {
                        wanted.insert(ip);
                    }
                }
            }
        }
        announcer.set(wanted);
    }

    /// Serve the health ports of Local-policy LoadBalancers with their local endpoint counts.
    fn update_health(&mut self) {
        let mut wanted: HashMap<u16, Health> = HashMap::new();
        for (svc, entries) in &self.applied {
            for e in entries {
                if let Some(port) = e.external.as_ref().and_then(|x| x.health_check_port) {
                    let local = e.external.as_ref().map_or(0, |x| x.local.len());
                    let h = wanted.entry(port).or_insert(Health { service: svc.clone(), local_endpoints: 0 });
                    h.local_endpoints = h.local_endpoints.max(local);
                }
            }
        }
        self.health.set(wanted);
    }

    /// After the first full sync: the programs loaded at start-up take over from whatever was
    /// attached, now that their maps hold every service (see `SocketLb::prepare`).
    fn activate(&mut self) {
        if !self.lb.is_pending() {
            return;
        }
        match self.lb.activate() {
            Ok(created) => tracing::info!(new_links = created, "socket load balancer programs in place"),
            Err(e) => tracing::error!(error = %e, "putting the socket load balancer programs in place"),
        }
    }

    /// Recompute everything and remove frontends nobody wants any more.
    fn resync(&mut self) {
        let slices = self.slices_by_service(None);
        let mut keys: Vec<String> =
            self.services.state().iter().map(|s| key(s.namespace().as_deref(), &s.name_any())).collect();
        keys.extend(
            self.pods.state().iter().map(|p| format!("{POD_KEY}{}", key(p.namespace().as_deref(), &p.name_any()))),
        );
        let mut all: BTreeMap<Frontend, ()> = BTreeMap::new();
        let mut next = HashMap::new();
        // One write for everything, so a start with thousands of services is batched.
        let (mut old_all, mut wanted_all) = (Vec::new(), Vec::new());
        for k in keys {
            let wanted = self.wanted(&k, &slices);
            old_all.extend(self.applied.remove(&k).unwrap_or_default());
            wanted_all.extend(wanted.iter().cloned());
            for e in &wanted {
                all.insert(e.frontend, ());
            }
            if !wanted.is_empty() {
                next.insert(k, wanted);
            }
        }
        // Services that vanished while we were not looking.
        for (_, gone) in self.applied.drain() {
            old_all.extend(gone);
        }
        self.write(&old_all, &wanted_all);
        self.applied = next;
        match self.lb.list() {
            Ok(held) => {
                for e in held.into_iter().filter(|e| !all.contains_key(&e.frontend)) {
                    if let Err(err) = self.lb.remove_service(&e.frontend) {
                        tracing::warn!(frontend = ?e.frontend, error = %err, "removing a stale frontend");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "listing the load balancer's maps"),
        }
        let external_wanted: HashSet<Frontend> =
            self.applied.values().flatten().filter(|e| e.external.is_some()).map(|e| e.frontend).collect();
        for e in self.ext.list().into_iter().filter(|e| !external_wanted.contains(&e.frontend)) {
            if let Err(err) = self.ext.remove_frontend(&e.frontend) {
                tracing::warn!(frontend = ?e.frontend, error = %err, "removing a stale external frontend");
            }
        }
        self.update_health();
        tracing::info!(services = self.applied.len(), "load balancer in step with the API");
    }

    /// Write the entries that differ from `old` and remove frontends that went.
    fn write(&mut self, old: &[Entry], wanted: &[Entry]) {
        // Indexed, so a full resync of thousands of services stays linear.
        let old_by: HashMap<Frontend, &Entry> = old.iter().map(|e| (e.frontend, e)).collect();
        let wanted_by: HashMap<Frontend, &Entry> = wanted.iter().map(|e| (e.frontend, e)).collect();
        let unchanged = |e: &Entry| old_by.get(&e.frontend).is_some_and(|o| *o == e);
        // Socket-path frontends in one call: new ones go in batched map writes.
        let changed: Vec<(crate::lb::Frontend, Vec<crate::lb::Backend>, Option<Duration>)> =
            wanted.iter().filter(|e| !unchanged(e)).map(|e| (e.frontend, e.backends.clone(), e.affinity)).collect();
        if let Err(err) = self.lb.set_services(&changed) {
            tracing::warn!(frontends = changed.len(), error = %err, "programming frontends");
        }
        for e in wanted {
            if unchanged(e) {
                continue;
            }
            if let Some(x) = &e.external {
                // The external path is IPv4; the model only gives IPv4 frontends an external part.
                let backends: Vec<ExternalBackend> = e
                    .backends
                    .iter()
                    .filter_map(|b| match b.addr {
                        std::net::SocketAddr::V4(addr) => Some(ExternalBackend { addr, local: x.local.contains(b) }),
                        std::net::SocketAddr::V6(_) => None,
                    })
                    .collect();
                let config = ExternalFrontendConfig {
                    policy: if x.policy_local { TrafficPolicy::Local } else { TrafficPolicy::Cluster },
                    source_ranges: x.source_ranges.clone(),
                    maglev_size: self.maglev_size,
                };
                if let Err(err) = self.ext.set_frontend(e.frontend, &backends, &config) {
                    tracing::warn!(service = %e.service, error = %err, "programming an external frontend");
                }
            }
        }
        for o in old {
            let still = wanted_by.get(&o.frontend).copied();
            if still.is_none() {
                if let Err(err) = self.lb.remove_service(&o.frontend) {
                    tracing::warn!(service = %o.service, error = %err, "removing a frontend");
                }
            }
            if o.external.is_some() && still.is_none_or(|w| w.external.is_none()) {
                if let Err(err) = self.ext.remove_frontend(&o.frontend) {
                    tracing::warn!(service = %o.service, error = %err, "removing an external frontend");
                }
            }
        }
    }
}

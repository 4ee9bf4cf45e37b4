//! The EndpointSlice controller (and the legacy Endpoints it mirrors for
//! older clients): keeps each selector Service's slices equal to the pods
//! its selector picks, as kube-controller-manager does. Services without a
//! selector (the `kubernetes` Service, user-managed endpoints) and
//! ExternalName services are left alone.
//!
//! Pods come from a reflector; a pod event wakes the services that select
//! it now and those whose endpoints held it before (so a pod relabelled
//! away leaves at once). Each pass lists the service's slices fresh from
//! the API and writes only what differs: slices are matched by port list
//! and updated in place, so an endpoint change costs one write.
//!
//! Dual-stack: one set of slices per family in the Service's
//! `spec.ipFamilies` (addressType IPv4 / IPv6, each pod's address of that
//! family); the legacy Endpoints follow the primary family only, as upstream.

mod desired;
mod objects;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::ResourceExt;
use objects::SliceContent;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

/// Which services' endpoints hold which pods, both ways.
#[derive(Default)]
struct Membership {
    services_of_pod: HashMap<String, HashSet<ObjectRef<Service>>>,
    pods_of_service: HashMap<ObjectRef<Service>, HashSet<String>>,
}

impl Membership {
    fn set(&mut self, svc: ObjectRef<Service>, pods: HashSet<String>) {
        for old in self.pods_of_service.get(&svc).into_iter().flatten() {
            if let Some(set) = self.services_of_pod.get_mut(old) {
                set.remove(&svc);
                if set.is_empty() {
                    self.services_of_pod.remove(old);
                }
            }
        }
        for p in &pods {
            self.services_of_pod.entry(p.clone()).or_default().insert(svc.clone());
        }
        if pods.is_empty() {
            self.pods_of_service.remove(&svc);
        } else {
            self.pods_of_service.insert(svc, pods);
        }
    }
}

struct Context {
    client: kube::Client,
    pods: Store<Pod>,
    nodes: Store<Node>,
    membership: Arc<Mutex<Membership>>,
}

fn selector(svc: &Service) -> Option<&std::collections::BTreeMap<String, String>> {
    let spec = svc.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    spec.selector.as_ref().filter(|s| !s.is_empty())
}

fn selects(svc: &Service, pod: &Pod) -> bool {
    svc.metadata.namespace == pod.metadata.namespace
        && selector(svc).is_some_and(|sel| sel.iter().all(|(k, v)| pod.labels().get(k) == Some(v)))
}

fn spawn_reflector<K>(api: Api<K>) -> Store<K>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (reader, writer) = reflector::store::<K>();
    let stream =
        reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff().touched_objects();
    tokio::spawn(stream.for_each(|_| async {}));
    reader
}

pub async fn run(client: kube::Client) {
    let nodes = spawn_reflector(Api::<Node>::all(client.clone()));
    if nodes.wait_until_ready().await.is_err() {
        return;
    }
    // The pod trigger is the reflector's own stream: an object reaches the
    // controller only after the store holds it, so a reconcile never reads a
    // pod older than the event that woke it (with a separate watch it could,
    // and nothing would wake the service again until the periodic resync).
    let (pods, writer) = reflector::store::<Pod>();
    let pod_events = reflector::reflector(writer, watcher(Api::<Pod>::all(client.clone()), watcher::Config::default()))
        .default_backoff()
        .touched_objects();
    let membership = Arc::new(Mutex::new(Membership::default()));
    let ctx = Arc::new(Context { client: client.clone(), pods, nodes, membership: membership.clone() });
    let controller = Controller::new(Api::<Service>::all(client.clone()), watcher::Config::default());
    let services = controller.store();
    controller
        .owns(Api::<EndpointSlice>::all(client.clone()), watcher::Config::default())
        .watches_stream(pod_events, move |pod: Pod| {
            let mut refs: HashSet<ObjectRef<Service>> =
                services.state().iter().filter(|s| selects(s, &pod)).map(|s| ObjectRef::from_obj(&**s)).collect();
            let uid = pod.uid().unwrap_or_default();
            let m = membership.lock().unwrap_or_else(|e| e.into_inner());
            refs.extend(m.services_of_pod.get(&uid).into_iter().flatten().cloned());
            refs
        })
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy(svc: Arc<Service>, e: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(service = %svc.name_any(), error = %e, "endpoints");
    Action::requeue(Duration::from_secs(1))
}

async fn reconcile(svc: Arc<Service>, ctx: Arc<Context>) -> Result<Action, Error> {
    let (ns, name) = (svc.namespace().unwrap_or_default(), svc.name_any());
    let slices: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &ns);
    let ours = format!("{}={name},{}={}", objects::SERVICE_NAME, objects::MANAGED_BY, objects::CONTROLLER);
    let existing = slices.list(&ListParams::default().labels(&ours)).await?.items;
    if svc.metadata.deletion_timestamp.is_some() || selector(&svc).is_none() {
        // Not (or no longer) ours to manage: drop what we made.
        for s in existing {
            delete_slice(&slices, &s.name_any()).await?;
        }
        ctx.membership.lock().unwrap_or_else(|e| e.into_inner()).set(ObjectRef::from_obj(&*svc), HashSet::new());
        return Ok(Action::await_change());
    }
    // Until the first pod list is in, an empty store would mean "no endpoints".
    if ctx.pods.wait_until_ready().await.is_err() {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let pods = ctx.pods.state();
    let picked: Vec<&Pod> = pods.iter().map(|p| &**p).filter(|p| selects(&svc, p)).collect();
    let zone_of = |node: &str| {
        ctx.nodes.get(&ObjectRef::new(node)).and_then(|n| n.labels().get("topology.kubernetes.io/zone").cloned())
    };
    let families = desired::service_families(&svc);
    let by_family: Vec<_> = families.iter().map(|f| (*f, desired::groups(&svc, &picked, *f, zone_of))).collect();
    let members = by_family.iter().flat_map(|(_, g)| g.values().flatten()).map(|e| e.pod_uid.clone()).collect();
    ctx.membership.lock().unwrap_or_else(|e| e.into_inner()).set(ObjectRef::from_obj(&*svc), members);

    let wanted = by_family.iter().flat_map(|(f, g)| objects::slice_contents(g, *f)).collect();
    sync_slices(&svc, &slices, existing, wanted).await?;
    // `families` is never empty; the primary family feeds the v1 Endpoints.
    let primary = by_family.first().map(|(_, g)| objects::endpoints_subsets(g)).unwrap_or(json!([]));
    sync_endpoints(&svc, &ctx.client, primary).await?;
    Ok(Action::requeue(Duration::from_secs(300)))
}

fn content_of(s: &EndpointSlice) -> SliceContent {
    SliceContent {
        address_type: s.address_type.clone(),
        ports: serde_json::to_value(s.ports.clone().unwrap_or_default()).unwrap_or(json!([])),
        endpoints: serde_json::to_value(&s.endpoints).unwrap_or(json!([])),
    }
}

fn owner(svc: &Service) -> Value {
    json!([{"apiVersion": "v1", "kind": "Service", "name": svc.name_any(), "uid": svc.uid(),
            "controller": true, "blockOwnerDeletion": true}])
}

/// Match wanted contents to existing slices by address type and port list,
/// update those that differ, create what is missing and delete the rest.
async fn sync_slices(
    svc: &Service,
    api: &Api<EndpointSlice>,
    existing: Vec<EndpointSlice>,
    wanted: Vec<SliceContent>,
) -> Result<(), Error> {
    let labels = objects::slice_labels(svc);
    let mut unused: Vec<EndpointSlice> = existing;
    let mut to_create = Vec::new();
    let mut to_update = Vec::new();
    for content in wanted {
        // An identical slice first, else any with the same ports.
        let same = unused.iter().position(|s| content_of(s) == content);
        let same_ports = || {
            unused.iter().position(|s| {
                let have = content_of(s);
                have.address_type == content.address_type && have.ports == content.ports
            })
        };
        match same.map(|i| (i, true)).or_else(|| same_ports().map(|i| (i, false))) {
            Some((i, identical)) => {
                let s = unused.remove(i);
                let labels_ok = labels
                    .as_object()
                    .is_some_and(|l| l.iter().all(|(k, v)| s.labels().get(k).map(|x| json!(x)) == Some(v.clone())));
                if !identical || !labels_ok {
                    to_update.push((s.name_any(), content));
                }
            }
            None => to_create.push(content),
        }
    }
    for (slice, content) in to_update {
        let patch = json!({"metadata": {"labels": labels}, "ports": content.ports, "endpoints": content.endpoints});
        api.patch(&slice, &PatchParams::default(), &Patch::Merge(patch)).await?;
    }
    for content in to_create {
        let body: EndpointSlice = serde_json::from_value(json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"generateName": format!("{}-", svc.name_any()), "labels": labels, "ownerReferences": owner(svc)},
            "addressType": content.address_type,
            "ports": content.ports,
            "endpoints": content.endpoints,
        }))?;
        api.create(&PostParams::default(), &body).await?;
    }
    for s in unused {
        delete_slice(api, &s.name_any()).await?;
    }
    Ok(())
}

async fn delete_slice(api: &Api<EndpointSlice>, name: &str) -> Result<(), Error> {
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The v1 Endpoints object of the same name, for clients that predate slices.
async fn sync_endpoints(svc: &Service, client: &kube::Client, subsets: Value) -> Result<(), Error> {
    let (ns, name) = (svc.namespace().unwrap_or_default(), svc.name_any());
    let api: Api<Endpoints> = Api::namespaced(client.clone(), &ns);
    let labels: Value = svc.metadata.labels.clone().map(|l| json!(l)).unwrap_or(json!({}));
    match api.get_opt(&name).await? {
        None => {
            let body: Endpoints = serde_json::from_value(json!({
                "metadata": {"name": name, "labels": labels, "ownerReferences": owner(svc)},
                "subsets": subsets,
            }))?;
            match api.create(&PostParams::default(), &body).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
        Some(current) => {
            let have = serde_json::to_value(current.subsets.clone().unwrap_or_default())?;
            if have == subsets {
                return Ok(());
            }
            let patch = json!({"subsets": subsets});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await?;
            Ok(())
        }
    }
}

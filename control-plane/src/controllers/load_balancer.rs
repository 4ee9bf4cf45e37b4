//! The LoadBalancer controller (k3s' servicelb and MetalLB's role): a
//! Service of type LoadBalancer with no `loadBalancerClass` (or Keel's own)
//! gets `status.loadBalancer.ingress` IPs from the configured pool; the
//! node agents' dataplane answers on them. Services of another class are
//! left to their controller; a Service that stops being a LoadBalancer
//! gives its IP back.

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{EventType, Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::json;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `loadBalancerClass` Keel answers for besides "none".
pub const CLASS: &str = "keel.dev/lb";

/// Addresses LoadBalancer Services may get: CIDRs and `a-b` ranges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pool(Vec<(u32, u32)>);

impl Pool {
    /// Parse `10.0.0.0/29,192.168.1.10-192.168.1.20`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut ranges = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || format!("invalid load-balancer pool entry {part:?}: want a CIDR or FIRST-LAST");
            let (lo, hi) = if let Some((a, b)) = part.split_once('-') {
                let a: Ipv4Addr = a.trim().parse().map_err(|_| bad())?;
                let b: Ipv4Addr = b.trim().parse().map_err(|_| bad())?;
                (u32::from(a), u32::from(b))
            } else if let Some((ip, len)) = part.split_once('/') {
                let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
                let len: u32 = len.parse().ok().filter(|l| *l <= 32).ok_or_else(bad)?;
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                let net = u32::from(ip) & mask;
                (net, net | !mask)
            } else {
                let ip: Ipv4Addr = part.parse().map_err(|_| bad())?;
                (u32::from(ip), u32::from(ip))
            };
            if lo > hi {
                return Err(bad());
            }
            ranges.push((lo, hi));
        }
        Ok(Pool(ranges))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let n = u32::from(ip);
        self.0.iter().any(|(lo, hi)| (*lo..=*hi).contains(&n))
    }

    /// The first address not in `used`, in pool order.
    pub fn first_free(&self, used: &[Ipv4Addr]) -> Option<Ipv4Addr> {
        self.0.iter().flat_map(|(lo, hi)| *lo..=*hi).map(Ipv4Addr::from).find(|ip| !used.contains(ip))
    }
}

fn ours(svc: &Service) -> bool {
    let spec = svc.spec.as_ref();
    spec.and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
        && spec.and_then(|s| s.load_balancer_class.as_deref()).is_none_or(|c| c == CLASS)
        && svc.metadata.deletion_timestamp.is_none()
}

fn assigned(svc: &Service) -> Vec<Ipv4Addr> {
    let ingress = svc.status.as_ref().and_then(|s| s.load_balancer.as_ref()).and_then(|l| l.ingress.as_ref());
    ingress.into_iter().flatten().filter_map(|i| i.ip.as_deref()?.parse().ok()).collect()
}

struct Context {
    client: kube::Client,
    pool: Pool,
    services: Store<Service>,
    /// Serialises choices so two services never take the same address, and remembers each
    /// service's (uid's) last choice: the cache sees a patched status only when the watch
    /// delivers it, and until then a second service could otherwise pick the same address.
    choosing: Mutex<HashMap<String, Ipv4Addr>>,
    recorder: Recorder,
}

pub async fn run(client: kube::Client, pool: Pool) {
    let controller = Controller::new(Api::<Service>::all(client.clone()), watcher::Config::default());
    let reporter = Reporter { controller: "service-lb-controller".into(), instance: None };
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), reporter),
        client,
        pool,
        services: controller.store(),
        choosing: Mutex::new(HashMap::new()),
    });
    controller.run(reconcile, error_policy, ctx).for_each(|_| async {}).await;
}

fn error_policy(svc: Arc<Service>, e: &kube::Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(service = %svc.name_any(), error = %e, "load balancer");
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(svc: Arc<Service>, ctx: Arc<Context>) -> Result<Action, kube::Error> {
    let api: Api<Service> = Api::namespaced(ctx.client.clone(), &svc.namespace().unwrap_or_default());
    let have = assigned(&svc);
    let mine: Vec<Ipv4Addr> = have.iter().copied().filter(|ip| ctx.pool.contains(*ip)).collect();
    if !ours(&svc) {
        // Give back what we handed out; other classes' status is theirs.
        let class_is_other =
            svc.spec.as_ref().and_then(|s| s.load_balancer_class.as_deref()).is_some_and(|c| c != CLASS);
        if !mine.is_empty() && !class_is_other && svc.metadata.deletion_timestamp.is_none() {
            let patch = json!({"status": {"loadBalancer": {"ingress": null}}});
            api.patch_status(&svc.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await?;
        }
        return Ok(Action::await_change());
    }
    let choice = {
        let mut handed = ctx.choosing.lock().unwrap_or_else(|e| e.into_inner());
        let uid = svc.uid();
        let others: Vec<Arc<Service>> =
            ctx.services.state().into_iter().filter(|s| s.uid() != uid && ours(s)).collect();
        // Choices for services that are gone are forgotten; those still pending count as used.
        handed.retain(|u, _| others.iter().any(|s| s.uid().as_deref() == Some(u.as_str())) || Some(u) == uid.as_ref());
        let mut used: Vec<Ipv4Addr> = others.iter().flat_map(|s| assigned(s)).collect();
        used.extend(handed.iter().filter(|(u, _)| Some(*u) != uid.as_ref()).map(|(_, ip)| *ip));
        let requested: Option<Ipv4Addr> =
            svc.spec.as_ref().and_then(|s| s.load_balancer_ip.as_deref()).and_then(|ip| ip.parse().ok());
        let choice = match (mine.first(), requested) {
            (Some(ip), None) if !used.contains(ip) => Some(*ip),
            (Some(ip), Some(r)) if *ip == r && !used.contains(ip) => Some(*ip),
            (_, Some(r)) if ctx.pool.contains(r) && !used.contains(&r) => Some(r),
            (_, Some(_)) => None,
            _ => ctx.pool.first_free(&used),
        };
        if let (Some(ip), Some(uid)) = (choice, uid) {
            handed.insert(uid, ip);
        }
        choice
    };
    let Some(ip) = choice else {
        let reason = if ctx.pool.is_empty() {
            "no load-balancer pool is configured (--load-balancer-pool)".to_string()
        } else {
            "no available address in the load-balancer pool (or the requested loadBalancerIP is taken or outside it)"
                .to_string()
        };
        super::events::publish(&ctx.recorder, &*svc, EventType::Warning, "AllocationFailed", "Allocate", reason);
        return Ok(Action::requeue(Duration::from_secs(30)));
    };
    if have == [ip] {
        return Ok(Action::await_change());
    }
    let patch = json!({"status": {"loadBalancer": {"ingress": [{"ip": ip.to_string(), "ipMode": "VIP"}]}}});
    api.patch_status(&svc.name_any(), &PatchParams::default(), &Patch::Merge(patch)).await?;
    let note = format!("Assigned IP [\"{ip}\"]");
    super::events::publish(&ctx.recorder, &*svc, EventType::Normal, "IPAllocated", "Allocate", note);
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_parse_cidrs_ranges_and_single_addresses() {
        let p = Pool::parse("172.31.0.200/30, 10.0.0.5-10.0.0.6,192.168.9.9").unwrap();
        assert!(p.contains("172.31.0.203".parse().unwrap()));
        assert!(!p.contains("172.31.0.204".parse().unwrap()));
        assert!(p.contains("10.0.0.6".parse().unwrap()));
        assert!(p.contains("192.168.9.9".parse().unwrap()));
        assert!(Pool::parse("").unwrap().is_empty());
        assert!(Pool::parse("10.0.0.9-10.0.0.1").is_err());
        assert!(Pool::parse("nonsense").is_err());
        assert!(Pool::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn first_free_skips_used_addresses_in_order() {
        let p = Pool::parse("10.0.0.1-10.0.0.2,10.0.1.0/31").unwrap();
        let used: Vec<Ipv4Addr> = vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()];
        assert_eq!(p.first_free(&used), Some("10.0.1.0".parse().unwrap()));
        let all: Vec<Ipv4Addr> =
            ["10.0.0.1", "10.0.0.2", "10.0.1.0", "10.0.1.1"].iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(p.first_free(&all), None);
    }
}

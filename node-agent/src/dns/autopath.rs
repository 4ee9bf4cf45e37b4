//! Server-side search-path completion (CoreDNS's autopath): a pod resolving `example.com` with
//! `ndots:5` first asks for `example.com.<ns>.svc.<zone>`. Instead of answering NXDOMAIN and
//! waiting for the next try, the server walks the rest of the pod's search list itself and
//! answers with a CNAME to the first name that exists, plus its records: one round trip where
//! libc would need four. Only for clients known to be pods of this node (their namespace tells
//! their search list), so the memory cost is this node's pods, not the cluster's.
use std::{net::IpAddr, sync::Arc};

use futures::StreamExt;
use hickory_proto::rr::{LowerName, Name};
use k8s_openapi::api::core::v1::Pod;
use kube::{
    runtime::{reflector, watcher, WatchStreamExt},
    Api,
};

/// This node's pods, to tell a client's namespace from its address.
#[derive(Clone)]
pub struct NodePods {
    store: reflector::Store<Pod>,
}

impl NodePods {
    pub fn watch(client: kube::Client, node: &str) -> Self {
        let (store, writer) = reflector::store::<Pod>();
        let config = watcher::Config::default().fields(&format!("spec.nodeName={node}"));
        let stream = reflector::reflector(writer, watcher(Api::<Pod>::all(client), config)).default_backoff();
        tokio::spawn(stream.for_each(|_| async {}));
        Self { store }
    }

    /// The namespace of the (non host-network) pod with address `ip`.
    pub fn namespace_of(&self, ip: IpAddr) -> Option<String> {
        let text = ip.to_string();
        self.store.state().iter().find_map(|p| {
            let status = p.status.as_ref()?;
            let has_ip =
                status.pod_ips.iter().flatten().any(|i| i.ip == text) || status.pod_ip.as_deref() == Some(&text);
            let host_network = p.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false);
            (has_ip && !host_network).then(|| p.metadata.namespace.clone()).flatten()
        })
    }
}

/// For a question `<rest>.<ns>.svc.<zone>` from a pod in `<ns>`: the names its resolver would
/// try next, in order (`<rest>.svc.<zone>`, `<rest>.<zone>`, `<rest>.`). Empty when the question
/// is not the first search-list expansion for that namespace.
pub fn next_candidates(qname: &LowerName, namespace: &str, origin: &Name) -> Vec<Name> {
    let qname = Name::from(qname.clone());
    let Ok(suffix) = Name::from_ascii(format!("{namespace}.svc.{origin}")) else { return Vec::new() };
    let suffix_labels = suffix.num_labels();
    if qname.num_labels() <= suffix_labels || !LowerName::new(&suffix).zone_of(&LowerName::new(&qname)) {
        return Vec::new();
    }
    // `rest`: the labels the user typed.
    let keep = qname.num_labels() - suffix_labels;
    let labels: Vec<&[u8]> = qname.iter().take(usize::from(keep)).collect();
    let Ok(rest) = Name::from_labels(labels) else { return Vec::new() };
    let join = |base: &str| rest.clone().append_domain(&Name::from_ascii(base).ok()?).ok();
    // A single label on its own would be a top-level domain: not worth a trip upstream.
    let bare = (rest.num_labels() >= 2).then(|| rest.clone().into_fqdn_or_self());
    [join(&format!("svc.{origin}")), join(&origin.to_string()), bare].into_iter().flatten().collect()
}

trait IntoFqdn {
    fn into_fqdn_or_self(self) -> Name;
}

impl IntoFqdn for Name {
    fn into_fqdn_or_self(mut self) -> Name {
        self.set_fqdn(true);
        self
    }
}

/// Shared handle for the request handler.
pub type SharedPods = Option<Arc<NodePods>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn candidates_follow_the_pod_search_list() {
        let origin = Name::from_str("cluster.local.").unwrap();
        let q = LowerName::new(&Name::from_str("Example.COM.default.svc.cluster.local.").unwrap());
        let got: Vec<String> = next_candidates(&q, "default", &origin).iter().map(|n| n.to_ascii()).collect();
        assert_eq!(got, ["example.com.svc.cluster.local.", "example.com.cluster.local.", "example.com."]);
        // Another namespace's suffix, or the bare suffix itself, is no search expansion of ours.
        assert!(next_candidates(&q, "prod", &origin).is_empty());
        let bare = LowerName::new(&Name::from_str("default.svc.cluster.local.").unwrap());
        assert!(next_candidates(&bare, "default", &origin).is_empty());
        // A single label is not sent upstream on its own.
        let single = LowerName::new(&Name::from_str("nope.default.svc.cluster.local.").unwrap());
        let got: Vec<String> = next_candidates(&single, "default", &origin).iter().map(|n| n.to_ascii()).collect();
        assert_eq!(got, ["nope.svc.cluster.local.", "nope.cluster.local."]);
    }
}

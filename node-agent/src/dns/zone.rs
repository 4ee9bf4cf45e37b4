//! The cluster zone: every name the Kubernetes DNS specification (schema 1.0.1) defines, with
//! its records, plus the empty non-terminals between them and the zone apex (which answer NODATA,
//! not NXDOMAIN). Pure, so the rules are tested without a server.
//!
//! The zone keeps the compact Service and EndpointSlice summaries (`sources.rs`) indexed by name
//! and address, and makes the records of a question when it is asked, the way CoreDNS's
//! kubernetes plugin does: a prebuilt record per name costs several hundred bytes, which every
//! node would pay for every endpoint of the cluster. Rebuilt whole on change (the summaries are
//! shared, not copied) and swapped in behind an `Arc`.
use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    str::FromStr,
    sync::Arc,
};

use hickory_proto::rr::{
    rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT},
    LowerName, Name, RData, Record, RecordType,
};

use super::{
    names::{dashed, reverse_to_ip, undashed},
    sources::{NamedPort, PodIndex, ServiceInfo, ServiceKind, SliceInfo},
};

/// Version of the Kubernetes DNS specification served (`dns-version` TXT).
pub const SCHEMA_VERSION: &str = "1.0.1";

/// What the zone says about one question.
#[derive(Debug, PartialEq)]
pub enum Answer {
    /// The records to answer with (may start with a CNAME).
    Records(Vec<Record>),
    /// The name exists, without records of that type.
    NoData,
    /// The name does not exist in the zone.
    NxDomain,
    /// Not a name this zone is authoritative for.
    NotOurs,
}

/// One Service and, when headless, its EndpointSlices.
struct Entry {
    info: Arc<ServiceInfo>,
    slices: Vec<Arc<SliceInfo>>,
    /// `<svc>.<ns>.svc.<zone>`, made once: SRV and PTR answers point at it.
    base: Name,
}

/// What a reverse name points at: a ClusterIP's Service, or a headless endpoint's own name.
struct PtrTarget {
    service: Arc<ServiceInfo>,
    /// The endpoint's first label (hostname or dashed address); `None` for a ClusterIP.
    endpoint: Option<Box<str>>,
}

pub struct Zone {
    origin: Name,
    lower_origin: LowerName,
    ttl: u32,
    soa: Record,
    /// The apex NS record, and the address of the server it names when known.
    apex_ns: Record,
    ns_address: Option<IpAddr>,
    /// Namespace -> name -> Service. Both are DNS labels, lower case by the API's validation, so
    /// they compare with the question's lower-cased labels as they are. A namespace is here when
    /// it has a Service (`<ns>.svc.<zone>` exists then).
    services: HashMap<Box<str>, HashMap<Box<str>, Entry>>,
    reverse: HashMap<IpAddr, Vec<PtrTarget>>,
    pod_records: PodRecords,
}

/// Input of [`Zone::build`].
pub struct Sources<'a> {
    pub services: &'a [Arc<ServiceInfo>],
    pub slices: &'a [Arc<SliceInfo>],
    /// The kube-dns ClusterIP, for the apex's NS record.
    pub dns_ip: Option<IpAddr>,
    pub pod_records: PodRecords,
}

/// How `<a-b-c-d>.<namespace>.pod.<zone>` names are answered (CoreDNS's `pods` option).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PodRecords {
    /// Any well-formed name answers with the address it spells (CoreDNS's default).
    #[default]
    Insecure,
    /// Only when a pod of that namespace has that address.
    Verified(Arc<PodIndex>),
    /// Never.
    Disabled,
}

impl Zone {
    /// `domain`: e.g. `cluster.local`. Invalid names in the input are skipped (the API already
    /// validates Service and EndpointSlice names).
    pub fn build(domain: &str, ttl: u32, sources: &Sources<'_>) -> Result<Self, String> {
        let origin = Name::from_str(&format!("{}.", domain.trim_end_matches('.').to_ascii_lowercase()))
            .map_err(|e| format!("cluster domain {domain:?}: {e}"))?;
        let name = |s: &str| Name::from_str(s).map_err(|e| format!("{s}: {e}"));
        let ns_name = name(&format!("ns.dns.{origin}"))?;
        let soa = Record::from_rdata(
            origin.clone(),
            ttl,
            RData::SOA(SOA::new(ns_name.clone(), name(&format!("hostmaster.{origin}"))?, 1, 7200, 1800, 86400, ttl)),
        );
        let apex_ns = Record::from_rdata(origin.clone(), ttl, RData::NS(NS(ns_name)));
        let mut zone = Zone {
            lower_origin: LowerName::new(&origin),
            origin,
            ttl,
            soa,
            apex_ns,
            ns_address: sources.dns_ip,
            services: HashMap::new(),
            reverse: HashMap::new(),
            pod_records: sources.pod_records.clone(),
        };
        let mut slices: HashMap<(&str, &str), Vec<Arc<SliceInfo>>> = HashMap::new();
        for slice in sources.slices {
            slices.entry((&slice.namespace, &slice.service)).or_default().push(slice.clone());
        }
        for info in sources.services {
            let Ok(base) = Name::from_str(&format!("{}.{}.svc.{}", info.name, info.namespace, zone.origin)) else {
                continue;
            };
            let own_slices = match info.kind {
                ServiceKind::Headless => slices.remove(&(&*info.namespace, &*info.name)).unwrap_or_default(),
                _ => Vec::new(),
            };
            zone.index_reverse(info, &own_slices);
            let entry = Entry { info: info.clone(), slices: own_slices, base };
            zone.services.entry(info.namespace.clone()).or_default().insert(info.name.clone(), entry);
        }
        Ok(zone)
    }

    fn index_reverse(&mut self, info: &Arc<ServiceInfo>, slices: &[Arc<SliceInfo>]) {
        if let ServiceKind::ClusterIp { ips, .. } = &info.kind {
            for ip in ips.iter() {
                self.reverse.entry(*ip).or_default().push(PtrTarget { service: info.clone(), endpoint: None });
            }
        }
        for ep in slices.iter().flat_map(|s| s.endpoints.iter()) {
            let label = ep.hostname.clone().unwrap_or_else(|| dashed(ep.address).into());
            self.reverse
                .entry(ep.address)
                .or_default()
                .push(PtrTarget { service: info.clone(), endpoint: Some(label) });
        }
    }

    /// Answers `qtype` at `qname`.
    pub fn lookup(&self, qname: &LowerName, qtype: RecordType) -> Answer {
        if !self.lower_origin.zone_of(qname) {
            return self.lookup_reverse(qname, qtype);
        }
        let relative = usize::from(qname.num_labels() - self.origin.num_labels());
        let owner = Name::from(qname.clone());
        // The labels below the origin, outermost first: ["svc", "<ns>", "<svc>", ...].
        let labels: Vec<&[u8]> = owner.iter().take(relative).collect::<Vec<_>>().into_iter().rev().collect();
        let records = match labels.as_slice() {
            [] => vec![self.soa.clone(), self.apex_ns.clone()],
            [b"dns-version"] => {
                vec![Record::from_rdata(owner, self.ttl, RData::TXT(TXT::new(vec![SCHEMA_VERSION.to_string()])))]
            }
            [b"dns"] if self.ns_address.is_some() => Vec::new(),
            [b"dns", b"ns"] => match self.ns_address {
                Some(ip) => vec![address(owner, self.ttl, ip)],
                None => return Answer::NxDomain,
            },
            [b"svc"] | [b"pod"] => Vec::new(),
            [b"svc", ns] => match self.services.contains_key(utf8(ns)) {
                true => Vec::new(),
                false => return Answer::NxDomain,
            },
            [b"svc", ns, svc, rest @ ..] => {
                let Some(entry) = self.services.get(utf8(ns)).and_then(|s| s.get(utf8(svc))) else {
                    return Answer::NxDomain;
                };
                match self.service_records(entry, rest, &owner) {
                    Some(records) => records,
                    None => return Answer::NxDomain,
                }
            }
            [b"pod", ns, host] => match self.pod_address(utf8(ns), utf8(host)) {
                Some(ip) => vec![address(owner, self.ttl, ip)],
                None => return Answer::NxDomain,
            },
            _ => return Answer::NxDomain,
        };
        pick(records, qtype)
    }

    /// The records at `<rest>.<svc>.<ns>.svc.<zone>` (`rest` outermost first); `None` when that
    /// name does not exist.
    fn service_records(&self, entry: &Entry, rest: &[&[u8]], owner: &Name) -> Option<Vec<Record>> {
        let ttl = self.ttl;

        match (&entry.info.kind, rest) {
            (ServiceKind::ExternalName(target), []) => {
                let target = Name::from_str(&format!("{}.", target.trim_end_matches('.'))).ok()?;
                Some(vec![Record::from_rdata(owner.clone(), ttl, RData::CNAME(CNAME(target)))])
            }
            (ServiceKind::ClusterIp { ips, .. }, []) => {
                Some(ips.iter().map(|ip| address(owner.clone(), ttl, *ip)).collect())
            }
            (ServiceKind::ClusterIp { ports, .. }, [proto]) => {
                ports.iter().any(|p| is_underscored(proto, p.protocol)).then(Vec::new)
            }
            (ServiceKind::ClusterIp { ports, .. }, [proto, port]) => {
                let target = &entry.base;
                let records: Vec<Record> = ports
                    .iter()
                    .filter(|p| is_underscored(proto, p.protocol) && is_underscored(port, &p.name))
                    .map(|p| {
                        Record::from_rdata(owner.clone(), ttl, RData::SRV(SRV::new(0, 100, p.port, target.clone())))
                    })
                    .collect();
                (!records.is_empty()).then_some(records)
            }
            (ServiceKind::Headless, []) => {
                let records: Vec<Record> =
                    self.endpoints(entry).map(|(_, _, ip)| address(owner.clone(), ttl, ip)).collect();
                (!records.is_empty()).then_some(records)
            }
            (ServiceKind::Headless, [label]) => {
                let label = utf8(label);
                let records: Vec<Record> = self
                    .endpoints(entry)
                    .filter(|(_, own, _)| own.eq_ignore_ascii_case(label))
                    .map(|(_, _, ip)| address(owner.clone(), ttl, ip))
                    .collect();
                if !records.is_empty() {
                    return Some(records);
                }
                // `_<proto>`: exists when some SRV name below it does.
                let srv_below = self
                    .endpoints(entry)
                    .any(|(slice, _, _)| slice.ports.iter().any(|p| is_underscored(label.as_bytes(), p.protocol)));
                srv_below.then(Vec::new)
            }
            (ServiceKind::Headless, [proto, port]) => {
                let mut records = Vec::new();
                for (slice, own, _) in self.endpoints(entry) {
                    let wanted = |p: &&NamedPort| is_underscored(proto, p.protocol) && is_underscored(port, &p.name);
                    for p in slice.ports.iter().filter(wanted) {
                        let target = endpoint_name(&entry.base, &own)?;
                        let srv = Record::from_rdata(owner.clone(), ttl, RData::SRV(SRV::new(0, 100, p.port, target)));
                        // An endpoint in two slices (one per family) has one SRV per port.
                        if !records.contains(&srv) {
                            records.push(srv);
                        }
                    }
                }
                (!records.is_empty()).then_some(records)
            }
            _ => None,
        }
    }

    /// Every ready address of a headless Service, with its slice and its own first label.
    fn endpoints<'a>(&self, entry: &'a Entry) -> impl Iterator<Item = (&'a SliceInfo, String, IpAddr)> + 'a {
        entry.slices.iter().flat_map(|slice| {
            slice.endpoints.iter().map(move |ep| {
                let own = ep.hostname.as_deref().map_or_else(|| dashed(ep.address), str::to_string);
                (&**slice, own, ep.address)
            })
        })
    }

    /// `[<endpoint>.]<svc>.<ns>.svc.<zone>`.
    fn service_name(&self, info: &ServiceInfo, endpoint: Option<&str>) -> Option<Name> {
        let base = &self.services.get(&*info.namespace)?.get(&*info.name)?.base;
        match endpoint {
            Some(label) => endpoint_name(base, label),
            None => Some(base.clone()),
        }
    }

    /// `<dashed IP>.<namespace>.pod.<zone>`, per the pod records mode.
    fn pod_address(&self, namespace: &str, host: &str) -> Option<IpAddr> {
        let ip = undashed(host)?;
        match &self.pod_records {
            PodRecords::Insecure => Some(ip),
            PodRecords::Verified(pods) => pods.contains(ip, namespace).then_some(ip),
            PodRecords::Disabled => None,
        }
    }

    fn lookup_reverse(&self, qname: &LowerName, qtype: RecordType) -> Answer {
        let text = qname.to_string();
        let Some(ip) = reverse_to_ip(&text) else { return Answer::NotOurs };
        let Some(targets) = self.reverse.get(&ip) else { return Answer::NotOurs };
        let owner = Name::from(qname.clone());
        let records: Vec<Record> = targets
            .iter()
            .filter_map(|t| self.service_name(&t.service, t.endpoint.as_deref()))
            .map(|target| Record::from_rdata(owner.clone(), self.ttl, RData::PTR(PTR(target))))
            .collect();
        pick(records, qtype)
    }

    /// The SOA for the authority section of negative answers (its minimum is the negative TTL).
    pub fn soa(&self) -> &Record {
        &self.soa
    }

    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// Services held, for logs.
    pub fn services(&self) -> usize {
        self.services.values().map(HashMap::len).sum()
    }

    /// Every record the zone answers with, PTRs and verified pod records included, e.g. to load
    /// the same data into another server's zone file. Insecure pod records are computed from
    /// any name, so they are not listed.
    pub fn records(&self) -> Vec<Record> {
        let mut names: Vec<Name> = vec![self.origin.clone()];
        let under_origin = |s: String| Name::from_str(&format!("{s}.{}", self.origin)).ok();
        names.extend(under_origin("dns-version".into()));
        if self.ns_address.is_some() {
            names.extend(under_origin("ns.dns".into()));
        }
        for entry in self.services.values().flat_map(HashMap::values) {
            let base = entry.base.clone();
            let srv = |port: &NamedPort| Name::from_str(&format!("_{}._{}.{base}", port.name, port.protocol)).ok();
            match &entry.info.kind {
                ServiceKind::ClusterIp { ports, .. } => names.extend(ports.iter().filter_map(srv)),
                ServiceKind::Headless => {
                    for (slice, own, _) in self.endpoints(entry) {
                        names.extend(endpoint_name(&base, &own));
                        names.extend(slice.ports.iter().filter_map(srv));
                    }
                }
                ServiceKind::ExternalName(_) => {}
            }
            names.push(base);
        }
        names.extend(self.reverse.keys().map(|ip| Name::from(*ip)));
        if let PodRecords::Verified(pods) = &self.pod_records {
            names.extend(pods.iter().filter_map(|(ip, ns)| under_origin(format!("{}.{ns}.pod", dashed(ip)))));
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for name in names {
            let lower = LowerName::new(&name);
            if seen.insert(lower.clone()) {
                if let Answer::Records(records) = self.lookup(&lower, RecordType::ANY) {
                    out.extend(records);
                }
            }
        }
        out
    }
}

/// `<label>.<base>`.
fn endpoint_name(base: &Name, label: &str) -> Option<Name> {
    base.prepend_label(label.as_bytes()).ok()
}

fn utf8(label: &[u8]) -> &str {
    std::str::from_utf8(label).unwrap_or("")
}

/// Whether `label` is `_<name>` (case-insensitively).
fn is_underscored(label: &[u8], name: &str) -> bool {
    label.first() == Some(&b'_') && label[1..].eq_ignore_ascii_case(name.as_bytes())
}

fn address(name: Name, ttl: u32, ip: IpAddr) -> Record {
    match ip {
        IpAddr::V4(v4) => Record::from_rdata(name, ttl, RData::A(A(v4))),
        IpAddr::V6(v6) => Record::from_rdata(name, ttl, RData::AAAA(AAAA(v6))),
    }
}

/// The records of `qtype` (all of them for ANY); a CNAME answers every other type.
fn pick(mut records: Vec<Record>, qtype: RecordType) -> Answer {
    let wanted = |r: &Record| qtype == RecordType::ANY || r.record_type() == qtype;
    if records.iter().any(wanted) {
        records.retain(wanted);
    } else {
        records.retain(|r| r.record_type() == RecordType::CNAME);
    }
    match records.is_empty() {
        true => Answer::NoData,
        false => Answer::Records(records),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::{core::v1::Service, discovery::v1::EndpointSlice};
    use serde_json::json;

    fn zone() -> Zone {
        let services: Vec<Service> = [
            json!({"metadata": {"name": "web", "namespace": "default"},
                   "spec": {"clusterIP": "10.96.0.50", "clusterIPs": ["10.96.0.50", "fd00:10:96::50"],
                            "ports": [{"name": "http", "port": 80}, {"port": 81}]}}),
            json!({"metadata": {"name": "db", "namespace": "prod"},
                   "spec": {"clusterIP": "None", "ports": [{"name": "sql", "port": 5432}]}}),
            json!({"metadata": {"name": "empty", "namespace": "prod"}, "spec": {"clusterIP": "None"}}),
            json!({"metadata": {"name": "ext", "namespace": "default"},
                   "spec": {"type": "ExternalName", "externalName": "db.example.org"}}),
        ]
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
        let slice: EndpointSlice = serde_json::from_value(json!({
            "metadata": {"name": "db-x", "namespace": "prod", "labels": {"kubernetes.io/service-name": "db"}},
            "addressType": "IPv4",
            "ports": [{"name": "sql", "port": 5432, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["10.244.1.5"], "hostname": "db-0", "conditions": {"ready": true}},
                {"addresses": ["10.244.2.6"]},
                {"addresses": ["10.244.2.7"], "conditions": {"ready": false}},
            ],
        }))
        .unwrap();
        let services: Vec<Arc<ServiceInfo>> =
            services.iter().map(|s| Arc::new(ServiceInfo::from_service(s).unwrap())).collect();
        let sources = Sources {
            services: &services,
            slices: &[Arc::new(SliceInfo::from_slice(&slice).unwrap())],
            dns_ip: Some("10.96.0.10".parse().unwrap()),
            pod_records: PodRecords::Insecure,
        };
        Zone::build("cluster.local", 5, &sources).unwrap()
    }

    #[test]
    fn verified_and_disabled_pod_records() {
        let known = Arc::new(PodIndex::from_pairs([("10.244.1.5".parse().unwrap(), "prod")]));
        let build = |pod_records| {
            let sources = Sources { services: &[], slices: &[], dns_ip: None, pod_records };
            Zone::build("cluster.local", 5, &sources).unwrap()
        };
        let verified = build(PodRecords::Verified(known));
        assert_eq!(data(ask(&verified, "10-244-1-5.prod.pod.cluster.local.", RecordType::A)), ["10.244.1.5"]);
        assert_eq!(ask(&verified, "10-244-1-5.other.pod.cluster.local.", RecordType::A), Answer::NxDomain);
        assert_eq!(ask(&verified, "10-244-1-6.prod.pod.cluster.local.", RecordType::A), Answer::NxDomain);
        let disabled = build(PodRecords::Disabled);
        assert_eq!(ask(&disabled, "10-244-1-5.prod.pod.cluster.local.", RecordType::A), Answer::NxDomain);
    }

    fn ask(zone: &Zone, name: &str, qtype: RecordType) -> Answer {
        zone.lookup(&LowerName::new(&Name::from_str(name).unwrap()), qtype)
    }

    fn data(answer: Answer) -> Vec<String> {
        match answer {
            Answer::Records(records) => {
                let mut out: Vec<String> = records.iter().map(|r| r.data().to_string()).collect();
                out.sort();
                out
            }
            other => panic!("expected records, got {other:?}"),
        }
    }

    #[test]
    fn cluster_ip_services_both_families_srv_and_ptr() {
        let z = zone();
        assert_eq!(data(ask(&z, "web.default.svc.cluster.local.", RecordType::A)), ["10.96.0.50"]);
        assert_eq!(data(ask(&z, "WEB.default.SVC.cluster.local.", RecordType::AAAA)), ["fd00:10:96::50"]);
        assert_eq!(
            data(ask(&z, "_http._tcp.web.default.svc.cluster.local.", RecordType::SRV)),
            ["0 100 80 web.default.svc.cluster.local."]
        );
        // Unnamed ports have no SRV name.
        assert_eq!(ask(&z, "_._tcp.web.default.svc.cluster.local.", RecordType::SRV), Answer::NxDomain);
        assert_eq!(data(ask(&z, "50.0.96.10.in-addr.arpa.", RecordType::PTR)), ["web.default.svc.cluster.local."]);
    }

    #[test]
    fn headless_endpoints_hostnames_and_readiness() {
        let z = zone();
        assert_eq!(data(ask(&z, "db.prod.svc.cluster.local.", RecordType::A)), ["10.244.1.5", "10.244.2.6"]);
        assert_eq!(data(ask(&z, "db-0.db.prod.svc.cluster.local.", RecordType::A)), ["10.244.1.5"]);
        // Without a hostname the endpoint is named by its dashed address.
        assert_eq!(data(ask(&z, "10-244-2-6.db.prod.svc.cluster.local.", RecordType::A)), ["10.244.2.6"]);
        assert_eq!(
            data(ask(&z, "_sql._tcp.db.prod.svc.cluster.local.", RecordType::SRV)),
            ["0 100 5432 10-244-2-6.db.prod.svc.cluster.local.", "0 100 5432 db-0.db.prod.svc.cluster.local."]
        );
        assert_eq!(data(ask(&z, "5.1.244.10.in-addr.arpa.", RecordType::PTR)), ["db-0.db.prod.svc.cluster.local."]);
        // The not-ready endpoint is absent; a headless service without ready endpoints does not exist.
        assert_eq!(ask(&z, "10-244-2-7.db.prod.svc.cluster.local.", RecordType::A), Answer::NxDomain);
        assert_eq!(ask(&z, "empty.prod.svc.cluster.local.", RecordType::A), Answer::NxDomain);
    }

    #[test]
    fn negative_answers_external_names_pods_and_the_apex() {
        let z = zone();
        assert_eq!(ask(&z, "nope.default.svc.cluster.local.", RecordType::A), Answer::NxDomain);
        assert_eq!(ask(&z, "db.prod.svc.cluster.local.", RecordType::AAAA), Answer::NoData);
        // Empty non-terminals exist.
        assert_eq!(ask(&z, "prod.svc.cluster.local.", RecordType::A), Answer::NoData);
        assert_eq!(ask(&z, "svc.cluster.local.", RecordType::A), Answer::NoData);
        // An ExternalName answers any type with its CNAME.
        assert_eq!(data(ask(&z, "ext.default.svc.cluster.local.", RecordType::A)), ["db.example.org."]);
        assert_eq!(data(ask(&z, "10-244-9-9.anyns.pod.cluster.local.", RecordType::A)), ["10.244.9.9"]);
        assert_eq!(data(ask(&z, "fd00-10-244-1--5.anyns.pod.cluster.local.", RecordType::AAAA)), ["fd00:10:244:1::5"]);
        assert_eq!(ask(&z, "not-an-ip.anyns.pod.cluster.local.", RecordType::A), Answer::NxDomain);
        assert_eq!(data(ask(&z, "dns-version.cluster.local.", RecordType::TXT)), ["1.0.1"]);
        assert_eq!(data(ask(&z, "ns.dns.cluster.local.", RecordType::A)), ["10.96.0.10"]);
        assert!(matches!(ask(&z, "cluster.local.", RecordType::SOA), Answer::Records(_)));
        assert_eq!(ask(&z, "example.com.", RecordType::A), Answer::NotOurs);
        assert_eq!(ask(&z, "1.2.3.4.in-addr.arpa.", RecordType::PTR), Answer::NotOurs);
    }

    #[test]
    fn records_lists_every_name_the_zone_answers() {
        let z = zone();
        let mut listed: Vec<String> = z.records().iter().map(ToString::to_string).collect();
        listed.sort();
        for expected in [
            "cluster.local. 5 IN NS ns.dns.cluster.local.",
            "dns-version.cluster.local. 5 IN TXT 1.0.1",
            "ns.dns.cluster.local. 5 IN A 10.96.0.10",
            "web.default.svc.cluster.local. 5 IN AAAA fd00:10:96::50",
            "_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 100 80 web.default.svc.cluster.local.",
            "50.0.96.10.in-addr.arpa. 5 IN PTR web.default.svc.cluster.local.",
            "db-0.db.prod.svc.cluster.local. 5 IN A 10.244.1.5",
            "_sql._tcp.db.prod.svc.cluster.local. 5 IN SRV 0 100 5432 10-244-2-6.db.prod.svc.cluster.local.",
            "ext.default.svc.cluster.local. 5 IN CNAME db.example.org.",
        ] {
            assert!(listed.iter().any(|l| l == expected), "{expected} missing from {listed:#?}");
        }
        // Each answer once: the apex SOA and NS, TXT, NS address, web (A, AAAA, SRV), two PTRs for
        // web, db (2 A, 2 own A, 2 SRV, 2 PTR), ext.
        assert_eq!(listed.len(), 2 + 1 + 1 + 3 + 2 + 8 + 1, "{listed:#?}");
        assert!(!listed.iter().any(|l| l.contains("10.244.2.7")), "not-ready endpoint listed");
    }
}

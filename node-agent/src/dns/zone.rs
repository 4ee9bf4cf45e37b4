//! The cluster zone as an in-memory index, built from Services and EndpointSlices: every name
//! the Kubernetes DNS specification (schema 1.0.1) defines, with its records, plus the empty
//! non-terminals between them and the zone apex (which answer NODATA, not NXDOMAIN). Pure, so the
//! rules are tested without a server. Rebuilt whole on change and swapped in behind an `Arc`.
use std::{
    collections::{BTreeSet, HashMap},
    net::IpAddr,
    str::FromStr,
};

use hickory_proto::rr::{
    rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT},
    LowerName, Name, RData, Record, RecordType,
};
use k8s_openapi::api::{core::v1::Service, discovery::v1::EndpointSlice};

use super::names::{dashed, reverse_to_ip, undashed};

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

#[derive(Debug, Default)]
struct Node {
    records: Vec<Record>,
}

pub struct Zone {
    origin: Name,
    lower_origin: LowerName,
    ttl: u32,
    nodes: HashMap<LowerName, Node>,
    /// Address -> the names whose PTR it has.
    reverse: HashMap<IpAddr, Vec<Name>>,
    soa: Record,
    pod_records: PodRecords,
}

/// (port name, lowercase protocol, number): one SRV name per entry.
type NamedPort = (String, String, u16);

/// Input of [`Zone::build`].
pub struct Sources<'a> {
    pub services: &'a [&'a Service],
    pub slices: &'a [&'a EndpointSlice],
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
    Verified(std::collections::HashSet<(IpAddr, String)>),
    /// Never.
    Disabled,
}

impl Zone {
    /// `domain`: e.g. `cluster.local`. Invalid names in the input are skipped (logged by nobody:
    /// the API already validates Service and EndpointSlice names).
    pub fn build(domain: &str, ttl: u32, sources: &Sources<'_>) -> Result<Self, String> {
        let origin = Name::from_str(&format!("{}.", domain.trim_end_matches('.')))
            .map_err(|e| format!("cluster domain {domain:?}: {e}"))?;
        let name = |s: &str| Name::from_str(s).ok();
        let ns_name = name(&format!("ns.dns.{origin}")).ok_or("bad ns name")?;
        let soa = Record::from_rdata(
            origin.clone(),
            ttl,
            RData::SOA(SOA::new(
                ns_name.clone(),
                name(&format!("hostmaster.{origin}")).ok_or("bad rname")?,
                1,
                7200,
                1800,
                86400,
                ttl,
            )),
        );
        let mut zone = Zone {
            lower_origin: LowerName::new(&origin),
            origin: origin.clone(),
            ttl,
            nodes: HashMap::new(),
            reverse: HashMap::new(),
            soa: soa.clone(),
            pod_records: sources.pod_records.clone(),
        };
        zone.add(soa);
        zone.add(Record::from_rdata(origin.clone(), ttl, RData::NS(NS(ns_name.clone()))));
        if let Some(ip) = sources.dns_ip {
            zone.add(address(ns_name, ttl, ip));
        }
        if let Some(v) = name(&format!("dns-version.{origin}")) {
            zone.add(Record::from_rdata(v, ttl, RData::TXT(TXT::new(vec![SCHEMA_VERSION.to_string()]))));
        }
        for sub in ["svc", "pod"] {
            if let Some(n) = name(&format!("{sub}.{origin}")) {
                zone.ensure(&n);
            }
        }
        let mut slices_by_service: HashMap<(String, String), Vec<&EndpointSlice>> = HashMap::new();
        for slice in sources.slices {
            let ns = slice.metadata.namespace.clone().unwrap_or_default();
            if let Some(svc) = slice.metadata.labels.as_ref().and_then(|l| l.get("kubernetes.io/service-name")) {
                slices_by_service.entry((ns, svc.clone())).or_default().push(slice);
            }
        }
        for svc in sources.services {
            let (Some(ns), Some(svc_name)) = (svc.metadata.namespace.as_deref(), svc.metadata.name.as_deref()) else {
                continue;
            };
            let Some(base) = name(&format!("{svc_name}.{ns}.svc.{origin}")) else { continue };
            if let Some(n) = name(&format!("{ns}.svc.{origin}")) {
                zone.ensure(&n);
            }
            let slices = slices_by_service.get(&(ns.to_string(), svc_name.to_string())).map(Vec::as_slice);
            zone.add_service(svc, &base, slices.unwrap_or_default());
        }
        Ok(zone)
    }

    fn add_service(&mut self, svc: &Service, base: &Name, slices: &[&EndpointSlice]) {
        let Some(spec) = svc.spec.as_ref() else { return };
        let ttl = self.ttl;
        if spec.type_.as_deref() == Some("ExternalName") {
            let target = spec
                .external_name
                .as_deref()
                .and_then(|t| Name::from_str(&format!("{}.", t.trim_end_matches('.'))).ok());
            if let Some(target) = target {
                self.add(Record::from_rdata(base.clone(), ttl, RData::CNAME(CNAME(target))));
            }
            return;
        }
        let cluster_ips: BTreeSet<IpAddr> =
            spec.cluster_ips.iter().flatten().chain(spec.cluster_ip.iter()).filter_map(|ip| ip.parse().ok()).collect();
        if !cluster_ips.is_empty() {
            for ip in cluster_ips {
                self.add(address(base.clone(), ttl, ip));
                self.reverse.entry(ip).or_default().push(base.clone());
            }
            for port in spec.ports.iter().flatten() {
                let Some(port_name) = port.name.as_deref().filter(|n| !n.is_empty()) else { continue };
                let proto = port.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
                let Ok(number) = u16::try_from(port.port) else { continue };
                if let Ok(srv) = Name::from_str(&format!("_{port_name}._{proto}.{base}")) {
                    self.add(Record::from_rdata(srv, ttl, RData::SRV(SRV::new(0, 100, number, base.clone()))));
                }
            }
            return;
        }
        self.add_headless(base, slices);
    }

    /// One address record per ready endpoint, at the service name and at the endpoint's own name
    /// (its hostname, or its dashed address), and SRV records per named port and endpoint.
    fn add_headless(&mut self, base: &Name, slices: &[&EndpointSlice]) {
        let ttl = self.ttl;
        let mut targets: Vec<(Name, Vec<NamedPort>)> = Vec::new();
        for slice in slices {
            let ports: Vec<NamedPort> = slice
                .ports
                .iter()
                .flatten()
                .filter_map(|p| {
                    let name = p.name.clone().filter(|n| !n.is_empty())?;
                    let proto = p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
                    Some((name, proto, u16::try_from(p.port?).ok()?))
                })
                .collect();
            for ep in &slice.endpoints {
                // A missing `ready` means ready; publishNotReadyAddresses is already folded in.
                if ep.conditions.as_ref().and_then(|c| c.ready) == Some(false) {
                    continue;
                }
                for ip in ep.addresses.iter().filter_map(|a| a.parse::<IpAddr>().ok()) {
                    let host = ep.hostname.clone().unwrap_or_else(|| dashed(ip));
                    let Ok(own) = Name::from_str(&format!("{host}.{base}")) else { continue };
                    self.add(address(base.clone(), ttl, ip));
                    self.add(address(own.clone(), ttl, ip));
                    self.reverse.entry(ip).or_default().push(own.clone());
                    targets.push((own, ports.clone()));
                }
            }
        }
        for (target, ports) in targets {
            for (port_name, proto, number) in ports {
                if let Ok(srv) = Name::from_str(&format!("_{port_name}._{proto}.{base}")) {
                    self.add(Record::from_rdata(srv, ttl, RData::SRV(SRV::new(0, 100, number, target.clone()))));
                }
            }
        }
    }

    /// Adds a record and makes every name between it and the apex exist.
    fn add(&mut self, record: Record) {
        let name = record.name().clone();
        self.ensure(&name);
        if let Some(node) = self.nodes.get_mut(&LowerName::new(&name)) {
            if !node.records.contains(&record) {
                node.records.push(record);
            }
        }
    }

    fn ensure(&mut self, name: &Name) {
        let mut current = name.clone();
        loop {
            let lower = LowerName::new(&current);
            if !self.lower_origin.zone_of(&lower) {
                return;
            }
            let fresh = !self.nodes.contains_key(&lower);
            self.nodes.entry(lower.clone()).or_default();
            if !fresh || lower == self.lower_origin {
                return;
            }
            current = current.base_name();
        }
    }

    /// Answers `qtype` at `qname` from the index.
    pub fn lookup(&self, qname: &LowerName, qtype: RecordType) -> Answer {
        if !self.lower_origin.zone_of(qname) {
            return self.lookup_reverse(qname, qtype);
        }
        if let Some(node) = self.nodes.get(qname) {
            return pick(&node.records, qtype);
        }
        match self.pod_address(qname) {
            Some(ip) => pick(&[address(Name::from(qname.clone()), self.ttl, ip)], qtype),
            None => Answer::NxDomain,
        }
    }

    /// `<dashed IP>.<namespace>.pod.<zone>`: any address, as CoreDNS's default "insecure" mode.
    fn pod_address(&self, qname: &LowerName) -> Option<IpAddr> {
        let name = Name::from(qname.clone());
        let labels: Vec<String> = name.iter().map(|l| String::from_utf8_lossy(l).into_owned()).collect();
        let origin_labels = self.origin.num_labels() as usize;
        // host, namespace, "pod", then the origin's labels.
        if labels.len() != origin_labels + 3 || labels[2] != "pod" {
            return None;
        }
        let ip = undashed(&labels[0])?;
        match &self.pod_records {
            PodRecords::Insecure => Some(ip),
            PodRecords::Verified(pods) => pods.contains(&(ip, labels[1].clone())).then_some(ip),
            PodRecords::Disabled => None,
        }
    }

    fn lookup_reverse(&self, qname: &LowerName, qtype: RecordType) -> Answer {
        let text = qname.to_string();
        let Some(ip) = reverse_to_ip(&text) else { return Answer::NotOurs };
        let Some(targets) = self.reverse.get(&ip) else { return Answer::NotOurs };
        let owner = Name::from(qname.clone());
        let records: Vec<Record> =
            targets.iter().map(|t| Record::from_rdata(owner.clone(), self.ttl, RData::PTR(PTR(t.clone())))).collect();
        pick(&records, qtype)
    }

    /// The SOA for the authority section of negative answers (its minimum is the negative TTL).
    pub fn soa(&self) -> &Record {
        &self.soa
    }

    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// Names held (empty non-terminals included), for logs and metrics.
    pub fn names(&self) -> usize {
        self.nodes.len()
    }
}

fn address(name: Name, ttl: u32, ip: IpAddr) -> Record {
    match ip {
        IpAddr::V4(v4) => Record::from_rdata(name, ttl, RData::A(A(v4))),
        IpAddr::V6(v6) => Record::from_rdata(name, ttl, RData::AAAA(AAAA(v6))),
    }
}

/// The records of `qtype` (all of them for ANY); a CNAME answers every other type.
fn pick(records: &[Record], qtype: RecordType) -> Answer {
    let matching: Vec<Record> =
        records.iter().filter(|r| qtype == RecordType::ANY || r.record_type() == qtype).cloned().collect();
    if !matching.is_empty() {
        return Answer::Records(matching);
    }
    match records.iter().find(|r| r.record_type() == RecordType::CNAME) {
        Some(cname) => Answer::Records(vec![cname.clone()]),
        None => Answer::NoData,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let svc_refs: Vec<&Service> = services.iter().collect();
        let sources = Sources {
            services: &svc_refs,
            slices: &[&slice],
            dns_ip: Some("10.96.0.10".parse().unwrap()),
            pod_records: PodRecords::Insecure,
        };
        Zone::build("cluster.local", 5, &sources).unwrap()
    }

    #[test]
    fn verified_and_disabled_pod_records() {
        let known = std::collections::HashSet::from([("10.244.1.5".parse().unwrap(), "prod".to_string())]);
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
}

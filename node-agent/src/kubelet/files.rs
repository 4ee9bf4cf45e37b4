//! The files the kubelet writes for every pod: /etc/hosts and
//! /etc/resolv.conf (per dnsPolicy and dnsConfig).

use super::Config;
use k8s_openapi::api::core::v1::Pod;
use std::fmt::Write as _;

/// The pod's hostname: spec.hostname, else its name (at most 63 chars).
pub fn hostname(pod: &Pod) -> String {
    let spec = pod.spec.as_ref();
    let name = spec.and_then(|s| s.hostname.clone()).filter(|h| !h.is_empty());
    let name = name.unwrap_or_else(|| pod.metadata.name.clone().unwrap_or_default());
    let trimmed: String = name.chars().take(63).collect();
    trimmed.trim_end_matches(['-', '.']).to_string()
}

/// `<hostname>.<subdomain>.<ns>.svc.<domain>` when the pod has a subdomain.
fn fqdn(pod: &Pod, domain: &str) -> Option<String> {
    let sub = pod.spec.as_ref()?.subdomain.clone().filter(|s| !s.is_empty())?;
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    Some(format!("{}.{sub}.{ns}.svc.{domain}", hostname(pod)))
}

/// /etc/hosts the way the kubelet writes it.
pub fn etc_hosts(pod: &Pod, pod_ip: &str, domain: &str) -> String {
    let mut out = String::from("# Kubernetes-managed hosts file.\n");
    out.push_str("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    out.push_str("fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n");
    let host = hostname(pod);
    match fqdn(pod, domain) {
        Some(f) => {
            let _ = writeln!(out, "{pod_ip}\t{f}\t{host}");
        }
        None => {
            let _ = writeln!(out, "{pod_ip}\t{host}");
        }
    }
    let aliases = pod.spec.as_ref().and_then(|s| s.host_aliases.clone()).unwrap_or_default();
    if !aliases.is_empty() {
        out.push_str("\n# Entries added by HostAliases.\n");
        for alias in aliases {
            let names = alias.hostnames.unwrap_or_default().join("\t");
            let _ = writeln!(out, "{}\t{names}", alias.ip);
        }
    }
    out
}

/// resolv.conf per dnsPolicy; `host` is the node's own resolv.conf.
pub fn resolv_conf(pod: &Pod, config: &Config, host: &str) -> String {
    let spec = pod.spec.as_ref();
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let policy = spec.and_then(|s| s.dns_policy.clone()).unwrap_or_else(|| "ClusterFirst".into());
    let (host_servers, host_search, host_options) = parse_resolv(host);
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let domain = &config.cluster_domain;
    let cluster = || {
        let servers: Vec<String> = config.cluster_dns.iter().map(|a| a.to_string()).collect();
        let mut search = vec![format!("{ns}.svc.{domain}"), format!("svc.{domain}"), domain.clone()];
        search.extend(host_search.iter().cloned());
        (servers, search, vec!["ndots:5".to_string()])
    };
    let (mut servers, mut search, mut options) = match policy.as_str() {
        "None" => (Vec::new(), Vec::new(), Vec::new()),
        "Default" => (host_servers.clone(), host_search.clone(), host_options.clone()),
        "ClusterFirstWithHostNet" => cluster(),
        // ClusterFirst falls back to Default for host-network pods.
        _ if host_network => (host_servers.clone(), host_search.clone(), host_options.clone()),
        _ => cluster(),
    };
    if let Some(dns) = spec.and_then(|s| s.dns_config.as_ref()) {
        servers.extend(dns.nameservers.iter().flatten().cloned());
        search.extend(dns.searches.iter().flatten().cloned());
        for opt in dns.options.iter().flatten() {
            let Some(name) = opt.name.clone() else { continue };
            options.retain(|o| o.split(':').next() != Some(name.as_str()));
            options.push(match &opt.value {
                Some(v) => format!("{name}:{v}"),
                None => name,
            });
        }
    }
    dedup(&mut search);
    // resolv.conf honours at most three nameservers and six search domains.
    servers.truncate(3);
    search.truncate(6);
    let mut out = String::new();
    if !search.is_empty() {
        let _ = writeln!(out, "search {}", search.join(" "));
    }
    for s in servers {
        let _ = writeln!(out, "nameserver {s}");
    }
    if !options.is_empty() {
        let _ = writeln!(out, "options {}", options.join(" "));
    }
    out
}

fn dedup(list: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    list.retain(|s| seen.insert(s.clone()));
}

/// (nameservers, search domains, options) of a resolv.conf text.
fn parse_resolv(text: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut servers, mut search, mut options) = (Vec::new(), Vec::new(), Vec::new());
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => servers.extend(words.next().map(String::from)),
            Some("search") | Some("domain") => search = words.map(String::from).collect(),
            Some("options") => options.extend(words.map(String::from)),
            _ => {}
        }
    }
    (servers, search, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Config {
        Config {
            node_name: "n1".into(),
            node_ip: "10.0.0.1".parse().unwrap(),
            pods_dir: "/tmp".into(),
            cluster_dns: vec!["10.96.0.10".parse().unwrap()],
            cluster_domain: "cluster.local".into(),
            pod_pids_limit: None,
            allocatable_cpu_millis: 2000,
            allocatable_memory: 1 << 30,
            host_resolv_conf: "/etc/resolv.conf".into(),
        }
    }

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "web-0", "namespace": "shop"}, "spec": spec})).unwrap()
    }

    #[test]
    fn cluster_first_uses_cluster_dns_and_search_path() {
        let p = pod(json!({"containers": []}));
        let text = resolv_conf(&p, &config(), "nameserver 1.1.1.1\nsearch corp.example\n");
        assert_eq!(
            text,
            "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:5\n"
        );
    }

    #[test]
    fn none_with_dns_config_and_default() {
        let p = pod(json!({"containers": [], "dnsPolicy": "None",
            "dnsConfig": {"nameservers": ["1.2.3.4"], "searches": ["a.b"], "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}));
        assert_eq!(resolv_conf(&p, &config(), ""), "search a.b\nnameserver 1.2.3.4\noptions ndots:2 edns0\n");
        let p = pod(json!({"containers": [], "dnsPolicy": "Default"}));
        assert_eq!(resolv_conf(&p, &config(), "nameserver 9.9.9.9\n"), "nameserver 9.9.9.9\n");
    }

    #[test]
    fn hosts_file_has_the_fqdn_with_a_subdomain() {
        let p = pod(
            json!({"containers": [], "hostname": "db", "subdomain": "dbs", "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["x"]}]}),
        );
        let text = etc_hosts(&p, "10.244.1.7", "cluster.local");
        assert!(text.contains("10.244.1.7\tdb.dbs.shop.svc.cluster.local\tdb\n"), "{text}");
        assert!(text.contains("1.2.3.4\tx\n"));
    }
}

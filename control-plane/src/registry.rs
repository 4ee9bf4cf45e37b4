//! The resource types this API server serves: the built-in ones and those
//! added by CustomResourceDefinitions.
//!
//! Everything that varies per resource (URL names, scope, subresources, how
//! objects are decoded, validated and printed) hangs off a [`ResourceType`];
//! the HTTP handlers are generic over it.

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The scale subresource's mapping onto an object's fields (JSON paths with
/// a leading dot, as in a CRD's `scale` subresource).
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleSpec {
    pub spec_replicas_path: String,
    pub status_replicas_path: String,
    pub label_selector_path: Option<String>,
}

/// A printer column of a custom resource (`additionalPrinterColumns`).
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: Option<String>,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

/// Where a resource's schema comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A built-in kind: decoded, defaulted and validated through its
    /// k8s-openapi type.
    Builtin,
    /// Served from a CustomResourceDefinition.
    Custom(Arc<CustomInfo>),
}

/// What a CRD version says about its objects.
#[derive(Clone, Debug, Default)]
pub struct CustomInfo {
    /// The version's `schema.openAPIV3Schema`.
    pub schema: Option<Value>,
    pub printer_columns: Vec<PrinterColumn>,
    /// Whether this is the CRD's storage version.
    pub storage: bool,
}

/// One served resource in one group/version.
#[derive(Clone, Debug)]
pub struct ResourceType {
    /// API group; empty for the core ("legacy") group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// URL name, e.g. `deployments`.
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub has_status: bool,
    pub scale: Option<ScaleSpec>,
    pub source: Source,
    /// The group and plural objects are stored under. Differs from
    /// `group`/`plural` when two API groups serve one stored resource
    /// (events.k8s.io/v1 Events are stored as core/v1 Events).
    pub storage_group: String,
    pub storage_plural: String,
}

impl ResourceType {
    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps`, or `pods` for the core group.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// The verbs discovery advertises.
    pub fn verbs(&self) -> Vec<&'static str> {
        vec!["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    }

    pub fn is_custom(&self) -> bool {
        matches!(self.source, Source::Custom(_))
    }

    /// Prefix of this resource's keys in the store, ending in `/`.
    pub fn storage_prefix(&self) -> String {
        let g = if self.storage_group.is_empty() { "core" } else { &self.storage_group };
        format!("/registry/{}/{}/", g, self.storage_plural)
    }

    /// The store key of one object.
    pub fn storage_key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{}/{}", self.storage_prefix(), ns, name),
            _ => format!("{}{}", self.storage_prefix(), name),
        }
    }
}

/// Builder for the table of built-in resources.
struct B(ResourceType);

impl B {
    fn new(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        B(ResourceType {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            namespaced,
            short_names: vec![],
            categories: vec![],
            has_status: false,
            scale: None,
            source: Source::Builtin,
            storage_group: group.into(),
            storage_plural: plural.into(),
        })
    }
    fn short(mut self, names: &[&str]) -> Self {
        self.0.short_names = names.iter().map(|s| s.to_string()).collect();
        self
    }
    fn all(mut self) -> Self {
        self.0.categories = vec!["all".into()];
        self
    }
    fn status(mut self) -> Self {
        self.0.has_status = true;
        self
    }
    fn scale(mut self) -> Self {
        self.0.scale = Some(ScaleSpec {
            spec_replicas_path: ".spec.replicas".into(),
            status_replicas_path: ".status.replicas".into(),
            label_selector_path: Some(".status.selector".into()),
        });
        self
    }
    fn stored_as(mut self, group: &str, plural: &str) -> Self {
        self.0.storage_group = group.into();
        self.0.storage_plural = plural.into();
        self
    }
}

/// Every built-in resource, in discovery order.
pub fn builtin_types() -> Vec<ResourceType> {
    vec![
        B::new("", "v1", "Namespace", "namespaces", false).short(&["ns"]).status().0,
        B::new("", "v1", "Pod", "pods", true).short(&["po"]).all().status().0,
        B::new("", "v1", "Service", "services", true).short(&["svc"]).all().status().0,
        B::new("", "v1", "Endpoints", "endpoints", true).short(&["ep"]).0,
        B::new("", "v1", "ConfigMap", "configmaps", true).short(&["cm"]).0,
        B::new("", "v1", "Secret", "secrets", true).0,
        B::new("", "v1", "ServiceAccount", "serviceaccounts", true).short(&["sa"]).0,
        B::new("", "v1", "Node", "nodes", false).short(&["no"]).status().0,
        B::new("", "v1", "Event", "events", true).short(&["ev"]).0,
        B::new("", "v1", "PersistentVolume", "persistentvolumes", false).short(&["pv"]).status().0,
        B::new("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true).short(&["pvc"]).status().0,
        B::new("", "v1", "ResourceQuota", "resourcequotas", true).short(&["quota"]).status().0,
        B::new("", "v1", "LimitRange", "limitranges", true).short(&["limits"]).0,
        B::new("", "v1", "PodTemplate", "podtemplates", true).0,
        B::new("", "v1", "ReplicationController", "replicationcontrollers", true)
            .short(&["rc"])
            .all()
            .status()
            .scale()
            .0,
        B::new("apps", "v1", "Deployment", "deployments", true).short(&["deploy"]).all().status().scale().0,
        B::new("apps", "v1", "ReplicaSet", "replicasets", true).short(&["rs"]).all().status().scale().0,
        B::new("apps", "v1", "StatefulSet", "statefulsets", true).short(&["sts"]).all().status().scale().0,
        B::new("apps", "v1", "DaemonSet", "daemonsets", true).short(&["ds"]).all().status().0,
        B::new("apps", "v1", "ControllerRevision", "controllerrevisions", true).0,
        B::new("batch", "v1", "Job", "jobs", true).all().status().0,
        B::new("batch", "v1", "CronJob", "cronjobs", true).short(&["cj"]).all().status().0,
        B::new("networking.k8s.io", "v1", "Ingress", "ingresses", true).short(&["ing"]).status().0,
        B::new("networking.k8s.io", "v1", "IngressClass", "ingressclasses", false).0,
        B::new("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true).short(&["netpol"]).0,
        B::new("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true).0,
        B::new("events.k8s.io", "v1", "Event", "events", true).stored_as("", "events").0,
        B::new("coordination.k8s.io", "v1", "Lease", "leases", true).0,
        B::new("storage.k8s.io", "v1", "StorageClass", "storageclasses", false).short(&["sc"]).0,
        B::new("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true).short(&["pdb"]).status().0,
        B::new("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false)
            .short(&["crd", "crds"])
            .status()
            .0,
    ]
}

/// The live set of served resources. Built-ins are fixed; CRD-backed types
/// come and go as CRDs are established and deleted.
#[derive(Debug)]
pub struct Registry {
    builtin: Vec<Arc<ResourceType>>,
    /// CRD name (`plural.group`) -> its served versions.
    custom: RwLock<BTreeMap<String, Vec<Arc<ResourceType>>>>,
    /// Bumped on every change, so derived documents (OpenAPI) know to
    /// rebuild.
    generation: AtomicU64,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    pub fn new() -> Self {
        Registry {
            builtin: builtin_types().into_iter().map(Arc::new).collect(),
            custom: RwLock::new(BTreeMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// All served resources: built-ins first, then custom ones by CRD name.
    pub fn all(&self) -> Vec<Arc<ResourceType>> {
        let mut out = self.builtin.clone();
        let custom = self.custom.read().unwrap_or_else(|e| e.into_inner());
        for versions in custom.values() {
            out.extend(versions.iter().cloned());
        }
        out
    }

    /// Find a resource by group, version and plural.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.all().into_iter().find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    /// Find a resource by apiVersion and kind (for validating bodies).
    pub fn find_kind(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceType>> {
        self.all().into_iter().find(|r| r.api_version() == api_version && r.kind == kind)
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The apiVersion objects of this resource are stored with: a CRD's
    /// storage version; the served version for built-ins.
    pub fn storage_api_version(&self, rt: &ResourceType) -> String {
        if !rt.is_custom() {
            return rt.api_version();
        }
        self.all()
            .into_iter()
            .find(|r| {
                r.group == rt.group && r.plural == rt.plural && matches!(&r.source, Source::Custom(i) if i.storage)
            })
            .map(|r| r.api_version())
            .unwrap_or_else(|| rt.api_version())
    }

    /// Replace the served versions of one CRD (empty removes it).
    pub fn set_custom(&self, crd_name: &str, versions: Vec<ResourceType>) {
        {
            let mut custom = self.custom.write().unwrap_or_else(|e| e.into_inner());
            if versions.is_empty() {
                custom.remove(crd_name);
            } else {
                custom.insert(crd_name.to_string(), versions.into_iter().map(Arc::new).collect());
            }
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Groups in discovery order, each with its versions (preferred first).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in self.all() {
            if r.group.is_empty() {
                continue;
            }
            match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, versions)) => {
                    if !versions.contains(&r.version) {
                        versions.push(r.version.clone());
                    }
                }
                None => out.push((r.group.clone(), vec![r.version.clone()])),
            }
        }
        out
    }
}

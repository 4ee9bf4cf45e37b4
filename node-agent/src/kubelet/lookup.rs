//! Which local files and namespaces belong to a pod, by namespace and
//! name: what the kubelet API needs for logs, exec and port-forward.

use super::Context;
use crate::kubelet_api::{ContainerTarget, PodLookup};
use crate::runtime::ContainerState;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// (namespace, name) -> UID of the pods this node runs.
#[derive(Default)]
pub struct PodIndex(RwLock<HashMap<(String, String), String>>);

impl PodIndex {
    pub fn insert(&self, namespace: &str, name: &str, uid: &str) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        map.insert((namespace.to_string(), name.to_string()), uid.to_string());
    }

    /// Forget a pod, unless the name now belongs to a newer pod.
    pub fn remove_uid(&self, uid: &str) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, u| u != uid);
    }

    pub fn uid(&self, namespace: &str, name: &str) -> Option<String> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.get(&(namespace.to_string(), name.to_string())).cloned()
    }
}

/// The kubelet API's view of this node's pods.
pub struct Lookup(pub Arc<Context>);

impl PodLookup for Lookup {
    fn container(&self, namespace: &str, pod: &str, container: &str) -> Option<ContainerTarget> {
        let uid = self.0.pods.uid(namespace, pod)?;
        let dirs = self.0.pod_dirs(&uid);
        let log_dir = dirs.root.join("logs").join(container);
        let mut logs: Vec<(i64, PathBuf)> = std::fs::read_dir(&log_dir)
            .ok()?
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().to_str()?.strip_suffix(".log")?.parse::<i64>().ok()?;
                Some((n, e.path()))
            })
            .collect();
        if logs.is_empty() {
            return None;
        }
        logs.sort();
        let state_dir = dirs.container(container);
        let running = matches!(self.0.runtime.state(&state_dir), ContainerState::Running { .. });
        Some(ContainerTarget { state_dir, logs: logs.into_iter().map(|(_, p)| p).collect(), running })
    }

    fn pod_netns(&self, namespace: &str, pod: &str) -> Option<PathBuf> {
        let uid = self.0.pods.uid(namespace, pod)?;
        self.0.network.pods().into_iter().find(|p| p.pod_key == uid).map(|p| p.netns_path)
    }
}

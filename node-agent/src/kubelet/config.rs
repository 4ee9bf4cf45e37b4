//! What every pod worker shares: the API client, the node's settings and
//! the runtime, network and image store.

use crate::image::ImageStore;
use crate::network::NodeNetwork;
use crate::runtime::Runtime;
use kube::runtime::events::{Recorder, Reporter};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The kubelet's settings, from the agent's flags and the machine.
#[derive(Clone, Debug)]
pub struct Config {
    pub node_name: String,
    pub node_ip: IpAddr,
    /// `<agent data dir>/pods`: one directory per pod UID.
    pub pods_dir: PathBuf,
    pub cluster_dns: Vec<Ipv4Addr>,
    pub cluster_domain: String,
    /// pids.max for every container (none when unset, like the kubelet's -1).
    pub pod_pids_limit: Option<u64>,
    /// The node's allocatable CPU (millicores) and memory (bytes): what
    /// `resourceFieldRef` reports for a container without limits.
    pub allocatable_cpu_millis: u64,
    pub allocatable_memory: u64,
    /// The host's resolv.conf, for dnsPolicy Default.
    pub host_resolv_conf: PathBuf,
}

pub struct Context {
    pub client: kube::Client,
    pub config: Config,
    pub runtime: Arc<Runtime>,
    pub network: Arc<NodeNetwork>,
    pub images: ImageStore,
    pub recorder: Recorder,
    /// The pods this node runs, by namespace and name.
    pub pods: super::PodIndex,
}

impl Context {
    pub fn new(
        client: kube::Client,
        config: Config,
        runtime: Runtime,
        network: Arc<NodeNetwork>,
        images: ImageStore,
    ) -> Self {
        let reporter = Reporter { controller: "kubelet".into(), instance: Some(config.node_name.clone()) };
        let recorder = Recorder::new(client.clone(), reporter);
        Context { client, config, runtime: Arc::new(runtime), network, images, recorder, pods: Default::default() }
    }

    pub fn pod_dirs(&self, uid: &str) -> PodDirs {
        PodDirs { root: self.config.pods_dir.join(uid) }
    }
}

/// Where a pod's local files live.
#[derive(Clone, Debug)]
pub struct PodDirs {
    pub root: PathBuf,
}

impl PodDirs {
    pub fn etc_hosts(&self) -> PathBuf {
        self.root.join("etc-hosts")
    }
    pub fn resolv_conf(&self) -> PathBuf {
        self.root.join("resolv.conf")
    }
    pub fn volume(&self, name: &str) -> PathBuf {
        self.root.join("volumes").join(name)
    }
    /// The runtime's directory for one container (reused across restarts).
    pub fn container(&self, name: &str) -> PathBuf {
        self.root.join("containers").join(name)
    }
    /// `<container>/<restartCount>.log`, like /var/log/pods.
    pub fn log(&self, name: &str, restart: i32) -> PathBuf {
        self.root.join("logs").join(name).join(format!("{restart}.log"))
    }
    pub fn termination_log(&self, name: &str) -> PathBuf {
        self.root.join("termination").join(name)
    }
    pub fn exists(&self) -> bool {
        Path::exists(&self.root)
    }
}

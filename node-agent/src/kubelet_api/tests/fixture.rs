//! Real containers for the tests: a busybox layer, a cgroup parent, containers and network namespaces that are
//! removed on drop even when a test fails, and a `PodLookup` over them.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::super::super::runtime::{ContainerSpec, ContainerState, Resources, Runtime};
use super::super::{ContainerTarget, PodLookup};
use super::hook::SHIM_ARG;

use super::super::super::runtime::tests::fixture::{make_busybox_layer, BUSYBOX};
pub(super) use super::super::super::runtime::tests::fixture::{unique, NetnsGuard};

pub(super) struct TestEnv {
    pub dir: PathBuf,
    pub runtime: Arc<Runtime>,
    cgroup_top: String,
    cgroup_parent: String,
    base_layer: PathBuf,
}

impl TestEnv {
    pub(super) fn new(name: &str) -> Result<TestEnv> {
        if !Path::new(BUSYBOX).exists() {
            bail!("{BUSYBOX} is missing: apt-get install -y busybox-static");
        }
        nix::sys::prctl::set_child_subreaper(true)?;
        let id = unique(&format!("keel-kapi-{name}"));
        let dir = std::env::temp_dir().join(&id);
        let exe = std::env::current_exe().context("current exe")?;
        let env = TestEnv {
            base_layer: dir.join("layers/base"),
            runtime: Arc::new(Runtime::new(exe, vec![SHIM_ARG.to_string()])),
            cgroup_parent: format!("{id}/pod"),
            cgroup_top: id,
            dir,
        };
        make_busybox_layer(&env.base_layer)?;
        Ok(env)
    }

    pub(super) fn spec(&self, name: &str, args: &[&str]) -> ContainerSpec {
        ContainerSpec {
            id: format!("pod_{name}"),
            state_dir: self.dir.join("state").join(name),
            layers: vec![self.base_layer.clone()],
            netns: None,
            hostname: "kapi-test".into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: vec![("PATH".into(), "/bin".into())],
            working_dir: None,
            user: None,
            mounts: vec![],
            log_path: self.dir.join("logs").join(format!("{name}.log")),
            resources: Resources::default(),
            cgroup_parent: self.cgroup_parent.clone(),
        }
    }

    /// Starts a container that is removed when the guard drops.
    pub(super) fn start(&self, spec: ContainerSpec) -> Result<Container<'_>> {
        let container = Container { env: self, spec };
        container.env.runtime.start(&container.spec)?;
        Ok(container)
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let _ = self.runtime.remove_cgroup_parent(&self.cgroup_parent);
        let _ = self.runtime.remove_cgroup_parent(&self.cgroup_top);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

pub(super) struct Container<'a> {
    pub env: &'a TestEnv,
    pub spec: ContainerSpec,
}

impl Container<'_> {
    pub(super) fn running(&self) -> bool {
        matches!(self.env.runtime.state(&self.spec.state_dir), ContainerState::Running { .. })
    }

    /// Waits until the log file contains `text`.
    pub(super) fn wait_for_log(&self, text: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !fs::read_to_string(&self.spec.log_path).unwrap_or_default().contains(text) {
            if Instant::now() > deadline {
                bail!("no {text:?} in the log of {}", self.spec.id);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.env.runtime.remove(&self.spec) {
            eprintln!("cleanup of {} failed: {e}", self.spec.id);
        }
    }
}

struct Entry {
    namespace: String,
    pod: String,
    container: String,
    state_dir: PathBuf,
    logs: Vec<PathBuf>,
    netns: Option<PathBuf>,
}

/// A `PodLookup` over containers registered by the test; `running` comes from the runtime.
pub(super) struct TestLookup {
    runtime: Arc<Runtime>,
    entries: Mutex<Vec<Entry>>,
}

impl TestLookup {
    pub(super) fn new(runtime: Arc<Runtime>) -> Arc<TestLookup> {
        Arc::new(TestLookup { runtime, entries: Mutex::new(Vec::new()) })
    }

    pub(super) fn add(&self, namespace: &str, pod: &str, container: &str, spec: &ContainerSpec, logs: Vec<PathBuf>) {
        let entry = Entry {
            namespace: namespace.into(),
            pod: pod.into(),
            container: container.into(),
            state_dir: spec.state_dir.clone(),
            logs,
            netns: spec.netns.clone(),
        };
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
    }
}

impl PodLookup for TestLookup {
    fn container(&self, namespace: &str, pod: &str, container: &str) -> Option<ContainerTarget> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.iter().find(|e| e.namespace == namespace && e.pod == pod && e.container == container)?;
        Some(ContainerTarget {
            state_dir: entry.state_dir.clone(),
            logs: entry.logs.clone(),
            running: matches!(self.runtime.state(&entry.state_dir), ContainerState::Running { .. }),
        })
    }

    fn pod_netns(&self, namespace: &str, pod: &str) -> Option<PathBuf> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.iter().find(|e| e.namespace == namespace && e.pod == pod).and_then(|e| e.netns.clone())
    }
}

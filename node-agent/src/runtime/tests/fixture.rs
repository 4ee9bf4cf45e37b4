//! Test scaffolding: a busybox image layer, unique cgroup parents, container and namespace guards that clean up
//! even when a test fails.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::super::cgroups::CgroupDir;
use super::super::config::ShimConfig;
use super::super::layout::StateLayout;
use super::super::{ContainerSpec, ContainerState, Resources, Runtime};
use super::hook::SHIM_ARG;

pub(crate) const BUSYBOX: &str = "/bin/busybox";
const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "sleep", "touch", "hostname", "id", "ls", "grep", "wc", "pwd", "head", "tr", "printf", "true",
    "tty", "seq", "nc", "httpd", "stty", "mkdir",
];

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// A name unique to this test process and call.
pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

pub(super) fn test_runtime() -> Runtime {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    Runtime::new(exe, vec![SHIM_ARG.to_string()])
}

/// A scratch directory with a busybox base layer, and a cgroup parent of its own; removed on drop.
pub(super) struct TestEnv {
    pub dir: PathBuf,
    pub runtime: Runtime,
    pub cgroup_top: String,
    pub cgroup_parent: String,
    pub base_layer: PathBuf,
}

impl TestEnv {
    pub(super) fn new(name: &str) -> Result<TestEnv> {
        if !Path::new(BUSYBOX).exists() {
            bail!("{BUSYBOX} is missing: apt-get install -y busybox-static");
        }
        // Like the agent: orphaned shims become our children, and remove() reaps them (this machine's PID 1
        // does not reap orphans).
        nix::sys::prctl::set_child_subreaper(true)?;
        let id = unique(&format!("keel-rt-{name}"));
        let dir = std::env::temp_dir().join(&id);
        let cgroup_top = id.clone();
        let env = TestEnv {
            base_layer: dir.join("layers/base"),
            dir,
            runtime: test_runtime(),
            cgroup_parent: format!("{cgroup_top}/pod"),
            cgroup_top,
        };
        make_busybox_layer(&env.base_layer)?;
        Ok(env)
    }

    /// A spec for a container running `args` on the busybox layer.
    pub(super) fn spec(&self, name: &str, args: &[&str]) -> ContainerSpec {
        ContainerSpec {
            id: format!("pod_{name}"),
            state_dir: self.dir.join("state").join(name),
            layers: vec![self.base_layer.clone()],
            netns: None,
            hostname: "keel-test".into(),
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

    /// A guard that removes the container when dropped; start it with [`Container::start`].
    pub(super) fn container(&self, spec: ContainerSpec) -> Container<'_> {
        Container { env: self, spec }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let _ = self.runtime.remove_cgroup_parent(&self.cgroup_parent);
        let _ = self.runtime.remove_cgroup_parent(&self.cgroup_top);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn make_busybox_layer(dir: &Path) -> Result<()> {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin)?;
    fs::copy(BUSYBOX, bin.join("busybox")).context("copy busybox")?;
    for applet in APPLETS {
        symlink("busybox", bin.join(applet))?;
    }
    Ok(())
}

/// A container that is removed (killed, unmounted, cgroups and state deleted) when dropped.
pub(super) struct Container<'a> {
    pub env: &'a TestEnv,
    pub spec: ContainerSpec,
}

impl Container<'_> {
    pub(super) fn start(&self) -> Result<u32, super::super::RuntimeError> {
        self.env.runtime.start(&self.spec)
    }

    pub(super) fn state(&self) -> ContainerState {
        self.env.runtime.state(&self.spec.state_dir)
    }

    /// Waits for the container to be Exited or Failed.
    pub(super) fn wait_finished(&self) -> Result<ContainerState> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let state = self.state();
            if matches!(state, ContainerState::Exited { .. } | ContainerState::Failed { .. }) {
                return Ok(state);
            }
            if Instant::now() > deadline {
                bail!("container {} still {state:?}", self.spec.id);
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The exit code of a container that must have exited (not failed).
    pub(super) fn wait_exit_code(&self) -> Result<i32> {
        match self.wait_finished()? {
            ContainerState::Exited { exit_code, .. } => Ok(exit_code),
            other => bail!("expected Exited, got {other:?}; log: {:?}", self.log_records()),
        }
    }

    pub(super) fn log_records(&self) -> Vec<LogRecord> {
        read_log(&self.spec.log_path)
    }

    /// Full lines (F records) of one stream.
    pub(super) fn lines(&self, stream: &str) -> Vec<String> {
        self.log_records().into_iter().filter(|r| r.stream == stream && r.tag == "F").map(|r| r.text).collect()
    }

    /// Waits until `text` appears as a full stdout line.
    pub(super) fn wait_for_line(&self, text: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.lines("stdout").iter().any(|l| l == text) {
            if Instant::now() > deadline {
                bail!("no line {text:?} in {:?}", self.log_records());
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// The cgroup directories recorded at start.
    pub(super) fn cgroups(&self) -> Result<Vec<CgroupDir>> {
        let config = ShimConfig::load(&StateLayout::new(&self.spec.state_dir))?;
        Ok(config.context("no spec.json")?.cgroups)
    }
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.env.runtime.remove(&self.spec) {
            eprintln!("cleanup of {} failed: {e}", self.spec.id);
        }
    }
}

/// One parsed CRI log line.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LogRecord {
    pub time: String,
    pub stream: String,
    pub tag: String,
    pub text: String,
}

pub(super) fn read_log(path: &Path) -> Vec<LogRecord> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(4, ' ');
            Some(LogRecord {
                time: parts.next()?.to_string(),
                stream: parts.next()?.to_string(),
                tag: parts.next()?.to_string(),
                text: parts.next().unwrap_or("").to_string(),
            })
        })
        .collect()
}

/// A network namespace made with `ip netns add`, with loopback up; deleted on drop.
pub(crate) struct NetnsGuard {
    pub name: String,
}

impl NetnsGuard {
    pub(crate) fn new() -> Result<NetnsGuard> {
        let name = unique("keeltest-rt");
        let status = Command::new("ip").args(["netns", "add", &name]).status().context("run ip")?;
        if !status.success() {
            bail!("ip netns add {name} failed");
        }
        let guard = NetnsGuard { name };
        if !Command::new("ip").args(["-n", &guard.name, "link", "set", "lo", "up"]).status()?.success() {
            bail!("cannot bring up lo in {}", guard.name);
        }
        Ok(guard)
    }

    pub(crate) fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

//! Harness for end-to-end tests: a real `keel server` on a temporary data
//! dir and a free loopback port, driven by real kubectl binaries and kube-rs.
//!
//! The server process is killed when the harness is dropped, also when a
//! test fails, and its data dir is removed with it.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub mod cluster;
pub use cluster::Cluster;

/// kubectl versions every test machine has.
pub const KUBECTL_OLDEST: &str = "1.27";
pub const KUBECTL_NEWEST: &str = "1.33";

/// The `keel` binary under test: `$KEEL_BIN`, else the workspace's debug build.
pub fn keel_bin() -> PathBuf {
    if let Ok(p) = std::env::var("KEEL_BIN") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/keel")
}

/// A manifest from `tests/manifests`.
pub fn manifest(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests").join(name)
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

pub struct Server {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub port: u16,
    extra_args: Vec<String>,
    /// Whether the server runs its embedded node agent.
    embedded_agent: bool,
    /// `ip netns` name the server (and kubectl) run in, when not the host's.
    netns: Option<String>,
    /// The embedded agent's node name (unique per test, so its load-balancer
    /// pins and cgroup are its own and can be removed).
    node_name: Option<String>,
}

impl Server {
    /// Start a server (without its embedded agent) and wait until it answers.
    pub fn start() -> Result<Self> {
        Self::start_with(&[])
    }

    pub fn start_with(extra_args: &[&str]) -> Result<Self> {
        Self::launch(extra_args, false, None)
    }

    /// Start a server with its embedded node agent, inside a network
    /// namespace of its own (the agent sets up a bridge and routes where it
    /// runs); kubectl runs there too.
    pub fn start_with_agent_in_netns(extra_args: &[&str]) -> Result<Self> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!("keel-e2e-{}-{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        let ok = |args: &[&str]| Command::new("ip").args(args).status().is_ok_and(|s| s.success());
        if !ok(&["netns", "add", &name]) || !ok(&["-n", &name, "link", "set", "lo", "up"]) {
            let _ = Command::new("ip").args(["netns", "del", &name]).status();
            bail!("creating network namespace {name}");
        }
        Self::launch(extra_args, true, Some(name))
    }

    fn launch(extra_args: &[&str], embedded_agent: bool, netns: Option<String>) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("keel-e2e-").tempdir()?;
        let mut s = Server {
            child: None,
            dir,
            port: free_port()?,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            node_name: netns.as_ref().map(|ns| format!("{ns}-node")),
            embedded_agent,
            netns,
        };
        s.spawn()?;
        Ok(s)
    }

    /// `nsenter` into the server's namespace, or the program itself.
    fn command(&self, program: &Path) -> Command {
        match &self.netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net=/run/netns/{ns}")).arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig.yaml")
    }

    fn spawn(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("server.log"))?;
        let bin = keel_bin();
        if !bin.exists() {
            bail!("{} is missing: run `cargo build -p keel-control-plane` (cargo xtask test does)", bin.display());
        }
        let child = self
            .command(&bin)
            .args(["server", "--bind-address", "127.0.0.1", "--https-port"])
            .arg(self.port.to_string())
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(&self.extra_args)
            .args(if self.embedded_agent { None } else { Some("--disable-agent") })
            .args(self.node_name.iter().flat_map(|n| ["--node-name", n.as_str()]))
            .env("RUST_LOG", "info,keel_control_plane=debug,sled=warn")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting keel server")?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Some(status) = c.try_wait()? {
                    bail!("keel server exited with {status}; log:\n{}", self.log());
                }
            }
            if self.kubeconfig().exists() {
                let out = self.kubectl(KUBECTL_NEWEST, &["get", "--raw", "/readyz"])?;
                if out.status.success() {
                    // Bootstrap objects are written before the kubeconfig, so
                    // the cluster is complete here.
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!("keel server not ready after 30s; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Stop the server (SIGTERM, then SIGKILL) and start it again on the same
    /// data dir and port.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        self.spawn()
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Run kubectl of a given minor version (`"1.27"`) against this server.
    pub fn kubectl(&self, version: &str, args: &[&str]) -> Result<Output> {
        self.kubectl_stdin(version, args, None)
    }

    pub fn kubectl_stdin(&self, version: &str, args: &[&str], stdin: Option<&str>) -> Result<Output> {
        run_kubectl(&self.kubeconfig(), self.dir.path(), version, args, stdin, self.netns.as_deref())
    }

    /// kubectl that must succeed; returns stdout.
    pub fn ok(&self, version: &str, args: &[&str]) -> String {
        let out = match self.kubectl(version, args) {
            Ok(o) => o,
            Err(e) => panic!("kubectl {version} {args:?}: {e}"),
        };
        if !out.status.success() {
            panic!(
                "kubectl {version} {args:?} failed:\nstdout: {}\nstderr: {}\nserver log tail:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                tail(&self.log(), 40)
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// kubectl that must fail; returns stderr.
    pub fn fails(&self, version: &str, args: &[&str]) -> String {
        let out = match self.kubectl(version, args) {
            Ok(o) => o,
            Err(e) => panic!("kubectl {version} {args:?}: {e}"),
        };
        if out.status.success() {
            panic!("kubectl {version} {args:?} succeeded but should fail:\n{}", String::from_utf8_lossy(&out.stdout));
        }
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// A kube-rs client for this server, from its kubeconfig.
    pub async fn client(&self) -> Result<kube::Client> {
        let kc = kube::config::Kubeconfig::read_from(self.kubeconfig())?;
        let config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// The admin bearer token.
    pub fn token(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("admin-token")).unwrap_or_default().trim().to_string()
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

/// Run kubectl of a given minor version with a kubeconfig.
pub fn run_kubectl(
    kubeconfig: &Path,
    home: &Path,
    version: &str,
    args: &[&str],
    stdin: Option<&str>,
    netns: Option<&str>,
) -> Result<Output> {
    let bin = format!("/usr/lib/google-cloud-sdk/bin/kubectl.{version}");
    let mut cmd = match netns {
        Some(ns) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net=/run/netns/{ns}")).arg(&bin);
            c
        }
        None => Command::new(&bin),
    };
    cmd.args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("running {bin}"))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

/// Poll `check` until it returns `Some`, or fail after `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        if let Some(node) = &self.node_name {
            // The agent's eBPF pins outlive it by design; a test's must not.
            let _ = keel_node_agent::service_lb::stop(node);
            remove_node_cgroup(node);
        }
        if let Some(ns) = &self.netns {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        unmount_under(self.dir.path());
    }
}

/// Remove `<this process's cgroup v2>/keel/<node>` (and `keel` once empty),
/// which the embedded agent created for its pods and load balancer.
fn remove_node_cgroup(node: &str) {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) else { return };
    for root in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
        let base = Path::new(root).join(path.trim_start_matches('/')).join("keel");
        let _ = std::fs::remove_dir(base.join(node));
        let _ = std::fs::remove_dir(&base);
    }
}

/// Lazily unmount everything at or below `dir` (an agent's netns mounts).
pub fn unmount_under(dir: &Path) {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts: Vec<&str> = text.lines().filter_map(|l| l.split(' ').nth(4)).collect();
    mounts.retain(|m| Path::new(m).starts_with(dir));
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in mounts {
        let _ = Command::new("umount").args(["-l", m]).status();
    }
}

pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Parse kubectl's `-o json` output.
pub fn json(s: &str) -> serde_json::Value {
    match serde_json::from_str(s) {
        Ok(v) => v,
        Err(e) => panic!("not JSON ({e}): {s}"),
    }
}

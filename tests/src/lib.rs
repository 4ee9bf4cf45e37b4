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

mod cluster;
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
}

impl Server {
    /// Start a server (without its embedded agent) and wait until it answers.
    pub fn start() -> Result<Self> {
        Self::start_with(&[])
    }

    pub fn start_with(extra_args: &[&str]) -> Result<Self> {
        Self::launch(extra_args, false)
    }

    /// Start a server with its embedded node agent.
    pub fn start_with_agent(extra_args: &[&str]) -> Result<Self> {
        Self::launch(extra_args, true)
    }

    fn launch(extra_args: &[&str], embedded_agent: bool) -> Result<Self> {
        let dir = tempfile::Builder::new().prefix("keel-e2e-").tempdir()?;
        let mut s = Server {
            child: None,
            dir,
            port: free_port()?,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            embedded_agent,
        };
        s.spawn()?;
        Ok(s)
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
        let child = Command::new(bin)
            .args(["server", "--bind-address", "127.0.0.1", "--https-port"])
            .arg(self.port.to_string())
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(&self.extra_args)
            .args(if self.embedded_agent { None } else { Some("--disable-agent") })
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
        run_kubectl(&self.kubeconfig(), self.dir.path(), version, args, stdin)
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

/// A `keel agent` process joined to a [`Server`]; killed when dropped.
pub struct Agent {
    child: Option<Child>,
    pub name: String,
    args: Vec<String>,
    log: PathBuf,
}

impl Agent {
    /// Start an agent named `name` with a fast heartbeat.
    pub fn start(server: &Server, name: &str) -> Result<Self> {
        let dir = server.data_dir().join(format!("agent-{name}"));
        std::fs::create_dir_all(&dir)?;
        let args = vec![
            "agent".to_string(),
            "--server".into(),
            server.url(),
            "--token-file".into(),
            server.data_dir().join("node-token").display().to_string(),
            "--ca-file".into(),
            server.data_dir().join("pki/ca.crt").display().to_string(),
            "--node-name".into(),
            name.into(),
            "--node-ip".into(),
            "127.0.0.1".into(),
            "--data-dir".into(),
            dir.display().to_string(),
            "--heartbeat-seconds".into(),
            "1".into(),
        ];
        let mut a = Agent { child: None, name: name.into(), args, log: dir.join("agent.log") };
        a.spawn()?;
        Ok(a)
    }

    fn spawn(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let child = Command::new(keel_bin())
            .args(&self.args)
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting keel agent")?;
        self.child = Some(child);
        Ok(())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kill the agent outright, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        self.spawn()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Run kubectl of a given minor version with a kubeconfig.
pub fn run_kubectl(
    kubeconfig: &Path,
    home: &Path,
    version: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<Output> {
    let bin = format!("/usr/lib/google-cloud-sdk/bin/kubectl.{version}");
    let mut cmd = Command::new(&bin);
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

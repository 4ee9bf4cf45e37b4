//! A multi-node cluster from `keel cluster up` for end-to-end tests: the
//! server on loopback, each node an agent in its own network namespace,
//! the project's test images imported. `keel cluster down` runs on drop,
//! also when the test fails.

use super::{keel_bin, run_kubectl, tail};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub struct Cluster {
    pub name: String,
    pub dir: tempfile::TempDir,
    pub nodes: Vec<String>,
}

/// The test image archives written by `cargo xtask images`.
pub fn image_archives() -> Result<Vec<PathBuf>> {
    let target = match std::env::var("CARGO_TARGET_DIR") {
        Ok(t) => PathBuf::from(t),
        Err(_) => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
    };
    let dir = target.join("images");
    let files: Vec<PathBuf> = ["echo-v1.tar", "echo-v2.tar", "toolbox.tar"].iter().map(|f| dir.join(f)).collect();
    if let Some(missing) = files.iter().find(|f| !f.exists()) {
        bail!("{} is missing: run `cargo xtask images` (cargo xtask test does)", missing.display());
    }
    Ok(files)
}

impl Cluster {
    /// `nodes` nodes with the test images imported.
    pub fn up(nodes: u32) -> Result<Self> {
        Self::up_with(nodes, &[])
    }

    /// Extra `keel cluster up` arguments (e.g. `--server-arg=...`).
    pub fn up_with(nodes: u32, extra: &[&str]) -> Result<Self> {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("t{}x{n}", std::process::id() % 100_000);
        let dir = tempfile::Builder::new().prefix("keel-cluster-").tempdir()?;
        let mut cmd = Command::new(keel_bin());
        cmd.args(["cluster", "up", "--name", &name, "--nodes", &nodes.to_string(), "--data-dir"])
            .arg(dir.path().join("c"))
            .args(extra);
        for a in image_archives()? {
            cmd.arg("--image-archive").arg(a);
        }
        let out = cmd.output().context("running keel cluster up")?;
        let names = (1..=nodes).map(|i| format!("{name}-node-{i}")).collect();
        let c = Cluster { name, dir, nodes: names };
        if !out.status.success() {
            bail!(
                "keel cluster up failed:\n{}\n{}\nserver log:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                tail(&c.server_log(), 30)
            );
        }
        Ok(c)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("c")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir().join("kubeconfig.yaml")
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("server.log")).unwrap_or_default()
    }

    pub fn agent_log(&self, node: &str) -> String {
        std::fs::read_to_string(self.data_dir().join("nodes").join(node).join("agent.log")).unwrap_or_default()
    }

    /// `ip netns` name of node `i` (1-based).
    pub fn netns(&self, i: usize) -> String {
        format!("keel-{}-n{i}", self.name)
    }

    /// Everything the cluster logged, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = format!("--- server ---\n{}\n", tail(&self.server_log(), 30));
        for n in &self.nodes {
            out.push_str(&format!("--- {n} ---\n{}\n", tail(&self.agent_log(n), 40)));
        }
        out
    }

    pub fn kubectl(&self, version: &str, args: &[&str]) -> Result<Output> {
        run_kubectl(&self.kubeconfig(), self.dir.path(), version, args, None, None)
    }

    pub fn kubectl_stdin(&self, version: &str, args: &[&str], stdin: &str) -> Result<Output> {
        run_kubectl(&self.kubeconfig(), self.dir.path(), version, args, Some(stdin), None)
    }

    /// kubectl that must succeed; returns stdout.
    pub fn ok(&self, version: &str, args: &[&str]) -> String {
        let out = self.kubectl(version, args).unwrap_or_else(|e| panic!("kubectl {args:?}: {e}"));
        if !out.status.success() {
            panic!(
                "kubectl {version} {args:?} failed:\n{}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.logs()
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Apply a manifest given as text.
    pub fn apply(&self, version: &str, manifest: &str) {
        let out = self.kubectl_stdin(version, &["apply", "-f", "-"], manifest).expect("kubectl apply");
        assert!(
            out.status.success(),
            "kubectl apply failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
    }

    /// A pod as JSON, if it exists.
    pub fn pod(&self, version: &str, ns: &str, name: &str) -> Option<serde_json::Value> {
        let out = self.kubectl(version, &["get", "pod", name, "-n", ns, "-o", "json"]).ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Run a command inside node `i`'s network namespace (1-based).
    pub fn on_node(&self, i: usize, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.netns(i)))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("nsenter {args:?}: {e}"))
    }

    /// Run a command in the underlay namespace (outside every node, where
    /// the API server runs): the cluster's "outside world".
    pub fn on_underlay(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/keel-{}-ul", self.name))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("nsenter {args:?}: {e}"))
    }

    /// The agent's pid on a node, from the cluster's state file.
    pub fn agent_pid(&self, node: &str) -> Option<u32> {
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.data_dir().join("cluster.json")).ok()?).ok()?;
        state["nodes"].as_array()?.iter().find(|n| n["name"] == node)?["agent_pid"].as_u64().map(|p| p as u32)
    }

    /// `keel cluster <verb> NODE` (stop-node / start-node).
    pub fn node_cmd(&self, verb: &str, node: &str) {
        let out = Command::new(keel_bin())
            .args(["cluster", verb, node, "--name", &self.name, "--data-dir"])
            .arg(self.data_dir())
            .output()
            .expect("keel cluster");
        assert!(out.status.success(), "keel cluster {verb}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `keel cluster down`; true if it succeeded.
    pub fn down(&self) -> bool {
        if !self.data_dir().exists() {
            return true;
        }
        Command::new(keel_bin())
            .args(["cluster", "down", "--name", &self.name, "--data-dir"])
            .arg(self.data_dir())
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.down() {
            eprintln!("keel cluster down failed for {}", self.name);
        }
    }
}

//! One pod's worker: sets up its sandbox (network, files, volumes), runs
//! init containers in order, then the app containers, restarts them per
//! restartPolicy with back-off, runs probes, reports status and events,
//! and tears everything down when the pod is deleted.

use super::env::{self, Lookup};
use super::probe::{self, Target};
use super::status::{self, ContainerView, PodView};
use super::{events, files, images, spec, volumes, Context, PodDirs};
use crate::runtime::{ContainerSpec, ContainerState as RtState};
use k8s_openapi::api::core::v1::{Container, ContainerStateTerminated, Pod, Probe};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// How often a worker looks at its containers when nothing else happens.
const TICK: Duration = Duration::from_millis(500);
/// Restart back-off: 10 s doubling to 5 min, reset after 10 min of running.
const BACKOFF_START: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
const BACKOFF_RESET: Duration = Duration::from_secs(600);

/// The pod's network identity: its address, and its network namespace
/// (none for host-network pods).
struct Sandbox {
    ip: IpAddr,
    /// The second (IPv6) address on a dual-stack node.
    ip6: Option<IpAddr>,
    netns: Option<PathBuf>,
}

#[derive(Default)]
struct ProbeState {
    next: Option<Instant>,
    successes: i32,
    failures: i32,
}

/// What the worker knows about one container across its restarts.
#[derive(Default)]
struct Record {
    spec: Option<ContainerSpec>,
    view: ContainerView,
    running_since: Option<Instant>,
    exit_seen: bool,
    backoff: Duration,
    retry_at: Option<Instant>,
    liveness: ProbeState,
    readiness: ProbeState,
    startup: ProbeState,
}

/// Where a container stands after a pass.
#[derive(PartialEq, Debug)]
enum Progress {
    Running,
    Waiting,
    Exited(i32),
}

enum Restart {
    Always,
    OnFailure,
    Never,
}

impl Restart {
    fn of(policy: Option<&str>) -> Restart {
        match policy {
            Some("Never") => Restart::Never,
            Some("OnFailure") => Restart::OnFailure,
            _ => Restart::Always,
        }
    }
    fn restarts(&self, code: i32) -> bool {
        match self {
            Restart::Always => true,
            Restart::OnFailure => code != 0,
            Restart::Never => false,
        }
    }
}

pub struct PodWorker {
    ctx: Arc<Context>,
    uid: String,
    rx: watch::Receiver<Option<Arc<Pod>>>,
    dirs: PodDirs,
    /// Set once the pod's network, files and volumes are in place.
    sandbox: Option<Sandbox>,
    volumes: Option<HashMap<String, PathBuf>>,
    start_time: Option<Time>,
    records: HashMap<String, Record>,
    pod_error: Option<(String, String)>,
    last_reported: Option<serde_json::Value>,
    adopted: bool,
    /// Every app container finished and none restarts: the pod is done.
    completed: bool,
}

impl PodWorker {
    pub fn new(ctx: Arc<Context>, uid: String, rx: watch::Receiver<Option<Arc<Pod>>>) -> Self {
        let dirs = ctx.pod_dirs(&uid);
        PodWorker {
            ctx,
            uid,
            rx,
            dirs,
            sandbox: None,
            volumes: None,
            start_time: None,
            records: HashMap::new(),
            pod_error: None,
            last_reported: None,
            adopted: false,
            completed: false,
        }
    }

    pub async fn run(mut self) {
        loop {
            let current = self.rx.borrow_and_update().clone();
            let keep_going = match current {
                None => {
                    self.teardown(None, Duration::ZERO).await;
                    false
                }
                Some(pod) if pod.metadata.deletion_timestamp.is_some() => {
                    let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(30).max(0) as u64;
                    self.teardown(Some(&pod), Duration::from_secs(grace)).await;
                    false
                }
                Some(pod) => {
                    self.sync(&pod).await;
                    true
                }
            };
            if !keep_going {
                return;
            }
            tokio::select! {
                changed = self.rx.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }

    /// Pick up what an earlier agent left: restart counts and last states
    /// from the API, running containers from the runtime's state dirs.
    fn adopt(&mut self, pod: &Pod) {
        self.adopted = true;
        let Some(status) = pod.status.as_ref() else { return };
        self.start_time = status.start_time.clone();
        let all = status.container_statuses.iter().flatten().chain(status.init_container_statuses.iter().flatten());
        for cs in all {
            let rec = self.records.entry(cs.name.clone()).or_default();
            rec.view.restart_count = cs.restart_count;
            rec.view.last_terminated = cs.last_state.as_ref().and_then(|s| s.terminated.clone());
            rec.view.image_id = cs.image_id.clone();
            rec.view.container_id = cs.container_id.clone();
            rec.view.ready = cs.ready;
            rec.view.started = cs.started.unwrap_or(false);
            if let Some(t) = cs.state.as_ref().and_then(|s| s.terminated.clone()) {
                rec.view.terminated = Some(t);
                rec.exit_seen = true;
            }
            let dir = self.dirs.container(&cs.name);
            rec.spec = crate::runtime::load_spec(&dir);
            if rec.spec.is_some() {
                rec.running_since = Some(Instant::now());
                // Probes start over; a ready container stays ready until one fails.
                rec.readiness.successes = if cs.ready { 1 } else { 0 };
            }
        }
    }

    async fn sync(&mut self, pod: &Arc<Pod>) {
        if !self.adopted {
            self.adopt(pod);
        }
        let terminal = matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"));
        if terminal && self.last_reported.is_none() && self.records.values().all(|r| r.spec.is_none()) {
            // Finished before this agent started: nothing to run.
            return;
        }
        if self.sandbox.is_none() && !terminal {
            let t = Instant::now();
            let setup = self.setup_sandbox(pod).await;
            tracing::debug!(pod = %self.uid, ms = t.elapsed().as_millis() as u64, "pod sandbox");
            if let Err((reason, message)) = setup {
                if self.pod_error.as_ref().map(|e| &e.1) != Some(&message) {
                    self.event(pod, None, true, reason, &message);
                }
                self.pod_error = Some((reason.to_string(), message));
                self.report(pod, false, false).await;
                return;
            }
            self.pod_error = None;
        }
        let spec = pod.spec.clone().unwrap_or_default();
        if self.completed {
            // Nothing restarts any more: only watch the last exits land.
            let sidecars =
                spec.init_containers.iter().flatten().filter(|c| c.restart_policy.as_deref() == Some("Always"));
            for c in sidecars.chain(spec.containers.iter()) {
                self.drive(pod, c, &Restart::Never, false).await;
            }
            self.report(pod, true, false).await;
            return;
        }
        let policy = Restart::of(spec.restart_policy.as_deref());
        let mut init_done = true;
        let mut init_failed = false;
        for c in spec.init_containers.iter().flatten() {
            let sidecar = c.restart_policy.as_deref() == Some("Always");
            if sidecar {
                let p = self.drive(pod, c, &Restart::Always, true).await;
                let started = self.records.get(&c.name).is_some_and(|r| r.view.started);
                if p == Progress::Running && started {
                    continue;
                }
                init_done = false;
                break;
            }
            let rule = match policy {
                Restart::Never => Restart::Never,
                _ => Restart::OnFailure,
            };
            match self.drive(pod, c, &rule, false).await {
                Progress::Exited(0) => continue,
                Progress::Exited(_) if matches!(policy, Restart::Never) => {
                    init_failed = true;
                    init_done = false;
                    break;
                }
                _ => {
                    init_done = false;
                    break;
                }
            }
        }
        if init_done && !terminal {
            let mut finished = true;
            for c in &spec.containers {
                if !matches!(self.drive(pod, c, &policy, true).await, Progress::Exited(_)) {
                    finished = false;
                }
            }
            // Once every app container is done for good, sidecars stop too
            // (so a Job's pod can complete).
            if finished {
                self.completed = true;
                for c in spec.init_containers.iter().flatten().filter(|c| c.restart_policy.as_deref() == Some("Always"))
                {
                    self.kill(c, Duration::from_secs(2)).await;
                }
            }
        }
        self.report(pod, init_done, init_failed).await;
    }

    /// Network, /etc/hosts, resolv.conf and volumes: once per pod.
    async fn setup_sandbox(&mut self, pod: &Pod) -> Result<(), (&'static str, String)> {
        let host_network = pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false);
        std::fs::create_dir_all(&self.dirs.root).map_err(|e| ("FailedCreatePodSandBox", e.to_string()))?;
        if self.start_time.is_none() {
            self.start_time = Some(Time(jiff_now()));
        }
        let net = if host_network {
            None
        } else {
            Some(self.ctx.network.add_pod(&self.uid).await.map_err(|e| {
                ("FailedCreatePodSandBox", format!("Failed to create pod sandbox: setting up pod network: {e}"))
            })?)
        };
        // Host-network pods have the node's address and no namespace of their own.
        let sandbox = match net {
            Some(n) => Sandbox { ip: IpAddr::V4(n.ip), ip6: n.ip6.map(IpAddr::V6), netns: Some(n.netns_path) },
            None => Sandbox { ip: self.ctx.config.node_ip, ip6: None, netns: None },
        };
        let pod_ip = sandbox.ip.to_string();
        let host_resolv = std::fs::read_to_string(&self.ctx.config.host_resolv_conf).unwrap_or_default();
        let write = |path: PathBuf, text: String| std::fs::write(path, text);
        write(self.dirs.etc_hosts(), files::etc_hosts(pod, &pod_ip, &self.ctx.config.cluster_domain))
            .and_then(|_| write(self.dirs.resolv_conf(), files::resolv_conf(pod, &self.ctx.config, &host_resolv)))
            .map_err(|e| ("FailedCreatePodSandBox", e.to_string()))?;
        let vols = volumes::prepare(&self.ctx, &self.dirs, pod, Some(&pod_ip))
            .await
            .map_err(|e| ("FailedMount", format!("MountVolume.SetUp failed for {e}")))?;
        self.volumes = Some(vols);
        self.sandbox = Some(sandbox);
        Ok(())
    }

    fn pod_ip(&self) -> Option<String> {
        self.sandbox.as_ref().map(|s| s.ip.to_string())
    }

    /// Move one container toward running (or completed), per its rule.
    async fn drive(&mut self, pod: &Pod, c: &Container, rule: &Restart, probes: bool) -> Progress {
        let dir = self.dirs.container(&c.name);
        let state = {
            let rec = self.records.entry(c.name.clone()).or_default();
            rec.view.name = c.name.clone();
            rec.view.image = c.image.clone().unwrap_or_default();
            if rec.spec.is_some() {
                self.ctx.runtime.state(&dir)
            } else {
                RtState::Unknown
            }
        };
        match state {
            RtState::Running { started_at, .. } => {
                let rec = self.records.entry(c.name.clone()).or_default();
                rec.view.running_since = Some(Time(system_to_ts(started_at)));
                rec.view.waiting = None;
                rec.view.terminated = None;
                rec.exit_seen = false;
                if probes {
                    self.probe(pod, c).await;
                } else {
                    let rec = self.records.entry(c.name.clone()).or_default();
                    rec.view.started = true;
                }
                Progress::Running
            }
            RtState::Exited { exit_code, signal, oom_killed, started_at, finished_at, message } => {
                let reason = if oom_killed {
                    "OOMKilled"
                } else if exit_code == 0 {
                    "Completed"
                } else {
                    "Error"
                };
                let message = message.or_else(|| self.termination_message(c));
                let t = ContainerStateTerminated {
                    exit_code,
                    signal,
                    reason: Some(reason.into()),
                    message,
                    started_at: started_at.map(|s| Time(system_to_ts(s))),
                    finished_at: Some(Time(system_to_ts(finished_at))),
                    container_id: self.records.get(&c.name).and_then(|r| r.view.container_id.clone()),
                };
                self.exited(pod, c, rule, t).await
            }
            RtState::Failed { message } => {
                let t = ContainerStateTerminated {
                    exit_code: 128,
                    reason: Some("StartError".into()),
                    message: Some(message),
                    finished_at: Some(Time(jiff_now())),
                    container_id: self.records.get(&c.name).and_then(|r| r.view.container_id.clone()),
                    ..Default::default()
                };
                self.exited(pod, c, rule, t).await
            }
            RtState::Unknown => {
                let rec = self.records.entry(c.name.clone()).or_default();
                if rec.view.terminated.is_some() && rec.spec.is_none() && rec.exit_seen {
                    // Finished in an earlier agent's time and not restarting.
                    let code = rec.view.terminated.as_ref().map(|t| t.exit_code).unwrap_or(0);
                    if !rule.restarts(code) {
                        return Progress::Exited(code);
                    }
                }
                if rec.retry_at.is_some_and(|t| Instant::now() < t) {
                    return Progress::Waiting;
                }
                self.start(pod, c).await
            }
        }
    }

    /// A container's process ended: record it once, then restart it after
    /// its back-off if the rule says so.
    async fn exited(&mut self, pod: &Pod, c: &Container, rule: &Restart, t: ContainerStateTerminated) -> Progress {
        let code = t.exit_code;
        let now = Instant::now();
        let rec = self.records.entry(c.name.clone()).or_default();
        if !rec.exit_seen {
            rec.exit_seen = true;
            let ran = rec.running_since.map(|s| now.duration_since(s)).unwrap_or_default();
            if ran > BACKOFF_RESET {
                rec.backoff = Duration::ZERO;
            }
            // The first restart is immediate; later ones back off.
            rec.retry_at = Some(now + rec.backoff);
            rec.backoff = if rec.backoff.is_zero() { BACKOFF_START } else { (rec.backoff * 2).min(BACKOFF_MAX) };
            rec.view.terminated = Some(t);
            rec.view.running_since = None;
            rec.view.ready = false;
            rec.view.started = false;
            rec.running_since = None;
        }
        if !rule.restarts(code) {
            rec.view.waiting = None;
            return Progress::Exited(code);
        }
        if rec.retry_at.is_some_and(|at| now < at) {
            let wait = rec.retry_at.map(|at| at.duration_since(now)).unwrap_or_default();
            let pod_name = pod.metadata.name.clone().unwrap_or_default();
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let msg = format!(
                "back-off {}s restarting failed container={} pod={pod_name}_{ns}({})",
                (wait.as_secs() + 1).min(BACKOFF_MAX.as_secs()),
                c.name,
                self.uid
            );
            let first = rec.view.waiting.as_ref().is_none_or(|w| w.0 != "CrashLoopBackOff");
            rec.view.waiting = Some(("CrashLoopBackOff".into(), msg));
            if first {
                let note =
                    format!("Back-off restarting failed container {} in pod {pod_name}_{ns}({})", c.name, self.uid);
                self.event(pod, Some(&c.name), true, "BackOff", &note);
            }
            return Progress::Waiting;
        }
        self.start(pod, c).await
    }

    /// Pull, configure and start one container (a restart when it ran before).
    async fn start(&mut self, pod: &Pod, c: &Container) -> Progress {
        let t = Instant::now();
        let ensured = images::ensure(&self.ctx, c).await;
        tracing::debug!(container = %c.name, ms = t.elapsed().as_millis() as u64, "image");
        let (image, pulled) = match ensured {
            Ok(found) => found,
            Err(f) => {
                let rec = self.records.entry(c.name.clone()).or_default();
                let repeat = rec.view.waiting.as_ref().is_some_and(|w| w.0 == f.reason || w.0 == "ImagePullBackOff");
                rec.view.waiting = Some((
                    if repeat && f.reason == "ErrImagePull" { "ImagePullBackOff" } else { f.reason }.into(),
                    f.message.clone(),
                ));
                rec.retry_at = Some(Instant::now() + if repeat { BACKOFF_START } else { Duration::from_secs(1) });
                if !repeat {
                    self.event(pod, Some(&c.name), true, "Failed", &f.message);
                    self.event(pod, Some(&c.name), true, "Failed", &format!("Error: {}", f.reason));
                }
                return Progress::Waiting;
            }
        };
        if !pulled {
            let msg = format!("Container image \"{}\" already present on machine", c.image.clone().unwrap_or_default());
            if self.records.get(&c.name).is_none_or(|r| r.view.image_id.is_empty()) {
                self.event(pod, Some(&c.name), false, "Pulled", &msg);
            }
        } else {
            let msg = format!("Successfully pulled image \"{}\"", c.image.clone().unwrap_or_default());
            self.event(pod, Some(&c.name), false, "Pulled", &msg);
        }
        let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        let pod_ip = self.pod_ip();
        let ctx = self.ctx.clone();
        let mut lookup = Lookup::new(&ctx, &namespace);
        let envs = match env::resolve(&ctx, &mut lookup, pod, c, pod_ip.as_deref()).await {
            Ok(e) => e,
            Err(e) => return self.config_error(pod, c, e.to_string()),
        };
        let (restart_index, is_restart) = {
            let rec = self.records.entry(c.name.clone()).or_default();
            let is_restart = rec.view.terminated.is_some() || rec.spec.is_some();
            (if is_restart { rec.view.restart_count + 1 } else { rec.view.restart_count }, is_restart)
        };
        let vols = self.volumes.clone().unwrap_or_default();
        let netns = self.sandbox.as_ref().and_then(|s| s.netns.clone()).unwrap_or_default();
        let inputs =
            spec::Inputs { pod, container: c, image: &image, env: envs, volumes: &vols, netns, restart: restart_index };
        let cspec = match spec::build(&ctx, &self.dirs, &self.uid, inputs) {
            Ok(s) => s,
            Err(e) => return self.config_error(pod, c, e.to_string()),
        };
        if let Some(parent) = cspec.log_path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        // The previous incarnation's mounts and cgroup go before the new one.
        if let Some(old) = self.records.get_mut(&c.name).and_then(|r| r.spec.take()) {
            let rt = ctx.runtime.clone();
            let _ = tokio::task::spawn_blocking(move || rt.remove(&old)).await;
        }
        let rt = ctx.runtime.clone();
        let to_start = cspec.clone();
        let t = Instant::now();
        let result = tokio::task::spawn_blocking(move || rt.start(&to_start)).await;
        tracing::debug!(container = %c.name, ms = t.elapsed().as_millis() as u64, "container start");
        let rec = self.records.entry(c.name.clone()).or_default();
        if is_restart {
            rec.view.restart_count = restart_index;
            rec.view.last_terminated = rec.view.terminated.take();
        }
        rec.view.terminated = None;
        rec.view.waiting = None;
        rec.view.image_id = image.summary.digest.clone();
        rec.view.container_id = Some(format!("keel://{}", cspec.id));
        rec.spec = Some(cspec);
        rec.exit_seen = false;
        rec.view.started = false;
        rec.view.ready = false;
        rec.liveness = ProbeState::default();
        rec.readiness = ProbeState::default();
        rec.startup = ProbeState::default();
        match result {
            Ok(Ok(_pid)) => {
                rec.running_since = Some(Instant::now());
                rec.view.running_since = Some(Time(jiff_now()));
                let created = format!("Created container {}", c.name);
                let started = format!("Started container {}", c.name);
                self.event(pod, Some(&c.name), false, "Created", &created);
                self.event(pod, Some(&c.name), false, "Started", &started);
                if let Some(hook) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
                    let probe = hook_probe(hook, 30);
                    if let Err(msg) = probe::run(&probe, &self.target(c)).await {
                        let note = format!("PostStartHook failed: {msg}");
                        self.event(pod, Some(&c.name), true, "FailedPostStartHook", &note);
                        self.kill(c, Duration::ZERO).await;
                        return Progress::Waiting;
                    }
                }
                Progress::Running
            }
            Ok(Err(e)) => {
                let msg = e.to_string();
                rec.view.terminated = Some(ContainerStateTerminated {
                    exit_code: 128,
                    reason: Some("StartError".into()),
                    message: Some(msg.clone()),
                    finished_at: Some(Time(jiff_now())),
                    container_id: rec.view.container_id.clone(),
                    ..Default::default()
                });
                self.event(pod, Some(&c.name), true, "Failed", &format!("Error: {msg}"));
                Progress::Waiting
            }
            Err(e) => {
                tracing::error!(error = %e, "runtime start panicked");
                Progress::Waiting
            }
        }
    }

    fn config_error(&mut self, pod: &Pod, c: &Container, message: String) -> Progress {
        let rec = self.records.entry(c.name.clone()).or_default();
        let first = rec.view.waiting.as_ref().is_none_or(|w| w.1 != message);
        rec.view.waiting = Some(("CreateContainerConfigError".into(), message.clone()));
        rec.retry_at = Some(Instant::now() + Duration::from_secs(2));
        if first {
            self.event(pod, Some(&c.name), true, "Failed", &format!("Error: {message}"));
        }
        Progress::Waiting
    }

    fn target(&self, c: &Container) -> Target {
        Target {
            pod_ip: self.sandbox.as_ref().map(|s| s.ip),
            ports: c.ports.clone().unwrap_or_default(),
            runtime: self.ctx.runtime.clone(),
            state_dir: self.dirs.container(&c.name),
        }
    }

    /// Startup, then liveness and readiness probes that are due.
    async fn probe(&mut self, pod: &Pod, c: &Container) {
        let now = Instant::now();
        let target = self.target(c);
        let Some(rec) = self.records.get_mut(&c.name) else { return };
        let since = *rec.running_since.get_or_insert(now);
        if !rec.view.started {
            match &c.startup_probe {
                None => rec.view.started = true,
                Some(p) => {
                    if !due(&mut rec.startup, p, since, now) {
                        return;
                    }
                    match probe::run(p, &target).await {
                        Ok(()) => {
                            if let Some(rec) = self.records.get_mut(&c.name) {
                                rec.view.started = true;
                            }
                        }
                        Err(msg) => {
                            let failures = self.records.get_mut(&c.name).map(|r| {
                                r.startup.failures += 1;
                                r.startup.failures
                            });
                            self.event(pod, Some(&c.name), true, "Unhealthy", &format!("Startup probe failed: {msg}"));
                            if failures.unwrap_or(0) >= p.failure_threshold.unwrap_or(3) {
                                let note = format!("Container {} failed startup probe, will be restarted", c.name);
                                self.event(pod, Some(&c.name), false, "Killing", &note);
                                self.kill(c, grace(pod, p)).await;
                            }
                        }
                    }
                    return;
                }
            }
        }
        if let Some(p) = &c.liveness_probe {
            let is_due = self.records.get_mut(&c.name).is_some_and(|r| due(&mut r.liveness, p, since, now));
            if is_due {
                let outcome = probe::run(p, &target).await;
                let failures = self.records.get_mut(&c.name).map(|r| count(&mut r.liveness, &outcome)).unwrap_or(0);
                if let Err(msg) = outcome {
                    self.event(pod, Some(&c.name), true, "Unhealthy", &format!("Liveness probe failed: {msg}"));
                    if failures >= p.failure_threshold.unwrap_or(3) {
                        let note = format!("Container {} failed liveness probe, will be restarted", c.name);
                        self.event(pod, Some(&c.name), false, "Killing", &note);
                        self.kill(c, grace(pod, p)).await;
                        return;
                    }
                }
            }
        }
        match &c.readiness_probe {
            None => {
                if let Some(rec) = self.records.get_mut(&c.name) {
                    rec.view.ready = rec.view.started;
                }
            }
            Some(p) => {
                let is_due = self.records.get_mut(&c.name).is_some_and(|r| due(&mut r.readiness, p, since, now));
                if !is_due {
                    return;
                }
                let outcome = probe::run(p, &target).await;
                let Some(rec) = self.records.get_mut(&c.name) else { return };
                let failures = count(&mut rec.readiness, &outcome);
                if outcome.is_ok() && rec.readiness.successes >= p.success_threshold.unwrap_or(1) {
                    rec.view.ready = true;
                }
                if let Err(msg) = outcome {
                    if failures >= p.failure_threshold.unwrap_or(3) {
                        rec.view.ready = false;
                    }
                    self.event(pod, Some(&c.name), true, "Unhealthy", &format!("Readiness probe failed: {msg}"));
                }
            }
        }
    }

    /// Stop a container: SIGTERM, then SIGKILL after the grace period.
    async fn kill(&mut self, c: &Container, grace: Duration) {
        let Some(spec) = self.records.get(&c.name).and_then(|r| r.spec.clone()) else { return };
        stop_container(&self.ctx, &spec.state_dir, grace).await;
    }

    fn termination_message(&self, c: &Container) -> Option<String> {
        let text = std::fs::read(self.dirs.termination_log(&c.name)).ok().filter(|t| !t.is_empty());
        let text = text.map(|t| String::from_utf8_lossy(&t[..t.len().min(4096)]).into_owned());
        if text.is_some() || c.termination_message_policy.as_deref() != Some("FallbackToLogsOnError") {
            return text;
        }
        let restart = self.records.get(&c.name).map(|r| r.view.restart_count).unwrap_or(0);
        let log = std::fs::read_to_string(self.dirs.log(&c.name, restart)).ok()?;
        let lines: Vec<&str> = log.lines().rev().take(80).collect();
        let body: Vec<String> =
            lines.into_iter().rev().map(|l| l.splitn(4, ' ').nth(3).unwrap_or("").to_string()).collect();
        Some(body.join("\n")).filter(|s| !s.is_empty())
    }

    /// Report the status when it changed.
    async fn report(&mut self, pod: &Pod, init_done: bool, init_failed: bool) {
        let spec = pod.spec.clone().unwrap_or_default();
        let view = |c: &Container| {
            self.records.get(&c.name).map(|r| r.view.clone()).unwrap_or_else(|| ContainerView {
                name: c.name.clone(),
                image: c.image.clone().unwrap_or_default(),
                waiting: Some(if init_done {
                    ("ContainerCreating".into(), String::new())
                } else {
                    ("PodInitializing".into(), String::new())
                }),
                ..Default::default()
            })
        };
        let mut init: Vec<ContainerView> = spec.init_containers.iter().flatten().map(view).collect();
        for v in &mut init {
            if v.waiting.as_ref().is_some_and(|w| w.0 == "PodInitializing") {
                v.waiting = None;
            }
        }
        let containers: Vec<ContainerView> = spec.containers.iter().map(view).collect();
        let pv = PodView {
            pod,
            host_ip: self.ctx.config.node_ip.to_string(),
            pod_ip: self.pod_ip(),
            pod_ip6: self.sandbox.as_ref().and_then(|s| s.ip6).map(|ip| ip.to_string()),
            start_time: self.start_time.clone(),
            sandbox_ready: self.sandbox.is_some(),
            init,
            init_done,
            init_failed,
            containers,
            pod_error: self.pod_error.clone(),
        };
        let built = status::build(&pv, &Time(jiff_now()));
        let Ok(value) = serde_json::to_value(&built) else { return };
        if self.last_reported.as_ref() == Some(&value) {
            return;
        }
        let api: Api<Pod> =
            Api::namespaced(self.ctx.client.clone(), pod.metadata.namespace.as_deref().unwrap_or("default"));
        let name = pod.metadata.name.clone().unwrap_or_default();
        let patch = serde_json::json!({"metadata": {"uid": self.uid}, "status": value});
        match api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => self.last_reported = Some(value),
            Err(e) => tracing::warn!(pod = %name, error = %e, "reporting pod status"),
        }
    }

    fn event(&self, pod: &Pod, container: Option<&str>, warning: bool, reason: &str, note: &str) {
        events::publish(&self.ctx, pod, container, warning, reason, note);
    }

    /// Stop everything the pod has and, for a graceful delete, remove the
    /// pod from the API once nothing is left.
    async fn teardown(&mut self, pod: Option<&Pod>, grace: Duration) {
        let deadline = Instant::now() + grace;
        if let Some(pod) = pod {
            if !self.adopted {
                self.adopt(pod);
            }
            let spec = pod.spec.clone().unwrap_or_default();
            // App containers first (preStop, SIGTERM, grace), sidecars after.
            let mut stops = Vec::new();
            for c in &spec.containers {
                let Some(cs) = self.records.get(&c.name).and_then(|r| r.spec.clone()) else { continue };
                if !matches!(self.ctx.runtime.state(&cs.state_dir), RtState::Running { .. }) {
                    continue;
                }
                let note = format!("Stopping container {}", c.name);
                self.event(pod, Some(&c.name), false, "Killing", &note);
                let ctx = self.ctx.clone();
                let target = self.target(c);
                let pre_stop = c.lifecycle.as_ref().and_then(|l| l.pre_stop.clone());
                stops.push(async move {
                    if let Some(hook) = pre_stop {
                        let left = deadline.saturating_duration_since(Instant::now());
                        let probe = hook_probe(&hook, left.as_secs().max(1) as i32);
                        let _ = tokio::time::timeout(left, probe::run(&probe, &target)).await;
                    }
                    stop_container(&ctx, &cs.state_dir, deadline.saturating_duration_since(Instant::now())).await;
                });
            }
            futures::future::join_all(stops).await;
            for c in spec.init_containers.iter().flatten() {
                if let Some(cs) = self.records.get(&c.name).and_then(|r| r.spec.clone()) {
                    stop_container(&self.ctx, &cs.state_dir, deadline.saturating_duration_since(Instant::now())).await;
                }
            }
        }
        remove_local(&self.ctx, &self.uid).await;
        if let Some(pod) = pod {
            let api: Api<Pod> =
                Api::namespaced(self.ctx.client.clone(), pod.metadata.namespace.as_deref().unwrap_or("default"));
            let dp = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions { uid: Some(self.uid.clone()), resource_version: None }),
                ..Default::default()
            };
            let name = pod.metadata.name.clone().unwrap_or_default();
            match api.delete(&name, &dp).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                Err(e) => tracing::warn!(pod = %name, error = %e, "final delete"),
            }
        }
    }
}

/// Whether a probe is due now; schedules the next run.
fn due(state: &mut ProbeState, p: &Probe, since: Instant, now: Instant) -> bool {
    let first = since + Duration::from_secs(p.initial_delay_seconds.unwrap_or(0).max(0) as u64);
    let next = *state.next.get_or_insert(first);
    if now < next {
        return false;
    }
    state.next = Some(now + Duration::from_secs(p.period_seconds.unwrap_or(10).max(1) as u64));
    true
}

/// Count a result; returns the consecutive failures.
fn count(state: &mut ProbeState, outcome: &probe::Outcome) -> i32 {
    if outcome.is_ok() {
        state.successes += 1;
        state.failures = 0;
    } else {
        state.failures += 1;
        state.successes = 0;
    }
    state.failures
}

fn grace(pod: &Pod, p: &Probe) -> Duration {
    let secs = p
        .termination_grace_period_seconds
        .or_else(|| pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds))
        .unwrap_or(30);
    Duration::from_secs(secs.max(0) as u64)
}

/// A lifecycle hook run like a probe.
fn hook_probe(h: &k8s_openapi::api::core::v1::LifecycleHandler, timeout: i32) -> Probe {
    Probe {
        exec: h.exec.clone(),
        http_get: h.http_get.clone(),
        tcp_socket: h.tcp_socket.clone(),
        timeout_seconds: Some(timeout),
        ..Default::default()
    }
}

/// SIGTERM, wait up to `grace`, then SIGKILL; returns once it exited.
pub async fn stop_container(ctx: &Arc<Context>, dir: &std::path::Path, grace: Duration) {
    use nix::sys::signal::Signal;
    let running = |ctx: &Context| matches!(ctx.runtime.state(dir), RtState::Running { .. });
    if !running(ctx) {
        return;
    }
    if !grace.is_zero() {
        let _ = ctx.runtime.signal(dir, Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && running(ctx) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    if running(ctx) {
        let _ = ctx.runtime.signal(dir, Signal::SIGKILL);
        for _ in 0..50 {
            if !running(ctx) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Remove every local trace of a pod: containers, mounts, network, files.
pub async fn remove_local(ctx: &Arc<Context>, uid: &str) {
    let dirs = ctx.pod_dirs(uid);
    let containers = dirs.root.join("containers");
    if let Ok(entries) = std::fs::read_dir(&containers) {
        for entry in entries.flatten() {
            if let Some(spec) = crate::runtime::load_spec(&entry.path()) {
                let rt = ctx.runtime.clone();
                match tokio::task::spawn_blocking(move || rt.remove(&spec)).await {
                    Ok(Err(e)) => tracing::warn!(pod = uid, error = %e, "removing container"),
                    Err(e) => tracing::warn!(pod = uid, error = %e, "removing container"),
                    Ok(Ok(())) => {}
                }
            }
        }
    }
    let rt = ctx.runtime.clone();
    let cgroup = spec::pod_cgroup(&ctx.config.node_name, uid);
    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || rt.remove_cgroup_parent(&cgroup)).await {
        tracing::warn!(pod = uid, error = %e, "removing the pod cgroup");
    }
    if let Err(e) = ctx.network.remove_pod(uid).await {
        tracing::warn!(pod = uid, error = %e, "removing pod network");
    }
    volumes::unmount_all(&dirs.root);
    if dirs.exists() {
        if let Err(e) = std::fs::remove_dir_all(&dirs.root) {
            tracing::warn!(pod = uid, error = %e, "removing pod directory");
        }
    }
}

/// After the first full listing: remove pods the API no longer has.
pub async fn remove_orphans(ctx: &Arc<Context>, known: &HashSet<String>) {
    let mut local: HashSet<String> = ctx.network.pods().into_iter().map(|p| p.pod_key).collect();
    if let Ok(entries) = std::fs::read_dir(&ctx.config.pods_dir) {
        local.extend(entries.flatten().filter_map(|e| e.file_name().to_str().map(String::from)));
    }
    for uid in local.difference(known) {
        tracing::info!(pod = %uid, "removing a pod the API no longer has");
        remove_local(ctx, uid).await;
    }
}

fn jiff_now() -> k8s_openapi::jiff::Timestamp {
    system_to_ts(SystemTime::now())
}

fn system_to_ts(t: SystemTime) -> k8s_openapi::jiff::Timestamp {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    // Kubernetes times have whole seconds.
    k8s_openapi::jiff::Timestamp::from_second(secs).unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
}

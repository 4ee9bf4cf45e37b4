//! Pod status as the kubelet reports it: phase, conditions and container
//! statuses, from what the worker knows about each container.

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, HostIP,
    Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// What one container is doing now, as the worker sees it.
#[derive(Clone, Debug, Default)]
pub struct ContainerView {
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub container_id: Option<String>,
    pub restart_count: i32,
    pub ready: bool,
    pub started: bool,
    pub running_since: Option<Time>,
    pub waiting: Option<(String, String)>,
    pub terminated: Option<ContainerStateTerminated>,
    pub last_terminated: Option<ContainerStateTerminated>,
}

impl ContainerView {
    pub fn to_status(&self) -> ContainerStatus {
        let state = if let Some(since) = &self.running_since {
            ContainerState {
                running: Some(ContainerStateRunning { started_at: Some(since.clone()) }),
                ..Default::default()
            }
        } else if let Some((reason, message)) = &self.waiting {
            ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.clone()),
                    message: Some(message.clone()).filter(|m| !m.is_empty()),
                }),
                ..Default::default()
            }
        } else if let Some(t) = &self.terminated {
            ContainerState { terminated: Some(t.clone()), ..Default::default() }
        } else {
            waiting("ContainerCreating", "")
        };
        ContainerStatus {
            name: self.name.clone(),
            image: self.image.clone(),
            image_id: self.image_id.clone(),
            container_id: self.container_id.clone(),
            ready: self.ready,
            started: Some(self.started),
            restart_count: self.restart_count,
            state: Some(state),
            last_state: Some(match &self.last_terminated {
                Some(t) => ContainerState { terminated: Some(t.clone()), ..Default::default() },
                None => ContainerState::default(),
            }),
            ..Default::default()
        }
    }
}

fn waiting(reason: &str, message: &str) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message: Some(message.to_string()).filter(|m| !m.is_empty()),
        }),
        ..Default::default()
    }
}

/// Everything the worker knows that goes into the status.
pub struct PodView<'a> {
    pub pod: &'a Pod,
    pub host_ip: String,
    pub pod_ip: Option<String>,
    /// The pod's IPv6 address on a dual-stack node (listed second in podIPs).
    pub pod_ip6: Option<String>,
    pub start_time: Option<Time>,
    pub sandbox_ready: bool,
    pub init: Vec<ContainerView>,
    pub init_done: bool,
    pub init_failed: bool,
    pub containers: Vec<ContainerView>,
    /// A pod-level problem (volume, network) waiting to be fixed.
    pub pod_error: Option<(String, String)>,
}

/// The phase from the containers, as the kubelet computes it.
pub fn phase(v: &PodView<'_>) -> &'static str {
    if v.init_failed {
        return "Failed";
    }
    if !v.init_done {
        return "Pending";
    }
    let running = v.containers.iter().filter(|c| c.running_since.is_some()).count();
    let waiting = v.containers.iter().filter(|c| c.running_since.is_none() && c.terminated.is_none()).count();
    let ever_started = v.containers.iter().any(|c| c.running_since.is_some() || c.last_terminated.is_some());
    let terminated: Vec<&ContainerView> = v.containers.iter().filter(|c| c.terminated.is_some()).collect();
    if running > 0 || (waiting > 0 && ever_started) {
        return "Running";
    }
    if waiting > 0 || v.containers.is_empty() {
        return "Pending";
    }
    if terminated.iter().all(|c| c.terminated.as_ref().is_some_and(|t| t.exit_code == 0)) {
        "Succeeded"
    } else {
        "Failed"
    }
}

/// The QoS class from requests and limits.
pub fn qos_class(pod: &Pod) -> &'static str {
    let Some(spec) = pod.spec.as_ref() else { return "BestEffort" };
    let all: Vec<_> = spec.containers.iter().chain(spec.init_containers.iter().flatten()).collect();
    let any = all.iter().any(|c| {
        c.resources.as_ref().is_some_and(|r| {
            r.requests.as_ref().is_some_and(|m| !m.is_empty()) || r.limits.as_ref().is_some_and(|m| !m.is_empty())
        })
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = all.iter().all(|c| {
        let Some(r) = c.resources.as_ref() else { return false };
        let limits = r.limits.clone().unwrap_or_default();
        let requests = r.requests.clone().unwrap_or_default();
        ["cpu", "memory"].iter().all(|k| limits.get(*k).is_some_and(|l| requests.get(*k).is_none_or(|q| q.0 == l.0)))
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn condition(
    previous: Option<&PodStatus>,
    kind: &str,
    ok: bool,
    reason: Option<String>,
    message: Option<String>,
    now: &Time,
) -> PodCondition {
    let status = if ok { "True" } else { "False" };
    // Keep the transition time while the status stays the same.
    let since = previous
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == kind))
        .filter(|c| c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    PodCondition {
        type_: kind.into(),
        status: status.into(),
        reason: if ok { None } else { reason },
        message: if ok { None } else { message },
        last_transition_time: Some(since),
        last_probe_time: None,
        observed_generation: None,
    }
}

/// The whole status to report.
pub fn build(v: &PodView<'_>, now: &Time) -> PodStatus {
    let prev = v.pod.status.as_ref();
    let phase = phase(v);
    let unready: Vec<&str> = v.containers.iter().filter(|c| !c.ready).map(|c| c.name.as_str()).collect();
    let incomplete: Vec<&str> = v
        .init
        .iter()
        .filter(|c| {
            let completed = c.terminated.as_ref().is_some_and(|t| t.exit_code == 0);
            let sidecar_up = c.started && c.running_since.is_some();
            !(completed || sidecar_up)
        })
        .map(|c| c.name.as_str())
        .collect();
    let terminal = phase == "Succeeded" || phase == "Failed";
    let containers_ready = unready.is_empty() && !terminal;
    let gates_ok = v.pod.spec.as_ref().and_then(|s| s.readiness_gates.as_ref()).into_iter().flatten().all(|g| {
        prev.and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == g.condition_type && c.status == "True"))
    });
    let not_ready_msg = Some(format!("containers with unready status: [{}]", unready.join(" ")));
    let mut conditions = vec![
        condition(prev, "PodReadyToStartContainers", v.sandbox_ready, None, None, now),
        condition(
            prev,
            "Initialized",
            v.init_done || terminal && !v.init_failed,
            Some("ContainersNotInitialized".into()),
            Some(format!("containers with incomplete status: [{}]", incomplete.join(" "))),
            now,
        ),
        condition(
            prev,
            "Ready",
            containers_ready && gates_ok,
            Some(if terminal {
                "PodCompleted".into()
            } else if containers_ready {
                "ReadinessGatesNotReady".into()
            } else {
                "ContainersNotReady".into()
            }),
            if terminal { None } else { not_ready_msg.clone() },
            now,
        ),
        condition(
            prev,
            "ContainersReady",
            containers_ready,
            Some(if terminal { "PodCompleted".into() } else { "ContainersNotReady".into() }),
            if terminal { None } else { not_ready_msg },
            now,
        ),
        condition(prev, "PodScheduled", true, None, None, now),
    ];
    // Conditions other components own (readiness gates, DisruptionTarget) stay.
    for c in prev.and_then(|s| s.conditions.clone()).unwrap_or_default() {
        if !conditions.iter().any(|k| k.type_ == c.type_) {
            conditions.push(c);
        }
    }
    let (reason, message) = match &v.pod_error {
        Some((r, m)) if phase == "Pending" => (Some(r.clone()), Some(m.clone())),
        _ => (None, None),
    };
    PodStatus {
        phase: Some(phase.into()),
        conditions: Some(conditions),
        host_ip: Some(v.host_ip.clone()),
        host_ips: Some(vec![HostIP { ip: v.host_ip.clone() }]),
        pod_ip: v.pod_ip.clone(),
        pod_ips: v
            .pod_ip
            .clone()
            .map(|ip| std::iter::once(ip).chain(v.pod_ip6.clone()).map(|ip| PodIP { ip }).collect()),
        start_time: v.start_time.clone(),
        qos_class: Some(qos_class(v.pod).into()),
        init_container_statuses: if v.init.is_empty() {
            None
        } else {
            Some(v.init.iter().map(ContainerView::to_status).collect())
        },
        container_statuses: Some(v.containers.iter().map(ContainerView::to_status).collect()),
        reason,
        message,
        ..Default::default()
    }
}

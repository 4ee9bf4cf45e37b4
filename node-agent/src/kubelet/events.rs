//! Pod events as the kubelet emits them (Pulled, Created, Started,
//! Killing, BackOff, Unhealthy, Failed...), sent in the background so a
//! slow API never holds up a pod.

use super::Context;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::runtime::events::{Event, EventType};
use std::sync::Arc;

pub fn publish(ctx: &Arc<Context>, pod: &Pod, container: Option<&str>, warning: bool, reason: &str, note: &str) {
    let reference = ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: pod.metadata.name.clone(),
        namespace: pod.metadata.namespace.clone(),
        uid: pod.metadata.uid.clone(),
        resource_version: pod.metadata.resource_version.clone(),
        field_path: container.map(|c| format!("spec.containers{{{c}}}")),
    };
    let event = Event {
        type_: if warning { EventType::Warning } else { EventType::Normal },
        reason: reason.to_string(),
        note: Some(note.chars().take(1024).collect()),
        action: reason.to_string(),
        secondary: None,
    };
    let ctx = ctx.clone();
    tokio::spawn(async move {
        if let Err(e) = ctx.recorder.publish(&event, &reference).await {
            tracing::debug!(error = %e, "publishing event");
        }
    });
}

//! Events about objects, as every controller reports them: published in
//! the background, so a slow events write never holds up a reconcile, and
//! a failure to publish is only logged.

use kube::runtime::events::{Event, EventType, Recorder};
use kube::Resource;

pub fn publish<K: Resource<DynamicType = ()>>(
    recorder: &Recorder,
    obj: &K,
    kind: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let reference = obj.object_ref(&());
    let event = Event { type_: kind, reason: reason.into(), note: Some(note), action: action.into(), secondary: None };
    let recorder = recorder.clone();
    tokio::spawn(async move {
        if let Err(e) = recorder.publish(&event, &reference).await {
            tracing::debug!(error = %e, reason = %event.reason, "publishing an event");
        }
    });
}

use super::*;
use crate::patch::test_schema::deployment;
use serde_json::json;

const T1: &str = "2024-01-01T00:00:00Z";
const T2: &str = "2024-01-02T00:00:00Z";
const T3: &str = "2024-01-03T00:00:00Z";

/// The identifying part every config carries.
fn bare() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}})
}

fn config(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec})
}

fn apply(live: Option<&Value>, applied: &Value, manager: &str, force: bool, now: &str) -> Result<Value, ApplyError> {
    server_side_apply(live, applied, manager, "apps/v1", force, &deployment(), now)
}

fn apply_ok(live: Option<&Value>, applied: &Value, manager: &str, now: &str) -> Value {
    match apply(live, applied, manager, false, now) {
        Ok(value) => value,
        Err(err) => panic!("apply by {manager} failed: {err}"),
    }
}

fn update(old: Option<&Value>, new: Value, manager: &str, now: &str) -> Value {
    let mut new = new;
    track_update(old, &mut new, manager, "apps/v1", None, &deployment(), now);
    new
}

fn entries(obj: &Value) -> Vec<Value> {
    obj["metadata"]["managedFields"].as_array().cloned().unwrap_or_default()
}

fn entry_of(obj: &Value, manager: &str, operation: &str) -> Option<Value> {
    entries(obj).into_iter().find(|e| e["manager"] == manager && e["operation"] == operation)
}

/// The human paths `manager` (with `operation`) owns.
fn owned(obj: &Value, manager: &str, operation: &str) -> Vec<String> {
    entry_of(obj, manager, operation)
        .map(|e| FieldSet::from_fields_v1(&e["fieldsV1"]).unwrap().paths())
        .unwrap_or_default()
}

fn conflicts(result: Result<Value, ApplyError>) -> (Vec<Conflict>, String) {
    match result {
        Err(err @ ApplyError::Conflicts(_)) => {
            let message = err.to_string();
            let ApplyError::Conflicts(list) = err else { unreachable!() };
            (list, message)
        }
        other => panic!("expected conflicts, got {other:?}"),
    }
}

fn containers(obj: &Value) -> &Value {
    &obj["spec"]["template"]["spec"]["containers"]
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect()
}

#[test]
fn create_by_apply_records_an_apply_entry() {
    let applied =
        config(json!({"replicas": 3, "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1"}]}}}));
    let out = apply_ok(None, &applied, "kubectl", T1);
    assert_eq!(out["spec"]["replicas"], 3);
    let entry = entry_of(&out, "kubectl", "Apply").unwrap();
    assert_eq!(entry["apiVersion"], "apps/v1");
    assert_eq!(entry["time"], T1);
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert_eq!(
        entry["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}})
    );
    assert_eq!(entries(&out).len(), 1);
}

#[test]
fn untracked_fields_are_never_owned() {
    let applied = json!({"apiVersion": "v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "ns",
        "uid": "u", "resourceVersion": "1", "generation": 1, "creationTimestamp": T1, "labels": {"x": "y"}}});
    let out = apply_ok(None, &applied, "m", T1);
    assert_eq!(owned(&out, "m", "Apply"), [".metadata.labels.x"]);
    // Nothing tracked at all: no entry.
    let out = apply_ok(None, &json!({"apiVersion": "v1", "kind": "Deployment", "metadata": {"name": "a"}}), "m", T1);
    assert!(out["metadata"].get("managedFields").is_none());
}

#[test]
fn reapplying_the_same_config_is_a_no_op() {
    let applied = config(json!({"replicas": 3}));
    let first = apply_ok(None, &applied, "kubectl", T1);
    let second = apply_ok(Some(&first), &applied, "kubectl", T2);
    assert_eq!(first, second);
}

#[test]
fn apply_changes_time_only_when_the_object_changes() {
    let first = apply_ok(None, &config(json!({"replicas": 3})), "a", T1);
    let second = apply_ok(Some(&first), &config(json!({"replicas": 4})), "a", T2);
    assert_eq!(entry_of(&second, "a", "Apply").unwrap()["time"], T2);
}

#[test]
fn conflict_with_another_applier() {
    let live = apply_ok(None, &config(json!({"replicas": 3})), "alice", T1);
    let (list, message) = conflicts(apply(Some(&live), &config(json!({"replicas": 5})), "bob", false, T2));
    assert_eq!(
        list,
        [Conflict {
            manager: "alice".into(),
            api_version: "apps/v1".into(),
            field: ".spec.replicas".into(),
            operation: "Apply".into(),
            subresource: None,
        }]
    );
    assert_eq!(message, "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas");
}

#[test]
fn conflict_with_an_updater_is_worded_like_kubernetes() {
    let live = update(None, config(json!({"replicas": 3})), "kubectl-client-side-apply", T1);
    let (_, message) = conflicts(apply(Some(&live), &config(json!({"replicas": 5})), "kubectl", false, T2));
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
}

#[test]
fn several_conflicts_are_grouped_by_manager() {
    let live = update(None, config(json!({"replicas": 3, "paused": false})), "ctl", T1);
    let live = apply_ok(Some(&live), &config(json!({"template": {"metadata": {"labels": {"a": "1"}}}})), "alice", T2);
    let applied = config(json!({"replicas": 1, "paused": true, "template": {"metadata": {"labels": {"a": "2"}}}}));
    let (list, message) = conflicts(apply(Some(&live), &applied, "bob", false, T3));
    assert_eq!(list.len(), 3);
    assert_eq!(
        message,
        "Apply failed with 3 conflicts: conflicts with \"alice\":\n- .spec.template.metadata.labels.a\n\
         conflicts with \"ctl\" using apps/v1:\n- .spec.paused\n- .spec.replicas"
    );
}

#[test]
fn subresource_owner_is_named_in_conflicts() {
    let conflict = Conflict {
        manager: "ctrl".into(),
        api_version: "v1".into(),
        field: ".status.x".into(),
        operation: "Update".into(),
        subresource: Some("status".into()),
    };
    assert_eq!(conflict.describe_manager(), "\"ctrl\" with subresource \"status\" using v1");
}

#[test]
fn force_takes_ownership() {
    let live = apply_ok(None, &config(json!({"replicas": 3, "paused": true})), "alice", T1);
    let out = apply(Some(&live), &config(json!({"replicas": 5})), "bob", true, T2).unwrap();
    assert_eq!(out["spec"]["replicas"], 5);
    assert_eq!(owned(&out, "alice", "Apply"), [".spec.paused"]);
    assert_eq!(owned(&out, "bob", "Apply"), [".spec.replicas"]);
    // Alice applying her old config again now conflicts with bob.
    let (list, _) = conflicts(apply(Some(&out), &config(json!({"replicas": 3, "paused": true})), "alice", false, T3));
    assert_eq!(list[0].manager, "bob");
}

#[test]
fn force_drops_entries_left_empty() {
    let live = apply_ok(None, &config(json!({"replicas": 3})), "alice", T1);
    let out = apply(Some(&live), &config(json!({"replicas": 5})), "bob", true, T2).unwrap();
    assert!(entry_of(&out, "alice", "Apply").is_none());
    assert_eq!(entries(&out).len(), 1);
}

#[test]
fn same_value_is_shared_without_conflict() {
    let live = apply_ok(None, &config(json!({"replicas": 3})), "alice", T1);
    let out = apply_ok(Some(&live), &config(json!({"replicas": 3})), "bob", T2);
    assert_eq!(owned(&out, "alice", "Apply"), [".spec.replicas"]);
    assert_eq!(owned(&out, "bob", "Apply"), [".spec.replicas"]);
    // Alice lets go: the field stays, bob still owns it.
    let out = apply_ok(Some(&out), &bare(), "alice", T3);
    assert_eq!(out["spec"]["replicas"], 3);
    assert!(entry_of(&out, "alice", "Apply").is_none());
}

#[test]
fn fields_no_longer_applied_are_removed() {
    let live = apply_ok(
        None,
        &config(json!({"replicas": 3, "template": {"metadata": {"labels": {"a": "1", "b": "2"}}}})),
        "alice",
        T1,
    );
    let out = apply_ok(Some(&live), &config(json!({"template": {"metadata": {"labels": {"a": "1"}}}})), "alice", T2);
    assert_eq!(out["spec"], json!({"template": {"metadata": {"labels": {"a": "1"}}}}));
    assert_eq!(owned(&out, "alice", "Apply"), [".spec.template.metadata.labels.a"]);
    // Dropping the last field also drops the objects that only held it...
    let gone = apply_ok(Some(&out), &bare(), "alice", T3);
    assert!(gone.get("spec").is_none(), "{gone}");
    assert!(gone["metadata"].get("managedFields").is_none(), "{gone}");
    // ...unless they are applied themselves, empty.
    let kept = apply_ok(Some(&out), &config(json!({})), "alice", T3);
    assert_eq!(kept["spec"], json!({}));
    assert_eq!(owned(&kept, "alice", "Apply"), [".spec"]);
}

#[test]
fn fields_set_by_updaters_survive_an_appliers_removal() {
    let live = apply_ok(None, &config(json!({"replicas": 3})), "alice", T1);
    let mut scaled = live.clone();
    scaled["spec"]["paused"] = json!(true);
    let live = update(Some(&live), scaled, "ctl", T2);
    let out = apply_ok(Some(&live), &bare(), "alice", T3);
    assert_eq!(out["spec"], json!({"paused": true}));
    assert_eq!(owned(&out, "ctl", "Update"), [".spec.paused"]);
}

#[test]
fn map_lists_merge_by_key_and_prune_per_element() {
    let a = config(json!({"template": {"spec": {"containers": [{"name": "a", "image": "a:1"}]}}}));
    let b = config(json!({"template": {"spec": {"containers": [{"name": "b", "image": "b:1"}]}}}));
    let live = apply_ok(None, &a, "alice", T1);
    let live = apply_ok(Some(&live), &b, "bob", T2);
    assert_eq!(names(containers(&live)), ["a", "b"]);
    // Alice stops applying her container: only hers goes.
    let out = apply_ok(Some(&live), &bare(), "alice", T3);
    assert_eq!(containers(&out), &json!([{"name": "b", "image": "b:1"}]));
}

#[test]
fn map_list_element_fields_conflict_individually() {
    let live = apply_ok(
        None,
        &config(json!({"template": {"spec": {"containers": [{"name": "a", "image": "a:1"}]}}})),
        "alice",
        T1,
    );
    let applied = config(json!({"template": {"spec": {"containers": [{"name": "a", "args": ["x"]}]}}}));
    let out = apply_ok(Some(&live), &applied, "bob", T2);
    assert_eq!(containers(&out), &json!([{"name": "a", "image": "a:1", "args": ["x"]}]));
    let applied = config(json!({"template": {"spec": {"containers": [{"name": "a", "image": "a:2"}]}}}));
    let (list, _) = conflicts(apply(Some(&out), &applied, "bob", false, T3));
    assert_eq!(list[0].field, ".spec.template.spec.containers[name=\"a\"].image");
}

#[test]
fn removing_a_nested_element_keeps_the_rest() {
    let applied = config(json!({"template": {"spec": {"containers": [{"name": "a", "image": "i",
        "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}]}}}));
    let live = apply_ok(None, &applied, "alice", T1);
    let applied = config(json!({"template": {"spec": {"containers": [{"name": "a", "image": "i",
        "env": [{"name": "Y", "value": "2"}]}]}}}));
    let out = apply_ok(Some(&live), &applied, "alice", T2);
    assert_eq!(containers(&out), &json!([{"name": "a", "image": "i", "env": [{"name": "Y", "value": "2"}]}]));
}

#[test]
fn merged_list_order_follows_structured_merge_diff() {
    let live = apply_ok(
        None,
        &config(json!({"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}})),
        "x",
        T1,
    );
    let out = apply_ok(
        Some(&live),
        &config(json!({"template": {"spec": {"containers": [{"name": "c"}, {"name": "a"}]}}})),
        "y",
        T2,
    );
    assert_eq!(names(containers(&out)), ["b", "c", "a"]);
    let out = apply_ok(
        Some(&live),
        &config(json!({"template": {"spec": {"containers": [{"name": "n"}, {"name": "b"}]}}})),
        "y",
        T2,
    );
    assert_eq!(names(containers(&out)), ["a", "n", "b", "c"]);
}

#[test]
fn sets_union_and_prune_per_value() {
    let live = apply_ok(None, &json!({"metadata": {"name": "w", "finalizers": ["a", "b"]}}), "alice", T1);
    let live = apply_ok(Some(&live), &json!({"metadata": {"name": "w", "finalizers": ["c"]}}), "bob", T2);
    assert_eq!(live["metadata"]["finalizers"], json!(["a", "b", "c"]));
    let out = apply_ok(Some(&live), &json!({"metadata": {"name": "w", "finalizers": ["b"]}}), "alice", T3);
    assert_eq!(out["metadata"]["finalizers"], json!(["b", "c"]));
    assert_eq!(owned(&out, "alice", "Apply"), [".metadata.finalizers[=\"b\"]"]);
}

#[test]
fn atomic_lists_are_replaced_and_owned_whole() {
    let live = apply_ok(
        None,
        &config(json!({"template": {"spec": {"containers": [{"name": "a", "args": ["1", "2"]}]}}})),
        "alice",
        T1,
    );
    let applied = config(json!({"template": {"spec": {"containers": [{"name": "a", "args": ["3"]}]}}}));
    let (list, _) = conflicts(apply(Some(&live), &applied, "bob", false, T2));
    assert_eq!(list[0].field, ".spec.template.spec.containers[name=\"a\"].args");
    let out = apply_ok(Some(&live), &applied, "alice", T2);
    assert_eq!(containers(&out)[0]["args"], json!(["3"]));
}

#[test]
fn partial_keys_are_completed_from_the_live_element() {
    let live = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}});
    let live = update(None, live, "creator", T1);
    let applied = config(
        json!({"template": {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "http"}]}]}}}),
    );
    let out = apply(Some(&live), &applied, "kubectl", true, T2).unwrap();
    assert_eq!(containers(&out)[0]["ports"], json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}]));
}

#[test]
fn invalid_configs_are_rejected() {
    let cases = [
        (json!([1]), "must be a JSON object"),
        (json!({"metadata": {"managedFields": []}}), "managedFields must be nil"),
        (
            config(json!({"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}})),
            "duplicate entries for key [name=\"a\"]",
        ),
        (config(json!({"template": {"spec": {"containers": [{"image": "a"}]}}})), "key fields"),
        (config(json!({"template": {"spec": {"containers": ["a"]}}})), "key fields"),
        (json!({"metadata": {"finalizers": ["a", "a"]}}), ".metadata.finalizers: duplicate entries"),
    ];
    for (applied, expected) in cases {
        match apply(None, &applied, "m", false, T1) {
            Err(ApplyError::Patch(err)) => assert!(err.to_string().contains(expected), "{err} / {expected}"),
            other => panic!("{applied}: expected an error, got {other:?}"),
        }
    }
}

#[test]
fn null_in_config_removes_the_field_and_owns_it() {
    let live = update(None, config(json!({"replicas": 3, "paused": true})), "ctl", T1);
    let out = apply(Some(&live), &config(json!({"paused": null})), "alice", true, T2).unwrap();
    assert_eq!(out["spec"], json!({"replicas": 3}));
    assert_eq!(owned(&out, "alice", "Apply"), [".spec.paused"]);
    assert_eq!(owned(&out, "ctl", "Update"), [".spec.replicas"]);
}

#[test]
fn untracked_live_objects_get_a_before_first_apply_owner() {
    let live = config(json!({"replicas": 3}));
    let (list, message) = conflicts(apply(Some(&live), &config(json!({"replicas": 4})), "kubectl", false, T1));
    assert_eq!(list[0].manager, "before-first-apply");
    assert!(message.contains("conflict with \"before-first-apply\" using apps/v1: .spec.replicas"), "{message}");
    let out = apply(Some(&live), &config(json!({"replicas": 4, "paused": true})), "kubectl", true, T1).unwrap();
    assert_eq!(owned(&out, "kubectl", "Apply"), [".spec.paused", ".spec.replicas"]);
    assert!(entry_of(&out, "before-first-apply", "Update").is_none());
}

#[test]
fn unknown_fields_apply_as_plain_objects() {
    let live = apply_ok(None, &config(json!({"custom": {"list": [1, 2], "m": {"a": 1}}})), "alice", T1);
    let out = apply_ok(Some(&live), &config(json!({"custom": {"list": [3]}})), "alice", T2);
    assert_eq!(out["spec"], json!({"custom": {"list": [3]}}));
}

#[test]
fn corrupt_live_managed_fields_are_reported() {
    let mut live = config(json!({}));
    live["metadata"]["managedFields"] = json!([{"manager": "x", "operation": "Nope"}]);
    assert!(matches!(apply(Some(&live), &config(json!({})), "m", false, T1), Err(ApplyError::Patch(_))));
}

#[test]
fn apply_after_updates_leaves_update_entries() {
    let live = update(None, config(json!({"replicas": 1})), "creator", T1);
    let out = apply_ok(Some(&live), &config(json!({"paused": true})), "kubectl", T2);
    assert_eq!(owned(&out, "creator", "Update"), [".spec.replicas"]);
    assert_eq!(owned(&out, "kubectl", "Apply"), [".spec.paused"]);
    // Apply entries come first.
    assert_eq!(entries(&out)[0]["operation"], "Apply");
}

// ----- track_update -----

#[test]
fn create_owns_everything_set() {
    let out = update(
        None,
        config(json!({"replicas": 1, "template": {"metadata": {"labels": {"app": "w"}},
        "spec": {"containers": [{"name": "a", "image": "i"}]}}})),
        "kubectl-create",
        T1,
    );
    let entry = entry_of(&out, "kubectl-create", "Update").unwrap();
    assert_eq!(entry["time"], T1);
    assert_eq!(entry["apiVersion"], "apps/v1");
    assert_eq!(
        owned(&out, "kubectl-create", "Update"),
        [
            ".spec.replicas",
            ".spec.template",
            ".spec.template.metadata",
            ".spec.template.metadata.labels",
            ".spec.template.metadata.labels.app",
            ".spec.template.spec",
            ".spec.template.spec.containers",
            ".spec.template.spec.containers[name=\"a\"]",
            ".spec.template.spec.containers[name=\"a\"].image",
            ".spec.template.spec.containers[name=\"a\"].name",
        ]
    );
}

#[test]
fn updates_move_ownership_of_changed_fields() {
    let live = update(None, config(json!({"replicas": 1, "paused": false})), "creator", T1);
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    let out = update(Some(&live), scaled, "hpa", T2);
    assert_eq!(owned(&out, "hpa", "Update"), [".spec.replicas"]);
    assert!(!owned(&out, "creator", "Update").contains(&".spec.replicas".to_string()));
    assert!(owned(&out, "creator", "Update").contains(&".spec.paused".to_string()));
    assert_eq!(entry_of(&out, "creator", "Update").unwrap()["time"], T1);
}

#[test]
fn unchanged_update_keeps_time_and_entries() {
    let live = update(None, config(json!({"replicas": 1})), "creator", T1);
    let out = update(Some(&live), live.clone(), "someone", T2);
    assert_eq!(out, live);
}

#[test]
fn update_by_same_manager_merges_into_its_entry() {
    let live = update(None, config(json!({"replicas": 1})), "ctl", T1);
    let mut next = live.clone();
    next["spec"]["paused"] = json!(true);
    let out = update(Some(&live), next, "ctl", T2);
    assert_eq!(entries(&out).len(), 1);
    assert!(owned(&out, "ctl", "Update").contains(&".spec.replicas".to_string()));
    assert!(owned(&out, "ctl", "Update").contains(&".spec.paused".to_string()));
    assert_eq!(entry_of(&out, "ctl", "Update").unwrap()["time"], T2);
}

#[test]
fn deleting_fields_strips_them_from_owners() {
    let live = apply_ok(None, &config(json!({"replicas": 3, "paused": true})), "alice", T1);
    let mut next = live.clone();
    next["spec"].as_object_mut().unwrap().shift_remove("paused");
    let out = update(Some(&live), next, "editor", T2);
    assert_eq!(owned(&out, "alice", "Apply"), [".spec.replicas"]);
    assert!(entry_of(&out, "editor", "Update").is_none());
    // Deleting the last owned field drops the entry.
    let mut next = out.clone();
    next.as_object_mut().unwrap().shift_remove("spec");
    let out = update(Some(&out), next, "editor", T3);
    assert!(out["metadata"].get("managedFields").is_none(), "{out}");
}

#[test]
fn empty_managed_fields_clears_tracking() {
    let live = update(None, config(json!({"replicas": 1})), "creator", T1);
    for reset in [json!([]), json!([{}])] {
        let mut next = live.clone();
        next["metadata"]["managedFields"] = reset;
        next["spec"]["replicas"] = json!(2);
        let out = update(Some(&live), next, "editor", T2);
        assert!(out["metadata"].get("managedFields").is_none(), "{out}");
        // And it stays untracked for later updates.
        let mut later = out.clone();
        later["spec"]["replicas"] = json!(3);
        let later = update(Some(&out), later, "editor", T3);
        assert!(later["metadata"].get("managedFields").is_none());
    }
}

#[test]
fn missing_managed_fields_keeps_the_live_ones() {
    let live = update(None, config(json!({"replicas": 1})), "creator", T1);
    let mut next = live.clone();
    next["metadata"].as_object_mut().unwrap().shift_remove("managedFields");
    next["spec"]["paused"] = json!(true);
    let out = update(Some(&live), next, "editor", T2);
    assert_eq!(owned(&out, "creator", "Update"), [".spec.replicas"]);
    assert_eq!(owned(&out, "editor", "Update"), [".spec.paused"]);
}

#[test]
fn sent_managed_fields_are_the_starting_point() {
    let live = update(None, config(json!({"replicas": 1})), "creator", T1);
    let mut next = live.clone();
    next["metadata"]["managedFields"] = json!([{"manager": "someone-else", "operation": "Update", "apiVersion": "apps/v1",
        "time": T1, "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]);
    let out = update(Some(&live), next, "editor", T2);
    assert_eq!(owned(&out, "someone-else", "Update"), [".spec.replicas"]);
    assert!(entry_of(&out, "creator", "Update").is_none());
    // Garbage falls back to the live managed fields.
    let mut next = live.clone();
    next["metadata"]["managedFields"] = json!([{"manager": "x"}]);
    let out = update(Some(&live), next, "editor", T2);
    assert_eq!(entries(&out), entries(&live));
}

#[test]
fn subresource_writes_use_their_own_entry_and_ignore_sent_managed_fields() {
    let live = update(None, config(json!({"replicas": 1})), "creator", T1);
    let mut next = live.clone();
    next["status"] = json!({"replicas": 1});
    next["metadata"]["managedFields"] = json!([]);
    track_update(Some(&live), &mut next, "controller", "apps/v1", Some("status"), &deployment(), T2);
    let entry = entry_of(&next, "controller", "Update").unwrap();
    assert_eq!(entry["subresource"], "status");
    assert_eq!(owned(&next, "controller", "Update"), [".status.replicas"]);
    assert!(entry_of(&next, "creator", "Update").is_some());
}

#[test]
fn create_with_empty_managed_fields_is_still_tracked() {
    let mut obj = config(json!({"replicas": 1}));
    obj["metadata"]["managedFields"] = json!([]);
    let out = update(None, obj, "creator", T1);
    assert_eq!(owned(&out, "creator", "Update"), [".spec.replicas"]);
}

#[test]
fn update_managers_are_capped() {
    let mut live = update(None, config(json!({})), "creator", T1);
    for i in 0..12 {
        let mut next = live.clone();
        next["spec"][format!("f{i:02}")] = json!(i);
        live = update(Some(&live), next, &format!("m{i:02}"), &format!("2024-01-01T00:00:{i:02}Z"));
    }
    let updates = entries(&live).into_iter().filter(|e| e["operation"] == "Update").count();
    assert_eq!(updates, MAX_UPDATE_MANAGERS);
    assert!(entry_of(&live, "ancient-changes", "Update").is_some());
}

#[test]
fn track_update_ignores_non_objects() {
    let mut value = json!([1, 2]);
    track_update(None, &mut value, "m", "v1", None, &deployment(), T1);
    assert_eq!(value, json!([1, 2]));
}

#[test]
fn list_changes_are_tracked_per_element() {
    let live = update(None, json!({"metadata": {"name": "x", "finalizers": ["a"]}}), "creator", T1);
    let mut next = live.clone();
    next["metadata"]["finalizers"] = json!(["a", "b"]);
    let out = update(Some(&live), next, "ctrl", T2);
    assert_eq!(owned(&out, "ctrl", "Update"), [".metadata.finalizers[=\"b\"]"]);
    assert_eq!(owned(&out, "creator", "Update"), [".metadata.finalizers", ".metadata.finalizers[=\"a\"]"]);
}

#[test]
fn type_changes_are_tracked() {
    let live = update(None, config(json!({"custom": {"a": 1}})), "creator", T1);
    let mut next = live.clone();
    next["spec"]["custom"] = json!("flat");
    let out = update(Some(&live), next, "editor", T2);
    assert_eq!(owned(&out, "editor", "Update"), [".spec.custom"]);
    assert!(entry_of(&out, "creator", "Update").is_none());
}

//! End to end: real kubectl (oldest and newest supported) against a real
//! `keel server`.

use keel_e2e::{json, manifest, Server, KUBECTL_NEWEST, KUBECTL_OLDEST};
use std::time::Duration;

const VERSIONS: [&str; 2] = [KUBECTL_OLDEST, KUBECTL_NEWEST];

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap_or_default()
}

#[test]
fn apply_get_edit_delete_with_both_kubectls() {
    let s = Server::start().expect("server");
    let app = manifest("app.yaml");
    for v in VERSIONS {
        let ns = format!("apply-{}", v.replace('.', "-"));
        s.ok(v, &["create", "namespace", &ns]);
        let out = s.ok(v, &["apply", "-n", &ns, "-f", path(&app)]);
        for what in [
            "configmap/web-config created",
            "deployment.apps/web created",
            "statefulset.apps/db created",
            "cronjob.batch/tick created",
            "ingress.networking.k8s.io/web created",
        ] {
            assert!(out.contains(what), "kubectl {v} apply: missing {what:?} in\n{out}");
        }
        // Re-applying unchanged manifests changes nothing.
        let again = s.ok(v, &["apply", "-n", &ns, "-f", path(&app)]);
        assert!(again.contains("deployment.apps/web unchanged"), "{again}");

        // Client-side apply of an edit: strategic merge keeps the other fields.
        let edited = std::fs::read_to_string(&app).expect("manifest").replace("replicas: 2", "replicas: 5");
        let out = s.kubectl_stdin(v, &["apply", "-n", &ns, "-f", "-"], Some(&edited)).expect("apply edit");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let d = json(&s.ok(v, &["get", "deploy", "web", "-n", &ns, "-o", "json"]));
        assert_eq!(d["spec"]["replicas"], 5);
        assert_eq!(d["metadata"]["generation"], 2);
        assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "keel-test/echo:v1");

        // Table output with the columns users expect.
        let table = s.ok(v, &["get", "deploy", "-n", &ns]);
        assert!(
            table.lines().next().unwrap_or_default().split_whitespace().eq([
                "NAME",
                "READY",
                "UP-TO-DATE",
                "AVAILABLE",
                "AGE"
            ]),
            "{table}"
        );
        let svc = s.ok(v, &["get", "svc", "web", "-n", &ns]);
        assert!(svc.contains("CLUSTER-IP") && svc.contains("80/TCP"), "{svc}");
        let wide = s.ok(v, &["get", "deploy", "web", "-n", &ns, "-o", "wide"]);
        assert!(wide.contains("SELECTOR") && wide.contains("app=web"), "{wide}");
        let yaml = s.ok(v, &["get", "cm", "web-config", "-n", &ns, "-o", "yaml"]);
        assert!(yaml.contains("greeting: hello"), "{yaml}");

        // label, annotate, scale, patch of each type.
        s.ok(v, &["label", "cm", "web-config", "-n", &ns, "tier=front"]);
        s.ok(v, &["annotate", "cm", "web-config", "-n", &ns, "note=hi"]);
        assert!(s.ok(v, &["get", "cm", "-n", &ns, "-l", "tier=front", "-o", "name"]).contains("configmap/web-config"));
        s.ok(v, &["scale", "deploy", "web", "-n", &ns, "--replicas=3"]);
        assert_eq!(json(&s.ok(v, &["get", "deploy", "web", "-n", &ns, "-o", "json"]))["spec"]["replicas"], 3);
        s.ok(v, &["patch", "cm", "web-config", "-n", &ns, "--type", "merge", "-p", r#"{"data":{"extra":"1"}}"#]);
        s.ok(
            v,
            &[
                "patch",
                "cm",
                "web-config",
                "-n",
                &ns,
                "--type",
                "json",
                "-p",
                r#"[{"op":"replace","path":"/data/greeting","value":"bye"}]"#,
            ],
        );
        s.ok(v, &["patch", "deploy", "web", "-n", &ns, "--type", "strategic", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"keel-test/toolbox:latest"}]}}}}"#]);
        let cm = json(&s.ok(v, &["get", "cm", "web-config", "-n", &ns, "-o", "json"]));
        assert_eq!((cm["data"]["greeting"].as_str(), cm["data"]["extra"].as_str()), (Some("bye"), Some("1")));
        let d = json(&s.ok(v, &["get", "deploy", "web", "-n", &ns, "-o", "json"]));
        let names: Vec<&str> = d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(
            names,
            ["sidecar", "echo"],
            "strategic merge merges containers by name; new ones first, as Kubernetes does"
        );

        // Generators.
        let dir = s.data_dir().join(format!("files-{ns}"));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("app.properties"), "a=1\n").expect("file");
        s.ok(
            v,
            &[
                "create",
                "configmap",
                "from-file",
                "-n",
                &ns,
                &format!("--from-file={}", dir.join("app.properties").display()),
            ],
        );
        assert!(s.ok(v, &["get", "cm", "from-file", "-n", &ns, "-o", "yaml"]).contains("a=1"));
        s.ok(v, &["create", "secret", "generic", "creds", "-n", &ns, "--from-literal=user=admin"]);
        let sec = json(&s.ok(v, &["get", "secret", "creds", "-n", &ns, "-o", "json"]));
        assert_eq!(sec["data"]["user"], "YWRtaW4=");
        assert_eq!(sec["type"], "Opaque");

        // describe shows the object.
        let desc = s.ok(v, &["describe", "deploy", "web", "-n", &ns]);
        assert!(desc.contains("Name:") && desc.contains("web") && desc.contains("keel-test/echo:v1"), "{desc}");

        // Custom resources, with the CRD's printer columns and defaults.
        s.ok(v, &["apply", "-n", &ns, "-f", path(&manifest("crontab.yaml"))]);
        let ct = s.ok(v, &["get", "crontabs", "-n", &ns]);
        assert!(ct.contains("SPEC") && ct.contains("0 3 * * *"), "{ct}");
        assert_eq!(json(&s.ok(v, &["get", "ct", "nightly", "-n", &ns, "-o", "json"]))["spec"]["replicas"], 1);

        // delete --wait returns once the object is gone.
        s.ok(v, &["delete", "cm", "web-config", "-n", &ns, "--wait"]);
        let err = s.fails(v, &["get", "cm", "web-config", "-n", &ns]);
        assert!(err.contains("NotFound") || err.contains("not found"), "{err}");
    }
}

#[test]
fn server_side_apply_tracks_managers_and_conflicts() {
    let s = Server::start().expect("server");
    let v = KUBECTL_NEWEST;
    let app = manifest("app.yaml");
    s.ok(v, &["apply", "--server-side", "-f", path(&app)]);
    let d = json(&s.ok(v, &["get", "deploy", "web", "-o", "json", "--show-managed-fields"]));
    let managers: Vec<&str> =
        d["metadata"]["managedFields"].as_array().into_iter().flatten().filter_map(|m| m["manager"].as_str()).collect();
    assert!(managers.contains(&"kubectl"), "managers: {managers:?}");
    // Another manager changes replicas; applying the old value conflicts.
    s.ok(v, &["scale", "deploy", "web", "--replicas=4"]);
    let err = s.fails(v, &["apply", "--server-side", "-f", path(&app)]);
    assert!(err.contains("conflict") && err.contains(".spec.replicas"), "{err}");
    s.ok(v, &["apply", "--server-side", "--force-conflicts", "-f", path(&app)]);
    assert_eq!(json(&s.ok(v, &["get", "deploy", "web", "-o", "json"]))["spec"]["replicas"], 2);
    // Re-apply with an edit.
    let edited = std::fs::read_to_string(&app).expect("manifest").replace("greeting: hello", "greeting: ssa");
    let out = s.kubectl_stdin(v, &["apply", "--server-side", "-f", "-"], Some(&edited)).expect("apply");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&s.ok(v, &["get", "cm", "web-config", "-o", "json"]))["data"]["greeting"], "ssa");
}

#[test]
fn watch_sees_changes() {
    let s = Server::start().expect("server");
    s.ok(KUBECTL_NEWEST, &["create", "configmap", "w", "--from-literal=a=1"]);
    let mut child = std::process::Command::new(format!("/usr/lib/google-cloud-sdk/bin/kubectl.{KUBECTL_NEWEST}"))
        .args(["get", "cm", "w", "-w", "-o", "jsonpath={.data.a}{\"\\n\"}"])
        .env("KUBECONFIG", s.kubeconfig())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl get -w");
    std::thread::sleep(Duration::from_millis(800));
    s.ok(KUBECTL_NEWEST, &["patch", "cm", "w", "--type", "merge", "-p", r#"{"data":{"a":"2"}}"#]);
    std::thread::sleep(Duration::from_millis(800));
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    let seen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(seen.lines().collect::<Vec<_>>(), ["1", "2"], "kubectl get -w printed: {seen}");
}

#[test]
fn explain_and_api_resources() {
    let s = Server::start().expect("server");
    for v in VERSIONS {
        let out = s.ok(v, &["explain", "deployment.spec.replicas"]);
        assert!(out.contains("replicas") && out.contains("integer"), "kubectl {v} explain: {out}");
        let out = s.ok(v, &["api-resources"]);
        assert!(out.contains("deployments") && out.contains("customresourcedefinitions"), "{out}");
    }
}

#[test]
fn state_survives_restart_and_watches_resume() {
    let mut s = Server::start().expect("server");
    let v = KUBECTL_NEWEST;
    s.ok(v, &["create", "configmap", "keep", "--from-literal=a=1"]);
    let before = json(&s.ok(v, &["get", "cm", "keep", "-o", "json"]));
    let rv1: u64 = before["metadata"]["resourceVersion"].as_str().and_then(|r| r.parse().ok()).expect("rv");
    s.ok(v, &["patch", "cm", "keep", "--type", "merge", "-p", r#"{"data":{"a":"2"}}"#]);
    s.restart().expect("restart");
    let after = json(&s.ok(v, &["get", "cm", "keep", "-o", "json"]));
    assert_eq!(after["data"]["a"], "2");
    assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"]);
    s.ok(v, &["patch", "cm", "keep", "--type", "merge", "-p", r#"{"data":{"a":"3"}}"#]);
    let rv3: u64 = json(&s.ok(v, &["get", "cm", "keep", "-o", "json"]))["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .expect("rv");
    assert!(rv3 > rv1 + 1, "resourceVersion must keep increasing across restarts: {rv1} -> {rv3}");
    // A watch from before the restart replays what it missed.
    let out = s.ok(
        v,
        &[
            "get",
            "--raw",
            &format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv1}&timeoutSeconds=1"),
        ],
    );
    let events: Vec<serde_json::Value> = out.lines().map(json).collect();
    let values: Vec<&str> = events.iter().filter_map(|e| e["object"]["data"]["a"].as_str()).collect();
    assert_eq!(values, ["2", "3"], "events: {out}");
    // One from before the retained window gets 410 Gone as an ERROR event.
    let out = s.ok(
        v,
        &["get", "--raw", "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=0&timeoutSeconds=1"],
    );
    assert!(out.contains("\"ADDED\""), "{out}");
}

#[test]
fn watch_from_compacted_history_gets_410() {
    let s = Server::start_with(&["--watch-history", "3"]).expect("server");
    let v = KUBECTL_NEWEST;
    s.ok(KUBECTL_OLDEST, &["create", "configmap", "old", "--from-literal=a=0"]);
    let rv = json(&s.ok(v, &["get", "cm", "old", "-o", "json"]))["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for i in 1..=5 {
        s.ok(v, &["patch", "cm", "old", "--type", "merge", "-p", &format!(r#"{{"data":{{"a":"{i}"}}}}"#)]);
    }
    let out = s.ok(
        v,
        &[
            "get",
            "--raw",
            &format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=2"),
        ],
    );
    let ev = json(out.lines().next().unwrap_or_default());
    assert_eq!(ev["type"], "ERROR", "{out}");
    assert_eq!(ev["object"]["code"], 410, "{out}");
    assert_eq!(ev["object"]["reason"], "Expired", "{out}");
    // A list with the watch's bookmark semantics still works afterwards.
    let out = s.ok(
        v,
        &["get", "--raw", "/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&timeoutSeconds=1"],
    );
    assert!(out.contains("\"ADDED\""), "{out}");
}

#[test]
fn dry_run_custom_resources_and_namespace_defaults() {
    let s = Server::start().expect("server");
    let v = KUBECTL_NEWEST;
    // Server-side dry run validates and stores nothing.
    let out = s.ok(v, &["create", "configmap", "dry", "--from-literal=a=1", "--dry-run=server", "-o", "json"]);
    assert_eq!(json(&out)["data"]["a"], "1");
    assert!(s.fails(v, &["get", "cm", "dry"]).contains("not found"));
    let err = s.fails(v, &["create", "deployment", "Bad_Name", "--image=x", "--dry-run=server"]);
    assert!(err.contains("Invalid") || err.contains("invalid"), "{err}");

    // A new namespace gets its default ServiceAccount.
    s.ok(v, &["create", "namespace", "fresh"]);
    let mut found = false;
    for _ in 0..50 {
        if s.kubectl(v, &["get", "serviceaccount", "default", "-n", "fresh"])
            .map(|o| o.status.success())
            .unwrap_or(false)
        {
            found = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(found, "default ServiceAccount in a new namespace");

    // The scale subresource of a custom resource.
    s.ok(v, &["apply", "-f", path(&manifest("app.yaml"))]);
    s.ok(v, &["apply", "-f", path(&manifest("crontab.yaml"))]);
    s.ok(v, &["scale", "crontab", "nightly", "--replicas=3"]);
    assert_eq!(json(&s.ok(v, &["get", "ct", "nightly", "-o", "json"]))["spec"]["replicas"], 3);
    // Schema validation of custom resources: every bad field is listed.
    let bad = "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: bad\nspec:\n  cronSpec: nonsense\n  replicas: -1\n";
    let out = s.kubectl_stdin(v, &["apply", "-f", "-"], Some(bad)).expect("kubectl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("spec.cronSpec") && err.contains("spec.replicas"), "{err}");

    // Cluster-scoped custom resources.
    s.ok(v, &["apply", "-f", path(&manifest("cluster-crd.yaml"))]);
    let region = "apiVersion: geo.example.com/v1\nkind: Region\nmetadata:\n  name: europe\nspec:\n  code: eu\n";
    let out = s.kubectl_stdin(v, &["apply", "-f", "-"], Some(region)).expect("kubectl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = json(&s.ok(v, &["get", "region", "europe", "-o", "json"]));
    assert_eq!(r["spec"]["code"], "eu");
    assert!(r["metadata"].get("namespace").is_none());
    let out =
        s.kubectl_stdin(v, &["apply", "-f", "-"], Some(&region.replace("code: eu", "code: mars"))).expect("kubectl");
    assert!(!out.status.success(), "enum violation must be refused");
    // Deleting the CRD deletes its objects.
    s.ok(v, &["delete", "crd", "regions.geo.example.com"]);
    assert!(!s.ok(v, &["api-resources"]).contains("regions"));
}

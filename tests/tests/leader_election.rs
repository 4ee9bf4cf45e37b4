//! Leader election: two `keel controller-manager` processes against one
//! API server (whose own controllers are off). Only the Lease holder acts,
//! so a Deployment gets exactly its replicas; when the holder is killed the
//! other takes the Lease over and carries on.

use keel_e2e::{eventually, keel_bin, Server, KUBECTL_NEWEST};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const V: &str = KUBECTL_NEWEST;

struct Manager {
    child: Child,
    log: PathBuf,
}

impl Manager {
    fn start(s: &Server, name: &str) -> Manager {
        let log = s.dir.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(keel_bin())
            .arg("controller-manager")
            .arg("--kubeconfig")
            .arg(s.kubeconfig())
            .args([
                "--leader-elect-lease-duration=4",
                "--leader-elect-renew-deadline=3",
                "--leader-elect-retry-period=1",
            ])
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("starting keel controller-manager");
        Manager { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lease(s: &Server, name: &str) -> Option<Value> {
    let out = s.kubectl(V, &["get", "lease", "-n", "kube-system", name, "-o", "json"]).ok()?;
    out.status.success().then(|| serde_json::from_slice(&out.stdout).ok()).flatten()
}

fn holder(s: &Server, name: &str) -> Option<String> {
    lease(s, name)?["spec"]["holderIdentity"].as_str().filter(|h| !h.is_empty()).map(String::from)
}

fn count(s: &Server, kind: &str) -> usize {
    let out = s.ok(V, &["get", kind, "-l", "app=web", "-o", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap_or_default();
    v["items"].as_array().map_or(0, |i| i.iter().filter(|p| p["metadata"]["deletionTimestamp"].is_null()).count())
}

#[test]
fn one_controller_manager_acts_and_another_takes_over() {
    let s = Server::start_with(&["--disable-controllers"]).expect("server");
    let mut managers = vec![Manager::start(&s, "a"), Manager::start(&s, "b")];
    let first =
        eventually(Duration::from_secs(30), "a controller-manager leader", || holder(&s, "kube-controller-manager"));
    eventually(Duration::from_secs(30), "a scheduler leader", || holder(&s, "kube-scheduler"));
    let leader = eventually(Duration::from_secs(10), "the leader's log", || {
        managers.iter().position(|m| m.log().contains(&first) && m.log().contains("became leader"))
    });

    let out = s
        .kubectl_stdin(
            V,
            &["apply", "-f", "-"],
            Some(
                r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: keel-test/echo:v1}]}
"#,
            ),
        )
        .expect("kubectl apply");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    eventually(Duration::from_secs(30), "3 pods", || (count(&s, "pods") == 3).then_some(()));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!((count(&s, "rs"), count(&s, "pods")), (1, 3), "two managers acted at once");
    assert_eq!(holder(&s, "kube-controller-manager").as_deref(), Some(first.as_str()), "the lease stays put");

    // Kill the leader; the other takes over and keeps the cluster going.
    let gone = managers.remove(leader);
    drop(gone);
    let second = eventually(Duration::from_secs(30), "a new leader", || {
        holder(&s, "kube-controller-manager").filter(|h| *h != first)
    });
    assert!(managers[0].log().contains(&second), "the survivor holds the lease");
    let l = lease(&s, "kube-controller-manager").unwrap_or_default();
    assert!(l["spec"]["leaseTransitions"].as_i64().unwrap_or(0) >= 1, "{l}");
    s.ok(V, &["scale", "deployment", "web", "--replicas=5"]);
    eventually(Duration::from_secs(30), "5 pods", || (count(&s, "pods") == 5).then_some(()));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!((count(&s, "rs"), count(&s, "pods")), (1, 5));
}

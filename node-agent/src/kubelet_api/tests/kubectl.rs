//! Real kubectl (1.27: SPDY; 1.33: WebSocket, and SPDY tunneled in WebSocket for port-forward) through the
//! relaying stand-in API server to the kubelet API.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::fixture::{NetnsGuard, TestEnv};
use super::harness::TestServer;
use super::relay::FakeApiServer;

const VERSIONS: [&str; 7] = ["1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33"];

fn kubectl_binary(version: &str) -> PathBuf {
    PathBuf::from(format!("/usr/lib/google-cloud-sdk/bin/kubectl.{version}"))
}

struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
}

impl Kubectl {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command.arg("--kubeconfig").arg(&self.kubeconfig).args(args).kill_on_drop(true);
        command
    }

    /// Runs to completion: (exit code, stdout, stderr).
    async fn run(&self, args: &[&str], input: Option<&[u8]>) -> Result<(i32, String, String)> {
        let mut child = self
            .command(args)
            .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
            stdin.write_all(input).await?;
        }
        let output = tokio::time::timeout(Duration::from_secs(40), child.wait_with_output())
            .await
            .with_context(|| format!("kubectl {args:?} timed out"))??;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Ok((output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr)))
    }
}

async fn http_get(port: u16) -> Result<String> {
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.write_all(b"GET / HTTP/1.0\r\nHost: pod\r\n\r\n").await?;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_string(&mut response)).await??;
    Ok(response)
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_kubectl_exec_logs_and_port_forward() -> Result<()> {
    if !VERSIONS.iter().all(|v| kubectl_binary(v).exists()) {
        eprintln!("kubectl 1.27/1.33 not installed; skipping");
        return Ok(());
    }
    let env = TestEnv::new("kubectl")?;
    let netns = NetnsGuard::new()?;
    let script = "mkdir -p /www && echo hello-from-pod > /www/index.html && echo line1 && echo line2 && \
                  exec httpd -f -p 127.0.0.1:8080 -h /www";
    let mut spec = env.spec("web", &["sh", "-c", script]);
    spec.netns = Some(netns.path());
    let web = env.start(spec)?;
    web.wait_for_log("line2")?;
    let server = TestServer::start(env.runtime.clone()).await?;
    server.lookup.add("default", "web", "app", &web.spec, vec![web.spec.log_path.clone()]);
    let api = FakeApiServer::start(&server).await?;
    let kubeconfig = api.kubeconfig(&env.dir)?;

    for version in VERSIONS {
        api.relayed.lock().unwrap_or_else(|e| e.into_inner()).clear();
        let kubectl = Kubectl { binary: kubectl_binary(version), kubeconfig: kubeconfig.clone() };
        let ctx = |what: &str| format!("kubectl {version}: {what}");

        let (code, out, err) = kubectl.run(&["exec", "web", "--", "echo", "hi"], None).await?;
        assert_eq!((code, out.as_str()), (0, "hi\n"), "{}: {err}", ctx("exec echo"));
        let (code, _, err) =
            kubectl.run(&["exec", "web", "--", "sh", "-c", "echo to-stderr >&2; exit 3"], None).await?;
        assert_eq!(code, 3, "{}: {err}", ctx("exit code"));
        assert!(err.contains("to-stderr"), "{}: {err}", ctx("stderr"));
        let (code, out, err) = kubectl.run(&["exec", "-i", "web", "--", "cat"], Some(b"piped\ninput\n")).await?;
        assert_eq!((code, out.as_str()), (0, "piped\ninput\n"), "{}: {err}", ctx("exec -i"));

        let (code, out, err) = kubectl.run(&["logs", "web", "--tail=1"], None).await?;
        assert_eq!((code, out.as_str()), (0, "line2\n"), "{}: {err}", ctx("logs --tail"));
        let (_, out, _) = kubectl.run(&["logs", "web", "--timestamps"], None).await?;
        let first = out.lines().next().unwrap_or("");
        assert!(first.ends_with("Z line1") && first.starts_with("20"), "{}: {out}", ctx("logs --timestamps"));

        let job_name = format!("job{}", version.replace('.', ""));
        let job = env.start(env.spec(&job_name, &["sh", "-c", "echo a; sleep 1; echo b; sleep 1; echo c"]))?;
        server.lookup.add("default", &job_name, "app", &job.spec, vec![job.spec.log_path.clone()]);
        let (code, out, err) = kubectl.run(&["logs", "-f", &job_name], None).await?;
        assert_eq!((code, out.as_str()), (0, "a\nb\nc\n"), "{}: {err}", ctx("logs -f"));
        assert!(!job.running());

        attach(&kubectl, &env, &server, &api, version).await.with_context(|| ctx("attach"))?;
        port_forward(&kubectl, version).await.with_context(|| ctx("port-forward"))?;

        // What each version spoke: exec over WebSocket from 1.30, port-forward tunneled in WebSocket from 1.31.
        let relayed = api.relayed.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let upgrade_of = |sub: &str| relayed.iter().find(|r| r.0 == sub).map(|r| (r.1.clone(), r.2.clone()));
        let minor: u32 = version.trim_start_matches("1.").parse()?;
        let (exec_upgrade, exec_protocols) = upgrade_of("exec").context("no exec relayed")?;
        let (pf_upgrade, pf_protocols) = upgrade_of("portforward").context("no port-forward relayed")?;
        eprintln!(
            "kubectl {version}: exec {exec_upgrade} [{exec_protocols}]; port-forward {pf_upgrade} [{pf_protocols}]"
        );
        assert_eq!(exec_upgrade.eq_ignore_ascii_case("websocket"), minor >= 30, "{}", ctx("exec transport"));
        assert_eq!(pf_upgrade.eq_ignore_ascii_case("websocket"), minor >= 31, "{}", ctx("port-forward transport"));
        if minor >= 31 {
            assert!(pf_protocols.contains("SPDY/3.1+portforward.k8s.io"), "{pf_protocols}");
        }
    }
    drop(api);
    Ok(())
}

/// `kubectl attach` shows what the container prints from then on and exits with the container's exit code.
async fn attach(
    kubectl: &Kubectl,
    env: &TestEnv,
    server: &TestServer,
    api: &FakeApiServer,
    version: &str,
) -> Result<()> {
    let name = format!("att{}", version.replace('.', ""));
    let script = "echo before; until [ -e /go ]; do sleep 0.05; done; echo attached-out; exit 4";
    let container = env.start(env.spec(&name, &["sh", "-c", script]))?;
    container.wait_for_log("before")?;
    server.lookup.add("default", &name, "app", &container.spec, vec![container.spec.log_path.clone()]);
    let child = kubectl.command(&["attach", &name]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let attached = || api.relayed.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|r| r.0 == "attach");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !attached() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give the kubelet side a moment to open the log before the container writes.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let go = vec!["sh".to_string(), "-c".to_string(), "echo > /go".to_string()];
    assert_eq!(env.runtime.exec(&container.spec.state_dir, &go, &[], false)?.wait()?, 0);
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await??;
    let (out, err) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!((output.status.code(), out.as_ref()), (Some(4), "attached-out\n"), "kubectl {version}: {err}");
    Ok(())
}

async fn port_forward(kubectl: &Kubectl, version: &str) -> Result<()> {
    let local = free_port()?;
    let mapping = format!("{local}:8080");
    let mut child = kubectl
        .command(&["port-forward", "pod/web", &mapping])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await? {
            if line.contains("Forwarding from") {
                return Ok::<bool, std::io::Error>(true);
            }
        }
        Ok(false)
    })
    .await;
    if !matches!(ready, Ok(Ok(true))) {
        let _ = child.kill().await;
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr.read_to_string(&mut err).await;
        }
        bail!("port-forward did not start ({ready:?}): {err}");
    }
    for _ in 0..3 {
        let response = http_get(local).await?;
        assert!(response.contains("hello-from-pod"), "kubectl {version}: {response}");
    }
    child.kill().await?;
    Ok(())
}

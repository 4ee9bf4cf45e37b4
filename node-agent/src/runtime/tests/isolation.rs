//! Nothing of the agent leaks into containers, and the API works from async code.

use std::path::PathBuf;

use anyhow::Result;
use tokio::io::AsyncReadExt;

use super::fixture::TestEnv;

#[test]
fn only_stdio_is_inherited() -> Result<()> {
    let env = TestEnv::new("fds")?;
    // ls opens the directory itself (fd 3) while listing.
    let container = env.container(env.spec("fds", &["sh", "-c", "ls /proc/self/fd; echo ready; sleep 1000"]));
    container.start()?;
    container.wait_for_line("ready")?;
    assert_eq!(container.lines("stdout"), vec!["0", "1", "2", "3", "ready"]);
    let args = vec!["ls".to_string(), "/proc/self/fd".to_string()];
    let mut process = env.runtime.exec(&container.spec.state_dir, &args, &[], false)?;
    let mut out = String::new();
    if let Some(mut stdout) = process.stdout.take() {
        std::io::Read::read_to_string(&mut stdout, &mut out)?;
    }
    assert_eq!(process.wait()?, 0);
    assert_eq!(out, "0\n1\n2\n3\n");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usable_from_a_tokio_runtime() -> Result<()> {
    let env = TestEnv::new("tokio")?;
    let mut spec = env.spec("tokio", &["sleep", "1000"]);
    spec.hostname = "async-host".into();
    let container = env.container(spec.clone());
    let runtime = env.runtime.clone();
    let pid = tokio::task::spawn_blocking(move || runtime.start(&spec)).await??;
    assert!(pid > 1);
    let state_dir: PathBuf = container.spec.state_dir.clone();
    let mut process = env.runtime.exec(&state_dir, &["hostname".to_string()], &[], false)?;
    let stdout = process.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut out = String::new();
    tokio::fs::File::from_std(stdout).read_to_string(&mut out).await?;
    let code = tokio::task::spawn_blocking(move || process.wait()).await??;
    assert_eq!((out.as_str(), code), ("async-host\n", 0));
    Ok(())
}

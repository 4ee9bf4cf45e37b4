//! Log rotation support: the shim reopens its log file on request.

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::fixture::read_log;
use super::fixture::TestEnv;

#[test]
fn shim_reopens_the_log_after_rotation() -> Result<()> {
    let env = TestEnv::new("reopen")?;
    let script = "echo first; until [ -e /go ]; do sleep 0.05; done; echo second";
    let container = env.container(env.spec("reopen", &["sh", "-c", script]));
    container.start()?;
    container.wait_for_line("first")?;
    let rotated = container.spec.log_path.with_extension("log.1");
    fs::rename(&container.spec.log_path, &rotated)?;
    env.runtime.reopen_log(&container.spec.state_dir)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !container.spec.log_path.exists() {
        if Instant::now() > deadline {
            bail!("the shim did not create a new log file");
        }
        thread::sleep(Duration::from_millis(10));
    }
    let args = vec!["touch".to_string(), "/go".to_string()];
    assert_eq!(env.runtime.exec(&container.spec.state_dir, &args, &[], false)?.wait()?, 0);
    assert_eq!(container.wait_exit_code()?, 0);
    let texts = |path| read_log(path).into_iter().map(|r| r.text).collect::<Vec<_>>();
    assert_eq!(texts(&rotated), vec!["first"]);
    assert_eq!(texts(&container.spec.log_path), vec!["second"]);
    Ok(())
}

//! Running extra processes inside a running container.

use std::io::{ErrorKind, Read};

use anyhow::Result;

use super::super::{ExecProcess, User};
use super::fixture::TestEnv;

fn output(mut process: ExecProcess) -> Result<(String, String, i32)> {
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut stdout) = process.stdout.take() {
        stdout.read_to_string(&mut out)?;
    }
    if let Some(mut stderr) = process.stderr.take() {
        stderr.read_to_string(&mut err)?;
    }
    let code = process.wait()?;
    Ok((out, err, code))
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

#[test]
fn exec_runs_inside_the_container() -> Result<()> {
    let env = TestEnv::new("exec")?;
    let mut spec = env.spec("exec", &["sleep", "1000"]);
    spec.hostname = "exec-host".into();
    spec.working_dir = Some("/home/app".into());
    spec.user = Some(User { uid: 1234, gid: 1234, supplementary_groups: vec![] });
    spec.env.push(("FROM_SPEC".into(), "spec".into()));
    let container = env.container(spec);
    container.start()?;
    let state_dir = container.spec.state_dir.clone();
    let run = |args: &[&str], extra: &[(String, String)]| -> Result<(String, String, i32)> {
        output(env.runtime.exec(&state_dir, &strings(args), extra, false)?)
    };

    assert_eq!(run(&["hostname"], &[])?, ("exec-host\n".into(), String::new(), 0));
    assert_eq!(run(&["sh", "-c", "echo oops >&2; exit 7"], &[])?, (String::new(), "oops\n".into(), 7));
    let extra = vec![("EXTRA".to_string(), "extra".to_string())];
    let (out, _, code) =
        run(&["sh", "-c", "echo $FROM_SPEC $EXTRA; pwd; id -u; cat /proc/1/cmdline; echo; echo $$"], &extra)?;
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..4], &["spec extra", "/home/app", "1234", "sleep\u{0}1000\u{0}"]);
    assert_ne!(lines[4], "1", "exec'd process is not the init but in its PID namespace");
    let (cgroups, _, _) = run(&["cat", "/proc/self/cgroup"], &[])?;
    let expected = format!("{}/{}", env.cgroup_parent, container.spec.id);
    assert!(
        cgroups.lines().filter(|l| l.contains(":memory:") || l.starts_with("0::")).all(|l| l.ends_with(&expected)),
        "{cgroups}"
    );

    let missing = env.runtime.exec(&state_dir, &strings(&["/nope"]), &[], false);
    assert!(matches!(&missing, Err(e) if e.to_string().contains("No such file")), "{missing:?}");
    Ok(())
}

#[test]
fn exec_with_a_tty() -> Result<()> {
    let env = TestEnv::new("exectty")?;
    let container = env.container(env.spec("exectty", &["sleep", "1000"]));
    container.start()?;
    let mut process =
        env.runtime.exec(&container.spec.state_dir, &strings(&["sh", "-c", "echo tty-ok; tty"]), &[], true)?;
    process.resize_tty(100, 40)?;
    let mut master = process.pty_master.take().ok_or_else(|| anyhow::anyhow!("no pty master"))?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // A pty master reads EIO once every slave descriptor is closed.
            Err(e) if e.raw_os_error() == Some(nix::libc::EIO) || e.kind() == ErrorKind::Interrupted => break,
            Err(e) => return Err(e.into()),
        }
    }
    let text = String::from_utf8_lossy(&out);
    assert_eq!(text, "tty-ok\r\n/dev/pts/0\r\n", "the terminal comes from the container's own devpts");
    assert_eq!(process.wait()?, 0, "{text:?}");
    Ok(())
}

#[test]
fn exec_into_a_stopped_container_fails() -> Result<()> {
    let env = TestEnv::new("execstopped")?;
    let container = env.container(env.spec("execstopped", &["true"]));
    container.start()?;
    container.wait_exit_code()?;
    let result = env.runtime.exec(&container.spec.state_dir, &strings(&["true"]), &[], false);
    assert!(matches!(result, Err(super::super::RuntimeError::NotRunning(_))), "{result:?}");
    Ok(())
}

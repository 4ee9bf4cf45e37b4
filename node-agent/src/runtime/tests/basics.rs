//! Output, exit codes, start failures, identity and the layered root filesystem.

use std::fs;
use std::os::unix::fs::symlink;

use anyhow::Result;
use nix::sys::stat::{makedev, mknod, Mode, SFlag};

use super::super::{ContainerState, RuntimeError, User};
use super::fixture::{make_busybox_layer, TestEnv};

fn is_rfc3339_nano_utc(time: &str) -> bool {
    let bytes = time.as_bytes();
    time.len() >= 20
        && time.ends_with('Z')
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':'
        && time[..4].parse::<u32>().is_ok_and(|y| y >= 2024)
}

#[test]
fn output_goes_to_the_cri_log() -> Result<()> {
    let env = TestEnv::new("log")?;
    let script = "echo hello; echo oops >&2; head -c 20000 /dev/zero | tr '\\000' a; echo; printf unterminated";
    let container = env.container(env.spec("log", &["sh", "-c", script]));
    container.start()?;
    assert_eq!(container.wait_exit_code()?, 0);
    let records = container.log_records();
    for record in &records {
        assert!(is_rfc3339_nano_utc(&record.time), "bad time in {record:?}");
        assert!(record.tag == "F" || record.tag == "P", "{record:?}");
    }
    let summary: Vec<(&str, &str, usize)> =
        records.iter().map(|r| (r.stream.as_str(), r.tag.as_str(), r.text.len())).collect();
    assert!(records.iter().any(|r| r.stream == "stdout" && r.tag == "F" && r.text == "hello"), "{summary:?}");
    assert!(records.iter().any(|r| r.stream == "stderr" && r.tag == "F" && r.text == "oops"), "{summary:?}");
    let stdout: Vec<_> = records.iter().filter(|r| r.stream == "stdout").collect();
    let long: Vec<(&str, usize)> = stdout[1..3].iter().map(|r| (r.tag.as_str(), r.text.len())).collect();
    assert_eq!(long, vec![("P", 16 * 1024), ("F", 20000 - 16 * 1024)]);
    assert_eq!(stdout.last().map(|r| (r.tag.as_str(), r.text.as_str())), Some(("F", "unterminated")));
    Ok(())
}

#[test]
fn exit_code_is_reported() -> Result<()> {
    let env = TestEnv::new("exit")?;
    let container = env.container(env.spec("exit", &["sh", "-c", "exit 3"]));
    container.start()?;
    match container.wait_finished()? {
        ContainerState::Exited { exit_code, signal, oom_killed, started_at, .. } => {
            assert_eq!((exit_code, signal, oom_killed), (3, None, false));
            assert!(started_at.is_some());
        }
        other => panic!("unexpected {other:?}"),
    }
    Ok(())
}

#[test]
fn missing_program_fails_start_with_the_reason() -> Result<()> {
    let env = TestEnv::new("missing")?;
    let cases = [
        ("abs", "/nope", "exec: \"/nope\": no such file or directory"),
        ("path", "nope", "exec: \"nope\": executable file not found in $PATH"),
    ];
    for (name, program, expected) in cases {
        let container = env.container(env.spec(name, &[program]));
        match container.start() {
            Err(RuntimeError::Start(message)) => assert_eq!(message, expected),
            other => panic!("expected a start error, got {other:?}"),
        }
        assert_eq!(container.state(), ContainerState::Failed { message: expected.to_string() });
    }
    Ok(())
}

#[test]
fn hostname_pid_env_working_dir_and_user_apply() -> Result<()> {
    let env = TestEnv::new("identity")?;
    let mut spec = env.spec(
        "identity",
        &["sh", "-c", "hostname; echo $$; echo $GREETING; pwd; id -u; id -g; id -G; touch /tmp-denied || echo denied"],
    );
    spec.hostname = "web-0".into();
    spec.env.push(("GREETING".into(), "hi there".into()));
    spec.working_dir = Some("/srv/app".into());
    spec.user = Some(User { uid: 1000, gid: 1001, supplementary_groups: vec![1001, 2000] });
    let container = env.container(spec);
    container.start()?;
    assert_eq!(container.wait_exit_code()?, 0);
    assert_eq!(
        container.lines("stdout"),
        vec!["web-0", "1", "hi there", "/srv/app", "1000", "1001", "1001 2000", "denied"]
    );
    Ok(())
}

#[test]
fn layers_stack_with_whiteouts_and_writes_go_to_upper() -> Result<()> {
    let env = TestEnv::new("layers")?;
    fs::create_dir_all(env.base_layer.join("etc"))?;
    fs::write(env.base_layer.join("etc/removed"), "old")?;
    fs::write(env.base_layer.join("etc/kept"), "kept")?;
    let top = env.dir.join("layers/top");
    fs::create_dir_all(top.join("etc"))?;
    fs::write(top.join("etc/greeting"), "from top\n")?;
    // overlayfs whiteout: a 0/0 character device hides the lower file.
    mknod(&top.join("etc/removed"), SFlag::S_IFCHR, Mode::from_bits_truncate(0o644), makedev(0, 0))?;
    let mut spec = env.spec("layers", &["sh", "-c", "cat /etc/greeting; ls /etc; echo new > /created"]);
    spec.layers.push(top.clone());
    let container = env.container(spec);
    container.start()?;
    assert_eq!(container.wait_exit_code()?, 0);
    assert_eq!(container.lines("stdout"), vec!["from top", "greeting", "kept"]);
    assert_eq!(fs::read_to_string(container.spec.state_dir.join("upper/created"))?, "new\n");
    assert!(!env.base_layer.join("created").exists() && !top.join("created").exists());
    Ok(())
}

#[test]
fn image_symlinks_cannot_redirect_mounts_to_the_host() -> Result<()> {
    let env = TestEnv::new("symlink")?;
    let layer = env.dir.join("layers/evil");
    make_busybox_layer(&layer)?;
    let host_target = env.dir.join("host-target");
    fs::create_dir_all(&host_target)?;
    // An image whose /data points at a host path: the mount must land inside the container.
    symlink(&host_target, layer.join("data"))?;
    let source = env.dir.join("volume");
    fs::create_dir_all(&source)?;
    fs::write(source.join("file"), "volume\n")?;
    let mut spec = env.spec("symlink", &["sh", "-c", "cat /data/file"]);
    spec.layers = vec![layer];
    spec.mounts.push(super::super::BindMount { source, destination: "/data".into(), read_only: true });
    let container = env.container(spec);
    container.start()?;
    assert_eq!(container.wait_exit_code()?, 0);
    assert_eq!(container.lines("stdout"), vec!["volume"]);
    assert_eq!(fs::read_dir(&host_target)?.count(), 0);
    Ok(())
}

//! Bind-mounted volumes: directories and files, read-only enforcement, writes reaching the host.

use std::fs;

use anyhow::Result;

use super::super::BindMount;
use super::fixture::TestEnv;

#[test]
fn bind_mounts_apply_and_read_only_is_enforced() -> Result<()> {
    let env = TestEnv::new("binds")?;
    let data = env.dir.join("data");
    fs::create_dir_all(&data)?;
    fs::write(data.join("hello.txt"), "hello from host\n")?;
    let conf = env.dir.join("app.conf");
    fs::write(&conf, "old\n")?;
    let script = "cat /data/hello.txt; \
                  (echo x > /data/new) 2>/dev/null || echo read-only; \
                  echo written > /etc/app/app.conf && echo wrote";
    let mut spec = env.spec("binds", &["sh", "-c", script]);
    spec.mounts = vec![
        BindMount { source: data.clone(), destination: "/data".into(), read_only: true },
        BindMount { source: conf.clone(), destination: "/etc/app/app.conf".into(), read_only: false },
    ];
    let container = env.container(spec);
    container.start()?;
    assert_eq!(container.wait_exit_code()?, 0);
    assert_eq!(container.lines("stdout"), vec!["hello from host", "read-only", "wrote"]);
    assert!(!data.join("new").exists());
    assert_eq!(fs::read_to_string(&conf)?, "written\n");
    Ok(())
}

#[test]
fn missing_mount_source_fails_start() -> Result<()> {
    let env = TestEnv::new("badmount")?;
    let mut spec = env.spec("badmount", &["true"]);
    let missing = env.dir.join("does-not-exist");
    spec.mounts = vec![BindMount { source: missing.clone(), destination: "/x".into(), read_only: false }];
    let container = env.container(spec);
    let error = container.start().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains(&missing.display().to_string()), "{error}");
    Ok(())
}

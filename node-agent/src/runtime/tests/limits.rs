//! cgroup placement and limits: files written, OOM kill detection, pids.max.

use std::fs;

use anyhow::{Context, Result};

use super::super::cgroups::CgroupVersion;
use super::super::{ContainerState, Resources};
use super::fixture::TestEnv;

fn read(dir: &std::path::Path, file: &str) -> Result<String> {
    Ok(fs::read_to_string(dir.join(file)).with_context(|| format!("read {file}"))?.trim().to_string())
}

#[test]
fn container_is_placed_in_every_hierarchy_with_its_limits() -> Result<()> {
    let env = TestEnv::new("cgroups")?;
    let mut spec = env.spec("cgroups", &["sleep", "1000"]);
    spec.resources = Resources {
        memory_limit_bytes: Some(64 << 20),
        cpu_quota_micros: Some(50_000),
        cpu_period_micros: Some(100_000),
        cpu_shares: Some(512),
        pids_max: Some(50),
    };
    let container = env.container(spec);
    let pid = container.start()?;
    let dirs = container.cgroups()?;
    assert!(dirs.iter().any(|d| d.version == CgroupVersion::V2), "the unified hierarchy is always joined: {dirs:?}");
    for dir in &dirs {
        assert!(dir.path.ends_with(format!("{}/{}", env.cgroup_parent, container.spec.id)), "{dir:?}");
        let procs = read(&dir.path, "cgroup.procs")?;
        assert!(procs.lines().any(|l| l == pid.to_string()), "{pid} not in {}: {procs}", dir.path.display());
    }
    for dir in &dirs {
        match dir.version {
            CgroupVersion::V1 if dir.has("memory") => {
                assert_eq!(read(&dir.path, "memory.limit_in_bytes")?, (64u64 << 20).to_string());
            }
            CgroupVersion::V1 if dir.has("cpu") => {
                assert_eq!(read(&dir.path, "cpu.cfs_quota_us")?, "50000");
                assert_eq!(read(&dir.path, "cpu.cfs_period_us")?, "100000");
                assert_eq!(read(&dir.path, "cpu.shares")?, "512");
            }
            CgroupVersion::V1 if dir.has("pids") => assert_eq!(read(&dir.path, "pids.max")?, "50"),
            CgroupVersion::V2 if dir.has("memory") => {
                assert_eq!(read(&dir.path, "memory.max")?, (64u64 << 20).to_string())
            }
            _ => {}
        }
    }
    Ok(())
}

#[test]
fn exceeding_the_memory_limit_is_an_oom_kill() -> Result<()> {
    let env = TestEnv::new("oom")?;
    let mut spec = env.spec("oom", &["sh", "-c", "x=0123456789abcdef; while true; do x=$x$x; done"]);
    spec.resources.memory_limit_bytes = Some(20 << 20);
    let container = env.container(spec);
    container.start()?;
    match container.wait_finished()? {
        ContainerState::Exited { exit_code, signal, oom_killed, message, .. } => {
            assert_eq!((exit_code, signal, oom_killed), (137, Some(9), true));
            assert_eq!(message.as_deref(), Some("OOMKilled"));
        }
        other => panic!("unexpected {other:?}"),
    }
    Ok(())
}

#[test]
fn pids_max_limits_forks() -> Result<()> {
    let env = TestEnv::new("pids")?;
    let script = "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 & done; echo spawned";
    let mut spec = env.spec("pids", &["sh", "-c", script]);
    spec.resources.pids_max = Some(4);
    let container = env.container(spec);
    container.start()?;
    container.wait_finished()?;
    let errors = container.lines("stderr").join("\n");
    assert!(errors.contains("fork"), "expected fork failures, got {errors:?}");
    Ok(())
}

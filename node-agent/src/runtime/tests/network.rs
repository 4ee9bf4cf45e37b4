//! Joining a given network namespace.

use anyhow::Result;

use super::fixture::{NetnsGuard, TestEnv};

#[test]
fn container_joins_the_given_network_namespace() -> Result<()> {
    let env = TestEnv::new("netns")?;
    let netns = NetnsGuard::new()?;
    let mut spec = env.spec("netns", &["cat", "/proc/net/dev"]);
    spec.netns = Some(netns.path());
    let container = env.container(spec);
    container.start()?;
    assert_eq!(container.wait_exit_code()?, 0);
    let interfaces: Vec<String> = container
        .lines("stdout")
        .iter()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(|n| n.trim().to_string()))
        .collect();
    assert_eq!(interfaces, vec!["lo"]);
    Ok(())
}

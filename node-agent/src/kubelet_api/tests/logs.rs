//! containerLogs against a real container's CRI log.

use std::time::Duration;

use anyhow::Result;
use http_body_util::BodyExt;
use hyper::StatusCode;

use super::fixture::TestEnv;
use super::harness::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_plain_tail_timestamps_previous_and_missing() -> Result<()> {
    let env = TestEnv::new("logs")?;
    let script = "echo one; echo two >&2; printf 'three'; sleep 0.1; echo ' and more'; echo four";
    let container = env.start(env.spec("logs", &["sh", "-c", script]))?;
    let server = TestServer::start(env.runtime.clone()).await?;
    let current = container.spec.log_path.clone();
    server.lookup.add("default", "web", "app", &container.spec, vec![current.clone()]);
    container.wait_for_log("four")?;
    while container.running() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    assert_eq!(server.get("/healthz").await?, (StatusCode::OK, "ok\n".into()));
    let base = "/containerLogs/default/web/app";
    assert_eq!(server.get(base).await?, (StatusCode::OK, "one\ntwo\nthree and more\nfour\n".into()));
    assert_eq!(server.get(&format!("{base}?tailLines=2")).await?.1, "three and more\nfour\n");
    assert_eq!(server.get(&format!("{base}?limitBytes=6")).await?.1, "one\ntw");

    let (status, stamped) = server.get(&format!("{base}?timestamps=true&tailLines=1")).await?;
    assert_eq!(status, StatusCode::OK);
    let file = std::fs::read_to_string(&current)?;
    let last_stamp = file.lines().last().and_then(|l| l.split(' ').next()).unwrap_or("");
    assert_eq!(stamped, format!("{last_stamp} four\n"));
    assert!(last_stamp.ends_with('Z') && last_stamp.contains('T'));
    assert_eq!(server.get(&format!("{base}?sinceTime=2999-01-01T00:00:00Z")).await?.1, "");

    let (status, message) = server.get(&format!("{base}?previous=true")).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("previous terminated container \"app\" in pod \"web\" not found"), "{message}");
    let previous = env.dir.join("previous.log");
    std::fs::write(&previous, "2024-01-01T00:00:00Z stdout F old run\n")?;
    server.lookup.add("default", "web2", "app", &container.spec, vec![previous, current]);
    assert_eq!(server.get("/containerLogs/default/web2/app?previous=1").await?.1, "old run\n");

    let (status, message) = server.get("/containerLogs/default/web/nope").await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message.contains("\"nope\""), "{message}");
    assert_eq!(server.get(&format!("{base}?tailLines=x")).await?.0, StatusCode::BAD_REQUEST);
    assert_eq!(server.get("/nothing/here").await?.0, StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_streams_until_the_container_exits() -> Result<()> {
    let env = TestEnv::new("follow")?;
    let script = "echo first; until [ -e /go ]; do sleep 0.05; done; echo second; sleep 0.3; echo third";
    let container = env.start(env.spec("follow", &["sh", "-c", script]))?;
    let server = TestServer::start(env.runtime.clone()).await?;
    server.lookup.add("default", "web", "app", &container.spec, vec![container.spec.log_path.clone()]);
    container.wait_for_log("first")?;

    let response = server.get_stream("/containerLogs/default/web/app?follow=true").await?;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut text = String::new();
    while !text.contains("first\n") {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame()).await?;
        let Some(frame) = frame else { anyhow::bail!("stream ended early: {text:?}") };
        if let Ok(data) = frame?.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(container.running(), "the first line came while the container runs");
    let touch = vec!["sh".to_string(), "-c".to_string(), "echo > /go".to_string()];
    assert_eq!(env.runtime.exec(&container.spec.state_dir, &touch, &[], false)?.wait()?, 0);
    let rest = tokio::time::timeout(Duration::from_secs(20), body.collect()).await??.to_bytes();
    text.push_str(&String::from_utf8_lossy(&rest));
    assert_eq!(text, "first\nsecond\nthird\n");
    assert!(!container.running(), "the stream ends once the container has exited");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_stops_when_the_client_goes_away() -> Result<()> {
    let env = TestEnv::new("followgone")?;
    let container = env.start(env.spec("followgone", &["sh", "-c", "echo up; sleep 1000"]))?;
    let server = TestServer::start(env.runtime.clone()).await?;
    server.lookup.add("default", "web", "app", &container.spec, vec![container.spec.log_path.clone()]);
    container.wait_for_log("up")?;
    let tasks_before = tokio::runtime::Handle::current().metrics().num_alive_tasks();
    let response = server.get_stream("/containerLogs/default/web/app?follow=1").await?;
    let mut body = response.into_body();
    let first = tokio::time::timeout(Duration::from_secs(10), body.frame()).await?;
    assert!(first.is_some());
    drop(body);
    // The follow task notices the closed body and ends; the connection task ends with it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::runtime::Handle::current().metrics().num_alive_tasks() > tasks_before {
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("follow task still alive");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

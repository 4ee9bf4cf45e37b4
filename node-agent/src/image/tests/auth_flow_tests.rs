//! Registry authentication flows and blob reuse against the loopback stub.

use super::super::ImageError;
use super::fixtures::{two_layers, TestImage};
use super::stub_registry::{StubAuth, StubRegistry, PASSWORD, USER};
use super::TestStore;

fn image() -> TestImage {
    let (base, top) = two_layers();
    TestImage::new(vec![base, top], &["auth"])
}

fn credentials() -> Option<(String, String)> {
    Some((USER.to_string(), PASSWORD.to_string()))
}

#[tokio::test]
async fn bearer_token_flow_with_credentials_and_blob_reuse() {
    let image = image();
    let stub = StubRegistry::start(StubAuth::BearerWithCredentials, "keel-test/echo", "v1", &image, false).await;
    let t = TestStore::new();
    let reference = stub.reference("v1");
    let summary = t.store.pull(&reference, credentials(), false, &mut |_| {}).await.expect("pull");
    assert_eq!(summary.digest, image.manifest_digest.to_string());
    assert_eq!(stub.token_requests(), 1, "the token is reused for every request");
    assert_eq!(stub.blob_requests(), 3, "config and two layers");
    assert!(t.store.resolve(&reference).expect("resolve").is_some());

    // Pulling again fetches the manifest only: config and layers are present.
    t.store.pull(&reference, credentials(), false, &mut |_| {}).await.expect("pull again");
    assert_eq!(stub.blob_requests(), 3);
}

#[tokio::test]
async fn bearer_token_flow_rejects_bad_or_missing_credentials() {
    let image = image();
    let stub = StubRegistry::start(StubAuth::BearerWithCredentials, "keel-test/echo", "v1", &image, false).await;
    let t = TestStore::new();
    let wrong = Some((USER.to_string(), "wrong".to_string()));
    let err = t.store.pull(&stub.reference("v1"), wrong, false, &mut |_| {}).await.expect_err("wrong password");
    assert!(matches!(err, ImageError::Unauthorized { .. }), "{err}");
    assert!(err.to_string().contains("rejected the credentials"), "{err}");
    let err = t.store.pull(&stub.reference("v1"), None, false, &mut |_| {}).await.expect_err("anonymous");
    assert!(err.to_string().contains("refused anonymous access"), "{err}");
    assert!(t.store.list().expect("list").is_empty());
}

#[tokio::test]
async fn anonymous_bearer_token_flow() {
    let image = image();
    let stub = StubRegistry::start(StubAuth::BearerAnonymous, "library/busybox", "latest", &image, false).await;
    let t = TestStore::new();
    let summary = t.store.pull(&stub.reference("latest"), None, false, &mut |_| {}).await.expect("pull");
    assert_eq!(summary.reference, stub.reference("latest"));
}

#[tokio::test]
async fn basic_challenge_flow() {
    let image = image();
    let stub = StubRegistry::start(StubAuth::Basic, "keel-test/echo", "v1", &image, false).await;
    let t = TestStore::new();
    let err = t.store.pull(&stub.reference("v1"), None, false, &mut |_| {}).await.expect_err("no credentials");
    assert!(err.to_string().contains("requires basic auth"), "{err}");
    t.store.pull(&stub.reference("v1"), credentials(), false, &mut |_| {}).await.expect("pull with basic auth");
    assert_eq!(stub.token_requests(), 0);
}

#[tokio::test]
async fn tampered_layer_from_registry_is_rejected_and_store_unchanged() {
    let image = image();
    let stub = StubRegistry::start(StubAuth::BearerAnonymous, "keel-test/echo", "v1", &image, true).await;
    let t = TestStore::new();
    let before = t.snapshot();
    let err = t.store.pull(&stub.reference("v1"), None, false, &mut |_| {}).await.expect_err("tampered");
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert_eq!(t.snapshot(), before);
}

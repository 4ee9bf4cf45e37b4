//! Pulls from a real registry process (anonymous, plain HTTP on loopback).

use std::fs;

use super::super::{Digest, ImageError, ImportProgress};
use super::fixtures::{index_of, two_layers, LayerBlob, Node, TestImage};
use super::registry_process::{push_image, push_manifest, RegistryProcess};
use super::TestStore;

#[tokio::test]
async fn pulls_image_and_index_from_real_registry() {
    let registry = RegistryProcess::start().await;
    let base = registry.base();
    let (layer1, layer2) = two_layers();
    let image = TestImage::new(vec![layer1.clone(), layer2], &["pulled"]);
    push_image(&base, "keel-test/echo", "v1", &image).await;

    let t = TestStore::new();
    let reference = format!("127.0.0.1:{}/keel-test/echo:v1", registry.port);
    let mut events = Vec::new();
    let summary = t.store.pull(&reference, None, false, &mut |e| events.push(e)).await.expect("pull");
    assert_eq!(summary.reference, reference);
    assert_eq!(summary.digest, image.manifest_digest.to_string());
    assert_eq!(summary.size, image.layer_size());
    assert_eq!(events.len(), 3);
    assert_eq!(events[2], ImportProgress::Image { reference: reference.clone() });

    let resolved = t.store.resolve(&reference).expect("resolve").expect("present");
    assert_eq!(resolved.config.cmd, ["pulled"]);
    assert_eq!(fs::read(resolved.layers[0].join("etc/keep")).expect("read"), b"keep");
    assert!(resolved.layers[1].join("etc/removed").exists(), "whiteout present");
    assert_eq!(fs::read_dir(t.store.root().join("tmp")).expect("tmp").count(), 0, "staging cleaned");

    // A multi-platform index: the amd64 entry is chosen.
    let amd = TestImage::for_arch(
        vec![layer1.clone(), LayerBlob::new(&[Node::File("arch", b"amd64", 0o644)], true)],
        &["amd"],
        "amd64",
    );
    let arm =
        TestImage::for_arch(vec![LayerBlob::new(&[Node::File("arch", b"arm64", 0o644)], true)], &["arm"], "arm64");
    push_image(&base, "keel-test/multi", &amd.manifest_digest.to_string(), &amd).await;
    push_image(&base, "keel-test/multi", &arm.manifest_digest.to_string(), &arm).await;
    let index = index_of(&[(&arm, "arm64"), (&amd, "amd64")]);
    push_manifest(&base, "keel-test/multi", "v2", "application/vnd.oci.image.index.v1+json", &index).await;
    let multi = format!("127.0.0.1:{}/keel-test/multi:v2", registry.port);
    let summary = t.store.pull(&multi, None, false, &mut |_| {}).await.expect("pull index");
    assert_eq!(summary.digest, Digest::of_bytes(&index).to_string());
    let resolved = t.store.resolve(&multi).expect("resolve").expect("present");
    assert_eq!(resolved.config.cmd, ["amd"]);
    assert_eq!(fs::read(resolved.layers[1].join("arch")).expect("read"), b"amd64");

    // A Docker v2 schema 2 manifest.
    let docker = TestImage::new(vec![layer1.clone()], &["docker"]).with_docker_manifest();
    push_image(&base, "keel-test/docker", "v1", &docker).await;
    let docker_ref = format!("127.0.0.1:{}/keel-test/docker:v1", registry.port);
    t.store.pull(&docker_ref, None, false, &mut |_| {}).await.expect("pull docker manifest");
    assert_eq!(t.store.resolve(&docker_ref).expect("resolve").expect("present").config.cmd, ["docker"]);

    // Pull by digest.
    let pinned = format!("127.0.0.1:{}/keel-test/echo@{}", registry.port, image.manifest_digest);
    let summary = t.store.pull(&pinned, None, false, &mut |_| {}).await.expect("pull by digest");
    assert_eq!(summary.reference, pinned);

    // Unknown tag: a clear not-found error.
    let missing = format!("127.0.0.1:{}/keel-test/echo:nope", registry.port);
    let err = t.store.pull(&missing, None, false, &mut |_| {}).await.expect_err("missing tag");
    assert!(matches!(err, ImageError::NotFound(_)), "{err}");
}

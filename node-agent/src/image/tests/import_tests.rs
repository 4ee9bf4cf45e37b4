use std::fs;
use std::os::linux::fs::MetadataExt as _;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use serde_json::json;

use super::super::{ImageConfig, ImageError, ImportProgress};
use super::fixtures::{
    docker_save_archive, gzip, index_of, oci_archive, two_layers, ArchiveBuilder, LayerBlob, Node, TestImage, MTIME,
};
use super::{get_xattr, TestStore};

#[test]
fn imports_oci_layout_and_resolves_every_form() {
    let t = TestStore::new();
    let (base, top) = two_layers();
    let image = TestImage::new(vec![base.clone(), top.clone()], &["echo hello"]);
    // The outer archive gzipped too: import sniffs it.
    let archive = gzip(&oci_archive(&[(&image, Some("keel-test/echo:v1"))]));
    let (summaries, events) = t.import_bytes("echo.tar.gz", &archive).expect("import");

    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].reference, "docker.io/keel-test/echo:v1");
    assert_eq!(summaries[0].digest, image.manifest_digest.to_string());
    assert_eq!(summaries[0].size, image.layer_size());
    assert_eq!(summaries[0].created.as_deref(), Some("2026-01-02T03:04:05Z"));
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[0],
        ImportProgress::Layer { digest: base.digest.to_string(), index: 1, total: 2, bytes: base.blob.len() as u64 }
    );
    assert_eq!(events[2], ImportProgress::Image { reference: "docker.io/keel-test/echo:v1".into() });
    assert_eq!(t.store.list().expect("list"), summaries);

    let by_digest = format!("keel-test/echo@{}", image.manifest_digest);
    for form in
        ["keel-test/echo:v1", "docker.io/keel-test/echo:v1", by_digest.as_str(), &image.manifest_digest.to_string()]
    {
        let resolved = t.store.resolve(form).expect("resolve").unwrap_or_else(|| panic!("{form} not resolved"));
        assert_eq!(resolved.summary.reference, "docker.io/keel-test/echo:v1", "{form}");
    }
    assert!(t.store.resolve("keel-test/echo:v2").expect("resolve").is_none());
    assert!(t.store.resolve("busybox").expect("resolve").is_none());

    let image = t.store.resolve("keel-test/echo:v1").expect("resolve").expect("present");
    assert_eq!(
        image.config,
        ImageConfig {
            entrypoint: vec!["/bin/sh".into(), "-c".into()],
            cmd: vec!["echo hello".into()],
            env: vec!["PATH=/bin".into(), "GREETING=hi".into()],
            working_dir: Some("/srv".into()),
            user: Some("1000:1000".into()),
            exposed_ports: vec!["8080/tcp".into()],
        }
    );
    assert_eq!(image.layers.len(), 2);
    assert!(image.layers[0].ends_with(base.diff_id.hex()));
    let (lower, upper) = (&image.layers[0], &image.layers[1]);

    // Base layer: plain files with modes and mtimes.
    assert_eq!(fs::read(lower.join("bin/hello")).expect("read"), b"#!/bin/sh\necho hello\n");
    let hello = fs::metadata(lower.join("bin/hello")).expect("stat");
    assert_eq!(hello.permissions().mode() & 0o7777, 0o755);
    assert_eq!(hello.mtime() as u64, MTIME);
    assert_eq!(fs::metadata(lower.join("data")).expect("stat").st_mtime() as u64, MTIME);

    // Upper layer: whiteout device, opaque xattr, ownership, setuid, symlink, hardlink, no device.
    let whiteout = fs::symlink_metadata(upper.join("etc/removed")).expect("whiteout");
    assert!(whiteout.file_type().is_char_device());
    assert_eq!(whiteout.rdev(), 0);
    assert!(!upper.join("etc/.wh.removed").exists());
    assert_eq!(get_xattr(&upper.join("data"), "trusted.overlay.opaque").as_deref(), Some(&b"y"[..]));
    assert!(!upper.join("data/.wh..wh..opq").exists());
    assert_eq!(fs::metadata(upper.join("data")).expect("stat").permissions().mode() & 0o777, 0o700);
    let owned = fs::metadata(upper.join("srv/owned")).expect("stat");
    assert_eq!((owned.uid(), owned.gid(), owned.mode() & 0o777), (1000, 1000, 0o640));
    assert_eq!(fs::metadata(upper.join("srv/suid")).expect("stat").mode() & 0o7777, 0o4755);
    assert_eq!(fs::read_link(upper.join("srv/link")).expect("readlink").to_str(), Some("/etc/keep"));
    assert_eq!(fs::metadata(upper.join("srv/hard")).expect("stat").ino(), owned.ino());
    assert!(fs::symlink_metadata(upper.join("srv/null")).is_err(), "device nodes are skipped");

    // Staging is gone.
    let tmp = t.store.root().join("tmp");
    assert_eq!(fs::read_dir(&tmp).expect("tmp").count(), 0);
}

#[test]
fn imports_old_docker_save_with_shared_symlinked_layer() {
    let t = TestStore::new();
    let (base, top) = two_layers();
    let first = TestImage::new(vec![base.clone(), top], &["one"]);
    let other_top = LayerBlob::new(&[Node::File("other", b"other", 0o644)], false);
    let second = TestImage::new(vec![base.clone(), other_top], &["two"]);
    let archive = docker_save_archive(&[
        (&first, &["busybox:latest", "keel-test/echo:v1"]),
        (&second, &["localhost:5000/x/y:tag"]),
    ]);
    let (summaries, _) = t.import_bytes("save.tar", &archive).expect("import");
    let names: Vec<&str> = summaries.iter().map(|s| s.reference.as_str()).collect();
    assert_eq!(names, ["docker.io/library/busybox:latest", "docker.io/keel-test/echo:v1", "localhost:5000/x/y:tag"]);

    let one = t.store.resolve("busybox").expect("resolve").expect("busybox");
    let two = t.store.resolve("localhost:5000/x/y:tag").expect("resolve").expect("x/y");
    assert_eq!(one.config.cmd, ["one"]);
    assert_eq!(two.config.cmd, ["two"]);
    assert_eq!(one.layers[0], two.layers[0], "the base layer is shared");
    assert!(one.layers[1].join("etc/removed").exists());
    assert_eq!(fs::read(two.layers[1].join("other")).expect("read"), b"other");
    // Docker-save layers are uncompressed here: sizes are the tar sizes.
    assert_eq!(fs::read_dir(t.store.root().join("layers")).expect("layers").count(), 3);
}

#[test]
fn imports_new_docker_layout_named_by_manifest_json() {
    // docker >= 25: OCI layout plus manifest.json with RepoTags, index.json without names.
    let t = TestStore::new();
    let (base, top) = two_layers();
    let image = TestImage::new(vec![base, top], &["new"]);
    let mut archive = ArchiveBuilder::default();
    archive.image_blobs(&image);
    archive.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    let index = json!({"schemaVersion": 2, "manifests": [image.manifest_descriptor()]});
    archive.file("index.json", &serde_json::to_vec(&index).expect("json"));
    let manifest = json!([{
        "Config": format!("blobs/sha256/{}", image.config_digest.hex()),
        "RepoTags": ["keel-test/new:v2"],
        "Layers": image.layers.iter().map(|l| format!("blobs/sha256/{}", l.digest.hex())).collect::<Vec<_>>()
    }]);
    archive.file("manifest.json", &serde_json::to_vec(&manifest).expect("json"));
    let (summaries, _) = t.import_bytes("new.tar", &archive.finish()).expect("import");
    assert_eq!(summaries[0].reference, "docker.io/keel-test/new:v2");
    assert_eq!(summaries[0].digest, image.manifest_digest.to_string());
}

#[test]
fn imports_platform_from_nested_index_with_containerd_name() {
    let t = TestStore::new();
    let amd =
        TestImage::for_arch(vec![LayerBlob::new(&[Node::File("arch", b"amd64", 0o644)], true)], &["amd"], "amd64");
    let arm =
        TestImage::for_arch(vec![LayerBlob::new(&[Node::File("arch", b"arm64", 0o644)], true)], &["arm"], "arm64");
    let index = index_of(&[(&arm, "arm64"), (&amd, "amd64")]);
    let index_digest = super::super::Digest::of_bytes(&index);
    let mut archive = ArchiveBuilder::default();
    archive.image_blobs(&amd).image_blobs(&arm).blob(&index_digest, &index);
    archive.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    let top = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": index_digest.to_string(),
        "size": index.len(),
        "annotations": {"io.containerd.image.name": "docker.io/library/multi:1", "org.opencontainers.image.ref.name": "1"}
    }]});
    archive.file("index.json", &serde_json::to_vec(&top).expect("json"));
    let (summaries, _) = t.import_bytes("multi.tar", &archive.finish()).expect("import");
    assert_eq!(summaries[0].reference, "docker.io/library/multi:1");
    assert_eq!(summaries[0].digest, index_digest.to_string());
    let image = t.store.resolve("multi:1").expect("resolve").expect("present");
    assert_eq!(image.config.cmd, ["amd"]);
    assert_eq!(fs::read(image.layers[0].join("arch")).expect("read"), b"amd64");
    // Pinned by the platform manifest digest works too.
    assert!(t.store.resolve(&format!("multi@{}", amd.manifest_digest)).expect("resolve").is_some());
}

#[test]
fn remove_keeps_layers_still_shared() {
    let t = TestStore::new();
    let (base, top) = two_layers();
    let first = TestImage::new(vec![base.clone(), top.clone()], &["one"]);
    let second = TestImage::new(vec![base.clone(), LayerBlob::new(&[Node::File("x", b"x", 0o644)], true)], &["two"]);
    let archive = oci_archive(&[(&first, Some("first:1")), (&second, Some("second:1"))]);
    t.import_bytes("both.tar", &archive).expect("import");
    let layers = t.store.root().join("layers");

    t.store.remove("first:1").expect("remove first");
    assert!(t.store.resolve("first:1").expect("resolve").is_none());
    assert!(layers.join(base.diff_id.hex()).is_dir(), "shared base layer kept");
    assert!(!layers.join(top.diff_id.hex()).exists(), "unused layer deleted");
    assert!(!t.store.root().join("blobs/sha256").join(first.config_digest.hex()).exists());
    let second_image = t.store.resolve("second:1").expect("resolve").expect("second still there");
    assert!(second_image.layers.iter().all(|l| l.is_dir()));

    assert!(matches!(t.store.remove("first:1"), Err(ImageError::NotFound(_))));
    t.store.remove("docker.io/library/second:1").expect("remove second");
    assert!(t.store.list().expect("list").is_empty());
    assert_eq!(fs::read_dir(&layers).expect("layers").count(), 0);
    assert_eq!(fs::read_dir(t.store.root().join("blobs/sha256")).expect("blobs").count(), 0);
}

#[test]
fn corrupt_layer_blob_is_rejected_and_store_unchanged() {
    let t = TestStore::new();
    let (base, top) = two_layers();
    let good = TestImage::new(vec![base.clone()], &["good"]);
    t.import_bytes("good.tar", &oci_archive(&[(&good, Some("good:1"))])).expect("import good");
    let before = t.snapshot();

    // Same descriptors, but the second layer's bytes are altered in the archive.
    let image = TestImage::new(vec![base, top.clone()], &["bad"]);
    let mut tampered = top.blob.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    let mut archive = ArchiveBuilder::default();
    archive.blob(&top.digest, &tampered).image_blobs(&image);
    archive.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    let mut descriptor = image.manifest_descriptor();
    descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": "bad:1"});
    archive.file(
        "index.json",
        &serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [descriptor]})).expect("json"),
    );

    let err = t.import_bytes("bad.tar", &archive.finish()).expect_err("corrupt import must fail");
    let message = err.to_string();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{message}");
    assert!(message.contains("digest mismatch for layer") && message.contains(&top.digest.to_string()), "{message}");
    assert_eq!(t.snapshot(), before, "store unchanged");
    assert!(t.store.resolve("bad:1").expect("resolve").is_none());
}

#[test]
fn wrong_diff_id_is_rejected_and_store_unchanged() {
    let t = TestStore::new();
    let (base, top) = two_layers();
    let mut image = TestImage::new(vec![base, top.clone()], &["bad"]);
    // The config claims another diff-id for the top layer (blob digests all fine).
    let mut config: serde_json::Value = serde_json::from_slice(&image.config).expect("json");
    config["rootfs"]["diff_ids"][1] = json!(format!("sha256:{}", "0".repeat(64)));
    image.config = serde_json::to_vec(&config).expect("json");
    image.config_digest = super::super::Digest::of_bytes(&image.config);
    let archive = docker_save_archive(&[(&image, &["bad:1"])]);
    let before = t.snapshot();
    let err = t.import_bytes("bad.tar", &archive).expect_err("must fail");
    assert!(err.to_string().contains("diff-id"), "{err}");
    assert_eq!(t.snapshot(), before);
}

#[test]
fn archive_with_path_traversal_is_rejected() {
    let t = TestStore::new();
    let mut archive = ArchiveBuilder::default();
    archive.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    let mut bytes = archive.finish();
    // Append a raw "../escape" entry the tar builder itself would refuse.
    let evil = super::fixtures::layer_tar(&[Node::Raw {
        name: "../escape",
        kind: tar::EntryType::Regular,
        link: None,
        data: b"x",
    }]);
    bytes.truncate(bytes.len() - 1024); // drop the end-of-archive blocks
    bytes.extend_from_slice(&evil);
    let err = t.import_bytes("evil.tar", &bytes).expect_err("must fail");
    assert!(matches!(err, ImageError::UnsafePath { .. }), "{err}");
    assert!(!t.scratch.parent().expect("parent").join("escape").exists());
    assert!(t.store.list().expect("list").is_empty());
}

#[test]
fn rejects_archives_that_are_neither_format() {
    let t = TestStore::new();
    let mut archive = ArchiveBuilder::default();
    archive.file("hello.txt", b"hi");
    let err = t.import_bytes("plain.tar", &archive.finish()).expect_err("must fail");
    assert!(err.to_string().contains("neither an OCI image layout"), "{err}");
}

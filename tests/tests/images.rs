//! `keel image import|ls|rm` on a node's image store, with the project's
//! own test image archives.

use keel_e2e::{cluster::image_archives, keel_bin};
use std::process::Command;

fn keel(data_dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(keel_bin()).arg("image").args(args).arg("--data-dir").arg(data_dir).output().expect("keel");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn import_list_and_remove_images() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archives = image_archives().expect("cargo xtask images");
    let paths: Vec<&str> = archives.iter().filter_map(|p| p.to_str()).collect();
    let (ok, out) = keel(dir.path(), &[&["import"], paths.as_slice()].concat());
    assert!(ok, "{out}");
    assert!(out.contains("layer 1/1"), "progress is shown: {out}");
    for name in ["docker.io/keel-test/echo:v1", "docker.io/keel-test/echo:v2", "docker.io/keel-test/toolbox:latest"] {
        assert!(out.contains(&format!("imported {name} sha256:")), "{out}");
    }
    let (ok, list) = keel(dir.path(), &["ls"]);
    assert!(ok, "{list}");
    assert_eq!(list.lines().filter(|l| l.contains("keel-test/")).count(), 3, "{list}");

    // The two echo images share their layer: removing one keeps the other whole.
    let (ok, out) = keel(dir.path(), &["rm", "keel-test/echo:v1"]);
    assert!(ok, "{out}");
    let (_, list) = keel(dir.path(), &["ls"]);
    assert!(!list.contains("echo:v1") && list.contains("echo:v2"), "{list}");
    let layers = std::fs::read_dir(dir.path().join("images/layers")).map(|d| d.count()).unwrap_or(0);
    assert!(layers >= 2, "layers of echo:v2 and the toolbox stay: {layers}");

    // Bad input: a missing image and a file that is not an archive.
    let (ok, out) = keel(dir.path(), &["rm", "keel-test/nothing:v1"]);
    assert!(!ok && out.contains("nothing"), "{out}");
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, b"this is not a tar archive").expect("write");
    let (ok, out) = keel(dir.path(), &["import", junk.to_str().unwrap_or_default()]);
    assert!(!ok, "{out}");
    let (_, after) = keel(dir.path(), &["ls"]);
    assert_eq!(after, list, "a failed import leaves the store as it was");
}

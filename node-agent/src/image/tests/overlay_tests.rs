//! Stacks imported layer directories as a real overlay mount and checks the merged view.

use std::fs;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::fixtures::{oci_archive, two_layers, TestImage};
use super::TestStore;

/// Unmounts on drop, even when an assertion fails.
struct MountGuard(PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        if let Err(e) = umount2(&self.0, MntFlags::MNT_DETACH) {
            eprintln!("unmount {}: {e}", self.0.display());
        }
    }
}

fn mount_overlay(layers: &[PathBuf], target: &Path) -> MountGuard {
    // overlayfs wants the topmost layer first.
    let lower: Vec<String> = layers.iter().rev().map(|l| l.display().to_string()).collect();
    let options = format!("lowerdir={}", lower.join(":"));
    mount(Some("overlay"), target, Some("overlay"), MsFlags::MS_RDONLY, Some(options.as_str())).expect("mount overlay");
    MountGuard(target.to_path_buf())
}

#[test]
fn stacked_layers_hide_whiteouts_and_opaque_dirs() {
    let t = TestStore::new();
    let (base, top) = two_layers();
    let image = TestImage::new(vec![base, top], &["x"]);
    t.import_bytes("img.tar", &oci_archive(&[(&image, Some("overlay-test:1"))])).expect("import");
    let resolved = t.store.resolve("overlay-test:1").expect("resolve").expect("present");

    let merged = t.scratch.join("merged");
    fs::create_dir(&merged).expect("mkdir");
    let _mounted = mount_overlay(&resolved.layers, &merged);

    assert_eq!(fs::read(merged.join("bin/hello")).expect("from base"), b"#!/bin/sh\necho hello\n");
    assert_eq!(fs::read(merged.join("etc/keep")).expect("kept"), b"keep");
    assert!(!merged.join("etc/removed").exists(), "whiteout hides the lower file");
    let mut data: Vec<String> = fs::read_dir(merged.join("data"))
        .expect("data")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    data.sort();
    assert_eq!(data, ["c"], "opaque dir hides lower entries");
    assert_eq!(fs::read(merged.join("srv/owned")).expect("upper file"), b"mine");
    assert_eq!(fs::read_link(merged.join("srv/link")).expect("link").to_str(), Some("/etc/keep"));
}

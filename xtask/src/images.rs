//! `cargo xtask images`: builds the static test programs and writes the test images as
//! OCI image-layout tars (with a docker-save manifest.json too) under target/images/.

mod binaries;
mod busybox;
mod catalog;
mod elf;
mod layer;
mod oci;
mod rootfs;
mod timestamp;

#[cfg(test)]
mod archive_tests;

use anyhow::{Context, Result};
use catalog::ImageSpec;
use std::path::Path;

/// Builds every test image; safe to run again (an unchanged archive is left untouched).
pub fn run(workspace_root: &Path) -> Result<()> {
    let target_dir = binaries::target_dir(workspace_root);
    println!("==> building static test programs ({}, profile image)", binaries::TARGET);
    let bins = binaries::build(workspace_root, &target_dir)?;
    println!("==> echo {} KiB, dnsq {} KiB, both static", bins.echo.len() / 1024, bins.dnsq.len() / 1024);
    let busybox = busybox::ensure()?;
    println!("==> busybox {} KiB with {} applets", busybox.binary.len() / 1024, busybox.applets.len());

    let out_dir = target_dir.join("images");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let created = timestamp::source_date_epoch();
    let specs = [
        catalog::echo("v1", &bins.echo),
        catalog::echo("v2", &bins.echo),
        catalog::toolbox(&busybox, &bins.echo, &bins.dnsq),
    ];
    for spec in &specs {
        let archive = build_archive(spec, created)?;
        let path = out_dir.join(&spec.file_name);
        let written = write_if_changed(&path, &archive.bytes)?;
        println!(
            "==> {} {} {:.1} MiB {} ({})",
            spec.image.short(),
            archive.manifest_digest,
            archive.bytes.len() as f64 / (1024.0 * 1024.0),
            path.display(),
            if written { "written" } else { "unchanged" }
        );
    }
    Ok(())
}

/// The archive bytes of one image; the same spec and time always give the same bytes.
fn build_archive(spec: &ImageSpec, created: u64) -> Result<oci::Archive> {
    let layer = layer::build(&spec.rootfs, created).with_context(|| format!("building {}", spec.image.short()))?;
    oci::archive(&spec.image, &spec.run, &layer, created)
}

/// Writes through a temporary file and a rename so readers never see half an archive.
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    let tmp = path.with_extension("tar.tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} into place", tmp.display()))?;
    Ok(true)
}

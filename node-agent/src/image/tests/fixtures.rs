//! Builds layer tars, image configs and whole archives (OCI layout, docker-save) in memory.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use serde_json::json;
use tar::{Builder, EntryType, Header};

use super::super::Digest;

pub const MTIME: u64 = 1_700_000_000;

pub enum Node {
    Dir(&'static str, u32),
    File(&'static str, &'static [u8], u32),
    /// A file owned by uid/gid 1000.
    OwnedFile(&'static str, &'static [u8]),
    Symlink(&'static str, &'static str),
    Hardlink(&'static str, &'static str),
    /// Hides this path of lower layers (`dir/.wh.name`).
    Whiteout(&'static str),
    /// Marks this directory opaque (`dir/.wh..wh..opq`).
    Opaque(&'static str),
    CharDevice(&'static str),
    /// Raw header name (and link name) bytes, bypassing the tar crate's path checks.
    Raw {
        name: &'static str,
        kind: EntryType,
        link: Option<&'static str>,
        data: &'static [u8],
    },
}

pub fn layer_tar(nodes: &[Node]) -> Vec<u8> {
    let mut builder = Builder::new(Vec::new());
    for node in nodes {
        append(&mut builder, node);
    }
    builder.into_inner().expect("finish tar")
}

fn header(kind: EntryType, mode: u32, size: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(MTIME);
    header
}

fn append(builder: &mut Builder<Vec<u8>>, node: &Node) {
    let result = match node {
        Node::Dir(path, mode) => builder.append_data(&mut header(EntryType::Directory, *mode, 0), path, &[][..]),
        Node::File(path, data, mode) => {
            builder.append_data(&mut header(EntryType::Regular, *mode, data.len() as u64), path, *data)
        }
        Node::OwnedFile(path, data) => {
            let mut h = header(EntryType::Regular, 0o640, data.len() as u64);
            h.set_uid(1000);
            h.set_gid(1000);
            builder.append_data(&mut h, path, *data)
        }
        Node::Symlink(path, target) => builder.append_link(&mut header(EntryType::Symlink, 0o777, 0), path, target),
        Node::Hardlink(path, target) => builder.append_link(&mut header(EntryType::Link, 0o644, 0), path, target),
        Node::Whiteout(path) => {
            let (dir, name) = path.rsplit_once('/').map_or(("", *path), |(d, n)| (d, n));
            let wh = if dir.is_empty() { format!(".wh.{name}") } else { format!("{dir}/.wh.{name}") };
            builder.append_data(&mut header(EntryType::Regular, 0o644, 0), wh, &[][..])
        }
        Node::Opaque(dir) => {
            builder.append_data(&mut header(EntryType::Regular, 0o644, 0), format!("{dir}/.wh..wh..opq"), &[][..])
        }
        Node::CharDevice(path) => {
            let mut h = header(EntryType::Char, 0o666, 0);
            h.set_device_major(1).expect("major");
            h.set_device_minor(3).expect("minor");
            builder.append_data(&mut h, path, &[][..])
        }
        Node::Raw { name, kind, link, data } => {
            let mut h = header(*kind, 0o644, data.len() as u64);
            let gnu = h.as_gnu_mut().expect("gnu header");
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(link) = link {
                gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
            }
            h.set_cksum();
            builder.append(&h, *data)
        }
    };
    result.expect("append tar entry");
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

#[derive(Clone)]
pub struct LayerBlob {
    pub blob: Vec<u8>,
    pub digest: Digest,
    pub diff_id: Digest,
    pub gzip: bool,
}

impl LayerBlob {
    pub fn new(nodes: &[Node], gzip_it: bool) -> Self {
        let tar = layer_tar(nodes);
        let diff_id = Digest::of_bytes(&tar);
        let blob = if gzip_it { gzip(&tar) } else { tar };
        LayerBlob { digest: Digest::of_bytes(&blob), blob, diff_id, gzip: gzip_it }
    }

    fn media_type(&self) -> &'static str {
        if self.gzip {
            "application/vnd.oci.image.layer.v1.tar+gzip"
        } else {
            "application/vnd.oci.image.layer.v1.tar"
        }
    }
}

#[derive(Clone)]
pub struct TestImage {
    pub layers: Vec<LayerBlob>,
    pub config: Vec<u8>,
    pub config_digest: Digest,
    pub manifest: Vec<u8>,
    pub manifest_digest: Digest,
}

impl TestImage {
    pub fn new(layers: Vec<LayerBlob>, cmd: &[&str]) -> Self {
        Self::for_arch(layers, cmd, "amd64")
    }

    pub fn for_arch(layers: Vec<LayerBlob>, cmd: &[&str], arch: &str) -> Self {
        let diff_ids: Vec<String> = layers.iter().map(|l| l.diff_id.to_string()).collect();
        let config = serde_json::to_vec(&json!({
            "architecture": arch,
            "os": "linux",
            "created": "2026-01-02T03:04:05Z",
            "config": {
                "Entrypoint": ["/bin/sh", "-c"],
                "Cmd": cmd,
                "Env": ["PATH=/bin", "GREETING=hi"],
                "WorkingDir": "/srv",
                "User": "1000:1000",
                "ExposedPorts": {"8080/tcp": {}}
            },
            "rootfs": {"type": "layers", "diff_ids": diff_ids}
        }))
        .expect("config json");
        let config_digest = Digest::of_bytes(&config);
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest.to_string(),
                "size": config.len()
            },
            "layers": layers.iter().map(|l| json!({
                "mediaType": l.media_type(),
                "digest": l.digest.to_string(),
                "size": l.blob.len()
            })).collect::<Vec<_>>()
        }))
        .expect("manifest json");
        let manifest_digest = Digest::of_bytes(&manifest);
        TestImage { layers, config, config_digest, manifest, manifest_digest }
    }

    /// The same image described by a Docker v2 schema 2 manifest instead of an OCI one.
    pub fn with_docker_manifest(mut self) -> Self {
        let mut manifest: serde_json::Value = serde_json::from_slice(&self.manifest).expect("manifest");
        manifest["mediaType"] = json!("application/vnd.docker.distribution.manifest.v2+json");
        manifest["config"]["mediaType"] = json!("application/vnd.docker.container.image.v1+json");
        for layer in manifest["layers"].as_array_mut().expect("layers") {
            layer["mediaType"] = json!("application/vnd.docker.image.rootfs.diff.tar.gzip");
        }
        self.manifest = serde_json::to_vec(&manifest).expect("manifest");
        self.manifest_digest = Digest::of_bytes(&self.manifest);
        self
    }

    pub fn layer_size(&self) -> u64 {
        self.layers.iter().map(|l| l.blob.len() as u64).sum()
    }

    pub fn manifest_descriptor(&self) -> serde_json::Value {
        json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": self.manifest_digest.to_string(),
            "size": self.manifest.len()
        })
    }

    /// All blobs (manifest, config, layers) by digest.
    pub fn blobs(&self) -> Vec<(Digest, Vec<u8>)> {
        let mut blobs = vec![
            (self.manifest_digest.clone(), self.manifest.clone()),
            (self.config_digest.clone(), self.config.clone()),
        ];
        blobs.extend(self.layers.iter().map(|l| (l.digest.clone(), l.blob.clone())));
        blobs
    }
}

/// An OCI image index over several images, with platforms.
pub fn index_of(images: &[(&TestImage, &str)]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": images.iter().map(|(image, arch)| {
            let mut d = image.manifest_descriptor();
            d["platform"] = json!({"os": "linux", "architecture": arch});
            d
        }).collect::<Vec<_>>()
    }))
    .expect("index json")
}

/// Accumulates files for an outer archive, writing each blob once.
pub struct ArchiveBuilder {
    builder: Builder<Vec<u8>>,
    written: BTreeSet<String>,
}

impl Default for ArchiveBuilder {
    fn default() -> Self {
        ArchiveBuilder { builder: Builder::new(Vec::new()), written: BTreeSet::new() }
    }
}

impl ArchiveBuilder {
    pub fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        if self.written.insert(name.to_string()) {
            let mut h = header(EntryType::Regular, 0o644, data.len() as u64);
            self.builder.append_data(&mut h, name, data).expect("append");
        }
        self
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.written.insert(name.to_string());
        self.builder.append_link(&mut header(EntryType::Symlink, 0o777, 0), name, target).expect("append link");
        self
    }

    pub fn blob(&mut self, digest: &Digest, data: &[u8]) -> &mut Self {
        self.file(&format!("blobs/sha256/{}", digest.hex()), data)
    }

    pub fn image_blobs(&mut self, image: &TestImage) -> &mut Self {
        for (digest, data) in image.blobs() {
            self.blob(&digest, &data);
        }
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.builder.into_inner().expect("finish archive")
    }
}

/// OCI image layout with one index.json entry per image, named by ref.name annotation.
pub fn oci_archive(images: &[(&TestImage, Option<&str>)]) -> Vec<u8> {
    let mut archive = ArchiveBuilder::default();
    let manifests: Vec<serde_json::Value> = images
        .iter()
        .map(|(image, name)| {
            archive.image_blobs(image);
            let mut d = image.manifest_descriptor();
            if let Some(name) = name {
                d["annotations"] = json!({"org.opencontainers.image.ref.name": name});
            }
            d
        })
        .collect();
    let index = json!({"schemaVersion": 2, "manifests": manifests});
    archive.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    archive.file("index.json", &serde_json::to_vec(&index).expect("index"));
    archive.finish()
}

/// Classic `docker save`: `<id>.json`, `<dir>/layer.tar` (uncompressed), manifest.json.
/// A layer shared with an earlier image is a symlink to the first copy, as docker writes it.
pub fn docker_save_archive(images: &[(&TestImage, &[&str])]) -> Vec<u8> {
    let mut archive = ArchiveBuilder::default();
    let mut first_dir: std::collections::HashMap<Digest, String> = Default::default();
    let mut entries = Vec::new();
    for (n, (image, tags)) in images.iter().enumerate() {
        let config_name = format!("{}.json", image.config_digest.hex());
        archive.file(&config_name, &image.config);
        let mut layer_names = Vec::new();
        for (i, layer) in image.layers.iter().enumerate() {
            let dir = format!("img{n}layer{i}");
            let name = format!("{dir}/layer.tar");
            match first_dir.get(&layer.diff_id) {
                Some(first) => {
                    archive.symlink(&name, &format!("../{first}/layer.tar"));
                }
                None => {
                    let tar = if layer.gzip { gunzip(&layer.blob) } else { layer.blob.clone() };
                    archive.file(&name, &tar);
                    first_dir.insert(layer.diff_id.clone(), dir);
                }
            }
            layer_names.push(name);
        }
        entries.push(json!({"Config": config_name, "RepoTags": tags, "Layers": layer_names}));
    }
    archive.file("manifest.json", &serde_json::to_vec(&entries).expect("manifest.json"));
    archive.finish()
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("gunzip");
    out
}

pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).expect("write fixture");
    path
}

/// A base layer and a second one with a whiteout, an opaque dir and a few file kinds.
pub fn two_layers() -> (LayerBlob, LayerBlob) {
    let base = LayerBlob::new(
        &[
            Node::Dir("bin", 0o755),
            Node::File("bin/hello", b"#!/bin/sh\necho hello\n", 0o755),
            Node::Dir("etc", 0o755),
            Node::File("etc/keep", b"keep", 0o644),
            Node::File("etc/removed", b"gone soon", 0o644),
            Node::Dir("data", 0o755),
            Node::File("data/a", b"a", 0o644),
            Node::File("data/b", b"b", 0o644),
            Node::Dir("srv", 0o755),
        ],
        true,
    );
    let top = LayerBlob::new(
        &[
            Node::Dir("etc", 0o755),
            Node::Whiteout("etc/removed"),
            Node::Dir("data", 0o700),
            Node::Opaque("data"),
            Node::File("data/c", b"c", 0o644),
            Node::OwnedFile("srv/owned", b"mine"),
            Node::File("srv/suid", b"x", 0o4755),
            Node::Symlink("srv/link", "/etc/keep"),
            Node::Hardlink("srv/hard", "srv/owned"),
            Node::CharDevice("srv/null"),
        ],
        true,
    );
    (base, top)
}

//! Unpacking an image archive (docker-save or OCI image layout, optionally
//! gzipped) into a scratch directory, hashing every file on the way. The
//! archive's own entry order is arbitrary, so nothing is interpreted until all
//! of it is on disk.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use tar::EntryType;

use super::compression::decompressed;
use super::digest::{Digest, HashingReader};
use super::error::{ImageError, IoResultExt};
use super::unpack::confined_relative;

/// JSON documents in archives are small; refuse absurd ones instead of reading them into memory.
const MAX_JSON_SIZE: u64 = 16 * 1024 * 1024;
const MAX_LINK_HOPS: usize = 16;

#[derive(Clone, Debug)]
pub(super) struct ExtractedFile {
    pub path: PathBuf,
    pub digest: Digest,
    pub size: u64,
}

pub(super) struct ExtractedArchive {
    files: BTreeMap<String, ExtractedFile>,
    /// Archive-internal links (old docker-save links duplicate layers): name -> target name.
    links: BTreeMap<String, String>,
}

impl ExtractedArchive {
    pub(super) fn extract(archive: &Path, into: &Path) -> Result<Self, ImageError> {
        let file = File::open(archive).at("open archive", archive)?;
        let plain = decompressed(BufReader::with_capacity(256 * 1024, file), "image archive")?;
        fs::create_dir_all(into).at("create", into)?;
        let bad = |e: io::Error| ImageError::InvalidArchive(format!("{}: {e}", archive.display()));
        let mut tar = tar::Archive::new(plain);
        let mut extracted = ExtractedArchive { files: BTreeMap::new(), links: BTreeMap::new() };
        for entry in tar.entries().map_err(bad)? {
            let mut entry = entry.map_err(bad)?;
            let raw = entry.path().map_err(bad)?.into_owned();
            let unsafe_path = |reason: String| ImageError::UnsafePath {
                layer: format!("archive {}", archive.display()),
                path: raw.display().to_string(),
                reason,
            };
            let Some(rel) = confined_relative(&raw).map_err(unsafe_path)? else { continue };
            let name = rel.to_string_lossy().into_owned();
            match entry.header().entry_type() {
                EntryType::Regular | EntryType::Continuous => {
                    let path = into.join(&rel);
                    if let Some(parent) = path.parent() {
                        // Only plain directories are ever created here, so this follows no links.
                        fs::create_dir_all(parent).at("create", parent)?;
                    }
                    let mut out = File::create(&path).at("create", &path)?;
                    let mut hashed = HashingReader::new(&mut entry);
                    io::copy(&mut hashed, &mut out).map_err(bad)?;
                    let (digest, size) = hashed.finish().map_err(bad)?;
                    extracted.files.insert(name, ExtractedFile { path, digest, size });
                }
                EntryType::Symlink => {
                    let target = entry.link_name().map_err(bad)?.unwrap_or_default();
                    // Relative to the link's directory; must stay inside the archive.
                    let base = rel.parent().map(Path::to_path_buf).unwrap_or_default();
                    let resolved = resolve_within(&base, &target).map_err(unsafe_path)?;
                    extracted.links.insert(name, resolved);
                }
                EntryType::Link => {
                    let target = entry.link_name().map_err(bad)?.unwrap_or_default();
                    let resolved = confined_relative(&target).map_err(unsafe_path)?.unwrap_or_default();
                    extracted.links.insert(name, resolved.to_string_lossy().into_owned());
                }
                _ => {}
            }
        }
        Ok(extracted)
    }

    pub(super) fn contains(&self, name: &str) -> bool {
        self.get(name).is_ok()
    }

    /// A file by its name in the archive, following archive-internal links.
    pub(super) fn get(&self, name: &str) -> Result<&ExtractedFile, ImageError> {
        let mut current = normalize_name(name);
        for _ in 0..MAX_LINK_HOPS {
            if let Some(file) = self.files.get(&current) {
                return Ok(file);
            }
            match self.links.get(&current) {
                Some(target) => current = target.clone(),
                None => return Err(ImageError::InvalidArchive(format!("archive has no file {name:?}"))),
            }
        }
        Err(ImageError::InvalidArchive(format!("too many links resolving {name:?}")))
    }

    pub(super) fn read_bytes(&self, name: &str) -> Result<Vec<u8>, ImageError> {
        read_small_file(self.get(name)?, name)
    }

    /// A metadata blob of an OCI image layout, verified.
    pub(super) fn read_blob(&self, digest: &Digest, size: u64, what: &str) -> Result<Vec<u8>, ImageError> {
        read_small_file(self.verified_blob(digest, size, what)?, what)
    }

    pub(super) fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<T, ImageError> {
        serde_json::from_slice(&self.read_bytes(name)?).map_err(|e| ImageError::json(name, e))
    }

    /// The blob of an OCI image layout, checked against the descriptor's digest and size.
    pub(super) fn verified_blob(&self, digest: &Digest, size: u64, what: &str) -> Result<&ExtractedFile, ImageError> {
        let file = self.get(&format!("blobs/sha256/{}", digest.hex()))?;
        digest.verify(&file.digest, what)?;
        if file.size != size {
            return Err(ImageError::InvalidArchive(format!(
                "{what} {digest}: size is {}, descriptor says {size}",
                file.size
            )));
        }
        Ok(file)
    }
}

fn read_small_file(file: &ExtractedFile, what: &str) -> Result<Vec<u8>, ImageError> {
    if file.size > MAX_JSON_SIZE {
        return Err(ImageError::InvalidArchive(format!("{what} is {} bytes; too large for metadata", file.size)));
    }
    let mut bytes = Vec::new();
    File::open(&file.path).and_then(|mut f| f.read_to_end(&mut bytes)).at("read", &file.path)?;
    Ok(bytes)
}

fn normalize_name(name: &str) -> String {
    name.trim_start_matches("./").to_string()
}

/// Joins a link target onto its base directory, applying `..`, refusing to leave the archive.
fn resolve_within(base: &Path, target: &Path) -> Result<String, String> {
    if target.is_absolute() {
        return Err(format!("link target {} is absolute", target.display()));
    }
    let mut parts: Vec<String> = base.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    for component in target.components() {
        match component {
            std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                parts.pop().ok_or_else(|| format!("link target {} leaves the archive", target.display()))?;
            }
            _ => return Err(format!("link target {} is not relative", target.display())),
        }
    }
    Ok(parts.join("/"))
}

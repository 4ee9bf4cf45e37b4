//! Turns a `Rootfs` into a reproducible layer: an uncompressed tar (for the diff_id) and its gzip.

use super::rootfs::{Entry, Rootfs};
use anyhow::{Context, Result};
use flate2::{Compression, GzBuilder};
use std::io::Write;

/// A layer as stored in the image: both forms are needed, the digest of the uncompressed tar
/// is the config's diff_id and the gzip is the blob.
pub struct Layer {
    pub tar: Vec<u8>,
    pub gzip: Vec<u8>,
}

/// Builds the layer with fixed mtimes, uid/gid 0 and sorted entries, so equal inputs give equal bytes.
pub fn build(rootfs: &Rootfs, mtime: u64) -> Result<Layer> {
    let tar = tar_of(rootfs, mtime)?;
    let gzip = gzip(&tar)?;
    Ok(Layer { tar, gzip })
}

fn tar_of(rootfs: &Rootfs, mtime: u64) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, entry) in rootfs.entries() {
        let mut header = tar::Header::new_ustar();
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("root").context("setting tar user name")?;
        header.set_groupname("root").context("setting tar group name")?;
        match entry {
            Entry::Dir { mode } => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                header.set_size(0);
                builder.append_data(&mut header, format!("{path}/"), std::io::empty())
            }
            Entry::File { mode, data } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, path, data.as_slice())
            }
            Entry::Symlink { target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                builder.append_link(&mut header, path, target)
            }
        }
        .with_context(|| format!("adding {path} to the layer"))?;
    }
    builder.into_inner().context("finishing the layer tar")
}

/// Gzip with a zero header mtime and no file name, so the bytes depend only on the input.
pub fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = GzBuilder::new().mtime(0).write(Vec::new(), Compression::default());
    encoder.write_all(data).context("compressing the layer")?;
    encoder.finish().context("finishing the gzip stream")
}

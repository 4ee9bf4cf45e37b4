//! Turning a layer blob on disk into a verified, unpacked layer directory.

use std::fs::{self, File};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use super::compression::decompressed;
use super::digest::{Digest, HashingReader};
use super::error::{ImageError, IoResultExt};
use super::paths::StorePaths;
use super::unpack::unpack_layer_tar;

const READ_BUFFER: usize = 256 * 1024;

/// Unpacks `blob` (gzip or plain tar) into the new directory `dest`, streaming, and
/// checks the uncompressed bytes hash to `diff_id`. On error `dest` may hold a partial
/// tree; callers unpack into a scratch path and rename only on success.
pub(super) fn unpack_layer_blob(blob: &Path, dest: &Path, diff_id: &Digest) -> Result<(), ImageError> {
    let name = format!("layer {diff_id}");
    let file = File::open(blob).at("open layer blob", blob)?;
    let buffered = BufReader::with_capacity(READ_BUFFER, file);
    let plain = decompressed(buffered, &name)?;
    fs::create_dir(dest).at("create layer directory", dest)?;
    let hashed = unpack_layer_tar(HashingReader::new(plain), dest, &name)?;
    // Trailing zero blocks and padding count toward the diff-id too.
    let (actual, _) = hashed.finish().map_err(|e| ImageError::InvalidArchive(format!("{name}: cannot read: {e}")))?;
    diff_id.verify(&actual, &format!("uncompressed {name} (diff-id)"))
}

/// Unpacks a layer into `staging_layers/<hex>` unless the store or this staging has it.
/// Returns whether it unpacked anything.
pub(super) fn stage_layer(
    paths: &StorePaths,
    staged_dir: &Path,
    blob: &Path,
    diff_id: &Digest,
) -> Result<bool, ImageError> {
    if paths.layer(diff_id).is_dir() || staged_dir.is_dir() {
        return Ok(false);
    }
    let partial = PathBuf::from(format!("{}.partial", staged_dir.display()));
    if let Err(e) = fs::remove_dir_all(&partial) {
        if e.kind() != io::ErrorKind::NotFound {
            return Err(ImageError::io_path("clear", &partial, e));
        }
    }
    unpack_layer_blob(blob, &partial, diff_id)?;
    fs::rename(&partial, staged_dir).at("finish layer", staged_dir)?;
    Ok(true)
}

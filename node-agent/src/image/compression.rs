//! Detecting and undoing layer/archive compression by magic bytes, since
//! media types and file names are not reliable (docker-save layers are plain tars).

use std::io::{self, BufRead, Read};

use flate2::bufread::MultiGzDecoder;

use super::error::ImageError;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Peeks at the first bytes without consuming them.
pub(super) fn sniff<R: BufRead>(reader: &mut R) -> io::Result<Compression> {
    let head = reader.fill_buf()?;
    Ok(if head.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    })
}

/// A reader yielding the uncompressed bytes of `reader`.
pub(super) fn decompressed<'a, R: BufRead + 'a>(mut reader: R, what: &str) -> Result<Box<dyn Read + 'a>, ImageError> {
    let kind = sniff(&mut reader).map_err(|e| ImageError::io(format!("read {what}"), e))?;
    match kind {
        Compression::None => Ok(Box::new(reader)),
        // Multi-member gzip is valid and some tools write it.
        Compression::Gzip => Ok(Box::new(MultiGzDecoder::new(reader))),
        Compression::Zstd => {
            Err(ImageError::Unsupported(format!("{what} is zstd-compressed; only gzip and plain tar")))
        }
    }
}

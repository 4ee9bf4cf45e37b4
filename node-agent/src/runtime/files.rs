//! Small file helpers shared by the agent side and the shim.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::RuntimeError;

/// Writes `value` as JSON so that readers see either the old or the new content, never a torn file.
pub(crate) fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<(), RuntimeError> {
    let json = serde_json::to_vec(value)
        .map_err(|e| RuntimeError::io(format!("encode {}", path.display()), io::Error::other(e)))?;
    let tmp = path.with_extension("json.tmp");
    let write = || -> io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&json)?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| RuntimeError::io(format!("write {}", path.display()), e))
}

/// Reads JSON written by [`write_json_atomic`]; `Ok(None)` when the file does not exist.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, RuntimeError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RuntimeError::io(format!("read {}", path.display()), e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| RuntimeError::io(format!("parse {}", path.display()), io::Error::other(e)))
}

/// The last `max` bytes of a text file, for error messages that point at a log.
pub(crate) fn tail(path: &Path, max: usize) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let start = bytes.len().saturating_sub(max);
    String::from_utf8_lossy(&bytes[start..]).trim().to_string()
}

//! Reading the mount table of this process (/proc/self/mountinfo).

use std::path::{Path, PathBuf};

use super::error::NetworkError;

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// All mount points of this process's mount namespace, in mount order.
pub(crate) fn mount_points() -> Result<Vec<PathBuf>, NetworkError> {
    let text = std::fs::read_to_string(MOUNTINFO).map_err(|e| NetworkError::io("read", MOUNTINFO, e))?;
    // The fifth field is the mount point, with spaces and other specials escaped as \ooo.
    Ok(text.lines().filter_map(|line| line.split(' ').nth(4)).map(|p| PathBuf::from(unescape_octal(p))).collect())
}

/// Whether `path` (absolute, canonical) is itself a mount point.
pub(crate) fn is_mount_point(path: &Path) -> Result<bool, NetworkError> {
    Ok(mount_points()?.iter().any(|m| m == path))
}

fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let code = bytes
            .get(i + 1..i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match (bytes[i], code) {
            (b'\\', Some(c)) => {
                out.push(c);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_spaces_and_keeps_plain_text() {
        assert_eq!(unescape_octal(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape_octal("/run/netns"), "/run/netns");
        assert_eq!(unescape_octal(r"/x\"), r"/x\");
    }

    #[test]
    fn root_is_a_mount_point() {
        assert!(is_mount_point(Path::new("/")).unwrap_or(false));
    }
}

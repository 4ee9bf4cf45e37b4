//! In-memory description of an image's filesystem: what goes into its single layer.

use std::collections::BTreeMap;

/// One filesystem entry. Owner is always root (uid/gid 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir { mode: u32 },
    File { mode: u32, data: Vec<u8> },
    Symlink { target: String },
}

/// A root filesystem keyed by relative path ("bin/sh", no leading slash).
/// A `BTreeMap` keeps entries sorted, which makes the layer tar reproducible.
#[derive(Debug, Clone, Default)]
pub struct Rootfs {
    entries: BTreeMap<String, Entry>,
}

impl Rootfs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a directory (and its missing parents, mode 0755).
    pub fn dir(&mut self, path: &str, mode: u32) -> &mut Self {
        let path = normalise(path);
        self.parents(&path);
        self.entries.insert(path, Entry::Dir { mode });
        self
    }

    /// Adds a regular file, replacing any entry already at `path`.
    pub fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) -> &mut Self {
        let path = normalise(path);
        self.parents(&path);
        self.entries.insert(path, Entry::File { mode, data });
        self
    }

    /// Adds a symlink unless something is already at `path` (real files win over applet links).
    pub fn symlink_if_absent(&mut self, path: &str, target: &str) -> &mut Self {
        let path = normalise(path);
        self.parents(&path);
        self.entries.entry(path).or_insert_with(|| Entry::Symlink { target: target.to_string() });
        self
    }

    /// The directories every image gets: mount points the runtime fills, plus a sticky /tmp,
    /// and /etc/passwd and /etc/group with root and nobody.
    pub fn with_base_files() -> Self {
        let mut fs = Self::new();
        for dir in ["bin", "dev", "etc", "proc", "sys"] {
            fs.dir(dir, 0o755);
        }
        fs.dir("root", 0o700);
        fs.dir("tmp", 0o1777);
        fs.file("etc/passwd", 0o644, PASSWD.as_bytes().to_vec());
        fs.file("etc/group", 0o644, GROUP.as_bytes().to_vec());
        fs
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(path, entry)| (path.as_str(), entry))
    }

    fn parents(&mut self, path: &str) {
        let mut end = 0;
        while let Some(slash) = path[end..].find('/') {
            end += slash;
            self.entries.entry(path[..end].to_string()).or_insert(Entry::Dir { mode: 0o755 });
            end += 1;
        }
    }
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnobody:x:65534:\n";

fn normalise(path: &str) -> String {
    path.trim_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_created_and_entries_sorted() {
        let mut fs = Rootfs::new();
        fs.file("/usr/bin/tool", 0o755, b"x".to_vec());
        fs.symlink_if_absent("bin/sh", "busybox");
        let paths: Vec<&str> = fs.entries().map(|(p, _)| p).collect();
        assert_eq!(paths, ["bin", "bin/sh", "usr", "usr/bin", "usr/bin/tool"]);
    }

    #[test]
    fn symlink_does_not_replace_a_file() {
        let mut fs = Rootfs::new();
        fs.file("bin/dnsq", 0o755, b"elf".to_vec());
        fs.symlink_if_absent("bin/dnsq", "busybox");
        let entry = fs.entries().find(|(p, _)| *p == "bin/dnsq").map(|(_, e)| e.clone());
        assert_eq!(entry, Some(Entry::File { mode: 0o755, data: b"elf".to_vec() }));
    }

    #[test]
    fn base_files_have_sticky_tmp_and_nobody() {
        let fs = Rootfs::with_base_files();
        let tmp = fs.entries().find(|(p, _)| *p == "tmp").map(|(_, e)| e.clone());
        assert_eq!(tmp, Some(Entry::Dir { mode: 0o1777 }));
        assert!(PASSWD.contains("nobody:x:65534:65534"));
    }
}

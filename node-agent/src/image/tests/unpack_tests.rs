use std::fs;

use tar::EntryType;

use super::super::unpack::unpack_layer_tar;
use super::super::ImageError;
use super::fixtures::{layer_tar, Node};

struct Dirs {
    _tmp: tempfile::TempDir,
    layer: std::path::PathBuf,
    outside: std::path::PathBuf,
}

fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layer = tmp.path().join("layer");
    let outside = tmp.path().join("outside");
    fs::create_dir(&layer).expect("layer");
    fs::create_dir(&outside).expect("outside");
    Dirs { layer, outside, _tmp: tmp }
}

fn unpack(nodes: &[Node], dirs: &Dirs) -> Result<(), ImageError> {
    let tar = layer_tar(nodes);
    unpack_layer_tar(&tar[..], &dirs.layer, "test layer").map(|_| ())
}

fn assert_unsafe(result: Result<(), ImageError>, what: &str) {
    match result {
        Err(ImageError::UnsafePath { reason, .. }) => eprintln!("{what}: rejected: {reason}"),
        other => panic!("{what}: expected UnsafePath, got {other:?}"),
    }
}

#[test]
fn rejects_parent_dir_and_absolute_paths() {
    for name in ["../escape", "a/../../escape", "/etc/escape", "./../escape"] {
        let d = dirs();
        let result = unpack(&[Node::Raw { name, kind: EntryType::Regular, link: None, data: b"x" }], &d);
        assert_unsafe(result, name);
        assert!(!d.outside.parent().expect("parent").join("escape").exists());
    }
}

#[test]
fn never_follows_symlinks_out_of_the_layer() {
    let d = dirs();
    let outside: &'static str = Box::leak(d.outside.display().to_string().into_boxed_str());
    // An absolute symlink to a real outside dir, then a file "through" it.
    let result = unpack(
        &[
            Node::Symlink("evil", outside),
            Node::Raw { name: "evil/pwned", kind: EntryType::Regular, link: None, data: b"x" },
        ],
        &d,
    );
    assert_unsafe(result, "file under absolute symlink");
    assert_eq!(fs::read_dir(&d.outside).expect("outside").count(), 0);

    // Relative symlink climbing out, then a directory under it.
    let d = dirs();
    let result = unpack(
        &[
            Node::Symlink("up", "../outside"),
            Node::Raw { name: "up/dir/", kind: EntryType::Directory, link: None, data: b"" },
        ],
        &d,
    );
    assert_unsafe(result, "dir under relative symlink");
    assert_eq!(fs::read_dir(&d.outside).expect("outside").count(), 0);

    // A whiteout or opaque marker through a symlink must not touch the outside either.
    let d = dirs();
    fs::write(d.outside.join("victim"), b"v").expect("victim");
    let result = unpack(&[Node::Symlink("evil", outside), Node::Whiteout("evil/victim")], &d);
    assert_unsafe(result, "whiteout under symlink");
    assert_eq!(fs::read(d.outside.join("victim")).expect("victim intact"), b"v");
}

#[test]
fn overwriting_a_symlink_replaces_it_instead_of_writing_through() {
    let d = dirs();
    let target = d.outside.join("target");
    fs::write(&target, b"original").expect("target");
    let outside_target: &'static str = Box::leak(target.display().to_string().into_boxed_str());
    unpack(&[Node::Symlink("f", outside_target), Node::File("f", b"new", 0o644)], &d).expect("unpack");
    assert_eq!(fs::read(&target).expect("target"), b"original");
    assert_eq!(fs::read(d.layer.join("f")).expect("f"), b"new");
    assert!(!fs::symlink_metadata(d.layer.join("f")).expect("lstat").file_type().is_symlink());
}

#[test]
fn rejects_hardlinks_leaving_the_layer() {
    for link in ["../outside/secret", "/etc/passwd", "missing"] {
        let d = dirs();
        fs::write(d.outside.join("secret"), b"s").expect("secret");
        let result = unpack(&[Node::Raw { name: "h", kind: EntryType::Link, link: Some(link), data: b"" }], &d);
        assert_unsafe(result, link);
        assert!(!d.layer.join("h").exists());
    }
    // A hardlink through a symlinked directory is refused too.
    let d = dirs();
    fs::write(d.outside.join("secret"), b"s").expect("secret");
    let outside: &'static str = Box::leak(d.outside.display().to_string().into_boxed_str());
    let result = unpack(
        &[
            Node::Symlink("dir", outside),
            Node::Raw { name: "h", kind: EntryType::Link, link: Some("dir/secret"), data: b"" },
        ],
        &d,
    );
    assert_unsafe(result, "hardlink via symlink");
}

#[test]
fn skips_devices_and_creates_missing_parents() {
    let d = dirs();
    unpack(&[Node::CharDevice("dev/null"), Node::File("deep/er/file", b"f", 0o600)], &d).expect("unpack");
    assert!(d.layer.join("dev").is_dir());
    assert!(fs::symlink_metadata(d.layer.join("dev/null")).is_err());
    assert_eq!(fs::read(d.layer.join("deep/er/file")).expect("read"), b"f");
}

#[test]
fn applies_user_xattrs_but_never_trusted_ones() {
    let d = dirs();
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_pax_extensions([
            ("SCHILY.xattr.user.note", &b"hello"[..]),
            ("SCHILY.xattr.trusted.overlay.opaque", &b"y"[..]),
        ])
        .expect("pax");
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(EntryType::Regular);
    header.set_mode(0o644);
    header.set_size(1);
    builder.append_data(&mut header, "file", &b"x"[..]).expect("append");
    let tar = builder.into_inner().expect("tar");
    unpack_layer_tar(&tar[..], &d.layer, "xattr layer").expect("unpack");
    let file = d.layer.join("file");
    assert_eq!(super::get_xattr(&file, "user.note").as_deref(), Some(&b"hello"[..]));
    assert_eq!(super::get_xattr(&file, "trusted.overlay.opaque"), None);
}

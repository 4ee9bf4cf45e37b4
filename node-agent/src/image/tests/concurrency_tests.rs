//! Concurrent store users (threads here; the flock also covers separate processes).

use std::sync::Arc;

use super::super::{ImageStore, ImportProgress};
use super::fixtures::{oci_archive, two_layers, write_file, LayerBlob, Node, TestImage};
use super::TestStore;

#[test]
fn concurrent_imports_sharing_layers_and_removals_stay_consistent() {
    let t = TestStore::new();
    let (base, top) = two_layers();
    let mut archives: Vec<_> = (0..5)
        .map(|i| {
            let own = LayerBlob::new(&[Node::File("own", format!("image {i}").leak().as_bytes(), 0o644)], true);
            let image = TestImage::new(vec![base.clone(), top.clone(), own], &["x"]);
            let name = format!("concurrent/img:{i}");
            write_file(&t.scratch, &format!("{i}.tar"), &oci_archive(&[(&image, Some(name.as_str()))]))
        })
        .collect();
    let late_archive = archives.pop().expect("fifth archive");
    let store = Arc::new(t.store.clone());
    let workers: Vec<_> = archives
        .into_iter()
        .map(|archive| {
            let store = store.clone();
            std::thread::spawn(move || store.import(&archive, &mut |_| {}).map(|s| s.len()))
        })
        .collect();
    for worker in workers {
        assert_eq!(worker.join().expect("thread").expect("import"), 1);
    }
    assert_eq!(t.store.list().expect("list").len(), 4);

    // Remove two while re-importing another: the shared layers must survive.
    let importer = {
        let store = store.clone();
        std::thread::spawn(move || store.import(&late_archive, &mut |_| {}).map(|s| s.len()))
    };
    let removers: Vec<_> = (0..2)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || store.remove(&format!("concurrent/img:{i}")))
        })
        .collect();
    for remover in removers {
        remover.join().expect("thread").expect("remove");
    }
    assert_eq!(importer.join().expect("thread").expect("late import"), 1);
    let remaining = t.store.list().expect("list");
    assert_eq!(remaining.len(), 3);
    for summary in remaining {
        let image = t.store.resolve(&summary.reference).expect("resolve").expect("present");
        assert!(image.layers.iter().all(|l| l.is_dir()), "{}", summary.reference);
    }
}

#[test]
fn open_removes_staging_left_by_dead_processes() {
    let t = TestStore::new();
    let stale = t.store.root().join("tmp/import-999999999-1-0");
    std::fs::create_dir_all(stale.join("layers")).expect("stale");
    ImageStore::open(t.store.root()).expect("reopen");
    assert!(!stale.exists());
}

#[test]
fn pull_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let t = TestStore::new();
    let mut progress = |_: ImportProgress| {};
    let future = t.store.pull("busybox", None, false, &mut progress);
    assert_send(&future);
}

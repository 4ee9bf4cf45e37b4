use super::*;
use serde_json::json;

fn obj(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}})
}

fn open(dir: &std::path::Path) -> Arc<Store> {
    let backend = SledBackend::open(dir, 8 << 20).expect("open sled");
    Store::open(Box::new(backend)).expect("open store")
}

const P: &str = "/registry/core/configmaps/";

#[tokio::test]
async fn revisions_increase_and_survive_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (r1, r2);
    {
        let store = open(dir.path());
        let a = store.create(&format!("{P}default/a"), obj("a")).await.expect("create");
        r1 = object_revision(&a).expect("rv");
        let b = store.update(&format!("{P}default/a"), obj("a"), Some(r1)).await.expect("update");
        r2 = object_revision(&b).expect("rv");
        assert!(r2 > r1);
        assert_eq!(store.update(&format!("{P}default/a"), obj("a"), Some(r1)).await, Err(StoreError::Conflict));
        assert_eq!(store.create(&format!("{P}default/a"), obj("a")).await, Err(StoreError::AlreadyExists));
    }
    // sled releases its lock when the writer thread drops the backend.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let store = open(dir.path());
    assert_eq!(store.revision(), r2);
    let c = store.create(&format!("{P}default/c"), obj("c")).await.expect("create");
    assert!(object_revision(&c).expect("rv") > r2);
    // A watch from before the restart replays the missed events.
    let w = store.watch(P, r1).expect("watch");
    let revs: Vec<u64> = w.backlog.iter().map(|e| e.revision).collect();
    assert_eq!(revs, vec![r2, r2 + 1]);
}

#[tokio::test]
async fn list_pages_in_key_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    for n in ["c", "a", "b"] {
        store.create(&format!("{P}default/{n}"), obj(n)).await.expect("create");
    }
    let (page, _, more) = store.list(P, None, Some(2));
    assert!(more);
    assert_eq!(page.iter().map(|(k, _)| k.rsplit('/').next().unwrap_or("")).collect::<Vec<_>>(), ["a", "b"]);
    let (rest, _, more) = store.list(P, Some(&page[1].0), Some(2));
    assert!(!more);
    assert_eq!(rest.len(), 1);
}

#[tokio::test]
async fn watchers_share_one_stream_and_see_deletes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let rev = store.revision();
    let mut watchers: Vec<_> = (0..100).map(|_| store.watch(P, rev).expect("watch").live).collect();
    store.create(&format!("{P}default/x"), obj("x")).await.expect("create");
    store.delete(&format!("{P}default/x"), None).await.expect("delete");
    for w in &mut watchers {
        assert_eq!(w.recv().await.expect("event").kind, EventType::Added);
        let del = w.recv().await.expect("event");
        assert_eq!(del.kind, EventType::Deleted);
        assert!(del.prev.is_some());
    }
}

#[test]
fn prefix_of_key() {
    assert_eq!(resource_prefix("/registry/apps/deployments/ns/name"), "/registry/apps/deployments/");
    assert_eq!(resource_prefix("/registry/core/nodes/n1"), "/registry/core/nodes/");
}

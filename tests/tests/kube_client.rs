//! kube-rs as a library client: typed CRUD, list with selectors and paging,
//! and a watcher that sees changes.

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use keel_e2e::Server;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use std::collections::BTreeMap;
use std::time::Duration;

fn cm(name: &str, label: &str) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(name.into());
    c.metadata.labels = Some(BTreeMap::from([("group".to_string(), label.to_string())]));
    c.data = Some(BTreeMap::from([("k".to_string(), "v".to_string())]));
    c
}

#[tokio::test]
async fn typed_client_crud_list_and_watch() {
    let s = Server::start().expect("server");
    let client = s.client().await.expect("client");
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    for i in 0..7 {
        api.create(&PostParams::default(), &cm(&format!("c{i}"), if i % 2 == 0 { "even" } else { "odd" }))
            .await
            .expect("create");
    }
    let even = api.list(&ListParams::default().labels("group=even")).await.expect("list");
    assert_eq!(even.items.len(), 4);
    // Paging: 3 + 3 + 1 over the 7 plus the server's own? (default ns has none).
    let mut names = Vec::new();
    let mut lp = ListParams::default().limit(3);
    loop {
        let page = api.list(&lp).await.expect("page");
        names.extend(page.items.iter().filter_map(|c| c.metadata.name.clone()));
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    assert_eq!(names.len(), 7, "{names:?}");

    let stream = watcher(api.clone(), watcher::Config::default().labels("group=odd")).applied_objects();
    let mut stream = Box::pin(stream);
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        let mut n = 0;
        while let Some(obj) = stream.try_next().await.expect("watch") {
            n += 1;
            if obj.metadata.name.as_deref() == Some("late") {
                return n;
            }
            if n == 3 {
                api.create(&PostParams::default(), &cm("late", "odd")).await.expect("create late");
            }
        }
        n
    })
    .await
    .expect("watcher saw the new object in time");
    assert_eq!(seen, 4);

    let patched = api
        .patch("c0", &PatchParams::default(), &Patch::Merge(serde_json::json!({"data": {"k": "w"}})))
        .await
        .expect("patch");
    assert_eq!(patched.data.and_then(|d| d.get("k").cloned()).as_deref(), Some("w"));
    api.delete("c0", &DeleteParams::default()).await.expect("delete");
    assert!(api.get_opt("c0").await.expect("get").is_none());
    drop(stream);
}

//! The ownership graph the garbage collector works on: every object's
//! owners and dependents by UID, and what must happen to one object given
//! the state of its owners and dependents. Pure; the caller does the I/O.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use std::collections::{BTreeSet, HashMap};

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";

/// Where an object lives: its resource (index into the discovered list),
/// namespace and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub resource: usize,
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
}

/// What the collector remembers of one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub place: Place,
    pub owners: Vec<OwnerReference>,
    pub deleting: bool,
    pub finalizers: Vec<String>,
}

/// One thing to do to the cluster. The steps for one object run in order
/// and stop at the first failure.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Delete the object unless one of `check` (owners the graph does not
    /// know) still exists when asked directly.
    DeleteUnlessLive { target: Place, check: Vec<OwnerReference>, foreground: bool },
    /// Set the object's ownerReferences to `keep` unless one of `check`
    /// still exists.
    SetOwnersUnlessLive { target: Place, keep: Vec<OwnerReference>, check: Vec<OwnerReference> },
    /// Delete a dependent of an owner deleted in the foreground.
    Delete { target: Place, foreground: bool },
    /// Take `finalizer` off an object whose dependents are dealt with.
    RemoveFinalizer { target: Place, finalizers: Vec<String>, finalizer: &'static str },
}

#[derive(Default)]
pub struct Graph {
    items: HashMap<String, Item>,
    dependents: HashMap<String, BTreeSet<String>>,
}

impl Graph {
    /// Record an object; returns the UIDs whose decisions may have changed.
    pub fn upsert(&mut self, item: Item) -> Vec<String> {
        let uid = item.place.uid.clone();
        let mut touched = vec![uid.clone()];
        if let Some(old) = self.items.get(&uid) {
            for o in &old.owners {
                if let Some(set) = self.dependents.get_mut(&o.uid) {
                    set.remove(&uid);
                }
                touched.push(o.uid.clone());
            }
        }
        for o in &item.owners {
            self.dependents.entry(o.uid.clone()).or_default().insert(uid.clone());
            touched.push(o.uid.clone());
        }
        self.items.insert(uid, item);
        touched
    }

    /// Forget an object; its owners (who may wait on it) and dependents
    /// (who may now be orphans) need another look.
    pub fn remove(&mut self, uid: &str) -> Vec<String> {
        let mut touched = Vec::new();
        if let Some(old) = self.items.remove(uid) {
            for o in &old.owners {
                if let Some(set) = self.dependents.get_mut(&o.uid) {
                    set.remove(uid);
                    if set.is_empty() {
                        self.dependents.remove(&o.uid);
                    }
                }
                touched.push(o.uid.clone());
            }
        }
        touched.extend(self.dependents.get(uid).into_iter().flatten().cloned());
        touched
    }

    /// UIDs of one resource, to find what a relist no longer has.
    pub fn uids_of(&self, resource: usize) -> Vec<String> {
        self.items.iter().filter(|(_, i)| i.place.resource == resource).map(|(u, _)| u.clone()).collect()
    }

    /// Everything that could need work: objects with owners or with one of
    /// the collector's finalizers (for the periodic full sweep).
    pub fn candidates(&self) -> Vec<String> {
        self.items
            .iter()
            .filter(|(_, i)| !i.owners.is_empty() || i.finalizers.iter().any(|f| f == ORPHAN || f == FOREGROUND))
            .map(|(u, _)| u.clone())
            .collect()
    }

    fn deps(&self, uid: &str) -> impl Iterator<Item = &Item> {
        self.dependents.get(uid).into_iter().flatten().filter_map(|d| self.items.get(d))
    }

    /// What to do about one object now.
    pub fn decide(&self, uid: &str) -> Vec<Step> {
        let Some(item) = self.items.get(uid) else { return Vec::new() };
        let has = |f: &str| item.finalizers.iter().any(|x| x == f);
        if item.deleting && has(ORPHAN) {
            return self.orphan(item);
        }
        if item.deleting && has(FOREGROUND) {
            return self.delete_dependents(item);
        }
        if item.deleting || item.owners.is_empty() {
            return Vec::new();
        }
        let (mut solid, mut waiting, mut dangling) = (Vec::new(), Vec::new(), Vec::new());
        for o in &item.owners {
            match self.items.get(&o.uid) {
                Some(owner) if owner.deleting && owner.finalizers.iter().any(|f| f == FOREGROUND) => {
                    waiting.push(o.clone())
                }
                Some(_) => solid.push(o.clone()),
                None => dangling.push(o.clone()),
            }
        }
        let target = item.place.clone();
        if !solid.is_empty() {
            if dangling.is_empty() {
                return Vec::new();
            }
            let keep = solid.into_iter().chain(waiting).collect();
            return vec![Step::SetOwnersUnlessLive { target, keep, check: dangling }];
        }
        // No owner stays: go, in the foreground if an owner waits on us and
        // we have dependents of our own (so the wait covers them too).
        let foreground = !waiting.is_empty() && self.dependents.get(uid).is_some_and(|d| !d.is_empty());
        vec![Step::DeleteUnlessLive { target, check: dangling, foreground }]
    }

    /// Orphan propagation: drop this owner from every dependent, then let
    /// the owner go.
    fn orphan(&self, item: &Item) -> Vec<Step> {
        let mut steps: Vec<Step> = self
            .deps(&item.place.uid)
            .map(|d| Step::SetOwnersUnlessLive {
                target: d.place.clone(),
                keep: d.owners.iter().filter(|o| o.uid != item.place.uid).cloned().collect(),
                check: Vec::new(),
            })
            .collect();
        steps.push(Step::RemoveFinalizer {
            target: item.place.clone(),
            finalizers: item.finalizers.clone(),
            finalizer: ORPHAN,
        });
        steps
    }

    /// Foreground propagation: delete the dependents; the owner goes once
    /// none that blocks it (blockOwnerDeletion) is left.
    fn delete_dependents(&self, item: &Item) -> Vec<Step> {
        let uid = &item.place.uid;
        let mut steps: Vec<Step> = self
            .deps(uid)
            .filter(|d| !d.deleting)
            .map(|d| Step::Delete {
                target: d.place.clone(),
                foreground: self.dependents.get(&d.place.uid).is_some_and(|x| !x.is_empty()),
            })
            .collect();
        let blocked =
            self.deps(uid).any(|d| d.owners.iter().any(|o| &o.uid == uid && o.block_owner_deletion == Some(true)));
        if !blocked {
            steps.push(Step::RemoveFinalizer {
                target: item.place.clone(),
                finalizers: item.finalizers.clone(),
                finalizer: FOREGROUND,
            });
        }
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(uid: &str, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: format!("n-{uid}"),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(block),
        }
    }

    fn item(uid: &str, owners: Vec<OwnerReference>) -> Item {
        Item {
            place: Place { resource: 0, namespace: Some("default".into()), name: format!("n-{uid}"), uid: uid.into() },
            owners,
            deleting: false,
            finalizers: Vec::new(),
        }
    }

    fn deleting(mut i: Item, finalizer: &str) -> Item {
        i.deleting = true;
        i.finalizers = vec![finalizer.into()];
        i
    }

    #[test]
    fn objects_with_live_owners_stay() {
        let mut g = Graph::default();
        g.upsert(item("rs", vec![]));
        g.upsert(item("pod", vec![owner("rs", true)]));
        assert!(g.decide("pod").is_empty());
        assert!(g.decide("rs").is_empty());
    }

    #[test]
    fn an_owner_gone_means_delete_after_a_live_check() {
        let mut g = Graph::default();
        g.upsert(item("rs", vec![]));
        g.upsert(item("pod", vec![owner("rs", true)]));
        let touched = g.remove("rs");
        assert_eq!(touched, vec!["pod".to_string()]);
        match g.decide("pod").as_slice() {
            [Step::DeleteUnlessLive { target, check, foreground: false }] => {
                assert_eq!(target.uid, "pod");
                assert_eq!(check[0].uid, "rs");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_owner_gone_of_two_drops_only_that_reference() {
        let mut g = Graph::default();
        g.upsert(item("a", vec![]));
        g.upsert(item("x", vec![owner("a", false), owner("b", false)]));
        match g.decide("x").as_slice() {
            [Step::SetOwnersUnlessLive { keep, check, .. }] => {
                assert_eq!(keep.iter().map(|o| o.uid.as_str()).collect::<Vec<_>>(), ["a"]);
                assert_eq!(check.iter().map(|o| o.uid.as_str()).collect::<Vec<_>>(), ["b"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn orphaning_rewrites_dependents_then_releases_the_owner() {
        let mut g = Graph::default();
        g.upsert(deleting(item("d", vec![]), ORPHAN));
        g.upsert(item("rs", vec![owner("d", true)]));
        let steps = g.decide("d");
        assert!(
            matches!(&steps[0], Step::SetOwnersUnlessLive { target, keep, check } if target.uid == "rs" && keep.is_empty() && check.is_empty())
        );
        assert!(matches!(&steps[1], Step::RemoveFinalizer { finalizer: ORPHAN, .. }));
        // The dependent is not deleted while its owner is being orphaned.
        assert!(g.decide("rs").is_empty());
    }

    #[test]
    fn foreground_deletes_dependents_and_waits_for_blocking_ones() {
        let mut g = Graph::default();
        g.upsert(deleting(item("d", vec![]), FOREGROUND));
        g.upsert(item("rs", vec![owner("d", true)]));
        g.upsert(item("pod", vec![owner("rs", true)]));
        let steps = g.decide("d");
        assert_eq!(steps.len(), 1, "blocked: no finalizer removal yet: {steps:?}");
        assert!(matches!(&steps[0], Step::Delete { target, foreground: true } if target.uid == "rs"));
        // The dependent itself, seen from its side, also goes in the foreground.
        assert!(matches!(g.decide("rs").as_slice(), [Step::DeleteUnlessLive { foreground: true, .. }]));
        g.remove("pod");
        g.remove("rs");
        assert!(matches!(g.decide("d").as_slice(), [Step::RemoveFinalizer { finalizer: FOREGROUND, .. }]));
    }

    #[test]
    fn non_blocking_dependents_do_not_hold_the_owner() {
        let mut g = Graph::default();
        g.upsert(deleting(item("d", vec![]), FOREGROUND));
        g.upsert(item("cm", vec![owner("d", false)]));
        let steps = g.decide("d");
        assert_eq!(steps.len(), 2);
        assert!(matches!(&steps[1], Step::RemoveFinalizer { .. }));
    }

    #[test]
    fn candidates_and_relist_bookkeeping() {
        let mut g = Graph::default();
        g.upsert(item("a", vec![]));
        g.upsert(item("b", vec![owner("a", false)]));
        assert_eq!(g.candidates(), vec!["b".to_string()]);
        assert_eq!(g.uids_of(0).len(), 2);
        // Re-recording with different owners moves the dependent edge.
        g.upsert(item("b", vec![]));
        assert!(g.remove("a").is_empty());
    }
}

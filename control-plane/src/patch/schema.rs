//! What the patch engines need to know about a type's shape.
//!
//! Strategic merge patch and server-side apply both need to know, for every
//! list in an object, whether it is atomic, a set, or a map keyed by some
//! fields. That knowledge lives in the OpenAPI schema (`x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, `x-kubernetes-patch-strategy`,
//! `x-kubernetes-patch-merge-key`); the engines see it only through this trait.

/// How server-side apply treats a list (`x-kubernetes-list-type`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum ListType {
    /// Replaced as a whole; one owner.
    #[default]
    Atomic,
    /// Scalars, each element owned separately (`v:` in managed fields).
    Set,
    /// Objects keyed by these fields (`k:` in managed fields).
    Map(Vec<String>),
}

/// Everything the patch engines ask about one node of a schema.
pub trait PatchSchema: Sized {
    /// The schema of a field of this object, or of a value of this map
    /// (additionalProperties). `None` when unknown (then engines fall back to
    /// plain JSON semantics below this point).
    fn field(&self, name: &str) -> Option<Self>;
    /// The schema of this list's items.
    fn items(&self) -> Option<Self>;
    /// Server-side apply semantics of this list.
    fn list_type(&self) -> ListType;
    /// Strategic merge: `x-kubernetes-patch-merge-key` when the patch strategy
    /// includes `merge` on a list of objects.
    fn patch_merge_key(&self) -> Option<String>;
    /// Strategic merge: the patch strategy includes `merge` (lists are merged
    /// instead of replaced; for lists of scalars this means set-union).
    fn patch_strategy_merge(&self) -> bool;
    /// Strategic merge: the patch strategy includes `retainKeys`.
    fn patch_strategy_retain_keys(&self) -> bool;
}

/// A schema that knows nothing: every list atomic, every map merged
/// recursively. Used for custom resources without list annotations.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unknown;

impl PatchSchema for Unknown {
    fn field(&self, _name: &str) -> Option<Self> {
        Some(Unknown)
    }
    fn items(&self) -> Option<Self> {
        Some(Unknown)
    }
    fn list_type(&self) -> ListType {
        ListType::Atomic
    }
    fn patch_merge_key(&self) -> Option<String> {
        None
    }
    fn patch_strategy_merge(&self) -> bool {
        false
    }
    fn patch_strategy_retain_keys(&self) -> bool {
        false
    }
}

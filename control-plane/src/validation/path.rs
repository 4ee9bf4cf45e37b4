//! Field paths in the form Kubernetes prints them: `spec.containers[0].name`, `metadata.labels[app]`.

use std::fmt;

/// A dotted path with indices and map keys, built up as validation descends into an object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    /// A path starting at a top-level field (`"spec"`, `"metadata"`); `""` is the whole object.
    pub fn new(root: &str) -> Self {
        FieldPath(root.to_string())
    }

    /// The path of a named field below this one.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            FieldPath(name.to_string())
        } else {
            FieldPath(format!("{}.{name}", self.0))
        }
    }

    /// The path of a list element.
    pub fn index(&self, index: usize) -> Self {
        FieldPath(format!("{}[{index}]", self.0))
    }

    /// The path of a map entry (Kubernetes does not quote the key).
    pub fn key(&self, key: &str) -> Self {
        FieldPath(format!("{}[{key}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<FieldPath> for String {
    fn from(path: FieldPath) -> String {
        path.0
    }
}

impl From<&FieldPath> for String {
    fn from(path: &FieldPath) -> String {
        path.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_paths_like_kubernetes() {
        let spec = FieldPath::new("spec");
        assert_eq!(spec.child("containers").index(0).child("name").as_str(), "spec.containers[0].name");
        assert_eq!(FieldPath::new("metadata").child("labels").key("app").as_str(), "metadata.labels[app]");
        assert_eq!(FieldPath::new("").child("data").as_str(), "data");
        assert_eq!(String::from(&spec), "spec");
    }
}

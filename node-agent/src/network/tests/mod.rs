//! Real tests, as root: each runs in network namespaces it creates itself (never the machine's
//! root netns) and cleans up netns files, mounts and state directories even when it fails.

pub(crate) mod support;

mod node_setup;
mod pods;
mod two_nodes;

//! Test fixtures: network namespaces, a test cgroup, echo servers and the in-cgroup probe.
//! Every fixture cleans up in `Drop`, so a failing or panicking test leaves nothing behind.
pub mod cgroup;
pub mod echo;
pub mod netns;
pub mod pins;
pub mod probe;

//! Test fixtures: the namespace topology, echo servers, the client and the pin directory.
//! Every fixture cleans up in `Drop`, so a failing or panicking test leaves nothing behind.
pub mod client;
pub mod echo;
pub mod netns;
pub mod pins;
pub mod topology;

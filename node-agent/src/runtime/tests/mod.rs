//! Real end-to-end tests (root required): busybox containers started through the shim, which is this very
//! test binary re-executed (see `hook`).

pub(crate) mod fixture;
mod hook;

mod basics;
mod exec;
mod isolation;
mod lifecycle;
mod limits;
mod logging;
mod mounts;
mod network;

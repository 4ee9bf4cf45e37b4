//! Pulling images from an OCI Distribution (docker registry v2) API.

mod auth;
mod client;
mod pull;

pub(super) use pull::pull;

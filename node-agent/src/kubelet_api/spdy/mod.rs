//! A small SPDY/3.1 implementation: just what Kubernetes' exec, attach and port-forward streams need.

mod connection;
mod dictionary;
mod frame;
mod headers;

pub(crate) use connection::{SpdySession, SpdyStream};
#[cfg(test)]
pub(crate) use frame::Frame;
#[cfg(test)]
pub(crate) use headers::{HeaderDecoder, HeaderEncoder};

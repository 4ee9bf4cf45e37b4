//! Real end-to-end tests (root required): busybox containers through the runtime, served by the kubelet API
//! on loopback with a test CA.

mod fixture;
mod harness;
mod hook;
mod spdy_client;

mod exec;
mod kubectl;
mod logs;
mod portforward;
mod relay;
mod tls;

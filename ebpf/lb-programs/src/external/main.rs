//! Keel external load balancing: TC programs on a node's external interface for traffic that
//! arrives from outside the cluster (NodePort, externalIPs, LoadBalancer IPs).
//!
//! - `ext_ingress`: new flows to a frontend pick a backend by Maglev hashing and get a
//!   connection-tracking entry; packets are DNATed to a local pod (and routed by the kernel) or
//!   DNATed + SNATed to this node and redirected to a remote node. Replies from remote backends
//!   (to this node's SNAT port) are translated back and redirected to the client.
//! - `ext_egress`: replies of local backends leaving towards the client get the frontend as source.
//!
//! A separate object (`keel-ext-lb`) from the socket LB so neither loader creates the other's maps.
#![no_std]
#![no_main]

mod maps;
#[path = "../object.rs"]
mod object;
mod packet;
mod redirect;
mod reply;
mod select;
mod snat;
mod stats;
mod translate;

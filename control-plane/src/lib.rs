//! Keel's control plane: the Kubernetes API server on an embedded store.

pub mod api;
pub mod bootstrap;
pub mod controller_manager;
pub mod controllers;
pub mod crd;
pub mod crd_schema;
pub mod openapi;
pub mod patch;
pub mod pki;
pub mod registry;
pub mod scheduler;
pub mod server;
pub mod services;
pub mod store;
pub mod table;
pub mod validation;

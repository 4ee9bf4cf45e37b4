//! Scenario tests for the scheduler, building objects with `serde_json::json!`.

mod fixtures;
mod message_tests;
mod node_affinity_tests;
mod pod_affinity_tests;
mod port_tests;
mod resource_tests;
mod score_tests;
mod spread_tests;
mod taint_tests;

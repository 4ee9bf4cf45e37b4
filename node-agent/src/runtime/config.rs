//! `spec.json`: the contract between `Runtime::start` (in the agent) and the shim (a separate process).

use serde::{Deserialize, Serialize};

use super::cgroups::CgroupDir;
use super::error::RuntimeError;
use super::files::{read_json, write_json_atomic};
use super::layout::StateLayout;
use super::spec::ContainerSpec;

/// The spec plus facts only the agent can resolve (its own cgroups), so the shim needs nothing else.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ShimConfig {
    pub spec: ContainerSpec,
    pub cgroups: Vec<CgroupDir>,
}

impl ShimConfig {
    pub(crate) fn save(&self, layout: &StateLayout) -> Result<(), RuntimeError> {
        write_json_atomic(&layout.config_file(), self)
    }

    pub(crate) fn load(layout: &StateLayout) -> Result<Option<ShimConfig>, RuntimeError> {
        read_json(&layout.config_file())
    }
}

//! What the scheduler reads from the request spec (the struct itself is a domain type,
//! stored on the volume row: `crate::model::spec`).

pub use crate::model::spec::RequestSpec;

use super::ScheduleRequest;

impl RequestSpec {
    /// What the filters need.
    pub fn schedule_request(&self) -> ScheduleRequest {
        ScheduleRequest {
            size_gb: self.size_gb,
            availability_zones: self.availability_zones.clone(),
            extra_specs: self.extra_specs.clone(),
            excluded_nodes: self.tried_nodes.clone(),
            pinned_node: self.pinned_node.clone(),
        }
    }
}

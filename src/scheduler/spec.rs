//! The request spec: the durable intent of a create, stored on the volume row.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ScheduleRequest;

/// Everything the scheduler needs to place a volume, and what happened so far. It is
/// written with the row before any message is sent, so recovery can redo any step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSpec {
    /// GiB.
    pub size_gb: u64,
    /// Acceptable zones (empty: any).
    pub availability_zones: Vec<String>,
    /// The type's id.
    pub volume_type_id: String,
    /// The type's extra specs at the time of the request.
    pub extra_specs: BTreeMap<String, String>,
    /// Nodes that were given the volume, in order.
    #[serde(default)]
    pub tried_nodes: Vec<String>,
    /// Why each tried node failed.
    #[serde(default)]
    pub failures: Vec<String>,
    /// The snapshot to copy, if any.
    #[serde(default)]
    pub snapshot_id: Option<String>,
    /// The volume the copy reads, and its size (GiB): the snapshot's volume and the
    /// snapshot's size, or, without `snapshot_id`, the volume to clone.
    #[serde(default, rename = "snapshot_source")]
    pub copy_source: Option<(String, u64)>,
    /// The node holding the source: only it may take the new volume.
    #[serde(default)]
    pub pinned_node: Option<String>,
}

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

    /// As stored in the row.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// From the row.
    pub fn from_json(s: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(s)
    }
}

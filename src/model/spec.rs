//! The request spec: the durable intent of a create, stored on the volume row.
//!
//! It is kept as JSON text in `volumes.request_spec` (TEXT on both backends); the
//! conversion is `crate::db::columns`, so rows carry the struct and no call site writes
//! or parses the JSON itself. What the scheduler derives from it lives in
//! `crate::scheduler::spec`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Everything the scheduler needs to place a volume, and what happened so far. It is
/// written with the row before any message is sent, so recovery can redo any step.
///
/// The field order is the stored key order (serde writes fields in declaration order and
/// `BTreeMap` sorts its keys), so a spec read and written back is byte-identical.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
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
    pub snapshot_id: Option<crate::model::SnapshotId>,
    /// The volume the copy reads, and its size (GiB): the snapshot's volume and the
    /// snapshot's size, or, without `snapshot_id`, the volume to clone.
    #[serde(default, rename = "snapshot_source")]
    pub copy_source: Option<(String, u64)>,
    /// The node holding the source: only it may take the new volume.
    #[serde(default)]
    pub pinned_node: Option<String>,
}

//! The messages the actors exchange, and the types they carry: the one module every
//! actor depends on, so that no actor imports another (checked by `layering_tests`).
//!
//! Every message here is `Serialize + Deserialize`: a scale-out will carry them between
//! processes (through [`super::dispatch`], the seam between local and remote delivery).
//! Two kinds of thing stay out of this module on purpose:
//! - handles (`Addr`, `Recipient`, [`super::mailbox::Tracked`]) name a mailbox of this
//!   process and cannot travel: they live in [`super::dispatch`];
//! - the journal's `RecordRun` and `Flush` (in [`super::journal`]): each process
//!   journals its own flows, and a `FlowRun` borrows `&'static` task names, which
//!   cannot be deserialized.
//!
//! Replies that are `Result<_, ServiceError>` are not serializable yet: `ServiceError`
//! carries no serde form (the error enums are being reworked apart from this module);
//! a remote delivery will need one.

use std::collections::BTreeMap;

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::ServiceError;
use crate::drivers::{BackendStats, ConnectionInfo};
use crate::model::{Host, NodeName, ProjectId, RequestId, SnapshotId, VolumeId};
use crate::scheduler::PoolState;
use crate::scheduler::spec::RequestSpec;

// ---- To a node's `VolumeActor` (from the API, the scheduler, and the wiring) ----

/// Create a volume the scheduler placed here (a cast).
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct CreateVolumeOnNode {
    /// The volume.
    pub volume_id: VolumeId,
    /// Its project.
    pub project_id: ProjectId,
    /// The request that created it.
    pub request_id: RequestId,
    /// Where the volume goes, as stored on the row.
    pub host: Host,
    /// The spec, with this node already in `tried_nodes`.
    pub spec: RequestSpec,
    /// The scheduler's placement number, acknowledged in the next stats report
    /// (0 for a create resumed by recovery).
    pub cast_seq: u64,
}

/// Delete a volume of this node (a cast). The row is already `deleting`.
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct DeleteVolumeOnNode {
    /// The volume.
    pub volume_id: VolumeId,
    /// Its project.
    pub project_id: ProjectId,
    /// The delete request.
    pub request_id: RequestId,
}

/// Measure capacity and report it to the scheduler; answers once the report is sent.
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct PublishStats;

/// Resume or roll back whatever this node left unfinished (every volume or snapshot of
/// the node in a transitional state), re-create the exports of attached volumes, and
/// compare the backend with the database (see [`crate::actors::volume::recovery`]).
/// Answers with the number of operations resumed.
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "Result<usize, ServiceError>")]
pub struct RecoverNode;

/// Compare the backend with the database now (what the periodic check does).
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "Result<ReconcileReport, ServiceError>")]
pub struct ReconcileNode;

/// Export a volume to a consumer and return how to reach it (a call).
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "Result<ConnectionInfo, ServiceError>")]
pub struct InitializeConnection {
    /// The volume.
    pub volume_id: VolumeId,
    /// Its size.
    pub size_gb: u64,
    /// os-brick's connector.
    pub connector: serde_json::Value,
}

/// Undo [`InitializeConnection`] (a call).
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct TerminateConnection {
    /// The volume.
    pub volume_id: VolumeId,
    /// Its size.
    pub size_gb: u64,
    /// os-brick's connector.
    pub connector: serde_json::Value,
}

/// Grow a volume that is `extending` (a cast). Reservations are committed on success and
/// rolled back on failure.
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct ExtendVolumeOnNode {
    /// The volume.
    pub volume_id: VolumeId,
    /// Its project.
    pub project_id: ProjectId,
    /// The extend request.
    pub request_id: RequestId,
    /// Where the volume lives.
    pub host: Host,
    /// Size before.
    pub old_size: u64,
    /// Size after.
    pub new_size: u64,
    /// The `gigabytes` reservation for the growth.
    pub reservations: Vec<String>,
}

/// Take a snapshot that is `creating` (a cast).
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct CreateSnapshotOnNode {
    /// The snapshot.
    pub snapshot_id: SnapshotId,
    /// Its volume.
    pub volume_id: VolumeId,
    /// The volume's size.
    pub volume_size: u64,
    /// The project.
    pub project_id: ProjectId,
    /// The request.
    pub request_id: RequestId,
}

/// Delete a snapshot that is `deleting` (a cast).
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct DeleteSnapshotOnNode {
    /// The snapshot.
    pub snapshot_id: SnapshotId,
    /// Its volume.
    pub volume_id: VolumeId,
    /// The volume's size when it was taken.
    pub volume_size: u64,
    /// The project.
    pub project_id: ProjectId,
    /// The request.
    pub request_id: RequestId,
}

/// Put a volume back to a snapshot's content: volume `reverting`, snapshot `restoring`
/// (a cast).
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct RevertVolumeOnNode {
    /// The volume.
    pub volume_id: VolumeId,
    /// The snapshot.
    pub snapshot_id: SnapshotId,
    /// The volume's size.
    pub size_gb: u64,
    /// The project.
    pub project_id: ProjectId,
    /// The request.
    pub request_id: RequestId,
}

/// What one comparison of the backend with the database found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileReport {
    /// Objects no row names (temp files of finished creates included).
    pub orphans_found: usize,
    /// Of those, removed (older than the grace period and still unnamed).
    pub orphans_removed: usize,
    /// Volume and snapshot rows put in `error` because their object is missing.
    pub missing: usize,
    /// Exports torn down because no attachment holds their volume.
    pub exports_removed: usize,
}

// ---- Between processes (through the outbox, `crate::db::outbox`) ----

/// A cast to a node, as it travels in the outbox to the process holding the node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum NodeWork {
    /// [`CreateVolumeOnNode`].
    Create(CreateVolumeOnNode),
    /// [`DeleteVolumeOnNode`].
    Delete(DeleteVolumeOnNode),
    /// [`ExtendVolumeOnNode`].
    Extend(ExtendVolumeOnNode),
    /// [`CreateSnapshotOnNode`].
    CreateSnapshot(CreateSnapshotOnNode),
    /// [`DeleteSnapshotOnNode`].
    DeleteSnapshot(DeleteSnapshotOnNode),
    /// [`RevertVolumeOnNode`].
    Revert(RevertVolumeOnNode),
}

impl NodeWork {
    /// The volume or snapshot the work is about (stored beside it, for operators).
    pub fn resource_id(&self) -> String {
        match self {
            NodeWork::Create(m) => m.volume_id.to_string(),
            NodeWork::Delete(m) => m.volume_id.to_string(),
            NodeWork::Extend(m) => m.volume_id.to_string(),
            NodeWork::CreateSnapshot(m) => m.snapshot_id.to_string(),
            NodeWork::DeleteSnapshot(m) => m.snapshot_id.to_string(),
            NodeWork::Revert(m) => m.volume_id.to_string(),
        }
    }
}

/// A cast in the outbox with where it came from: the controller instance and its
/// placement number (a create), so the node's report can say which placements it had
/// received ([`NodeStatsReport::acked_seq`] per controller).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueuedWork {
    /// The instance that queued it.
    pub origin: String,
    /// The cast.
    pub work: NodeWork,
}

/// A call to a node held by another process; the answer comes back in the outbox row.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum NodeCall {
    /// [`InitializeConnection`].
    Initialize(InitializeConnection),
    /// [`TerminateConnection`].
    Terminate(TerminateConnection),
}

/// A call's answer as it travels: the value, or the error's kind and message (kinds
/// that change the HTTP status keep their meaning on the caller's side).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CallReply {
    /// The value (JSON of the call's answer).
    Ok(serde_json::Value),
    /// The error.
    Err {
        /// `invalid`, `invalid_state`, `conflict`, `unavailable` or `driver`.
        kind: String,
        /// Safe to show, as [`ServiceError`]'s display.
        message: String,
    },
}

impl CallReply {
    /// The answer `r` as it travels.
    pub fn of<T: Serialize>(r: Result<T, ServiceError>) -> CallReply {
        match r.and_then(|v| {
            serde_json::to_value(v).map_err(|e| ServiceError::Internal(e.to_string()))
        }) {
            Ok(v) => CallReply::Ok(v),
            Err(e) => {
                let kind = match &e {
                    ServiceError::Invalid(_) => "invalid",
                    ServiceError::InvalidState(_) => "invalid_state",
                    ServiceError::Conflict(_) => "conflict",
                    ServiceError::Unavailable(_) | ServiceError::NodeUnavailable(_) => {
                        "unavailable"
                    }
                    _ => "driver",
                };
                let message = match e {
                    ServiceError::Invalid(m)
                    | ServiceError::InvalidState(m)
                    | ServiceError::Conflict(m)
                    | ServiceError::Unavailable(m)
                    | ServiceError::NodeUnavailable(m)
                    | ServiceError::Driver(m) => m,
                    other => other.to_string(),
                };
                CallReply::Err {
                    kind: kind.into(),
                    message,
                }
            }
        }
    }

    /// The answer back on the caller's side.
    pub fn into_result<T: serde::de::DeserializeOwned>(self) -> Result<T, ServiceError> {
        match self {
            CallReply::Ok(v) => serde_json::from_value(v)
                .map_err(|e| ServiceError::Internal(format!("unreadable answer: {e}"))),
            CallReply::Err { kind, message } => Err(match kind.as_str() {
                "invalid" => ServiceError::Invalid(message),
                "invalid_state" => ServiceError::InvalidState(message),
                "conflict" => ServiceError::Conflict(message),
                "unavailable" => ServiceError::Unavailable(message),
                _ => ServiceError::Driver(message),
            }),
        }
    }
}

// ---- To the `SchedulerActor` (from the nodes and the API) ----

/// A node's capacity report. `acked_seq` is the last placement the node had received
/// when it measured, so placements still in flight are kept on top of the report.
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct NodeStatsReport {
    /// The node.
    pub node: NodeName,
    /// Its zone.
    pub availability_zone: String,
    /// What its driver reported, with `allocated_capacity_gb` filled in by the node.
    pub stats: BackendStats,
    /// The highest `cast_seq` of a [`CreateVolumeOnNode`] the node had handled.
    pub acked_seq: u64,
    /// The capacity ledger's figures of the node's pools when it measured (each pool's
    /// `allocated_capacity_gb` is its figure here): what the scheduler counts placements
    /// since the report from.
    #[serde(default)]
    pub ledger: Vec<crate::db::ledger::Figure>,
}

/// Place a volume and hand it to the chosen node (a cast: nobody waits for it).
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct ScheduleCreateVolume {
    /// The volume.
    pub volume_id: VolumeId,
    /// Its project.
    pub project_id: ProjectId,
    /// The request that created it.
    pub request_id: RequestId,
    /// What to place, and the nodes already tried.
    pub spec: RequestSpec,
}

/// Does the pool `host` satisfy these extra specs (capacity aside)? Used by retype.
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "Result<(), String>")]
pub struct CheckHost {
    /// The pool asked about.
    pub host: Host,
    /// The new type's extra specs.
    pub extra_specs: BTreeMap<String, String>,
}

/// The pools as the scheduler sees them now.
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "Vec<PoolState>")]
pub struct GetPools;

/// An operator enabled or disabled a node (`os-services`): a disabled node's pools stay
/// known but the EnabledFilter turns them down, so it gets no new volumes.
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct SetNodeDisabled {
    /// The node's name.
    pub node: NodeName,
    /// Disabled (true) or enabled again (false).
    pub disabled: bool,
}

/// Whether a node's holder is alive (`[cluster] node_down_after_seconds`): a down node's
/// pools stay listed, marked down, but take no new volumes.
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct SetNodeDown {
    /// The node's name.
    pub node: NodeName,
    /// Down (true) or up again (false).
    pub down: bool,
}

/// The capacity ledger as a controller's watch read it: every pool's figure, kept by
/// the scheduler where newer than the one it has.
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "()")]
pub struct LedgerFigures(pub Vec<crate::db::ledger::Figure>);

/// One pool with the backend-level figures of its node's last report, for
/// `scheduler-stats/get_pools` and `capabilities`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolReport {
    /// The pool, with in-flight placements applied.
    pub pool: PoolState,
    /// The driver's maker.
    pub vendor_name: String,
    /// The driver's version.
    pub driver_version: String,
    /// When the node last reported.
    pub timestamp: chrono::NaiveDateTime,
    /// Whether the node is down (its holder stopped renewing its lease).
    #[serde(default)]
    pub down: bool,
}

/// Every pool with its backend's figures.
#[derive(Debug, Clone, Message, Serialize, Deserialize)]
#[rtype(result = "Vec<PoolReport>")]
pub struct GetPoolReports;

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;

    use super::*;

    /// Compiles only if `T` can be written and read back.
    fn travels<T: Serialize + DeserializeOwned>() {}

    #[test]
    fn every_message_can_travel() -> Result<(), serde_json::Error> {
        travels::<CreateVolumeOnNode>();
        travels::<DeleteVolumeOnNode>();
        travels::<PublishStats>();
        travels::<RecoverNode>();
        travels::<ReconcileNode>();
        travels::<ReconcileReport>();
        travels::<InitializeConnection>();
        travels::<TerminateConnection>();
        travels::<ExtendVolumeOnNode>();
        travels::<CreateSnapshotOnNode>();
        travels::<DeleteSnapshotOnNode>();
        travels::<RevertVolumeOnNode>();
        travels::<NodeStatsReport>();
        travels::<ScheduleCreateVolume>();
        travels::<CheckHost>();
        travels::<GetPools>();
        travels::<SetNodeDisabled>();
        travels::<SetNodeDown>();
        travels::<LedgerFigures>();
        travels::<PoolReport>();
        travels::<GetPoolReports>();
        travels::<QueuedWork>();
        travels::<NodeCall>();
        travels::<CallReply>();
        let sent = ScheduleCreateVolume {
            volume_id: VolumeId(uuid::Uuid::new_v4()),
            project_id: "project-a".into(),
            request_id: RequestId("req-1".into()),
            spec: RequestSpec::default(),
        };
        let got: ScheduleCreateVolume = serde_json::from_str(&serde_json::to_string(&sent)?)?;
        assert_eq!(
            (got.volume_id, got.project_id, got.request_id, got.spec),
            (sent.volume_id, sent.project_id, sent.request_id, sent.spec)
        );
        Ok(())
    }
}

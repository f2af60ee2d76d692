//! User messages: how an asynchronous failure reaches the person who asked.
//!
//! Cinder's event ids and texts (cinder-api.md §17), plus Clinker's own detail saying
//! which node or filter refused and why.

use crate::db::Db;
use crate::db::rows::MessageRow;
use crate::model::{RequestId, VolumeId};

/// How long a message is kept (Cinder's `message_ttl`, 30 days).
const TTL_SECONDS: i64 = 2_592_000;

/// Cinder's action ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// 001 schedule allocate volume.
    ScheduleAllocateVolume,
    /// 007 extend volume.
    ExtendVolume,
    /// 008 create volume from backend storage.
    CreateVolumeFromBackend,
    /// 009 create snapshot.
    CreateSnapshot,
    /// 010 delete snapshot.
    DeleteSnapshot,
    /// 018 delete volume (Clinker's own: Cinder has no action for it).
    DeleteVolume,
    /// 019 revert volume (Clinker's own).
    RevertVolume,
    /// 020 check backing storage (Clinker's own: a node compared its backend with the
    /// database).
    CheckBacking,
}

impl Action {
    fn id_and_text(self) -> (&'static str, &'static str) {
        match self {
            Action::ScheduleAllocateVolume => ("001", "schedule allocate volume"),
            Action::ExtendVolume => ("007", "extend volume"),
            Action::CreateVolumeFromBackend => ("008", "create volume from backend storage"),
            Action::CreateSnapshot => ("009", "create snapshot"),
            Action::DeleteSnapshot => ("010", "delete snapshot"),
            Action::DeleteVolume => ("018", "delete volume"),
            Action::RevertVolume => ("019", "revert volume"),
            Action::CheckBacking => ("020", "check backing storage"),
        }
    }
}

/// Cinder's detail ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// 001 An unknown error occurred.
    Unknown,
    /// 003 Could not find any available weighted backend.
    NoValidBackend,
    /// 010 Volume Driver failed to extend volume.
    DriverExtendFailed,
    /// 012 Driver failed to create the volume.
    DriverCreateFailed,
    /// 013 Snapshot failed to create.
    SnapshotCreateFailed,
    /// 016 Snapshot failed to delete.
    SnapshotDeleteFailed,
}

impl Detail {
    fn id_and_text(self) -> (&'static str, &'static str) {
        match self {
            Detail::Unknown => ("001", "An unknown error occurred."),
            Detail::NoValidBackend => ("003", "Could not find any available weighted backend."),
            Detail::DriverExtendFailed => ("010", "Volume Driver failed to extend volume."),
            Detail::DriverCreateFailed => ("012", "Driver failed to create the volume."),
            Detail::SnapshotCreateFailed => ("013", "Snapshot failed to create."),
            Detail::SnapshotDeleteFailed => ("016", "Snapshot failed to delete."),
        }
    }
}

/// Stores a message about a volume. Failing to store it is logged, never raised: the
/// volume's status already tells the outcome.
pub async fn record_for_volume(
    db: &Db,
    project_id: &crate::model::ProjectId,
    request_id: &RequestId,
    volume_id: VolumeId,
    action: Action,
    detail: Detail,
    explanation: String,
) {
    record(
        db,
        project_id,
        request_id,
        ("VOLUME", volume_id.0),
        action,
        detail,
        explanation,
    )
    .await
}

/// Stores a message about a snapshot.
pub async fn record_for_snapshot(
    db: &Db,
    project_id: &crate::model::ProjectId,
    request_id: &RequestId,
    snapshot_id: crate::model::SnapshotId,
    action: Action,
    detail: Detail,
    explanation: String,
) {
    record(
        db,
        project_id,
        request_id,
        ("VOLUME_SNAPSHOT", snapshot_id.0),
        action,
        detail,
        explanation,
    )
    .await
}

async fn record(
    db: &Db,
    project_id: &crate::model::ProjectId,
    request_id: &RequestId,
    (resource_type, resource_id): (&str, uuid::Uuid),
    action: Action,
    detail: Detail,
    explanation: String,
) {
    let (action_id, action_text) = action.id_and_text();
    let (detail_id, detail_text) = detail.id_and_text();
    let now = crate::db::now();
    let row = MessageRow {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project_id.to_string(),
        request_id: request_id.0.clone(),
        resource_type: Some(resource_type.into()),
        resource_uuid: Some(resource_id.to_string()),
        event_id: format!("VOLUME_{resource_type}_{action_id}_{detail_id}"),
        message_level: "ERROR".into(),
        user_message: format!("{action_text}:{detail_text}"),
        detail: Some(explanation),
        created_at: now,
        expires_at: now + chrono::Duration::seconds(TTL_SECONDS),
    };
    if let Err(e) = db.run(move |c| crate::db::messages::insert(c, &row)).await {
        tracing::error!(error = %e, resource.id = %resource_id, "could not store user message");
    }
}

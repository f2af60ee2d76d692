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
    /// 008 create volume from backend storage.
    CreateVolumeFromBackend,
    /// 018 delete volume (Clinker's own: Cinder has no action for it).
    DeleteVolume,
}

impl Action {
    fn id_and_text(self) -> (&'static str, &'static str) {
        match self {
            Action::ScheduleAllocateVolume => ("001", "schedule allocate volume"),
            Action::CreateVolumeFromBackend => ("008", "create volume from backend storage"),
            Action::DeleteVolume => ("018", "delete volume"),
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
    /// 012 Driver failed to create the volume.
    DriverCreateFailed,
}

impl Detail {
    fn id_and_text(self) -> (&'static str, &'static str) {
        match self {
            Detail::Unknown => ("001", "An unknown error occurred."),
            Detail::NoValidBackend => ("003", "Could not find any available weighted backend."),
            Detail::DriverCreateFailed => ("012", "Driver failed to create the volume."),
        }
    }
}

/// Stores a message about a volume. Failing to store it is logged, never raised: the
/// volume's status already tells the outcome.
pub async fn record_for_volume(
    db: &Db,
    project_id: &str,
    request_id: &RequestId,
    volume_id: VolumeId,
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
        resource_type: Some("VOLUME".into()),
        resource_uuid: Some(volume_id.to_string()),
        event_id: format!("VOLUME_VOLUME_{action_id}_{detail_id}"),
        message_level: "ERROR".into(),
        user_message: format!("{action_text}:{detail_text}"),
        detail: Some(explanation),
        created_at: now,
        expires_at: now + chrono::Duration::seconds(TTL_SECONDS),
    };
    if let Err(e) = db.run(move |c| crate::db::messages::insert(c, &row)).await {
        tracing::error!(error = %e, volume.id = %volume_id, "could not store user message");
    }
}

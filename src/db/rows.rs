//! Row types, one per table, as diesel reads and writes them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::model::spec::RequestSpec;
use crate::model::{AttachStatus, Host, ProjectId, SnapshotId, SnapshotStatus, VolumeStatus};

use super::schema::{
    flow_runs, messages, snapshots, volume_attachment, volume_metadata, volume_types, volumes,
};

/// A `volumes` row.
#[derive(Debug, Clone, Default, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = volumes)]
pub struct VolumeRow {
    /// UUID.
    pub id: String,
    /// Owner.
    pub project_id: ProjectId,
    /// Creator.
    pub user_id: String,
    /// `name` in the API.
    pub display_name: Option<String>,
    /// `description` in the API.
    pub display_description: Option<String>,
    /// GiB.
    pub size: i64,
    /// Its status.
    pub status: VolumeStatus,
    /// Whether (and how far) it is attached.
    pub attach_status: AttachStatus,
    /// Zone.
    pub availability_zone: String,
    /// The type's id.
    pub volume_type_id: String,
    /// Where it lives, once scheduled.
    pub host: Option<Host>,
    /// Whether the volume can boot an instance.
    pub bootable: bool,
    /// Whether several attachments are allowed.
    pub multiattach: bool,
    /// Source snapshot.
    pub snapshot_id: Option<SnapshotId>,
    /// Source volume.
    pub source_volid: Option<String>,
    /// Where the backend keeps it.
    pub provider_location: Option<String>,
    /// The durable intent the scheduler works from (JSON text in the column).
    pub request_spec: RequestSpec,
    /// The creating request's id.
    pub request_id: String,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: Option<NaiveDateTime>,
    /// When a node was picked.
    pub scheduled_at: Option<NaiveDateTime>,
    /// When it became available.
    pub launched_at: Option<NaiveDateTime>,
    /// The status to return to after a transient one (extending, retyping...).
    pub previous_status: Option<VolumeStatus>,
}

/// A `volume_metadata` row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = volume_metadata)]
pub struct VolumeMetadataRow {
    /// The volume.
    pub volume_id: String,
    /// Key.
    pub meta_key: String,
    /// Value.
    pub meta_value: String,
}

/// A `volume_types` row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = volume_types)]
pub struct VolumeTypeRow {
    /// UUID.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Visible to every project.
    pub is_public: bool,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: Option<NaiveDateTime>,
}

/// A `flow_runs` row: one run of one flow.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = flow_runs)]
pub struct FlowRunRow {
    /// The run's UUID.
    pub id: String,
    /// Orders the runs of one resource.
    pub seq: i64,
    /// The volume (or other resource) the flow worked on.
    pub resource_id: String,
    /// Its project, so the timeline outlives the volume and is still access-checked.
    pub project_id: String,
    /// The request that started the flow.
    pub request_id: String,
    /// The flow's name.
    pub flow: String,
    /// The flow's final `FlowState`.
    pub state: String,
    /// JSON array of every flow and task transition with its time.
    pub transitions: String,
    /// JSON detail, such as the scheduler's decision.
    pub detail: Option<String>,
    /// When the flow started.
    pub started_at: NaiveDateTime,
    /// When it ended.
    pub finished_at: NaiveDateTime,
}

/// A `messages` row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = messages)]
pub struct MessageRow {
    /// UUID.
    pub id: String,
    /// The project that can read it.
    pub project_id: String,
    /// The request it is about.
    pub request_id: String,
    /// `VOLUME`, ...
    pub resource_type: Option<String>,
    /// The resource's id.
    pub resource_uuid: Option<String>,
    /// `VOLUME_VOLUME_001_003`, ...
    pub event_id: String,
    /// `ERROR`.
    pub message_level: String,
    /// `<action>:<detail>` in Cinder's words.
    pub user_message: String,
    /// Clinker's own explanation (which node and filter said no, and why).
    pub detail: Option<String>,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// When it may be reaped.
    pub expires_at: NaiveDateTime,
}

/// A `snapshots` row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = snapshots)]
pub struct SnapshotRow {
    /// UUID.
    pub id: SnapshotId,
    /// The volume it was taken of.
    pub volume_id: String,
    /// Owner.
    pub project_id: ProjectId,
    /// Creator.
    pub user_id: String,
    /// Its status.
    pub status: SnapshotStatus,
    /// `0%` .. `100%`.
    pub progress: String,
    /// The volume's size when taken, GiB.
    pub volume_size: i64,
    /// `name` in the API.
    pub display_name: Option<String>,
    /// `description` in the API.
    pub display_description: Option<String>,
    /// The volume's type.
    pub volume_type_id: String,
    /// Where the backend keeps it.
    pub provider_location: Option<String>,
    /// The creating request.
    pub request_id: String,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: Option<NaiveDateTime>,
}

/// A `volume_attachment` row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = volume_attachment)]
pub struct AttachmentRow {
    /// UUID.
    pub id: String,
    /// The volume.
    pub volume_id: String,
    /// The volume's project.
    pub project_id: ProjectId,
    /// The server it is attached to.
    pub instance_uuid: Option<String>,
    /// The host it is attached to.
    pub attached_host: Option<String>,
    /// Device path on the consumer.
    pub mountpoint: Option<String>,
    /// Where the attachment is in its life (`reserved` .. `attached`, or an error).
    pub attach_status: AttachStatus,
    /// `rw` or `ro`.
    pub attach_mode: Option<String>,
    /// JSON connection info (may hold credentials).
    pub connection_info: Option<String>,
    /// JSON connector.
    pub connector: Option<String>,
    /// When it became attached.
    pub attach_time: Option<NaiveDateTime>,
    /// When it was detached.
    pub detach_time: Option<NaiveDateTime>,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: Option<NaiveDateTime>,
}

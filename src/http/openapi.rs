//! The OpenAPI 3.1 document, `GET /clinker/v1/openapi.json` (no token needed).
//!
//! Built from the code: the paths come from the router's own route tables
//! ([`super::MOUNTS`]). A route's operation is generated from its handler's
//! `#[utoipa::path]` (those listed in [`Generated`], whose typed request bodies are the
//! very types the handler parses, see [`super::body::Body`]), or else described by an
//! entry of [`OPERATIONS`] until its handler is converted. Answers are described by the
//! schema-only structs below (derived with utoipa's `ToSchema`): the handlers build
//! them with `serde_json::json!` (see [`super::views`]), so these are never constructed.
//! A route with no operation or with two, or a generated operation with no route, makes
//! [`document`] fail, and `tests/http_openapi.rs` checks that every route is in the
//! document, so the two cannot drift apart silently.
//!
//! The `/v3/{project_id}/...` forms of the Block Storage routes serve the same operations
//! as the project-less `/v3/...` forms and are not listed twice.

#![allow(
    dead_code,
    reason = "schema-only structs: they describe JSON built elsewhere"
)]

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use serde::Serialize;
use serde_json::json;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required, ResponseBuilder, ResponsesBuilder,
};
use utoipa::{PartialSchema, ToSchema};

use super::{MOUNTS, Route, error::ApiError};

/// The details of a fault.
#[derive(Serialize, ToSchema)]
pub struct FaultDetail {
    /// The HTTP status again.
    pub code: u16,
    /// What went wrong, for a person.
    pub message: String,
    /// Seconds to wait before retrying (`overLimit` only).
    #[serde(rename = "retryAfter")]
    pub retry_after: Option<String>,
}

/// Cinder's error body: one key, the fault's name, e.g.
/// `{"badRequest": {"code": 400, "message": "..."}}`.
#[derive(Serialize, ToSchema)]
#[schema(min_properties = 1, max_properties = 1)]
pub struct Fault {
    /// 400.
    #[serde(rename = "badRequest")]
    pub bad_request: Option<FaultDetail>,
    /// 401.
    pub unauthorized: Option<FaultDetail>,
    /// 403.
    pub forbidden: Option<FaultDetail>,
    /// 404.
    #[serde(rename = "itemNotFound")]
    pub item_not_found: Option<FaultDetail>,
    /// 406 (an unsupported microversion) and 500.
    #[serde(rename = "computeFault")]
    pub compute_fault: Option<FaultDetail>,
    /// 409.
    #[serde(rename = "conflictingRequest")]
    pub conflicting_request: Option<FaultDetail>,
    /// 413 (quota or body size).
    #[serde(rename = "overLimit")]
    pub over_limit: Option<FaultDetail>,
    /// 415.
    #[serde(rename = "badMediaType")]
    pub bad_media_type: Option<FaultDetail>,
    /// 503.
    #[serde(rename = "serviceUnavailable")]
    pub service_unavailable: Option<FaultDetail>,
}

/// A `self` or `bookmark` (or `next`) link.
#[derive(Serialize, ToSchema)]
pub struct Link {
    /// `self`, `bookmark` or `next`.
    pub rel: String,
    /// The URL.
    pub href: String,
}

/// A volume in `GET /volumes`.
#[derive(Serialize, ToSchema)]
pub struct VolumeSummary {
    /// UUID.
    pub id: String,
    /// Display name.
    #[schema(required = true)]
    pub name: Option<String>,
    /// Links to the volume.
    pub links: Vec<Link>,
}

/// One attachment as a volume shows it.
#[derive(Serialize, ToSchema)]
pub struct VolumeAttachmentRef {
    /// The volume's id (Cinder's naming).
    pub id: String,
    /// The attachment's id.
    pub attachment_id: String,
    /// The volume's id.
    pub volume_id: String,
    /// The instance.
    #[schema(required = true)]
    pub server_id: Option<String>,
    /// The host (admins only; `null` otherwise).
    #[schema(required = true)]
    pub host_name: Option<String>,
    /// The device path.
    #[schema(required = true)]
    pub device: Option<String>,
    /// When it was attached.
    #[schema(required = true)]
    pub attached_at: Option<String>,
}

/// The detail view of a volume. Keys after `links` depend on the microversion, the
/// caller's role and the call (show and detail lists add the `os-vol-*` keys).
#[derive(Serialize, ToSchema)]
pub struct Volume {
    /// UUID.
    pub id: String,
    /// Display name.
    #[schema(required = true)]
    pub name: Option<String>,
    /// Display description.
    #[schema(required = true)]
    pub description: Option<String>,
    /// `creating`, `available`, `in-use`, `error`, ...
    pub status: String,
    /// GiB.
    pub size: i64,
    /// Zone.
    #[schema(required = true)]
    pub availability_zone: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    #[schema(required = true)]
    pub updated_at: Option<String>,
    /// Type name.
    #[schema(required = true)]
    pub volume_type: Option<String>,
    /// Source snapshot.
    #[schema(required = true)]
    pub snapshot_id: Option<String>,
    /// Source volume.
    #[schema(required = true)]
    pub source_volid: Option<String>,
    /// User metadata (and the visible admin keys).
    pub metadata: BTreeMap<String, String>,
    /// Owner.
    pub user_id: String,
    /// `"true"` or `"false"`.
    pub bootable: String,
    /// Always false.
    pub encrypted: bool,
    /// Whether several attachments are allowed.
    pub multiattach: bool,
    /// Always null.
    #[schema(required = true)]
    pub replication_status: Option<String>,
    /// Always null.
    #[schema(required = true)]
    pub consistencygroup_id: Option<String>,
    /// The attachments in state `attached`.
    pub attachments: Vec<VolumeAttachmentRef>,
    /// Links.
    pub links: Vec<Link>,
    /// Admins: always null.
    pub migration_status: Option<String>,
    /// 3.13+: always null.
    pub group_id: Option<String>,
    /// 3.21+, admins: always null.
    pub provider_id: Option<String>,
    /// 3.48+.
    pub shared_targets: Option<bool>,
    /// 3.48+: always null.
    pub service_uuid: Option<String>,
    /// 3.61+, admins: always null.
    pub cluster_name: Option<String>,
    /// 3.63+.
    pub volume_type_id: Option<String>,
    /// 3.65+.
    pub consumes_quota: Option<bool>,
    /// Show and detail lists.
    #[serde(rename = "os-vol-tenant-attr:tenant_id")]
    pub tenant_id: Option<String>,
    /// Show and detail lists, admins.
    #[serde(rename = "os-vol-host-attr:host")]
    pub host: Option<String>,
    /// Show and detail lists, admins: always null.
    #[serde(rename = "os-vol-mig-status-attr:migstat")]
    pub migstat: Option<String>,
    /// Show and detail lists, admins: always null.
    #[serde(rename = "os-vol-mig-status-attr:name_id")]
    pub name_id: Option<String>,
}

/// A snapshot.
#[derive(Serialize, ToSchema)]
pub struct Snapshot {
    /// UUID.
    pub id: String,
    /// Display name.
    #[schema(required = true)]
    pub name: Option<String>,
    /// Display description.
    #[schema(required = true)]
    pub description: Option<String>,
    /// `creating`, `available`, ...
    pub status: String,
    /// GiB.
    pub size: i64,
    /// The source volume.
    pub volume_id: String,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    #[schema(required = true)]
    pub updated_at: Option<String>,
    /// 3.14+: always null.
    pub group_snapshot_id: Option<String>,
    /// 3.41+.
    pub user_id: Option<String>,
    /// 3.65+.
    pub consumes_quota: Option<bool>,
    /// Detail views.
    #[serde(rename = "os-extended-snapshot-attributes:project_id")]
    pub project_id: Option<String>,
    /// Detail views.
    #[serde(rename = "os-extended-snapshot-attributes:progress")]
    pub progress: Option<String>,
}

/// An attachment (3.27+). Lists carry the summary keys and an empty `connection_info`;
/// credentials appear only in answers about one attachment.
#[derive(Serialize, ToSchema)]
pub struct Attachment {
    /// UUID.
    pub id: String,
    /// `reserved`, `attaching`, `attached`, ...
    pub status: String,
    /// The instance.
    #[schema(required = true)]
    pub instance: Option<String>,
    /// The volume.
    pub volume_id: String,
    /// When it was attached (empty if not).
    pub attached_at: Option<String>,
    /// When it was detached (empty if not).
    pub detached_at: Option<String>,
    /// `rw` or `ro`.
    pub attach_mode: Option<String>,
    /// How to connect (empty until the connector is given).
    pub connection_info: Option<BTreeMap<String, serde_json::Value>>,
}

/// The attachment to create.
#[derive(Serialize, ToSchema)]
pub struct AttachmentCreate {
    /// The volume.
    #[schema(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub volume_uuid: String,
    /// The instance.
    pub instance_uuid: Option<String>,
    /// The host's connector (`initiator`, `host`, ...).
    pub connector: Option<BTreeMap<String, serde_json::Value>>,
    /// `rw` or `ro`.
    pub mode: Option<String>,
}

/// A volume type.
#[derive(Serialize, ToSchema)]
pub struct VolumeType {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[schema(required = true)]
    pub description: Option<String>,
    /// Visible to every project.
    pub is_public: bool,
    /// The extra specs the caller may see.
    pub extra_specs: BTreeMap<String, String>,
    /// Not in update answers.
    #[serde(rename = "os-volume-type-access:is_public")]
    pub access_is_public: Option<bool>,
    /// Admins.
    pub qos_specs_id: Option<String>,
}

/// A user message (3.3+).
#[derive(Serialize, ToSchema)]
pub struct Message {
    /// UUID.
    pub id: String,
    /// Cinder's event id, e.g. `VOLUME_VOLUME_001_002`.
    pub event_id: String,
    /// What happened, for the user.
    pub user_message: String,
    /// `ERROR`.
    pub message_level: String,
    /// When.
    pub created_at: String,
    /// Kept at least until then.
    pub guaranteed_until: String,
    /// The request that caused it.
    pub request_id: String,
    /// Links.
    pub links: Vec<Link>,
    /// `VOLUME`, `SNAPSHOT`, ...
    pub resource_type: Option<String>,
    /// The resource.
    pub resource_uuid: Option<String>,
}

/// Whether a zone is up.
#[derive(Serialize, ToSchema)]
pub struct ZoneState {
    /// Some node of the zone is up and enabled.
    pub available: bool,
}

/// An availability zone.
#[derive(Serialize, ToSchema)]
pub struct Zone {
    /// Its name.
    #[serde(rename = "zoneName")]
    pub zone_name: String,
    /// Its state.
    #[serde(rename = "zoneState")]
    pub zone_state: ZoneState,
}

/// A service (admin).
#[derive(Serialize, ToSchema)]
pub struct Service {
    /// `cinder-scheduler` or `cinder-volume`.
    pub binary: String,
    /// `node@backend` for volume services.
    pub host: String,
    /// Zone.
    pub zone: String,
    /// `enabled` or `disabled`.
    pub status: String,
    /// `up` or `down`.
    pub state: String,
    /// Last heartbeat.
    #[schema(required = true)]
    pub updated_at: Option<String>,
    /// Why it was disabled.
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
    /// 3.7+: always null.
    pub cluster: Option<String>,
    /// Volume services: `disabled`.
    pub replication_status: Option<String>,
    /// Volume services: always null.
    pub active_backend_id: Option<String>,
    /// Volume services.
    pub frozen: Option<bool>,
    /// Volume services, 3.49+: `up` when it reports pools.
    pub backend_state: Option<String>,
}

/// A pool (admin).
#[derive(Serialize, ToSchema)]
pub struct Pool {
    /// `node@backend#pool`.
    pub name: String,
    /// With `detail=true`.
    pub capabilities: Option<BTreeMap<String, serde_json::Value>>,
}

/// A host of `GET /os-hosts` (admin): an enabled service.
#[derive(Serialize, ToSchema)]
pub struct Host {
    /// The service's host (`node@backend` for a volume service).
    pub host_name: String,
    /// `cinder-volume` or `cinder-scheduler`.
    pub service: String,
    /// Zone.
    pub zone: String,
    /// `available` or `unavailable` (not heard from within `service_down_time`).
    #[serde(rename = "service-status")]
    pub service_status: String,
    /// `enabled` (only enabled services are listed, as in Cinder).
    #[serde(rename = "service-state")]
    pub service_state: String,
    /// Last heartbeat.
    #[serde(rename = "last-update")]
    #[schema(required = true)]
    pub last_update: Option<String>,
}

/// One project's figures on a host (`GET /os-hosts/{host_name}`); each figure a string,
/// as Cinder sends them.
#[derive(Serialize, ToSchema)]
pub struct HostUsage {
    /// The host asked for.
    pub host: String,
    /// A project id, or `(total)` in the first row.
    pub project: String,
    /// Volumes on the host.
    pub volume_count: String,
    /// Their GiB.
    pub total_volume_gb: String,
    /// Snapshots of those volumes.
    pub snapshot_count: String,
    /// Their GiB.
    pub total_snapshot_gb: String,
}

/// `{"resource": <HostUsage>}`.
#[derive(Serialize, ToSchema)]
pub struct HostResource {
    /// The figures.
    pub resource: HostUsage,
}

/// The absolute limits and usage of `GET /limits`.
#[derive(Serialize, ToSchema)]
#[allow(non_snake_case, reason = "Cinder's key names")]
pub struct AbsoluteLimits {
    /// Volume quota (-1: none).
    pub maxTotalVolumes: i64,
    /// Snapshot quota.
    pub maxTotalSnapshots: i64,
    /// GiB quota.
    pub maxTotalVolumeGigabytes: i64,
    /// Backup quota.
    pub maxTotalBackups: i64,
    /// Backup GiB quota.
    pub maxTotalBackupGigabytes: i64,
    /// Volumes in use.
    pub totalVolumesUsed: i64,
    /// GiB in use.
    pub totalGigabytesUsed: i64,
    /// Snapshots in use.
    pub totalSnapshotsUsed: i64,
    /// Backups in use.
    pub totalBackupsUsed: i64,
    /// Backup GiB in use.
    pub totalBackupGigabytesUsed: i64,
}

/// `limits`: no rate limits, and the absolute ones.
#[derive(Serialize, ToSchema)]
pub struct Limits {
    /// Always empty.
    pub rate: Vec<serde_json::Value>,
    /// Quotas and usage.
    pub absolute: AbsoluteLimits,
}

/// A project's default type (3.62+).
#[derive(Serialize, ToSchema)]
pub struct DefaultType {
    /// The project.
    pub project_id: String,
    /// The type.
    pub volume_type_id: String,
}

/// Totals of `GET /volumes/summary`.
#[derive(Serialize, ToSchema)]
pub struct VolumeTotals {
    /// How many volumes.
    pub total_count: i64,
    /// Their GiB.
    pub total_size: i64,
    /// 3.36+: each metadata key and its values.
    pub metadata: Option<BTreeMap<String, Vec<String>>>,
}

/// QoS specs.
#[derive(Serialize, ToSchema)]
pub struct QosSpecs {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// `front-end`, `back-end` or `both`.
    pub consumer: String,
    /// The keys.
    pub specs: BTreeMap<String, String>,
}

/// `{"qos_specs": ..., "links": ...}`.
#[derive(Serialize, ToSchema)]
pub struct QosSpecsBody {
    /// The specs.
    pub qos_specs: QosSpecs,
    /// Links.
    pub links: Vec<Link>,
}

/// The connector of `PUT /attachments/{id}`.
#[derive(Serialize, ToSchema)]
pub struct AttachmentUpdate {
    /// The host's connector (`initiator`, `host`, ...).
    pub connector: BTreeMap<String, serde_json::Value>,
}

/// The volume type to create (admin).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeTypeCreate {
    /// Name.
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Extra specs.
    pub extra_specs: Option<BTreeMap<String, String>>,
    /// Visible to every project (default true).
    #[serde(rename = "os-volume-type-access:is_public")]
    pub is_public: Option<bool>,
}

/// The changes of `PUT /types/{id}` (admin): at least one of them.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeTypeUpdate {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Visible to every project.
    pub is_public: Option<bool>,
}

/// A project that may use a private type.
#[derive(Serialize, ToSchema)]
pub struct TypeAccess {
    /// The type.
    pub volume_type_id: String,
    /// The project.
    pub project_id: String,
}

/// The default to set (3.62+, admin).
#[derive(Serialize, ToSchema)]
pub struct DefaultTypeSet {
    /// The type's name or id.
    #[schema(min_length = 1)]
    pub volume_type: String,
}

/// New QoS specs (admin): a name, where they apply, and the specs themselves as further
/// string keys beside those two.
#[derive(Serialize, ToSchema)]
pub struct QosSpecsCreate {
    /// Name, unique.
    #[schema(min_length = 1, max_length = 255)]
    pub name: String,
    /// `front-end`, `back-end` (the default) or `both`.
    #[schema(nullable = false)]
    pub consumer: Option<String>,
    /// Every other key is a spec, such as `total_iops_sec`.
    #[serde(flatten)]
    pub specs: BTreeMap<String, String>,
}

/// A change to QoS specs (admin): keys to set (an existing key is replaced) and,
/// optionally, a new consumer. The answer echoes what was sent.
#[derive(Serialize, ToSchema)]
pub struct QosSpecsUpdate {
    /// `front-end`, `back-end` or `both`.
    #[schema(nullable = false)]
    pub consumer: Option<String>,
    /// The keys to set.
    #[serde(flatten)]
    pub specs: BTreeMap<String, String>,
}

/// The body of `PUT /os-services/{enable|disable|disable-log-reason}` (admin).
#[derive(Serialize, ToSchema)]
pub struct ServiceUpdate {
    /// The service's host (`node@backend` for a volume service).
    #[schema(min_length = 1)]
    pub host: String,
    /// `cinder-volume` or `cinder-scheduler`; `service` is the older name of this field.
    #[schema(nullable = false)]
    pub binary: Option<String>,
    /// The older name of `binary`.
    #[schema(nullable = false)]
    pub service: Option<String>,
    /// Why the service is disabled: 1 to 255 characters, required by
    /// `disable-log-reason` and ignored otherwise.
    #[schema(nullable = false, min_length = 1, max_length = 255)]
    pub disabled_reason: Option<String>,
}

/// The answer to `PUT /os-services/{action}`: the service's new state.
#[derive(Serialize, ToSchema)]
pub struct ServiceUpdated {
    /// The host named in the request.
    pub host: String,
    /// The `service` named in the request, or empty.
    pub service: String,
    /// The service's binary.
    pub binary: String,
    /// `enabled` or `disabled`.
    pub status: String,
    /// Whether the service is disabled.
    pub disabled: bool,
    /// Present after `disable-log-reason`.
    pub disabled_reason: Option<String>,
}

/// `{"keys": [...]}` for `PUT /qos-specs/{id}/delete_keys`.
#[derive(Serialize, ToSchema)]
pub struct QosKeysRequest {
    /// The keys to remove.
    pub keys: Vec<String>,
}

/// A volume transfer (show, the detail list).
#[derive(Serialize, ToSchema)]
pub struct Transfer {
    /// UUID.
    pub id: String,
    /// When it was offered.
    pub created_at: String,
    /// Name.
    #[schema(required = true)]
    pub name: Option<String>,
    /// The volume offered.
    pub volume_id: String,
    /// Links.
    pub links: Vec<Link>,
    /// Whether the snapshots stay behind (3.55+).
    pub no_snapshots: Option<bool>,
    /// Who accepted it (3.57+; null while pending).
    pub destination_project_id: Option<String>,
    /// Who offered it (3.57+).
    pub source_project_id: Option<String>,
    /// Whether it was accepted (3.57+).
    pub accepted: Option<bool>,
}

/// A new transfer: the detail view and the auth key, shown this once.
#[derive(Serialize, ToSchema)]
pub struct TransferCreated {
    /// UUID.
    pub id: String,
    /// When it was offered.
    pub created_at: String,
    /// Name.
    #[schema(required = true)]
    pub name: Option<String>,
    /// The volume offered.
    pub volume_id: String,
    /// Links.
    pub links: Vec<Link>,
    /// The key the taker needs; never shown again (a replay shows null).
    #[schema(required = true)]
    pub auth_key: Option<String>,
    /// Whether the snapshots stay behind (3.55+).
    pub no_snapshots: Option<bool>,
    /// Null (3.57+).
    pub destination_project_id: Option<String>,
    /// Who offered it (3.57+).
    pub source_project_id: Option<String>,
    /// False (3.57+).
    pub accepted: Option<bool>,
}

/// A transfer in the summary list and in an accept's answer.
#[derive(Serialize, ToSchema)]
pub struct TransferSummary {
    /// UUID.
    pub id: String,
    /// Name.
    #[schema(required = true)]
    pub name: Option<String>,
    /// The volume.
    pub volume_id: String,
    /// Links.
    pub links: Vec<Link>,
}

/// A type's encryption as stored (`{}` for a type without one: no field is required).
#[derive(Serialize, ToSchema)]
pub struct Encryption {
    /// The type.
    pub volume_type_id: Option<String>,
    /// UUID of the entry.
    pub encryption_id: Option<String>,
    /// e.g. `aes-xts-plain64`.
    pub cipher: Option<String>,
    /// Bits.
    pub key_size: Option<i64>,
    /// e.g. `luks`.
    pub provider: Option<String>,
    /// `front-end` or `back-end`.
    pub control_location: Option<String>,
    /// Always false.
    pub deleted: Option<bool>,
    /// Creation time.
    pub created_at: Option<String>,
    /// Last change.
    pub updated_at: Option<String>,
    /// Always null.
    pub deleted_at: Option<String>,
}

/// What a create or update of a type's encryption answers: the fields it was given
/// (and, after a create, the type's and the entry's ids).
#[derive(Serialize, ToSchema)]
pub struct EncryptionEcho {
    /// The type (create).
    pub volume_type_id: Option<String>,
    /// UUID of the entry (create).
    pub encryption_id: Option<String>,
    /// As given.
    pub cipher: Option<String>,
    /// As given, as a number.
    pub key_size: Option<i64>,
    /// As given.
    pub provider: Option<String>,
    /// As given.
    pub control_location: Option<String>,
}

/// How an envelope (see [`ENVELOPES`]) holds its item.
#[derive(Debug, Clone, Copy)]
pub enum Wrap {
    /// `{"<key>": <item>}`.
    One,
    /// `{"<key>": [<item>, ...]}`.
    All,
    /// One page of a list: `{"<key>": [...]}`, with the next page's link under the given
    /// key when the page is full, and `count` (`with_count`) when the flag is set.
    Page(&'static str, bool),
    /// `{"<key>": {"<name>": "<value>", ...}}`; exactly one pair when the flag is set.
    Strings(bool),
}

use Wrap::{All, One, Page, Strings};

/// The bodies that only wrap other schemas or string maps: component name, key, item
/// (the wrapped component), and how it is wrapped.
pub const ENVELOPES: &[(&str, &str, &str, Wrap)] = &[
    ("VolumeBody", "volume", "Volume", One),
    (
        "VolumeSummaryList",
        "volumes",
        "VolumeSummary",
        Page("volumes_links", true),
    ),
    (
        "VolumeList",
        "volumes",
        "Volume",
        Page("volumes_links", true),
    ),
    ("VolumeSummaryBody", "volume-summary", "VolumeTotals", One),
    ("SnapshotBody", "snapshot", "Snapshot", One),
    (
        "SnapshotList",
        "snapshots",
        "Snapshot",
        Page("snapshots_links", true),
    ),
    ("AttachmentBody", "attachment", "Attachment", One),
    (
        "AttachmentCreateRequest",
        "attachment",
        "AttachmentCreate",
        One,
    ),
    (
        "AttachmentUpdateRequest",
        "attachment",
        "AttachmentUpdate",
        One,
    ),
    ("AttachmentList", "attachments", "Attachment", All),
    ("VolumeTypeBody", "volume_type", "VolumeType", One),
    (
        "VolumeTypeCreateRequest",
        "volume_type",
        "VolumeTypeCreate",
        One,
    ),
    (
        "VolumeTypeUpdateRequest",
        "volume_type",
        "VolumeTypeUpdate",
        One,
    ),
    (
        "VolumeTypeList",
        "volume_types",
        "VolumeType",
        Page("volume_type_links", false),
    ),
    ("TypeAccessList", "volume_type_access", "TypeAccess", All),
    ("DefaultTypeBody", "default_type", "DefaultType", One),
    (
        "DefaultTypeSetRequest",
        "default_type",
        "DefaultTypeSet",
        One,
    ),
    ("DefaultTypeList", "default_types", "DefaultType", All),
    ("MetadataBody", "metadata", "", Strings(false)),
    ("MetaBody", "meta", "", Strings(true)),
    ("ExtraSpecsBody", "extra_specs", "", Strings(false)),
    ("MessageBody", "message", "Message", One),
    (
        "MessageList",
        "messages",
        "Message",
        Page("messages_links", false),
    ),
    ("ZoneList", "availabilityZoneInfo", "Zone", All),
    ("ServiceList", "services", "Service", All),
    ("HostList", "hosts", "Host", All),
    ("HostUsageList", "host", "HostResource", All),
    ("QosSpecsCreateRequest", "qos_specs", "QosSpecsCreate", One),
    ("QosSpecsUpdateBody", "qos_specs", "QosSpecsUpdate", One),
    ("PoolList", "pools", "Pool", All),
    ("LimitsBody", "limits", "Limits", One),
    ("QuotaSetBody", "quota_set", "QuotaSet", One),
    ("QuotaSetUpdateRequest", "quota_set", "QuotaSetUpdate", One),
    ("QuotaClassSetBody", "quota_class_set", "QuotaSet", One),
    (
        "QuotaClassSetUpdateRequest",
        "quota_class_set",
        "QuotaSetUpdate",
        One,
    ),
    ("QosSpecsList", "qos_specs", "QosSpecs", All),
    ("TransferBody", "transfer", "Transfer", One),
    ("TransferCreatedBody", "transfer", "TransferCreated", One),
    ("TransferSummaryBody", "transfer", "TransferSummary", One),
    (
        "TransferList",
        "transfers",
        "Transfer",
        Page("transfers_links", false),
    ),
    (
        "TransferSummaryList",
        "transfers",
        "TransferSummary",
        Page("transfers_links", false),
    ),
    ("EncryptionEchoBody", "encryption", "EncryptionEcho", One),
];

/// The schema of one [`ENVELOPES`] entry.
fn envelope(key: &str, item: &str, wrap: Wrap) -> serde_json::Value {
    let item_ref = json!({ "$ref": format!("#/components/schemas/{item}") });
    let (value, description) = match wrap {
        One => (item_ref, format!("`{{\"{key}\": <{item}>}}`.")),
        All | Page(..) => (
            json!({"type": "array", "items": item_ref}),
            format!("`{{\"{key}\": [<{item}>, ...]}}`."),
        ),
        Strings(one) => {
            let mut map = json!({"type": "object", "additionalProperties": {"type": "string"}});
            if one {
                map["minProperties"] = json!(1);
                map["maxProperties"] = json!(1);
            }
            (
                map,
                format!("`{{\"{key}\": {{\"<name>\": \"<value>\"}}}}`."),
            )
        }
    };
    let mut schema = json!({
        "type": "object",
        "description": description,
        "properties": { key: value },
        "required": [key],
    });
    if let Page(links, counted) = wrap {
        schema["properties"][links] = json!({
            "description": "The next page, when this one is full.",
            "type": ["array", "null"],
            "items": {"$ref": "#/components/schemas/Link"},
        });
        if counted {
            schema["properties"]["count"] = json!({
                "description": "With `with_count` (volumes: 3.45+).",
                "type": ["integer", "null"],
                "format": "int64",
            });
        }
    }
    schema
}

/// The bodies written out as JSON Schema: the ones whose shape the derive cannot say
/// (one-key objects, maps of numbers).
fn written_schemas() -> Vec<(&'static str, serde_json::Value)> {
    let quota_value = json!({"oneOf": [
        {"type": "integer", "format": "int64"},
        {
            "type": "object",
            "description": "With `usage=true`.",
            "required": ["limit", "in_use", "reserved"],
            "properties": {
                "limit": {"type": "integer"},
                "in_use": {"type": "integer"},
                "reserved": {"type": "integer"},
            },
        },
    ]});
    vec![
        (
            "QuotaSet",
            json!({
                "type": "object",
                "description": "Each resource's limit (-1: none), or with `usage=true` its \
                                limit and usage; `id` is the project or class.",
                "properties": {"id": {"type": "string"}},
                "additionalProperties": quota_value,
            }),
        ),
        (
            "QuotaSetUpdate",
            json!({
                "type": "object",
                "description": "New limits (-1: none) by resource name, e.g. `volumes`, \
                                `gigabytes`, `snapshots`, `per_volume_gigabytes`.",
                "additionalProperties": {"type": "integer", "minimum": -1},
            }),
        ),
        (
            "ExtraSpec",
            json!({
                "type": "object",
                "description": "One extra spec: `{\"<key>\": \"<value>\"}`.",
                "additionalProperties": {"type": "string"},
                "minProperties": 1,
                "maxProperties": 1,
            }),
        ),
        (
            "ActionRequest",
            json!({
                "type": "object",
                "description": "One key, the action's name (`os-extend`, `os-reset_status`, \
                                ...), whose value is its arguments.",
                "minProperties": 1,
                "maxProperties": 1,
            }),
        ),
    ]
}

/// What the document says about one route. Bodies are named by a short word: a
/// component's name; `{key}`, an object with that one key whose value is any JSON (the
/// answers the document does not detail); `{}`, any object; `text`, plain text (not JSON);
/// `-`, none.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// Where the route's table is mounted (see [`MOUNTS`]).
    pub mount: &'static str,
    /// The route's method (as in [`Route`]).
    pub method: &'static str,
    /// The route's path (as in [`Route`]).
    pub path: &'static str,
    /// Whether it needs the noauth token.
    pub auth: bool,
    /// The request body.
    pub request: &'static str,
    /// The success status.
    pub status: u16,
    /// Its body.
    pub response: &'static str,
    /// Query parameters (lists: paging, sorting and filters).
    pub query: &'static [&'static str],
    /// One line.
    pub summary: &'static str,
}

/// An OpenAPI link from a create's answer to an operation on what it created: the path
/// parameter `parameter` of `to` (`"<method> <path>"` under `/v3`) is the id at
/// `pointer` in the answer of `from`. Schemathesis' stateful phase follows these to chain
/// create, show, update, act and delete on one real resource, where its inferred links
/// mostly pair unrelated operations.
#[derive(Debug, Clone, Copy)]
pub struct ChainLink {
    /// The create, `"<method> <path>"` as in [`OPERATIONS`].
    pub from: &'static str,
    /// The link's name.
    pub name: &'static str,
    /// The operation it leads to, `"<method> <path>"`.
    pub to: &'static str,
    /// That operation's path parameter.
    pub parameter: &'static str,
    /// A JSON pointer into the create's answer.
    pub pointer: &'static str,
}

const fn chain(
    from: &'static str,
    name: &'static str,
    to: &'static str,
    parameter: &'static str,
    pointer: &'static str,
) -> ChainLink {
    ChainLink {
        from,
        name,
        to,
        parameter,
        pointer,
    }
}

/// The links the document carries.
#[rustfmt::skip]
pub const LINKS: &[ChainLink] = &[
    chain("post /volumes", "ShowVolume", "get /volumes/{volume_id}", "volume_id", "/volume/id"),
    chain("post /volumes", "UpdateVolume", "put /volumes/{volume_id}", "volume_id", "/volume/id"),
    chain("post /volumes", "VolumeAction", "post /volumes/{volume_id}/action", "volume_id", "/volume/id"),
    chain("post /volumes", "MergeVolumeMetadata", "post /volumes/{volume_id}/metadata", "volume_id", "/volume/id"),
    chain("post /volumes", "DeleteVolume", "delete /volumes/{volume_id}", "volume_id", "/volume/id"),
    chain("post /snapshots", "ShowSnapshot", "get /snapshots/{snapshot_id}", "snapshot_id", "/snapshot/id"),
    chain("post /snapshots", "UpdateSnapshot", "put /snapshots/{snapshot_id}", "snapshot_id", "/snapshot/id"),
    chain("post /snapshots", "SnapshotAction", "post /snapshots/{snapshot_id}/action", "snapshot_id", "/snapshot/id"),
    chain("post /snapshots", "DeleteSnapshot", "delete /snapshots/{snapshot_id}", "snapshot_id", "/snapshot/id"),
];

/// The operation id of `"<method> <path>"` mounted at `mount`, as the document names it.
fn operation_id(mount: &str, method: &str, path: &str) -> String {
    format!("{method} {}", openapi_path(mount, path))
}

/// A Block Storage operation (under `/v3`, with a token).
const fn op(
    method: &'static str,
    path: &'static str,
    request: &'static str,
    status: u16,
    response: &'static str,
    summary: &'static str,
) -> Operation {
    Operation {
        mount: "/v3",
        method,
        path,
        auth: true,
        request,
        status,
        response,
        query: &[],
        summary,
    }
}

/// A GET that needs no token.
const fn public(
    mount: &'static str,
    path: &'static str,
    status: u16,
    response: &'static str,
    summary: &'static str,
) -> Operation {
    Operation {
        mount,
        auth: false,
        ..op("get", path, "-", status, response, summary)
    }
}

/// A list: a GET with query parameters.
const fn list(
    path: &'static str,
    query: &'static [&'static str],
    response: &'static str,
    summary: &'static str,
) -> Operation {
    op("get", path, "-", 200, response, summary).with_query(query)
}

impl Operation {
    /// The same with query parameters.
    const fn with_query(self, query: &'static [&'static str]) -> Operation {
        Operation { query, ..self }
    }

    /// The same mounted elsewhere.
    const fn mounted(self, mount: &'static str) -> Operation {
        Operation { mount, ..self }
    }
}

/// Paging and sorting, which every list takes.
const PAGING: &[&str] = &["limit", "offset", "marker", "sort", "sort_key", "sort_dir"];
/// An attachment list's query.
const ATTACHMENTS: &[&str] = &[
    "limit",
    "offset",
    "all_tenants",
    "volume_id",
    "status",
    "instance_id",
];
/// A type list's query.
const TYPES: &[&str] = &[
    "limit",
    "offset",
    "marker",
    "sort",
    "sort_key",
    "sort_dir",
    "is_public",
    "extra_specs",
];
/// A transfer list's query.
const TRANSFERS: &[&str] = &[
    "limit",
    "offset",
    "marker",
    "sort",
    "sort_key",
    "sort_dir",
    "all_tenants",
    "name",
    "volume_id",
];
/// A volume or snapshot list's query.
const LIST: &[&str] = &[
    "limit",
    "offset",
    "marker",
    "sort",
    "sort_key",
    "sort_dir",
    "all_tenants",
    "with_count",
    "name",
    "status",
    "metadata",
];

/// One entry per route of every table in [`MOUNTS`], a line each.
#[rustfmt::skip]
pub const OPERATIONS: &[Operation] = &[
    public("", "/", 300, "{versions}", "Version discovery"),
    Operation { mount: "", ..op("get", "/metrics", "-", 200, "text", "Prometheus metrics (admins, or the metrics token)") },
    public("", "/v3", 302, "-", "Redirect to /v3/"),
    public("/v3", "/", 200, "{versions}", "The v3 version document"),
    public("/v3", "/{project_id:[0-9a-f\\-]+}", 200, "{versions}", "The v3 version document"),
    // Volumes.
    list("/volumes", LIST, "VolumeSummaryList", "List volumes"),
    list("/volumes/detail", LIST, "VolumeList", "List volumes with details"),
    op("get", "/volumes/{volume_id}/metadata", "-", 200, "MetadataBody", "Show a volume's metadata (3.15+: with an ETag)"),
    op("post", "/volumes/{volume_id}/metadata", "MetadataBody", 200, "MetadataBody", "Merge metadata"),
    op("put", "/volumes/{volume_id}/metadata", "MetadataBody", 200, "MetadataBody", "Replace metadata (3.15+: If-Match, 412 when stale)"),
    op("get", "/volumes/{volume_id}/metadata/{key}", "-", 200, "MetaBody", "Show one metadata key"),
    op("put", "/volumes/{volume_id}/metadata/{key}", "MetaBody", 200, "MetaBody", "Set one metadata key (3.15+: If-Match, 412 when stale)"),
    op("delete", "/volumes/{volume_id}/metadata/{key}", "-", 200, "-", "Delete one metadata key"),
    op("post", "/volumes/{volume_id}/action", "ActionRequest", 202, "-", "Run a volume action (one key: its name)"),
    // Snapshots.
    list("/snapshots", LIST, "SnapshotList", "List snapshots"),
    list("/snapshots/detail", LIST, "SnapshotList", "List snapshots with details"),
    op("post", "/snapshots/{snapshot_id}/action", "ActionRequest", 202, "-", "Run a snapshot action"),
    op("get", "/snapshots/{snapshot_id}/metadata", "-", 200, "MetadataBody", "Show a snapshot's metadata"),
    op("post", "/snapshots/{snapshot_id}/metadata", "MetadataBody", 200, "MetadataBody", "Merge snapshot metadata"),
    op("put", "/snapshots/{snapshot_id}/metadata", "MetadataBody", 200, "MetadataBody", "Replace snapshot metadata"),
    op("get", "/snapshots/{snapshot_id}/metadata/{key}", "-", 200, "MetaBody", "Show one snapshot metadata key"),
    op("put", "/snapshots/{snapshot_id}/metadata/{key}", "MetaBody", 200, "MetaBody", "Set one snapshot metadata key"),
    op("delete", "/snapshots/{snapshot_id}/metadata/{key}", "-", 200, "-", "Delete one snapshot metadata key"),
    // Attachments (3.27+).
    op("post", "/attachments", "AttachmentCreateRequest", 200, "AttachmentBody", "Create an attachment"),
    list("/attachments", ATTACHMENTS, "AttachmentList", "List attachments"),
    list("/attachments/detail", ATTACHMENTS, "AttachmentList", "List attachments with details"),
    op("get", "/attachments/{attachment_id}", "-", 200, "AttachmentBody", "Show an attachment"),
    op("put", "/attachments/{attachment_id}", "AttachmentUpdateRequest", 200, "AttachmentBody", "Update an attachment (give the connector)"),
    op("delete", "/attachments/{attachment_id}", "-", 200, "AttachmentList", "Delete an attachment"),
    op("post", "/attachments/{attachment_id}/action", "ActionRequest", 204, "-", "Complete an attachment (3.44+)"),
    // Transfers: the extension's routes and 3.55's, the same calls.
    op("post", "/os-volume-transfer", "TransferCreateRequest", 202, "TransferCreatedBody", "Offer a volume to another project"),
    list("/os-volume-transfer", TRANSFERS, "TransferSummaryList", "List pending transfers"),
    list("/os-volume-transfer/detail", TRANSFERS, "TransferList", "List pending transfers with details"),
    op("get", "/os-volume-transfer/{transfer_id}", "-", 200, "TransferBody", "Show a pending transfer"),
    op("delete", "/os-volume-transfer/{transfer_id}", "-", 202, "-", "Withdraw a transfer"),
    op("post", "/os-volume-transfer/{transfer_id}/accept", "TransferAcceptRequest", 202, "TransferSummaryBody", "Accept a transfer with its auth key"),
    op("post", "/volume-transfers", "TransferCreateRequest", 202, "TransferCreatedBody", "Offer a volume (no_snapshots 3.55+, encrypted 3.70+)"),
    list("/volume-transfers", TRANSFERS, "TransferSummaryList", "List pending transfers (marker, sort 3.59+)"),
    list("/volume-transfers/detail", TRANSFERS, "TransferList", "List pending transfers with details"),
    op("get", "/volume-transfers/{transfer_id}", "-", 200, "TransferBody", "Show a pending transfer"),
    op("delete", "/volume-transfers/{transfer_id}", "-", 202, "-", "Withdraw a transfer"),
    op("post", "/volume-transfers/{transfer_id}/accept", "TransferAcceptRequest", 202, "TransferSummaryBody", "Accept a transfer with its auth key"),
    // Types.
    list("/types", TYPES, "VolumeTypeList", "List volume types"),
    op("post", "/types", "VolumeTypeCreateRequest", 200, "VolumeTypeBody", "Create a volume type (admin)"),
    op("get", "/types/default", "-", 200, "VolumeTypeBody", "Show the default type"),
    op("get", "/types/{type_id}", "-", 200, "VolumeTypeBody", "Show a volume type"),
    op("put", "/types/{type_id}", "VolumeTypeUpdateRequest", 200, "VolumeTypeBody", "Update a volume type (admin)"),
    op("delete", "/types/{type_id}", "-", 202, "-", "Delete a volume type (admin)"),
    op("get", "/types/{type_id}/extra_specs", "-", 200, "ExtraSpecsBody", "List extra specs"),
    op("post", "/types/{type_id}/extra_specs", "ExtraSpecsBody", 200, "ExtraSpecsBody", "Set extra specs (admin)"),
    op("get", "/types/{type_id}/extra_specs/{key}", "-", 200, "ExtraSpec", "Show one extra spec"),
    op("put", "/types/{type_id}/extra_specs/{key}", "ExtraSpec", 200, "ExtraSpec", "Set one extra spec (admin)"),
    op("delete", "/types/{type_id}/extra_specs/{key}", "-", 202, "-", "Delete one extra spec (admin)"),
    op("get", "/types/{type_id}/os-volume-type-access", "-", 200, "TypeAccessList", "List projects with access (admin)"),
    op("post", "/types/{type_id}/action", "ActionRequest", 202, "-", "Add or remove project access (admin)"),
    op("get", "/default-types", "-", 200, "DefaultTypeList", "List default types (3.62+, admin)"),
    op("get", "/default-types/{target_project}", "-", 200, "DefaultTypeBody", "Show a project's default type (3.62+)"),
    op("put", "/default-types/{target_project}", "DefaultTypeSetRequest", 200, "DefaultTypeBody", "Set a project's default type (3.62+, admin)"),
    op("delete", "/default-types/{target_project}", "-", 204, "-", "Unset a project's default type (3.62+, admin)"),
    op("get", "/types/{type_id}/encryption", "-", 200, "Encryption", "Show a type's encryption (admin)"),
    op("post", "/types/{type_id}/encryption", "EncryptionRequest", 200, "EncryptionEchoBody", "Create a type's encryption (admin; refused once a volume has the type)"),
    op("get", "/types/{type_id}/encryption/{key}", "-", 200, "{}", "Show one field of a type's encryption (admin)"),
    op("put", "/types/{type_id}/encryption/{key}", "EncryptionRequest", 200, "EncryptionEchoBody", "Update a type's encryption; the last segment is the encryption id (admin)"),
    op("delete", "/types/{type_id}/encryption/{key}", "-", 202, "-", "Delete a type's encryption; the last segment is the encryption id (admin)"),
    // Quotas and limits.
    op("get", "/os-quota-sets/{target_project}", "-", 200, "QuotaSetBody", "Show a project's quotas"),
    op("put", "/os-quota-sets/{target_project}", "QuotaSetUpdateRequest", 200, "QuotaSetBody", "Update a project's quotas (admin)"),
    op("delete", "/os-quota-sets/{target_project}", "-", 200, "-", "Reset a project's quotas (admin)"),
    op("get", "/os-quota-sets/{target_project}/defaults", "-", 200, "QuotaSetBody", "Default quotas"),
    op("get", "/os-quota-class-sets/{class}", "-", 200, "QuotaClassSetBody", "Show a quota class (admin)"),
    op("put", "/os-quota-class-sets/{class}", "QuotaClassSetUpdateRequest", 200, "QuotaClassSetBody", "Update a quota class (admin)"),
    op("get", "/limits", "-", 200, "LimitsBody", "The caller's limits and usage"),
    // Catalogue.
    op("get", "/os-availability-zone", "-", 200, "ZoneList", "List availability zones"),
    op("get", "/os-services", "-", 200, "ServiceList", "List services (admin)").with_query(&["host", "binary"]),
    op("put", "/os-services/{action}", "ServiceUpdate", 200, "ServiceUpdated", "Enable or disable a service (admin)"),
    op("get", "/os-hosts", "-", 200, "HostList", "List enabled services as hosts (admin)").with_query(&["zone"]),
    op("get", "/os-hosts/{host_name}", "-", 200, "HostUsageList", "A host's volumes and snapshots per project (admin)"),
    op("get", "/scheduler-stats/get_pools", "-", 200, "PoolList", "List pools (admin)").with_query(&["detail"]),
    op("get", "/capabilities/{host}", "-", 200, "{}", "A backend's capabilities (admin)"),
    list("/messages", PAGING, "MessageList", "List user messages (3.3+)"),
    op("get", "/messages/{message_id}", "-", 200, "MessageBody", "Show a user message (3.3+)"),
    op("delete", "/messages/{message_id}", "-", 204, "-", "Delete a user message (3.3+)"),
    op("get", "/extensions", "-", 200, "{extensions}", "List extensions"),
    op("get", "/resource_filters", "-", 200, "{resource_filters}", "Filters each list accepts (3.33+)"),
    // QoS specs (admin).
    op("get", "/qos-specs", "-", 200, "QosSpecsList", "List QoS specs (admin)"),
    op("post", "/qos-specs", "QosSpecsCreateRequest", 200, "QosSpecsBody", "Create QoS specs (admin)"),
    op("get", "/qos-specs/{qos_id}", "-", 200, "QosSpecsBody", "Show QoS specs (admin)"),
    op("put", "/qos-specs/{qos_id}", "QosSpecsUpdateBody", 200, "QosSpecsUpdateBody", "Update QoS specs (admin)"),
    op("delete", "/qos-specs/{qos_id}", "-", 202, "-", "Delete QoS specs (admin)"),
    op("put", "/qos-specs/{qos_id}/delete_keys", "QosKeysRequest", 202, "-", "Delete QoS keys (admin)"),
    op("get", "/qos-specs/{qos_id}/associations", "-", 200, "{qos_associations}", "List QoS associations (admin)"),
    op("get", "/qos-specs/{qos_id}/associate", "-", 202, "-", "Associate QoS specs with a type (admin)"),
    op("get", "/qos-specs/{qos_id}/disassociate", "-", 202, "-", "Disassociate QoS specs from a type (admin)"),
    op("get", "/qos-specs/{qos_id}/disassociate_all", "-", 202, "-", "Disassociate QoS specs from all types (admin)"),
    // Clinker's own.
    op("get", "/volumes/{volume_id}/timeline", "-", 200, "{}", "A volume's flows, tasks and messages").mounted("/clinker/v1"),
    public("/clinker/v1", "/openapi.json", 200, "{}", "This document"),
];

/// The schema components.
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    FaultDetail,
    Fault,
    Link,
    VolumeSummary,
    VolumeAttachmentRef,
    Volume,
    Snapshot,
    Attachment,
    AttachmentCreate,
    VolumeType,
    Message,
    ZoneState,
    Zone,
    Service,
    Host,
    HostUsage,
    HostResource,
    Pool,
    AbsoluteLimits,
    Limits,
    DefaultType,
    VolumeTotals,
    QosSpecs,
    QosSpecsBody,
    AttachmentUpdate,
    VolumeTypeCreate,
    VolumeTypeUpdate,
    TypeAccess,
    DefaultTypeSet,
    QosKeysRequest,
    ServiceUpdate,
    ServiceUpdated,
    QosSpecsCreate,
    QosSpecsUpdate,
    Transfer,
    TransferCreated,
    TransferSummary,
    Encryption,
    EncryptionEcho,
    super::transfers::TransferCreateRequest,
    super::transfers::TransferCreate,
    super::transfers::TransferAcceptRequest,
    super::transfers::TransferAccept,
    super::encryption::EncryptionRequest,
    super::encryption::EncryptionSpecs,
)))]
struct Components;

/// The OpenAPI path of a route mounted at `mount`: actix's `{name:regex}` becomes `{name}`.
pub fn openapi_path(mount: &str, route: &str) -> String {
    let mut out = String::from(mount);
    let mut rest = route;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let close = after.find('}').unwrap_or(after.len() - 1);
        let inner = &after[1..close];
        let name = inner.split(':').next().unwrap_or(inner);
        out.push('{');
        out.push_str(name);
        out.push('}');
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

fn content(body: &str) -> Option<(&'static str, RefOr<Schema>)> {
    let object = || ObjectBuilder::new().schema_type(SchemaType::Type(Type::Object));
    let schema = match body {
        "-" => return None,
        "text" => {
            let text = ObjectBuilder::new().schema_type(SchemaType::Type(Type::String));
            return Some(("text/plain", RefOr::T(Schema::Object(text.build()))));
        }
        "{}" => RefOr::T(Schema::Object(object().build())),
        _ => match body.strip_prefix('{').and_then(|k| k.strip_suffix('}')) {
            Some(key) => {
                let any = ObjectBuilder::new().schema_type(SchemaType::AnyValue);
                let keyed = object().property(key, any).required(key);
                RefOr::T(Schema::Object(keyed.build()))
            }
            None => RefOr::Ref(Ref::from_schema_name(body)),
        },
    };
    Some(("application/json", schema))
}

fn method(m: &str) -> Result<HttpMethod, String> {
    match m {
        "get" => Ok(HttpMethod::Get),
        "post" => Ok(HttpMethod::Post),
        "put" => Ok(HttpMethod::Put),
        "delete" => Ok(HttpMethod::Delete),
        other => Err(format!("no OpenAPI method for {other}")),
    }
}

/// The operation an [`OPERATIONS`] entry describes.
fn operation(mount: &str, route: &Route, spec: &Operation) -> utoipa::openapi::path::Operation {
    let mut b = OperationBuilder::new().summary(Some(spec.summary));
    for name in spec.query {
        let schema = match *name {
            "limit" | "offset" => i64::schema(),
            "with_count" => bool::schema(),
            _ => String::schema(),
        };
        b = b.parameter(
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .schema(Some(schema)),
        );
    }
    if let Some((media, schema)) = content(spec.request) {
        b = b.request_body(Some(
            RequestBodyBuilder::new()
                .content(media, ContentBuilder::new().schema(Some(schema)).build())
                .required(Some(Required::True))
                .build(),
        ));
    }
    let mut ok = ResponseBuilder::new().description("Success");
    if let Some((media, schema)) = content(spec.response) {
        ok = ok.content(media, ContentBuilder::new().schema(Some(schema)).build());
    }
    b = b.responses(
        ResponsesBuilder::new()
            .response(spec.status.to_string(), ok.build())
            .build(),
    );
    if !spec.auth {
        b = b.securities(Some(Vec::<SecurityRequirement>::new()));
    }
    decorate(b.build(), mount, route, spec.auth)
}

/// What every operation carries, written or generated: its id (which [`LINKS`] name),
/// its path parameters, and, behind a token, the microversion header and Cinder's fault
/// as the answer to anything else.
fn decorate(
    mut op: utoipa::openapi::path::Operation,
    mount: &str,
    route: &Route,
    auth: bool,
) -> utoipa::openapi::path::Operation {
    op.operation_id = Some(operation_id(mount, route.method, route.path));
    // utoipa tags a generated operation with its module path (`super::volumes`), which
    // says nothing to a reader; the written ones carry none either.
    op.tags = None;
    let path = openapi_path(mount, route.path);
    let mut parameters: Vec<_> = path
        .split('{')
        .skip(1)
        .filter_map(|s| s.split('}').next())
        .map(|name| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(String::schema()))
                .build()
        })
        .collect();
    parameters.extend(op.parameters.take().unwrap_or_default());
    if mount.starts_with("/v3") && auth {
        parameters.push(
            ParameterBuilder::new()
                .name("OpenStack-API-Version")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "The microversion, e.g. `volume 3.60` (3.0 when absent).",
                ))
                .schema(Some(String::schema()))
                .build(),
        );
    }
    op.parameters = (!parameters.is_empty()).then_some(parameters);
    if auth {
        let fault = ResponseBuilder::new()
            .description("A Cinder fault")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(Ref::from_schema_name("Fault"))))
                    .build(),
            )
            .build();
        op.responses
            .responses
            .insert("default".into(), RefOr::T(fault));
    }
    op
}

/// The operations the Block Storage handlers generate (`#[utoipa::path]`), by method and
/// path under `/v3`. Routes not yet among them are described by [`OPERATIONS`].
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    super::volumes::create,
    super::volumes::show,
    super::volumes::update,
    super::volumes::delete,
    super::volumes::summary,
    super::snapshots::create,
    super::snapshots::show,
    super::snapshots::update,
    super::snapshots::delete,
    super::group_types::list,
    super::group_types::show,
    super::group_types::create,
    super::group_types::update,
    super::group_types::delete,
    super::group_types::specs_list,
    super::group_types::specs_show,
    super::group_types::specs_create,
    super::group_types::specs_update,
    super::group_types::specs_delete,
    super::groups::create,
    super::groups::list,
    super::groups::list_detail,
    super::groups::show,
    super::groups::update,
    super::groups::action,
))]
struct Generated;

/// Generated operations by method and path under `/v3`.
type MadeOperations = BTreeMap<(&'static str, String), utoipa::openapi::path::Operation>;

/// [`Generated`]'s operations and the schemas they bring.
fn generated() -> (MadeOperations, Vec<(String, RefOr<Schema>)>) {
    let doc = <Generated as utoipa::OpenApi>::openapi();
    let mut ops = BTreeMap::new();
    for (path, item) in doc.paths.paths {
        let methods = [
            ("get", item.get),
            ("post", item.post),
            ("put", item.put),
            ("delete", item.delete),
        ];
        for (method, op) in methods {
            if let Some(op) = op {
                ops.insert((method, path.clone()), op);
            }
        }
    }
    let schemas = doc
        .components
        .map(|c| c.schemas.into_iter().collect())
        .unwrap_or_default();
    (ops, schemas)
}

/// The whole document, or the routes that have no operation (or two: a generated one and
/// an [`OPERATIONS`] entry), and the generated operations that have no route.
pub fn document() -> Result<OpenApi, String> {
    let mut paths = PathsBuilder::new();
    let mut missing = Vec::new();
    let (mut made, made_schemas) = generated();
    let mut items: BTreeMap<String, Vec<(HttpMethod, utoipa::openapi::path::Operation)>> =
        BTreeMap::new();
    for (mount, routes) in MOUNTS {
        if mount.contains('{') {
            continue;
        }
        for route in *routes {
            let full = format!("{} {mount}{}", route.method, route.path);
            let spec = OPERATIONS
                .iter()
                .find(|o| o.mount == *mount && o.method == route.method && o.path == route.path);
            let generated = match *mount {
                "/v3" => made.remove(&(route.method, openapi_path("", route.path))),
                _ => None,
            };
            let op = match (generated, spec) {
                (Some(op), None) => decorate(op, mount, route, true),
                (None, Some(spec)) => operation(mount, route, spec),
                (Some(_), Some(_)) => {
                    missing.push(format!("{full} (both generated and in OPERATIONS)"));
                    continue;
                }
                (None, None) => {
                    missing.push(full);
                    continue;
                }
            };
            items
                .entry(openapi_path(mount, route.path))
                .or_default()
                .push((method(route.method)?, op));
        }
    }
    // A handler's operation whose path and method no route has.
    missing.extend(
        made.keys()
            .map(|(m, p)| format!("{m} /v3{p} (generated, but not routed)")),
    );
    if !missing.is_empty() {
        return Err(format!(
            "routes without exactly one OpenAPI operation: {}",
            missing.join(", ")
        ));
    }
    for (path, ops) in items {
        let mut item: Option<PathItem> = None;
        for (m, o) in ops {
            match item.as_mut() {
                None => item = Some(PathItem::new(m, o)),
                Some(i) => i.merge_operations(PathItem::new(m, o)),
            }
        }
        if let Some(item) = item {
            paths = paths.path(path, item);
        }
    }
    let mut components = ComponentsBuilder::new().security_scheme(
        "noauth",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Auth-Token",
            "noauth: `<user>:<project>`; users named in `admin_users` are admins.",
        ))),
    );
    if let Some(c) = <Components as utoipa::OpenApi>::openapi().components {
        for (name, schema) in c.schemas {
            components = components.schema(name, schema);
        }
    }
    let envelopes = ENVELOPES
        .iter()
        .map(|(name, key, item, wrap)| (*name, envelope(key, item, *wrap)));
    for (name, value) in envelopes.chain(written_schemas()) {
        let schema: RefOr<Schema> =
            serde_json::from_value(value).map_err(|e| format!("schema {name}: {e}"))?;
        components = components.schema(name, schema);
    }
    for (name, schema) in made_schemas {
        components = components.schema(name, schema);
    }
    Ok(OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Clinker")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "OpenStack Block Storage v3 (Cinder) as Clinker serves it, and Clinker's \
                     own `/clinker/v1`. Every `/v3/...` operation is also served under \
                     `/v3/{project_id}/...`.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components.build()))
        .security(Some(vec![SecurityRequirement::new(
            "noauth",
            Vec::<String>::new(),
        )]))
        .build())
}

/// Writes [`LINKS`] into the success answers of their creates. Written into the JSON,
/// not built with utoipa's `Link`: utoipa 5.5 serializes its `operation_id` as is, where
/// OpenAPI says `operationId`, so no tool would follow it.
fn add_links(doc: &mut serde_json::Value) {
    for l in LINKS {
        let (Some((method, path)), Some((to_method, to_path))) =
            (l.from.split_once(' '), l.to.split_once(' '))
        else {
            continue;
        };
        let success = doc
            .get_mut("paths")
            .and_then(|p| p.get_mut(openapi_path("/v3", path)))
            .and_then(|i| i.get_mut(method))
            .and_then(|o| o.get_mut("responses"))
            .and_then(serde_json::Value::as_object_mut)
            .and_then(|r| r.iter_mut().find(|(status, _)| status.starts_with('2')));
        if let Some((_, answer)) = success {
            answer["links"][l.name] = json!({
                "operationId": operation_id("/v3", to_method, to_path),
                "parameters": {l.parameter: format!("$response.body#{}", l.pointer)},
            });
        }
    }
}

/// `GET /clinker/v1/openapi.json`.
pub async fn serve() -> Result<HttpResponse, ApiError> {
    let doc = document().map_err(ApiError::Internal)?;
    let mut doc = serde_json::to_value(doc).map_err(|e| ApiError::Internal(e.to_string()))?;
    add_links(&mut doc);
    Ok(HttpResponse::Ok().json(doc))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::body::{Envelope, fields};
    use super::super::snapshots::{SnapshotCreate, SnapshotUpdate};
    use super::super::volumes::{VolumeCreate, VolumeUpdate};
    use super::*;

    fn doc() -> Result<Value, String> {
        serde_json::to_value(document()?).map_err(|e| e.to_string())
    }

    /// The keys a body's schema lists, against the fields its parser reads.
    fn listed(doc: &Value, name: &str) -> Vec<String> {
        let mut keys: Vec<String> = doc["components"]["schemas"][name]["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    }

    fn read<T: Envelope>() -> Vec<String> {
        let mut keys: Vec<String> = fields::<T>().iter().map(|k| k.to_string()).collect();
        keys.sort();
        keys
    }

    #[test]
    fn typed_bodies_list_the_keys_their_parser_reads() -> Result<(), String> {
        let doc = doc()?;
        assert_eq!(listed(&doc, "VolumeCreate"), read::<VolumeCreate>());
        assert_eq!(listed(&doc, "VolumeCreate").len(), 16);
        assert_eq!(listed(&doc, "VolumeUpdate"), read::<VolumeUpdate>());
        assert_eq!(listed(&doc, "SnapshotCreate"), read::<SnapshotCreate>());
        assert_eq!(listed(&doc, "SnapshotUpdate"), read::<SnapshotUpdate>());
        let create = &doc["components"]["schemas"]["VolumeCreate"];
        let size = create["properties"]["size"].to_string();
        assert!(
            size.contains(&format!("\"maximum\":{}", super::super::validate::MAX_INT)),
            "{size}"
        );
        assert_eq!(create["additionalProperties"], json!(false));
        // The envelope wraps the item.
        let request = &doc["components"]["schemas"]["VolumeCreateRequest"];
        assert_eq!(request["required"], json!(["volume"]));
        assert_eq!(
            request["properties"]["volume"]["$ref"],
            "#/components/schemas/VolumeCreate"
        );
        // Snapshot creates ignore unknown keys at every version: not `false` there.
        assert!(doc["components"]["schemas"]["SnapshotCreate"]["additionalProperties"].is_null());
        Ok(())
    }

    /// The handlers' `#[utoipa::path]` operations are in the document, each on its route,
    /// with what every operation carries.
    #[test]
    fn handlers_generate_their_operations() -> Result<(), String> {
        let doc = doc()?;
        eprintln!(
            "DUMP {}",
            serde_json::to_string_pretty(&doc["paths"]["/v3/volumes/{volume_id}"])
                .unwrap_or_default()
        );
        let (made, _) = generated();
        assert_eq!(made.len(), 9);
        for (method, path) in made.keys() {
            let op = &doc["paths"][format!("/v3{path}")][*method];
            assert_eq!(op["operationId"], format!("{method} /v3{path}"));
            assert!(op["responses"]["default"].is_object(), "{method} {path}");
        }
        let create = &doc["paths"]["/v3/volumes"]["post"];
        let json = |v: &Value| v["content"]["application/json"]["schema"]["$ref"].clone();
        assert_eq!(
            json(&create["requestBody"]),
            "#/components/schemas/VolumeCreateRequest"
        );
        assert_eq!(
            json(&create["responses"]["202"]),
            "#/components/schemas/VolumeBody"
        );
        let show = &doc["paths"]["/v3/snapshots/{snapshot_id}"]["get"];
        let params = show["parameters"].as_array().ok_or("no parameters")?;
        assert!(
            params
                .iter()
                .any(|p| p["name"] == "snapshot_id" && p["in"] == "path")
        );
        assert!(params.iter().any(|p| p["name"] == "OpenStack-API-Version"));
        Ok(())
    }
}

//! The OpenAPI 3.1 document, `GET /clinker/v1/openapi.json` (no token needed).
//!
//! Built from the code: the paths come from the router's own route tables
//! ([`super::MOUNTS`]), each described by an entry of [`OPERATIONS`], and the bodies from
//! the schema-only structs below (derived with utoipa's `ToSchema`). The handlers build
//! their answers with `serde_json::json!` (see [`super::views`]); these structs describe
//! those shapes and are never constructed. A route without an entry makes
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

/// `{"volume": ...}`.
#[derive(Serialize, ToSchema)]
pub struct VolumeBody {
    /// The volume.
    pub volume: Volume,
}

/// `GET /volumes`.
#[derive(Serialize, ToSchema)]
pub struct VolumeSummaryList {
    /// One page.
    pub volumes: Vec<VolumeSummary>,
    /// The next page, when this one is full.
    pub volumes_links: Option<Vec<Link>>,
    /// 3.45+ with `with_count`.
    pub count: Option<i64>,
}

/// `GET /volumes/detail`.
#[derive(Serialize, ToSchema)]
pub struct VolumeList {
    /// One page.
    pub volumes: Vec<Volume>,
    /// The next page, when this one is full.
    pub volumes_links: Option<Vec<Link>>,
    /// 3.45+ with `with_count`.
    pub count: Option<i64>,
}

/// The volume to create (`POST /volumes`). Unknown keys are refused (3.53+).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeCreate {
    /// GiB; required unless a source gives it.
    #[schema(minimum = 1, maximum = 1024)]
    pub size: Option<i64>,
    /// Display name.
    #[schema(max_length = 255)]
    pub name: Option<String>,
    /// Display description.
    #[schema(max_length = 255)]
    pub description: Option<String>,
    /// Type name or id.
    pub volume_type: Option<String>,
    /// Zone.
    pub availability_zone: Option<String>,
    /// Create from this snapshot.
    #[schema(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub snapshot_id: Option<String>,
    /// Create from this volume.
    #[schema(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub source_volid: Option<String>,
    /// User metadata.
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `{"volume": {...}}` for `POST /volumes`.
#[derive(Serialize, ToSchema)]
pub struct VolumeCreateRequest {
    /// The volume.
    pub volume: VolumeCreate,
}

/// The changes of `PUT /volumes/{id}`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeUpdate {
    /// Display name.
    #[schema(max_length = 255)]
    pub name: Option<String>,
    /// Display description.
    #[schema(max_length = 255)]
    pub description: Option<String>,
    /// User metadata.
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `{"volume": {...}}` for `PUT /volumes/{id}`.
#[derive(Serialize, ToSchema)]
pub struct VolumeUpdateRequest {
    /// The changes.
    pub volume: VolumeUpdate,
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

/// `{"snapshot": ...}`.
#[derive(Serialize, ToSchema)]
pub struct SnapshotBody {
    /// The snapshot.
    pub snapshot: Snapshot,
}

/// `GET /snapshots` and `/snapshots/detail`.
#[derive(Serialize, ToSchema)]
pub struct SnapshotList {
    /// One page.
    pub snapshots: Vec<Snapshot>,
    /// The next page, when this one is full.
    pub snapshots_links: Option<Vec<Link>>,
    /// With `with_count`.
    pub count: Option<i64>,
}

/// The snapshot to create.
#[derive(Serialize, ToSchema)]
pub struct SnapshotCreate {
    /// The volume to snapshot.
    #[schema(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub volume_id: String,
    /// Display name.
    #[schema(max_length = 255)]
    pub name: Option<String>,
    /// Display description.
    #[schema(max_length = 255)]
    pub description: Option<String>,
    /// Snapshot an in-use volume.
    pub force: Option<bool>,
    /// User metadata.
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `{"snapshot": {...}}` for `POST /snapshots`.
#[derive(Serialize, ToSchema)]
pub struct SnapshotCreateRequest {
    /// The snapshot.
    pub snapshot: SnapshotCreate,
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

/// `{"attachment": ...}`.
#[derive(Serialize, ToSchema)]
pub struct AttachmentBody {
    /// The attachment.
    pub attachment: Attachment,
}

/// `GET /attachments` and `/attachments/detail`.
#[derive(Serialize, ToSchema)]
pub struct AttachmentList {
    /// One page.
    pub attachments: Vec<Attachment>,
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

/// `{"attachment": {...}}` for `POST /attachments`.
#[derive(Serialize, ToSchema)]
pub struct AttachmentCreateRequest {
    /// The attachment.
    pub attachment: AttachmentCreate,
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

/// `{"volume_type": ...}`.
#[derive(Serialize, ToSchema)]
pub struct VolumeTypeBody {
    /// The type.
    pub volume_type: VolumeType,
}

/// `GET /types`.
#[derive(Serialize, ToSchema)]
pub struct VolumeTypeList {
    /// One page.
    pub volume_types: Vec<VolumeType>,
    /// The next page, when this one is full.
    pub volume_type_links: Option<Vec<Link>>,
}

/// Metadata or extra specs, string to string.
#[derive(Serialize, ToSchema)]
pub struct MetadataBody {
    /// The keys.
    pub metadata: BTreeMap<String, String>,
}

/// One metadata key: `{"meta": {"k": "v"}}`.
#[derive(Serialize, ToSchema)]
pub struct MetaBody {
    /// One key and its value.
    pub meta: BTreeMap<String, String>,
}

/// `{"extra_specs": {...}}`.
#[derive(Serialize, ToSchema)]
pub struct ExtraSpecsBody {
    /// The specs.
    pub extra_specs: BTreeMap<String, String>,
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

/// `{"message": ...}`.
#[derive(Serialize, ToSchema)]
pub struct MessageBody {
    /// The message.
    pub message: Message,
}

/// `GET /messages`.
#[derive(Serialize, ToSchema)]
pub struct MessageList {
    /// One page.
    pub messages: Vec<Message>,
    /// The next page, when this one is full.
    pub messages_links: Option<Vec<Link>>,
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

/// `GET /os-availability-zone`.
#[derive(Serialize, ToSchema)]
pub struct ZoneList {
    /// The zones.
    #[serde(rename = "availabilityZoneInfo")]
    pub availability_zone_info: Vec<Zone>,
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

/// `GET /os-services`.
#[derive(Serialize, ToSchema)]
pub struct ServiceList {
    /// The services.
    pub services: Vec<Service>,
}

/// A pool (admin).
#[derive(Serialize, ToSchema)]
pub struct Pool {
    /// `node@backend#pool`.
    pub name: String,
    /// With `detail=true`.
    pub capabilities: Option<BTreeMap<String, serde_json::Value>>,
}

/// `GET /scheduler-stats/get_pools`.
#[derive(Serialize, ToSchema)]
pub struct PoolList {
    /// The pools.
    pub pools: Vec<Pool>,
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

/// `GET /limits`.
#[derive(Serialize, ToSchema)]
pub struct LimitsBody {
    /// The limits.
    pub limits: Limits,
}

/// A project's default type (3.62+).
#[derive(Serialize, ToSchema)]
pub struct DefaultType {
    /// The project.
    pub project_id: String,
    /// The type.
    pub volume_type_id: String,
}

/// `{"default_type": ...}`.
#[derive(Serialize, ToSchema)]
pub struct DefaultTypeBody {
    /// The default.
    pub default_type: DefaultType,
}

/// `GET /default-types`.
#[derive(Serialize, ToSchema)]
pub struct DefaultTypeList {
    /// Every project's default.
    pub default_types: Vec<DefaultType>,
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

/// `GET /volumes/summary` (3.12+).
#[derive(Serialize, ToSchema)]
pub struct VolumeSummaryBody {
    /// The totals.
    #[serde(rename = "volume-summary")]
    pub volume_summary: VolumeTotals,
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

/// `GET /qos-specs`.
#[derive(Serialize, ToSchema)]
pub struct QosSpecsList {
    /// The specs.
    pub qos_specs: Vec<QosSpecs>,
}

/// A response or request body: a named schema, an object with one required key whose value
/// is any JSON (for the catalogue and admin answers the document does not detail), or none.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    /// Nothing (202/204 without content).
    Empty,
    /// A component by name.
    Named(&'static str),
    /// `{"<key>": <any>}`.
    Keyed(&'static str),
    /// Any JSON object.
    AnyObject,
    /// Not JSON (`/metrics`): text.
    Text,
}

/// What the document says about one route.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// Where the route's table is mounted (see [`MOUNTS`]).
    pub mount: &'static str,
    /// The route's method (as in [`Route`]).
    pub method: &'static str,
    /// The route's path (as in [`Route`]).
    pub path: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Whether it needs the noauth token.
    pub auth: bool,
    /// The request body, if any.
    pub request: Option<Body>,
    /// The success status and its body.
    pub ok: (u16, Body),
    /// Query parameters (lists: paging, sorting and filters).
    pub query: &'static [&'static str],
}

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    request: Option<Body>,
    ok: (u16, Body),
) -> Operation {
    Operation {
        mount: "/v3",
        method,
        path,
        summary,
        auth: true,
        request,
        ok,
        query: &[],
    }
}

const fn public(
    mount: &'static str,
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    ok: (u16, Body),
) -> Operation {
    Operation {
        mount,
        method,
        path,
        summary,
        auth: false,
        request: None,
        ok,
        query: &[],
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

const fn list(
    path: &'static str,
    summary: &'static str,
    query: &'static [&'static str],
    ok: Body,
) -> Operation {
    Operation {
        query,
        ..op("get", path, summary, None, (200, ok))
    }
}

use Body::{AnyObject, Empty, Keyed, Named};

const OBJ: Option<Body> = Some(AnyObject);

/// One entry per route of every table in [`MOUNTS`].
pub const OPERATIONS: &[Operation] = &[
    public(
        "",
        "get",
        "/",
        "Version discovery",
        (300, Keyed("versions")),
    ),
    public(
        "",
        "get",
        "/metrics",
        "Prometheus metrics",
        (200, Body::Text),
    ),
    public("", "get", "/v3", "Redirect to /v3/", (302, Empty)),
    public(
        "/v3",
        "get",
        "/",
        "The v3 version document",
        (200, Keyed("versions")),
    ),
    public(
        "/v3",
        "get",
        "/{project_id:[0-9a-f\\-]+}",
        "The v3 version document",
        (200, Keyed("versions")),
    ),
    // Volumes.
    op(
        "post",
        "/volumes",
        "Create a volume",
        Some(Named("VolumeCreateRequest")),
        (202, Named("VolumeBody")),
    ),
    list("/volumes", "List volumes", LIST, Named("VolumeSummaryList")),
    list(
        "/volumes/detail",
        "List volumes with details",
        LIST,
        Named("VolumeList"),
    ),
    op(
        "get",
        "/volumes/summary",
        "Volume totals (3.12+)",
        None,
        (200, Named("VolumeSummaryBody")),
    ),
    op(
        "get",
        "/volumes/{volume_id}",
        "Show a volume",
        None,
        (200, Named("VolumeBody")),
    ),
    op(
        "put",
        "/volumes/{volume_id}",
        "Update a volume",
        Some(Named("VolumeUpdateRequest")),
        (200, Named("VolumeBody")),
    ),
    op(
        "delete",
        "/volumes/{volume_id}",
        "Delete a volume",
        None,
        (202, Empty),
    ),
    op(
        "get",
        "/volumes/{volume_id}/metadata",
        "Show a volume's metadata",
        None,
        (200, Named("MetadataBody")),
    ),
    op(
        "post",
        "/volumes/{volume_id}/metadata",
        "Merge metadata",
        Some(Named("MetadataBody")),
        (200, Named("MetadataBody")),
    ),
    op(
        "put",
        "/volumes/{volume_id}/metadata",
        "Replace metadata",
        Some(Named("MetadataBody")),
        (200, Named("MetadataBody")),
    ),
    op(
        "get",
        "/volumes/{volume_id}/metadata/{key}",
        "Show one metadata key",
        None,
        (200, Named("MetaBody")),
    ),
    op(
        "put",
        "/volumes/{volume_id}/metadata/{key}",
        "Set one metadata key",
        Some(Named("MetaBody")),
        (200, Named("MetaBody")),
    ),
    op(
        "delete",
        "/volumes/{volume_id}/metadata/{key}",
        "Delete one metadata key",
        None,
        (200, Empty),
    ),
    op(
        "post",
        "/volumes/{volume_id}/action",
        "Run a volume action (one key: its name)",
        OBJ,
        (202, Empty),
    ),
    // Snapshots.
    op(
        "post",
        "/snapshots",
        "Create a snapshot",
        Some(Named("SnapshotCreateRequest")),
        (202, Named("SnapshotBody")),
    ),
    list("/snapshots", "List snapshots", LIST, Named("SnapshotList")),
    list(
        "/snapshots/detail",
        "List snapshots with details",
        LIST,
        Named("SnapshotList"),
    ),
    op(
        "get",
        "/snapshots/{snapshot_id}",
        "Show a snapshot",
        None,
        (200, Named("SnapshotBody")),
    ),
    op(
        "put",
        "/snapshots/{snapshot_id}",
        "Update a snapshot",
        OBJ,
        (200, Named("SnapshotBody")),
    ),
    op(
        "delete",
        "/snapshots/{snapshot_id}",
        "Delete a snapshot",
        None,
        (202, Empty),
    ),
    op(
        "post",
        "/snapshots/{snapshot_id}/action",
        "Run a snapshot action",
        OBJ,
        (202, Empty),
    ),
    op(
        "get",
        "/snapshots/{snapshot_id}/metadata",
        "Show a snapshot's metadata",
        None,
        (200, Named("MetadataBody")),
    ),
    op(
        "post",
        "/snapshots/{snapshot_id}/metadata",
        "Merge snapshot metadata",
        Some(Named("MetadataBody")),
        (200, Named("MetadataBody")),
    ),
    op(
        "put",
        "/snapshots/{snapshot_id}/metadata",
        "Replace snapshot metadata",
        Some(Named("MetadataBody")),
        (200, Named("MetadataBody")),
    ),
    op(
        "get",
        "/snapshots/{snapshot_id}/metadata/{key}",
        "Show one snapshot metadata key",
        None,
        (200, Named("MetaBody")),
    ),
    op(
        "put",
        "/snapshots/{snapshot_id}/metadata/{key}",
        "Set one snapshot metadata key",
        Some(Named("MetaBody")),
        (200, Named("MetaBody")),
    ),
    op(
        "delete",
        "/snapshots/{snapshot_id}/metadata/{key}",
        "Delete one snapshot metadata key",
        None,
        (200, Empty),
    ),
    // Attachments (3.27+).
    op(
        "post",
        "/attachments",
        "Create an attachment",
        Some(Named("AttachmentCreateRequest")),
        (200, Named("AttachmentBody")),
    ),
    list(
        "/attachments",
        "List attachments",
        ATTACHMENTS,
        Named("AttachmentList"),
    ),
    list(
        "/attachments/detail",
        "List attachments with details",
        ATTACHMENTS,
        Named("AttachmentList"),
    ),
    op(
        "get",
        "/attachments/{attachment_id}",
        "Show an attachment",
        None,
        (200, Named("AttachmentBody")),
    ),
    op(
        "put",
        "/attachments/{attachment_id}",
        "Update an attachment (give the connector)",
        OBJ,
        (200, Named("AttachmentBody")),
    ),
    op(
        "delete",
        "/attachments/{attachment_id}",
        "Delete an attachment",
        None,
        (200, Keyed("attachments")),
    ),
    op(
        "post",
        "/attachments/{attachment_id}/action",
        "Complete an attachment (3.44+)",
        OBJ,
        (204, Empty),
    ),
    // Types.
    list(
        "/types",
        "List volume types",
        TYPES,
        Named("VolumeTypeList"),
    ),
    op(
        "post",
        "/types",
        "Create a volume type (admin)",
        OBJ,
        (200, Named("VolumeTypeBody")),
    ),
    op(
        "get",
        "/types/default",
        "Show the default type",
        None,
        (200, Named("VolumeTypeBody")),
    ),
    op(
        "get",
        "/types/{type_id}",
        "Show a volume type",
        None,
        (200, Named("VolumeTypeBody")),
    ),
    op(
        "put",
        "/types/{type_id}",
        "Update a volume type (admin)",
        OBJ,
        (200, Named("VolumeTypeBody")),
    ),
    op(
        "delete",
        "/types/{type_id}",
        "Delete a volume type (admin)",
        None,
        (202, Empty),
    ),
    op(
        "get",
        "/types/{type_id}/extra_specs",
        "List extra specs",
        None,
        (200, Named("ExtraSpecsBody")),
    ),
    op(
        "post",
        "/types/{type_id}/extra_specs",
        "Set extra specs (admin)",
        Some(Named("ExtraSpecsBody")),
        (200, Named("ExtraSpecsBody")),
    ),
    op(
        "get",
        "/types/{type_id}/extra_specs/{key}",
        "Show one extra spec",
        None,
        (200, AnyObject),
    ),
    op(
        "put",
        "/types/{type_id}/extra_specs/{key}",
        "Set one extra spec (admin)",
        OBJ,
        (200, AnyObject),
    ),
    op(
        "delete",
        "/types/{type_id}/extra_specs/{key}",
        "Delete one extra spec (admin)",
        None,
        (202, Empty),
    ),
    op(
        "get",
        "/types/{type_id}/os-volume-type-access",
        "List projects with access (admin)",
        None,
        (200, Keyed("volume_type_access")),
    ),
    op(
        "post",
        "/types/{type_id}/action",
        "Add or remove project access (admin)",
        OBJ,
        (202, Empty),
    ),
    op(
        "get",
        "/default-types",
        "List default types (3.62+, admin)",
        None,
        (200, Named("DefaultTypeList")),
    ),
    op(
        "get",
        "/default-types/{target_project}",
        "Show a project's default type (3.62+)",
        None,
        (200, Named("DefaultTypeBody")),
    ),
    op(
        "put",
        "/default-types/{target_project}",
        "Set a project's default type (3.62+, admin)",
        OBJ,
        (200, Named("DefaultTypeBody")),
    ),
    op(
        "delete",
        "/default-types/{target_project}",
        "Unset a project's default type (3.62+, admin)",
        None,
        (204, Empty),
    ),
    // Quotas and limits.
    op(
        "get",
        "/os-quota-sets/{target_project}",
        "Show a project's quotas",
        None,
        (200, Keyed("quota_set")),
    ),
    op(
        "put",
        "/os-quota-sets/{target_project}",
        "Update a project's quotas (admin)",
        OBJ,
        (200, Keyed("quota_set")),
    ),
    op(
        "delete",
        "/os-quota-sets/{target_project}",
        "Reset a project's quotas (admin)",
        None,
        (200, Empty),
    ),
    op(
        "get",
        "/os-quota-sets/{target_project}/defaults",
        "Default quotas",
        None,
        (200, Keyed("quota_set")),
    ),
    op(
        "get",
        "/os-quota-class-sets/{class}",
        "Show a quota class (admin)",
        None,
        (200, Keyed("quota_class_set")),
    ),
    op(
        "put",
        "/os-quota-class-sets/{class}",
        "Update a quota class (admin)",
        OBJ,
        (200, Keyed("quota_class_set")),
    ),
    op(
        "get",
        "/limits",
        "The caller's limits and usage",
        None,
        (200, Named("LimitsBody")),
    ),
    // Catalogue.
    op(
        "get",
        "/os-availability-zone",
        "List availability zones",
        None,
        (200, Named("ZoneList")),
    ),
    Operation {
        query: &["host", "binary"],
        ..op(
            "get",
            "/os-services",
            "List services (admin)",
            None,
            (200, Named("ServiceList")),
        )
    },
    op(
        "put",
        "/os-services/{action}",
        "Enable, disable or freeze a service (admin)",
        OBJ,
        (200, AnyObject),
    ),
    Operation {
        query: &["detail"],
        ..op(
            "get",
            "/scheduler-stats/get_pools",
            "List pools (admin)",
            None,
            (200, Named("PoolList")),
        )
    },
    op(
        "get",
        "/capabilities/{host}",
        "A backend's capabilities (admin)",
        None,
        (200, AnyObject),
    ),
    list(
        "/messages",
        "List user messages (3.3+)",
        PAGING,
        Keyed("messages"),
    ),
    op(
        "get",
        "/messages/{message_id}",
        "Show a user message (3.3+)",
        None,
        (200, Named("MessageBody")),
    ),
    op(
        "delete",
        "/messages/{message_id}",
        "Delete a user message (3.3+)",
        None,
        (204, Empty),
    ),
    op(
        "get",
        "/extensions",
        "List extensions",
        None,
        (200, Keyed("extensions")),
    ),
    op(
        "get",
        "/resource_filters",
        "Filters each list accepts (3.33+)",
        None,
        (200, Keyed("resource_filters")),
    ),
    // QoS specs (admin).
    op(
        "get",
        "/qos-specs",
        "List QoS specs (admin)",
        None,
        (200, Named("QosSpecsList")),
    ),
    op(
        "post",
        "/qos-specs",
        "Create QoS specs (admin)",
        OBJ,
        (200, Named("QosSpecsBody")),
    ),
    op(
        "get",
        "/qos-specs/{qos_id}",
        "Show QoS specs (admin)",
        None,
        (200, Named("QosSpecsBody")),
    ),
    op(
        "put",
        "/qos-specs/{qos_id}",
        "Update QoS specs (admin)",
        OBJ,
        (200, Keyed("qos_specs")),
    ),
    op(
        "delete",
        "/qos-specs/{qos_id}",
        "Delete QoS specs (admin)",
        None,
        (202, Empty),
    ),
    op(
        "put",
        "/qos-specs/{qos_id}/delete_keys",
        "Delete QoS keys (admin)",
        OBJ,
        (202, Empty),
    ),
    op(
        "get",
        "/qos-specs/{qos_id}/associations",
        "List QoS associations (admin)",
        None,
        (200, Keyed("qos_associations")),
    ),
    op(
        "get",
        "/qos-specs/{qos_id}/associate",
        "Associate QoS specs with a type (admin)",
        None,
        (202, Empty),
    ),
    op(
        "get",
        "/qos-specs/{qos_id}/disassociate",
        "Disassociate QoS specs from a type (admin)",
        None,
        (202, Empty),
    ),
    op(
        "get",
        "/qos-specs/{qos_id}/disassociate_all",
        "Disassociate QoS specs from all types (admin)",
        None,
        (202, Empty),
    ),
    // Clinker's own.
    Operation {
        mount: "/clinker/v1",
        ..op(
            "get",
            "/volumes/{volume_id}/timeline",
            "A volume's flows, tasks and messages",
            None,
            (200, AnyObject),
        )
    },
    public(
        "/clinker/v1",
        "get",
        "/openapi.json",
        "This document",
        (200, AnyObject),
    ),
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
    VolumeBody,
    VolumeSummaryList,
    VolumeList,
    VolumeCreate,
    VolumeCreateRequest,
    VolumeUpdate,
    VolumeUpdateRequest,
    Snapshot,
    SnapshotBody,
    SnapshotList,
    SnapshotCreate,
    SnapshotCreateRequest,
    Attachment,
    AttachmentBody,
    AttachmentList,
    AttachmentCreate,
    AttachmentCreateRequest,
    VolumeType,
    VolumeTypeBody,
    VolumeTypeList,
    MetadataBody,
    MetaBody,
    ExtraSpecsBody,
    Message,
    MessageBody,
    MessageList,
    ZoneState,
    Zone,
    ZoneList,
    Service,
    ServiceList,
    Pool,
    PoolList,
    AbsoluteLimits,
    Limits,
    LimitsBody,
    DefaultType,
    DefaultTypeBody,
    DefaultTypeList,
    VolumeTotals,
    VolumeSummaryBody,
    QosSpecs,
    QosSpecsBody,
    QosSpecsList,
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

fn content(body: Body) -> Option<(&'static str, RefOr<Schema>)> {
    let any = || {
        RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(SchemaType::AnyValue)
                .build(),
        ))
    };
    match body {
        Body::Empty => None,
        Body::Text => Some((
            "text/plain",
            RefOr::T(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .build(),
            )),
        )),
        Body::Named(name) => Some(("application/json", RefOr::Ref(Ref::from_schema_name(name)))),
        Body::AnyObject => Some((
            "application/json",
            RefOr::T(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::Object))
                    .build(),
            )),
        )),
        Body::Keyed(key) => Some((
            "application/json",
            RefOr::T(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::Object))
                    .property(key, any())
                    .required(key)
                    .build(),
            )),
        )),
    }
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

fn operation(mount: &str, route: &Route, spec: &Operation) -> utoipa::openapi::path::Operation {
    let path = openapi_path(mount, route.path);
    let mut b = OperationBuilder::new()
        .summary(Some(spec.summary))
        .operation_id(Some(format!("{} {path}", route.method)));
    for name in path.split('{').skip(1).filter_map(|s| s.split('}').next()) {
        b = b.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(String::schema())),
        );
    }
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
    if mount.starts_with("/v3") && spec.auth {
        b = b.parameter(
            ParameterBuilder::new()
                .name("OpenStack-API-Version")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "The microversion, e.g. `volume 3.60` (3.0 when absent).",
                ))
                .schema(Some(String::schema())),
        );
    }
    if let Some(body) = spec.request
        && let Some((media, schema)) = content(body)
    {
        b = b.request_body(Some(
            RequestBodyBuilder::new()
                .content(media, ContentBuilder::new().schema(Some(schema)).build())
                .required(Some(Required::True))
                .build(),
        ));
    }
    let (status, body) = spec.ok;
    let mut ok = ResponseBuilder::new().description("Success");
    if let Some((media, schema)) = content(body) {
        ok = ok.content(media, ContentBuilder::new().schema(Some(schema)).build());
    }
    let fault = ResponseBuilder::new()
        .description("A Cinder fault")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(Ref::from_schema_name("Fault"))))
                .build(),
        )
        .build();
    let mut responses = ResponsesBuilder::new().response(status.to_string(), ok.build());
    if spec.auth {
        responses = responses.response("default", fault);
    }
    b = b.responses(responses.build());
    if !spec.auth {
        b = b.securities(Some(Vec::<SecurityRequirement>::new()));
    }
    b.build()
}

/// The whole document, or the routes that have no [`OPERATIONS`] entry.
pub fn document() -> Result<OpenApi, String> {
    let mut paths = PathsBuilder::new();
    let mut missing = Vec::new();
    let mut items: BTreeMap<String, Vec<(HttpMethod, utoipa::openapi::path::Operation)>> =
        BTreeMap::new();
    for (mount, routes) in MOUNTS {
        if mount.contains('{') {
            continue;
        }
        for route in *routes {
            let full = format!("{mount}{}", route.path);
            let spec = OPERATIONS
                .iter()
                .find(|o| o.mount == *mount && o.method == route.method && o.path == route.path);
            match spec {
                Some(spec) => items
                    .entry(openapi_path(mount, route.path))
                    .or_default()
                    .push((method(route.method)?, operation(mount, route, spec))),
                None => missing.push(format!("{} {full}", route.method)),
            }
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "routes without an OpenAPI entry: {}",
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

/// `GET /clinker/v1/openapi.json`.
pub async fn serve() -> Result<HttpResponse, ApiError> {
    let doc = document().map_err(ApiError::Internal)?;
    Ok(HttpResponse::Ok().json(doc))
}

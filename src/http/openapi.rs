//! The OpenAPI 3.1 document, `GET /clinker/v1/openapi.json` (no token needed).
//!
//! Built from the code: the paths come from the router's own route tables
//! ([`super::MOUNTS`]), and each route's operation from its handler's
//! `#[utoipa::path]` (listed in [`Generated`] and [`Outer`]), whose typed request bodies
//! are the very types the handler parses (see [`super::body::Body`]). What is left here
//! is the assembly and the answers' shared schemas: schema-only structs (derived with
//! utoipa's `ToSchema`) that the handlers build with `serde_json::json!` (see
//! [`super::views`]), so they are never constructed. A route without an operation, or an
//! operation without a route, makes [`document`] fail, and `tests/http_openapi.rs`
//! checks that every route is in the document, so the two cannot drift apart silently.
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
use utoipa::openapi::path::{HttpMethod, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required, ResponseBuilder,
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

/// A project that may use a private type.
#[derive(Serialize, ToSchema)]
pub struct TypeAccess {
    /// The type.
    pub volume_type_id: String,
    /// The project.
    pub project_id: String,
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
    ("AttachmentList", "attachments", "Attachment", All),
    ("VolumeTypeBody", "volume_type", "VolumeType", One),
    (
        "VolumeTypeList",
        "volume_types",
        "VolumeType",
        Page("volume_type_links", false),
    ),
    ("TypeAccessList", "volume_type_access", "TypeAccess", All),
    ("DefaultTypeBody", "default_type", "DefaultType", One),
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
    ("QosSpecsUpdateBody", "qos_specs", "QosSpecsUpdate", One),
    ("PoolList", "pools", "Pool", All),
    ("LimitsBody", "limits", "Limits", One),
    ("QuotaSetBody", "quota_set", "QuotaSet", One),
    ("QuotaClassSetBody", "quota_class_set", "QuotaSet", One),
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
    vec![(
        "QuotaSet",
        json!({
            "type": "object",
            "description": "Each resource's limit (-1: none), or with `usage=true` its \
                            limit and usage; `id` is the project or class.",
            "properties": {"id": {"type": "string"}},
            "additionalProperties": quota_value,
        }),
    )]
}

/// An OpenAPI link from a create's answer to an operation on what it created: the path
/// parameter `parameter` of `to` (`"<method> <path>"` under `/v3`) is the id at
/// `pointer` in the answer of `from`. Schemathesis' stateful phase follows these to chain
/// create, show, update, act and delete on one real resource, where its inferred links
/// mostly pair unrelated operations.
#[derive(Debug, Clone, Copy)]
pub struct ChainLink {
    /// The create, `"<method> <path>"` under `/v3`.
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
    TypeAccess,
    ServiceUpdated,
    Transfer,
    TransferCreated,
    TransferSummary,
    Encryption,
    EncryptionEcho,
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

fn method(m: &str) -> Result<HttpMethod, String> {
    match m {
        "get" => Ok(HttpMethod::Get),
        "post" => Ok(HttpMethod::Post),
        "put" => Ok(HttpMethod::Put),
        "delete" => Ok(HttpMethod::Delete),
        other => Err(format!("no OpenAPI method for {other}")),
    }
}

/// What every operation carries: its id (which [`LINKS`] name), its path parameters,
/// and, behind a token, the microversion header and Cinder's fault as the answer to
/// anything else. A handler marks a route that needs no token with `security(())`,
/// which becomes the document's `security: []`.
fn decorate(
    mut op: utoipa::openapi::path::Operation,
    mount: &str,
    route: &Route,
) -> utoipa::openapi::path::Operation {
    let auth = !op
        .security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| *r == SecurityRequirement::default()));
    if !auth {
        op.security = Some(Vec::new());
    }
    op.operation_id = Some(operation_id(mount, route.method, route.path));
    // utoipa tags a generated operation with its module path (`super::volumes`), which
    // says nothing to a reader.
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
/// path under `/v3`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    super::volumes::list,
    super::volumes::list_detail,
    super::snapshots::list,
    super::snapshots::list_detail,
    super::volumes::create,
    super::volumes::show,
    super::volumes::update,
    super::volumes::delete,
    super::volumes::summary,
    super::snapshots::create,
    super::snapshots::show,
    super::snapshots::update,
    super::snapshots::delete,
    super::types::list,
    super::types::create,
    super::types::show_default,
    super::types::show,
    super::types::update,
    super::types::delete,
    super::types::specs_list,
    super::types::specs_create,
    super::types::specs_show,
    super::types::specs_update,
    super::types::specs_delete,
    super::qos::list,
    super::qos::create,
    super::qos::show,
    super::qos::update,
    super::qos::delete,
    super::qos::delete_keys,
    super::qos::associations,
    super::qos::associate,
    super::qos::disassociate,
    super::qos::disassociate_all,
    super::quotas::show,
    super::quotas::update,
    super::quotas::delete,
    super::quotas::defaults,
    super::quotas::class_show,
    super::quotas::class_update,
    super::quotas::limits,
    super::attachments::create,
    super::attachments::list,
    super::attachments::list_detail,
    super::attachments::show,
    super::attachments::update,
    super::attachments::delete,
    super::attachments::action,
    super::metadata::show_all,
    super::metadata::merge,
    super::metadata::replace,
    super::metadata::show_key,
    super::metadata::update_key,
    super::metadata::delete_key,
    super::snapshots::metadata_show,
    super::snapshots::metadata_merge,
    super::snapshots::metadata_replace,
    super::snapshots::metadata_show_key,
    super::snapshots::metadata_update_key,
    super::snapshots::metadata_delete,
    super::type_access::list,
    super::type_access::action,
    super::type_access::list_defaults,
    super::type_access::show_default,
    super::type_access::set_default,
    super::type_access::unset_default,
    super::catalogue::zones,
    super::catalogue::services,
    super::catalogue::update,
    super::hosts::list,
    super::hosts::show,
    super::catalogue::pools,
    super::catalogue::capabilities_show,
    super::messages::list,
    super::messages::show,
    super::messages::delete,
    super::extensions::list,
    super::extensions::resource_filters,
    super::actions::run,
    super::snapshots::action,
    super::transfers::create,
    super::transfers::list,
    super::transfers::list_detail,
    super::transfers::show,
    super::transfers::accept,
    super::transfers::delete,
    super::encryption::show,
    super::encryption::show_key,
    super::encryption::create,
    super::encryption::update,
    super::encryption::delete,
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

/// The operations of the routes outside the Block Storage tables (version discovery, the
/// metrics, Clinker's own), whose handlers name their whole path.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    super::version::root,
    super::metrics::render,
    super::version::v3_redirect,
    super::version::v3,
    super::version::v3_project,
    super::timeline::show,
    serve,
))]
struct Outer;

/// The transfer routes of the extension and of 3.55's controller share their handlers
/// (see `super::transfers`), whose `#[utoipa::path]` names the extension's path; the
/// operation is listed under both.
const TRANSFERS_EXTENSION: &str = "/os-volume-transfer";
/// See [`TRANSFERS_EXTENSION`].
const TRANSFERS_355: &str = "/volume-transfers";

/// Generated operations by method and whole path.
type MadeOperations = BTreeMap<(&'static str, String), utoipa::openapi::path::Operation>;

/// [`Generated`]'s and [`Outer`]'s operations by method and whole path, and the schemas
/// they bring.
fn generated() -> (MadeOperations, Vec<(String, RefOr<Schema>)>) {
    let mut ops = BTreeMap::new();
    let mut schemas = Vec::new();
    let docs = [
        ("/v3", <Generated as utoipa::OpenApi>::openapi()),
        ("", <Outer as utoipa::OpenApi>::openapi()),
    ];
    for (mount, doc) in docs {
        for (path, item) in doc.paths.paths {
            let methods = [
                ("get", item.get),
                ("post", item.post),
                ("put", item.put),
                ("delete", item.delete),
            ];
            for (method, op) in methods {
                let Some(op) = op else { continue };
                if let Some(rest) = path.strip_prefix(TRANSFERS_EXTENSION) {
                    let alias = format!("{mount}{TRANSFERS_355}{rest}");
                    ops.insert((method, alias), op.clone());
                }
                ops.insert((method, format!("{mount}{path}")), op);
            }
        }
        schemas.extend(doc.components.into_iter().flat_map(|c| c.schemas));
    }
    (ops, schemas)
}

/// The whole document, or the routes that have no operation, and the generated
/// operations that have no route.
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
            let path = openapi_path(mount, route.path);
            let Some(op) = made.remove(&(route.method, path.clone())) else {
                missing.push(format!("{} {path}", route.method));
                continue;
            };
            items
                .entry(path)
                .or_default()
                .push((method(route.method)?, decorate(op, mount, route)));
        }
    }
    // A handler's operation whose path and method no route has.
    missing.extend(
        made.keys()
            .map(|(m, p)| format!("{m} {p} (generated, but not routed)")),
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
#[utoipa::path(get, path = "/clinker/v1/openapi.json", summary = "This document", security(()), responses((status = 200, description = "Success", body = Object)))]
pub async fn serve() -> Result<HttpResponse, ApiError> {
    let doc = document().map_err(ApiError::Internal)?;
    let mut doc = serde_json::to_value(doc).map_err(|e| ApiError::Internal(e.to_string()))?;
    add_links(&mut doc);
    Ok(HttpResponse::Ok().json(doc))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::attachments::{AttachmentCreate, AttachmentUpdate};
    use super::super::body::{Envelope, fields};
    use super::super::snapshots::{SnapshotCreate, SnapshotUpdate};
    use super::super::type_access::DefaultTypeSet;
    use super::super::types::{VolumeTypeCreate, VolumeTypeUpdate};
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
        assert_eq!(listed(&doc, "VolumeTypeCreate"), read::<VolumeTypeCreate>());
        assert_eq!(listed(&doc, "VolumeTypeUpdate"), read::<VolumeTypeUpdate>());
        assert_eq!(listed(&doc, "AttachmentCreate"), read::<AttachmentCreate>());
        assert_eq!(listed(&doc, "AttachmentUpdate"), read::<AttachmentUpdate>());
        assert_eq!(listed(&doc, "DefaultTypeSet"), read::<DefaultTypeSet>());
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
        let (made, _) = generated();
        let routed: usize = MOUNTS
            .iter()
            .filter(|(mount, _)| !mount.contains('{'))
            .map(|(_, routes)| routes.len())
            .sum();
        assert_eq!(made.len(), routed, "one operation per route");
        for (method, path) in made.keys() {
            let op = &doc["paths"][path][*method];
            assert_eq!(op["operationId"], format!("{method} {path}"));
            // Behind a token, anything but success is a Cinder fault; without one, the
            // operation says it needs none.
            if op["security"] == json!([]) {
                assert!(op["responses"]["default"].is_null(), "{method} {path}");
            } else {
                assert!(op["responses"]["default"].is_object(), "{method} {path}");
            }
        }
        for public in [
            "/",
            "/v3",
            "/v3/",
            "/v3/{project_id}",
            "/clinker/v1/openapi.json",
        ] {
            assert_eq!(
                doc["paths"][public]["get"]["security"],
                json!([]),
                "{public}"
            );
        }
        assert!(doc["paths"]["/metrics"]["get"]["security"].is_null());
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

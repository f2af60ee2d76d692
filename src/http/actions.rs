//! `POST /volumes/{id}/action` (cinder-api.md §6): one key, the action's name.

use std::borrow::Cow;
use std::marker::PhantomData;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::{Map, Value, json};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::auth::Caller;
use super::body::{JsonBody, actions, given, typed};
use super::error::ApiError;
use super::fields::{
    AttachmentId, Connector, Field, Gib, HostName, InstanceUuid, Mode, Mountpoint, NewSize,
    NewType, SnapshotRef, key, no_arguments,
};
use super::{AppState, policy, validate, version};
use crate::actors::api::DeleteVolume;
use crate::actors::api::actions::{ActionOutcome, VolumeAction, VolumeActionKind};
use crate::model::{AttachStatus, VolumeStatus};
use crate::policy::Action;

fn no_action(name: &str) -> ApiError {
    ApiError::BadRequest(format!("There is no such action: {name}"))
}

/// Cinder's rule for a volume action, by the action's name; `None` for no such action,
/// or one above the requested microversion (which answers as if it did not exist).
fn rule_of(name: &str, ver: version::ApiVersion) -> Option<Action> {
    Some(match name {
        "os-extend" => Action::VolumeExtend,
        "os-reset_status" => Action::VolumeResetStatus,
        "os-force_delete" => Action::VolumeAdminForceDelete,
        "os-force_detach" => Action::VolumeForceDetach,
        "os-migrate_volume" => Action::VolumeMigrate,
        "os-migrate_volume_completion" => Action::VolumeMigrateCompletion,
        "os-extend_volume_completion" if ver.at_least(3, 71) => Action::VolumeExtendCompletion,
        // Cinder's `_set_bootable` updates the volume through `volume:update`.
        "os-set_bootable" => Action::VolumeUpdate,
        "os-update_readonly_flag" => Action::VolumeUpdateReadonly,
        "os-reserve" => Action::VolumeReserve,
        "os-unreserve" => Action::VolumeUnreserve,
        "os-begin_detaching" => Action::VolumeBeginDetaching,
        "os-roll_detaching" => Action::VolumeRollDetaching,
        "os-attach" => Action::VolumeAttach,
        "os-detach" => Action::VolumeDetach,
        "os-initialize_connection" => Action::VolumeInitializeConnection,
        "os-terminate_connection" => Action::VolumeTerminateConnection,
        "os-retype" => Action::VolumeRetype,
        "os-volume_upload_image" => Action::VolumeUploadImage,
        "revert" if ver.at_least(3, 40) => Action::VolumeRevert,
        _ => return None,
    })
}

/// The action's arguments as an object (`null` and `{}` both mean none).
fn args<'a>(
    name: &str,
    v: &'a Value,
    empty: &'a Map<String, Value>,
) -> Result<&'a Map<String, Value>, ApiError> {
    match v {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(empty),
        other => Err(ApiError::BadRequest(format!(
            "Invalid input for field/attribute {name}. Value: {other}. It is not an object."
        ))),
    }
}

/// `true`/`false` or one of Cinder's boolean strings, as an action's argument; anything
/// else is refused with the action API's words (`It is not a boolean.`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgBool<F>(bool, PhantomData<F>);

/// The refusal of an action's boolean argument; `shown` is the value as echoed.
fn not_a_boolean(field: &str, shown: &dyn std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!(
        "Invalid input for field/attribute {field}. Value: {shown}. It is not a boolean."
    ))
}

impl<'de, F: Field> Deserialize<'de> for ArgBool<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let refused = match &v {
            Value::Bool(b) => return Ok(ArgBool(*b, PhantomData)),
            Value::String(s) => match validate::boolean(s) {
                Some(b) => return Ok(ArgBool(b, PhantomData)),
                // A string is echoed without its quotes.
                None => not_a_boolean(F::NAME, s),
            },
            other => not_a_boolean(F::NAME, other),
        };
        Err(D::Error::custom(refused))
    }
}

impl<F> PartialSchema for ArgBool<F> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Boolean, Type::String]))
            .into()
    }
}

impl<F> ToSchema for ArgBool<F> {
    fn name() -> Cow<'static, str> {
        "ArgBool".into()
    }
}

/// A status an action names: read when it is a string (anything else is no status, as
/// Cinder's admin actions read it), and checked by `S`'s own rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusArg<S>(Option<S>);

/// The statuses `os-reset_status` may set, each refused with Cinder's words.
pub trait ResetTo: Sized {
    /// The field's name.
    const FIELD: &'static str;
    /// `s` as a status, or `None` when it may not be set.
    fn accept(s: &str) -> Option<Self>;
}

impl ResetTo for VolumeStatus {
    const FIELD: &'static str = "status";
    fn accept(s: &str) -> Option<Self> {
        // A reset never deletes: `deleting` is refused with the others.
        (s != "deleting").then(|| s.parse().ok()).flatten()
    }
}

impl ResetTo for AttachStatus {
    const FIELD: &'static str = "attach_status";
    fn accept(s: &str) -> Option<Self> {
        matches!(s, "attached" | "detached")
            .then(|| s.parse().ok())
            .flatten()
    }
}

impl<'de, S: ResetTo> Deserialize<'de> for StatusArg<S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => S::accept(&s).map(|st| StatusArg(Some(st))).ok_or_else(|| {
                D::Error::custom(format!(
                    "Invalid input for field/attribute {}. Value: {s}.",
                    S::FIELD
                ))
            }),
            _ => Ok(StatusArg(None)),
        }
    }
}

impl<S> PartialSchema for StatusArg<S> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).into()
    }
}

impl<S> ToSchema for StatusArg<S> {
    fn name() -> Cow<'static, str> {
        "StatusArg".into()
    }
}

/// `status` of `os-reset_status`.
pub type VolumeStatusArg = StatusArg<VolumeStatus>;
/// `attach_status` of `os-reset_status`.
pub type AttachStatusArg = StatusArg<AttachStatus>;
/// `bootable` of `os-set_bootable`.
pub type BootableArg = ArgBool<key::Bootable>;
/// `readonly` of `os-update_readonly_flag`.
pub type ReadonlyArg = ArgBool<key::Readonly>;

/// `os-extend`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Extend {
    /// The new size, larger than the current one.
    #[schema(inline, required = true, nullable = false)]
    pub new_size: Option<NewSize>,
}

/// `os-reset_status`: at least one of the three.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetStatus {
    /// Any volume status but `deleting`.
    #[schema(inline)]
    pub status: Option<VolumeStatusArg>,
    /// `attached` or `detached`.
    #[schema(inline)]
    pub attach_status: Option<AttachStatusArg>,
    /// Accepted and ignored (volumes are not migrated).
    #[serde(default, deserialize_with = "given")]
    pub migration_status: Option<Value>,
}

/// `os-set_bootable`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SetBootable {
    /// Whether the volume is bootable.
    #[schema(inline, required = true, nullable = false)]
    pub bootable: Option<BootableArg>,
}

/// `os-update_readonly_flag`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateReadonly {
    /// Whether attachments are read-only.
    #[schema(inline, required = true, nullable = false)]
    pub readonly: Option<ReadonlyArg>,
}

/// `os-attach`: an instance or a host, and the mount point.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Attach {
    /// The instance.
    #[schema(inline)]
    pub instance_uuid: Option<InstanceUuid>,
    /// The host, for an attachment to a host.
    #[schema(inline)]
    pub host_name: Option<HostName>,
    /// Where it is mounted.
    #[schema(inline, required = true, nullable = false)]
    pub mountpoint: Option<Mountpoint>,
    /// `rw` (the default) or `ro`.
    #[schema(inline)]
    pub mode: Option<Mode>,
}

/// `os-detach`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Detach {
    /// The attachment to end (the volume's only one when absent).
    #[schema(inline)]
    pub attachment_id: Option<AttachmentId>,
}

/// `os-initialize_connection` and `os-terminate_connection`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Connection {
    /// The host's connector.
    #[schema(inline, required = true, nullable = false)]
    pub connector: Option<Connector>,
}

/// `os-retype`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Retype {
    /// The new type's name or id.
    #[schema(inline, required = true, nullable = false)]
    pub new_type: Option<NewType>,
}

/// `revert` (3.40+).
#[derive(Debug, Deserialize, ToSchema)]
pub struct Revert {
    /// The volume's latest snapshot.
    #[schema(inline, required = true, nullable = false)]
    pub snapshot_id: Option<SnapshotRef>,
}

/// `os-extend_volume_completion` (3.71+): no key but `error`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ExtendCompletion {
    /// Whether the extend failed.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<bool>)]
    pub error: Option<StrictBool>,
}

/// A JSON boolean and nothing else (not even `null`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrictBool(bool);

impl<'de> Deserialize<'de> for StrictBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(b) => Ok(StrictBool(b)),
            other => Err(D::Error::custom(not_a_boolean("error", &other))),
        }
    }
}

/// The body of `POST /volumes/{id}/action`: one key, the action, whose value is its
/// arguments (`null` or `{}` for none). Each action's arguments are read with its type
/// above once the action's policy rule allowed the caller, as Cinder does.
pub struct VolumeActionBody;

/// The actions that take no arguments.
const NO_ARGS: [&str; 5] = [
    "os-force_delete",
    "os-reserve",
    "os-unreserve",
    "os-begin_detaching",
    "os-roll_detaching",
];

/// `T`'s arm of [`VolumeActionBody`]'s schema, and its schema among the components.
fn arm<T: ToSchema>(
    name: &'static str,
    schemas: Option<&mut Vec<(String, RefOr<Schema>)>>,
) -> (&'static str, RefOr<Schema>) {
    if let Some(schemas) = schemas {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
    (name, Ref::from_schema_name(T::name()).into())
}

/// Every action with its arguments' schema; with `schemas`, those schemas are added
/// there too.
fn arms(
    mut schemas: Option<&mut Vec<(String, RefOr<Schema>)>>,
) -> Vec<(&'static str, RefOr<Schema>)> {
    let mut out = vec![
        arm::<Extend>("os-extend", schemas.as_deref_mut()),
        arm::<ResetStatus>("os-reset_status", schemas.as_deref_mut()),
        arm::<SetBootable>("os-set_bootable", schemas.as_deref_mut()),
        arm::<UpdateReadonly>("os-update_readonly_flag", schemas.as_deref_mut()),
        arm::<Attach>("os-attach", schemas.as_deref_mut()),
        arm::<Detach>("os-detach", schemas.as_deref_mut()),
        arm::<Connection>("os-initialize_connection", schemas.as_deref_mut()),
        arm::<Connection>("os-terminate_connection", schemas.as_deref_mut()),
        arm::<Retype>("os-retype", schemas.as_deref_mut()),
        arm::<Revert>("revert", schemas.as_deref_mut()),
        arm::<ExtendCompletion>("os-extend_volume_completion", schemas),
    ];
    out.extend(NO_ARGS.iter().map(|name| (*name, no_arguments())));
    out
}

impl PartialSchema for VolumeActionBody {
    fn schema() -> RefOr<Schema> {
        actions(arms(None))
    }
}

impl ToSchema for VolumeActionBody {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        arms(Some(schemas));
    }
}

/// An action's arguments (an object, never `null` here) as its type.
fn read<T: DeserializeOwned>(a: &Map<String, Value>) -> Result<T, ApiError> {
    typed(Value::Object(a.clone()))
}

/// Runs a volume action.
#[utoipa::path(post, path = "/volumes/{volume_id}/action", summary = "Run a volume action (one key: its name)", request_body = VolumeActionBody, responses((status = 202, description = "Success"), (status = 200, description = "`os-initialize_connection`: the connection; `os-set_bootable`: empty", body = Object)))]
pub async fn run(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
    JsonBody(body): JsonBody,
) -> Result<HttpResponse, ApiError> {
    let raw = req.match_info().get("volume_id").unwrap_or("");
    let id = super::volumes::volume_id(raw)?;
    let Value::Object(top) = &body else {
        return Err(ApiError::BadRequest("Malformed request body".into()));
    };
    if top.len() != 1 {
        return Err(ApiError::BadRequest("Malformed request body".into()));
    }
    let Some((name, value)) = top.iter().next() else {
        return Err(ApiError::BadRequest("Malformed request body".into()));
    };
    let ver = version::of(&req);
    let empty = Map::new();
    let a = args(name, value, &empty)?;
    if let Some(rule) = rule_of(name, ver) {
        policy::authorize_on_volume(&state, &ctx, id, rule).await?;
    }
    use VolumeActionKind as K;
    let kind = match name.as_str() {
        "os-extend" => K::Extend {
            new_size: read::<Extend>(a)?.new_size.map(Gib::get).ok_or_else(|| {
                ApiError::BadRequest(
                    "Invalid input for field/attribute new_size. Value: None.".into(),
                )
            })?,
            allow_in_use: ver.at_least(3, 42),
        },
        "os-reset_status" => {
            let r = read::<ResetStatus>(a)?;
            let status = r.status.and_then(|s| s.0);
            let attach_status = r.attach_status.and_then(|s| s.0);
            if status.is_none() && attach_status.is_none() && r.migration_status.is_none() {
                return Err(ApiError::BadRequest(
                    "Must specify 'status', 'attach_status' or 'migration_status' for update."
                        .into(),
                ));
            }
            K::ResetStatus {
                status,
                attach_status,
            }
        }
        "os-force_delete" => {
            state
                .api
                .send(DeleteVolume {
                    ctx,
                    id,
                    force: true,
                    cascade: false,
                })
                .await??;
            return Ok(HttpResponse::Accepted().finish());
        }
        "os-set_bootable" => {
            let bootable = read::<SetBootable>(a)?.bootable;
            K::SetBootable(
                bootable
                    .ok_or_else(|| not_a_boolean("bootable", &Value::Null))?
                    .0,
            )
        }
        "os-update_readonly_flag" => {
            let readonly = read::<UpdateReadonly>(a)?.readonly;
            K::UpdateReadonly(
                readonly
                    .ok_or_else(|| not_a_boolean("readonly", &Value::Null))?
                    .0,
            )
        }
        "os-reserve" => K::Reserve,
        "os-unreserve" => K::Unreserve,
        "os-begin_detaching" => K::BeginDetaching,
        "os-roll_detaching" => K::RollDetaching,
        "os-attach" => {
            let at = read::<Attach>(a)?;
            let instance_uuid = at.instance_uuid.map(String::from);
            let host_name = at.host_name.map(String::from);
            if instance_uuid.is_none() && host_name.is_none() {
                return Err(ApiError::BadRequest(
                    "Invalid request to attach volume to an invalid target".into(),
                ));
            }
            let mode = at.mode.map_or_else(|| "rw".into(), String::from);
            if mode != "rw" && mode != "ro" {
                return Err(ApiError::BadRequest("Invalid request to attach volume with an invalid mode. Attaching mode should be 'rw' or 'ro'".into()));
            }
            K::Attach {
                instance_uuid,
                host_name,
                mountpoint: at.mountpoint.map(String::from).ok_or_else(|| {
                    ApiError::BadRequest("Invalid input for field/attribute mountpoint.".into())
                })?,
                mode,
            }
        }
        "os-detach" => K::Detach {
            attachment_id: read::<Detach>(a)?.attachment_id.map(String::from),
        },
        "os-initialize_connection" | "os-terminate_connection" => {
            let connector = read::<Connection>(a)?
                .connector
                .and_then(|c| c.0)
                .ok_or_else(|| ApiError::BadRequest("Must specify 'connector'".into()))?;
            if name == "os-initialize_connection" {
                K::InitializeConnection { connector }
            } else {
                K::TerminateConnection { connector }
            }
        }
        "os-retype" => K::Retype {
            new_type: read::<Retype>(a)?
                .new_type
                .map(String::from)
                .ok_or_else(|| ApiError::BadRequest("Must specify 'new_type'".into()))?,
        },
        "revert" if ver.at_least(3, 40) => K::Revert {
            snapshot_id: read::<Revert>(a)?
                .snapshot_id
                .map(String::from)
                .ok_or_else(|| ApiError::BadRequest("Must specify 'snapshot_id'".into()))?,
        },
        "os-extend_volume_completion" if ver.at_least(3, 71) => {
            if let Some(k) = a.keys().find(|k| *k != "error") {
                return Err(ApiError::BadRequest(format!(
                    "Additional properties are not allowed ('{k}' was unexpected)"
                )));
            }
            K::ExtendCompletion {
                error: read::<ExtendCompletion>(a)?.error.is_some_and(|e| e.0),
            }
        }
        "revert" | "os-extend_volume_completion" => {
            return Err(ApiError::NotFound(
                "The resource could not be found.".into(),
            ));
        }
        other => return Err(no_action(other)),
    };
    let bootable = matches!(kind, K::SetBootable(_));
    let outcome = state
        .api
        .send(VolumeAction {
            ctx,
            id,
            action: kind,
        })
        .await??;
    Ok(match outcome {
        ActionOutcome::Connection(info) => {
            let enforce = a
                .get("connector")
                .and_then(|c| c.get("enforce_multipath"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            HttpResponse::Ok().json(json!({"connection_info": {
                "driver_volume_type": info.driver_volume_type,
                "data": info.data,
                "enforce_multipath": enforce,
            }}))
        }
        ActionOutcome::Done if bootable => HttpResponse::Ok().finish(),
        ActionOutcome::Done => HttpResponse::Accepted().finish(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn refusal<T: DeserializeOwned + std::fmt::Debug>(v: Value) -> String {
        match typed::<T>(v) {
            Ok(t) => format!("accepted {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn arguments_are_refused_with_the_action_apis_words() {
        assert_eq!(
            refusal::<SetBootable>(json!({"bootable": "maybe"})),
            "Invalid input for field/attribute bootable. Value: maybe. It is not a boolean."
        );
        assert_eq!(
            refusal::<UpdateReadonly>(json!({"readonly": 1})),
            "Invalid input for field/attribute readonly. Value: 1. It is not a boolean."
        );
        assert_eq!(
            refusal::<ResetStatus>(json!({"status": "deleting"})),
            "Invalid input for field/attribute status. Value: deleting."
        );
        assert_eq!(
            refusal::<ResetStatus>(json!({"attach_status": "attaching"})),
            "Invalid input for field/attribute attach_status. Value: attaching."
        );
        assert_eq!(
            refusal::<ExtendCompletion>(json!({"error": null})),
            "Invalid input for field/attribute error. Value: null. It is not a boolean."
        );
    }

    #[test]
    fn a_non_string_status_is_no_status() -> Result<(), ApiError> {
        let r = typed::<ResetStatus>(json!({"status": 5, "migration_status": null}))?;
        assert!(r.status.is_some_and(|s| s.0.is_none()) && r.migration_status.is_some());
        Ok(())
    }

    /// Every action the handler runs has an arm in the document's schema.
    #[test]
    fn the_schema_names_every_action() {
        let names: Vec<&str> = arms(None).into_iter().map(|(n, _)| n).collect();
        let ver = version::ApiVersion::new(3, 71);
        for name in &names {
            assert!(rule_of(name, ver).is_some(), "{name}");
        }
        assert_eq!(names.len(), 16);
    }
}

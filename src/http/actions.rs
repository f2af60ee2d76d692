//! `POST /volumes/{id}/action` (cinder-api.md §6): one key, the action's name.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::auth::Caller;
use super::body::JsonBody;
use super::error::ApiError;
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

fn boolean(field: &str, v: Option<&Value>) -> Result<bool, ApiError> {
    match v {
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => validate::boolean(s).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Invalid input for field/attribute {field}. Value: {s}. It is not a boolean."
            ))
        }),
        other => Err(ApiError::BadRequest(format!(
            "Invalid input for field/attribute {field}. Value: {}. It is not a boolean.",
            other.cloned().unwrap_or(Value::Null)
        ))),
    }
}

/// Runs a volume action.
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
            new_size: validate::size("new_size", a.get("new_size"))?.ok_or_else(|| {
                ApiError::BadRequest(
                    "Invalid input for field/attribute new_size. Value: None.".into(),
                )
            })?,
            allow_in_use: ver.at_least(3, 42),
        },
        "os-reset_status" => {
            let status = match a.get("status").and_then(Value::as_str) {
                None => None,
                Some("deleting") => {
                    return Err(ApiError::BadRequest(
                        "Invalid input for field/attribute status. Value: deleting.".into(),
                    ));
                }
                Some(s) => Some(s.parse::<VolumeStatus>().map_err(|_| {
                    ApiError::BadRequest(format!(
                        "Invalid input for field/attribute status. Value: {s}."
                    ))
                })?),
            };
            let attach_status = match a.get("attach_status").and_then(Value::as_str) {
                None => None,
                Some(s @ ("attached" | "detached")) => s.parse::<AttachStatus>().ok(),
                Some(s) => {
                    return Err(ApiError::BadRequest(format!(
                        "Invalid input for field/attribute attach_status. Value: {s}."
                    )));
                }
            };
            if status.is_none() && attach_status.is_none() && !a.contains_key("migration_status") {
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
        "os-set_bootable" => K::SetBootable(boolean("bootable", a.get("bootable"))?),
        "os-update_readonly_flag" => K::UpdateReadonly(boolean("readonly", a.get("readonly"))?),
        "os-reserve" => K::Reserve,
        "os-unreserve" => K::Unreserve,
        "os-begin_detaching" => K::BeginDetaching,
        "os-roll_detaching" => K::RollDetaching,
        "os-attach" => {
            let instance_uuid = validate::text("instance_uuid", a.get("instance_uuid"))?;
            let host_name = validate::text("host_name", a.get("host_name"))?;
            if instance_uuid.is_none() && host_name.is_none() {
                return Err(ApiError::BadRequest(
                    "Invalid request to attach volume to an invalid target".into(),
                ));
            }
            let mode = validate::text("mode", a.get("mode"))?.unwrap_or_else(|| "rw".into());
            if mode != "rw" && mode != "ro" {
                return Err(ApiError::BadRequest("Invalid request to attach volume with an invalid mode. Attaching mode should be 'rw' or 'ro'".into()));
            }
            K::Attach {
                instance_uuid,
                host_name,
                mountpoint: validate::text("mountpoint", a.get("mountpoint"))?.ok_or_else(
                    || ApiError::BadRequest("Invalid input for field/attribute mountpoint.".into()),
                )?,
                mode,
            }
        }
        "os-detach" => K::Detach {
            attachment_id: validate::text("attachment_id", a.get("attachment_id"))?,
        },
        "os-initialize_connection" | "os-terminate_connection" => {
            let connector = a
                .get("connector")
                .filter(|c| c.is_object())
                .cloned()
                .ok_or_else(|| ApiError::BadRequest("Must specify 'connector'".into()))?;
            if name == "os-initialize_connection" {
                K::InitializeConnection { connector }
            } else {
                K::TerminateConnection { connector }
            }
        }
        "os-retype" => K::Retype {
            new_type: validate::text("new_type", a.get("new_type"))?
                .ok_or_else(|| ApiError::BadRequest("Must specify 'new_type'".into()))?,
        },
        "revert" if ver.at_least(3, 40) => K::Revert {
            snapshot_id: validate::uuid("snapshot_id", a.get("snapshot_id"))?
                .ok_or_else(|| ApiError::BadRequest("Must specify 'snapshot_id'".into()))?,
        },
        "os-extend_volume_completion" if ver.at_least(3, 71) => {
            if let Some(k) = a.keys().find(|k| *k != "error") {
                return Err(ApiError::BadRequest(format!(
                    "Additional properties are not allowed ('{k}' was unexpected)"
                )));
            }
            K::ExtendCompletion {
                error: match a.get("error") {
                    None => false,
                    Some(Value::Bool(b)) => *b,
                    Some(other) => {
                        return Err(ApiError::BadRequest(format!(
                            "Invalid input for field/attribute error. Value: {other}. It is not a boolean."
                        )));
                    }
                },
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

//! `GET /clinker/v1/volumes/{id}/timeline`: every flow that worked on a volume, each task
//! with its states and times, the scheduler's decision, and the user messages. Outside
//! Cinder's names on purpose: it shows that "accepted" (202) is not "created".

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::views::time;
use crate::actors::api::GetTimeline;
use crate::model::VolumeId;

/// The timeline of one volume (kept after it is deleted).
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let raw = req.match_info().get("volume_id").unwrap_or("");
    let id: VolumeId = raw
        .parse()
        .map_err(|_| ApiError::NotFound(format!("Volume {raw} could not be found.")))?;
    let t = state.api.send(GetTimeline { ctx, id }).await??;
    let flows: Vec<Value> = t
        .runs
        .iter()
        .map(|r| {
            json!({
                "flow": r.flow,
                "id": r.id,
                "state": r.state,
                "request_id": r.request_id,
                "started_at": time(r.started_at),
                "finished_at": time(r.finished_at),
                "transitions": serde_json::from_str::<Value>(&r.transitions).unwrap_or(Value::Null),
                "detail": r.detail.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()),
            })
        })
        .collect();
    let messages: Vec<Value> = t
        .messages
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "event_id": m.event_id,
                "user_message": m.user_message,
                "detail": m.detail,
                "request_id": m.request_id,
                "created_at": time(m.created_at),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "volume_id": id,
        "flows": flows,
        "messages": messages,
    })))
}

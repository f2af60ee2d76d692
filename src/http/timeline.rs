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

/// The timeline of one volume (kept after it is deleted).
#[utoipa::path(get, path = "/clinker/v1/volumes/{volume_id}/timeline", summary = "A volume's flows, tasks and messages", responses((status = 200, description = "Success", body = Object)))]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(ctx): Caller,
) -> Result<HttpResponse, ApiError> {
    let raw = req.match_info().get("volume_id").unwrap_or("");
    let id = super::volumes::volume_id(raw)?;
    // Node, pool and host names: what `os-vol-host-attr:host` shows, under its rule.
    let admin = super::policy::allows(&state, &ctx, crate::policy::Action::VolumeHostAttribute);
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
    let mut body = json!({
        "volume_id": id,
        "flows": flows,
        "messages": messages,
    });
    if !admin {
        for_members(&mut body);
    }
    Ok(HttpResponse::Ok().json(body))
}

/// What a task's detail may show a member: counts, never which pools.
const MEMBER_DETAIL_KEYS: [&str; 2] = ["pools_considered", "pools_passed"];

/// Removes what only admins may see from a timeline: the scheduler's decision names
/// every pool (`node@backend#pool`), its filters' reasons quote extra specs and
/// capacities, and it gives weights; error texts and message details repeat them. A
/// member reads the same things through the API only as admin-only fields
/// (`os-vol-host-attr:host`, pools, capabilities). Task details keep only the keys of
/// [`MEMBER_DETAIL_KEYS`], so a detail added later is hidden until it is listed there.
fn for_members(body: &mut Value) {
    for flow in body["flows"].as_array_mut().into_iter().flatten() {
        if let Some(details) = flow.get_mut("detail").and_then(Value::as_object_mut) {
            for detail in details.values_mut() {
                *detail = match detail {
                    Value::Object(d) => Value::Object(
                        d.iter()
                            .filter(|(k, _)| MEMBER_DETAIL_KEYS.contains(&k.as_str()))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    ),
                    _ => Value::Null,
                };
            }
        }
        for t in flow["transitions"].as_array_mut().into_iter().flatten() {
            if let Some(t) = t.as_object_mut() {
                t.remove("error");
            }
        }
    }
    for m in body["messages"].as_array_mut().into_iter().flatten() {
        if let Some(m) = m.as_object_mut() {
            m.remove("detail");
        }
    }
}

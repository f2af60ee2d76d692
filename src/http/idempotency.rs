//! `Idempotency-Key` on POST: a retry with the same key and body gets the first answer and
//! creates nothing; the same key with another request gets 409.
//!
//! A keyed request runs to its end in a task of its own, so a client that resets the
//! connection does not leave its key claimed: the answer is stored (or the claim
//! released) whether or not anyone still waits for it. The key keeps a SHA-256 of the
//! request, never the body, and an answer that carries credentials is not kept as it is
//! (see [`keepable`]).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use futures_util::StreamExt;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::ApiError;
use crate::actors::api::GetVolume;
use crate::actors::api::idempotency::{IdempotencyKey, KeyOp};
use crate::actors::api::snapshots::{SnapshotCall, SnapshotOp};
use crate::db::idempotency::{Claim, KeyedRequest, Made};
use crate::model::RequestContext;

/// Longest key accepted, as Stripe's.
const MAX_KEY_LEN: usize = 255;

/// Largest refusal (4xx) kept for replay. A refusal changed nothing, so one larger than
/// this (an error quoting a big input) is not kept and a retry is simply refused again;
/// without the bound, keyed 1 MiB bodies made the key table grow by the megabyte.
const MAX_KEPT_REFUSAL: usize = 4096;

/// Answer fields that carry credentials: `connection_info` holds the CHAP password or the
/// NBD PSK of an export, a transfer's `auth_key` is all it takes to accept it. Never kept
/// for replay: a replay reaches anyone in the project, also after the export is gone.
/// The connection's own secret keys ([`crate::drivers::SECRET_KEYS`]) are emptied
/// wherever they stand, should a view ever show them outside `connection_info`.
const SECRET_FIELDS: &[&str] = &["connection_info", "auth_key"];

/// The middleware; a no-op unless the request is a POST with the header.
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.method() != actix_web::http::Method::POST
        || !req.headers().contains_key("Idempotency-Key")
    {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let key = match key_of(&req) {
        Ok(k) => k,
        Err(e) => return refuse(req, e),
    };
    let ctx = match super::auth::context(req.request()) {
        Ok(c) => c,
        Err(e) => return refuse(req, e),
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // Read the body once, for the hash, and hand it on unchanged. A client leaving while
    // it sends has claimed nothing yet.
    let mut body = web::BytesMut::new();
    let mut payload = req.take_payload();
    while let Some(chunk) = payload.next().await {
        // A stalled or over-budget body is answered as the JSON extractor answers it
        // (408 / 503), not with actix's bare 400.
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return refuse(req, super::intake::refusal(e)),
        };
        if body.len() + chunk.len() > state.max_body_bytes {
            return refuse(
                req,
                ApiError::OverLimit(format!(
                    "Request body is larger than {} bytes.",
                    state.max_body_bytes
                )),
            );
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let keyed = KeyedRequest {
        project_id: ctx.project_id.to_string(),
        key,
        path: req.path().to_string(),
        hash: request_hash(req.path(), &body),
        request_id: ctx.request_id.0.clone(),
    };
    req.set_payload(Payload::from(body));
    // From the claim on, the work is a task of its own: if the client goes, this future
    // is dropped, and the task still stores the answer or releases the claim.
    let task = actix_web::rt::spawn(run_keyed(req, next, state, ctx, keyed));
    match task.await {
        Ok(res) => res,
        Err(e) => Err(ApiError::Internal(format!("keyed request task failed: {e}")).into()),
    }
}

fn refuse(req: ServiceRequest, e: ApiError) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let (http, _) = req.into_parts();
    Ok(ServiceResponse::new(http, e.error_response()))
}

/// The key, if well formed: 1 to 255 visible ASCII characters, one header. Anything else is
/// refused rather than ignored, or the retry the client meant as safe would run twice.
fn key_of(req: &ServiceRequest) -> Result<String, ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "Idempotency-Key must be one header of 1 to {MAX_KEY_LEN} visible ASCII characters."
        ))
    };
    let mut values = req.headers().get_all("Idempotency-Key");
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(bad());
    };
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_KEY_LEN || !bytes.iter().all(u8::is_ascii_graphic) {
        return Err(bad());
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| bad())
}

/// Hex SHA-256 of the path and the body, NUL between them (a path holds no NUL).
pub fn request_hash(path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A claim this request holds, until it stores its answer or releases it. One never
/// settled (the task panicked, the process stopped) stays running and is taken over once
/// stale; releasing it blindly could let a retry create a second volume, where the take-over
/// answers with the volume the dead request made.
struct Held {
    state: web::Data<AppState>,
    keyed: KeyedRequest,
}

impl Held {
    async fn settle(self, op: KeyOp) {
        let request = self.keyed;
        let _ = self.state.api.send(IdempotencyKey { request, op }).await;
    }
}

async fn run_keyed(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    state: web::Data<AppState>,
    ctx: RequestContext,
    keyed: KeyedRequest,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let claim = state
        .api
        .send(IdempotencyKey {
            request: keyed.clone(),
            op: KeyOp::Claim,
        })
        .await
        .map_err(ApiError::from)
        .and_then(|r| r.map_err(ApiError::from));
    let made = match claim {
        Ok(Some(Claim::Fresh)) => None,
        Ok(Some(Claim::Created(made))) => Some(made),
        Err(e) => return refuse(req, e),
        Ok(Some(Claim::Different)) => {
            return refuse(
                req,
                ApiError::Conflict(
                    "Idempotency-Key was already used for a different request.".into(),
                ),
            );
        }
        Ok(Some(Claim::Same { status, response })) if status > 0 => {
            let (http, _) = req.into_parts();
            return Ok(ServiceResponse::new(http, replay(status, response)));
        }
        Ok(_) => {
            return refuse(
                req,
                ApiError::Conflict("A request with this Idempotency-Key is still running.".into()),
            );
        }
    };
    // This request holds the claim from here on.
    let held = Held {
        state: state.clone(),
        keyed,
    };
    match made {
        Some(made) => answer_created(req, &state, ctx, made, held).await,
        None => run_and_keep(req, next, held).await,
    }
}

/// Runs the request and keeps what may be kept of its answer, or releases the claim.
async fn run_and_keep(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    held: Held,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = match next.call(req).await {
        Ok(res) => res,
        Err(e) => {
            held.settle(KeyOp::Release).await;
            return Err(e);
        }
    };
    let status = res.status();
    if status.is_server_error() {
        held.settle(KeyOp::Release).await;
        return Ok(res.map_into_boxed_body());
    }
    // Keep the answer (the body is read here and given back unchanged).
    let (http, response) = res.into_parts();
    let (head, body) = response.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let op = match keepable(status, &bytes) {
        Some(response) => KeyOp::Finish {
            status: status.as_u16(),
            response,
        },
        None => KeyOp::Release,
    };
    held.settle(op).await;
    Ok(ServiceResponse::new(
        http,
        head.set_body(bytes).map_into_boxed_body(),
    ))
}

/// A stored answer, sent again.
fn replay(status: i64, response: Option<String>) -> HttpResponse {
    let code = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    HttpResponse::build(code)
        .content_type("application/json")
        .insert_header(("Idempotency-Replayed", "true"))
        .body(response.unwrap_or_default())
}

/// The answer to a retried create whose first request died after it made its resource:
/// the resource as the create would have answered, stored as the key's answer from now on.
async fn answer_created(
    req: ServiceRequest,
    state: &web::Data<AppState>,
    ctx: RequestContext,
    made: Made,
    held: Held,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let (http, _) = req.into_parts();
    let res = match render_made(state, &http, ctx, made).await {
        Ok(res) => res,
        Err(e) => {
            // Deleted since: the retry after this one creates it again. Any other error:
            // the resource may well exist, and releasing would let a retry make a second
            // one, so the claim stays, and a retry takes it over once it is stale.
            if matches!(e, ApiError::NotFound(_)) {
                held.settle(KeyOp::Release).await;
            }
            return Ok(ServiceResponse::new(http, e.error_response()));
        }
    };
    let (head, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    held.settle(KeyOp::Finish {
        status: head.status().as_u16(),
        response: String::from_utf8_lossy(&bytes).into_owned(),
    })
    .await;
    let mut res = head.set_body(bytes).map_into_boxed_body();
    res.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("idempotency-replayed"),
        actix_web::http::header::HeaderValue::from_static("true"),
    );
    Ok(ServiceResponse::new(http, res))
}

/// The create's answer for what a dead request made, read afresh.
async fn render_made(
    state: &web::Data<AppState>,
    http: &actix_web::HttpRequest,
    ctx: RequestContext,
    made: Made,
) -> Result<HttpResponse, ApiError> {
    let bad = |id: &str| ApiError::Internal(format!("bad resource id {id}"));
    match made {
        Made::Volume(id) => {
            let id = id.parse().map_err(|_| bad(&id))?;
            let msg = GetVolume {
                ctx: ctx.clone(),
                id,
            };
            let record = state.api.send(msg).await??;
            Ok(super::volumes::created(http, &record, &ctx))
        }
        Made::Snapshot(id) => {
            let id = id.parse().map_err(|_| bad(&id))?;
            let op = SnapshotOp::Get;
            let record = state.api.send(SnapshotCall { ctx, id, op }).await??;
            let record = record.ok_or_else(|| ApiError::NotFound("Snapshot gone.".into()))?;
            Ok(super::snapshots::created(http, &record))
        }
    }
}

/// What of an answer is kept for replay: `None` to keep nothing and release the key.
/// Credentials are never kept: an answer that is nothing but them (`os-initialize_connection`,
/// which Cinder itself treats as idempotent) is not kept at all, so a retry runs again and
/// gets the export's current credentials, or none once it is gone; one that holds them
/// inside a resource (an attachment) is kept with them emptied, and the client reads them
/// from the resource, as the project may. A large refusal is not kept either.
pub fn keepable(status: StatusCode, body: &[u8]) -> Option<String> {
    if status.is_client_error() && body.len() > MAX_KEPT_REFUSAL {
        return None;
    }
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return Some(String::from_utf8_lossy(body).into_owned());
    };
    if let Value::Object(top) = &v
        && top.keys().any(|k| SECRET_FIELDS.contains(&k.as_str()))
    {
        return None;
    }
    if redact(&mut v) {
        return Some(v.to_string());
    }
    Some(String::from_utf8_lossy(body).into_owned())
}

/// Empties every secret field at any depth; answers whether it found one.
fn redact(v: &mut Value) -> bool {
    match v {
        Value::Object(m) => {
            let mut found = false;
            for (k, field) in m.iter_mut() {
                if SECRET_FIELDS.contains(&k.as_str())
                    || crate::drivers::SECRET_KEYS.contains(&k.as_str())
                {
                    *field = match field {
                        Value::Object(_) => Value::Object(Default::default()),
                        _ => Value::Null,
                    };
                    found = true;
                } else {
                    found |= redact(field);
                }
            }
            found
        }
        Value::Array(items) => items.iter_mut().fold(false, |f, i| redact(i) | f),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;
    use serde_json::json;

    use super::keepable;

    #[test]
    fn credentials_are_emptied_wherever_they_stand() -> Result<(), Box<dyn std::error::Error>> {
        let ok = StatusCode::OK;
        // Nothing but credentials: nothing kept.
        let init = json!({"connection_info": {"data": {"auth_password": "s3"}}});
        assert_eq!(keepable(ok, init.to_string().as_bytes()), None);
        // Inside a resource, a list, or under a connection's own secret key.
        let nested = json!({
            "attachment": {"id": "a", "connection_info": {"auth_password": "s3"}},
            "items": [{"export": {"tls_psk_key": "s3", "port": 1}}],
            "transfer": {"id": "t", "auth_key": "s3"},
        });
        let kept = keepable(ok, nested.to_string().as_bytes()).ok_or("kept")?;
        assert!(!kept.contains("s3"), "{kept}");
        let kept: serde_json::Value = serde_json::from_str(&kept)?;
        assert_eq!(kept["attachment"]["connection_info"], json!({}));
        assert_eq!(kept["items"][0]["export"]["port"], 1);
        // Anything else is kept as it was sent.
        let plain = br#"{"volume": {"id": "v"}}"#;
        assert_eq!(
            keepable(StatusCode::ACCEPTED, plain).as_deref(),
            Some(r#"{"volume": {"id": "v"}}"#)
        );
        // A large refusal is not kept; a small one is.
        let big = vec![b'x'; super::MAX_KEPT_REFUSAL + 1];
        assert_eq!(keepable(StatusCode::BAD_REQUEST, &big), None);
        assert!(keepable(StatusCode::BAD_REQUEST, b"{}").is_some());
        Ok(())
    }
}

//! `Idempotency-Key` on POST: a retry with the same key and body gets the first answer and
//! creates nothing; the same key with another request gets 409.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use futures_util::StreamExt;

use super::AppState;
use super::error::ApiError;
use crate::actors::api::idempotency::{IdempotencyKey, KeyOp};
use crate::db::idempotency::Claim;

/// The middleware; a no-op unless the request is a POST with the header.
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (Some(key), true) = (key, req.method() == actix_web::http::Method::POST) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let refuse = |req: ServiceRequest, e: ApiError| {
        let (http, _) = req.into_parts();
        Ok(ServiceResponse::new(http, e.error_response()))
    };
    if key.is_empty() || key.len() > 255 {
        return refuse(
            req,
            ApiError::BadRequest("Idempotency-Key must be 1 to 255 characters.".into()),
        );
    }
    let ctx = match super::auth::context(req.request()) {
        Ok(c) => c,
        Err(e) => return refuse(req, e),
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    // Read the body once, keep it for the comparison, and hand it on unchanged.
    let mut body = web::BytesMut::new();
    let mut payload = req.take_payload();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
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
    let path = req.path().to_string();
    let send = |op: KeyOp| IdempotencyKey {
        project_id: ctx.project_id.clone(),
        key: key.clone(),
        op,
    };
    let claim = state
        .api
        .send(send(KeyOp::Claim {
            path,
            body: String::from_utf8_lossy(&body).into_owned(),
        }))
        .await
        .map_err(ApiError::from)
        .and_then(|r| r.map_err(ApiError::from));
    match claim {
        Err(e) => return refuse(req, e),
        Ok(Some(Claim::Different)) => {
            return refuse(
                req,
                ApiError::Conflict(
                    "Idempotency-Key was already used for a different request.".into(),
                ),
            );
        }
        Ok(Some(Claim::Same { status: 0, .. })) => {
            return refuse(
                req,
                ApiError::Conflict("A request with this Idempotency-Key is still running.".into()),
            );
        }
        Ok(Some(Claim::Same { status, response })) => {
            let code = actix_web::http::StatusCode::from_u16(status as u16)
                .unwrap_or(actix_web::http::StatusCode::OK);
            let (http, _) = req.into_parts();
            let res = HttpResponse::build(code)
                .content_type("application/json")
                .insert_header(("Idempotency-Replayed", "true"))
                .body(response.unwrap_or_default());
            return Ok(ServiceResponse::new(http, res));
        }
        Ok(_) => {}
    }
    req.set_payload(Payload::from(body));
    let res = next.call(req).await?;
    let status = res.status();
    if status.is_server_error() {
        let _ = state.api.send(send(KeyOp::Release)).await;
        return Ok(res.map_into_boxed_body());
    }
    // Keep the answer (the body is read here and given back unchanged).
    let (http, response) = res.into_parts();
    let (head, body) = response.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let _ = state
        .api
        .send(send(KeyOp::Finish {
            status: status.as_u16(),
            response: String::from_utf8_lossy(&bytes).into_owned(),
        }))
        .await;
    Ok(ServiceResponse::new(
        http,
        head.set_body(bytes).map_into_boxed_body(),
    ))
}

//! `ApiError`: the only type that knows HTTP status codes. Rendered as Cinder's fault body
//! `{"<faultName>": {"code": N, "message": "..."}}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;
use tracing::{error, info};

use crate::actors::error::ServiceError;
use crate::db::Resource;
use crate::logging::Clipped;

/// What a request can fail with, as the client sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `badRequest`.
    #[error("{0}")]
    BadRequest(String),
    /// 401 `unauthorized`.
    #[error("{0}")]
    Unauthorized(String),
    /// 403 `forbidden`.
    #[error("{0}")]
    Forbidden(String),
    /// 404 `itemNotFound`.
    #[error("{0}")]
    NotFound(String),
    /// 406 `computeFault` (an unsupported microversion).
    #[error("{0}")]
    NotAcceptable(String),
    /// 408 `requestTimeout` (the body did not arrive in time).
    #[error("{0}")]
    RequestTimeout(String),
    /// 409 `conflictingRequest`.
    #[error("{0}")]
    Conflict(String),
    /// 412 `computeFault` (Cinder's fault name for a code it has none for): an
    /// `If-Match` that no longer matches.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413 `overLimit` (quota, or a body too large).
    #[error("{0}")]
    OverLimit(String),
    /// 415 `badMediaType`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 503 `serviceUnavailable`.
    #[error("The service is temporarily unavailable.")]
    Unavailable(String),
    /// 503 `serviceUnavailable` saying which node cannot answer (nothing internal in it).
    #[error("{0}")]
    NodeUnavailable(String),
    /// 500 `computeFault`; the cause is logged, never sent.
    #[error("The server has either erred or is incapable of performing the requested operation.")]
    Internal(String),
}

impl ApiError {
    /// 404 for an id of `kind` that is not there (or not well formed), in Cinder's words.
    pub fn not_found(kind: Resource, id: impl std::fmt::Display) -> ApiError {
        ApiError::NotFound(kind.not_found(id))
    }

    /// Cinder's fault name for this error.
    pub fn fault_name(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "badRequest",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "itemNotFound",
            ApiError::NotAcceptable(_) => "computeFault",
            ApiError::RequestTimeout(_) => "requestTimeout",
            ApiError::Conflict(_) => "conflictingRequest",
            ApiError::PreconditionFailed(_) => "computeFault",
            ApiError::OverLimit(_) => "overLimit",
            ApiError::UnsupportedMediaType(_) => "badMediaType",
            ApiError::Unavailable(_) | ApiError::NodeUnavailable(_) => "serviceUnavailable",
            ApiError::Internal(_) => "computeFault",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::OverLimit(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) | ApiError::NodeUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let code = self.status_code();
        // Messages echo what the client sent (a key, a value, a sort key): clipped here so
        // a refused 1 MiB value does not write a megabyte to the log, in either format.
        match self {
            ApiError::Internal(cause) | ApiError::Unavailable(cause) => {
                error!(status = code.as_u16(), cause = %Clipped(cause), "request failed")
            }
            other => {
                let message = other.to_string();
                info!(status = code.as_u16(), message = %Clipped(&message), "request refused")
            }
        }
        let mut fault = json!({"code": code.as_u16(), "message": self.to_string()});
        let mut builder = HttpResponse::build(code);
        if let ApiError::OverLimit(_) = self {
            fault["retryAfter"] = json!("0");
            builder.insert_header(("Retry-After", "0"));
        }
        builder.json(json!({ self.fault_name(): fault }))
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let text = e.to_string();
        match e {
            ServiceError::NotFound { .. } | ServiceError::Missing(_) => ApiError::NotFound(text),
            ServiceError::Invalid(_) | ServiceError::InvalidState(_) => ApiError::BadRequest(text),
            ServiceError::OverQuota(_) => ApiError::OverLimit(text),
            ServiceError::Conflict(_) => ApiError::Conflict(text),
            ServiceError::Unavailable(_) => ApiError::Unavailable(text),
            ServiceError::NodeUnavailable(_) => ApiError::NodeUnavailable(text),
            ServiceError::NoValidBackend { .. }
            | ServiceError::Driver(_)
            | ServiceError::Internal(_) => ApiError::Internal(text),
        }
    }
}

impl From<actix::MailboxError> for ApiError {
    fn from(e: actix::MailboxError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

//! `ServiceError`: what the actors answer when a request cannot be done.

use crate::db::error::QuotaExceeded;
use crate::db::{DbError, Resource};
use crate::drivers::DriverError;

/// Why an actor refused or failed a request. Messages are safe to show to the caller.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    /// The resource does not exist (or belongs to another project).
    #[error("{}", .kind.not_found(.id))]
    NotFound {
        /// What was looked for; it knows Cinder's wording.
        kind: Resource,
        /// The id asked for.
        id: String,
    },
    /// Something named inside a resource is missing; the message says what.
    #[error("{0}")]
    Missing(String),
    /// The request is malformed or asks for something impossible.
    #[error("{0}")]
    Invalid(String),
    /// The resource is not in a state that allows the request.
    #[error("{0}")]
    InvalidState(String),
    /// A quota would be exceeded.
    #[error("{}", quota_message(.0))]
    OverQuota(QuotaExceeded),
    /// The request conflicts with the current state (Cinder's 409 cases).
    #[error("{0}")]
    Conflict(String),
    /// No node can take the volume; `summary` says which filter rejected which node.
    #[error("No valid backend was found. {summary}")]
    NoValidBackend {
        /// One line per node.
        summary: String,
        /// The scheduler's full decision, for the timeline.
        decision: Option<std::sync::Arc<serde_json::Value>>,
    },
    /// The node's driver failed.
    #[error("{0}")]
    Driver(String),
    /// The database or an actor is unreachable.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A node held by another process cannot answer now (its agent is down, holds
    /// nothing, or did not answer in time); the message, safe to show, says which.
    #[error("{0}")]
    NodeUnavailable(String),
    /// A bug or an unexpected failure; details go to the log only.
    #[error("{0}")]
    Internal(String),
}

fn quota_message(q: &QuotaExceeded) -> String {
    match q.resource.as_str() {
        // Per-type keys (`volumes_<type>`, `gigabytes_<type>`) read as their base resource.
        r if r == "volumes" || r.starts_with("volumes_") => format!(
            "VolumeLimitExceeded: Maximum number of volumes allowed ({}) exceeded for quota '{r}'.",
            q.limit
        ),
        "per_volume_gigabytes" => format!(
            "VolumeSizeExceedsLimit: Requested volume size {}G is larger than maximum allowed limit {}G.",
            q.requested, q.limit
        ),
        r if r == "gigabytes" || r.starts_with("gigabytes_") => format!(
            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed {r} quota. Requested {}G, quota is {}G and {}G has been consumed.",
            q.requested,
            q.limit,
            q.in_use + q.reserved
        ),
        "groups" => format!(
            "GroupLimitExceeded: Maximum number of groups allowed ({}) exceeded",
            q.limit
        ),
        other => format!(
            "OverQuota: Quota exceeded for resources: ['{other}'] (limit {}, in use {}, reserved {}, requested {}).",
            q.limit, q.in_use, q.reserved, q.requested
        ),
    }
}

impl ServiceError {
    /// No `kind` with this `id`.
    pub fn not_found(kind: Resource, id: impl ToString) -> ServiceError {
        ServiceError::NotFound {
            kind,
            id: id.to_string(),
        }
    }

    /// A write that would leave `count` metadata items (or extra specs, or QoS specs) on
    /// one resource where at most `max` are allowed: the API's edge and the database's
    /// count after a merge answer with this one text.
    pub fn too_many_items(count: impl std::fmt::Display, max: usize) -> ServiceError {
        ServiceError::Invalid(format!(
            "Too many items: the request would leave {count} metadata items or specs, and at most {max} are allowed."
        ))
    }

    /// Structured detail for the timeline, beyond the message.
    pub fn timeline_detail(&self) -> Option<serde_json::Value> {
        match self {
            ServiceError::NoValidBackend {
                decision: Some(d), ..
            } => Some((**d).clone()),
            _ => None,
        }
    }
}

/// Every variant is listed (no `_ =>`): a new `DbError` does not compile until someone
/// decides its class.
impl From<DbError> for ServiceError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound { kind, id } => ServiceError::NotFound { kind, id },
            DbError::Conflict => {
                ServiceError::InvalidState("The resource was changed by another request.".into())
            }
            // A row held by an operation still running (a volume being copied): it frees
            // itself, so the caller may retry, as a busy database is a 503 at crates.io.
            // Callers with Cinder's wording for the case map it before this.
            DbError::Busy => ServiceError::Unavailable(e.to_string()),
            DbError::OverQuota(q) => ServiceError::OverQuota(q),
            DbError::TooManyItems { count, max } => ServiceError::too_many_items(count, max),
            // No connection (pool timeout, writer gone): temporary, 503.
            DbError::Unavailable(m) => ServiceError::Unavailable(m),
            // This process lost the node to another instance, which now does its work:
            // unavailable here, as a node whose agent is down.
            DbError::Fenced { .. } => ServiceError::Unavailable(e.to_string()),
            // The database too busy to answer (SQLite locked past its busy timeout, a
            // PostgreSQL serialization failure): temporary, 503.
            DbError::Query(ref q) if contended(q) => ServiceError::Unavailable(e.to_string()),
            // A stored value we cannot read, a bad setting, a failed migration, any other
            // query error: a 500 whose cause the API logs once, when it answers.
            // A node claim refused is a start-up error; met anywhere else, internal.
            DbError::Corrupt(_)
            | DbError::NodeHeld { .. }
            | DbError::Config(_)
            | DbError::Migration(_)
            | DbError::Query(_) => ServiceError::Internal(e.to_string()),
        }
    }
}

/// True for a query that failed only because others held the database.
fn contended(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        // SQLite reports SQLITE_BUSY / SQLITE_LOCKED with no kind of their own.
        Error::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("database is locked") || m.contains("database table is locked")
        }
        _ => false,
    }
}

impl From<DriverError> for ServiceError {
    fn from(e: DriverError) -> Self {
        ServiceError::Driver(e.to_string())
    }
}

impl From<actix::MailboxError> for ServiceError {
    fn from(e: actix::MailboxError) -> Self {
        ServiceError::Unavailable(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    fn db_error(kind: DatabaseErrorKind, message: &str) -> DbError {
        DbError::Query(Error::DatabaseError(kind, Box::new(message.to_string())))
    }

    #[test]
    fn each_database_failure_has_its_class() {
        let unavailable = |e: DbError| matches!(e.into(), ServiceError::Unavailable(_));
        let internal = |e: DbError| matches!(e.into(), ServiceError::Internal(_));
        assert!(unavailable(db_error(
            DatabaseErrorKind::Unknown,
            "database is locked"
        )));
        assert!(unavailable(db_error(
            DatabaseErrorKind::SerializationFailure,
            "could not serialize access"
        )));
        assert!(unavailable(DbError::Busy));
        assert!(unavailable(DbError::Unavailable("pool timed out".into())));
        assert!(internal(db_error(
            DatabaseErrorKind::Unknown,
            "no such table"
        )));
        assert!(internal(DbError::Corrupt("volume status 'x'".into())));
        let missing: ServiceError = DbError::not_found(Resource::Volume, "v").into();
        assert_eq!(missing.to_string(), "Volume v could not be found.");
    }
}

//! Idempotency keys: the first answer to a POST, kept so a retry gets it again.

use diesel::prelude::*;

use super::schema::idempotency_keys;
use super::{DbConnection, DbError, now};

/// What a key already holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: this request runs and must [`finish`] or [`release`] it.
    Fresh,
    /// The same request ran before (or runs now, `status` 0): its answer.
    Same {
        /// HTTP status (0 while still running).
        status: i64,
        /// The JSON body.
        response: Option<String>,
    },
    /// The key was used for another request.
    Different,
}

/// Claims `key` for this request, or reports what it already holds.
pub fn claim(
    c: &mut DbConnection,
    project: &str,
    key: &str,
    path: &str,
    body: &str,
) -> Result<Claim, DbError> {
    let inserted = crate::on_backend!(c, |c| diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::project_id.eq(project),
            idempotency_keys::idem_key.eq(key),
            idempotency_keys::request_path.eq(path),
            idempotency_keys::request_body.eq(body),
            idempotency_keys::status.eq(0),
            idempotency_keys::created_at.eq(now()),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    if inserted == 1 {
        return Ok(Claim::Fresh);
    }
    let (p, b, status, response): (String, String, i64, Option<String>) = idempotency_keys::table
        .filter(idempotency_keys::project_id.eq(project))
        .filter(idempotency_keys::idem_key.eq(key))
        .select((
            idempotency_keys::request_path,
            idempotency_keys::request_body,
            idempotency_keys::status,
            idempotency_keys::response,
        ))
        .get_result(c)?;
    if p != path || b != body {
        return Ok(Claim::Different);
    }
    Ok(Claim::Same { status, response })
}

/// Stores the answer of a claimed key.
pub fn finish(
    c: &mut DbConnection,
    project: &str,
    key: &str,
    status: i64,
    response: &str,
) -> Result<(), DbError> {
    diesel::update(
        idempotency_keys::table
            .filter(idempotency_keys::project_id.eq(project))
            .filter(idempotency_keys::idem_key.eq(key)),
    )
    .set((
        idempotency_keys::status.eq(status),
        idempotency_keys::response.eq(response),
    ))
    .execute(c)?;
    Ok(())
}

/// Forgets a claimed key whose request failed on the server side, so a retry runs again.
pub fn release(c: &mut DbConnection, project: &str, key: &str) -> Result<(), DbError> {
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::project_id.eq(project))
            .filter(idempotency_keys::idem_key.eq(key)),
    )
    .execute(c)?;
    Ok(())
}

//! Idempotency keys: the first answer to a POST, kept so a retry gets it again.
//!
//! A key holds a SHA-256 of its request (never the body), the answer once there is one,
//! and while the request runs, who runs it: this process's [`instance_id`] and the
//! request's id. A claim is released by the request that took it; one whose request is
//! gone without a word (its process was killed, so its instance lease lapsed or a new
//! incarnation replaced it) is taken over by the next retry, see [`claim`].

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{idempotency_keys, snapshots, volumes};
use super::{DbConnection, DbError, now, write_txn};

/// How long a key is kept, in seconds: 24 h, as Stripe keeps them. An older key is as if
/// it had never been used; the housekeeping deletes it ([`expire`]).
pub const KEY_TTL_SECONDS: i64 = 86_400;

/// After this many seconds a claim that is still running is taken over by a retry, even
/// one made to the process that holds it. Well above any request's lifetime (a keyed
/// request runs to its end even when its client leaves, and releases its claim if it
/// fails), so only a claim whose request died unseen gets this old.
pub const CLAIM_STALE_AFTER_SECONDS: i64 = 60;

pub use super::instances::instance_id;

/// One keyed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedRequest {
    /// The caller's project.
    pub project_id: String,
    /// The key.
    pub key: String,
    /// The request path (to find what a dead request created).
    pub path: String,
    /// Hex SHA-256 of the path and the body, which identifies the request.
    pub hash: String,
    /// The request's id (`req-...`), also stored on the volume it creates.
    pub request_id: String,
}

/// A resource a keyed create made, found by the request id on its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Made {
    /// A volume (`POST .../volumes`), by id.
    Volume(String),
    /// A snapshot (`POST .../snapshots`), by id.
    Snapshot(String),
}

/// What a key already holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new (or was taken over): this request runs and must [`finish`] or
    /// [`release`] it.
    Fresh,
    /// The same request ran before (or runs now, `status` 0): its answer.
    Same {
        /// HTTP status (0 while still running).
        status: i64,
        /// The JSON body.
        response: Option<String>,
    },
    /// The key was taken over from a request that died after it created this resource
    /// (its row carries the dead request's id) but before its answer was stored. This
    /// request holds the claim and must answer with it, not create another.
    Created(Made),
    /// The key was used for another request.
    Different,
}

const RUNNING: Claim = Claim::Same {
    status: 0,
    response: None,
};

#[derive(Debug, Queryable)]
struct KeyRow {
    request_path: String,
    request_hash: String,
    status: i64,
    response: Option<String>,
    created_at: NaiveDateTime,
    claimed_by: String,
    request_id: String,
}

/// Claims the key for this request, or reports what it already holds.
pub fn claim(c: &mut DbConnection, r: &KeyedRequest) -> Result<Claim, DbError> {
    write_txn(c, |c| {
        let at = now();
        let inserted = crate::on_backend!(c, |c| diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::project_id.eq(&r.project_id),
                idempotency_keys::idem_key.eq(&r.key),
                idempotency_keys::request_path.eq(&r.path),
                idempotency_keys::request_hash.eq(&r.hash),
                idempotency_keys::status.eq(0),
                idempotency_keys::created_at.eq(at),
                idempotency_keys::claimed_by.eq(instance_id()),
                idempotency_keys::request_id.eq(&r.request_id),
            ))
            .on_conflict_do_nothing()
            .execute(c))?;
        if inserted == 1 {
            return Ok(Claim::Fresh);
        }
        let row = read(c, r)?;
        if row.created_at < at - chrono::Duration::seconds(KEY_TTL_SECONDS) {
            // Expired, not yet swept: a new key, whatever it held.
            return Ok(if take_over(c, r, &row, at)? {
                Claim::Fresh
            } else {
                RUNNING
            });
        }
        // A row from before hashes were stored has none; its path must do.
        let same = if row.request_hash.is_empty() {
            row.request_path == r.path
        } else {
            row.request_hash == r.hash
        };
        if !same {
            return Ok(Claim::Different);
        }
        // A claim is running while its holder is a live instance (a peer controller's
        // request in flight is not taken from it) and it is younger than the bound.
        let running = row.status == 0
            && row.created_at >= at - chrono::Duration::seconds(CLAIM_STALE_AFTER_SECONDS)
            && super::instances::is_live(c, &row.claimed_by)?;
        if row.status != 0 || running {
            return Ok(Claim::Same {
                status: row.status,
                response: row.response,
            });
        }
        if !take_over(c, r, &row, at)? {
            return Ok(RUNNING);
        }
        Ok(match made_by(c, r, &row)? {
            Some(made) => Claim::Created(made),
            None => Claim::Fresh,
        })
    })
}

fn read(c: &mut DbConnection, r: &KeyedRequest) -> Result<KeyRow, DbError> {
    Ok(idempotency_keys::table
        .filter(idempotency_keys::project_id.eq(&r.project_id))
        .filter(idempotency_keys::idem_key.eq(&r.key))
        .select((
            idempotency_keys::request_path,
            idempotency_keys::request_hash,
            idempotency_keys::status,
            idempotency_keys::response,
            idempotency_keys::created_at,
            idempotency_keys::claimed_by,
            idempotency_keys::request_id,
        ))
        .get_result(c)?)
}

/// Makes the row this request's running claim, as a compare-and-set on the holder read
/// before: of two retries taking over the same claim, one wins, and the other is told the
/// request is still running.
fn take_over(
    c: &mut DbConnection,
    r: &KeyedRequest,
    was: &KeyRow,
    at: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(
        idempotency_keys::table
            .filter(idempotency_keys::project_id.eq(&r.project_id))
            .filter(idempotency_keys::idem_key.eq(&r.key))
            .filter(idempotency_keys::request_id.eq(&was.request_id))
            .filter(idempotency_keys::created_at.eq(was.created_at)),
    )
    .set((
        idempotency_keys::request_path.eq(&r.path),
        idempotency_keys::request_hash.eq(&r.hash),
        idempotency_keys::status.eq(0),
        idempotency_keys::response.eq(None::<String>),
        idempotency_keys::created_at.eq(at),
        idempotency_keys::claimed_by.eq(instance_id()),
        idempotency_keys::request_id.eq(&r.request_id),
    ))
    .execute(c)?;
    Ok(n == 1)
}

/// What a dead keyed create (`POST .../volumes` or `.../snapshots`) made, found by its
/// request id. The row and its request id are written in one statement, so after a crash
/// there is either the resource (answered with) or nothing (the retry creates it).
fn made_by(c: &mut DbConnection, r: &KeyedRequest, was: &KeyRow) -> Result<Option<Made>, DbError> {
    if was.request_id.is_empty() {
        return Ok(None);
    }
    if was.request_path.ends_with("/volumes") {
        let id: Option<String> = volumes::table
            .filter(volumes::project_id.eq(&r.project_id))
            .filter(volumes::request_id.eq(&was.request_id))
            .select(volumes::id)
            .first(c)
            .optional()?;
        return Ok(id.map(Made::Volume));
    }
    if was.request_path.ends_with("/snapshots") {
        let id: Option<String> = snapshots::table
            .filter(snapshots::project_id.eq(&r.project_id))
            .filter(snapshots::request_id.eq(&was.request_id))
            .select(snapshots::id)
            .first(c)
            .optional()?;
        return Ok(id.map(Made::Snapshot));
    }
    Ok(None)
}

/// Stores the answer of this request's claim (nothing if the claim was taken over).
pub fn finish(
    c: &mut DbConnection,
    r: &KeyedRequest,
    status: i64,
    response: &str,
) -> Result<(), DbError> {
    diesel::update(
        idempotency_keys::table
            .filter(idempotency_keys::project_id.eq(&r.project_id))
            .filter(idempotency_keys::idem_key.eq(&r.key))
            .filter(idempotency_keys::request_id.eq(&r.request_id)),
    )
    .set((
        idempotency_keys::status.eq(status),
        idempotency_keys::response.eq(response),
    ))
    .execute(c)?;
    Ok(())
}

/// Forgets this request's claim, so a retry runs again: the request failed on the server
/// side, or its answer must not be kept (it carries credentials).
pub fn release(c: &mut DbConnection, r: &KeyedRequest) -> Result<(), DbError> {
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::project_id.eq(&r.project_id))
            .filter(idempotency_keys::idem_key.eq(&r.key))
            .filter(idempotency_keys::request_id.eq(&r.request_id))
            .filter(idempotency_keys::status.eq(0)),
    )
    .execute(c)?;
    Ok(())
}

/// Deletes the keys older than [`KEY_TTL_SECONDS`]; answers how many.
pub fn expire(c: &mut DbConnection) -> Result<usize, DbError> {
    let before = now() - chrono::Duration::seconds(KEY_TTL_SECONDS);
    Ok(
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(before)))
            .execute(c)?,
    )
}

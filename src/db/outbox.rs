//! The outbox: messages to nodes that another process holds, and the nodes' capacity
//! reports, so that processes share nothing but this database.
//!
//! A cast ([`push`]) is a row written by the caller inside the transaction that writes
//! the intent it carries, so the two commit or vanish together. The holder of the node
//! takes rows ([`take`]) with `FOR UPDATE SKIP LOCKED` (two takers never get the same
//! row) and deletes them in that same transaction, behind the check of its fencing
//! epoch: a holder that lost the node takes nothing. Once taken, a cast is in the
//! holder's actor; if the holder dies before the work is done, the row of the volume or
//! snapshot still says what was wanted (`creating` on this host, `deleting`, ...) and the
//! next holder's recovery resumes it from there, so nothing is lost, and nothing is
//! queued twice: a holder clears its nodes' rows ([`clear`]) before that recovery.
//!
//! A call ([`call`], [`answer`], [`reply_of`]) is a row the caller waits on within its
//! request: the holder marks it taken, writes the answer, and the caller reads and
//! deletes it. The answer of an export holds credentials for the few milliseconds until
//! the caller deletes the row.
//!
//! On PostgreSQL every push and answer sends `NOTIFY clinker_work` with the node's
//! name, delivered at commit; the holder also polls, so a lost notification only delays.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{node_reports, node_work};
use super::{DbConnection, DbError, claims, instances};

/// The channel holders `LISTEN` on.
pub const CHANNEL: &str = "clinker_work";

/// The node name under which work for any controller's scheduler is queued (a create an
/// agent's node failed, to be placed again).
pub const SCHEDULER_QUEUE: &str = "@scheduler";

/// Wakes whoever listens for `node`'s work once the caller's transaction commits.
fn notify(c: &mut DbConnection, node: &str) -> Result<(), DbError> {
    if let DbConnection::Postgres(pg) = c {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(CHANNEL)
            .bind::<diesel::sql_types::Text, _>(node)
            .execute(pg)?;
    }
    Ok(())
}

/// The database's clock where rows are ordered by it: on PostgreSQL the statement's own
/// time (`now()` is the transaction's start, and a transaction that started first may
/// commit its row second).
fn stamp(c: &mut DbConnection) -> Result<NaiveDateTime, DbError> {
    #[derive(diesel::QueryableByName)]
    struct Now {
        #[diesel(sql_type = diesel::sql_types::Timestamp)]
        t: NaiveDateTime,
    }
    match c {
        DbConnection::Postgres(pg) => Ok(diesel::sql_query(
            "SELECT CAST(timezone('UTC', clock_timestamp()) AS TIMESTAMP) AS t",
        )
        .get_result::<Now>(pg)?
        .t),
        DbConnection::Sqlite(_) => instances::clock(c),
    }
}

/// Queues the cast `body` (JSON) for `node`, about `resource_id`. Call it inside the
/// transaction that writes the cast's intent.
pub fn push(
    c: &mut DbConnection,
    node: &str,
    resource_id: &str,
    body: &str,
) -> Result<(), DbError> {
    let at = stamp(c)?;
    diesel::insert_into(node_work::table)
        .values((
            node_work::id.eq(uuid::Uuid::new_v4().to_string()),
            node_work::node.eq(node),
            node_work::resource_id.eq(resource_id),
            node_work::body.eq(body),
            node_work::is_call.eq(false),
            node_work::created_at.eq(at),
        ))
        .execute(c)?;
    notify(c, node)
}

#[derive(diesel::QueryableByName)]
struct Taken {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    body: String,
}

/// Takes (and deletes) up to `limit` casts queued for `fence`'s node, oldest first, in
/// one transaction with the check of the fence; a stale fence takes nothing
/// ([`DbError::Fenced`]). Rows another taker has locked are skipped, not waited for.
/// Each comes with the seconds it waited since its insert (database clock).
pub fn take(
    c: &mut DbConnection,
    fence: &claims::Fence,
    limit: i64,
) -> Result<Vec<(String, f64)>, DbError> {
    claims::guarded(c, fence, |c| {
        let rows = take_rows(c, &fence.node, limit)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let now = stamp(c)?;
        Ok(rows
            .into_iter()
            .map(|(at, body)| {
                let waited = (now - at).num_microseconds().unwrap_or(0) as f64 / 1e6;
                (body, waited)
            })
            .collect())
    })
}

/// Takes (and deletes) up to `limit` rows of a queue no one holds ([`SCHEDULER_QUEUE`]),
/// oldest first; concurrent takers (every controller) each get different rows.
pub fn take_unfenced(
    c: &mut DbConnection,
    queue: &str,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    c.transaction(|c| {
        Ok(take_rows(c, queue, limit)?
            .into_iter()
            .map(|r| r.1)
            .collect())
    })
}

/// `(created_at, body)` of the rows taken, oldest first.
fn take_rows(
    c: &mut DbConnection,
    node: &str,
    limit: i64,
) -> Result<Vec<(NaiveDateTime, String)>, DbError> {
    match c {
        DbConnection::Postgres(pg) => {
            let mut rows: Vec<(NaiveDateTime, String)> = diesel::sql_query(
                "DELETE FROM node_work WHERE id IN (SELECT id FROM node_work \
                 WHERE node = $1 AND NOT is_call ORDER BY created_at, id LIMIT $2 \
                 FOR UPDATE SKIP LOCKED) RETURNING id, body, created_at",
            )
            .bind::<diesel::sql_types::Text, _>(node)
            .bind::<diesel::sql_types::BigInt, _>(limit)
            .load::<TakenAt>(pg)?
            .into_iter()
            .map(|r| (r.created_at, r.body))
            .collect();
            // `RETURNING` keeps no order; the actor must see them as they were queued.
            rows.sort_by_key(|r| r.0);
            Ok(rows)
        }
        DbConnection::Sqlite(_) => {
            // SQLite's one writer at a time: no other taker can race this one.
            let rows: Vec<(String, NaiveDateTime, String)> = node_work::table
                .filter(node_work::node.eq(node))
                .filter(node_work::is_call.eq(false))
                .order((node_work::created_at, node_work::id))
                .limit(limit)
                .select((node_work::id, node_work::created_at, node_work::body))
                .load(c)?;
            let ids: Vec<&String> = rows.iter().map(|r| &r.0).collect();
            diesel::delete(node_work::table.filter(node_work::id.eq_any(ids))).execute(c)?;
            Ok(rows.into_iter().map(|r| (r.1, r.2)).collect())
        }
    }
}

#[derive(diesel::QueryableByName)]
struct TakenAt {
    #[diesel(sql_type = diesel::sql_types::Text)]
    body: String,
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    created_at: NaiveDateTime,
}

/// Deletes every row queued for `fence`'s node (casts and unanswered calls): run by a
/// new holder before its recovery, which resumes everything they asked for from the
/// volume and snapshot rows. A caller still waiting on a deleted call answers 503.
pub fn clear(c: &mut DbConnection, fence: &claims::Fence) -> Result<usize, DbError> {
    claims::guarded(c, fence, |c| {
        Ok(diesel::delete(node_work::table.filter(node_work::node.eq(&fence.node))).execute(c)?)
    })
}

/// Queues a call to `node`; answers the row's id, to wait on with [`reply_of`].
pub fn call(
    c: &mut DbConnection,
    node: &str,
    resource_id: &str,
    body: &str,
) -> Result<String, DbError> {
    let id = uuid::Uuid::new_v4().to_string();
    let at = stamp(c)?;
    diesel::insert_into(node_work::table)
        .values((
            node_work::id.eq(&id),
            node_work::node.eq(node),
            node_work::resource_id.eq(resource_id),
            node_work::body.eq(body),
            node_work::is_call.eq(true),
            node_work::created_at.eq(at),
        ))
        .execute(c)?;
    notify(c, node)?;
    Ok(id)
}

/// Marks up to `limit` unanswered calls to `fence`'s node as taken by its holder and
/// answers them as `(id, body)`; a stale fence takes nothing.
pub fn take_calls(
    c: &mut DbConnection,
    fence: &claims::Fence,
    limit: i64,
) -> Result<Vec<(String, String)>, DbError> {
    claims::guarded(c, fence, |c| match c {
        DbConnection::Postgres(pg) => Ok(diesel::sql_query(
            "UPDATE node_work SET claimed_by = $2 WHERE id IN (SELECT id FROM node_work \
             WHERE node = $1 AND is_call AND claimed_by IS NULL ORDER BY created_at \
             LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING id, body",
        )
        .bind::<diesel::sql_types::Text, _>(&fence.node)
        .bind::<diesel::sql_types::Text, _>(&fence.holder)
        .bind::<diesel::sql_types::BigInt, _>(limit)
        .load::<Taken>(pg)?
        .into_iter()
        .map(|t| (t.id, t.body))
        .collect()),
        DbConnection::Sqlite(_) => {
            let rows: Vec<(String, String)> = node_work::table
                .filter(node_work::node.eq(&fence.node))
                .filter(node_work::is_call.eq(true))
                .filter(node_work::claimed_by.is_null())
                .order(node_work::created_at)
                .limit(limit)
                .select((node_work::id, node_work::body))
                .load(c)?;
            let ids: Vec<&String> = rows.iter().map(|r| &r.0).collect();
            diesel::update(node_work::table.filter(node_work::id.eq_any(ids)))
                .set(node_work::claimed_by.eq(&fence.holder))
                .execute(c)?;
            Ok(rows)
        }
    })
}

/// Stores the answer to call `id` (if its caller still waits: a caller that gave up
/// deleted the row).
pub fn answer(
    c: &mut DbConnection,
    fence: &claims::Fence,
    id: &str,
    reply: &str,
) -> Result<(), DbError> {
    claims::guarded(c, fence, |c| {
        diesel::update(node_work::table.filter(node_work::id.eq(id)))
            .set(node_work::reply.eq(reply))
            .execute(c)?;
        Ok(())
    })
}

/// The state of call `id`: `None` once the row is gone (the holder's successor cleared
/// it, or the caller gave up), `Some(None)` while unanswered, `Some(Some(reply))` when
/// answered, in which case the row is deleted here.
pub fn reply_of(c: &mut DbConnection, id: &str) -> Result<Option<Option<String>>, DbError> {
    let found: Option<Option<String>> = node_work::table
        .filter(node_work::id.eq(id))
        .select(node_work::reply)
        .first(c)
        .optional()?;
    if let Some(Some(_)) = &found {
        diesel::delete(node_work::table.filter(node_work::id.eq(id))).execute(c)?;
    }
    Ok(found)
}

/// Gives up call `id` (its caller stops waiting).
pub fn cancel(c: &mut DbConnection, id: &str) -> Result<(), DbError> {
    diesel::delete(node_work::table.filter(node_work::id.eq(id))).execute(c)?;
    Ok(())
}

/// How many rows wait for each node (calls included), for `/metrics`.
pub fn depths(c: &mut DbConnection) -> Result<Vec<(String, i64)>, DbError> {
    Ok(node_work::table
        .group_by(node_work::node)
        .select((node_work::node, diesel::dsl::count_star()))
        .load(c)?)
}

/// A node's last capacity report.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct ReportRow {
    /// The node.
    pub node: String,
    /// Its zone.
    pub availability_zone: String,
    /// `BackendStats` as JSON.
    pub stats: String,
    /// Per controller instance, the last placement received (JSON object).
    pub acked: String,
    /// When it was written (database clock).
    pub reported_at: NaiveDateTime,
}

/// Stores `fence`'s node's report, replacing the last one.
pub fn report(
    c: &mut DbConnection,
    fence: &claims::Fence,
    zone: &str,
    stats: &str,
    acked: &str,
) -> Result<(), DbError> {
    claims::guarded(c, fence, |c| {
        let t = instances::clock(c)?;
        let n = diesel::update(node_reports::table.filter(node_reports::node.eq(&fence.node)))
            .set((
                node_reports::availability_zone.eq(zone),
                node_reports::stats.eq(stats),
                node_reports::acked.eq(acked),
                node_reports::reported_at.eq(t),
            ))
            .execute(c)?;
        if n == 0 {
            diesel::insert_into(node_reports::table)
                .values((
                    node_reports::node.eq(&fence.node),
                    node_reports::availability_zone.eq(zone),
                    node_reports::stats.eq(stats),
                    node_reports::acked.eq(acked),
                    node_reports::reported_at.eq(t),
                ))
                .execute(c)?;
        }
        Ok(())
    })
}

/// Every node's last report.
pub fn reports(c: &mut DbConnection) -> Result<Vec<ReportRow>, DbError> {
    Ok(node_reports::table.order(node_reports::node).load(c)?)
}

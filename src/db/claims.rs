//! Node claims: which instance runs each storage node, fenced by an epoch.
//!
//! A process claims the nodes of its config at start ([`claim`]). A node held by a live
//! instance (its lease has not lapsed) is refused, naming the holder; a node whose holder
//! is dead (or gone) is taken over and its epoch raised by one. Every database call of the
//! node's `VolumeActor` then runs behind a check of that epoch ([`guarded`]), so an
//! instance that lost the node (paused past its lease while another took over) changes
//! nothing, whatever it still believes.

use chrono::NaiveDateTime;
use diesel::connection::{AnsiTransactionManager, SimpleConnection};
use diesel::prelude::*;

use super::instances::{self, InstanceRow};
use super::schema::node_claims;

use super::{DbConnection, DbError, write_txn};
use crate::model::NodeName;

/// A node held by this instance, at one epoch: what its writes are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The node's name.
    pub node: String,
    /// The holder (this instance).
    pub holder: String,
    /// The epoch of this holding.
    pub epoch: i64,
}

/// Who holds a node that could not be claimed, for the operator's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The instance id.
    pub id: String,
    /// `serve` or `node`.
    pub kind: String,
    /// Its host name.
    pub host: String,
    /// Its process id.
    pub pid: i64,
    /// When its lease lapses unless renewed (database clock, UTC).
    pub lease_expires_at: NaiveDateTime,
}

impl From<InstanceRow> for Holder {
    fn from(r: InstanceRow) -> Self {
        Holder {
            id: r.id,
            kind: r.kind,
            host: r.host,
            pid: r.pid,
            lease_expires_at: r.lease_expires_at,
        }
    }
}

/// Claims `node` for instance `me`: a new node is held at epoch 1; one this instance
/// already holds keeps its epoch; one whose holder's lease has lapsed is taken over at the
/// next epoch, after the dead holder is swept (its reservations released, and its row
/// removed, so it cannot revive its lease: [`instances::renew`]). A node a live instance
/// holds is refused with [`DbError::NodeHeld`].
pub fn claim(c: &mut DbConnection, node: &NodeName, me: &str) -> Result<Fence, DbError> {
    // Two instances claiming at once: one insert or compare-and-set wins, the other
    // reads the row again and finds the winner live (so is refused).
    for _ in 0..3 {
        if let Some(fence) = write_txn(c, |c| try_claim(c, node, me))? {
            return Ok(fence);
        }
    }
    Err(DbError::Conflict)
}

fn try_claim(c: &mut DbConnection, node: &NodeName, me: &str) -> Result<Option<Fence>, DbError> {
    let fence = |epoch| Fence {
        node: node.to_string(),
        holder: me.to_string(),
        epoch,
    };
    let t = instances::clock(c)?;
    let row: Option<(String, i64)> = node_claims::table
        .filter(node_claims::node.eq(node))
        .select((node_claims::holder, node_claims::epoch))
        .first(c)
        .optional()?;
    let Some((holder, epoch)) = row else {
        let n = crate::on_backend!(c, |c| diesel::insert_into(node_claims::table)
            .values((
                node_claims::node.eq(node),
                node_claims::holder.eq(me),
                node_claims::epoch.eq(1),
                node_claims::claimed_at.eq(t),
            ))
            .on_conflict_do_nothing()
            .execute(c))?;
        return Ok((n == 1).then(|| fence(1)));
    };
    if holder == me {
        return Ok(Some(fence(epoch)));
    }
    if let Some(live) = instances::find(c, &holder)?.filter(|h| h.lease_expires_at >= t) {
        return Err(DbError::NodeHeld {
            node: node.to_string(),
            holder: Box::new(live.into()),
        });
    }
    instances::sweep(c)?;
    if let DbConnection::Postgres(pg) = c {
        // Waits for every transaction that checked the old epoch (they hold the lock
        // shared, see `guarded`) and holds off new checks until this one commits.
        diesel::sql_query(format!(
            "SELECT pg_advisory_xact_lock({FENCE_LOCK_CLASS}, {})",
            fence_lock_key(node)
        ))
        .execute(pg)?;
    }
    let n = diesel::update(
        node_claims::table
            .filter(node_claims::node.eq(node))
            .filter(node_claims::holder.eq(&holder))
            .filter(node_claims::epoch.eq(epoch)),
    )
    .set((
        node_claims::holder.eq(me),
        node_claims::epoch.eq(epoch + 1),
        node_claims::claimed_at.eq(t),
    ))
    .execute(c)?;
    Ok((n == 1).then(|| fence(epoch + 1)))
}

/// The holder and epoch of `node`, if it was ever claimed.
pub fn holder_of(c: &mut DbConnection, node: &NodeName) -> Result<Option<(String, i64)>, DbError> {
    Ok(node_claims::table
        .filter(node_claims::node.eq(node))
        .select((node_claims::holder, node_claims::epoch))
        .first(c)
        .optional()?)
}

#[derive(diesel::QueryableByName)]
struct Epoch {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    epoch: i64,
}

/// The class of PostgreSQL's two-key advisory locks that fence nodes (its own key space:
/// the migrations' one-key lock cannot collide with it).
const FENCE_LOCK_CLASS: i32 = 0x636c_6b6e; // "clkn"

/// The second key of `node`'s advisory lock: FNV-1a of its name. Two nodes that share a
/// key only wait for each other's take-overs; nothing else changes.
fn fence_lock_key(node: &str) -> i32 {
    let hash = node.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    i32::from_ne_bytes(hash.to_ne_bytes())
}

/// Fails with [`DbError::Fenced`] unless `fence` is still the node's holder and epoch.
/// On PostgreSQL the caller's transaction first takes the node's advisory lock shared
/// (see [`guarded`]); a take-over takes it exclusively before it raises the epoch
/// ([`try_claim`]), so it waits for every write already checked, and every check made
/// after it reads the new epoch: no stale write lands after a take-over.
pub fn check(c: &mut DbConnection, fence: &Fence) -> Result<(), DbError> {
    use diesel::sql_types::{BigInt, Text};
    let found: Option<Epoch> = match c {
        DbConnection::Postgres(pg) => diesel::sql_query(
            "SELECT epoch FROM node_claims WHERE node = $1 AND holder = $2 AND epoch = $3",
        )
        .bind::<Text, _>(&fence.node)
        .bind::<Text, _>(&fence.holder)
        .bind::<BigInt, _>(fence.epoch)
        .get_result(pg)
        .optional()?,
        DbConnection::Sqlite(lite) => diesel::sql_query(
            "SELECT epoch FROM node_claims WHERE node = ? AND holder = ? AND epoch = ?",
        )
        .bind::<Text, _>(&fence.node)
        .bind::<Text, _>(&fence.holder)
        .bind::<BigInt, _>(fence.epoch)
        .get_result(lite)
        .optional()?,
    };
    match found {
        Some(e) if e.epoch == fence.epoch => Ok(()),
        _ => Err(DbError::Fenced {
            node: fence.node.clone(),
            epoch: fence.epoch,
        }),
    }
}

/// Runs `f` only while `fence` holds, as one unit with the check: on PostgreSQL in one
/// transaction that holds the node's advisory lock shared, taken in the same round trip
/// as `BEGIN` and before the epoch is read (see [`check`]). An advisory lock lives in the
/// server's memory: unlike the `FOR SHARE` row lock it replaced, it gives a transaction
/// that only reads no transaction id and no WAL record, so its commit waits for no disk
/// flush, and concurrent holders do not build a multixact on the one claim row. On SQLite
/// the check runs just before `f`, inside the group-commit transaction when `f` is a
/// queued write; a transaction around reads too would take SQLite's one write lock for
/// every read, and processes sharing a SQLite file share one host, where a take-over
/// needs the holder's lease to lapse first.
pub fn guarded<T>(
    c: &mut DbConnection,
    fence: &Fence,
    f: impl FnOnce(&mut DbConnection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    match c {
        DbConnection::Postgres(pg) => {
            if super::in_txn(pg) {
                // Inside a transaction already (a caller's own): a savepoint, as before,
                // so a failure of `f` leaves the caller's transaction usable.
                return c.transaction(|c| {
                    if let DbConnection::Postgres(pg) = c {
                        diesel::sql_query(format!(
                            "SELECT pg_advisory_xact_lock_shared({FENCE_LOCK_CLASS}, {})",
                            fence_lock_key(&fence.node)
                        ))
                        .execute(pg)?;
                    }
                    check(c, fence)?;
                    f(c)
                });
            }
            // Both numbers are ours, not input: formatted into the text, they let the
            // lock travel with BEGIN in one round trip.
            let begun = AnsiTransactionManager::begin_transaction_sql(
                pg,
                &format!(
                    "BEGIN; SELECT pg_advisory_xact_lock_shared({FENCE_LOCK_CLASS}, {})",
                    fence_lock_key(&fence.node)
                ),
            );
            if let Err(e) = begun {
                // BEGIN ran but the lock did not (cancelled by statement_timeout while a
                // take-over held it): diesel counts no transaction, the server has an
                // aborted one, which would fail every later use of this connection.
                let _ = pg.batch_execute("ROLLBACK");
                return Err(e.into());
            }
            let result = check(c, fence).and_then(|()| f(c));
            let DbConnection::Postgres(pg) = c else {
                return Err(DbError::Config("connection changed backend".into()));
            };
            super::end_txn(pg, result)
        }
        DbConnection::Sqlite(_) => {
            check(c, fence)?;
            f(c)
        }
    }
}

/// A claimed node and whether its holder is alive enough to count the node up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// The node.
    pub node: String,
    /// The holder's instance id.
    pub holder: String,
    /// When the holder last renewed its lease (database clock); none once it is gone.
    pub renewed_at: Option<NaiveDateTime>,
    /// Whether the holder renewed within the last `down_after` seconds.
    pub up: bool,
}

/// Every claimed node with its state: up while its holder has renewed its lease within
/// `down_after_seconds` (by the database's clock); down once it has not, or is gone.
pub fn states(c: &mut DbConnection, down_after_seconds: u64) -> Result<Vec<NodeState>, DbError> {
    use super::schema::instances as inst;
    let t = instances::clock(c)?;
    let limit = t - chrono::Duration::seconds(i64::try_from(down_after_seconds).unwrap_or(1 << 30));
    let held: Vec<(String, String)> = node_claims::table
        .select((node_claims::node, node_claims::holder))
        .order(node_claims::node)
        .load(c)?;
    let holders: Vec<&String> = held.iter().map(|h| &h.1).collect();
    let seen: std::collections::HashMap<String, (Option<NaiveDateTime>, NaiveDateTime)> =
        inst::table
            .filter(inst::id.eq_any(holders))
            .select((inst::id, (inst::renewed_at, inst::started_at)))
            .load::<(String, (Option<NaiveDateTime>, NaiveDateTime))>(c)?
            .into_iter()
            .collect();
    Ok(held
        .into_iter()
        .map(|(node, holder)| {
            let renewed_at = seen.get(&holder).map(|(r, s)| r.unwrap_or(*s));
            NodeState {
                up: renewed_at.is_some_and(|r| r >= limit),
                node,
                holder,
                renewed_at,
            }
        })
        .collect())
}

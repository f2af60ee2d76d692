//! Instances: every running process (`serve`, `node`) and its lease.
//!
//! A process registers at start ([`register`]) and renews its lease every third of its
//! length ([`renew`]). Lease times come from the database's clock ([`clock`]), so hosts
//! whose clocks disagree still agree on who is alive. Once a lease has lapsed, what the
//! instance owned is released by whoever sweeps first ([`sweep`]): its uncommitted quota
//! reservations are given back; its idempotency claims are taken over by the next retry
//! ([`is_live`], used by `idempotency::claim`); its nodes can be claimed by another
//! instance (`claims::claim`).

use std::sync::OnceLock;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{instances, reservations};
use super::{DbConnection, DbError, quotas, write_txn};

/// This process incarnation's id: registered as its instance, recorded on the
/// reservations and idempotency claims it takes and on the nodes it holds.
pub fn instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| uuid::Uuid::new_v4().simple().to_string())
}

/// What kind of process an instance is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum InstanceKind {
    /// `clinker serve`: the API and the scheduler, and the nodes of its config.
    Serve,
    /// `clinker node`: only the nodes of its config.
    Node,
}

impl InstanceKind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What an instance says about itself when it registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInstance {
    /// Its id, [`instance_id`] for this process.
    pub id: String,
    /// Serve or node.
    pub kind: InstanceKind,
    /// The host name.
    pub host: String,
    /// What a restart of the same process has in common with it: kind, host and data
    /// directory. A new instance with the same identity ends the old one's lease at once.
    pub identity: String,
    /// The process id (for the operator reading a refusal).
    pub pid: i64,
    /// How long the lease lasts without renewal.
    pub lease_seconds: i64,
}

/// An instance as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct InstanceRow {
    /// Id.
    pub id: String,
    /// `serve` or `node`.
    pub kind: String,
    /// See [`NewInstance::identity`].
    pub identity: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: i64,
    /// When it registered (database clock).
    pub started_at: NaiveDateTime,
    /// When its lease lapses unless renewed (database clock).
    pub lease_expires_at: NaiveDateTime,
    /// When it last renewed (database clock); none for a row from before the column.
    pub renewed_at: Option<NaiveDateTime>,
}

#[derive(diesel::QueryableByName)]
struct Now {
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    t: NaiveDateTime,
}

/// The database's clock, as naive UTC. Every lease is set and judged by it, never by the
/// clock of the host that asks.
pub fn clock(c: &mut DbConnection) -> Result<NaiveDateTime, DbError> {
    let Now { t } = match c {
        DbConnection::Postgres(pg) => {
            diesel::sql_query("SELECT CAST(timezone('UTC', now()) AS TIMESTAMP) AS t")
                .get_result(pg)?
        }
        DbConnection::Sqlite(lite) => {
            diesel::sql_query("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now') AS t")
                .get_result(lite)?
        }
    };
    Ok(t)
}

fn seconds(s: i64) -> chrono::Duration {
    chrono::Duration::seconds(s)
}

/// Registers `me` with a fresh lease, and ends at once the lease of any earlier instance
/// with the same identity (this process, restarted): what it owned is then released by
/// the next [`sweep`] instead of a lease's length later. Registering again (the same
/// process starting its services twice, as tests do) renews the row.
pub fn register(c: &mut DbConnection, me: &NewInstance) -> Result<(), DbError> {
    write_txn(c, |c| {
        let t = clock(c)?;
        diesel::update(
            instances::table
                .filter(instances::identity.eq(&me.identity))
                .filter(instances::id.ne(&me.id))
                .filter(instances::lease_expires_at.ge(t)),
        )
        .set(instances::lease_expires_at.eq(t - chrono::Duration::microseconds(1)))
        .execute(c)?;
        diesel::delete(instances::table.filter(instances::id.eq(&me.id))).execute(c)?;
        diesel::insert_into(instances::table)
            .values((
                instances::id.eq(&me.id),
                instances::kind.eq(me.kind.as_str()),
                instances::identity.eq(&me.identity),
                instances::host.eq(&me.host),
                instances::pid.eq(me.pid),
                instances::started_at.eq(t),
                instances::lease_expires_at.eq(t + seconds(me.lease_seconds)),
                instances::renewed_at.eq(Some(t)),
            ))
            .execute(c)?;
        Ok(())
    })
}

/// Extends `id`'s lease to `lease_seconds` from now. False when the row is gone: another
/// instance found the lease lapsed and swept it, and may already have taken over what
/// this one held; the process must stop rather than act on. A lease that lapsed but was
/// not swept is revived: nothing was taken from it (taking a node over sweeps its holder
/// first), so a lone process that was paused (a laptop asleep) carries on.
pub fn renew(c: &mut DbConnection, id: &str, lease_seconds: i64) -> Result<bool, DbError> {
    let t = clock(c)?;
    let n = diesel::update(instances::table.filter(instances::id.eq(id)))
        .set((
            instances::lease_expires_at.eq(t + seconds(lease_seconds)),
            instances::renewed_at.eq(Some(t)),
        ))
        .execute(c)?;
    Ok(n == 1)
}

/// Ends `id`'s lease now (a process that stops cleanly): its nodes can be claimed at
/// once, and the next [`sweep`], by any instance, releases whatever it still held.
pub fn retire(c: &mut DbConnection, id: &str) -> Result<(), DbError> {
    let t = clock(c)?;
    diesel::update(instances::table.filter(instances::id.eq(id)))
        .set(instances::lease_expires_at.eq(t - chrono::Duration::microseconds(1)))
        .execute(c)?;
    Ok(())
}

/// The instance `id`, if registered.
pub fn find(c: &mut DbConnection, id: &str) -> Result<Option<InstanceRow>, DbError> {
    Ok(instances::table
        .filter(instances::id.eq(id))
        .first(c)
        .optional()?)
}

/// True while `id` holds a lease that has not lapsed. This process is always live to
/// itself (it is running this code); an id never registered (a holder recorded before
/// instances existed, or one already swept) is not.
pub fn is_live(c: &mut DbConnection, id: &str) -> Result<bool, DbError> {
    if id == instance_id() {
        return Ok(true);
    }
    let t = clock(c)?;
    let n: i64 = instances::table
        .filter(instances::id.eq(id))
        .filter(instances::lease_expires_at.ge(t))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// The live instances of `kind` other than this process, by id.
pub fn live_peers(c: &mut DbConnection, kind: InstanceKind) -> Result<Vec<String>, DbError> {
    let t = clock(c)?;
    Ok(instances::table
        .filter(instances::kind.eq(kind.as_str()))
        .filter(instances::id.ne(instance_id()))
        .filter(instances::lease_expires_at.ge(t))
        .select(instances::id)
        .order(instances::id)
        .load(c)?)
}

/// What one [`sweep`] released.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// The instances found dead (their rows are gone now).
    pub instances: Vec<String>,
    /// Their reservations given back.
    pub reservations: usize,
}

/// Releases what instances whose lease has lapsed owned: their uncommitted reservations
/// are rolled back and their rows removed (so each is swept once, and a holder that
/// comes back finds itself gone, see [`renew`]). Never sweeps this process.
///
/// Kept: reservations named by the intent of a volume still `extending` (the node that
/// holds the volume commits them when it finishes the extend, as `quotas::expire` keeps
/// them). Idempotency claims need nothing here: a retry takes over a claim whose holder
/// is not live. Node claims need nothing either: a claim whose holder is gone can be
/// claimed, and the epoch fences the old holder.
pub fn sweep(c: &mut DbConnection) -> Result<Swept, DbError> {
    write_txn(c, |c| {
        let t = clock(c)?;
        let dead: Vec<String> = instances::table
            .filter(instances::lease_expires_at.lt(t))
            .filter(instances::id.ne(instance_id()))
            .select(instances::id)
            .load(c)?;
        if dead.is_empty() {
            return Ok(Swept::default());
        }
        let held = quotas::held_by_extends(c)?;
        let ids: Vec<String> = reservations::table
            .filter(reservations::instance_id.eq_any(&dead))
            .select(reservations::id)
            .load::<String>(c)?
            .into_iter()
            .filter(|id| !held.contains(id))
            .collect();
        quotas::rollback(c, &ids)?;
        diesel::delete(instances::table.filter(instances::id.eq_any(&dead))).execute(c)?;
        Ok(Swept {
            instances: dead,
            reservations: ids.len(),
        })
    })
}

//! The capacity ledger: the GiB placed on each pool, shared by every scheduler.
//!
//! A scheduler decides on its own picture of the pools (fast, in memory), then books the
//! chosen pool here ([`book`]) in the transaction that writes the volume's host: the
//! pool's row is locked (`FOR UPDATE` on PostgreSQL; SQLite's one writer holds the whole
//! database), the caller's rule is asked whether the volume still fits on top of what the
//! row says is placed, and only then is the row raised. Two schedulers placing on one
//! nearly full pool therefore take turns on the row, and the second sees the first's
//! volume. Everything that clears a host, deletes a placed volume or grows one moves the
//! row back in its own transaction ([`adjust`]), so the row is the sum of the sizes of the
//! volumes placed on the pool.

use diesel::prelude::*;

use super::schema::pool_ledger;
use super::{DbConnection, DbError};

/// One pool's figure, as of `version`.
#[derive(
    Debug, Clone, PartialEq, Eq, Queryable, QueryableByName, serde::Serialize, serde::Deserialize,
)]
pub struct Figure {
    /// `node@backend#pool`.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub host: String,
    /// GiB of the volumes placed on it.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub allocated_gb: i64,
    /// Rises with every change of the row.
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub version: i64,
}

/// What [`book`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Booking {
    /// The volume fitted; the row after the booking.
    Booked(Figure),
    /// It did not; the row as it is (unchanged).
    Full(Figure),
}

/// Books `size_gb` on `host` if `fits(allocated)` says the volume fits on top of what is
/// already placed there. Call it inside the transaction that writes the volume's host:
/// the row stays locked until that transaction ends.
pub fn book(
    c: &mut DbConnection,
    host: &str,
    size_gb: i64,
    fits: impl FnOnce(i64) -> bool,
) -> Result<Booking, DbError> {
    let now = match locked(c, host)? {
        Some(f) => f,
        None => {
            create(c, host)?;
            locked(c, host)?.ok_or(DbError::Conflict)?
        }
    };
    if !fits(now.allocated_gb) {
        return Ok(Booking::Full(now));
    }
    raise(c, host, size_gb)?;
    Ok(Booking::Booked(Figure {
        allocated_gb: now.allocated_gb + size_gb,
        version: now.version + 1,
        ..now
    }))
}

/// Moves `host`'s figure by `delta_gb` (negative: given back), in the caller's
/// transaction.
pub fn adjust(c: &mut DbConnection, host: &str, delta_gb: i64) -> Result<(), DbError> {
    if delta_gb == 0 {
        return Ok(());
    }
    if raise(c, host, delta_gb)? == 0 {
        create(c, host)?;
        raise(c, host, delta_gb)?;
    }
    Ok(())
}

/// Every pool's figure.
pub fn all(c: &mut DbConnection) -> Result<Vec<Figure>, DbError> {
    Ok(pool_ledger::table
        .order(pool_ledger::host)
        .select((
            pool_ledger::host,
            pool_ledger::allocated_gb,
            pool_ledger::version,
        ))
        .load(c)?)
}

/// The figures of `node`'s pools.
pub fn of_node(c: &mut DbConnection, node: &str) -> Result<Vec<Figure>, DbError> {
    // Filtered here: a pool is a node's few rows, and `LIKE` would take `_` and `%` in a
    // node's name (and SQLite's case folding) as patterns.
    Ok(all(c)?
        .into_iter()
        .filter(|f| f.host.split_once('@').is_some_and(|(n, _)| n == node))
        .collect())
}

fn raise(c: &mut DbConnection, host: &str, delta_gb: i64) -> Result<usize, DbError> {
    Ok(crate::db::Cached(
        diesel::update(pool_ledger::table.filter(pool_ledger::host.eq(host))).set((
            pool_ledger::allocated_gb.eq(pool_ledger::allocated_gb + delta_gb),
            pool_ledger::version.eq(pool_ledger::version + 1),
        )),
    )
    .execute(c)?)
}

/// Adds `host`'s row at zero unless it exists (two first bookings may race to it).
fn create(c: &mut DbConnection, host: &str) -> Result<(), DbError> {
    let row = (
        pool_ledger::host.eq(host),
        pool_ledger::allocated_gb.eq(0i64),
        pool_ledger::version.eq(0i64),
    );
    crate::on_backend!(c, |c| diesel::insert_into(pool_ledger::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// The row of `host`, locked until the transaction ends.
fn locked(c: &mut DbConnection, host: &str) -> Result<Option<Figure>, DbError> {
    match c {
        DbConnection::Postgres(pg) => Ok(diesel::sql_query(
            "SELECT host, allocated_gb, version FROM pool_ledger WHERE host = $1 FOR UPDATE",
        )
        .bind::<diesel::sql_types::Text, _>(host)
        .get_result::<Figure>(pg)
        .optional()?),
        // The writer's transaction already excludes every other writer.
        DbConnection::Sqlite(_) => Ok(pool_ledger::table
            .filter(pool_ledger::host.eq(host))
            .select((
                pool_ledger::host,
                pool_ledger::allocated_gb,
                pool_ledger::version,
            ))
            .get_result(c)
            .optional()?),
    }
}

//! Volume transfers (cinder-api.md §4, Cinder's `transfers` table): offering a volume
//! to another project, and the accept that moves it.
//!
//! Each call is one transaction. The accept in particular moves the volume, its
//! snapshots and their quota usage together: a crash, or a refusal half way, leaves the
//! volume `awaiting-transfer` with its transfer still pending and every usage row as it
//! was, so there is nothing to recover and no usage can be moved twice.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{snapshots, transfers, volume_types, volumes};
use super::{DbConnection, DbError, Found, Resource, now, quotas, write_txn};
use crate::model::{SnapshotStatus, VolumeStatus, quota};

/// A `transfers` row. `crypt_hash` is SHA-256 of the salt and the auth key, never the
/// key itself.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = transfers)]
pub struct TransferRow {
    /// UUID.
    pub id: String,
    /// The volume offered.
    pub volume_id: String,
    /// `name` in the API.
    pub display_name: Option<String>,
    /// Random text hashed with the key.
    pub salt: String,
    /// Hex SHA-256 of `salt` and the auth key.
    pub crypt_hash: String,
    /// Leave the volume's snapshots with the giving project (3.55).
    pub no_snapshots: bool,
    /// The giving project.
    pub source_project_id: String,
    /// The project that accepted; `None` while pending.
    pub destination_project_id: Option<String>,
    /// Whether it was accepted.
    pub accepted: bool,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: Option<NaiveDateTime>,
    /// When it was accepted or deleted; pending transfers have none.
    pub deleted_at: Option<NaiveDateTime>,
}

/// Why a create or an accept was refused before anything was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The volume is not in the state the step needs (its current status).
    VolumeState(VolumeStatus),
    /// A snapshot of the volume is not `available` (its id).
    SnapshotState(String),
    /// The auth key does not match.
    WrongKey,
}

/// Which transfers a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferFilter {
    /// Only this giving project's (`None`: every project's, for admins).
    pub project: Option<String>,
    /// Only those with this exact name.
    pub name: Option<String>,
    /// Only those of this volume.
    pub volume_id: Option<String>,
}

/// One pending transfer; with `project`, only that giving project's (another project's
/// is `NotFound`, so ids do not leak).
pub fn get(c: &mut DbConnection, id: &str, project: Option<&str>) -> Result<TransferRow, DbError> {
    let mut q = transfers::table
        .filter(transfers::id.eq(id))
        .filter(transfers::deleted_at.is_null())
        .into_boxed();
    if let Some(p) = project {
        q = q.filter(transfers::source_project_id.eq(p));
    }
    q.select(TransferRow::as_select())
        .get_result(c)
        .found(Resource::Transfer, id)
}

/// The pending transfers `f` selects, oldest first (Cinder's default order).
pub fn list(c: &mut DbConnection, f: &TransferFilter) -> Result<Vec<TransferRow>, DbError> {
    let mut q = transfers::table
        .filter(transfers::deleted_at.is_null())
        .into_boxed();
    if let Some(p) = &f.project {
        q = q.filter(transfers::source_project_id.eq(p));
    }
    if let Some(n) = &f.name {
        q = q.filter(transfers::display_name.eq(n));
    }
    if let Some(v) = &f.volume_id {
        q = q.filter(transfers::volume_id.eq(v));
    }
    Ok(q.order((transfers::created_at, transfers::id))
        .select(TransferRow::as_select())
        .load(c)?)
}

/// The snapshots of `volume_id` that are not `available`, the first one's id.
fn unavailable_snapshot(c: &mut DbConnection, volume_id: &str) -> Result<Option<String>, DbError> {
    Ok(snapshots::table
        .filter(snapshots::volume_id.eq(volume_id))
        .filter(snapshots::status.ne(SnapshotStatus::Available))
        .order(snapshots::id)
        .select(snapshots::id)
        .first(c)
        .optional()?)
}

/// Stores `row` and puts its volume `available` → `awaiting-transfer`, in one
/// transaction. Refused (nothing written) when the volume is in another state or, unless
/// the transfer leaves them behind, one of its snapshots is not `available`.
pub fn create(c: &mut DbConnection, row: &TransferRow) -> Result<Result<(), Refusal>, DbError> {
    write_txn(c, |c| {
        let status: VolumeStatus = volumes::table
            .filter(volumes::id.eq(&row.volume_id))
            .select(volumes::status)
            .get_result(c)
            .found(Resource::Volume, &row.volume_id)?;
        if status != VolumeStatus::Available {
            return Ok(Err(Refusal::VolumeState(status)));
        }
        if !row.no_snapshots
            && let Some(snap) = unavailable_snapshot(c, &row.volume_id)?
        {
            return Ok(Err(Refusal::SnapshotState(snap)));
        }
        // The first write; the status read above and this compare-and-set agree on
        // SQLite (the transaction holds the write lock), and on PostgreSQL a change in
        // between makes this match nothing.
        let moved = diesel::update(
            volumes::table
                .filter(volumes::id.eq(&row.volume_id))
                .filter(volumes::status.eq(VolumeStatus::Available)),
        )
        .set((
            volumes::status.eq(VolumeStatus::AwaitingTransfer),
            volumes::updated_at.eq(now()),
        ))
        .execute(c)?;
        super::one_row(moved)?;
        diesel::insert_into(transfers::table)
            .values(row)
            .execute(c)?;
        Ok(Ok(()))
    })
}

/// Deletes a pending transfer (`project`: only the giving project's) and gives its
/// volume back: `awaiting-transfer` → `available`. A volume in another state keeps it,
/// as in Cinder, and the transfer goes all the same.
pub fn destroy(c: &mut DbConnection, id: &str, project: Option<&str>) -> Result<(), DbError> {
    write_txn(c, |c| {
        let row = get(c, id, project)?;
        let at = now();
        let gone = diesel::update(
            transfers::table
                .filter(transfers::id.eq(id))
                .filter(transfers::deleted_at.is_null()),
        )
        .set((transfers::deleted_at.eq(at), transfers::updated_at.eq(at)))
        .execute(c)?;
        if gone != 1 {
            return Err(DbError::not_found(Resource::Transfer, id));
        }
        diesel::update(
            volumes::table
                .filter(volumes::id.eq(&row.volume_id))
                .filter(volumes::status.eq(VolumeStatus::AwaitingTransfer)),
        )
        .set((
            volumes::status.eq(VolumeStatus::Available),
            volumes::updated_at.eq(at),
        ))
        .execute(c)?;
        Ok(())
    })
}

/// Who accepts a transfer.
#[derive(Debug, Clone, Copy)]
pub struct Taker<'a> {
    /// The accepting user, the volume's new `user_id`.
    pub user_id: &'a str,
    /// The accepting project, the volume's new owner.
    pub project_id: &'a str,
}

/// Accepts transfer `id` for `taker`, all in one transaction: `key_matches(salt, hash)`
/// must hold; the volume goes `awaiting-transfer` → `available` in the taker's project
/// with its snapshots (unless the transfer leaves them), the usage they count moves from
/// the giving project to the taker's within the taker's limits
/// (`per_volume_gigabytes`, `volumes`, `gigabytes` and the per-type ones, `snapshots`),
/// and the transfer is marked accepted. Any refusal or error leaves every row as it was.
pub fn accept(
    c: &mut DbConnection,
    id: &str,
    taker: Taker<'_>,
    key_matches: impl FnOnce(&str, &str) -> bool,
    defaults: &quotas::Defaults,
) -> Result<Result<TransferRow, Refusal>, DbError> {
    write_txn(c, |c| {
        let row = get(c, id, None)?;
        if !key_matches(&row.salt, &row.crypt_hash) {
            return Ok(Err(Refusal::WrongKey));
        }
        let (status, giver, size, type_name): (VolumeStatus, String, i64, String) = volumes::table
            .inner_join(volume_types::table)
            .filter(volumes::id.eq(&row.volume_id))
            .select((
                volumes::status,
                volumes::project_id,
                volumes::size,
                volume_types::name,
            ))
            .get_result(c)
            .found(Resource::Volume, &row.volume_id)?;
        if status != VolumeStatus::AwaitingTransfer {
            return Ok(Err(Refusal::VolumeState(status)));
        }
        let moved_snapshots: Vec<(String, i64)> = if row.no_snapshots {
            Vec::new()
        } else {
            if let Some(snap) = unavailable_snapshot(c, &row.volume_id)? {
                return Ok(Err(Refusal::SnapshotState(snap)));
            }
            snapshots::table
                .filter(snapshots::volume_id.eq(&row.volume_id))
                .select((snapshots::id, snapshots::volume_size))
                .load(c)?
        };
        // Refusals end here: from now on every failure is an error, which rolls the
        // whole transaction back.
        move_usage(
            c,
            &giver,
            taker.project_id,
            size,
            &type_name,
            &moved_snapshots,
            defaults,
        )?;
        move_rows(c, &row, taker, moved_snapshots.len())?;
        Ok(Ok(row))
    })
}

/// The usage half of [`accept`]: the volume's (and the moved snapshots') counts leave
/// `giver` and are taken by `taker` within its limits.
fn move_usage(
    c: &mut DbConnection,
    giver: &str,
    taker: &str,
    size: i64,
    type_name: &str,
    moved_snapshots: &[(String, i64)],
    defaults: &quotas::Defaults,
) -> Result<(), DbError> {
    quotas::limit_check(c, taker, quota::PER_VOLUME_GIGABYTES, size, defaults)?;
    let volume = quota::volume_deltas(type_name, size);
    let volume: Vec<(&str, i64)> = volume.iter().map(|(r, d)| (r.as_str(), *d)).collect();
    quotas::take(c, taker, &volume, defaults)?;
    quotas::release(c, giver, &volume)?;
    if !moved_snapshots.is_empty() {
        // As snapshots count when they are made: one each, and their size in gigabytes.
        let count = i64::try_from(moved_snapshots.len()).unwrap_or(i64::MAX);
        let gigabytes: i64 = moved_snapshots.iter().map(|(_, s)| s).sum();
        let snaps = [(quota::SNAPSHOTS, count), (quota::GIGABYTES, gigabytes)];
        quotas::take(c, taker, &snaps, defaults)?;
        quotas::release(c, giver, &snaps)?;
    }
    Ok(())
}

/// The ownership half of [`accept`]: the volume, its `expected_snapshots` snapshots and
/// the transfer row, each a compare-and-set, so a change that raced the checks fails the
/// transaction instead of moving half the rows.
fn move_rows(
    c: &mut DbConnection,
    row: &TransferRow,
    taker: Taker<'_>,
    expected_snapshots: usize,
) -> Result<(), DbError> {
    let at = now();
    let volume = diesel::update(
        volumes::table
            .filter(volumes::id.eq(&row.volume_id))
            .filter(volumes::status.eq(VolumeStatus::AwaitingTransfer)),
    )
    .set((
        volumes::status.eq(VolumeStatus::Available),
        volumes::project_id.eq(taker.project_id),
        volumes::user_id.eq(taker.user_id),
        volumes::updated_at.eq(at),
    ))
    .execute(c)?;
    super::one_row(volume)?;
    if !row.no_snapshots {
        let snaps = diesel::update(
            snapshots::table
                .filter(snapshots::volume_id.eq(&row.volume_id))
                .filter(snapshots::status.eq(SnapshotStatus::Available)),
        )
        .set((
            snapshots::project_id.eq(taker.project_id),
            snapshots::user_id.eq(taker.user_id),
            snapshots::updated_at.eq(at),
        ))
        .execute(c)?;
        if snaps != expected_snapshots {
            return Err(DbError::Conflict);
        }
    }
    let done = diesel::update(
        transfers::table
            .filter(transfers::id.eq(&row.id))
            .filter(transfers::deleted_at.is_null()),
    )
    .set((
        transfers::accepted.eq(true),
        transfers::destination_project_id.eq(taker.project_id),
        transfers::deleted_at.eq(at),
        transfers::updated_at.eq(at),
    ))
    .execute(c)?;
    super::one_row(done)
}

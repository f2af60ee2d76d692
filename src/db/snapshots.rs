//! Queries on snapshots and their metadata. Status changes are compare-and-set.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::rows::SnapshotRow;
use super::schema::{snapshot_metadata, snapshots};
use super::{DbConnection, DbError, Found, Resource, now, quotas, write_txn};
use crate::model::{ProjectId, SnapshotId, SnapshotStatus, quota};

/// A snapshot with its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRecord {
    /// The row.
    pub row: SnapshotRow,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
}

fn insert_metadata(
    c: &mut DbConnection,
    id: &SnapshotId,
    metadata: &BTreeMap<String, String>,
) -> Result<(), DbError> {
    for (k, v) in metadata {
        diesel::insert_into(snapshot_metadata::table)
            .values((
                snapshot_metadata::snapshot_id.eq(id),
                snapshot_metadata::meta_key.eq(k),
                snapshot_metadata::meta_value.eq(v),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// Inserts a snapshot and its metadata.
pub fn insert(
    c: &mut DbConnection,
    row: &SnapshotRow,
    metadata: &BTreeMap<String, String>,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        diesel::insert_into(snapshots::table)
            .values(row)
            .execute(c)?;
        insert_metadata(c, &row.id, metadata)
    })
}

fn metadata_of(
    c: &mut DbConnection,
    ids: &[SnapshotId],
) -> Result<BTreeMap<SnapshotId, BTreeMap<String, String>>, DbError> {
    let rows: Vec<(SnapshotId, String, String)> = snapshot_metadata::table
        .filter(snapshot_metadata::snapshot_id.eq_any(ids))
        .select((
            snapshot_metadata::snapshot_id,
            snapshot_metadata::meta_key,
            snapshot_metadata::meta_value,
        ))
        .load(c)?;
    let mut out: BTreeMap<SnapshotId, BTreeMap<String, String>> = BTreeMap::new();
    for (s, k, v) in rows {
        out.entry(s).or_default().insert(k, v);
    }
    Ok(out)
}

/// One snapshot; `project` limits the lookup (non-admins).
pub fn get(
    c: &mut DbConnection,
    id: &SnapshotId,
    project: Option<&ProjectId>,
) -> Result<SnapshotRecord, DbError> {
    let mut q = snapshots::table.filter(snapshots::id.eq(id)).into_boxed();
    if let Some(p) = project {
        q = q.filter(snapshots::project_id.eq(p));
    }
    let row: SnapshotRow = q
        .select(SnapshotRow::as_select())
        .get_result(c)
        .found(Resource::Snapshot, &id.to_string())?;
    let metadata = metadata_of(c, std::slice::from_ref(&row.id))?
        .remove(&row.id)
        .unwrap_or_default();
    Ok(SnapshotRecord { row, metadata })
}

/// Filters and pagination of a snapshot list.
#[derive(Debug, Clone, Default)]
pub struct SnapshotQuery {
    /// Only this project (`None`: all, admins).
    pub project: Option<ProjectId>,
    /// Exact status.
    pub status: Option<String>,
    /// Only snapshots of this volume.
    pub volume_id: Option<String>,
    /// Exact name.
    pub name: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Items after this id (newest first order).
    pub marker: Option<String>,
    /// Skip.
    pub offset: i64,
}

/// Lists snapshots, newest first (`created_at desc, id desc`).
pub fn list(c: &mut DbConnection, q: &SnapshotQuery) -> Result<Vec<SnapshotRecord>, DbError> {
    let mut b = snapshots::table.into_boxed();
    if let Some(p) = &q.project {
        b = b.filter(snapshots::project_id.eq(p));
    }
    if let Some(s) = &q.status {
        b = b.filter(snapshots::status.eq(s));
    }
    if let Some(v) = &q.volume_id {
        b = b.filter(snapshots::volume_id.eq(v));
    }
    if let Some(n) = &q.name {
        b = b.filter(snapshots::display_name.eq(n));
    }
    if let Some(m) = &q.marker {
        // A marker that is no snapshot's id names none, as an unknown id does.
        let id: SnapshotId = m
            .parse()
            .map_err(|_| DbError::not_found(Resource::Snapshot, m))?;
        let marker: SnapshotRow = get(c, &id, q.project.as_ref())?.row;
        b = b.filter(
            snapshots::created_at
                .lt(marker.created_at)
                .or(snapshots::created_at
                    .eq(marker.created_at)
                    .and(snapshots::id.lt(marker.id))),
        );
    }
    let rows: Vec<SnapshotRow> = b
        .order((snapshots::created_at.desc(), snapshots::id.desc()))
        .offset(q.offset)
        .limit(q.limit)
        .select(SnapshotRow::as_select())
        .load(c)?;
    let ids: Vec<SnapshotId> = rows.iter().map(|r| r.id).collect();
    let mut meta = metadata_of(c, &ids)?;
    Ok(rows
        .into_iter()
        .map(|row| SnapshotRecord {
            metadata: meta.remove(&row.id).unwrap_or_default(),
            row,
        })
        .collect())
}

/// Snapshots of a volume (any status), newest first.
pub fn of_volume(c: &mut DbConnection, volume_id: &str) -> Result<Vec<SnapshotRow>, DbError> {
    Ok(snapshots::table
        .filter(snapshots::volume_id.eq(volume_id))
        .order((snapshots::created_at.desc(), snapshots::id.desc()))
        .select(SnapshotRow::as_select())
        .load(c)?)
}

/// Snapshots (any status) of the volumes `volume_ids`.
pub fn of_volumes(
    c: &mut DbConnection,
    volume_ids: &[String],
) -> Result<Vec<SnapshotRow>, DbError> {
    Ok(snapshots::table
        .filter(snapshots::volume_id.eq_any(volume_ids))
        .select(SnapshotRow::as_select())
        .load(c)?)
}

/// Moves a snapshot from one of `from` to `to`.
pub fn transition(
    c: &mut DbConnection,
    id: &SnapshotId,
    from: &[SnapshotStatus],
    to: SnapshotStatus,
) -> Result<(), DbError> {
    let n = diesel::update(
        snapshots::table
            .filter(snapshots::id.eq(id))
            .filter(snapshots::status.eq_any(from)),
    )
    .set((snapshots::status.eq(to), snapshots::updated_at.eq(now())))
    .execute(c)?;
    super::one_row(n)
}

/// The node made the snapshot.
pub fn mark_created(
    c: &mut DbConnection,
    id: &SnapshotId,
    location: Option<&str>,
) -> Result<(), DbError> {
    let n = diesel::update(
        snapshots::table
            .filter(snapshots::id.eq(id))
            .filter(snapshots::status.eq(SnapshotStatus::Creating)),
    )
    .set((
        snapshots::status.eq(SnapshotStatus::Available),
        snapshots::progress.eq("100%"),
        snapshots::provider_location.eq(location),
        snapshots::updated_at.eq(now()),
    ))
    .execute(c)?;
    super::one_row(n)
}

/// Changes name and description.
pub fn update_fields(
    c: &mut DbConnection,
    id: &SnapshotId,
    name: Option<Option<String>>,
    description: Option<Option<String>>,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        let target = snapshots::table.filter(snapshots::id.eq(id));
        if diesel::update(target)
            .set(snapshots::updated_at.eq(now()))
            .execute(c)?
            == 0
        {
            return Err(DbError::not_found(Resource::Snapshot, id));
        }
        if let Some(n) = name {
            diesel::update(target)
                .set(snapshots::display_name.eq(n))
                .execute(c)?;
        }
        if let Some(d) = description {
            diesel::update(target)
                .set(snapshots::display_description.eq(d))
                .execute(c)?;
        }
        Ok(())
    })
}

/// Replaces or merges metadata; more than `max_items` keys afterwards is
/// [`DbError::TooManyItems`] and changes nothing.
pub fn write_metadata(
    c: &mut DbConnection,
    id: &SnapshotId,
    metadata: &BTreeMap<String, String>,
    replace: bool,
    max_items: usize,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        let mut del = diesel::delete(snapshot_metadata::table)
            .filter(snapshot_metadata::snapshot_id.eq(id))
            .into_boxed();
        if !replace {
            del = del.filter(snapshot_metadata::meta_key.eq_any(metadata.keys()));
        }
        del.execute(c)?;
        insert_metadata(c, id, metadata)?;
        let count: i64 = snapshot_metadata::table
            .filter(snapshot_metadata::snapshot_id.eq(id))
            .count()
            .get_result(c)?;
        super::at_most_items(count, max_items)
    })
}

/// Removes a metadata key; `NotFound` if absent.
pub fn delete_metadata_key(
    c: &mut DbConnection,
    id: &SnapshotId,
    key: &str,
) -> Result<(), DbError> {
    let n = diesel::delete(
        snapshot_metadata::table
            .filter(snapshot_metadata::snapshot_id.eq(id))
            .filter(snapshot_metadata::meta_key.eq(key)),
    )
    .execute(c)?;
    if n == 1 {
        Ok(())
    } else {
        Err(DbError::not_found(
            Resource::SnapshotMetadata {
                snapshot: id.to_string(),
            },
            key,
        ))
    }
}

/// Deletes the row and gives back its quota (`snapshots` 1, `gigabytes` its size) in one
/// transaction. Returns false if it was already gone.
pub fn destroy_and_release(c: &mut DbConnection, id: &SnapshotId) -> Result<bool, DbError> {
    write_txn(c, |c| {
        let row: Option<(String, i64)> = snapshots::table
            .filter(snapshots::id.eq(id))
            .select((snapshots::project_id, snapshots::volume_size))
            .get_result(c)
            .optional()?;
        let Some((project, size)) = row else {
            return Ok(false);
        };
        if diesel::delete(snapshots::table.filter(snapshots::id.eq(id))).execute(c)? == 0 {
            return Ok(false);
        }
        quotas::release(
            c,
            &project,
            &[(quota::SNAPSHOTS, 1), (quota::GIGABYTES, size)],
        )?;
        Ok(true)
    })
}

/// Removes the row of a snapshot whose quota was never committed.
pub fn delete_uncommitted(c: &mut DbConnection, id: &SnapshotId) -> Result<(), DbError> {
    diesel::delete(snapshots::table.filter(snapshots::id.eq(id))).execute(c)?;
    Ok(())
}

/// Sets the progress figure (`NN%`).
pub fn set_progress(c: &mut DbConnection, id: &SnapshotId, progress: &str) -> Result<(), DbError> {
    diesel::update(snapshots::table.filter(snapshots::id.eq(id)))
        .set((
            snapshots::progress.eq(progress),
            snapshots::updated_at.eq(now()),
        ))
        .execute(c)?;
    Ok(())
}

//! Generic volume groups (3.13; Cinder's `groups` and `group_volume_type_mapping`).
//!
//! A group's row and its project's `groups` usage change in one transaction (create,
//! delete), so a crash leaves either both or neither: no usage is counted twice or lost.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{group_volume_types, groups};
use super::{DbConnection, DbError, Found, Resource, now, quotas, write_txn};
use crate::model::quota::GROUPS;

/// Cinder's group statuses (`cinder/objects/fields.py` `GroupStatus`), the values
/// `reset_status` accepts.
pub const STATUSES: [&str; 8] = [
    "error",
    "available",
    "creating",
    "deleting",
    "deleted",
    "updating",
    "in-use",
    "error_deleting",
];

/// A `groups` row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = groups)]
pub struct GroupRow {
    /// UUID.
    pub id: String,
    /// Owner.
    pub project_id: String,
    /// Who made it.
    pub user_id: String,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Zone.
    pub availability_zone: String,
    /// One of [`STATUSES`].
    pub status: String,
    /// Its group type.
    pub group_type_id: String,
    /// The group snapshot it was made from (3.14).
    pub group_snapshot_id: Option<String>,
    /// The group it was copied from (3.14).
    pub source_group_id: Option<String>,
    /// Replication status (3.38); Clinker replicates nothing, so `disabled`.
    pub replication_status: Option<String>,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: Option<NaiveDateTime>,
}

/// A group with the volume types it may hold.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupDetail {
    /// The row.
    pub row: GroupRow,
    /// The volume types' ids.
    pub volume_types: Vec<String>,
}

/// Why a change was refused before anything was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The group is in a state the change does not start from (its status).
    State(String),
}

fn with_types(c: &mut DbConnection, rows: Vec<GroupRow>) -> Result<Vec<GroupDetail>, DbError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let pairs: Vec<(String, String)> = group_volume_types::table
        .filter(group_volume_types::group_id.eq_any(&ids))
        .order((
            group_volume_types::group_id,
            group_volume_types::volume_type_id,
        ))
        .select((
            group_volume_types::group_id,
            group_volume_types::volume_type_id,
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|row| GroupDetail {
            volume_types: pairs
                .iter()
                .filter(|(g, _)| *g == row.id)
                .map(|(_, t)| t.clone())
                .collect(),
            row,
        })
        .collect())
}

/// One group; with `project`, only that project's (another's is `NotFound`).
pub fn get(c: &mut DbConnection, id: &str, project: Option<&str>) -> Result<GroupDetail, DbError> {
    let mut q = groups::table.filter(groups::id.eq(id)).into_boxed();
    if let Some(p) = project {
        q = q.filter(groups::project_id.eq(p));
    }
    let row = q
        .select(GroupRow::as_select())
        .get_result(c)
        .found(Resource::Group, id)?;
    with_types(c, vec![row])?
        .pop()
        .ok_or_else(|| DbError::not_found(Resource::Group, id))
}

/// The groups of `project` (`None`: every project's), oldest first.
pub fn list(c: &mut DbConnection, project: Option<&str>) -> Result<Vec<GroupDetail>, DbError> {
    let mut q = groups::table.into_boxed();
    if let Some(p) = project {
        q = q.filter(groups::project_id.eq(p));
    }
    let rows = q
        .order((groups::created_at, groups::id))
        .select(GroupRow::as_select())
        .load(c)?;
    with_types(c, rows)
}

/// Whether any group has the group type, for its delete.
pub fn type_in_use(c: &mut DbConnection, group_type_id: &str) -> Result<bool, DbError> {
    let n: i64 = groups::table
        .filter(groups::group_type_id.eq(group_type_id))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// Stores a group with its volume types and counts it in its project's `groups` usage,
/// within the limit (else `OverQuota`, nothing written).
pub fn create(
    c: &mut DbConnection,
    row: &GroupRow,
    volume_types: &[String],
    defaults: &quotas::Defaults,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        quotas::take(c, &row.project_id, &[(GROUPS, 1)], defaults)?;
        diesel::insert_into(groups::table).values(row).execute(c)?;
        for t in volume_types {
            diesel::insert_into(group_volume_types::table)
                .values((
                    group_volume_types::group_id.eq(&row.id),
                    group_volume_types::volume_type_id.eq(t),
                ))
                .execute(c)?;
        }
        Ok(())
    })
}

/// Renames or re-describes a group (`Some(None)` clears a field).
pub fn update(
    c: &mut DbConnection,
    id: &str,
    name: Option<Option<String>>,
    description: Option<Option<String>>,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        let target = groups::table.filter(groups::id.eq(id));
        if let Some(n) = name {
            diesel::update(target).set(groups::name.eq(n)).execute(c)?;
        }
        if let Some(d) = description {
            diesel::update(target)
                .set(groups::description.eq(d))
                .execute(c)?;
        }
        diesel::update(target)
            .set(groups::updated_at.eq(now()))
            .execute(c)
            .map(drop)
            .map_err(DbError::from)
    })
}

/// Sets the status, whatever it was (an admin's `reset_status`).
pub fn reset_status(c: &mut DbConnection, id: &str, status: &str) -> Result<(), DbError> {
    let n = diesel::update(groups::table.filter(groups::id.eq(id)))
        .set((groups::status.eq(status), groups::updated_at.eq(now())))
        .execute(c)?;
    if n == 0 {
        return Err(DbError::not_found(Resource::Group, id));
    }
    Ok(())
}

/// Removes a group in one of `from` and gives back its project's `groups` usage, in one
/// transaction; a group in another state is refused with nothing changed.
pub fn delete(
    c: &mut DbConnection,
    id: &str,
    from: &[&str],
) -> Result<Result<(), Refusal>, DbError> {
    write_txn(c, |c| {
        let row: GroupRow = groups::table
            .filter(groups::id.eq(id))
            .select(GroupRow::as_select())
            .get_result(c)
            .found(Resource::Group, id)?;
        if !from.contains(&row.status.as_str()) {
            return Ok(Err(Refusal::State(row.status)));
        }
        let n = diesel::delete(
            groups::table
                .filter(groups::id.eq(id))
                .filter(groups::status.eq_any(from)),
        )
        .execute(c)?;
        super::one_row(n)?;
        quotas::release(c, &row.project_id, &[(GROUPS, 1)])?;
        Ok(Ok(()))
    })
}

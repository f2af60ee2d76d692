//! Group types and their specs (Cinder's `cinder/db/sqlalchemy/api.py` `group_type_*`):
//! the labels generic volume groups are made with (3.11).
//!
//! Cinder has no API to share a private group type with a project, so a private group
//! type is seen by admins only; [`get`] and [`list`] take the caller's admin-ness and
//! hide private types from everyone else, as Cinder's `_group_type_get_query` does.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{group_type_specs, group_types};
use super::{DbConnection, DbError, Found, Resource, now, write_txn};

/// A `group_types` row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = group_types)]
pub struct GroupTypeRow {
    /// UUID.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Listed to every project (private ones: to admins only).
    pub is_public: bool,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: Option<NaiveDateTime>,
}

/// A group type with its specs.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupTypeDetail {
    /// The row.
    pub row: GroupTypeRow,
    /// Every spec.
    pub group_specs: BTreeMap<String, String>,
}

/// Why a write to a group type was refused before anything changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Another group type has the name.
    NameTaken(String),
    /// Groups use the type.
    InUse,
}

fn with_specs(
    c: &mut DbConnection,
    rows: Vec<GroupTypeRow>,
) -> Result<Vec<GroupTypeDetail>, DbError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let specs: Vec<(String, String, String)> = group_type_specs::table
        .filter(group_type_specs::group_type_id.eq_any(&ids))
        .select((
            group_type_specs::group_type_id,
            group_type_specs::spec_key,
            group_type_specs::spec_value,
        ))
        .load(c)?;
    let mut by_type: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (t, k, v) in specs {
        by_type.entry(t).or_default().insert(k, v);
    }
    Ok(rows
        .into_iter()
        .map(|row| GroupTypeDetail {
            group_specs: by_type.remove(&row.id).unwrap_or_default(),
            row,
        })
        .collect())
}

/// One group type by id; a private one only for an admin (`admin`), else `NotFound`.
pub fn get(c: &mut DbConnection, id: &str, admin: bool) -> Result<GroupTypeDetail, DbError> {
    let row: GroupTypeRow = group_types::table
        .filter(group_types::id.eq(id))
        .select(GroupTypeRow::as_select())
        .get_result(c)
        .found(Resource::GroupType, id)?;
    if !row.is_public && !admin {
        return Err(DbError::not_found(Resource::GroupType, id));
    }
    with_specs(c, vec![row])?
        .pop()
        .ok_or_else(|| DbError::not_found(Resource::GroupType, id))
}

/// A group type by name or id as the caller may use it; `None` when there is none (or it
/// is private and the caller no admin).
pub fn resolve(
    c: &mut DbConnection,
    name_or_id: &str,
    admin: bool,
) -> Result<Option<GroupTypeRow>, DbError> {
    let row: Option<GroupTypeRow> = group_types::table
        .filter(
            group_types::id
                .eq(name_or_id)
                .or(group_types::name.eq(name_or_id)),
        )
        .select(GroupTypeRow::as_select())
        .first(c)
        .optional()?;
    Ok(row.filter(|r| r.is_public || admin))
}

/// The group types with visibility `is_public` (`None`: all), in no particular order
/// (the API layer sorts and pages).
pub fn list(
    c: &mut DbConnection,
    is_public: Option<bool>,
) -> Result<Vec<GroupTypeDetail>, DbError> {
    let mut q = group_types::table.into_boxed();
    if let Some(p) = is_public {
        q = q.filter(group_types::is_public.eq(p));
    }
    let rows = q.select(GroupTypeRow::as_select()).load(c)?;
    with_specs(c, rows)
}

/// `NotFound` unless the type exists, read inside a write's transaction.
fn exists(c: &mut DbConnection, id: &str) -> Result<(), DbError> {
    group_types::table
        .filter(group_types::id.eq(id))
        .select(group_types::id)
        .get_result::<String>(c)
        .found(Resource::GroupType, id)
        .map(drop)
}

/// Inserts `specs` for a type that has none of their keys.
fn insert_specs(
    c: &mut DbConnection,
    type_id: &str,
    specs: &BTreeMap<String, String>,
) -> Result<(), DbError> {
    for (k, v) in specs {
        diesel::insert_into(group_type_specs::table)
            .values((
                group_type_specs::group_type_id.eq(type_id),
                group_type_specs::spec_key.eq(k),
                group_type_specs::spec_value.eq(v),
            ))
            .execute(c)?;
    }
    Ok(())
}

fn name_taken(c: &mut DbConnection, name: &str, other_than: &str) -> Result<bool, DbError> {
    let n: i64 = group_types::table
        .filter(group_types::name.eq(name))
        .filter(group_types::id.ne(other_than))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// Adds or replaces the given specs of a type, leaving its other specs. A missing type
/// is `NotFound`; more than `max` specs afterwards is `TooManyItems`, nothing written.
pub fn set_specs(
    c: &mut DbConnection,
    type_id: &str,
    specs: &BTreeMap<String, String>,
    max: usize,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        exists(c, type_id)?;
        let keys: Vec<&String> = specs.keys().collect();
        diesel::delete(
            group_type_specs::table
                .filter(group_type_specs::group_type_id.eq(type_id))
                .filter(group_type_specs::spec_key.eq_any(keys)),
        )
        .execute(c)?;
        insert_specs(c, type_id, specs)?;
        let count: i64 = group_type_specs::table
            .filter(group_type_specs::group_type_id.eq(type_id))
            .count()
            .get_result(c)?;
        super::at_most_items(count, max)
    })
}

/// Removes one spec; a missing type or key is `NotFound`.
pub fn delete_spec(c: &mut DbConnection, type_id: &str, key: &str) -> Result<(), DbError> {
    write_txn(c, |c| {
        let n = diesel::delete(
            group_type_specs::table
                .filter(group_type_specs::group_type_id.eq(type_id))
                .filter(group_type_specs::spec_key.eq(key)),
        )
        .execute(c)?;
        if n == 0 {
            return Err(DbError::not_found(
                Resource::GroupTypeSpec {
                    group_type: type_id.to_string(),
                },
                key,
            ));
        }
        Ok(())
    })
}

/// Stores a new type with its specs, unless the name is taken.
pub fn create(
    c: &mut DbConnection,
    row: &GroupTypeRow,
    specs: &BTreeMap<String, String>,
) -> Result<Result<(), Refusal>, DbError> {
    write_txn(c, |c| {
        if name_taken(c, &row.name, &row.id)? {
            return Ok(Err(Refusal::NameTaken(row.name.clone())));
        }
        diesel::insert_into(group_types::table)
            .values(row)
            .execute(c)?;
        insert_specs(c, &row.id, specs)?;
        Ok(Ok(()))
    })
}

/// What an update changes; `None` leaves the field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupTypeChange {
    /// A new name.
    pub name: Option<String>,
    /// A new description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New visibility.
    pub is_public: Option<bool>,
}

/// Applies `change`, unless another type has the new name.
pub fn update(
    c: &mut DbConnection,
    id: &str,
    change: &GroupTypeChange,
) -> Result<Result<(), Refusal>, DbError> {
    write_txn(c, |c| {
        exists(c, id)?;
        let target = group_types::table.filter(group_types::id.eq(id));
        if let Some(n) = &change.name {
            if name_taken(c, n, id)? {
                return Ok(Err(Refusal::NameTaken(n.clone())));
            }
            diesel::update(target)
                .set(group_types::name.eq(n))
                .execute(c)?;
        }
        if let Some(d) = &change.description {
            diesel::update(target)
                .set(group_types::description.eq(d))
                .execute(c)?;
        }
        if let Some(p) = change.is_public {
            diesel::update(target)
                .set(group_types::is_public.eq(p))
                .execute(c)?;
        }
        diesel::update(target)
            .set(group_types::updated_at.eq(now()))
            .execute(c)?;
        Ok(Ok(()))
    })
}

/// Deletes a type and its specs unless a group uses it (counted inside the same
/// transaction, so a group made meanwhile is seen).
pub fn delete(c: &mut DbConnection, id: &str) -> Result<Result<(), Refusal>, DbError> {
    write_txn(c, |c| {
        exists(c, id)?;
        if super::groups::type_in_use(c, id)? {
            return Ok(Err(Refusal::InUse));
        }
        diesel::delete(group_types::table.filter(group_types::id.eq(id))).execute(c)?;
        Ok(Ok(()))
    })
}

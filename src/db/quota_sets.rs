//! Quota sets and quota classes as the API reads and writes them (cinder-api.md §12).
//!
//! The arithmetic (reserve, commit, release, the limit lookup) is in [`super::quotas`];
//! this module lists the resources and stores the limits admins set.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::quotas::{self, Defaults};
use super::schema::{quota_classes, quotas as quota_rows};
use super::{DbConnection, DbError, types, write_txn};
use crate::model::quota;

/// The class whose rows supply every project's defaults.
pub const DEFAULT_CLASS: &str = "default";

/// Every quota resource, in Cinder's order: the fixed ones, then three per volume type
/// (regenerated from the live type list, as Cinder does).
pub fn resources(c: &mut DbConnection) -> Result<Vec<String>, DbError> {
    let mut out: Vec<String> = [
        quota::VOLUMES,
        quota::SNAPSHOTS,
        quota::GIGABYTES,
        quota::BACKUPS,
        quota::BACKUP_GIGABYTES,
        quota::GROUPS,
        quota::PER_VOLUME_GIGABYTES,
    ]
    .iter()
    .map(|r| r.to_string())
    .collect();
    for name in types::names(c)? {
        for prefix in types::PER_TYPE_PREFIXES {
            out.push(format!("{prefix}{name}"));
        }
    }
    Ok(out)
}

/// A class's own limit for `resource`, if it has a row.
fn class_row(c: &mut DbConnection, class: &str, resource: &str) -> Result<Option<i64>, DbError> {
    Ok(quota_classes::table
        .filter(quota_classes::class_name.eq(class))
        .filter(quota_classes::resource.eq(resource))
        .select(quota_classes::hard_limit)
        .get_result(c)
        .optional()?)
}

/// The defaults every project starts from: the `default` class, then the config
/// (per-type keys: -1).
pub fn default_limits(
    c: &mut DbConnection,
    resources: &[String],
    defaults: &Defaults,
) -> Result<BTreeMap<String, i64>, DbError> {
    let mut out = BTreeMap::new();
    for r in resources {
        let l = class_row(c, DEFAULT_CLASS, r)?
            .or_else(|| defaults.0.get(r).copied())
            .unwrap_or(-1);
        out.insert(r.clone(), l);
    }
    Ok(out)
}

/// A class's limits: its own rows, then the defaults.
pub fn class_limits(
    c: &mut DbConnection,
    class: &str,
    resources: &[String],
    defaults: &Defaults,
) -> Result<BTreeMap<String, i64>, DbError> {
    let mut out = default_limits(c, resources, defaults)?;
    for (r, l) in out.iter_mut() {
        if let Some(own) = class_row(c, class, r)? {
            *l = own;
        }
    }
    Ok(out)
}

/// A project's limits, usage and reservations for every resource.
pub fn project_usage(
    c: &mut DbConnection,
    project: &str,
    resources: &[String],
    defaults: &Defaults,
) -> Result<BTreeMap<String, quotas::Usage>, DbError> {
    let names: Vec<&str> = resources.iter().map(String::as_str).collect();
    quotas::usage(c, project, &names, defaults)
}

/// Whose limits are written.
#[derive(Debug, Clone, Copy)]
enum Owner<'a> {
    Project(&'a str),
    Class(&'a str),
}

/// Writes limits: an update of the row, or an insert when there is none. Two admins
/// setting the same new key at once: the second insert fails (that request errs), and
/// no key ever has two rows.
fn upsert(
    c: &mut DbConnection,
    owner: Owner<'_>,
    limits: &BTreeMap<String, i64>,
) -> Result<(), DbError> {
    for (resource, limit) in limits {
        match owner {
            Owner::Project(p) => {
                let row = quota_rows::table
                    .filter(quota_rows::project_id.eq(p))
                    .filter(quota_rows::resource.eq(resource));
                if diesel::update(row)
                    .set(quota_rows::hard_limit.eq(limit))
                    .execute(c)?
                    == 0
                {
                    diesel::insert_into(quota_rows::table)
                        .values((
                            quota_rows::project_id.eq(p),
                            quota_rows::resource.eq(resource),
                            quota_rows::hard_limit.eq(limit),
                        ))
                        .execute(c)?;
                }
            }
            Owner::Class(class) => {
                let row = quota_classes::table
                    .filter(quota_classes::class_name.eq(class))
                    .filter(quota_classes::resource.eq(resource));
                if diesel::update(row)
                    .set(quota_classes::hard_limit.eq(limit))
                    .execute(c)?
                    == 0
                {
                    diesel::insert_into(quota_classes::table)
                        .values((
                            quota_classes::class_name.eq(class),
                            quota_classes::resource.eq(resource),
                            quota_classes::hard_limit.eq(limit),
                        ))
                        .execute(c)?;
                }
            }
        }
    }
    Ok(())
}

/// Sets a project's own limits. Each limit is checked against the usage it would cap,
/// in the same transaction: `Err((resource, used))` names the first one below
/// `in_use + reserved` (-1 and `per_volume_gigabytes` are never below).
pub fn set_project_limits(
    c: &mut DbConnection,
    project: &str,
    limits: &BTreeMap<String, i64>,
    defaults: &Defaults,
) -> Result<Result<(), (String, i64)>, DbError> {
    write_txn(c, |c| {
        for (resource, &limit) in limits {
            if limit == -1 || resource == quota::PER_VOLUME_GIGABYTES {
                continue;
            }
            let u = quotas::usage(c, project, &[resource.as_str()], defaults)?;
            let used = u.get(resource).map_or(0, |u| u.in_use + u.reserved);
            if limit < used {
                return Ok(Err((resource.clone(), used)));
            }
        }
        upsert(c, Owner::Project(project), limits)?;
        Ok(Ok(()))
    })
}

/// Sets a class's limits (class `default`: every project's defaults).
pub fn set_class_limits(
    c: &mut DbConnection,
    class: &str,
    limits: &BTreeMap<String, i64>,
) -> Result<(), DbError> {
    write_txn(c, |c| upsert(c, Owner::Class(class), limits))
}

/// Removes a project's own limits (back to the defaults); usage is kept.
pub fn delete_project_limits(c: &mut DbConnection, project: &str) -> Result<(), DbError> {
    diesel::delete(quota_rows::table.filter(quota_rows::project_id.eq(project))).execute(c)?;
    Ok(())
}

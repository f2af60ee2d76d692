//! Quota arithmetic, in one place (cinder-internals.md §4).
//!
//! A reservation is a conditional update of the usage row
//! (`reserved = reserved + d WHERE limit is -1 OR in_use + reserved + d <= limit`), so two
//! controllers reserving at once can never both pass a limit: the database serializes the
//! updates of one row and re-checks the condition for the second.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::error::QuotaExceeded;
use super::schema::{quota_classes, quota_usages, quotas, reservations};
use super::{DbConnection, DbError, now, write_txn};

/// The config's defaults, used when neither a project row nor a `default` class row exists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defaults(pub BTreeMap<String, i64>);

impl Defaults {
    /// From the config.
    pub fn from_config(q: &crate::config::QuotaConfig) -> Self {
        use crate::model::quota::*;
        Self(BTreeMap::from([
            (VOLUMES.to_string(), q.volumes),
            (GIGABYTES.to_string(), q.gigabytes),
            (SNAPSHOTS.to_string(), q.snapshots),
            (PER_VOLUME_GIGABYTES.to_string(), q.per_volume_gigabytes),
            // Shown as Cinder shows them; Clinker has no backups or groups to count.
            (BACKUPS.to_string(), 10),
            (BACKUP_GIGABYTES.to_string(), 1000),
            (GROUPS.to_string(), 10),
        ]))
    }
}

/// The limit in force for one resource: project row, then the `default` class, then config.
pub fn limit(
    c: &mut DbConnection,
    project: &str,
    resource: &str,
    defaults: &Defaults,
) -> Result<i64, DbError> {
    let own: Option<i64> = quotas::table
        .filter(quotas::project_id.eq(project))
        .filter(quotas::resource.eq(resource))
        .select(quotas::hard_limit)
        .first(c)
        .optional()?;
    if let Some(l) = own {
        return Ok(l);
    }
    let class: Option<i64> = quota_classes::table
        .filter(quota_classes::class_name.eq("default"))
        .filter(quota_classes::resource.eq(resource))
        .select(quota_classes::hard_limit)
        .first(c)
        .optional()?;
    Ok(class
        .or_else(|| defaults.0.get(resource).copied())
        .unwrap_or(-1))
}

/// Makes sure a usage row exists for each resource, without failing when another
/// controller creates it at the same moment.
fn ensure_usage_rows(
    c: &mut DbConnection,
    project: &str,
    resources: &[&str],
) -> Result<(), DbError> {
    for r in resources {
        let sql_sqlite = "INSERT INTO quota_usages (project_id, resource, in_use, reserved) VALUES (?, ?, 0, 0) ON CONFLICT DO NOTHING";
        let sql_pg = "INSERT INTO quota_usages (project_id, resource, in_use, reserved) VALUES ($1, $2, 0, 0) ON CONFLICT DO NOTHING";
        use diesel::sql_types::Text;
        match c {
            DbConnection::Sqlite(s) => diesel::sql_query(sql_sqlite)
                .bind::<Text, _>(project)
                .bind::<Text, _>(*r)
                .execute(s)?,
            DbConnection::Postgres(p) => diesel::sql_query(sql_pg)
                .bind::<Text, _>(project)
                .bind::<Text, _>(*r)
                .execute(p)?,
        };
    }
    Ok(())
}

fn usage_of(c: &mut DbConnection, project: &str, resource: &str) -> Result<(i64, i64), DbError> {
    Ok(quota_usages::table
        .filter(quota_usages::project_id.eq(project))
        .filter(quota_usages::resource.eq(resource))
        .select((quota_usages::in_use, quota_usages::reserved))
        .first(c)
        .optional()?
        .unwrap_or((0, 0)))
}

/// Checks a limit-only resource (`per_volume_gigabytes`): over when `0 <= limit < value`.
pub fn limit_check(
    c: &mut DbConnection,
    project: &str,
    resource: &str,
    value: i64,
    defaults: &Defaults,
) -> Result<(), DbError> {
    let l = limit(c, project, resource, defaults)?;
    if l >= 0 && l < value {
        return Err(DbError::OverQuota(QuotaExceeded {
            resource: resource.to_string(),
            limit: l,
            in_use: 0,
            reserved: 0,
            requested: value,
        }));
    }
    Ok(())
}

/// Reserves positive `deltas` for `project`, all or nothing, and returns the reservation
/// ids. Resources are updated in name order so concurrent reservations never deadlock.
pub fn reserve(
    c: &mut DbConnection,
    project: &str,
    deltas: &[(&str, i64)],
    expire_seconds: i64,
    defaults: &Defaults,
) -> Result<Vec<String>, DbError> {
    let mut deltas = deltas.to_vec();
    deltas.sort();
    let resources: Vec<&str> = deltas.iter().map(|(r, _)| *r).collect();
    write_txn(c, |c| {
        // Inside the transaction: on an existing row this writes nothing, and it no longer
        // costs a write transaction of its own per reservation.
        ensure_usage_rows(c, project, &resources)?;
        let mut ids = Vec::with_capacity(deltas.len());
        let at = now();
        let expire = at + chrono::Duration::seconds(expire_seconds);
        for &(resource, delta) in &deltas {
            let l = limit(c, project, resource, defaults)?;
            let target = quota_usages::table
                .filter(quota_usages::project_id.eq(project))
                .filter(quota_usages::resource.eq(resource));
            let n = if l < 0 {
                diesel::update(target)
                    .set((
                        quota_usages::reserved.eq(quota_usages::reserved + delta),
                        quota_usages::updated_at.eq(at),
                    ))
                    .execute(c)?
            } else {
                diesel::update(
                    target.filter((quota_usages::in_use + quota_usages::reserved + delta).le(l)),
                )
                .set((
                    quota_usages::reserved.eq(quota_usages::reserved + delta),
                    quota_usages::updated_at.eq(at),
                ))
                .execute(c)?
            };
            if n != 1 {
                let (in_use, reserved) = usage_of(c, project, resource)?;
                return Err(DbError::OverQuota(QuotaExceeded {
                    resource: resource.to_string(),
                    limit: l,
                    in_use,
                    reserved,
                    requested: delta,
                }));
            }
            let id = uuid::Uuid::new_v4().to_string();
            diesel::insert_into(reservations::table)
                .values((
                    reservations::id.eq(&id),
                    reservations::project_id.eq(project),
                    reservations::resource.eq(resource),
                    reservations::delta.eq(delta),
                    reservations::expire.eq(expire),
                    reservations::created_at.eq(at),
                ))
                .execute(c)?;
            ids.push(id);
        }
        Ok(ids)
    })
}

/// Moves reservations into `in_use`. Unknown ids (already committed or expired) are skipped.
pub fn commit(c: &mut DbConnection, ids: &[String]) -> Result<(), DbError> {
    settle(c, ids, true)
}

/// Gives reservations back. Unknown ids are skipped.
pub fn rollback(c: &mut DbConnection, ids: &[String]) -> Result<(), DbError> {
    settle(c, ids, false)
}

fn settle(c: &mut DbConnection, ids: &[String], commit: bool) -> Result<(), DbError> {
    write_txn(c, |c| {
        let rows: Vec<(String, String, String, i64)> = reservations::table
            .filter(reservations::id.eq_any(ids))
            .order((reservations::project_id, reservations::resource))
            .select((
                reservations::id,
                reservations::project_id,
                reservations::resource,
                reservations::delta,
            ))
            .load(c)?;
        for (id, project, resource, delta) in rows {
            let target = quota_usages::table
                .filter(quota_usages::project_id.eq(&project))
                .filter(quota_usages::resource.eq(&resource));
            let gone =
                diesel::delete(reservations::table.filter(reservations::id.eq(&id))).execute(c)?;
            if gone == 0 {
                continue;
            }
            let in_use_delta = if commit { delta } else { 0 };
            diesel::update(target)
                .set((
                    quota_usages::reserved.eq(quota_usages::reserved - delta),
                    quota_usages::in_use.eq(quota_usages::in_use + in_use_delta),
                    quota_usages::updated_at.eq(now()),
                ))
                .execute(c)?;
        }
        Ok(())
    })
}

/// Lowers `in_use` when resources go away; call inside the transaction that removes them.
pub fn release(c: &mut DbConnection, project: &str, deltas: &[(&str, i64)]) -> Result<(), DbError> {
    let mut deltas = deltas.to_vec();
    deltas.sort();
    for &(resource, amount) in &deltas {
        let target = quota_usages::table
            .filter(quota_usages::project_id.eq(project))
            .filter(quota_usages::resource.eq(resource));
        let n = diesel::update(target.filter(quota_usages::in_use.ge(amount)))
            .set((
                quota_usages::in_use.eq(quota_usages::in_use - amount),
                quota_usages::updated_at.eq(now()),
            ))
            .execute(c)?;
        if n == 0 {
            // Usage was already lower than what goes away: clamp at zero, never negative.
            diesel::update(target)
                .set((
                    quota_usages::in_use.eq(0),
                    quota_usages::updated_at.eq(now()),
                ))
                .execute(c)?;
        }
    }
    Ok(())
}

/// Rolls back reservations past their expiry (a process died between reserve and
/// commit). Returns how many were released.
pub fn expire(c: &mut DbConnection) -> Result<usize, DbError> {
    let ids: Vec<String> = reservations::table
        .filter(reservations::expire.lt(now()))
        .select(reservations::id)
        .load(c)?;
    rollback(c, &ids)?;
    Ok(ids.len())
}

/// One resource's usage and limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// The limit in force (-1: unlimited).
    pub limit: i64,
    /// Committed.
    pub in_use: i64,
    /// Reserved, not yet committed.
    pub reserved: i64,
}

/// Usage and limits of `project` for `resources`.
pub fn usage(
    c: &mut DbConnection,
    project: &str,
    resources: &[&str],
    defaults: &Defaults,
) -> Result<BTreeMap<String, Usage>, DbError> {
    let mut out = BTreeMap::new();
    for r in resources {
        let (in_use, reserved) = usage_of(c, project, r)?;
        out.insert(
            r.to_string(),
            Usage {
                limit: limit(c, project, r, defaults)?,
                in_use,
                reserved,
            },
        );
    }
    Ok(out)
}

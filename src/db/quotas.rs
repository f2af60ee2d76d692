//! Quota arithmetic, in one place (cinder-internals.md §4).
//!
//! A reservation is a conditional update of the usage row
//! (`reserved = reserved + d WHERE limit is -1 OR in_use + reserved + d <= limit`), so two
//! controllers reserving at once can never both pass a limit: the database serializes the
//! updates of one row and re-checks the condition for the second.

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;

use super::error::QuotaExceeded;
use super::schema::{
    quota_classes, quota_usages, quotas, reservations, volume_admin_metadata, volumes,
};
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
        .get_result(c)
        .optional()?;
    if let Some(l) = own {
        return Ok(l);
    }
    let class: Option<i64> = quota_classes::table
        .filter(quota_classes::class_name.eq("default"))
        .filter(quota_classes::resource.eq(resource))
        .select(quota_classes::hard_limit)
        .get_result(c)
        .optional()?;
    Ok(class
        .or_else(|| defaults.0.get(resource).copied())
        .unwrap_or(-1))
}

/// Creates `project`'s usage row for `resource` unless it exists, without failing when
/// another controller creates it at the same moment.
fn ensure_usage_row(c: &mut DbConnection, project: &str, resource: &str) -> Result<(), DbError> {
    let row = (
        quota_usages::project_id.eq(project),
        quota_usages::resource.eq(resource),
        quota_usages::in_use.eq(0),
        quota_usages::reserved.eq(0),
    );
    crate::on_backend!(c, |c| diesel::insert_into(quota_usages::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Adds `delta` to the reserved amount of one usage row if `limit` allows it (a
/// negative limit is no limit). Returns how many rows changed: 0 when the row is missing
/// or the limit refuses.
fn add_reserved(
    c: &mut DbConnection,
    project: &str,
    resource: &str,
    delta: i64,
    limit: i64,
    at: chrono::NaiveDateTime,
) -> Result<usize, DbError> {
    let target = quota_usages::table
        .filter(quota_usages::project_id.eq(project))
        .filter(quota_usages::resource.eq(resource));
    let set = (
        quota_usages::reserved.eq(quota_usages::reserved + delta),
        quota_usages::updated_at.eq(at),
    );
    Ok(if limit < 0 {
        super::Cached(diesel::update(target).set(set)).execute(c)?
    } else {
        super::Cached(
            diesel::update(
                target.filter((quota_usages::in_use + quota_usages::reserved + delta).le(limit)),
            )
            .set(set),
        )
        .execute(c)?
    })
}

fn usage_of(c: &mut DbConnection, project: &str, resource: &str) -> Result<(i64, i64), DbError> {
    Ok(quota_usages::table
        .filter(quota_usages::project_id.eq(project))
        .filter(quota_usages::resource.eq(resource))
        .select((quota_usages::in_use, quota_usages::reserved))
        .get_result(c)
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
    write_txn(c, |c| {
        let at = now();
        let expire = at + chrono::Duration::seconds(expire_seconds);
        // The usage rows come last. Each `add_reserved` locks a row that every create of
        // the project needs (on PostgreSQL until the commit), so the limits are read and
        // the reservation rows written first, and nothing but those updates and the
        // commit runs while the rows are held: on PostgreSQL the project's creates queue
        // on these rows, and each statement before the commit was one more round trip
        // they all waited for. A refusal rolls the reservation rows back with the rest.
        let mut limits = Vec::with_capacity(deltas.len());
        for &(resource, _) in &deltas {
            limits.push(limit(c, project, resource, defaults)?);
        }
        let mut ids = Vec::with_capacity(deltas.len());
        for &(resource, delta) in &deltas {
            let id = uuid::Uuid::new_v4().to_string();
            diesel::insert_into(reservations::table)
                .values((
                    reservations::id.eq(&id),
                    reservations::project_id.eq(project),
                    reservations::resource.eq(resource),
                    reservations::delta.eq(delta),
                    reservations::expire.eq(expire),
                    reservations::created_at.eq(at),
                    // Whose request it is: if this process dies before the commit, the
                    // reservation is released once its lease lapses (`instances::sweep`).
                    reservations::instance_id.eq(super::instances::instance_id()),
                ))
                .execute(c)?;
            ids.push(id);
        }
        for (&(resource, delta), &l) in deltas.iter().zip(&limits) {
            let mut n = add_reserved(c, project, resource, delta, l, at)?;
            // Nothing changed: the row may not exist yet (a project's first reservation)
            // or the limit refused. Make the row and try once more; the common case
            // costs no insert. (Retried even when another controller made the row
            // meanwhile: its insert committed, so the update now finds it.)
            if n == 0 {
                ensure_usage_row(c, project, resource)?;
                n = add_reserved(c, project, resource, delta, l, at)?;
            }
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
        // One `DELETE .. RETURNING` per id (a statement of fixed shape, so diesel keeps it
        // prepared) rather than a SELECT with an `IN` list of varying length and then a
        // DELETE per id. A reservation another settle already took is simply not there.
        // In id order, so two settles of the same reservations take them in one order.
        let mut ids: Vec<&String> = ids.iter().collect();
        ids.sort();
        let mut rows: Vec<(String, String, i64)> = Vec::with_capacity(ids.len());
        for id in ids {
            let taken = crate::on_backend!(c, |c| diesel::delete(
                reservations::table.filter(reservations::id.eq(id))
            )
            .returning((
                reservations::project_id,
                reservations::resource,
                reservations::delta,
            ))
            .get_result::<(String, String, i64)>(c)
            .optional())?;
            rows.extend(taken);
        }
        // Usage rows are updated in name order, as `reserve` does, so concurrent
        // settles never deadlock.
        rows.sort();
        let at = now();
        for (project, resource, delta) in rows {
            let in_use_delta = if commit { delta } else { 0 };
            super::Cached(
                diesel::update(
                    quota_usages::table
                        .filter(quota_usages::project_id.eq(&project))
                        .filter(quota_usages::resource.eq(&resource)),
                )
                .set((
                    quota_usages::reserved.eq(quota_usages::reserved - delta),
                    quota_usages::in_use.eq(quota_usages::in_use + in_use_delta),
                    quota_usages::updated_at.eq(at),
                )),
            )
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
        let n = super::Cached(
            diesel::update(target.filter(quota_usages::in_use.ge(amount))).set((
                quota_usages::in_use.eq(quota_usages::in_use - amount),
                quota_usages::updated_at.eq(now()),
            )),
        )
        .execute(c)?;
        if n == 0 {
            // Usage was already lower than what goes away: clamp at zero, never negative.
            super::Cached(diesel::update(target).set((
                quota_usages::in_use.eq(0),
                quota_usages::updated_at.eq(now()),
            )))
            .execute(c)?;
        }
    }
    Ok(())
}

/// Raises `in_use` of `project` by positive `deltas` for resources that arrive already
/// made (a transferred volume and its snapshots), each within its limit: all or nothing,
/// as [`reserve`] checks, but with no reservation in between, so the move is one step.
/// Call inside the transaction that moves the resources, with [`release`] for the
/// project they leave.
pub fn take(
    c: &mut DbConnection,
    project: &str,
    deltas: &[(&str, i64)],
    defaults: &Defaults,
) -> Result<(), DbError> {
    let mut deltas = deltas.to_vec();
    deltas.sort();
    let at = now();
    for &(resource, delta) in &deltas {
        let l = limit(c, project, resource, defaults)?;
        ensure_usage_row(c, project, resource)?;
        let target = quota_usages::table
            .filter(quota_usages::project_id.eq(project))
            .filter(quota_usages::resource.eq(resource));
        let set = (
            quota_usages::in_use.eq(quota_usages::in_use + delta),
            quota_usages::updated_at.eq(at),
        );
        // A negative limit is no limit; else the row must stay within it, the check and
        // the change one statement, as in `add_reserved`.
        let n = if l < 0 {
            diesel::update(target).set(set).execute(c)?
        } else {
            diesel::update(
                target.filter((quota_usages::in_use + quota_usages::reserved + delta).le(l)),
            )
            .set(set)
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
    }
    Ok(())
}

/// Admin-metadata key under which an extend stores its [`ExtendIntent`] (JSON) while
/// the volume is `extending`.
pub const EXTEND_INTENT: &str = "clinker:extend";

/// What an extend needs to be finished by a node that restarted: stored with the
/// `extending` status, in the same transaction as the quota reservation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExtendIntent {
    /// The size asked for.
    pub new_size: u64,
    /// The `gigabytes` reservations to commit once the volume has grown.
    pub reservations: Vec<String>,
}

/// Rolls back reservations past their expiry (a process died between reserve and
/// commit). Returns how many were released.
///
/// Reservations named by the intent of a volume still `extending` are kept whatever
/// their age: the node that grows the volume (or resumes growing it after a restart)
/// commits them, and releasing them first would leave the grown gigabytes uncounted.
/// They expire normally once the volume has left `extending` some other way (an admin
/// resetting its status, say).
pub fn expire(c: &mut DbConnection) -> Result<usize, DbError> {
    let held = held_by_extends(c)?;
    let ids: Vec<String> = reservations::table
        .filter(reservations::expire.lt(now()))
        .select(reservations::id)
        .load::<String>(c)?
        .into_iter()
        .filter(|id| !held.contains(id))
        .collect();
    rollback(c, &ids)?;
    Ok(ids.len())
}

/// The reservation ids in the stored intents of volumes that are `extending`.
pub fn held_by_extends(c: &mut DbConnection) -> Result<BTreeSet<String>, DbError> {
    let intents: Vec<String> = volume_admin_metadata::table
        .inner_join(volumes::table)
        .filter(volumes::status.eq(crate::model::VolumeStatus::Extending))
        .filter(volume_admin_metadata::meta_key.eq(EXTEND_INTENT))
        .select(volume_admin_metadata::meta_value)
        .load(c)?;
    Ok(intents
        .iter()
        .filter_map(|j| serde_json::from_str::<ExtendIntent>(j).ok())
        .flat_map(|i| i.reservations)
        .collect())
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

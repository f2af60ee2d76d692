//! A volume's status machine: scheduling, creation, transient states and removal.
//!
//! Every status change is a compare-and-set (`UPDATE ... WHERE status IN (...)`): zero rows
//! means someone else got there first, reported as [`DbError::Conflict`].

use std::collections::BTreeMap;

use diesel::prelude::*;

use crate::db::rows::VolumeRow;
use crate::db::schema::{volume_metadata, volumes};
use crate::db::{DbConnection, DbError, ledger, now, quotas, write_txn};
use crate::model::spec::RequestSpec;
use crate::model::{AttachStatus, Host, VolumeStatus};

/// Moves a volume from one of `from` to `to`.
pub fn transition(
    c: &mut DbConnection,
    id: &str,
    from: &[VolumeStatus],
    to: VolumeStatus,
) -> Result<(), DbError> {
    let n = crate::db::Cached(
        diesel::update(
            volumes::table
                .filter(volumes::id.eq(id))
                .filter(volumes::status.eq_any(from)),
        )
        .set((volumes::status.eq(to), volumes::updated_at.eq(now()))),
    )
    .execute(c)?;
    crate::db::one_row(n)
}

/// Records the scheduler's choice before the node is told: the volume must still be
/// `creating` with no host.
pub fn set_scheduled(
    c: &mut DbConnection,
    id: &str,
    host: &Host,
    request_spec: &RequestSpec,
) -> Result<(), DbError> {
    let n = crate::db::Cached(
        diesel::update(
            volumes::table
                .filter(volumes::id.eq(id))
                .filter(volumes::status.eq(VolumeStatus::Creating))
                .filter(volumes::host.is_null()),
        )
        .set((
            volumes::host.eq(host),
            volumes::request_spec.eq(request_spec),
            volumes::scheduled_at.eq(now()),
            volumes::updated_at.eq(now()),
        )),
    )
    .execute(c)?;
    crate::db::one_row(n)
}

/// A node gives a volume back for rescheduling: host cleared, status stays `creating`,
/// its GiB given back to the pool's ledger.
pub fn unschedule(c: &mut DbConnection, id: &str, host: &Host) -> Result<(), DbError> {
    write_txn(c, |c| {
        let this = volumes::table
            .filter(volumes::id.eq(id))
            .filter(volumes::status.eq(VolumeStatus::Creating))
            .filter(volumes::host.eq(host));
        let size: i64 = this
            .select(volumes::size)
            .get_result(c)
            .optional()?
            .ok_or(DbError::Conflict)?;
        let n = diesel::update(this)
            .set((
                volumes::host.eq(None::<Host>),
                volumes::updated_at.eq(now()),
            ))
            .execute(c)?;
        crate::db::one_row(n)?;
        ledger::adjust(c, host.as_str(), -size)
    })
}

/// The node finished creating the volume.
pub fn mark_created(
    c: &mut DbConnection,
    id: &str,
    host: &Host,
    provider_location: Option<&str>,
) -> Result<(), DbError> {
    let n = crate::db::Cached(
        diesel::update(
            volumes::table
                .filter(volumes::id.eq(id))
                .filter(volumes::status.eq(VolumeStatus::Creating))
                .filter(volumes::host.eq(host)),
        )
        .set((
            volumes::status.eq(VolumeStatus::Available),
            volumes::provider_location.eq(provider_location),
            volumes::launched_at.eq(now()),
            volumes::updated_at.eq(now()),
        )),
    )
    .execute(c)?;
    crate::db::one_row(n)
}

/// Deletes the row and gives its quota back, in one transaction, so usage never drifts
/// from the rows. Returns false if the row was already gone.
pub fn destroy_and_release(c: &mut DbConnection, id: &str) -> Result<bool, DbError> {
    destroy(c, id, false)
}

/// Like [`destroy_and_release`], but only while the volume has no host (never placed).
/// Returns false if the row is gone or was placed meanwhile.
pub fn destroy_unplaced_and_release(c: &mut DbConnection, id: &str) -> Result<bool, DbError> {
    destroy(c, id, true)
}

fn destroy(c: &mut DbConnection, id: &str, only_unplaced: bool) -> Result<bool, DbError> {
    write_txn(c, |c| {
        // Not boxed: a query of fixed shape keeps its prepared statement in diesel's cache.
        let this = volumes::table.filter(volumes::id.eq(id));
        let what = (
            volumes::project_id,
            volumes::size,
            volumes::volume_type_id,
            volumes::host,
        );
        let row: Option<(String, i64, String, Option<Host>)> = if only_unplaced {
            this.filter(volumes::host.is_null())
                .select(what)
                .get_result(c)
                .optional()?
        } else {
            this.select(what).get_result(c).optional()?
        };
        let Some((project, size, type_id, host)) = row else {
            return Ok(false);
        };
        // Metadata goes with the row (ON DELETE CASCADE).
        let gone = if only_unplaced {
            diesel::delete(this.filter(volumes::host.is_null())).execute(c)?
        } else {
            diesel::delete(this).execute(c)?
        };
        if gone == 0 {
            return Ok(false);
        }
        // The type cannot be gone: a type is not deleted while volumes use it.
        let type_name = crate::db::types::name_of(c, &type_id)?.unwrap_or(type_id);
        let deltas = crate::model::quota::volume_deltas(&type_name, size);
        let deltas: Vec<(&str, i64)> = deltas.iter().map(|(r, d)| (r.as_str(), *d)).collect();
        quotas::release(c, &project, &deltas)?;
        if let Some(host) = host {
            ledger::adjust(c, host.as_str(), -size)?;
        }
        Ok(true)
    })
}

/// The volumes placed on `node`, optionally only those in `states`. `LIKE` narrows the scan;
/// the exact comparison of the host's node keeps `_`/`%` in names and SQLite's
/// case-folding `LIKE` from matching another node's volumes.
fn on_node(
    c: &mut DbConnection,
    node: &str,
    states: Option<&[VolumeStatus]>,
) -> Result<Vec<VolumeRow>, DbError> {
    let mut q = volumes::table
        .filter(volumes::host.like(format!("{node}@%")))
        .into_boxed();
    if let Some(states) = states {
        q = q.filter(volumes::status.eq_any(states));
    }
    let rows: Vec<VolumeRow> = q.select(VolumeRow::as_select()).load(c)?;
    Ok(rows
        .into_iter()
        .filter(|r| r.host.as_ref().is_some_and(|h| h.node() == node))
        .collect())
}

/// Sum of the sizes of the volumes placed on `node` (any pool), as
/// `(host, gigabytes)`; recounted when a node starts.
pub fn allocated_by_host(c: &mut DbConnection, node: &str) -> Result<Vec<(Host, i64)>, DbError> {
    let mut out: BTreeMap<Host, i64> = BTreeMap::new();
    for r in on_node(c, node, None)? {
        if let Some(h) = r.host {
            *out.entry(h).or_default() += r.size;
        }
    }
    Ok(out.into_iter().collect())
}

/// The states a volume only passes through; the node's start-up recovery resumes or
/// rolls back every one of them.
pub const TRANSITIONAL: &[VolumeStatus] = &[
    VolumeStatus::Creating,
    VolumeStatus::Deleting,
    VolumeStatus::Extending,
    VolumeStatus::Reverting,
    VolumeStatus::Retyping,
    VolumeStatus::Attaching,
    VolumeStatus::Detaching,
    VolumeStatus::Reserved,
];

/// Volumes of `node` that are not in a stable state, for the node's start-up recovery.
pub fn unfinished_on_node(c: &mut DbConnection, node: &str) -> Result<Vec<VolumeRow>, DbError> {
    on_node(c, node, Some(TRANSITIONAL))
}

/// Every volume placed on `node`, for the comparison of the node's backend with the rows.
pub fn all_on_node(c: &mut DbConnection, node: &str) -> Result<Vec<VolumeRow>, DbError> {
    on_node(c, node, None)
}

/// Moves a volume from `from` back to the status it had before (`previous_status`,
/// else `available`), clearing `previous_status`: the roll-back of an interrupted
/// transient state.
pub fn restore_previous(c: &mut DbConnection, id: &str, from: VolumeStatus) -> Result<(), DbError> {
    leave_transient(c, id, from, None)
}

/// Ends a transient state `from`: back to `previous_status` (else `available`), with
/// the new size if one is given.
fn leave_transient(
    c: &mut DbConnection,
    id: &str,
    from: VolumeStatus,
    size: Option<i64>,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        let (prev, old_size, host): (Option<VolumeStatus>, i64, Option<Host>) = volumes::table
            .filter(volumes::id.eq(id))
            .select((volumes::previous_status, volumes::size, volumes::host))
            .get_result(c)?;
        let back = prev.unwrap_or(VolumeStatus::Available);
        let n = diesel::update(
            volumes::table
                .filter(volumes::id.eq(id))
                .filter(volumes::status.eq(from)),
        )
        .set((
            volumes::status.eq(back),
            volumes::size.eq(size.unwrap_or(old_size)),
            volumes::previous_status.eq(None::<VolumeStatus>),
            volumes::updated_at.eq(now()),
        ))
        .execute(c)?;
        crate::db::one_row(n)?;
        // A grown volume takes its growth from its pool.
        if let (Some(new), Some(host)) = (size, &host) {
            ledger::adjust(c, host.as_str(), new - old_size)?;
        }
        // Attachments may have come or gone meanwhile: a status that follows them is
        // derived from them again rather than restored.
        let follows_attachments = [
            VolumeStatus::Available,
            VolumeStatus::InUse,
            VolumeStatus::Reserved,
            VolumeStatus::Attaching,
            VolumeStatus::Detaching,
        ];
        if follows_attachments.contains(&back) {
            crate::db::attachments::derive_volume_status(c, id)?;
        }
        Ok(())
    })
}

/// Volumes that were accepted but never placed (`creating`, no host): a crash between
/// the API's cast and the scheduler's write leaves these.
pub fn unscheduled(c: &mut DbConnection) -> Result<Vec<VolumeRow>, DbError> {
    Ok(volumes::table
        .filter(volumes::status.eq(VolumeStatus::Creating))
        .filter(volumes::host.is_null())
        .select(VolumeRow::as_select())
        .load(c)?)
}

/// Volumes being deleted that never reached a node.
pub fn deleting_without_host(c: &mut DbConnection) -> Result<Vec<String>, DbError> {
    Ok(volumes::table
        .filter(volumes::status.eq(VolumeStatus::Deleting))
        .filter(volumes::host.is_null())
        .select(volumes::id)
        .load(c)?)
}

/// Replaces the stored request spec (the reschedule history lives there).
pub fn set_request_spec(
    c: &mut DbConnection,
    id: &str,
    request_spec: &RequestSpec,
) -> Result<(), DbError> {
    diesel::update(volumes::table.filter(volumes::id.eq(id)))
        .set(volumes::request_spec.eq(request_spec))
        .execute(c)?;
    Ok(())
}

/// Removes the row of a create that was refused before its quota was committed.
pub fn delete_uncommitted(c: &mut DbConnection, id: &str) -> Result<(), DbError> {
    write_txn(c, |c| {
        diesel::delete(volume_metadata::table.filter(volume_metadata::volume_id.eq(id)))
            .execute(c)?;
        diesel::delete(volumes::table.filter(volumes::id.eq(id))).execute(c)?;
        Ok(())
    })
}

/// Moves a volume to `to`, remembering where it came from (for extend, retype...).
pub fn begin_transient(
    c: &mut DbConnection,
    id: &str,
    from: &[VolumeStatus],
    to: VolumeStatus,
) -> Result<VolumeStatus, DbError> {
    write_txn(c, |c| {
        let current: VolumeStatus = volumes::table
            .filter(volumes::id.eq(id))
            .select(volumes::status)
            .get_result(c)?;
        let n = diesel::update(
            volumes::table
                .filter(volumes::id.eq(id))
                .filter(volumes::status.eq(current))
                .filter(volumes::status.eq_any(from)),
        )
        .set((
            volumes::status.eq(to),
            volumes::previous_status.eq(current),
            volumes::updated_at.eq(now()),
        ))
        .execute(c)?;
        crate::db::one_row(n).map(|()| current)
    })
}

/// An extend finished: new size, back to the status before `extending`.
pub fn finish_extend(c: &mut DbConnection, id: &str, size: i64) -> Result<(), DbError> {
    leave_transient(c, id, VolumeStatus::Extending, Some(size))
}

/// Sets status and/or attach status without conditions (admin `os-reset_status`).
pub fn reset_status(
    c: &mut DbConnection,
    id: &str,
    status: Option<VolumeStatus>,
    attach_status: Option<AttachStatus>,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        let target = volumes::table.filter(volumes::id.eq(id));
        if let Some(s) = status {
            diesel::update(target)
                .set((volumes::status.eq(s), volumes::updated_at.eq(now())))
                .execute(c)?;
        }
        if let Some(a) = attach_status {
            diesel::update(target)
                .set((volumes::attach_status.eq(a), volumes::updated_at.eq(now())))
                .execute(c)?;
        }
        Ok(())
    })
}

/// Changes a volume's type while its status is still `from`.
pub fn set_type(
    c: &mut DbConnection,
    id: &str,
    from: VolumeStatus,
    type_id: &str,
) -> Result<(), DbError> {
    let n = diesel::update(
        volumes::table
            .filter(volumes::id.eq(id))
            .filter(volumes::status.eq(from)),
    )
    .set((
        volumes::volume_type_id.eq(type_id),
        volumes::updated_at.eq(now()),
    ))
    .execute(c)?;
    crate::db::one_row(n)
}

/// Volumes of `node` that consumers may be connected to (their exports are re-created
/// when the node starts).
pub fn attached_on_node(c: &mut DbConnection, node: &str) -> Result<Vec<(String, i64)>, DbError> {
    let states = [
        VolumeStatus::InUse,
        VolumeStatus::Attaching,
        VolumeStatus::Detaching,
        VolumeStatus::Reserved,
    ];
    Ok(on_node(c, node, Some(&states))?
        .into_iter()
        .map(|r| (r.id, r.size))
        .collect())
}

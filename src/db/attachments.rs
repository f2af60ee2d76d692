//! Attachments and the volume's admin metadata (`readonly`, `attached_mode`).

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::rows::AttachmentRow;
use super::schema::{volume_admin_metadata, volume_attachment, volumes};
use super::{DbConnection, DbError, Found, Resource, in_ids, now, write_txn};
use crate::model::{AttachStatus, ProjectId, VolumeStatus};

/// Stores a new attachment.
pub fn insert(c: &mut DbConnection, row: &AttachmentRow) -> Result<(), DbError> {
    diesel::insert_into(volume_attachment::table)
        .values(row)
        .execute(c)?;
    Ok(())
}

/// One attachment; `project` limits the lookup (non-admins).
pub fn get(
    c: &mut DbConnection,
    id: &str,
    project: Option<&ProjectId>,
) -> Result<AttachmentRow, DbError> {
    let mut q = volume_attachment::table
        .filter(volume_attachment::id.eq(id))
        .into_boxed();
    if let Some(p) = project {
        q = q.filter(volume_attachment::project_id.eq(p));
    }
    q.select(AttachmentRow::as_select())
        .get_result(c)
        .found(Resource::Attachment, id)
}

/// Every attachment of a volume, oldest first.
pub fn of_volume(c: &mut DbConnection, volume_id: &str) -> Result<Vec<AttachmentRow>, DbError> {
    Ok(volume_attachment::table
        .filter(volume_attachment::volume_id.eq(volume_id))
        .order(volume_attachment::created_at.asc())
        .select(AttachmentRow::as_select())
        .load(c)?)
}

/// The attachments of many volumes, by volume id.
pub fn of_volumes(
    c: &mut DbConnection,
    ids: &[String],
) -> Result<BTreeMap<String, Vec<AttachmentRow>>, DbError> {
    let rows: Vec<AttachmentRow> = volume_attachment::table
        .filter(in_ids(c, volume_attachment::volume_id, ids))
        .order(volume_attachment::created_at.asc())
        .select(AttachmentRow::as_select())
        .load(c)?;
    let mut out: BTreeMap<String, Vec<AttachmentRow>> = BTreeMap::new();
    for r in rows {
        out.entry(r.volume_id.clone()).or_default().push(r);
    }
    Ok(out)
}

/// Filters for an attachment list.
#[derive(Debug, Clone, Default)]
pub struct AttachmentQuery {
    /// Only this project (`None`: all, admins).
    pub project: Option<ProjectId>,
    /// Only this volume.
    pub volume_id: Option<String>,
    /// Only this status, as the caller spelled it: a value no attachment can have
    /// matches none, as in Cinder's filters.
    pub status: Option<String>,
    /// Only this instance.
    pub instance_id: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Skip.
    pub offset: i64,
}

/// Lists attachments, newest first.
pub fn list(c: &mut DbConnection, q: &AttachmentQuery) -> Result<Vec<AttachmentRow>, DbError> {
    let mut b = volume_attachment::table.into_boxed();
    if let Some(p) = &q.project {
        b = b.filter(volume_attachment::project_id.eq(p));
    }
    if let Some(v) = &q.volume_id {
        b = b.filter(volume_attachment::volume_id.eq(v));
    }
    if let Some(s) = &q.status {
        b = b.filter(volume_attachment::attach_status.eq(s));
    }
    if let Some(i) = &q.instance_id {
        b = b.filter(volume_attachment::instance_uuid.eq(i));
    }
    Ok(b.order((
        volume_attachment::created_at.desc(),
        volume_attachment::id.desc(),
    ))
    .offset(q.offset)
    .limit(q.limit)
    .select(AttachmentRow::as_select())
    .load(c)?)
}

/// Records a connection made for an attachment (status `attaching`).
pub fn set_connection(
    c: &mut DbConnection,
    id: &str,
    connector: &str,
    connection_info: &str,
    mode: &str,
) -> Result<(), DbError> {
    let n = diesel::update(volume_attachment::table.filter(volume_attachment::id.eq(id)))
        .set((
            volume_attachment::connector.eq(connector),
            volume_attachment::connection_info.eq(connection_info),
            volume_attachment::attach_mode.eq(mode),
            volume_attachment::attach_status.eq(AttachStatus::Attaching),
            volume_attachment::updated_at.eq(now()),
        ))
        .execute(c)?;
    if n == 1 {
        Ok(())
    } else {
        Err(DbError::not_found(Resource::Attachment, id))
    }
}

/// Marks an attachment attached (`os-complete`, legacy attach).
pub fn mark_attached(c: &mut DbConnection, id: &str) -> Result<(), DbError> {
    let n = diesel::update(volume_attachment::table.filter(volume_attachment::id.eq(id)))
        .set((
            volume_attachment::attach_status.eq(AttachStatus::Attached),
            volume_attachment::attach_time.eq(now()),
            volume_attachment::updated_at.eq(now()),
        ))
        .execute(c)?;
    if n == 1 {
        Ok(())
    } else {
        Err(DbError::not_found(Resource::Attachment, id))
    }
}

/// Removes an attachment.
pub fn delete(c: &mut DbConnection, id: &str) -> Result<(), DbError> {
    diesel::delete(volume_attachment::table.filter(volume_attachment::id.eq(id))).execute(c)?;
    Ok(())
}

/// Removes every attachment of a volume (reset of `attach_status` to detached).
pub fn delete_all_of(c: &mut DbConnection, volume_id: &str) -> Result<(), DbError> {
    diesel::delete(volume_attachment::table.filter(volume_attachment::volume_id.eq(volume_id)))
        .execute(c)?;
    Ok(())
}

/// Recomputes a volume's status and attach_status from its attachments (cinder-api.md
/// §7.2): the alphabetically first non-error attachment status wins (attached >
/// attaching > detaching > reserved); none left means `available`/`detached`. A volume in
/// `maintenance`, `uploading` or a status of server-owned work (`extending`, ...) keeps
/// its status.
pub fn derive_volume_status(c: &mut DbConnection, volume_id: &str) -> Result<(), DbError> {
    write_txn(c, |c| {
        // A stored state no `AttachStatus` spells (an `error_*` of another version, a
        // hand edit) fails this load as `Corrupt` and changes nothing, rather than being
        // skipped as an error state: skipping it would settle the volume from the other
        // attachments (to `available` if there are none), and a volume still exported
        // to a consumer could then be deleted or attached again. Only the two error
        // states Cinder defines are known to hold no export.
        let states: Vec<AttachStatus> = volume_attachment::table
            .filter(volume_attachment::volume_id.eq(volume_id))
            .select(volume_attachment::attach_status)
            .load(c)?;
        let (attach, status) = settled_status(&states);
        // Statuses of work the server owns are left for that work to end: an extend of an
        // in-use volume whose attachment goes meanwhile must still find `extending`
        // (it derives the status again when it ends).
        let keep = [
            VolumeStatus::Maintenance,
            VolumeStatus::Uploading,
            VolumeStatus::Extending,
            VolumeStatus::Retyping,
            VolumeStatus::Reverting,
            VolumeStatus::Creating,
            VolumeStatus::Deleting,
        ];
        diesel::update(
            volumes::table
                .filter(volumes::id.eq(volume_id))
                .filter(volumes::status.ne_all(keep)),
        )
        .set((volumes::status.eq(status), volumes::updated_at.eq(now())))
        .execute(c)?;
        diesel::update(volumes::table.filter(volumes::id.eq(volume_id)))
            .set(volumes::attach_status.eq(attach))
            .execute(c)?;
        Ok(())
    })
}

/// The attach status and status a volume takes from its attachments' states: the
/// first by Cinder's spelling, errors left out (alphabetical order puts `attached`
/// before `attaching`, `detaching` and `reserved`, which is the precedence Cinder means).
fn settled_status(states: &[AttachStatus]) -> (AttachStatus, VolumeStatus) {
    states
        .iter()
        .filter_map(|&s| {
            let status = match s {
                AttachStatus::Attached => VolumeStatus::InUse,
                AttachStatus::Detached => VolumeStatus::Available,
                AttachStatus::Reserved => VolumeStatus::Reserved,
                AttachStatus::Attaching => VolumeStatus::Attaching,
                AttachStatus::Detaching => VolumeStatus::Detaching,
                AttachStatus::ErrorAttaching | AttachStatus::ErrorDetaching => return None,
            };
            Some((s, status))
        })
        .min_by_key(|(s, _)| s.as_str())
        .unwrap_or((AttachStatus::Detached, VolumeStatus::Available))
}

/// A volume's admin metadata.
pub fn admin_metadata(
    c: &mut DbConnection,
    volume_ids: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, DbError> {
    let rows: Vec<(String, String, String)> = volume_admin_metadata::table
        .filter(in_ids(c, volume_admin_metadata::volume_id, volume_ids))
        .select((
            volume_admin_metadata::volume_id,
            volume_admin_metadata::meta_key,
            volume_admin_metadata::meta_value,
        ))
        .load(c)?;
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (v, k, val) in rows {
        out.entry(v).or_default().insert(k, val);
    }
    Ok(out)
}

/// Removes one admin metadata key; a key that is not there is a success.
pub fn delete_admin_metadata(
    c: &mut DbConnection,
    volume_id: &str,
    key: &str,
) -> Result<(), DbError> {
    diesel::delete(
        volume_admin_metadata::table
            .filter(volume_admin_metadata::volume_id.eq(volume_id))
            .filter(volume_admin_metadata::meta_key.eq(key)),
    )
    .execute(c)?;
    Ok(())
}

/// Sets one admin metadata key.
pub fn set_admin_metadata(
    c: &mut DbConnection,
    volume_id: &str,
    key: &str,
    value: &str,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        diesel::delete(
            volume_admin_metadata::table
                .filter(volume_admin_metadata::volume_id.eq(volume_id))
                .filter(volume_admin_metadata::meta_key.eq(key)),
        )
        .execute(c)?;
        diesel::insert_into(volume_admin_metadata::table)
            .values((
                volume_admin_metadata::volume_id.eq(volume_id),
                volume_admin_metadata::meta_key.eq(key),
                volume_admin_metadata::meta_value.eq(value),
            ))
            .execute(c)?;
        Ok(())
    })
}

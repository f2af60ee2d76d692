//! Queries on volumes, their metadata and their types: reading one volume, inserting
//! it, its name and metadata here; lists with their filters and pages in `listing`;
//! the status machine (scheduling, transient states, removal) in `lifecycle`.

mod lifecycle;
mod listing;

use std::collections::BTreeMap;

use diesel::prelude::*;

pub use self::lifecycle::{
    TRANSITIONAL, all_on_node, allocated_by_host, attached_on_node, begin_transient,
    delete_uncommitted, deleting_without_host, destroy_and_release, destroy_unplaced_and_release,
    finish_extend, mark_created, reset_status, restore_previous, set_request_spec, set_scheduled,
    set_type, transition, unfinished_on_node, unschedule, unscheduled,
};
pub use self::listing::{ListQuery, SortKey, TimeFilter, TimeOp, count, list};
use super::rows::{AttachmentRow, VolumeMetadataRow, VolumeRow, VolumeTypeRow};
use super::schema::{snapshots, volume_metadata, volume_type_encryption, volume_types, volumes};
use super::{DbConnection, DbError, Found, Resource, attachments, in_ids, now, write_txn};
use crate::model::{AttachStatus, Host, ProjectId, SnapshotStatus, VolumeStatus};

/// A volume with what its views need: metadata, attachments and the type's name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VolumeRecord {
    /// The row.
    pub row: VolumeRow,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    /// Admin metadata (`readonly`, `attached_mode`).
    pub admin_metadata: BTreeMap<String, String>,
    /// Every attachment, oldest first.
    pub attachments: Vec<AttachmentRow>,
    /// The type's name.
    pub type_name: String,
    /// Whether the type has encryption (Cinder: the volume has an encryption key); fixed
    /// for the volume's life, since a type's encryption cannot change while in use.
    pub encrypted: bool,
}

/// A volume type with its extra specs.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeTypeRecord {
    /// The row.
    pub row: VolumeTypeRow,
    /// Extra specs.
    pub extra_specs: BTreeMap<String, String>,
}

/// States a volume may be cloned in (Cinder's ExtractVolumeRequestTask).
pub const CLONE_SOURCE_STATES: [VolumeStatus; 2] = [VolumeStatus::Available, VolumeStatus::InUse];

/// Inserts a new volume and its metadata in one transaction. A copy is inserted only
/// while its source is still usable (a source volume in [`CLONE_SOURCE_STATES`], a
/// snapshot `available`; else `Conflict`), so a delete of the source that won the race
/// is seen.
pub fn insert(
    c: &mut DbConnection,
    row: &VolumeRow,
    metadata: &BTreeMap<String, String>,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        let ready = match (&row.source_volid, &row.snapshot_id) {
            (Some(source), _) => volumes::table
                .filter(volumes::id.eq(source))
                .filter(volumes::status.eq_any(CLONE_SOURCE_STATES))
                .count()
                .get_result::<i64>(c)?,
            (None, Some(snap)) => snapshots::table
                .filter(snapshots::id.eq(snap))
                .filter(snapshots::status.eq(SnapshotStatus::Available))
                .count()
                .get_result::<i64>(c)?,
            (None, None) => 1,
        };
        if ready == 0 {
            return Err(DbError::Conflict);
        }
        diesel::insert_into(volumes::table).values(row).execute(c)?;
        insert_metadata(c, &row.id, metadata)
    })
}

fn insert_metadata(
    c: &mut DbConnection,
    volume_id: &str,
    metadata: &BTreeMap<String, String>,
) -> Result<(), DbError> {
    if metadata.is_empty() {
        return Ok(());
    }
    let rows: Vec<VolumeMetadataRow> = metadata
        .iter()
        .map(|(k, v)| VolumeMetadataRow {
            volume_id: volume_id.to_string(),
            meta_key: k.clone(),
            meta_value: v.clone(),
        })
        .collect();
    crate::on_backend!(c, |c| diesel::insert_into(volume_metadata::table)
        .values(&rows)
        .execute(c))?;
    Ok(())
}

/// Reads one volume. `project` limits the lookup to that project (non-admins); another
/// project's volume is then `NotFound`, so ids do not leak.
pub fn get(
    c: &mut DbConnection,
    id: &str,
    project: Option<&ProjectId>,
) -> Result<VolumeRecord, DbError> {
    let mut query = volumes::table
        .inner_join(volume_types::table.left_join(volume_type_encryption::table))
        .filter(volumes::id.eq(id))
        .select((
            VolumeRow::as_select(),
            volume_types::name,
            volume_type_encryption::volume_type_id.nullable(),
        ))
        .into_boxed();
    if let Some(p) = project {
        query = query.filter(volumes::project_id.eq(p));
    }
    let (row, type_name, encryption) = query
        .get_result::<(VolumeRow, String, Option<String>)>(c)
        .found(Resource::Volume, id)?;
    let ids = std::slice::from_ref(&row.id);
    let metadata = metadata_of(c, ids)?.remove(&row.id).unwrap_or_default();
    let admin_metadata = attachments::admin_metadata(c, ids)?
        .remove(&row.id)
        .unwrap_or_default();
    let attachments = attachments::of_volumes(c, ids)?
        .remove(&row.id)
        .unwrap_or_default();
    Ok(VolumeRecord {
        row,
        metadata,
        admin_metadata,
        attachments,
        type_name,
        encrypted: encryption.is_some(),
    })
}

/// What a delete checks first: the volume's attach status and host, `NotFound` if it
/// is not there or (with `project`) is another project's. One cached statement, where
/// [`get`] reads the whole record in four.
pub fn attach_status_and_host(
    c: &mut DbConnection,
    id: &str,
    project: Option<&str>,
) -> Result<(AttachStatus, Option<Host>), DbError> {
    let this = volumes::table.filter(volumes::id.eq(id));
    let what = (volumes::attach_status, volumes::host);
    match project {
        Some(p) => this
            .filter(volumes::project_id.eq(p))
            .select(what)
            .get_result(c),
        None => this.select(what).get_result(c),
    }
    .found(Resource::Volume, id)
}

/// A volume's status, size and host alone: one indexed lookup, for the checks on hot
/// paths (a node's create and delete) that need nothing else of the row.
pub fn status_size_host(
    c: &mut DbConnection,
    id: &str,
) -> Result<(VolumeStatus, i64, Option<Host>), DbError> {
    volumes::table
        .filter(volumes::id.eq(id))
        .select((volumes::status, volumes::size, volumes::host))
        .get_result(c)
        .found(Resource::Volume, id)
}

fn metadata_of(
    c: &mut DbConnection,
    ids: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, DbError> {
    let rows: Vec<VolumeMetadataRow> = volume_metadata::table
        .filter(in_ids(c, volume_metadata::volume_id, ids))
        .select(VolumeMetadataRow::as_select())
        .load(c)?;
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for r in rows {
        out.entry(r.volume_id)
            .or_default()
            .insert(r.meta_key, r.meta_value);
    }
    Ok(out)
}

/// Changes name, description and (when given) replaces all metadata.
pub fn update_fields(
    c: &mut DbConnection,
    id: &str,
    name: Option<Option<String>>,
    description: Option<Option<String>>,
    metadata: Option<BTreeMap<String, String>>,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        let target = volumes::table.filter(volumes::id.eq(id));
        let n = diesel::update(target)
            .set(volumes::updated_at.eq(now()))
            .execute(c)?;
        if n == 0 {
            return Err(DbError::not_found(Resource::Volume, id));
        }
        if let Some(name) = name {
            diesel::update(target)
                .set(volumes::display_name.eq(name))
                .execute(c)?;
        }
        if let Some(d) = description {
            diesel::update(target)
                .set(volumes::display_description.eq(d))
                .execute(c)?;
        }
        if let Some(m) = metadata {
            diesel::delete(volume_metadata::table.filter(volume_metadata::volume_id.eq(id)))
                .execute(c)?;
            insert_metadata(c, id, &m)?;
        }
        Ok(())
    })
}

/// How many volumes copied from `source` (a volume or a snapshot id) are still being
/// made: the node reads the source meanwhile.
pub fn copies_in_progress(c: &mut DbConnection, source: &str) -> Result<i64, DbError> {
    Ok(volumes::table
        .filter(
            volumes::source_volid
                .eq(source)
                .or(volumes::snapshot_id.eq(source)),
        )
        .filter(volumes::status.eq(VolumeStatus::Creating))
        .count()
        .get_result(c)?)
}
/// Adds or overwrites metadata keys, keeping the others; more than `max_items` keys
/// afterwards is [`DbError::TooManyItems`] and changes nothing.
pub fn merge_metadata(
    c: &mut DbConnection,
    id: &str,
    metadata: &BTreeMap<String, String>,
    max_items: usize,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        let keys: Vec<&String> = metadata.keys().collect();
        diesel::delete(
            volume_metadata::table
                .filter(volume_metadata::volume_id.eq(id))
                .filter(volume_metadata::meta_key.eq_any(keys)),
        )
        .execute(c)?;
        insert_metadata(c, id, metadata)?;
        let count: i64 = volume_metadata::table
            .filter(volume_metadata::volume_id.eq(id))
            .count()
            .get_result(c)?;
        crate::db::at_most_items(count, max_items)?;
        diesel::update(volumes::table.filter(volumes::id.eq(id)))
            .set(volumes::updated_at.eq(now()))
            .execute(c)?;
        Ok(())
    })
}

/// Removes one metadata key; `NotFound` if it was not there.
pub fn delete_metadata_key(c: &mut DbConnection, id: &str, key: &str) -> Result<(), DbError> {
    let n = diesel::delete(
        volume_metadata::table
            .filter(volume_metadata::volume_id.eq(id))
            .filter(volume_metadata::meta_key.eq(key)),
    )
    .execute(c)?;
    if n == 1 {
        Ok(())
    } else {
        Err(DbError::not_found(
            Resource::VolumeMetadata { volume: id.into() },
            key,
        ))
    }
}

/// Sets `bootable`.
pub fn set_bootable(c: &mut DbConnection, id: &str, bootable: bool) -> Result<(), DbError> {
    let n = diesel::update(volumes::table.filter(volumes::id.eq(id)))
        .set((
            volumes::bootable.eq(bootable),
            volumes::updated_at.eq(now()),
        ))
        .execute(c)?;
    if n == 1 {
        Ok(())
    } else {
        Err(DbError::not_found(Resource::Volume, id))
    }
}

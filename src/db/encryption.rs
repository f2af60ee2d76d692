//! Volume type encryption (Cinder's `encryption` table, `/types/{id}/encryption`).
//!
//! A type's encryption cannot be created, changed or removed while any volume has the
//! type (Cinder refuses the same), so "the volume's type has encryption" and "the volume
//! was made encrypted" never disagree, and the volume views read `encrypted` from the
//! type. The check and the write share one transaction.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{volume_type_encryption, volume_types, volumes};
use super::{DbConnection, DbError, Found, Resource, now, write_txn};

/// A `volume_type_encryption` row.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = volume_type_encryption)]
pub struct EncryptionRow {
    /// The type it belongs to.
    pub volume_type_id: String,
    /// UUID of the entry.
    pub encryption_id: String,
    /// e.g. `aes-xts-plain64`.
    pub cipher: Option<String>,
    /// Key size in bits.
    pub key_size: Option<i64>,
    /// e.g. `luks`.
    pub provider: String,
    /// `front-end` or `back-end`.
    pub control_location: String,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Last change.
    pub updated_at: Option<NaiveDateTime>,
}

/// A change to an entry: each `Some` field is set (`cipher: Some(None)` clears it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionChange {
    /// New cipher.
    pub cipher: Option<Option<String>>,
    /// New key size.
    pub key_size: Option<Option<i64>>,
    /// New provider.
    pub provider: Option<String>,
    /// New control location.
    pub control_location: Option<String>,
}

/// Why a write was refused (nothing written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A volume has the type.
    InUse,
    /// The type has an entry already (create only).
    Exists,
}

/// Whether any volume has type `type_id`.
fn in_use(c: &mut DbConnection, type_id: &str) -> Result<bool, DbError> {
    let n: i64 = volumes::table
        .filter(volumes::volume_type_id.eq(type_id))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// `NotFound` unless type `type_id` exists.
fn type_exists(c: &mut DbConnection, type_id: &str) -> Result<(), DbError> {
    volume_types::table
        .filter(volume_types::id.eq(type_id))
        .select(volume_types::id)
        .get_result::<String>(c)
        .found(Resource::VolumeType, type_id)
        .map(|_| ())
}

/// The type's entry, if it has one.
pub fn find(c: &mut DbConnection, type_id: &str) -> Result<Option<EncryptionRow>, DbError> {
    Ok(volume_type_encryption::table
        .filter(volume_type_encryption::volume_type_id.eq(type_id))
        .select(EncryptionRow::as_select())
        .get_result(c)
        .optional()?)
}

/// Which of `type_ids` have an entry, for the `encrypted` of volume views.
pub fn encrypted_types(
    c: &mut DbConnection,
    type_ids: &[String],
) -> Result<BTreeSet<String>, DbError> {
    Ok(volume_type_encryption::table
        .filter(volume_type_encryption::volume_type_id.eq_any(type_ids))
        .select(volume_type_encryption::volume_type_id)
        .load::<String>(c)?
        .into_iter()
        .collect())
}

/// Stores `row` for its type. Cinder's order: a type in use is refused first, then an
/// unknown type is `NotFound`, then an existing entry is refused.
pub fn create(c: &mut DbConnection, row: &EncryptionRow) -> Result<Result<(), Refusal>, DbError> {
    write_txn(c, |c| {
        if in_use(c, &row.volume_type_id)? {
            return Ok(Err(Refusal::InUse));
        }
        type_exists(c, &row.volume_type_id)?;
        if find(c, &row.volume_type_id)?.is_some() {
            return Ok(Err(Refusal::Exists));
        }
        diesel::insert_into(volume_type_encryption::table)
            .values(row)
            .execute(c)?;
        Ok(Ok(()))
    })
}

/// Applies `change` to the type's entry and answers it as stored. An unknown type, or a
/// type without an entry, is `NotFound`; a type in use is refused.
pub fn update(
    c: &mut DbConnection,
    type_id: &str,
    change: &EncryptionChange,
) -> Result<Result<EncryptionRow, Refusal>, DbError> {
    write_txn(c, |c| {
        type_exists(c, type_id)?;
        if in_use(c, type_id)? {
            return Ok(Err(Refusal::InUse));
        }
        let mut row =
            find(c, type_id)?.ok_or_else(|| DbError::not_found(Resource::Encryption, type_id))?;
        if let Some(v) = &change.cipher {
            row.cipher = v.clone();
        }
        if let Some(v) = change.key_size {
            row.key_size = v;
        }
        if let Some(v) = &change.provider {
            row.provider = v.clone();
        }
        if let Some(v) = &change.control_location {
            row.control_location = v.clone();
        }
        row.updated_at = Some(now());
        diesel::update(
            volume_type_encryption::table
                .filter(volume_type_encryption::volume_type_id.eq(type_id)),
        )
        .set((
            volume_type_encryption::cipher.eq(&row.cipher),
            volume_type_encryption::key_size.eq(row.key_size),
            volume_type_encryption::provider.eq(&row.provider),
            volume_type_encryption::control_location.eq(&row.control_location),
            volume_type_encryption::updated_at.eq(row.updated_at),
        ))
        .execute(c)?;
        Ok(Ok(row))
    })
}

/// Removes the type's entry: refused while the type is in use, `NotFound` without one.
pub fn delete(c: &mut DbConnection, type_id: &str) -> Result<Result<(), Refusal>, DbError> {
    write_txn(c, |c| {
        if in_use(c, type_id)? {
            return Ok(Err(Refusal::InUse));
        }
        let gone = diesel::delete(
            volume_type_encryption::table
                .filter(volume_type_encryption::volume_type_id.eq(type_id)),
        )
        .execute(c)?;
        if gone == 0 {
            return Err(DbError::not_found(Resource::Encryption, type_id));
        }
        Ok(Ok(()))
    })
}

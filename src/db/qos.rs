//! QoS specs and their association with volume types (cinder-api.md §11).

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{qos_spec_values, qos_specs, volume_type_qos, volume_types};
use super::{DbConnection, DbError, Found, Resource, write_txn};

/// A QoS specs entry with its key/value pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QosDetail {
    /// UUID.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// `back-end`, `front-end` or `both`.
    pub consumer: String,
    /// The specs.
    pub specs: BTreeMap<String, String>,
    /// Creation time.
    pub created_at: NaiveDateTime,
}

/// Why an association was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssociateRefusal {
    /// The type carries other QoS specs already (their id).
    OtherSpecs(String),
}

fn specs_of(
    c: &mut DbConnection,
    ids: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, DbError> {
    let rows: Vec<(String, String, String)> = qos_spec_values::table
        .filter(qos_spec_values::qos_specs_id.eq_any(ids))
        .select((
            qos_spec_values::qos_specs_id,
            qos_spec_values::spec_key,
            qos_spec_values::spec_value,
        ))
        .load(c)?;
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (id, k, v) in rows {
        out.entry(id).or_default().insert(k, v);
    }
    Ok(out)
}

fn detail(
    c: &mut DbConnection,
    rows: Vec<(String, String, String, NaiveDateTime)>,
) -> Result<Vec<QosDetail>, DbError> {
    let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let mut specs = specs_of(c, &ids)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, consumer, created_at)| QosDetail {
            specs: specs.remove(&id).unwrap_or_default(),
            id,
            name,
            consumer,
            created_at,
        })
        .collect())
}

/// Every QoS specs entry, oldest first.
pub fn list(c: &mut DbConnection) -> Result<Vec<QosDetail>, DbError> {
    let rows = qos_specs::table
        .order((qos_specs::created_at, qos_specs::id))
        .select((
            qos_specs::id,
            qos_specs::name,
            qos_specs::consumer,
            qos_specs::created_at,
        ))
        .load(c)?;
    detail(c, rows)
}

/// One entry; `NotFound` if unknown.
pub fn get(c: &mut DbConnection, id: &str) -> Result<QosDetail, DbError> {
    let row = qos_specs::table
        .filter(qos_specs::id.eq(id))
        .select((
            qos_specs::id,
            qos_specs::name,
            qos_specs::consumer,
            qos_specs::created_at,
        ))
        .get_result(c)
        .found(Resource::QosSpecs, id)?;
    detail(c, vec![row])?
        .into_iter()
        .next()
        .ok_or_else(|| DbError::not_found(Resource::QosSpecs, id))
}

fn put_specs(
    c: &mut DbConnection,
    id: &str,
    specs: &BTreeMap<String, String>,
) -> Result<(), DbError> {
    let keys: Vec<&String> = specs.keys().collect();
    diesel::delete(
        qos_spec_values::table
            .filter(qos_spec_values::qos_specs_id.eq(id))
            .filter(qos_spec_values::spec_key.eq_any(keys)),
    )
    .execute(c)?;
    for (k, v) in specs {
        diesel::insert_into(qos_spec_values::table)
            .values((
                qos_spec_values::qos_specs_id.eq(id),
                qos_spec_values::spec_key.eq(k),
                qos_spec_values::spec_value.eq(v),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// Stores a new entry; a taken name is `Conflict`.
pub fn create(c: &mut DbConnection, q: &QosDetail) -> Result<(), DbError> {
    write_txn(c, |c| {
        let taken: i64 = qos_specs::table
            .filter(qos_specs::name.eq(&q.name))
            .count()
            .get_result(c)?;
        if taken > 0 {
            return Err(DbError::Conflict);
        }
        diesel::insert_into(qos_specs::table)
            .values((
                qos_specs::id.eq(&q.id),
                qos_specs::name.eq(&q.name),
                qos_specs::consumer.eq(&q.consumer),
                qos_specs::created_at.eq(q.created_at),
            ))
            .execute(c)?;
        put_specs(c, &q.id, &q.specs)
    })
}

/// Adds or overwrites specs; `consumer`, when given, changes the consumer. More than
/// `max_items` specs afterwards is [`DbError::TooManyItems`] and changes nothing.
pub fn update(
    c: &mut DbConnection,
    id: &str,
    consumer: Option<&str>,
    specs: &BTreeMap<String, String>,
    max_items: usize,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        get(c, id)?;
        if let Some(consumer) = consumer {
            diesel::update(qos_specs::table.filter(qos_specs::id.eq(id)))
                .set(qos_specs::consumer.eq(consumer))
                .execute(c)?;
        }
        put_specs(c, id, specs)?;
        let count: i64 = qos_spec_values::table
            .filter(qos_spec_values::qos_specs_id.eq(id))
            .count()
            .get_result(c)?;
        super::at_most_items(count, max_items)
    })
}

/// Removes keys; answers the first key that was not there, removing nothing then.
pub fn delete_keys(
    c: &mut DbConnection,
    id: &str,
    keys: &[String],
) -> Result<Option<String>, DbError> {
    write_txn(c, |c| {
        let have = get(c, id)?.specs;
        if let Some(missing) = keys.iter().find(|k| !have.contains_key(*k)) {
            return Ok(Some(missing.clone()));
        }
        diesel::delete(
            qos_spec_values::table
                .filter(qos_spec_values::qos_specs_id.eq(id))
                .filter(qos_spec_values::spec_key.eq_any(keys)),
        )
        .execute(c)?;
        Ok(None)
    })
}

/// The types an entry is associated with, as `(type id, type name)`.
pub fn associations(c: &mut DbConnection, id: &str) -> Result<Vec<(String, String)>, DbError> {
    get(c, id)?;
    let ids: Vec<String> = volume_type_qos::table
        .filter(volume_type_qos::qos_specs_id.eq(id))
        .select(volume_type_qos::volume_type_id)
        .load(c)?;
    Ok(volume_types::table
        .filter(volume_types::id.eq_any(&ids))
        .order(volume_types::name)
        .select((volume_types::id, volume_types::name))
        .load(c)?)
}

/// Deletes an entry. While types use it, only with `force` (which disassociates them);
/// answers false when refused.
pub fn delete(c: &mut DbConnection, id: &str, force: bool) -> Result<bool, DbError> {
    write_txn(c, |c| {
        get(c, id)?;
        let used: i64 = volume_type_qos::table
            .filter(volume_type_qos::qos_specs_id.eq(id))
            .count()
            .get_result(c)?;
        if used > 0 && !force {
            return Ok(false);
        }
        diesel::delete(volume_type_qos::table.filter(volume_type_qos::qos_specs_id.eq(id)))
            .execute(c)?;
        diesel::delete(qos_spec_values::table.filter(qos_spec_values::qos_specs_id.eq(id)))
            .execute(c)?;
        diesel::delete(qos_specs::table.filter(qos_specs::id.eq(id))).execute(c)?;
        Ok(true)
    })
}

/// Associates an entry with a type (`NotFound` if either is unknown). A type carries at
/// most one entry; associating the same pair again changes nothing.
pub fn associate(
    c: &mut DbConnection,
    id: &str,
    type_id: &str,
) -> Result<Option<AssociateRefusal>, DbError> {
    write_txn(c, |c| {
        get(c, id)?;
        super::types::name_of(c, type_id)?
            .ok_or_else(|| DbError::not_found(Resource::VolumeType, type_id))?;
        let current: Option<String> = volume_type_qos::table
            .filter(volume_type_qos::volume_type_id.eq(type_id))
            .select(volume_type_qos::qos_specs_id)
            .get_result(c)
            .optional()?;
        match current {
            Some(other) if other != id => Ok(Some(AssociateRefusal::OtherSpecs(other))),
            Some(_) => Ok(None),
            None => {
                diesel::insert_into(volume_type_qos::table)
                    .values((
                        volume_type_qos::volume_type_id.eq(type_id),
                        volume_type_qos::qos_specs_id.eq(id),
                    ))
                    .execute(c)?;
                Ok(None)
            }
        }
    })
}

/// Removes the association with one type (or, `type_id` `None`, with every type).
pub fn disassociate(c: &mut DbConnection, id: &str, type_id: Option<&str>) -> Result<(), DbError> {
    write_txn(c, |c| {
        get(c, id)?;
        match type_id {
            Some(t) => {
                super::types::name_of(c, t)?
                    .ok_or_else(|| DbError::not_found(Resource::VolumeType, t))?;
                diesel::delete(
                    volume_type_qos::table
                        .filter(volume_type_qos::qos_specs_id.eq(id))
                        .filter(volume_type_qos::volume_type_id.eq(t)),
                )
                .execute(c)?;
            }
            None => {
                diesel::delete(volume_type_qos::table.filter(volume_type_qos::qos_specs_id.eq(id)))
                    .execute(c)?;
            }
        }
        Ok(())
    })
}

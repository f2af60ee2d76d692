//! Volume types as the types API sees them (cinder-api.md §10): create, rename, delete,
//! extra specs, private-type access and per-project default types.
//!
//! Every path that takes a type from a caller (volume create, retype, default types, the
//! pool filter) reads it through [`resolve`], and a show through [`get`]: both answer a
//! private type only to the projects it was given and to admins, through [`may_use`].

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;

use super::rows::VolumeTypeRow;
use super::schema::{
    default_volume_types, quota_classes, quota_usages, quotas, reservations,
    volume_type_extra_specs, volume_type_projects, volume_type_qos, volume_types, volumes,
};
use super::volumes::VolumeTypeRecord;
use super::{DbConnection, DbError, Found, Resource, now, write_txn};

/// The quota resources each type has, as `<prefix><type name>` (cinder-internals.md §4.1).
pub const PER_TYPE_PREFIXES: [&str; 3] = [
    crate::model::quota::VOLUMES_PREFIX,
    crate::model::quota::GIGABYTES_PREFIX,
    crate::model::quota::SNAPSHOTS_PREFIX,
];

/// A type with what its views show.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeDetail {
    /// The row.
    pub row: VolumeTypeRow,
    /// Every extra spec (the HTTP view hides the admin-only ones from members).
    pub extra_specs: BTreeMap<String, String>,
    /// The QoS specs associated with the type.
    pub qos_specs_id: Option<String>,
}

/// Which types a list returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TypeFilter {
    /// `Some(true)`: public types and the private ones `project` may use;
    /// `Some(false)`: private types only; `None`: every type.
    pub is_public: Option<bool>,
    /// The caller's project, for access to private types.
    pub project: Option<String>,
    /// Each pair must be among the type's extra specs (3.52 `extra_specs` filter).
    pub extra_specs: BTreeMap<String, String>,
}

/// Why a type may not be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteRefusal {
    /// Volumes still use it.
    InUse,
    /// It is the configured default or some project's default.
    Default,
}

fn details(c: &mut DbConnection, rows: Vec<VolumeTypeRow>) -> Result<Vec<TypeDetail>, DbError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let specs: Vec<(String, String, String)> = volume_type_extra_specs::table
        .filter(volume_type_extra_specs::volume_type_id.eq_any(&ids))
        .select((
            volume_type_extra_specs::volume_type_id,
            volume_type_extra_specs::spec_key,
            volume_type_extra_specs::spec_value,
        ))
        .load(c)?;
    let mut by_type: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (t, k, v) in specs {
        by_type.entry(t).or_default().insert(k, v);
    }
    let qos: BTreeMap<String, String> = volume_type_qos::table
        .filter(volume_type_qos::volume_type_id.eq_any(&ids))
        .select((
            volume_type_qos::volume_type_id,
            volume_type_qos::qos_specs_id,
        ))
        .load::<(String, String)>(c)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| TypeDetail {
            extra_specs: by_type.remove(&row.id).unwrap_or_default(),
            qos_specs_id: qos.get(&row.id).cloned(),
            row,
        })
        .collect())
}

/// True when `project` was given access to the (private) type.
pub fn has_access(c: &mut DbConnection, type_id: &str, project: &str) -> Result<bool, DbError> {
    let n: i64 = volume_type_projects::table
        .filter(volume_type_projects::volume_type_id.eq(type_id))
        .filter(volume_type_projects::project_id.eq(project))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// Whether a caller limited to `project` (`None`: an admin, unlimited) may see and use
/// the type: public types, and private ones `project` was given. The one access check
/// behind [`get`] and [`resolve`], so a private type cannot leak through one path (a
/// retype, a default) that another (a show) hides.
pub fn may_use(
    c: &mut DbConnection,
    row: &VolumeTypeRow,
    project: Option<&str>,
) -> Result<bool, DbError> {
    match project {
        Some(p) if !row.is_public => has_access(c, &row.id, p),
        _ => Ok(true),
    }
}

/// One type by id. `project` (non-admins) hides private types it has no access to.
pub fn get(c: &mut DbConnection, id: &str, project: Option<&str>) -> Result<TypeDetail, DbError> {
    let row: VolumeTypeRow = volume_types::table
        .filter(volume_types::id.eq(id))
        .select(VolumeTypeRow::as_select())
        .get_result(c)
        .found(Resource::VolumeType, id)?;
    if !may_use(c, &row, project)? {
        return Err(DbError::not_found(Resource::VolumeType, id));
    }
    details(c, vec![row])?
        .into_iter()
        .next()
        .ok_or_else(|| DbError::not_found(Resource::VolumeType, id))
}

/// A type by name or id as a caller limited to `project` (`None`: an admin) may use it;
/// `None` when there is no such type or it is private and not given to `project`, so
/// the caller's error cannot tell the two apart (nor show the type's name or specs).
pub fn resolve(
    c: &mut DbConnection,
    name_or_id: &str,
    project: Option<&str>,
) -> Result<Option<VolumeTypeRecord>, DbError> {
    let row: Option<VolumeTypeRow> = volume_types::table
        .filter(
            volume_types::name
                .eq(name_or_id)
                .or(volume_types::id.eq(name_or_id)),
        )
        .select(VolumeTypeRow::as_select())
        .get_result(c)
        .optional()?;
    let Some(row) = row else { return Ok(None) };
    if !may_use(c, &row, project)? {
        return Ok(None);
    }
    let extra_specs = volume_type_extra_specs::table
        .filter(volume_type_extra_specs::volume_type_id.eq(&row.id))
        .select((
            volume_type_extra_specs::spec_key,
            volume_type_extra_specs::spec_value,
        ))
        .load::<(String, String)>(c)?
        .into_iter()
        .collect();
    Ok(Some(VolumeTypeRecord { row, extra_specs }))
}

/// The types a filter selects, in no particular order (the API layer sorts and pages).
pub fn list(c: &mut DbConnection, f: &TypeFilter) -> Result<Vec<TypeDetail>, DbError> {
    let rows: Vec<VolumeTypeRow> = volume_types::table
        .select(VolumeTypeRow::as_select())
        .load(c)?;
    let access: BTreeSet<String> = match &f.project {
        Some(p) => volume_type_projects::table
            .filter(volume_type_projects::project_id.eq(p))
            .select(volume_type_projects::volume_type_id)
            .load::<String>(c)?
            .into_iter()
            .collect(),
        None => BTreeSet::new(),
    };
    let rows = rows
        .into_iter()
        .filter(|r| match f.is_public {
            Some(true) => r.is_public || access.contains(&r.id),
            Some(false) => !r.is_public,
            None => true,
        })
        .collect();
    Ok(details(c, rows)?
        .into_iter()
        .filter(|t| {
            f.extra_specs
                .iter()
                .all(|(k, v)| t.extra_specs.get(k) == Some(v))
        })
        .collect())
}

/// Every type's name, for the per-type quota keys.
pub fn names(c: &mut DbConnection) -> Result<Vec<String>, DbError> {
    Ok(volume_types::table
        .select(volume_types::name)
        .order(volume_types::name)
        .load(c)?)
}

/// A type's name, if the type exists.
pub fn name_of(c: &mut DbConnection, id: &str) -> Result<Option<String>, DbError> {
    Ok(volume_types::table
        .filter(volume_types::id.eq(id))
        .select(volume_types::name)
        .get_result(c)
        .optional()?)
}

fn name_taken(c: &mut DbConnection, name: &str, other_than: &str) -> Result<bool, DbError> {
    let n: i64 = volume_types::table
        .filter(volume_types::name.eq(name))
        .filter(volume_types::id.ne(other_than))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// A unique-constraint failure is a name another request took first.
fn unique_to_conflict(e: diesel::result::Error) -> DbError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => DbError::Conflict,
        other => other.into(),
    }
}

fn insert_specs(
    c: &mut DbConnection,
    type_id: &str,
    specs: &BTreeMap<String, String>,
) -> Result<(), DbError> {
    let keys: Vec<&String> = specs.keys().collect();
    diesel::delete(
        volume_type_extra_specs::table
            .filter(volume_type_extra_specs::volume_type_id.eq(type_id))
            .filter(volume_type_extra_specs::spec_key.eq_any(keys)),
    )
    .execute(c)?;
    for (k, v) in specs {
        diesel::insert_into(volume_type_extra_specs::table)
            .values((
                volume_type_extra_specs::volume_type_id.eq(type_id),
                volume_type_extra_specs::spec_key.eq(k),
                volume_type_extra_specs::spec_value.eq(v),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// Stores a new type with its extra specs. A taken name is `Conflict`.
pub fn create(
    c: &mut DbConnection,
    row: &VolumeTypeRow,
    extra_specs: &BTreeMap<String, String>,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        if name_taken(c, &row.name, &row.id)? {
            return Err(DbError::Conflict);
        }
        diesel::insert_into(volume_types::table)
            .values(row)
            .execute(c)
            .map_err(unique_to_conflict)?;
        insert_specs(c, &row.id, extra_specs)
    })
}

/// Renames the per-type quota keys of `old` to `new` everywhere they are stored.
fn rename_quota_keys(c: &mut DbConnection, old: &str, new: &str) -> Result<(), DbError> {
    for prefix in PER_TYPE_PREFIXES {
        let (from, to) = (format!("{prefix}{old}"), format!("{prefix}{new}"));
        diesel::update(quotas::table.filter(quotas::resource.eq(&from)))
            .set(quotas::resource.eq(&to))
            .execute(c)?;
        diesel::update(quota_classes::table.filter(quota_classes::resource.eq(&from)))
            .set(quota_classes::resource.eq(&to))
            .execute(c)?;
        diesel::update(quota_usages::table.filter(quota_usages::resource.eq(&from)))
            .set(quota_usages::resource.eq(&to))
            .execute(c)?;
        diesel::update(reservations::table.filter(reservations::resource.eq(&from)))
            .set(reservations::resource.eq(&to))
            .execute(c)?;
    }
    Ok(())
}

/// Changes name, description or visibility. A name another type has is `Conflict`;
/// a rename carries the type's quota keys along.
pub fn update(
    c: &mut DbConnection,
    id: &str,
    name: Option<&str>,
    description: Option<Option<String>>,
    is_public: Option<bool>,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        let old = name_of(c, id)?.ok_or_else(|| DbError::not_found(Resource::VolumeType, id))?;
        let target = volume_types::table.filter(volume_types::id.eq(id));
        if let Some(new) = name
            && new != old
        {
            if name_taken(c, new, id)? {
                return Err(DbError::Conflict);
            }
            diesel::update(target)
                .set(volume_types::name.eq(new))
                .execute(c)
                .map_err(unique_to_conflict)?;
            rename_quota_keys(c, &old, new)?;
        }
        if let Some(d) = description {
            diesel::update(target)
                .set(volume_types::description.eq(d))
                .execute(c)?;
        }
        if let Some(p) = is_public {
            diesel::update(target)
                .set(volume_types::is_public.eq(p))
                .execute(c)?;
        }
        diesel::update(target)
            .set(volume_types::updated_at.eq(now()))
            .execute(c)?;
        Ok(())
    })
}

/// True while any volume uses the type.
pub fn in_use(c: &mut DbConnection, id: &str) -> Result<bool, DbError> {
    let n: i64 = volumes::table
        .filter(volumes::volume_type_id.eq(id))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// Deletes a type unless volumes use it or it is a default (the configured one, named
/// `config_default`, or a project's). Answers why it was refused, if it was.
pub fn delete(
    c: &mut DbConnection,
    id: &str,
    config_default: &str,
) -> Result<Option<DeleteRefusal>, DbError> {
    write_txn(c, |c| {
        let name = name_of(c, id)?.ok_or_else(|| DbError::not_found(Resource::VolumeType, id))?;
        if in_use(c, id)? {
            return Ok(Some(DeleteRefusal::InUse));
        }
        let project_default: i64 = default_volume_types::table
            .filter(default_volume_types::volume_type_id.eq(id))
            .count()
            .get_result(c)?;
        if name == config_default || id == config_default || project_default > 0 {
            return Ok(Some(DeleteRefusal::Default));
        }
        // Children first: SQLite cascades only when foreign keys are on.
        diesel::delete(
            volume_type_extra_specs::table.filter(volume_type_extra_specs::volume_type_id.eq(id)),
        )
        .execute(c)?;
        diesel::delete(
            volume_type_projects::table.filter(volume_type_projects::volume_type_id.eq(id)),
        )
        .execute(c)?;
        diesel::delete(volume_type_qos::table.filter(volume_type_qos::volume_type_id.eq(id)))
            .execute(c)?;
        diesel::delete(volume_types::table.filter(volume_types::id.eq(id))).execute(c)?;
        // No volume uses it, so its per-type usage is zero; limits set for it go too,
        // or a later type of the same name would inherit them.
        let keys: Vec<String> = PER_TYPE_PREFIXES
            .iter()
            .map(|p| format!("{p}{name}"))
            .collect();
        diesel::delete(quotas::table.filter(quotas::resource.eq_any(&keys))).execute(c)?;
        diesel::delete(quota_classes::table.filter(quota_classes::resource.eq_any(&keys)))
            .execute(c)?;
        diesel::delete(quota_usages::table.filter(quota_usages::resource.eq_any(&keys)))
            .execute(c)?;
        Ok(None)
    })
}

/// Adds or overwrites extra specs, keeping the others; more than `max_items` specs
/// afterwards is [`DbError::TooManyItems`] and changes nothing.
pub fn set_extra_specs(
    c: &mut DbConnection,
    id: &str,
    specs: &BTreeMap<String, String>,
    max_items: usize,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        insert_specs(c, id, specs)?;
        let count: i64 = volume_type_extra_specs::table
            .filter(volume_type_extra_specs::volume_type_id.eq(id))
            .count()
            .get_result(c)?;
        super::at_most_items(count, max_items)?;
        diesel::update(volume_types::table.filter(volume_types::id.eq(id)))
            .set(volume_types::updated_at.eq(now()))
            .execute(c)?;
        Ok(())
    })
}

/// Removes one extra spec; `NotFound` if the type does not have it.
pub fn delete_extra_spec(c: &mut DbConnection, id: &str, key: &str) -> Result<(), DbError> {
    let n = diesel::delete(
        volume_type_extra_specs::table
            .filter(volume_type_extra_specs::volume_type_id.eq(id))
            .filter(volume_type_extra_specs::spec_key.eq(key)),
    )
    .execute(c)?;
    if n == 1 {
        Ok(())
    } else {
        Err(DbError::not_found(
            Resource::ExtraSpec {
                volume_type: id.into(),
            },
            key,
        ))
    }
}

/// The projects given access to a type, sorted.
pub fn access_list(c: &mut DbConnection, id: &str) -> Result<Vec<String>, DbError> {
    Ok(volume_type_projects::table
        .filter(volume_type_projects::volume_type_id.eq(id))
        .select(volume_type_projects::project_id)
        .order(volume_type_projects::project_id)
        .load(c)?)
}

/// Gives `project` access; `Conflict` if it already has it.
pub fn add_access(c: &mut DbConnection, id: &str, project: &str) -> Result<(), DbError> {
    write_txn(c, |c| {
        if has_access(c, id, project)? {
            return Err(DbError::Conflict);
        }
        diesel::insert_into(volume_type_projects::table)
            .values((
                volume_type_projects::volume_type_id.eq(id),
                volume_type_projects::project_id.eq(project),
            ))
            .execute(c)
            .map_err(unique_to_conflict)?;
        Ok(())
    })
}

/// Takes access away; `NotFound` if the project had none.
pub fn remove_access(c: &mut DbConnection, id: &str, project: &str) -> Result<(), DbError> {
    let n = diesel::delete(
        volume_type_projects::table
            .filter(volume_type_projects::volume_type_id.eq(id))
            .filter(volume_type_projects::project_id.eq(project)),
    )
    .execute(c)?;
    if n == 1 {
        Ok(())
    } else {
        Err(DbError::not_found(
            Resource::TypeAccess {
                volume_type: id.into(),
            },
            project,
        ))
    }
}

/// The type id a project chose as its default, if any.
pub fn project_default(c: &mut DbConnection, project: &str) -> Result<Option<String>, DbError> {
    Ok(default_volume_types::table
        .filter(default_volume_types::project_id.eq(project))
        .select(default_volume_types::volume_type_id)
        .get_result(c)
        .optional()?)
}

/// Every project default as `(project, type id)`, by project.
pub fn project_defaults(c: &mut DbConnection) -> Result<Vec<(String, String)>, DbError> {
    Ok(default_volume_types::table
        .select((
            default_volume_types::project_id,
            default_volume_types::volume_type_id,
        ))
        .order(default_volume_types::project_id)
        .load(c)?)
}

/// Sets (or replaces) a project's default type.
pub fn set_project_default(
    c: &mut DbConnection,
    project: &str,
    type_id: &str,
) -> Result<(), DbError> {
    write_txn(c, |c| {
        diesel::delete(
            default_volume_types::table.filter(default_volume_types::project_id.eq(project)),
        )
        .execute(c)?;
        diesel::insert_into(default_volume_types::table)
            .values((
                default_volume_types::project_id.eq(project),
                default_volume_types::volume_type_id.eq(type_id),
            ))
            .execute(c)
            .map_err(unique_to_conflict)?;
        Ok(())
    })
}

/// Removes a project's default; `NotFound` if it had none.
pub fn unset_project_default(c: &mut DbConnection, project: &str) -> Result<(), DbError> {
    let n = diesel::delete(
        default_volume_types::table.filter(default_volume_types::project_id.eq(project)),
    )
    .execute(c)?;
    if n == 1 {
        Ok(())
    } else {
        Err(DbError::not_found(Resource::DefaultType, project))
    }
}

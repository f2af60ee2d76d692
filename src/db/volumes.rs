//! Queries on volumes, their metadata and their types.
//!
//! Every status change is a compare-and-set (`UPDATE ... WHERE status IN (...)`): zero rows
//! means someone else got there first, reported as [`DbError::Conflict`].

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::rows::{AttachmentRow, VolumeMetadataRow, VolumeRow, VolumeTypeRow};
use super::schema::{snapshots, volume_metadata, volume_types, volumes};
use super::{DbConnection, DbError, Found, Resource, attachments, in_ids, now, quotas, write_txn};
use crate::model::spec::RequestSpec;
use crate::model::{AttachStatus, SnapshotStatus, VolumeStatus};

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
pub fn get(c: &mut DbConnection, id: &str, project: Option<&str>) -> Result<VolumeRecord, DbError> {
    let mut query = volumes::table
        .inner_join(volume_types::table)
        .filter(volumes::id.eq(id))
        .select((VolumeRow::as_select(), volume_types::name))
        .into_boxed();
    if let Some(p) = project {
        query = query.filter(volumes::project_id.eq(p));
    }
    let (row, type_name) = query
        .get_result::<(VolumeRow, String)>(c)
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
    })
}

/// What a delete checks first: the volume's attach status and host, `NotFound` if it
/// is not there or (with `project`) is another project's. One cached statement, where
/// [`get`] reads the whole record in four.
pub fn attach_status_and_host(
    c: &mut DbConnection,
    id: &str,
    project: Option<&str>,
) -> Result<(AttachStatus, Option<String>), DbError> {
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
) -> Result<(VolumeStatus, i64, Option<String>), DbError> {
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

/// A column volumes can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// `created_at`.
    CreatedAt,
    /// `updated_at`.
    UpdatedAt,
    /// `id`.
    Id,
    /// `name` (column `display_name`).
    Name,
    /// `status`.
    Status,
    /// `size`.
    Size,
    /// `availability_zone`.
    AvailabilityZone,
}

impl SortKey {
    /// Parses an API sort key.
    pub fn parse(s: &str) -> Option<SortKey> {
        Some(match s {
            "created_at" => SortKey::CreatedAt,
            "updated_at" => SortKey::UpdatedAt,
            "id" => SortKey::Id,
            "name" | "display_name" => SortKey::Name,
            "status" => SortKey::Status,
            "size" => SortKey::Size,
            "availability_zone" => SortKey::AvailabilityZone,
            _ => return None,
        })
    }
}

/// A comparison of a time filter (microversion 3.60).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOp {
    /// `>`.
    Gt,
    /// `>=`.
    Gte,
    /// `=`.
    Eq,
    /// `<>`.
    Neq,
    /// `<`.
    Lt,
    /// `<=`.
    Lte,
}

impl TimeOp {
    /// Parses Cinder's operator names.
    pub fn parse(s: &str) -> Option<TimeOp> {
        Some(match s {
            "gt" => TimeOp::Gt,
            "gte" => TimeOp::Gte,
            "eq" => TimeOp::Eq,
            "neq" => TimeOp::Neq,
            "lt" => TimeOp::Lt,
            "lte" => TimeOp::Lte,
            _ => return None,
        })
    }
}

/// `created_at` or `updated_at` compared with a time (UTC). A volume never updated
/// matches no comparison on `updated_at`, as in Cinder's SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeFilter {
    /// `true` for `updated_at`, `false` for `created_at`.
    pub updated: bool,
    /// The comparison.
    pub op: TimeOp,
    /// The time compared with.
    pub at: chrono::NaiveDateTime,
}

/// What a volume list asks for. Filters are ANDed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// Only this project (`None`: every project, admins only).
    pub project: Option<String>,
    /// Exact name.
    pub name: Option<String>,
    /// Exact status.
    pub status: Option<String>,
    /// Exact zone.
    pub availability_zone: Option<String>,
    /// Exact size.
    pub size: Option<i64>,
    /// Bootable or not.
    pub bootable: Option<bool>,
    /// Every pair must be in the volume's metadata.
    pub metadata: BTreeMap<String, String>,
    /// Time comparisons (3.60).
    pub times: Vec<TimeFilter>,
    /// Sort keys with `true` for descending; `id` is appended as the tie-breaker.
    pub sort: Vec<(SortKey, bool)>,
    /// Page size.
    pub limit: i64,
    /// Return items after this id.
    pub marker: Option<String>,
    /// Skip this many items.
    pub offset: i64,
}

type VolumesBox<'a> = volumes::BoxedQuery<'a, super::multi_connection_impl::MultiBackend>;

fn apply_filters<'a>(mut q: VolumesBox<'a>, lq: &'a ListQuery) -> VolumesBox<'a> {
    if let Some(p) = &lq.project {
        q = q.filter(volumes::project_id.eq(p));
    }
    if let Some(n) = &lq.name {
        q = q.filter(volumes::display_name.eq(n));
    }
    if let Some(s) = &lq.status {
        q = q.filter(volumes::status.eq(s));
    }
    if let Some(z) = &lq.availability_zone {
        q = q.filter(volumes::availability_zone.eq(z));
    }
    if let Some(s) = lq.size {
        q = q.filter(volumes::size.eq(s));
    }
    if let Some(b) = lq.bootable {
        q = q.filter(volumes::bootable.eq(b));
    }
    for t in &lq.times {
        macro_rules! compare {
            ($col:expr) => {
                match t.op {
                    TimeOp::Gt => q.filter($col.gt(t.at)),
                    TimeOp::Gte => q.filter($col.ge(t.at)),
                    TimeOp::Eq => q.filter($col.eq(t.at)),
                    TimeOp::Neq => q.filter($col.ne(t.at)),
                    TimeOp::Lt => q.filter($col.lt(t.at)),
                    TimeOp::Lte => q.filter($col.le(t.at)),
                }
            };
        }
        q = if t.updated {
            compare!(volumes::updated_at)
        } else {
            compare!(volumes::created_at)
        };
    }
    for (k, v) in &lq.metadata {
        q = q.filter(
            volumes::id.eq_any(
                volume_metadata::table
                    .filter(volume_metadata::meta_key.eq(k))
                    .filter(volume_metadata::meta_value.eq(v))
                    .select(volume_metadata::volume_id),
            ),
        );
    }
    q
}

type Cond = Box<
    dyn BoxableExpression<
            volumes::table,
            super::multi_connection_impl::MultiBackend,
            SqlType = diesel::sql_types::Bool,
        >,
>;

/// `column > marker` (or `<` when descending), `column = marker`, and `column >= marker`
/// (or `<=`), for one sort key.
fn keyset_parts(key: SortKey, desc: bool, m: &VolumeRow) -> (Cond, Cond, Cond) {
    macro_rules! parts {
        ($col:expr, $val:expr) => {{
            let (after, from): (Cond, Cond) = if desc {
                (
                    Box::new($col.lt($val.clone())),
                    Box::new($col.le($val.clone())),
                )
            } else {
                (
                    Box::new($col.gt($val.clone())),
                    Box::new($col.ge($val.clone())),
                )
            };
            let same: Cond = Box::new($col.eq($val.clone()));
            (after, same, from)
        }};
    }
    // Nullable columns sort as if NULL were the smallest value ('' / the epoch).
    match key {
        SortKey::CreatedAt => parts!(volumes::created_at, m.created_at),
        SortKey::UpdatedAt => {
            let v = m.updated_at.unwrap_or_default();
            parts!(
                coalesce_ts(volumes::updated_at, chrono::NaiveDateTime::default()),
                v
            )
        }
        SortKey::Id => parts!(volumes::id, m.id),
        SortKey::Name => {
            let v = m.display_name.clone().unwrap_or_default();
            parts!(coalesce_text(volumes::display_name, String::new()), v)
        }
        SortKey::Status => parts!(volumes::status, m.status),
        SortKey::Size => parts!(volumes::size, m.size),
        SortKey::AvailabilityZone => parts!(volumes::availability_zone, m.availability_zone),
    }
}

diesel::define_sql_function! {
    #[sql_name = "COALESCE"]
    fn coalesce_text(x: diesel::sql_types::Nullable<diesel::sql_types::Text>, y: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

diesel::define_sql_function! {
    #[sql_name = "COALESCE"]
    fn coalesce_ts(x: diesel::sql_types::Nullable<diesel::sql_types::Timestamp>, y: diesel::sql_types::Timestamp) -> diesel::sql_types::Timestamp;
}

type Backend = super::multi_connection_impl::MultiBackend;

/// The terms of an ORDER BY, written one after the other. diesel's `then_order_by` on a
/// boxed query pairs the terms so far with the next in a tuple, and a tuple walks each
/// element twice (once to ask whether it writes nothing): n chained keys cost 2^n walks
/// of the query, which made `sort=size,size,...` take seconds at 24 keys and forever at
/// 30. One flat list is walked once per pass, so the cost is linear in the keys.
struct OrderTerms(Vec<Box<dyn diesel::query_builder::QueryFragment<Backend> + Send>>);

impl diesel::query_builder::QueryFragment<Backend> for OrderTerms {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Backend>,
    ) -> QueryResult<()> {
        for (i, term) in self.0.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            term.walk_ast(out.reborrow())?;
        }
        Ok(())
    }
}

impl diesel::expression::Expression for OrderTerms {
    type SqlType = diesel::expression::expression_types::NotSelectable;
}

// Only built by `order` below, from volumes' own columns.
impl diesel::expression::AppearsOnTable<volumes::table> for OrderTerms {}

fn order<'a>(q: VolumesBox<'a>, sort: &[(SortKey, bool)]) -> VolumesBox<'a> {
    type Term = Box<dyn diesel::query_builder::QueryFragment<Backend> + Send>;
    macro_rules! by {
        ($col:expr, $desc:expr) => {
            if $desc {
                Box::new($col.desc()) as Term
            } else {
                Box::new($col.asc()) as Term
            }
        };
    }
    let terms = sort
        .iter()
        .map(|&(key, desc)| match key {
            SortKey::CreatedAt => by!(volumes::created_at, desc),
            SortKey::UpdatedAt => by!(
                coalesce_ts(volumes::updated_at, chrono::NaiveDateTime::default()),
                desc
            ),
            SortKey::Id => by!(volumes::id, desc),
            SortKey::Name => by!(coalesce_text(volumes::display_name, String::new()), desc),
            SortKey::Status => by!(volumes::status, desc),
            SortKey::Size => by!(volumes::size, desc),
            SortKey::AvailabilityZone => by!(volumes::availability_zone, desc),
        })
        .collect();
    q.order(OrderTerms(terms))
}

/// The sort with `id` appended as a tie-breaker (in the first key's direction).
fn full_sort(sort: &[(SortKey, bool)]) -> Vec<(SortKey, bool)> {
    let mut s = if sort.is_empty() {
        vec![(SortKey::CreatedAt, true)]
    } else {
        sort.to_vec()
    };
    if !s.iter().any(|(k, _)| *k == SortKey::Id) {
        let desc = s.first().is_some_and(|(_, d)| *d);
        s.push((SortKey::Id, desc));
    }
    s
}

/// Lists volumes: filters, then keyset pagination after `marker`, `offset`, `limit`.
/// An unknown marker is `NotFound`.
pub fn list(c: &mut DbConnection, lq: &ListQuery) -> Result<Vec<VolumeRecord>, DbError> {
    let sort = full_sort(&lq.sort);
    let mut q = apply_filters(volumes::table.into_boxed(), lq);
    if let Some(marker) = &lq.marker {
        let mut mq = volumes::table.filter(volumes::id.eq(marker)).into_boxed();
        if let Some(p) = &lq.project {
            mq = mq.filter(volumes::project_id.eq(p));
        }
        let m: VolumeRow = mq
            .select(VolumeRow::as_select())
            .first(c)
            .found(Resource::Volume, marker)?;
        // (k1 after m1) OR (k1 = m1 AND ((k2 after m2) OR (k2 = m2 AND (...)))), built from
        // the last key back: each key adds one fixed-size term, where the flat form
        // (k1 after) OR (k1 = AND k2 after) OR ... repeats every earlier key in every term
        // and grows with the square of the keys.
        let mut tail: Option<Cond> = None;
        for &(key, desc) in sort.iter().rev() {
            let (after, same, _) = keyset_parts(key, desc, &m);
            tail = Some(match tail {
                None => after,
                Some(rest) => Box::new(after.or(same.and(rest))),
            });
        }
        if let Some(cond) = tail {
            q = q.filter(cond);
        }
        // Implied by the OR above, but an index can range-scan on it (SQLite cannot turn
        // the OR into a range): the cost of a page no longer grows with its depth.
        if let Some(&(key, desc)) = sort.first() {
            q = q.filter(keyset_parts(key, desc, &m).2);
        }
    }
    q = order(q, &sort);
    let rows: Vec<VolumeRow> = q
        .select(VolumeRow::as_select())
        .offset(lq.offset)
        .limit(lq.limit)
        .load(c)?;
    attach_details(c, rows)
}

/// Counts the volumes a list would return without pagination.
pub fn count(c: &mut DbConnection, lq: &ListQuery) -> Result<i64, DbError> {
    Ok(apply_filters(volumes::table.into_boxed(), lq)
        .count()
        .get_result(c)?)
}

fn attach_details(
    c: &mut DbConnection,
    rows: Vec<VolumeRow>,
) -> Result<Vec<VolumeRecord>, DbError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut metadata = metadata_of(c, &ids)?;
    let mut admin = attachments::admin_metadata(c, &ids)?;
    let mut attached = attachments::of_volumes(c, &ids)?;
    // Only the types on this page, not the whole table on every list.
    let type_ids: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.volume_type_id.as_str()).collect();
    let types: BTreeMap<String, String> = volume_types::table
        .filter(volume_types::id.eq_any(type_ids))
        .select((volume_types::id, volume_types::name))
        .load::<(String, String)>(c)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| VolumeRecord {
            metadata: metadata.remove(&row.id).unwrap_or_default(),
            admin_metadata: admin.remove(&row.id).unwrap_or_default(),
            attachments: attached.remove(&row.id).unwrap_or_default(),
            type_name: types
                .get(&row.volume_type_id)
                .cloned()
                .unwrap_or_else(|| row.volume_type_id.clone()),
            row,
        })
        .collect())
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

/// Moves a volume from one of `from` to `to`.
pub fn transition(
    c: &mut DbConnection,
    id: &str,
    from: &[VolumeStatus],
    to: VolumeStatus,
) -> Result<(), DbError> {
    let n = super::Cached(
        diesel::update(
            volumes::table
                .filter(volumes::id.eq(id))
                .filter(volumes::status.eq_any(from)),
        )
        .set((volumes::status.eq(to), volumes::updated_at.eq(now()))),
    )
    .execute(c)?;
    super::one_row(n)
}

/// Records the scheduler's choice before the node is told: the volume must still be
/// `creating` with no host.
pub fn set_scheduled(
    c: &mut DbConnection,
    id: &str,
    host: &str,
    request_spec: &RequestSpec,
) -> Result<(), DbError> {
    let n = super::Cached(
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
    super::one_row(n)
}

/// A node gives a volume back for rescheduling: host cleared, status stays `creating`.
pub fn unschedule(c: &mut DbConnection, id: &str, host: &str) -> Result<(), DbError> {
    let n = diesel::update(
        volumes::table
            .filter(volumes::id.eq(id))
            .filter(volumes::status.eq(VolumeStatus::Creating))
            .filter(volumes::host.eq(host)),
    )
    .set((
        volumes::host.eq(None::<String>),
        volumes::updated_at.eq(now()),
    ))
    .execute(c)?;
    super::one_row(n)
}

/// The node finished creating the volume.
pub fn mark_created(
    c: &mut DbConnection,
    id: &str,
    host: &str,
    provider_location: Option<&str>,
) -> Result<(), DbError> {
    let n = super::Cached(
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
    super::one_row(n)
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
        let what = (volumes::project_id, volumes::size, volumes::volume_type_id);
        let row: Option<(String, i64, String)> = if only_unplaced {
            this.filter(volumes::host.is_null())
                .select(what)
                .get_result(c)
                .optional()?
        } else {
            this.select(what).get_result(c).optional()?
        };
        let Some((project, size, type_id)) = row else {
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
        let type_name = super::types::name_of(c, &type_id)?.unwrap_or(type_id);
        let deltas = crate::model::quota::volume_deltas(&type_name, size);
        let deltas: Vec<(&str, i64)> = deltas.iter().map(|(r, d)| (r.as_str(), *d)).collect();
        quotas::release(c, &project, &deltas)?;
        Ok(true)
    })
}

/// The volumes placed on `node`, optionally only those in `states`. `LIKE` narrows the scan;
/// the exact prefix check keeps `_`/`%` in names and SQLite's case-folding `LIKE` from
/// matching another node's volumes.
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
    let exact = format!("{node}@");
    Ok(rows
        .into_iter()
        .filter(|r| r.host.as_deref().is_some_and(|h| h.starts_with(&exact)))
        .collect())
}

/// Sum of the sizes of the volumes placed on `node` (any pool), as
/// `(host, gigabytes)`; recounted when a node starts.
pub fn allocated_by_host(c: &mut DbConnection, node: &str) -> Result<Vec<(String, i64)>, DbError> {
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
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
        let (prev, old_size): (Option<VolumeStatus>, i64) = volumes::table
            .filter(volumes::id.eq(id))
            .select((volumes::previous_status, volumes::size))
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
        super::one_row(n)?;
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
            super::attachments::derive_volume_status(c, id)?;
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
        super::at_most_items(count, max_items)?;
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
        super::one_row(n).map(|()| current)
    })
}

/// An extend finished: new size, back to the status before `extending`.
pub fn finish_extend(c: &mut DbConnection, id: &str, size: i64) -> Result<(), DbError> {
    leave_transient(c, id, VolumeStatus::Extending, Some(size))
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
    super::one_row(n)
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

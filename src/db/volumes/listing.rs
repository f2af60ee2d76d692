//! Volume lists: filters, sort keys and keyset pages after a marker.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::{VolumeRecord, metadata_of};
use crate::db::rows::VolumeRow;
use crate::db::schema::{volume_metadata, volume_type_encryption, volume_types, volumes};
use crate::db::{DbConnection, DbError, Found, Resource, attachments};
use crate::model::ProjectId;

/// A column volumes can be sorted by, parsed from the API's sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum SortKey {
    /// `created_at`.
    CreatedAt,
    /// `updated_at`.
    UpdatedAt,
    /// `id`.
    Id,
    /// `name` (column `display_name`).
    #[strum(serialize = "name", serialize = "display_name")]
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
        s.parse().ok()
    }
}

/// A comparison of a time filter (microversion 3.60), parsed from Cinder's operator
/// names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString)]
#[strum(serialize_all = "lowercase")]
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
        s.parse().ok()
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
    pub project: Option<ProjectId>,
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

type VolumesBox<'a> = volumes::BoxedQuery<'a, crate::db::multi_connection_impl::MultiBackend>;

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
            crate::db::multi_connection_impl::MultiBackend,
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

type Backend = crate::db::multi_connection_impl::MultiBackend;

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
    let types: BTreeMap<String, (String, bool)> = volume_types::table
        .left_join(volume_type_encryption::table)
        .filter(volume_types::id.eq_any(type_ids))
        .select((
            volume_types::id,
            volume_types::name,
            volume_type_encryption::volume_type_id.nullable(),
        ))
        .load::<(String, String, Option<String>)>(c)?
        .into_iter()
        .map(|(id, name, encryption)| (id, (name, encryption.is_some())))
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| VolumeRecord {
            metadata: metadata.remove(&row.id).unwrap_or_default(),
            admin_metadata: admin.remove(&row.id).unwrap_or_default(),
            attachments: attached.remove(&row.id).unwrap_or_default(),
            type_name: types
                .get(&row.volume_type_id)
                .map_or_else(|| row.volume_type_id.clone(), |(name, _)| name.clone()),
            encrypted: types
                .get(&row.volume_type_id)
                .is_some_and(|(_, encrypted)| *encrypted),
            row,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::{SortKey, TimeOp};

    #[test]
    fn sort_keys_and_time_operators_parse_as_cinder_spells_them() {
        assert_eq!(SortKey::parse("name"), Some(SortKey::Name));
        assert_eq!(SortKey::parse("display_name"), Some(SortKey::Name));
        assert_eq!(
            SortKey::parse("availability_zone"),
            Some(SortKey::AvailabilityZone)
        );
        assert_eq!(SortKey::parse("created_at"), Some(SortKey::CreatedAt));
        assert_eq!(SortKey::parse("Name"), None);
        assert_eq!(SortKey::parse("bootable"), None);
        assert_eq!(TimeOp::parse("gte"), Some(TimeOp::Gte));
        assert_eq!(TimeOp::parse("neq"), Some(TimeOp::Neq));
        assert_eq!(TimeOp::parse("GT"), None);
    }
}

//! Pagination and sorting (cinder-api.md §0.3): every list reads `limit`, `offset` and
//! `marker` through [`window`] and its sort (`sort` or `sort_key`/`sort_dir`) through
//! [`sort_keys`], so the caps on page size and sort keys hold everywhere. The small
//! collections (types, messages) are then sorted and paged in memory by [`apply`];
//! volumes in SQL.

use std::cmp::Ordering;

use serde_json::{Value, json};

use super::error::ApiError;
use super::views::LinkBase;

/// Cinder's `osapi_max_limit` when the config does not set one.
pub const DEFAULT_MAX_LIMIT: i64 = 1000;

/// The most sort keys a list takes. Every list sorts on fewer distinct keys than this, so a
/// longer list is refused before its keys are read; together with the refusal of
/// duplicates it bounds the ORDER BY and the keyset condition a request can build.
pub const MAX_SORT_KEYS: usize = 8;

/// The query keys that page and sort rather than filter.
pub const PAGE_KEYS: [&str; 6] = ["limit", "offset", "marker", "sort", "sort_key", "sort_dir"];

/// The filters a volume or snapshot list reads beside [`PageQuery`], as the OpenAPI
/// document lists them (any other column of the resource filters too, as Cinder's
/// `resource_filters` allow).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "describes query keys the list handlers read; never constructed"
)]
pub struct ListFilters {
    /// Admins: every project's.
    all_tenants: Option<bool>,
    /// With the total count (volumes: 3.45+).
    with_count: Option<bool>,
    /// By name.
    name: Option<String>,
    /// By status.
    status: Option<String>,
    /// A dict of metadata the items must have.
    metadata: Option<String>,
}

/// [`PAGE_KEYS`] as the OpenAPI document lists them: every list's `params(...)` names
/// this type (a unit test holds its fields to [`PAGE_KEYS`]).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(
    dead_code,
    reason = "describes the query keys `page` reads; never constructed"
)]
pub struct PageQuery {
    /// The most items to return (clamped to `osapi_max_limit`).
    limit: Option<i64>,
    /// How many items to skip.
    offset: Option<i64>,
    /// The id of the last item of the previous page.
    marker: Option<String>,
    /// `key[:asc|desc],...`.
    sort: Option<String>,
    /// The older form of `sort`: one key.
    sort_key: Option<String>,
    /// `asc` or `desc`, with `sort_key`.
    sort_dir: Option<String>,
}

/// What lists and metadata writes may ask for at most (from the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Cinder's `osapi_max_limit`: the largest page; a larger `limit` is clamped to it.
    pub max_limit: i64,
    /// The most metadata items (or extra specs, or QoS specs) one resource may hold.
    pub max_metadata_items: usize,
}

impl Limits {
    /// The limits the config sets.
    pub fn from_config(config: &crate::config::Config) -> Limits {
        Limits {
            max_limit: config.osapi_max_limit,
            max_metadata_items: config.max_metadata_items,
        }
    }
}

/// What a list asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// At most this many items (clamped to `osapi_max_limit`).
    pub limit: i64,
    /// Items skipped after the marker.
    pub offset: i64,
    /// The id of the last item already seen.
    pub marker: Option<String>,
    /// `(key, descending)` in order; `id` breaks ties.
    pub sort: Vec<(String, bool)>,
}

fn direction(d: &str) -> Result<bool, ApiError> {
    match d.trim() {
        "desc" => Ok(true),
        "asc" => Ok(false),
        other => Err(ApiError::BadRequest(format!(
            "Invalid sort direction: {other}"
        ))),
    }
}

/// A non-negative integer the way Cinder reads it (Python's `int()`): a value too large
/// for an `i64` is a very large number, not an error, so `limit=10^30` is clamped like
/// `limit=10^12`. Anything else that is not a whole number is `Invalid <name>`.
fn count(name: &str, v: &str) -> Result<i64, ApiError> {
    let bad = || ApiError::BadRequest(format!("Invalid {name}: {v}"));
    match v.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        Ok(_) => Err(bad()),
        Err(e) if *e.kind() == std::num::IntErrorKind::PosOverflow => Ok(i64::MAX),
        Err(_) => Err(bad()),
    }
}

/// Reads `limit` (clamped to `max_limit`, which is also the default), `offset` and
/// `marker` of `params`; every list pages through this one reader.
pub fn window(params: &[(String, String)], max_limit: i64) -> Result<Page, ApiError> {
    let mut p = Page {
        limit: max_limit,
        offset: 0,
        marker: None,
        sort: Vec::new(),
    };
    for (k, v) in params {
        match k.as_str() {
            "limit" => p.limit = count("limit", v)?.min(max_limit),
            "offset" => p.offset = count("offset", v)?,
            "marker" => p.marker = Some(v.clone()),
            _ => {}
        }
    }
    Ok(p)
}

/// Reads the sort of `params`: `sort=k1[:asc|desc],k2...` or the legacy pair
/// `sort_key`/`sort_dir` (not both; a legacy key defaults to `default_key`), each key
/// through `parse_key`. Empty when the request names no sort. Every list that sorts reads
/// its keys here: more than [`MAX_SORT_KEYS`], an unknown key or a key given twice
/// (after `parse_key`, so two names of one column count as one key) is refused.
pub fn sort_keys<K: PartialEq>(
    params: &[(String, String)],
    default_key: &str,
    parse_key: impl Fn(&str) -> Option<K>,
) -> Result<Vec<(K, bool)>, ApiError> {
    let bad = |m: String| ApiError::BadRequest(m);
    let find = |name: &str| params.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
    let (sort, sort_key, sort_dir) = (find("sort"), find("sort_key"), find("sort_dir"));
    if sort.is_some() && (sort_key.is_some() || sort_dir.is_some()) {
        return Err(bad(
            "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.".into(),
        ));
    }
    let parts: Vec<(&str, &str)> = match sort {
        Some(s) => s
            .split(',')
            .filter(|x| !x.is_empty())
            .map(|part| part.split_once(':').unwrap_or((part, "desc")))
            .collect(),
        None if sort_key.is_some() || sort_dir.is_some() => vec![(
            sort_key.map_or(default_key, String::as_str),
            sort_dir.map_or("desc", String::as_str),
        )],
        None => Vec::new(),
    };
    if parts.len() > MAX_SORT_KEYS {
        return Err(bad(format!(
            "Too many sort keys: {} (at most {MAX_SORT_KEYS}).",
            parts.len()
        )));
    }
    let mut out: Vec<(K, bool)> = Vec::with_capacity(parts.len());
    for (k, d) in parts {
        let k = k.trim();
        let key = parse_key(k).ok_or_else(|| bad(format!("Invalid sort key: {k}")))?;
        if out.iter().any(|(seen, _)| *seen == key) {
            return Err(bad(format!("Duplicate sort key: {k}")));
        }
        out.push((key, direction(d)?));
    }
    Ok(out)
}

/// Reads the paging keys of `params` for a list sorted in memory; sort keys must be in
/// `keys`. Without a sort, `default` applies.
pub fn page(
    params: &[(String, String)],
    keys: &[&str],
    default: (&str, bool),
    max_limit: i64,
) -> Result<Page, ApiError> {
    let mut p = window(params, max_limit)?;
    p.sort = sort_keys(params, default.0, |k| {
        keys.contains(&k).then(|| k.to_string())
    })?;
    if p.sort.is_empty() {
        p.sort.push((default.0.to_string(), default.1));
    }
    Ok(p)
}

/// Sorts `items` (by `key(item, sort key)`, then `id`), skips past the marker and the
/// offset, and keeps `limit`. An unknown marker is `not_found(marker)`.
pub fn apply<T>(
    mut items: Vec<T>,
    p: &Page,
    key: impl Fn(&T, &str) -> String,
    id: impl Fn(&T) -> String,
    not_found: impl FnOnce(&str) -> ApiError,
) -> Result<Vec<T>, ApiError> {
    let tie_desc = p.sort.first().is_some_and(|(_, d)| *d);
    items.sort_by(|a, b| {
        for (k, desc) in &p.sort {
            let o = key(a, k).cmp(&key(b, k));
            if o != Ordering::Equal {
                return if *desc { o.reverse() } else { o };
            }
        }
        let o = id(a).cmp(&id(b));
        if tie_desc { o.reverse() } else { o }
    });
    let start = match &p.marker {
        Some(m) => {
            items
                .iter()
                .position(|x| &id(x) == m)
                .ok_or_else(|| not_found(m))?
                + 1
        }
        None => 0,
    };
    Ok(items
        .into_iter()
        .skip(start)
        .skip(p.offset.max(0) as usize)
        .take(p.limit.max(0) as usize)
        .collect())
}

/// The `<collection>_links` value: a next link when the page is full.
pub fn next_link(
    links: &LinkBase,
    path: &str,
    params: &[(String, String)],
    p: &Page,
    shown: usize,
    last_id: Option<&str>,
) -> Option<Value> {
    let last = last_id?;
    if (shown as i64) < p.limit {
        return None;
    }
    let mut q: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "marker")
        .cloned()
        .collect();
    q.push(("marker".into(), last.to_string()));
    let qs = serde_urlencoded::to_string(&q).unwrap_or_default();
    Some(json!([{"rel": "next", "href": format!("{}?{qs}", links.collection(path))}]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn pages_sort_then_skip_past_the_marker() -> Result<(), ApiError> {
        let items = vec![("a", 3), ("b", 1), ("c", 2)];
        let p = page(
            &params(&[("sort", "n:asc"), ("limit", "2")]),
            &["n"],
            ("n", true),
            DEFAULT_MAX_LIMIT,
        )?;
        let key = |x: &(&str, i32), _: &str| x.1.to_string();
        let id = |x: &(&str, i32)| x.0.to_string();
        let nf = |m: &str| ApiError::NotFound(m.to_string());
        let first = apply(items.clone(), &p, key, id, nf)?;
        assert_eq!(first, vec![("b", 1), ("c", 2)]);
        let p2 = Page {
            marker: Some("c".into()),
            ..p.clone()
        };
        assert_eq!(apply(items.clone(), &p2, key, id, nf)?, vec![("a", 3)]);
        let p3 = Page {
            marker: Some("zz".into()),
            ..p
        };
        assert!(apply(items, &p3, key, id, nf).is_err());
        Ok(())
    }

    fn page_of(q: &[(&str, &str)]) -> Result<Page, ApiError> {
        page(&params(q), &["n", "m"], ("n", true), 1000)
    }

    #[test]
    fn bad_paging_is_refused() {
        for bad in [
            &[("limit", "-1")][..],
            &[("limit", "ten")],
            &[("limit", "1.5")],
            &[("offset", "-1")],
            &[("offset", "-99999999999999999999999")],
            &[("sort", "x")],
            &[("sort", "n"), ("sort_dir", "asc")],
            &[("sort_dir", "up")],
        ] {
            assert!(page_of(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn limits_beyond_the_maximum_are_clamped_not_refused() -> Result<(), ApiError> {
        for (given, want) in [
            ("0", 0),
            ("7", 7),
            ("1000", 1000),
            ("1001", 1000),
            ("1000000000000", 1000),
            ("99999999999999999999999999999999", 1000),
        ] {
            assert_eq!(page_of(&[("limit", given)])?.limit, want, "{given}");
        }
        assert_eq!(page_of(&[])?.limit, 1000);
        assert_eq!(window(&params(&[("limit", "80")]), 50)?.limit, 50);
        assert_eq!(
            page_of(&[("offset", "99999999999999999999999")])?.offset,
            i64::MAX
        );
        Ok(())
    }

    #[test]
    fn sort_keys_are_few_and_distinct() -> Result<(), ApiError> {
        let keys = |q: &[(&str, &str)]| -> Result<Vec<(String, bool)>, ApiError> {
            // `name` and `display_name` are one key, as for volumes.
            sort_keys(&params(q), "n", |k| match k {
                "name" | "display_name" => Some("name".to_string()),
                "n" | "m" | "a" | "b" | "c" | "d" | "e" | "f" | "g" => Some(k.to_string()),
                _ => None,
            })
        };
        assert_eq!(
            keys(&[("sort", "n:asc,m")])?,
            vec![("n".to_string(), false), ("m".to_string(), true)]
        );
        assert_eq!(
            keys(&[("sort_dir", "asc")])?,
            vec![("n".to_string(), false)]
        );
        assert_eq!(keys(&[])?, vec![]);
        let message = |q: &[(&str, &str)]| match keys(q) {
            Err(ApiError::BadRequest(m)) => m,
            other => format!("not a 400: {other:?}"),
        };
        assert_eq!(message(&[("sort", "n,m,n:asc")]), "Duplicate sort key: n");
        assert_eq!(
            message(&[("sort", "name,display_name")]),
            "Duplicate sort key: display_name"
        );
        // Nine distinct valid keys: refused for their number alone.
        assert_eq!(
            message(&[("sort", "n,m,a,b,c,d,e,f,g")]),
            "Too many sort keys: 9 (at most 8)."
        );
        // The probe's request: thousands of one key, refused before any is read.
        let many = vec!["n"; 5000].join(",");
        assert!(message(&[("sort", &many)]).starts_with("Too many sort keys: 5000"));
        assert_eq!(keys(&[("sort", "n,m,a,b,c,d,e,f")])?.len(), MAX_SORT_KEYS);
        Ok(())
    }
}

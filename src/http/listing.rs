//! Pagination and sorting for the small collections (types, messages), done in memory:
//! `limit`, `offset`, `marker`, `sort` or `sort_key`/`sort_dir`, and the next link
//! (cinder-api.md §0.3).

use std::cmp::Ordering;

use serde_json::{Value, json};

use super::error::ApiError;
use super::views::LinkBase;

/// Cinder's `osapi_max_limit`.
pub const MAX_LIMIT: i64 = 1000;

/// The query keys that page and sort rather than filter.
pub const PAGE_KEYS: [&str; 6] = ["limit", "offset", "marker", "sort", "sort_key", "sort_dir"];

/// What a list asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// At most this many items (clamped to [`MAX_LIMIT`]).
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

/// Reads the paging keys of `params`; sort keys must be in `keys`. Without a sort,
/// `default` applies.
pub fn page(
    params: &[(String, String)],
    keys: &[&str],
    default: (&str, bool),
) -> Result<Page, ApiError> {
    let bad = |m: String| ApiError::BadRequest(m);
    let mut p = Page {
        limit: MAX_LIMIT,
        offset: 0,
        marker: None,
        sort: Vec::new(),
    };
    let (mut sort, mut sort_key, mut sort_dir) = (None, None, None);
    for (k, v) in params {
        match k.as_str() {
            "limit" => {
                let n: i64 = v.parse().map_err(|_| bad(format!("Invalid limit: {v}")))?;
                if n < 0 {
                    return Err(bad(format!("Invalid limit: {v}")));
                }
                p.limit = n.min(MAX_LIMIT);
            }
            "offset" => {
                let n: i64 = v.parse().map_err(|_| bad(format!("Invalid offset: {v}")))?;
                if n < 0 {
                    return Err(bad(format!("Invalid offset: {v}")));
                }
                p.offset = n;
            }
            "marker" => p.marker = Some(v.clone()),
            "sort" => sort = Some(v.clone()),
            "sort_key" => sort_key = Some(v.clone()),
            "sort_dir" => sort_dir = Some(v.clone()),
            _ => {}
        }
    }
    if sort.is_some() && (sort_key.is_some() || sort_dir.is_some()) {
        return Err(bad(
            "The 'sort_key' and 'sort_dir' parameters are deprecated and cannot be used with the 'sort' parameter.".into(),
        ));
    }
    let known = |k: &str| -> Result<String, ApiError> {
        if keys.contains(&k) {
            Ok(k.to_string())
        } else {
            Err(ApiError::BadRequest(format!("Invalid sort key: {k}")))
        }
    };
    if let Some(s) = sort {
        for part in s.split(',').filter(|x| !x.is_empty()) {
            let (k, d) = part.split_once(':').unwrap_or((part, "desc"));
            p.sort.push((known(k.trim())?, direction(d)?));
        }
    } else if sort_key.is_some() || sort_dir.is_some() {
        let k = sort_key.unwrap_or_else(|| default.0.to_string());
        p.sort.push((
            known(&k)?,
            direction(sort_dir.as_deref().unwrap_or("desc"))?,
        ));
    }
    if p.sort.is_empty() {
        p.sort.push((default.0.to_string(), default.1));
    }
    Ok(p)
}

/// Reads only `limit`, `offset` and `marker` of `params`, for the lists the database
/// pages in its own order (snapshots, attachments): their sort keys are ignored.
pub fn window(params: &[(String, String)]) -> Result<Page, ApiError> {
    let paging: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "limit" | "offset" | "marker"))
        .cloned()
        .collect();
    page(&paging, &[], ("created_at", true))
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

    #[test]
    fn bad_paging_is_refused() {
        assert!(page(&params(&[("limit", "-1")]), &["n"], ("n", true)).is_err());
        assert!(page(&params(&[("sort", "x")]), &["n"], ("n", true)).is_err());
        assert!(
            page(
                &params(&[("sort", "n"), ("sort_dir", "asc")]),
                &["n"],
                ("n", true)
            )
            .is_err()
        );
        assert!(page(&params(&[("sort_dir", "up")]), &["n"], ("n", true)).is_err());
    }
}

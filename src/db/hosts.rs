//! What a storage host holds, for `GET /os-hosts/{host}` (Cinder's `hosts` extension):
//! per project, the volumes placed there and the snapshots of those volumes.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::schema::{snapshots, volumes};
use super::{DbConnection, DbError};

/// One project's share of a host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostUsage {
    /// The project.
    pub project_id: String,
    /// Volumes of the project on the host.
    pub volume_count: i64,
    /// Their size, GiB.
    pub volume_gb: i64,
    /// Snapshots of the project of volumes on the host.
    pub snapshot_count: i64,
    /// Their size (the volume's size when taken), GiB.
    pub snapshot_gb: i64,
}

/// Whether a volume's `stored` host (`node@backend#pool`) is on `host`, as Cinder's
/// `_filter_host` decides: with a `#` only that pool; with an `@` the backend and its
/// pools; a bare node name also every backend of the node.
pub fn on_host(stored: &str, host: &str) -> bool {
    if stored == host {
        return true;
    }
    if host.contains('#') {
        return false;
    }
    let rest = |sep: char| {
        stored
            .strip_prefix(host)
            .is_some_and(|r| r.starts_with(sep))
    };
    rest('#') || (!host.contains('@') && rest('@'))
}

/// `s` with LIKE's wildcards and the escape character escaped (by `\`).
fn like_literal(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The usage of every project with a volume on `host`, by project id.
pub fn usage(c: &mut DbConnection, host: &str) -> Result<Vec<HostUsage>, DbError> {
    // LIKE narrows the rows (SQLite's LIKE ignores ASCII case, so it may take too many);
    // `on_host` decides.
    let prefix = like_literal(host);
    let placed: Vec<(String, String, i64, Option<String>)> = volumes::table
        .filter(
            volumes::host
                .eq(host)
                .or(volumes::host.like(format!("{prefix}#%")).escape('\\'))
                .or(volumes::host.like(format!("{prefix}@%")).escape('\\')),
        )
        .select((
            volumes::id,
            volumes::project_id,
            volumes::size,
            volumes::host,
        ))
        .load(c)?;
    let placed: Vec<(String, String, i64)> = placed
        .into_iter()
        .filter(|(_, _, _, h)| h.as_deref().is_some_and(|h| on_host(h, host)))
        .map(|(id, project, size, _)| (id, project, size))
        .collect();
    let mut by_project: BTreeMap<String, HostUsage> = BTreeMap::new();
    for (_, project, size) in &placed {
        let u = by_project.entry(project.clone()).or_default();
        u.volume_count += 1;
        u.volume_gb += size;
    }
    let ids: Vec<String> = placed.iter().map(|(id, _, _)| id.clone()).collect();
    let snaps: Vec<(String, i64)> = snapshots::table
        .filter(snapshots::volume_id.eq_any(ids))
        .select((snapshots::project_id, snapshots::volume_size))
        .load(c)?;
    // Cinder counts, for each project with a volume there, that project's snapshots of
    // volumes on the host; a snapshot of another project's volume is not counted.
    for (project, size) in snaps {
        if let Some(u) = by_project.get_mut(&project) {
            u.snapshot_count += 1;
            u.snapshot_gb += size;
        }
    }
    Ok(by_project
        .into_iter()
        .map(|(project_id, u)| HostUsage { project_id, ..u })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_as_cinder_filters_them() {
        let stored = "n1@fast#pool";
        for (host, want) in [
            ("n1@fast#pool", true),
            ("n1@fast", true),
            ("n1", true),
            ("n1@slow", false),
            ("n1@fast#other", false),
            ("n", false),
            ("n1@fas", false),
            ("N1", false),
        ] {
            assert_eq!(on_host(stored, host), want, "{host}");
        }
        assert!(!on_host("n1#p", "n1@x"));
        assert!(on_host("n1#p", "n1"));
        assert_eq!(like_literal("a_b%c\\"), "a\\_b\\%c\\\\");
    }
}

//! The invariants checked after each recovery, from outside as an operator would: the
//! API's lists, the quota API and the node's directories.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::Client;

/// Volume states a volume only passes through: after recovery none may remain.
const VOLUME_TRANSIENT: &[&str] = &[
    "creating",
    "deleting",
    "extending",
    "retyping",
    "reverting",
    "attaching",
    "detaching",
    "reserved",
    "downloading",
    "uploading",
    "backing-up",
    "restoring-backup",
];
/// The same for snapshots.
const SNAPSHOT_TRANSIENT: &[&str] = &["creating", "deleting", "restoring", "backing-up"];
/// Volume states in which the backing file must exist.
const NEEDS_BACKING: &[&str] = &["available", "in-use", "reserved", "attaching", "detaching"];

/// What the server holds, as the API lists it.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Every volume (all projects).
    pub volumes: Vec<Value>,
    /// Every snapshot (all projects).
    pub snapshots: Vec<Value>,
    /// Every attachment.
    pub attachments: Vec<Value>,
}

impl Snapshot {
    /// Reads the three lists as an admin.
    pub fn read(admin: &Client) -> Result<Snapshot, String> {
        let list = |path: &str, key: &str| -> Result<Vec<Value>, String> {
            let a = admin.get(path)?;
            if !a.ok() {
                return Err(format!("GET {path} answered {}: {}", a.status, a.body));
            }
            Ok(a.body
                .get(key)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default())
        };
        Ok(Snapshot {
            volumes: list("/volumes/detail?all_tenants=1&limit=1000", "volumes")?,
            snapshots: list("/snapshots/detail?all_tenants=1&limit=1000", "snapshots")?,
            attachments: list("/attachments?all_tenants=1", "attachments")?,
        })
    }

    /// How many volumes and snapshots are in an error state.
    pub fn in_error(&self) -> usize {
        self.volumes
            .iter()
            .chain(&self.snapshots)
            .filter(|r| r["status"].as_str().is_some_and(|s| s.starts_with("error")))
            .count()
    }

    /// Volumes and snapshots in a transitional state. A volume `reserved` or `attaching`
    /// because an attachment of the attachments API is (the consumer holds it, not the
    /// server) is not one of them.
    pub fn unsettled(&self) -> Vec<String> {
        let mut out = Vec::new();
        for v in &self.volumes {
            let status = v["status"].as_str().unwrap_or("");
            let held = self.attachments.iter().any(|a| {
                a["volume_id"] == v["id"]
                    && a["status"] == status
                    && a["instance"]
                        .as_str()
                        .is_some_and(|i| i.starts_with(super::load::API_PREFIX))
            });
            if VOLUME_TRANSIENT.contains(&status) && !held {
                out.push(format!("volume {} {status}", v["id"]));
            }
        }
        for s in &self.snapshots {
            let status = s["status"].as_str().unwrap_or("");
            if SNAPSHOT_TRANSIENT.contains(&status) {
                out.push(format!("snapshot {} {status}", s["id"]));
            }
        }
        out
    }
}

/// Polls until nothing is transitional or `limit` passes; returns the last lists.
pub fn settle(admin: &Client, limit: Duration) -> Result<Snapshot, String> {
    let start = Instant::now();
    loop {
        let now = Snapshot::read(admin)?;
        if now.unsettled().is_empty() || start.elapsed() >= limit {
            return Ok(now);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What one check found; each entry says what is wrong.
#[derive(Debug, Default)]
pub struct Findings {
    /// Volumes or snapshots still transitional at the deadline.
    pub stuck: Vec<String>,
    /// Files with no row, and leftover temp files.
    pub orphans: Vec<String>,
    /// Rows whose file is missing or of the wrong size.
    pub backing: Vec<String>,
    /// Quota figures that differ from the resources.
    pub quota: Vec<String>,
    /// Exports of volumes no consumer is attached to.
    pub exports: Vec<String>,
    /// Volumes or snapshots in an error state with no user message.
    pub unexplained: Vec<String>,
}

impl Findings {
    /// Whether nothing is wrong.
    pub fn clean(&self) -> bool {
        self.all().next().is_none()
    }

    /// Every finding.
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.stuck
            .iter()
            .chain(&self.orphans)
            .chain(&self.backing)
            .chain(&self.quota)
            .chain(&self.exports)
            .chain(&self.unexplained)
    }
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_string()
}

/// The `volume-<uuid>` / `snapshot-<uuid>` files (and temp files) of a file node.
pub fn check_files(dir: &Path, state: &Snapshot, found: &mut Findings) -> Result<(), String> {
    let volumes: BTreeMap<String, &Value> = state.volumes.iter().map(|v| (id_of(v), v)).collect();
    let snapshots: BTreeMap<String, &Value> =
        state.snapshots.iter().map(|s| (id_of(s), s)).collect();
    let mut seen = BTreeSet::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name().to_string_lossy().to_string();
        let len = entry.metadata().map_err(|e| e.to_string())?.len();
        if name.starts_with('.') {
            if name.ends_with(".tmp") {
                found.orphans.push(format!("temp file {name} left behind"));
            }
            continue;
        }
        let (row, size) = if let Some(id) = name.strip_prefix("volume-") {
            let row = volumes.get(id);
            (row.is_some(), row.and_then(|v| v["size"].as_u64()))
        } else if let Some(id) = name.strip_prefix("snapshot-") {
            let row = snapshots.get(id);
            (row.is_some(), row.and_then(|s| s["size"].as_u64()))
        } else {
            continue;
        };
        seen.insert(name.clone());
        if !row {
            found.orphans.push(format!("file {name} has no row"));
        } else if let Some(gb) = size
            && len != gb << 30
        {
            found
                .backing
                .push(format!("file {name} is {len} bytes, its row says {gb} GiB"));
        }
    }
    for v in &state.volumes {
        let status = v["status"].as_str().unwrap_or("");
        if NEEDS_BACKING.contains(&status) && !seen.contains(&format!("volume-{}", id_of(v))) {
            found
                .backing
                .push(format!("volume {} is {status} but has no file", id_of(v)));
        }
    }
    for s in &state.snapshots {
        if s["status"] == "available" && !seen.contains(&format!("snapshot-{}", id_of(s))) {
            found.backing.push(format!(
                "snapshot {} is available but has no file",
                id_of(s)
            ));
        }
    }
    Ok(())
}

/// Export state files (`volume-<uuid>.json` under the target's directory) of volumes
/// that no attachment holds.
pub fn check_exports(dir: &Path, state: &Snapshot, found: &mut Findings) -> Result<(), String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    for entry in entries {
        let name = entry.map_err(|e| e.to_string())?.file_name();
        let name = name.to_string_lossy();
        let Some(id) = name
            .strip_prefix("volume-")
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let held = state.attachments.iter().any(|a| a["volume_id"] == id);
        if !held {
            found
                .exports
                .push(format!("volume {id} is exported with no attachment"));
        }
    }
    Ok(())
}

/// Compares each project's quota usage with its volumes and snapshots.
pub fn check_quota(
    admin: &Client,
    projects: &[String],
    state: &Snapshot,
    found: &mut Findings,
) -> Result<(), String> {
    for p in projects {
        let a = admin.get(&format!("/os-quota-sets/{p}?usage=true"))?;
        if !a.ok() {
            return Err(format!("quota usage of {p} answered {}", a.status));
        }
        let q = &a.body["quota_set"];
        let vols: Vec<&Value> = state
            .volumes
            .iter()
            .filter(|v| v["os-vol-tenant-attr:tenant_id"] == p.as_str())
            .collect();
        let snaps: Vec<&Value> = state
            .snapshots
            .iter()
            .filter(|s| s["os-extended-snapshot-attributes:project_id"] == p.as_str())
            .collect();
        let size = |v: &&Value| v["size"].as_i64().unwrap_or(0);
        let volume_gb: i64 = vols.iter().map(size).sum();
        // Every volume here has the default type, so its per-type keys must match too
        // (snapshots count only against `snapshots` and `gigabytes`).
        let expected = [
            ("volumes", vols.len() as i64),
            ("snapshots", snaps.len() as i64),
            ("gigabytes", volume_gb + snaps.iter().map(size).sum::<i64>()),
            ("volumes___DEFAULT__", vols.len() as i64),
            ("gigabytes___DEFAULT__", volume_gb),
        ];
        for (resource, want) in expected {
            let in_use = q[resource]["in_use"].as_i64();
            if in_use != Some(want) {
                found.quota.push(format!(
                    "project {p}: {resource} in_use is {in_use:?}, the resources sum to {want}"
                ));
            }
        }
    }
    Ok(())
}

/// Every volume or snapshot in an error state must come with a user message saying why.
/// Returns how many user messages there are (they outlive their resources).
pub fn check_messages(
    admin: &Client,
    state: &Snapshot,
    found: &mut Findings,
) -> Result<usize, String> {
    let a = admin.get("/messages?all_tenants=1&limit=1000")?;
    let messages = a.body["messages"].as_array().cloned().unwrap_or_default();
    let explained: BTreeSet<String> = messages
        .iter()
        .filter_map(|m| m["resource_uuid"].as_str().map(str::to_string))
        .collect();
    for (kind, rows) in [("volume", &state.volumes), ("snapshot", &state.snapshots)] {
        for r in rows.iter() {
            let status = r["status"].as_str().unwrap_or("");
            if status.starts_with("error") && !explained.contains(&id_of(r)) {
                found.unexplained.push(format!(
                    "{kind} {} is {status} with no user message",
                    id_of(r)
                ));
            }
        }
    }
    Ok(messages.len())
}

//! The mixed load one client drives: creates (empty or from a snapshot), deletes,
//! extends, snapshots, reverts, legacy attach/detach (`os-reserve`,
//! `os-initialize_connection`, `os-attach`, and back) and the attachments API
//! (create with a connector, `os-complete`, delete). Each step picks its target from
//! the server's own lists, so a client keeps no state a kill could make stale.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::http::{Answer, Client};

/// Instance ids of legacy attachments start with this, those made through the
/// attachments API with [`API_PREFIX`], so each kind is undone the way it was made.
pub const LEGACY_PREFIX: &str = "1e9ac700";
/// See [`LEGACY_PREFIX`].
pub const API_PREFIX: &str = "a77ac400";

/// The connector every client presents (one consumer host).
pub fn connector() -> Value {
    json!({"host": "crash-host", "initiator": "iqn.2026-11.org.clinker:crash-host", "ip": "127.0.0.1"})
}

/// What the clients of a round did, for the report.
#[derive(Debug, Default)]
pub struct LoadStats {
    /// Calls answered 2xx.
    pub ok: AtomicU64,
    /// Calls answered 4xx (a state that changed meanwhile, a quota).
    pub refused: AtomicU64,
    /// Calls answered 5xx while the server was up.
    pub server_errors: AtomicU64,
    /// Calls with no answer (the server was killed under them).
    pub cut: AtomicU64,
    /// Of the 5xx answers, those that were 503 (in a cluster: a node whose agent is down).
    pub unavailable: AtomicU64,
    /// Volumes whose create was answered 202: each must end up a row.
    pub accepted: Mutex<BTreeSet<String>>,
    /// Volumes a client asked to delete, whatever the answer (a call cut by a kill may
    /// have been carried out): only these may be missing later.
    pub delete_sent: Mutex<BTreeSet<String>>,
}

fn remember(set: &Mutex<BTreeSet<String>>, id: &str) {
    if let Ok(mut s) = set.lock() {
        s.insert(id.to_string());
    }
}

/// One client: a project, a generator, and where to count.
pub struct Worker {
    /// The HTTP client.
    pub client: Client,
    /// Its generator.
    pub rng: fastrand::Rng,
    /// Shared counters.
    pub stats: Arc<LoadStats>,
    /// Set when the round ends.
    pub stop: Arc<AtomicBool>,
    /// Volumes a project keeps at most (beyond it, deletes win).
    pub max_volumes: usize,
    /// Whether to run Nova's legacy attach and detach sequences. A client cut off in the
    /// middle of one leaves the volume `reserved` or `detaching` until the node's next
    /// start, which in a cluster is the agent's, not the controller's that was killed.
    pub legacy_attach: bool,
}

/// Why a step ended early: no answer (the server is gone).
struct Cut;

impl Worker {
    /// Runs steps until `stop` is set or the server stops answering.
    pub fn run(mut self) {
        while !self.stop.load(Ordering::Relaxed) {
            if self.step().is_err() {
                // The server is gone (killed): wait for the round to end.
                if self.stop.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, Cut> {
        match self.client.call(method, path, body) {
            Ok(a) => {
                if a.status == 503 {
                    self.stats.unavailable.fetch_add(1, Ordering::Relaxed);
                }
                let counter = match a.status {
                    200..=299 => &self.stats.ok,
                    500..=599 => &self.stats.server_errors,
                    _ => &self.stats.refused,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                Ok(a)
            }
            Err(_) => {
                self.stats.cut.fetch_add(1, Ordering::Relaxed);
                Err(Cut)
            }
        }
    }

    fn action(&self, volume: &str, body: Value) -> Result<Answer, Cut> {
        self.send("POST", &format!("/volumes/{volume}/action"), Some(&body))
    }

    fn list(&self, path: &str, key: &str) -> Result<Vec<Value>, Cut> {
        let a = self.send("GET", path, None)?;
        Ok(a.body
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    fn instance(&mut self, prefix: &str) -> String {
        let id = uuid::Uuid::from_u64_pair(self.rng.u64(..), self.rng.u64(..)).to_string();
        format!("{prefix}{}", &id[prefix.len()..])
    }

    fn step(&mut self) -> Result<(), Cut> {
        let volumes = self.list("/volumes/detail", "volumes")?;
        let snapshots = self.list("/snapshots/detail", "snapshots")?;
        let with = |status: &str| -> Vec<&Value> {
            volumes.iter().filter(|v| v["status"] == status).collect()
        };
        let available = with("available");
        let crowded = volumes.len() >= self.max_volumes;
        let kinds = if crowded { 14 } else { 16 };
        match self.rng.u64(..kinds) {
            0..=2 if !crowded => self.create(&snapshots),
            0..=3 => self.delete(&volumes, &snapshots),
            4 => self.extend(&available),
            5 | 6 => self.snapshot(&available, snapshots.len()),
            7 => self.delete_snapshot(&snapshots),
            8 => self.revert(&available, &snapshots),
            9 | 10 if self.legacy_attach => self.legacy_attach(&available),
            11 if self.legacy_attach => self.legacy_detach(),
            9..=11 => self.extend(&available),
            12 => self.api_attach(&available),
            _ => self.api_detach(),
        }
    }

    fn create(&mut self, snapshots: &[Value]) -> Result<(), Cut> {
        let ready: Vec<&Value> = snapshots
            .iter()
            .filter(|s| s["status"] == "available")
            .collect();
        let body = match self.rng.choice(&ready) {
            Some(s) if self.rng.u64(..3) == 0 => json!({"volume": {
                "size": s["size"], "snapshot_id": s["id"], "name": "crash-from-snap"}}),
            _ => json!({"volume": {"size": 1 + self.rng.u64(..2), "name": "crash"}}),
        };
        let made = self.send("POST", "/volumes", Some(&body))?;
        if made.status == 202
            && let Some(id) = made.body["volume"]["id"].as_str()
        {
            remember(&self.stats.accepted, id);
        }
        Ok(())
    }

    fn delete(&mut self, volumes: &[Value], snapshots: &[Value]) -> Result<(), Cut> {
        let gone: Vec<&Value> = volumes
            .iter()
            .filter(|v| {
                ["available", "error", "error_extending", "error_restoring"]
                    .contains(&v["status"].as_str().unwrap_or(""))
            })
            .collect();
        let Some(v) = self.rng.choice(&gone) else {
            return Ok(());
        };
        let id = v["id"].as_str().unwrap_or_default();
        remember(&self.stats.delete_sent, id);
        let has_snapshots = snapshots.iter().any(|s| s["volume_id"] == id);
        let path = if has_snapshots {
            format!("/volumes/{id}?cascade=true")
        } else {
            format!("/volumes/{id}")
        };
        self.send("DELETE", &path, None).map(drop)
    }

    fn extend(&mut self, available: &[&Value]) -> Result<(), Cut> {
        let small: Vec<&&Value> = available
            .iter()
            .filter(|v| v["size"].as_u64().is_some_and(|s| s < 4))
            .collect();
        let Some(v) = self.rng.choice(&small) else {
            return Ok(());
        };
        let size = v["size"].as_u64().unwrap_or(1) + 1;
        let id = v["id"].as_str().unwrap_or_default();
        self.action(id, json!({"os-extend": {"new_size": size}}))
            .map(drop)
    }

    fn snapshot(&mut self, available: &[&Value], count: usize) -> Result<(), Cut> {
        if count >= self.max_volumes {
            return Ok(());
        }
        let Some(v) = self.rng.choice(available) else {
            return Ok(());
        };
        let body = json!({"snapshot": {"volume_id": v["id"], "name": "crash-snap"}});
        self.send("POST", "/snapshots", Some(&body)).map(drop)
    }

    fn delete_snapshot(&mut self, snapshots: &[Value]) -> Result<(), Cut> {
        let gone: Vec<&Value> = snapshots
            .iter()
            .filter(|s| s["status"] == "available" || s["status"] == "error")
            .collect();
        let Some(s) = self.rng.choice(&gone) else {
            return Ok(());
        };
        let id = s["id"].as_str().unwrap_or_default();
        self.send("DELETE", &format!("/snapshots/{id}"), None)
            .map(drop)
    }

    /// Reverts an available volume to its latest snapshot, picked among the volumes
    /// whose latest snapshot is available and of the volume's size (the server checks
    /// the rest).
    fn revert(&mut self, available: &[&Value], snapshots: &[Value]) -> Result<(), Cut> {
        let latest = |v: &Value| {
            snapshots
                .iter()
                .filter(|s| s["volume_id"] == v["id"])
                .max_by_key(|s| s["created_at"].as_str().unwrap_or("").to_string())
                .filter(|s| s["status"] == "available" && s["size"] == v["size"])
                .cloned()
        };
        let ready: Vec<(&Value, Value)> = available
            .iter()
            .filter_map(|v| latest(v).map(|s| (*v, s)))
            .collect();
        let Some((v, s)) = self.rng.choice(&ready) else {
            return Ok(());
        };
        let id = v["id"].as_str().unwrap_or_default();
        self.action(id, json!({"revert": {"snapshot_id": s["id"]}}))
            .map(drop)
    }

    /// Nova's old sequence: reserve, connect, attach; on a refusal, unreserve.
    fn legacy_attach(&mut self, available: &[&Value]) -> Result<(), Cut> {
        let Some(v) = self.rng.choice(available) else {
            return Ok(());
        };
        let id = v["id"].as_str().unwrap_or_default().to_string();
        if !self.action(&id, json!({"os-reserve": null}))?.ok() {
            return Ok(());
        }
        let connected = self.action(
            &id,
            json!({"os-initialize_connection": {"connector": connector()}}),
        )?;
        if !connected.ok() {
            return self.action(&id, json!({"os-unreserve": null})).map(drop);
        }
        let instance = self.instance(LEGACY_PREFIX);
        let attached = self.action(
            &id,
            json!({"os-attach": {"instance_uuid": instance, "mountpoint": "/dev/vdb", "mode": "rw"}}),
        )?;
        if !attached.ok() {
            self.action(
                &id,
                json!({"os-terminate_connection": {"connector": connector()}}),
            )?;
            self.action(&id, json!({"os-unreserve": null}))?;
        }
        Ok(())
    }

    /// Nova's old detach: begin, disconnect, detach.
    fn legacy_detach(&mut self) -> Result<(), Cut> {
        let attachments = self.list("/attachments", "attachments")?;
        let legacy: Vec<&Value> = attachments
            .iter()
            .filter(|a| {
                a["status"] == "attached"
                    && a["instance"]
                        .as_str()
                        .is_some_and(|i| i.starts_with(LEGACY_PREFIX))
            })
            .collect();
        let Some(a) = self.rng.choice(&legacy) else {
            return Ok(());
        };
        let volume = a["volume_id"].as_str().unwrap_or_default().to_string();
        if !self
            .action(&volume, json!({"os-begin_detaching": null}))?
            .ok()
        {
            return Ok(());
        }
        let cut = self.action(
            &volume,
            json!({"os-terminate_connection": {"connector": connector()}}),
        )?;
        if !cut.ok() {
            return self
                .action(&volume, json!({"os-roll_detaching": null}))
                .map(drop);
        }
        self.action(&volume, json!({"os-detach": {"attachment_id": a["id"]}}))
            .map(drop)
    }

    /// The attachments API: create with a connector, then complete.
    fn api_attach(&mut self, available: &[&Value]) -> Result<(), Cut> {
        let Some(v) = self.rng.choice(available) else {
            return Ok(());
        };
        let instance = self.instance(API_PREFIX);
        let body = json!({"attachment": {
            "volume_uuid": v["id"], "instance_uuid": instance, "connector": connector()}});
        let made = self.send("POST", "/attachments", Some(&body))?;
        let Some(id) = made.body["attachment"]["id"].as_str() else {
            return Ok(());
        };
        // Some attachments stay reserved or attaching, as a consumer that went away
        // would leave them; the detach step removes them later.
        if self.rng.u64(..4) == 0 {
            return Ok(());
        }
        self.send(
            "POST",
            &format!("/attachments/{id}/action"),
            Some(&json!({"os-complete": null})),
        )
        .map(drop)
    }

    fn api_detach(&mut self) -> Result<(), Cut> {
        let attachments = self.list("/attachments", "attachments")?;
        let ours: Vec<&Value> = attachments
            .iter()
            .filter(|a| {
                a["instance"]
                    .as_str()
                    .is_some_and(|i| i.starts_with(API_PREFIX))
            })
            .collect();
        let Some(a) = self.rng.choice(&ours) else {
            return Ok(());
        };
        let id = a["id"].as_str().unwrap_or_default();
        self.send("DELETE", &format!("/attachments/{id}"), None)
            .map(drop)
    }
}

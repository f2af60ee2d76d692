//! iSCSI through tgtd (Cinder's `tgtadm` target helper, cinder-internals §9).
//!
//! One target per exported volume, named `<target_prefix>volume-<uuid>`
//! (`iqn.2010-10.org.openstack:volume-<uuid>` by default), with the volume's file as
//! LUN 1 (tgt keeps LUN 0 for its controller) and its own CHAP account, made from the
//! kernel's CSPRNG when the export is first created. CHAP is always on.
//!
//! tgt serves bytes as they are in the file, so only raw images can be exported; a qcow2
//! volume would show its metadata to the initiator. Use the NBD target for qcow2.
//!
//! The persistence file is `<state_dir>/volume-<uuid>.json` (IQN, file, credentials,
//! connectors), written before tgtd is touched so a crash midway never leaves an export
//! whose secret Clinker has lost. tgtd keeps its targets in memory only; after tgtd
//! restarts, `ensure_export` rebuilds them from these files with the same credentials.
//!
//! Steps are ordered so a half-made target never admits anyone: target, account,
//! account binding, LUN, and only then the initiator ACL, without which tgtd refuses
//! every login.

mod admin;
/// Test support, for the unit tests here and the integration tests: whether tgtd
/// answers, starting it if needed (it daemonizes and stays up). `false`, with a line on
/// stderr saying that `test` is skipped and why, only when it cannot be started or does
/// not answer. Not used by the service, which expects tgtd to run as a system service,
/// so only the tests' build (`test-hooks`) has it.
#[cfg(feature = "test-hooks")]
pub fn tgtd_ready(test: &str) -> bool {
    if admin::show_targets().is_ok() {
        return true;
    }
    if let Err(e) = std::process::Command::new("tgtd").status() {
        eprintln!("SKIPPED {test}: tgtd cannot be started ({e}); install the tgt package");
        return false;
    }
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(5) {
        if admin::show_targets().is_ok() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    match admin::show_targets() {
        Ok(_) => true,
        Err(e) => {
            eprintln!("SKIPPED {test}: tgtd was started but does not answer: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::info;

use super::state::StateDir;
use super::{ChapCredentials, Export, ExportSpec, Target, connector_key, object};
use crate::drivers::command::detail_contains;
use crate::drivers::fsutil::not_found;
use crate::drivers::{ConnectionInfo, DriverError, ImageFormat};
use crate::model::VolumeId;

/// How a [`TgtTarget`] is set up (Cinder's `target_*` options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TgtOptions {
    /// Where the per-volume persistence files live. Required.
    pub state_dir: PathBuf,
    /// Prefix of every IQN. Default `iqn.2010-10.org.openstack:`.
    pub target_prefix: String,
    /// The portal address consumers connect to (`target_ip_address`). Default
    /// `127.0.0.1`; a node serving other hosts must set its own address.
    pub target_ip_address: String,
    /// The portal port tgtd listens on. Default 3260.
    pub target_port: u16,
}

impl TgtOptions {
    /// The defaults, with persistence files in `state_dir`.
    pub fn new(state_dir: PathBuf) -> Self {
        Self {
            state_dir,
            target_prefix: "iqn.2010-10.org.openstack:".into(),
            target_ip_address: "127.0.0.1".into(),
            target_port: 3260,
        }
    }
}

/// What the persistence file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TgtState {
    iqn: String,
    path: String,
    chap: ChapCredentials,
    /// Connector keys of the consumers using the export.
    attachments: BTreeSet<String>,
}

/// The iSCSI [`Target`] backed by tgtd.
#[derive(Debug)]
pub struct TgtTarget {
    options: TgtOptions,
    state: StateDir,
    /// Serializes this target's tgtadm sequences; other processes driving the same tgtd
    /// are handled by retrying target-id allocation.
    lock: Mutex<()>,
}

/// How many target ids to try when other tgtd users race for the same one.
const TID_ATTEMPTS: u32 = 16;

impl TgtTarget {
    /// A target keeping its persistence files in `options.state_dir` (created, 0700).
    /// tgtd itself is only needed when something is exported.
    pub fn new(options: TgtOptions) -> Result<Self, DriverError> {
        let state = StateDir::new(&options.state_dir)?;
        Ok(Self {
            options,
            state,
            lock: Mutex::new(()),
        })
    }

    /// The IQN of `volume`'s target.
    pub fn iqn(&self, volume: &VolumeId) -> String {
        format!("{}{}", self.options.target_prefix, volume.backend_name())
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `ip:port`, with brackets around an IPv6 address.
    fn portal(&self) -> String {
        let ip = &self.options.target_ip_address;
        match ip.contains(':') {
            true => format!("[{ip}]:{}", self.options.target_port),
            false => format!("{ip}:{}", self.options.target_port),
        }
    }

    /// Makes tgtd serve `state`, adding only what is missing; returns the target id.
    fn apply(&self, state: &TgtState) -> Result<u32, DriverError> {
        let target = match admin::find_target(&state.iqn)? {
            Some(t) => t,
            None => self.new_target(&state.iqn)?,
        };
        let user = state.chap.username();
        if !admin::show_accounts()?.iter().any(|a| a == user) {
            admin::new_account(user, state.chap.password())?;
        }
        if !target.accounts.iter().any(|a| a == user) {
            admin::bind_account(target.tid, user)?;
        }
        match target.luns.get(&admin::LUN) {
            Some(Some(p)) if *p == state.path => {}
            Some(_) => {
                admin::delete_lun(target.tid)?;
                admin::new_lun(target.tid, &state.path)?;
            }
            None => admin::new_lun(target.tid, &state.path)?,
        }
        if !target.acls.iter().any(|a| a == "ALL") {
            admin::bind_all(target.tid)?;
        }
        Ok(target.tid)
    }

    /// Creates the target under the first free id; another tgtd user may take that id
    /// between the listing and the creation, so a clash moves on to the next one.
    fn new_target(&self, iqn: &str) -> Result<admin::ShownTarget, DriverError> {
        let mut last = None;
        for _ in 0..TID_ATTEMPTS {
            let targets = admin::show_targets()?;
            if let Some(t) = targets.iter().find(|t| t.iqn == iqn) {
                return Ok(t.clone());
            }
            let tid = targets.iter().map(|t| t.tid).max().unwrap_or(0) + 1;
            match admin::new_target(tid, iqn) {
                Ok(()) => {
                    return Ok(admin::ShownTarget {
                        tid,
                        iqn: iqn.to_string(),
                        ..admin::ShownTarget::default()
                    });
                }
                Err(e) if detail_contains(&e, "already exists") => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(DriverError::Busy(format!("no free target id for {iqn}"))))
    }

    /// Loads the state, or makes and stores a fresh one (new credentials) for `spec`.
    fn state_for(&self, spec: &ExportSpec<'_>) -> Result<TgtState, DriverError> {
        let path = spec.path.display().to_string();
        let state = match self.state.load::<TgtState>(&spec.volume)? {
            Some(s) if s.path == path => return Ok(s),
            // The volume's file moved: keep the credentials, point at the new file.
            Some(s) => TgtState { path, ..s },
            None => TgtState {
                iqn: self.iqn(&spec.volume),
                path,
                chap: ChapCredentials::generate()?,
                attachments: BTreeSet::new(),
            },
        };
        self.state.store(&spec.volume, &state)?;
        Ok(state)
    }

    fn export(&self, tid: u32, state: &TgtState) -> Export {
        Export {
            location: format!("{},{tid} {} {}", self.portal(), state.iqn, admin::LUN),
            auth: Some(state.chap.clone()),
        }
    }
}

impl Target for TgtTarget {
    fn name(&self) -> &'static str {
        "tgt"
    }

    fn storage_protocol(&self) -> &'static str {
        "iSCSI"
    }

    fn supports(&self, format: ImageFormat) -> bool {
        format == ImageFormat::Raw
    }

    fn create_export(&self, spec: &ExportSpec<'_>) -> Result<Export, DriverError> {
        if !self.supports(spec.format) {
            return Err(DriverError::NotSupported {
                driver: "tgt",
                verb: "export of non-raw images",
            });
        }
        let _guard = self.lock();
        let state = self.state_for(spec)?;
        let tid = self.apply(&state)?;
        info!(volume.id = %spec.volume, iqn = %state.iqn, tid, "iSCSI export ready");
        Ok(self.export(tid, &state))
    }

    fn ensure_export(&self, spec: &ExportSpec<'_>) -> Result<Option<Export>, DriverError> {
        if !self.is_exported(&spec.volume)? {
            return Ok(None);
        }
        self.create_export(spec).map(Some)
    }

    fn remove_export(&self, volume: &VolumeId) -> Result<(), DriverError> {
        let _guard = self.lock();
        // The state is written before tgtd is touched and removed after, so without
        // it there is nothing to remove, and deleting a never-exported volume does not
        // need tgtd to be running.
        let Some(state) = self.state.load::<TgtState>(volume)? else {
            return Ok(());
        };
        if let Some(t) = admin::find_target(&state.iqn)? {
            admin::delete_target(t.tid)?;
        }
        admin::delete_account(state.chap.username())?;
        // Last, so a crash above leaves the credentials needed to finish the job.
        self.state.remove(volume)?;
        info!(volume.id = %volume, iqn = %state.iqn, "iSCSI export removed");
        Ok(())
    }

    fn is_exported(&self, volume: &VolumeId) -> Result<bool, DriverError> {
        Ok(self.state.path(volume).exists())
    }

    fn refresh_export(&self, spec: &ExportSpec<'_>) -> Result<(), DriverError> {
        let _guard = self.lock();
        let Some(state) = self.state.load::<TgtState>(&spec.volume)? else {
            return Ok(());
        };
        // tgtd reads the backing file's size when the LUN is added, so the LUN is
        // re-added; initiators see the new size on their next rescan.
        if let Some(t) = admin::find_target(&state.iqn)? {
            admin::delete_lun(t.tid)?;
            admin::new_lun(t.tid, &state.path)?;
        }
        self.apply(&state).map(drop)
    }

    fn initialize_connection(
        &self,
        spec: &ExportSpec<'_>,
        connector: &Value,
    ) -> Result<ConnectionInfo, DriverError> {
        if connector.get("initiator").and_then(Value::as_str).is_none() {
            return Err(DriverError::InvalidConnector(
                "an iSCSI connector needs \"initiator\"".into(),
            ));
        }
        let _guard = self.lock();
        let Some(mut state) = self.state.load::<TgtState>(&spec.volume)? else {
            return Err(not_found("find the export of", spec.path));
        };
        if state.attachments.insert(connector_key(connector)) {
            self.state.store(&spec.volume, &state)?;
        }
        let data = object([
            ("target_discovered", json!(false)),
            ("target_portal", json!(self.portal())),
            ("target_iqn", json!(state.iqn)),
            ("target_lun", json!(admin::LUN)),
            ("volume_id", json!(spec.volume.to_string())),
            ("auth_method", json!("CHAP")),
            ("auth_username", json!(state.chap.username())),
            ("auth_password", json!(state.chap.password())),
            ("encrypted", json!(false)),
            ("access_mode", json!("rw")),
        ]);
        Ok(ConnectionInfo {
            driver_volume_type: "iscsi".into(),
            data,
        })
    }

    fn terminate_connection(
        &self,
        volume: &VolumeId,
        connector: &Value,
    ) -> Result<bool, DriverError> {
        let _guard = self.lock();
        let Some(mut state) = self.state.load::<TgtState>(volume)? else {
            return Ok(false);
        };
        if state.attachments.remove(&connector_key(connector)) {
            self.state.store(volume, &state)?;
        }
        Ok(!state.attachments.is_empty())
    }
}

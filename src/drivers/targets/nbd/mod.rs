//! NBD through `qemu-nbd`: one server process per exported volume, on its own TCP port
//! taken from a configured range, serving one export whose name is 32 random
//! characters (about 165 bits from the kernel's CSPRNG).
//!
//! Access control is the export name: NBD without TLS has no authentication, so anyone
//! who can reach the port and knows the name can read and write the volume. The name
//! appears only in the `connection_info` given to the attaching caller and in the 0600
//! state file, but it also sits in qemu-nbd's command line, which every local user of
//! the node can read in `/proc`; and it crosses the network in clear. Nodes exporting
//! over NBD should therefore keep the storage network private, or turn on TLS-PSK
//! (`tls_psk`): each export then gets its own pre-shared key (256 bits from the CSPRNG,
//! identity `volume-<uuid>`), kept in `<state_dir>/volume-<uuid>.tls/keys.psk` (0600,
//! directory 0700) where qemu-nbd reads it (`--object tls-creds-psk --tls-creds`), and
//! handed to the attaching caller in `connection_info` (`tls`, `tls_psk_username`,
//! `tls_psk_key`). Clients without the key cannot even negotiate the export, and the
//! traffic is encrypted. A qemu client writes `<user>:<key>` into a `keys.psk` of its
//! own and connects with `--object tls-creds-psk,id=t,endpoint=client,dir=<dir>,
//! username=<user>` and `tls-creds=t` in the nbd options.
//!
//! qemu-nbd decodes the image (`--format raw|qcow2`, always explicit), so consumers
//! always see a raw disk: `connection_info.data.format` is `raw` even for qcow2 volumes.
//! `--persistent` keeps the server up across client disconnects; the server stops only
//! on `remove_export`.
//!
//! State per volume: `<state_dir>/volume-<uuid>.json` (file, format, port, name,
//! connectors), written before the server starts, so a crash never leaves a server
//! nobody can find, and `<state_dir>/volume-<uuid>.pid`, written by qemu-nbd.

mod process;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::info;

use super::state::StateDir;
use super::{Export, ExportSpec, Target, connector_key, object, random_string};
use crate::drivers::command::detail_contains;
use crate::drivers::fsutil::{io_err, not_found, write_atomically};
use crate::drivers::{ConnectionInfo, DriverError, ImageFormat};
use crate::model::VolumeId;

/// How an [`NbdTarget`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NbdOptions {
    /// Where the per-volume state and pid files live. Required.
    pub state_dir: PathBuf,
    /// The address the servers listen on. Default `127.0.0.1`.
    pub listen_address: String,
    /// The host consumers are told to connect to. Default: `listen_address`.
    pub advertised_host: Option<String>,
    /// First port of the range the servers use. Default 10809 (NBD's own port).
    pub port_min: u16,
    /// Last port of the range, inclusive; one port per exported volume. Default 10999.
    pub port_max: u16,
    /// Require TLS with a per-export pre-shared key. Default false.
    pub tls_psk: bool,
}

impl NbdOptions {
    /// The defaults, with state files in `state_dir`.
    pub fn new(state_dir: PathBuf) -> Self {
        Self {
            state_dir,
            listen_address: "127.0.0.1".into(),
            advertised_host: None,
            port_min: 10809,
            port_max: 10999,
            tls_psk: false,
        }
    }
}

/// What the state file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct NbdState {
    path: PathBuf,
    format: ImageFormat,
    port: u16,
    export_name: String,
    attachments: BTreeSet<String>,
    /// The export's TLS pre-shared key (hex), when the target requires TLS.
    #[serde(default)]
    psk_key: Option<String>,
}

/// The NBD [`Target`] backed by qemu-nbd.
#[derive(Debug)]
pub struct NbdTarget {
    options: NbdOptions,
    state: StateDir,
    /// Serializes port choice and server starts, so two exports never race for a port
    /// within this process; other processes' ports are found by trying.
    lock: Mutex<()>,
}

/// How many times a restart tries the port the export had before moving on.
const PORT_RETRIES: u32 = 10;

/// Export names: lower-case letters and digits, safe in any URL.
const NAME_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

impl NbdTarget {
    /// A target keeping its state in `options.state_dir` (created, 0700). Fails on an
    /// empty port range.
    pub fn new(options: NbdOptions) -> Result<Self, DriverError> {
        if options.port_min > options.port_max || options.port_min == 0 {
            return Err(DriverError::InvalidConfig(format!(
                "NBD port range {}-{} is empty",
                options.port_min, options.port_max
            )));
        }
        let state = StateDir::new(&options.state_dir)?;
        Ok(Self {
            options,
            state,
            lock: Mutex::new(()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn host(&self) -> &str {
        let o = &self.options;
        o.advertised_host.as_deref().unwrap_or(&o.listen_address)
    }

    fn pid_file(&self, volume: &VolumeId) -> PathBuf {
        self.state.side_path(volume, "pid")
    }

    /// The directory holding the export's `keys.psk`.
    fn tls_dir(&self, volume: &VolumeId) -> PathBuf {
        self.state.side_path(volume, "tls")
    }

    /// Writes the export's `keys.psk` (identity `volume-<uuid>`) for qemu-nbd to read;
    /// `None` when the export has no key.
    fn write_psk(
        &self,
        volume: &VolumeId,
        state: &NbdState,
    ) -> Result<Option<PathBuf>, DriverError> {
        let Some(key) = &state.psk_key else {
            return Ok(None);
        };
        let dir = self.tls_dir(volume);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io_err("create directory", &dir))?;
        let line = format!("{}:{key}\n", volume.backend_name());
        write_atomically(&dir.join("keys.psk"), line.as_bytes())?;
        Ok(Some(dir))
    }

    fn running(&self, volume: &VolumeId, state: &NbdState) -> bool {
        process::running(&self.pid_file(volume), &state.export_name).is_some()
    }

    /// Ports recorded by this target's other exports.
    fn ports_in_use(&self) -> BTreeSet<u16> {
        let Ok(entries) = std::fs::read_dir(self.state.dir()) else {
            return BTreeSet::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|bytes| serde_json::from_slice::<NbdState>(&bytes).ok())
            .map(|s| s.port)
            .collect()
    }

    /// Starts the server for `state`: on its recorded port if free, else on the next
    /// free port of the range, recording the port before each try.
    fn start(&self, volume: &VolumeId, state: &mut NbdState) -> Result<(), DriverError> {
        let (min, max) = (self.options.port_min, self.options.port_max);
        let taken = self.ports_in_use();
        let mut candidates: Vec<u16> = (min..=max).filter(|p| !taken.contains(p)).collect();
        if (min..=max).contains(&state.port) {
            candidates.retain(|&p| p != state.port);
            candidates.insert(0, state.port);
        }
        let pid_file = self.pid_file(volume);
        let tls_dir = self.write_psk(volume, state)?;
        let recorded = state.port;
        let mut last = None;
        for port in candidates {
            if state.port != port {
                state.port = port;
                self.state.store(volume, state)?;
            }
            let server = process::Server {
                path: &state.path,
                format: state.format,
                address: &self.options.listen_address,
                port,
                export_name: &state.export_name,
                pid_file: &pid_file,
                tls_dir: tls_dir.as_deref(),
            };
            // The recorded port is what consumers were told: give it a few tries.
            let tries = if port == recorded { PORT_RETRIES } else { 1 };
            for attempt in 1..=tries {
                match process::start(&server) {
                    Ok(()) => {
                        info!(volume.id = %volume, port, "NBD export started");
                        return Ok(());
                    }
                    Err(e) if detail_contains(&e, "in use") => last = Some(e),
                    Err(e) => return Err(e),
                }
                if attempt < tries {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            }
        }
        Err(last.unwrap_or(DriverError::Busy(format!(
            "no free NBD port in {min}-{max}"
        ))))
    }

    fn stop(&self, volume: &VolumeId, state: &NbdState) -> Result<(), DriverError> {
        process::stop(&self.pid_file(volume), &state.export_name)
    }

    fn export(&self, state: &NbdState) -> Export {
        Export {
            location: format!("nbd://{}:{}", url_host(self.host()), state.port),
            auth: None,
        }
    }
}

/// `host` as it goes in a URL: IPv6 addresses in brackets.
fn url_host(host: &str) -> String {
    match host.contains(':') {
        true => format!("[{host}]"),
        false => host.to_string(),
    }
}

impl Target for NbdTarget {
    fn name(&self) -> &'static str {
        "nbd"
    }

    fn storage_protocol(&self) -> &'static str {
        "NBD"
    }

    fn supports(&self, _format: ImageFormat) -> bool {
        true
    }

    fn create_export(&self, spec: &ExportSpec<'_>) -> Result<Export, DriverError> {
        let _guard = self.lock();
        let mut state = match self.state.load::<NbdState>(&spec.volume)? {
            Some(s) if s.path == spec.path && s.format == spec.format => {
                if self.running(&spec.volume, &s) {
                    return Ok(self.export(&s));
                }
                s
            }
            // Same name and port, new file: restart the server on it.
            Some(s) => {
                self.stop(&spec.volume, &s)?;
                let (path, format) = (spec.path.to_path_buf(), spec.format);
                NbdState { path, format, ..s }
            }
            None => NbdState {
                path: spec.path.to_path_buf(),
                format: spec.format,
                port: 0,
                export_name: random_string(NAME_ALPHABET, 32)?,
                attachments: BTreeSet::new(),
                psk_key: match self.options.tls_psk {
                    true => Some(random_string(b"0123456789abcdef", 64)?),
                    false => None,
                },
            },
        };
        self.state.store(&spec.volume, &state)?;
        self.start(&spec.volume, &mut state)?;
        Ok(self.export(&state))
    }

    fn ensure_export(&self, spec: &ExportSpec<'_>) -> Result<Option<Export>, DriverError> {
        if !self.is_exported(&spec.volume)? {
            return Ok(None);
        }
        self.create_export(spec).map(Some)
    }

    fn remove_export(&self, volume: &VolumeId) -> Result<(), DriverError> {
        let _guard = self.lock();
        if let Some(state) = self.state.load::<NbdState>(volume)? {
            self.stop(volume, &state)?;
            info!(volume.id = %volume, "NBD export stopped");
        }
        let tls = self.tls_dir(volume);
        match std::fs::remove_dir_all(&tls) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io_err("remove", &tls)(e));
            }
            _ => {}
        }
        self.state.remove(volume)
    }

    fn is_exported(&self, volume: &VolumeId) -> Result<bool, DriverError> {
        Ok(self.state.path(volume).exists())
    }

    fn refresh_export(&self, spec: &ExportSpec<'_>) -> Result<(), DriverError> {
        let _guard = self.lock();
        let Some(mut state) = self.state.load::<NbdState>(&spec.volume)? else {
            return Ok(());
        };
        // qemu-nbd reads the size once at start; clients reconnect to see the new one.
        self.stop(&spec.volume, &state)?;
        self.start(&spec.volume, &mut state)
    }

    fn initialize_connection(
        &self,
        spec: &ExportSpec<'_>,
        connector: &Value,
    ) -> Result<ConnectionInfo, DriverError> {
        let _guard = self.lock();
        let Some(mut state) = self.state.load::<NbdState>(&spec.volume)? else {
            return Err(not_found("find the export of", spec.path));
        };
        if state.attachments.insert(connector_key(connector)) {
            self.state.store(&spec.volume, &state)?;
        }
        let host = self.host();
        let url = format!(
            "nbd://{}:{}/{}",
            url_host(host),
            state.port,
            state.export_name
        );
        let mut data = object([
            ("host", json!(host)),
            ("port", json!(state.port)),
            ("export_name", json!(state.export_name)),
            ("format", json!(ImageFormat::Raw.as_str())),
            ("url", json!(url)),
            ("volume_id", json!(spec.volume.to_string())),
            ("access_mode", json!("rw")),
        ]);
        if let Some(key) = &state.psk_key {
            data.extend(object([
                ("tls", json!(true)),
                ("tls_psk_username", json!(spec.volume.backend_name())),
                ("tls_psk_key", json!(key)),
            ]));
        }
        Ok(ConnectionInfo {
            driver_volume_type: "nbd".into(),
            data,
        })
    }

    fn terminate_connection(
        &self,
        volume: &VolumeId,
        connector: &Value,
    ) -> Result<bool, DriverError> {
        let _guard = self.lock();
        let Some(mut state) = self.state.load::<NbdState>(volume)? else {
            return Ok(false);
        };
        if state.attachments.remove(&connector_key(connector)) {
            self.state.store(volume, &state)?;
        }
        Ok(!state.attachments.is_empty())
    }
}

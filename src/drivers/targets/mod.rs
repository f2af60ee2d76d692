//! Export "target helpers": how a volume file on this node is offered to a consumer.
//! Cinder splits a driver the same way (`volume/targets/`): the driver owns the bytes,
//! the target owns the export.
//!
//! - [`tgt::TgtTarget`]: iSCSI through tgtd, one target per volume, CHAP always on;
//!   raw images only (tgt cannot read qcow2).
//! - [`nbd::NbdTarget`]: one `qemu-nbd` per volume on a TCP port, under an export name
//!   nobody can guess; raw or qcow2 (qemu-nbd decodes qcow2, clients see a raw disk).
//! - [`local::LocalTarget`]: no export, the consumer opens the path on this node.
//!
//! Targets that hold state (credentials, ports, attachments) keep it in a JSON file per
//! volume in their own state directory, written temp + fsync + rename, so
//! `ensure_export` can rebuild an export after a restart with the same name and
//! credentials. Each also remembers which connectors use the export, so detaching one
//! consumer of a multi-attached volume does not cut off the others.
//!
//! Secrets (CHAP passwords, NBD export names) appear only in the `connection_info` the
//! attaching caller receives and in the 0600 state files; [`ChapCredentials`] redacts
//! itself in `Debug`, and tool errors never echo arguments.

pub mod local;
pub mod nbd;
mod state;
pub mod tgt;

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ConnectionInfo, DriverError, ImageFormat};
use crate::model::VolumeId;

/// What a target exports: a volume and the file holding it.
#[derive(Debug, Clone, Copy)]
pub struct ExportSpec<'a> {
    /// The volume.
    pub volume: VolumeId,
    /// Its file, absolute.
    pub path: &'a Path,
    /// How the file is laid out.
    pub format: ImageFormat,
}

/// What `create_export` returns: Cinder's `provider_location` and `provider_auth`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// Where consumers find the export, in the target's own syntax (for tgt,
    /// `"<ip>:<port>,<tid> <iqn> <lun>"` as Cinder stores it).
    pub location: String,
    /// The credentials consumers must present, if the target uses any.
    pub auth: Option<ChapCredentials>,
}

/// A CHAP user name and secret. `Debug` shows neither: they must never reach a log.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChapCredentials {
    username: String,
    password: String,
}

/// Cinder's CHAP alphabet: digits without 0 and 1, letters without I, O and l, so
/// credentials can be read aloud and typed without confusion.
const CHAP_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

impl ChapCredentials {
    /// Fresh credentials from the kernel's CSPRNG: a 20-character user name and a
    /// 16-character secret, as Cinder makes them.
    pub fn generate() -> Result<Self, DriverError> {
        Ok(Self {
            username: random_string(CHAP_ALPHABET, 20)?,
            password: random_string(CHAP_ALPHABET, 16)?,
        })
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The secret.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Cinder's `provider_auth` string, `"CHAP <user> <secret>"`. Holds the secret.
    pub fn provider_auth(&self) -> String {
        format!("CHAP {} {}", self.username, self.password)
    }
}

impl fmt::Debug for ChapCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChapCredentials { <redacted> }")
    }
}

/// An export protocol. Every verb is idempotent, like the driver verbs that call them.
pub trait Target: Send + Sync + fmt::Debug {
    /// The helper's name in config: `tgt`, `nbd`, `local`.
    fn name(&self) -> &'static str;

    /// `storage_protocol` for the stats: `iSCSI`, `NBD`, `local`.
    fn storage_protocol(&self) -> &'static str;

    /// Whether files of this format can be exported; drivers check it when they are
    /// built, so a misconfigured node fails at start rather than at the first attach.
    fn supports(&self, format: ImageFormat) -> bool;

    /// Makes the export, or returns the existing one unchanged (same name, same
    /// credentials).
    fn create_export(&self, spec: &ExportSpec<'_>) -> Result<Export, DriverError>;

    /// Rebuilds an export this target made earlier (its daemon may have restarted),
    /// keeping its name and credentials. `None` when the volume has no export.
    fn ensure_export(&self, spec: &ExportSpec<'_>) -> Result<Option<Export>, DriverError>;

    /// Tears the export down; one already gone is a success.
    fn remove_export(&self, volume: &VolumeId) -> Result<(), DriverError>;

    /// Whether the volume currently has an export.
    fn is_exported(&self, volume: &VolumeId) -> Result<bool, DriverError>;

    /// Makes consumers see the file's new size after an extend.
    fn refresh_export(&self, spec: &ExportSpec<'_>) -> Result<(), DriverError>;

    /// Records `connector` as a user of the export made by `create_export` and returns
    /// what it needs to connect, credentials included.
    fn initialize_connection(
        &self,
        spec: &ExportSpec<'_>,
        connector: &serde_json::Value,
    ) -> Result<ConnectionInfo, DriverError>;

    /// Forgets `connector`. Returns whether other connectors still use the export (the
    /// caller removes it when none do). Unknown connectors and volumes are a success.
    fn terminate_connection(
        &self,
        volume: &VolumeId,
        connector: &serde_json::Value,
    ) -> Result<bool, DriverError>;
}

/// Identifies a consumer across `initialize_connection` and `terminate_connection`:
/// os-brick's `host`, else its `initiator`, else the whole connector.
pub(crate) fn connector_key(connector: &serde_json::Value) -> String {
    ["host", "initiator"]
        .iter()
        .find_map(|k| connector.get(k).and_then(serde_json::Value::as_str))
        .map_or_else(|| connector.to_string(), str::to_string)
}

/// A `connection_info` data map from its entries.
pub(crate) fn object<const N: usize>(
    entries: [(&str, serde_json::Value); N],
) -> serde_json::Map<String, serde_json::Value> {
    entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// A string of `len` characters drawn uniformly from `alphabet` with `/dev/urandom`, the
/// kernel's CSPRNG. Bytes that would bias the draw (at or above the largest multiple of
/// the alphabet's size) are thrown away.
pub(crate) fn random_string(alphabet: &[u8], len: usize) -> Result<String, DriverError> {
    let path = Path::new("/dev/urandom");
    let n = alphabet.len();
    let limit = 256 - 256 % n;
    let mut urandom = File::open(path).map_err(super::fsutil::io_err("open", path))?;
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        urandom
            .read_exact(&mut buf)
            .map_err(super::fsutil::io_err("read", path))?;
        for &b in buf.iter().filter(|&&b| usize::from(b) < limit) {
            if out.len() == len {
                break;
            }
            out.push(char::from(alphabet[usize::from(b) % n]));
        }
    }
    Ok(out)
}

/// Refuses a target that cannot serve images of `format` (tgt serves raw files only).
pub fn require_format(target: &dyn Target, format: ImageFormat) -> Result<(), DriverError> {
    if target.supports(format) {
        Ok(())
    } else {
        Err(DriverError::NotSupported {
            driver: target.name(),
            verb: match format {
                ImageFormat::Raw => "export of raw images",
                ImageFormat::Qcow2 => "export of qcow2 images",
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::json;

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn chap_credentials_follow_cinder_and_stay_out_of_debug() -> TestResult {
        let mut seen = HashSet::new();
        for _ in 0..50 {
            let c = ChapCredentials::generate()?;
            assert_eq!((c.username().len(), c.password().len()), (20, 16));
            let all = format!("{}{}", c.username(), c.password());
            assert!(all.bytes().all(|b| CHAP_ALPHABET.contains(&b)), "{all}");
            assert!(!format!("{c:?}").contains(c.password()));
            assert!(!format!("{c:?}").contains(c.username()));
            let auth = c.provider_auth();
            assert_eq!(auth, format!("CHAP {} {}", c.username(), c.password()));
            assert!(seen.insert(all), "repeated credentials");
        }
        Ok(())
    }

    #[test]
    fn random_strings_use_the_whole_alphabet() -> TestResult {
        let s = random_string(b"ab", 4000)?;
        let a = s.bytes().filter(|&b| b == b'a').count();
        assert!((1700..2300).contains(&a), "{a} of 4000");
        Ok(())
    }

    #[test]
    fn connector_key_prefers_host_then_initiator() {
        let both = json!({"host": "h1", "initiator": "iqn.x"});
        assert_eq!(connector_key(&both), "h1");
        assert_eq!(connector_key(&json!({"initiator": "iqn.x"})), "iqn.x");
        assert_eq!(
            connector_key(&json!({"ip": "1.2.3.4"})),
            r#"{"ip":"1.2.3.4"}"#
        );
    }
}

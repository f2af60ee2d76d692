//! `qemu-img` on qcow2 files, and the safety check every image passes before any other
//! qemu tool opens it.
//!
//! The check (CVE-2024-32498, "OSSA-2024-001"): a qcow2 header can name a backing file
//! or an external data file anywhere, even `json:` pseudo-paths, and whoever opens the
//! image then reads or writes that file on the node. Clinker's volumes never have
//! either (snapshots are internal), so any image that has one is refused, as is one
//! whose format is not qcow2 or whose metadata is marked corrupt. The check runs
//! `qemu-img info -f qcow2`: the format is given, never probed, and `qemu-img info`
//! opens neither backing files nor (since qemu 9.1, CVE-2024-4467) data files. It uses
//! `-U` because an exported image is locked by its server; the tool that then does the
//! work takes the proper lock and fails cleanly ([`DriverError::Busy`]) if it cannot.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::Deserialize;

use crate::drivers::DriverError;
use crate::drivers::command::{argv, detail_contains, run};
use crate::drivers::fsutil::GIB;

const QEMU_IMG: &str = "qemu-img";

/// What the safety check learned about an image it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageInfo {
    /// The disk size the consumer sees, in bytes.
    pub(crate) virtual_size: u64,
    /// Names of the internal snapshots.
    pub(crate) snapshots: Vec<String>,
}

/// The parts of `qemu-img info --output=json` the check reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct InfoJson {
    format: String,
    virtual_size: u64,
    backing_filename: Option<String>,
    full_backing_filename: Option<String>,
    #[serde(default)]
    snapshots: Vec<SnapshotJson>,
    format_specific: Option<FormatSpecific>,
}

#[derive(Debug, Deserialize)]
struct SnapshotJson {
    name: String,
}

#[derive(Debug, Deserialize)]
struct FormatSpecific {
    #[serde(default)]
    data: serde_json::Map<String, serde_json::Value>,
}

/// Runs the safety check on `path` and returns what it found.
pub(crate) fn inspect(path: &Path) -> Result<ImageInfo, DriverError> {
    let args = argv(&[&"info", &"-U", &"-f", &"qcow2", &"--output=json", &path]);
    let out = run(QEMU_IMG, "inspect an image", args).map_err(|e| refuse_unreadable(path, e))?;
    let info: InfoJson = serde_json::from_slice(&out.stdout)
        .map_err(|e| unsafe_image(path, format!("unreadable qemu-img info output: {e}")))?;
    check(path, info)
}

/// `qemu-img info -f qcow2` fails on a file that is not qcow2: that is a refusal, not a
/// tool failure.
fn refuse_unreadable(path: &Path, e: DriverError) -> DriverError {
    if detail_contains(&e, "not in qcow2 format") {
        unsafe_image(path, "not a qcow2 image".into())
    } else {
        e
    }
}

fn check(path: &Path, info: InfoJson) -> Result<ImageInfo, DriverError> {
    if info.format != "qcow2" {
        return Err(unsafe_image(
            path,
            format!("format is {}, not qcow2", info.format),
        ));
    }
    if let Some(b) = info.full_backing_filename.or(info.backing_filename) {
        return Err(unsafe_image(path, format!("it has a backing file ({b})")));
    }
    let data = info.format_specific.map(|f| f.data).unwrap_or_default();
    if let Some(d) = data.get("data-file") {
        return Err(unsafe_image(
            path,
            format!("it has an external data file ({d})"),
        ));
    }
    if data.get("corrupt").and_then(serde_json::Value::as_bool) == Some(true) {
        return Err(unsafe_image(path, "its metadata is marked corrupt".into()));
    }
    Ok(ImageInfo {
        virtual_size: info.virtual_size,
        snapshots: info.snapshots.into_iter().map(|s| s.name).collect(),
    })
}

fn unsafe_image(path: &Path, reason: String) -> DriverError {
    DriverError::UnsafeImage {
        path: path.display().to_string(),
        reason,
    }
}

/// A size argument: `<n>G` for whole GiB (all Clinker volumes), bytes otherwise.
fn size_arg(bytes: u64) -> String {
    match bytes % GIB {
        0 => format!("{}G", bytes / GIB),
        _ => bytes.to_string(),
    }
}

/// Turns "another process holds the image" into [`DriverError::Busy`]: the volume is
/// exported or open elsewhere, which the caller can retry after detaching.
fn busy_if_locked(path: &Path, e: DriverError) -> DriverError {
    // qemu says `Failed to get "write" lock` or `Failed to get shared "write" lock`.
    if detail_contains(&e, "Failed to get") && detail_contains(&e, "lock") {
        DriverError::Busy(format!("{} is in use by another process", path.display()))
    } else {
        e
    }
}

/// `qemu-img create`: a new, empty qcow2 of `bytes` at `path` (which it truncates).
pub(crate) fn create(path: &Path, bytes: u64) -> Result<(), DriverError> {
    let size = size_arg(bytes);
    let args = argv(&[&"create", &"-q", &"-f", &"qcow2", &path, &size]);
    run(QEMU_IMG, "create an image", args).map(drop)
}

/// `qemu-img resize` to `bytes`; only ever called to grow.
pub(crate) fn resize(path: &Path, bytes: u64) -> Result<(), DriverError> {
    let size = size_arg(bytes);
    let args = argv(&[&"resize", &"-q", &"-f", &"qcow2", &path, &size]);
    run(QEMU_IMG, "resize an image", args)
        .map(drop)
        .map_err(|e| busy_if_locked(path, e))
}

/// What `qemu-img snapshot` does with an internal snapshot.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SnapshotOp {
    /// `-c`: take it.
    Create,
    /// `-d`: delete it.
    Delete,
    /// `-a`: make the image's current state the snapshot's.
    Apply,
}

/// `qemu-img snapshot -c|-d|-a <name>`.
pub(crate) fn snapshot(path: &Path, op: SnapshotOp, name: &str) -> Result<(), DriverError> {
    let (flag, action) = match op {
        SnapshotOp::Create => ("-c", "take a snapshot"),
        SnapshotOp::Delete => ("-d", "delete a snapshot"),
        SnapshotOp::Apply => ("-a", "revert to a snapshot"),
    };
    let args = argv(&[&"snapshot", &"-q", &"-f", &"qcow2", &flag, &name, &path]);
    run(QEMU_IMG, action, args)
        .map(drop)
        .map_err(|e| busy_if_locked(path, e))
}

/// `qemu-img convert` of `src` (its current state, or internal snapshot `snapshot`) into
/// a new, standalone qcow2 at `dst`, which it truncates. Unallocated and zero clusters
/// are not written, so the copy is as sparse as the source.
pub(crate) fn convert(src: &Path, snapshot: Option<&str>, dst: &Path) -> Result<(), DriverError> {
    let selector = snapshot.map(|name| format!("snapshot.name={name}"));
    let mut args = argv(&[&"convert", &"-q", &"-f", &"qcow2"]);
    if let Some(s) = &selector {
        args.extend(argv(&[&"-l", s]));
    }
    args.extend(argv(&[&"-O", &"qcow2", &src, &dst]));
    run(QEMU_IMG, "copy an image", args)
        .map(drop)
        .map_err(|e| busy_if_locked(src, e))
}

/// The virtual size from a qcow2 header (big-endian u64 at byte 24 after the magic
/// `QFI\xfb`), read without any qemu tool; `None` if `path` is not qcow2. Used only for
/// the start-up tally, where running `qemu-img` once per volume would be slow.
pub(crate) fn header_virtual_size(path: &Path) -> Option<u64> {
    let mut header = [0u8; 32];
    File::open(path).ok()?.read_exact_at(&mut header, 0).ok()?;
    let (magic, rest) = header.split_at(4);
    if magic != b"QFI\xfb" {
        return None;
    }
    let size: [u8; 8] = rest.get(20..28)?.try_into().ok()?;
    Some(u64::from_be_bytes(size))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn checked(v: serde_json::Value) -> Result<ImageInfo, DriverError> {
        let info: InfoJson = serde_json::from_value(v)
            .map_err(std::io::Error::other)
            .map_err(crate::drivers::fsutil::io_err("parse", Path::new("x")))?;
        check(Path::new("/v/volume-x"), info)
    }

    #[test]
    fn the_check_accepts_plain_qcow2_and_refuses_the_rest() -> TestResult {
        let plain = json!({"format": "qcow2", "virtual-size": 1024,
            "snapshots": [{"name": "s1", "id": "1"}],
            "format-specific": {"type": "qcow2", "data": {"compat": "1.1", "corrupt": false}}});
        let info = checked(plain)?;
        assert_eq!(
            (info.virtual_size, info.snapshots),
            (1024, vec!["s1".to_string()])
        );
        let refused = [
            json!({"format": "raw", "virtual-size": 1}),
            json!({"format": "qcow2", "virtual-size": 1, "backing-filename": "/etc/shadow"}),
            json!({"format": "qcow2", "virtual-size": 1, "full-backing-filename": "json:{}"}),
            json!({"format": "qcow2", "virtual-size": 1,
                "format-specific": {"type": "qcow2", "data": {"data-file": "/dev/sda"}}}),
            json!({"format": "qcow2", "virtual-size": 1,
                "format-specific": {"type": "qcow2", "data": {"corrupt": true}}}),
        ];
        for v in refused {
            match checked(v.clone()) {
                Err(DriverError::UnsafeImage { .. }) => {}
                other => return Err(format!("{v} gave {other:?}").into()),
            }
        }
        Ok(())
    }

    #[test]
    fn sizes_are_given_in_gib_when_whole() {
        assert_eq!(size_arg(3 * GIB), "3G");
        assert_eq!(size_arg(GIB + 512), (GIB + 512).to_string());
    }
}

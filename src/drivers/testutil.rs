//! Helpers for the driver and target tests: fixtures and the real qemu tools, which
//! check from the outside what the drivers wrote.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use uuid::Uuid;

use super::{SnapshotRef, VolumeRef};
use crate::model::VolumeId;

/// What every test returns.
pub(crate) type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// A fresh volume of `size_gb`.
pub(crate) fn vol(size_gb: u64) -> VolumeRef {
    VolumeRef {
        id: VolumeId::new(),
        size_gb,
    }
}

/// A fresh snapshot of `volume`.
pub(crate) fn snap(volume: &VolumeRef) -> SnapshotRef {
    SnapshotRef {
        id: Uuid::new_v4(),
        volume: volume.clone(),
    }
}

/// Runs `qemu-io -f <format> -c <cmd> <target>`; `Ok(true)` if it succeeded, `Ok(false)`
/// if a `read -P` found other data, an error for anything else.
pub(crate) fn qemu_io(format: &str, target: &str, cmd: &str) -> TestResult<bool> {
    let out = Command::new("qemu-io")
        .args(["-f", format, "-c", cmd, target])
        .output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if text.contains("Pattern verification failed") {
        return Ok(false);
    }
    if !out.status.success() || !text.contains("bytes at offset") {
        return Err(format!("qemu-io {cmd} on {target}: {} {text}", out.status).into());
    }
    Ok(true)
}

/// Writes `pattern` over the first MiB at `offset_mb` through qemu-io.
pub(crate) fn write_mb(format: &str, target: &str, offset_mb: u64, pattern: u8) -> TestResult {
    let cmd = format!("write -P {pattern:#x} {offset_mb}M 1M");
    match qemu_io(format, target, &cmd)? {
        true => Ok(()),
        false => Err(format!("{cmd} failed on {target}").into()),
    }
}

/// Whether the MiB at `offset_mb` holds `pattern` everywhere, read through qemu-io.
pub(crate) fn reads_mb(
    format: &str,
    target: &str,
    offset_mb: u64,
    pattern: u8,
) -> TestResult<bool> {
    qemu_io(
        format,
        target,
        &format!("read -P {pattern:#x} {offset_mb}M 1M"),
    )
}

/// `qemu-img info --output=json` of `path` read as `format`.
pub(crate) fn img_info(format: &str, path: &Path) -> TestResult<serde_json::Value> {
    let out = Command::new("qemu-img")
        .args(["info", "-U", "-f", format, "--output=json"])
        .arg(path)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "qemu-img info {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// The virtual size `qemu-img info` reports.
pub(crate) fn virtual_size(format: &str, path: &Path) -> TestResult<u64> {
    img_info(format, path)?["virtual-size"]
        .as_u64()
        .ok_or_else(|| "no virtual-size".into())
}

/// Fails unless `qemu-img check` finds the qcow2 image clean: no errors, no leaks.
pub(crate) fn check_clean(path: &Path) -> TestResult {
    let out = Command::new("qemu-img")
        .args(["check", "-f", "qcow2"])
        .arg(path)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "qemu-img check {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stdout)
        )
        .into());
    }
    Ok(())
}

/// A block of `len` ports for one test, disjoint from every other test's block in this
/// process, so parallel tests never take each other's ports. Blocks lie below Linux's
/// ephemeral range (32768 and up): a connect to an ephemeral port nobody listens on can
/// succeed by connecting the socket to itself, which would fool "is it still up?"
/// checks. A port another program holds is skipped by the code under test, which
/// treats "in use" as "try the next one".
pub(crate) fn port_block(len: u16) -> TestResult<(u16, u16)> {
    static NEXT: Mutex<Option<u16>> = Mutex::new(None);
    let mut next = NEXT.lock().map_err(|_| "port allocator poisoned")?;
    // Spread concurrent test processes apart by their pid.
    let start = next.unwrap_or(20_000 + (std::process::id() % 500) as u16 * 20);
    let end = start.checked_add(len - 1).ok_or("out of ports")?;
    *next = Some(end + 1);
    Ok((start, end))
}

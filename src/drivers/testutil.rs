//! Helpers for the driver and target tests: fixtures and the real qemu tools, which
//! check from the outside what the drivers wrote.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, mpsc};
use std::time::Duration;

use uuid::Uuid;

use super::fsutil::not_found;
use super::targets::{Export, ExportSpec, Target, connector_key};
use super::{ConnectionInfo, DriverError, ImageFormat, SnapshotRef, VolumeDriver, VolumeRef};
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

/// A [`Target`] for the serialization tests. It keeps exports and their consumers in
/// memory, as a real target keeps them in its state files, and can stop the next
/// `create_export` of one volume midway through a driver's connection call (the export
/// made, the consumer not yet recorded). Every other call for that volume arriving while
/// it is stopped is written down as an intrusion: the driver let two calls for one volume
/// interleave their target steps.
#[derive(Debug, Default)]
pub(crate) struct GatedTarget {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct GateState {
    /// Exported volumes and the connector keys using each.
    exports: HashMap<VolumeId, BTreeSet<String>>,
    /// The next `create_export` of this volume stops.
    armed: Option<VolumeId>,
    /// A `create_export` of this volume is stopped.
    held: Option<VolumeId>,
    /// Calls for the held volume that came in while it was held.
    intrusions: Vec<String>,
}

impl GatedTarget {
    fn state(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the call; stops it if it is the armed `create_export`.
    fn enter(&self, verb: &str, volume: &VolumeId) -> MutexGuard<'_, GateState> {
        let mut st = self.state();
        if st.held == Some(*volume) {
            st.intrusions.push(verb.to_string());
        }
        if verb == "create_export" && st.armed == Some(*volume) {
            st.armed = None;
            st.held = Some(*volume);
            self.changed.notify_all();
            while st.held.is_some() {
                st = self
                    .changed
                    .wait(st)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        st
    }

    /// Stops the next `create_export` of `volume` until [`GatedTarget::release`].
    pub(crate) fn arm(&self, volume: VolumeId) {
        self.state().armed = Some(volume);
    }

    /// Waits until the armed call is stopped; false if it did not come in time.
    pub(crate) fn wait_held(&self, timeout: Duration) -> bool {
        let st = self.state();
        let (st, _) = self
            .changed
            .wait_timeout_while(st, timeout, |s| s.held.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        st.held.is_some()
    }

    /// Lets the stopped call go on.
    pub(crate) fn release(&self) {
        self.state().held = None;
        self.changed.notify_all();
    }

    /// The calls that came in for a volume while its connection call was stopped.
    pub(crate) fn intrusions(&self) -> Vec<String> {
        self.state().intrusions.clone()
    }

    /// The connector keys using the volume's export, `None` if it has no export.
    pub(crate) fn consumers(&self, volume: &VolumeId) -> Option<BTreeSet<String>> {
        self.state().exports.get(volume).cloned()
    }
}

impl Target for GatedTarget {
    fn name(&self) -> &'static str {
        "gated"
    }

    fn storage_protocol(&self) -> &'static str {
        "gated"
    }

    fn supports(&self, _format: ImageFormat) -> bool {
        true
    }

    fn create_export(&self, spec: &ExportSpec<'_>) -> Result<Export, DriverError> {
        let mut st = self.enter("create_export", &spec.volume);
        st.exports.entry(spec.volume).or_default();
        Ok(Export {
            location: spec.path.display().to_string(),
            auth: None,
        })
    }

    fn ensure_export(&self, spec: &ExportSpec<'_>) -> Result<Option<Export>, DriverError> {
        let st = self.enter("ensure_export", &spec.volume);
        Ok(st.exports.contains_key(&spec.volume).then(|| Export {
            location: spec.path.display().to_string(),
            auth: None,
        }))
    }

    fn remove_export(&self, volume: &VolumeId) -> Result<(), DriverError> {
        self.enter("remove_export", volume).exports.remove(volume);
        Ok(())
    }

    fn is_exported(&self, volume: &VolumeId) -> Result<bool, DriverError> {
        Ok(self
            .enter("is_exported", volume)
            .exports
            .contains_key(volume))
    }

    fn refresh_export(&self, spec: &ExportSpec<'_>) -> Result<(), DriverError> {
        drop(self.enter("refresh_export", &spec.volume));
        Ok(())
    }

    fn initialize_connection(
        &self,
        spec: &ExportSpec<'_>,
        connector: &serde_json::Value,
    ) -> Result<ConnectionInfo, DriverError> {
        let mut st = self.enter("initialize_connection", &spec.volume);
        // As tgt and NBD do: a consumer can only be recorded on an export that exists.
        let Some(users) = st.exports.get_mut(&spec.volume) else {
            return Err(not_found("find the export of", spec.path));
        };
        users.insert(connector_key(connector));
        Ok(ConnectionInfo {
            driver_volume_type: "gated".into(),
            data: serde_json::Map::new(),
        })
    }

    fn terminate_connection(
        &self,
        volume: &VolumeId,
        connector: &serde_json::Value,
    ) -> Result<bool, DriverError> {
        let mut st = self.enter("terminate_connection", volume);
        Ok(st.exports.get_mut(volume).is_some_and(|users| {
            users.remove(&connector_key(connector));
            !users.is_empty()
        }))
    }
}

/// A connector naming host `host`.
fn connector(host: &str) -> serde_json::Value {
    serde_json::json!({ "host": host })
}

/// How long a call that should not wait for anything may take before the test gives up.
const PROMPT: Duration = Duration::from_secs(10);

/// How long other calls get to barge in on a stopped connection call.
const BARGE_IN: Duration = Duration::from_millis(300);

/// Checks that `driver`, exporting through `target`, keeps the target steps of calls
/// for one volume apart: while an `initialize_connection` of `a` is stopped between
/// making the export and recording its consumer, a detach of `a`'s other consumer, a
/// second attach of `a` and a delete of `a` must wait, while an attach and detach of
/// another volume `b` go through. Makes `a` and `b`, and returns `a`, deleted by then.
pub(crate) fn check_exports_serialized(
    driver: &dyn VolumeDriver,
    target: &GatedTarget,
) -> TestResult<VolumeRef> {
    let (a, b) = (&vol(1), &vol(1));
    driver.create_volume(a)?;
    driver.create_volume(b)?;
    driver.initialize_connection(a, &connector("h0"))?;
    // A detach of a's other consumer and a second attach race the stopped attach.
    race(
        driver,
        target,
        a,
        vec![
            Box::new(|| driver.terminate_connection(a, &connector("h0"))),
            Box::new(|| driver.initialize_connection(a, &connector("h2")).map(drop)),
        ],
        Box::new(|| driver.initialize_connection(b, &connector("h1")).map(drop)),
    )?;
    assert_eq!(target.consumers(&a.id), Some(keys(&["h1", "h2"])));
    assert_eq!(target.consumers(&b.id), Some(keys(&["h1"])));
    driver.terminate_connection(b, &connector("h1"))?;
    assert_eq!(
        target.consumers(&b.id),
        None,
        "b's export outlived its consumers"
    );

    // A delete races the stopped attach: the attach completes, then the delete removes
    // its export with the volume.
    driver.terminate_connection(a, &connector("h1"))?;
    driver.terminate_connection(a, &connector("h2"))?;
    race(
        driver,
        target,
        a,
        vec![Box::new(|| driver.delete_volume(a))],
        Box::new(|| {
            driver.initialize_connection(b, &connector("h3"))?;
            driver.terminate_connection(b, &connector("h3"))
        }),
    )?;
    assert_eq!(
        target.consumers(&a.id),
        None,
        "an export outlived its volume"
    );
    assert_eq!(target.consumers(&b.id), None);
    assert!(driver.initialize_connection(a, &connector("h4")).is_err());
    Ok(a.clone())
}

fn keys(hosts: &[&str]) -> BTreeSet<String> {
    hosts.iter().map(|h| (*h).to_string()).collect()
}

/// A driver call run on a thread of its own.
type Call<'d> = Box<dyn FnOnce() -> Result<(), DriverError> + Send + 'd>;

/// Stops an attach of `a` (consumer `h1`) at its export, runs the `barge` calls on
/// threads of their own and `other` (calls for another volume) meanwhile, then lets the
/// attach go on. Fails if a barging call reached the target while the attach was
/// stopped, if `other` did not finish while it was, or if any call failed.
fn race<'d>(
    driver: &'d dyn VolumeDriver,
    target: &GatedTarget,
    a: &'d VolumeRef,
    barge: Vec<Call<'d>>,
    other: Call<'d>,
) -> TestResult {
    target.arm(a.id);
    let outcome = std::thread::scope(|s| {
        let attach = s.spawn(|| driver.initialize_connection(a, &connector("h1")).map(drop));
        if !target.wait_held(PROMPT) {
            target.release();
            return Err("the attach never reached create_export".to_string());
        }
        let barging: Vec<_> = barge.into_iter().map(|f| s.spawn(f)).collect();
        let (done, finished) = mpsc::channel();
        s.spawn(move || done.send(other()));
        let other = finished.recv_timeout(PROMPT);
        std::thread::sleep(BARGE_IN);
        target.release();
        let mut failures = Vec::new();
        match other {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("the other volume's call failed: {e}")),
            Err(_) => failures.push("the other volume's call waited for this one".into()),
        }
        for handle in std::iter::once(attach).chain(barging) {
            match handle.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(format!("a call failed: {e}")),
                Err(_) => failures.push("a call panicked".into()),
            }
        }
        match failures.is_empty() {
            true => Ok(()),
            false => Err(failures.join("; ")),
        }
    });
    let intrusions = target.intrusions();
    if !intrusions.is_empty() {
        return Err(format!(
            "calls for the volume reached the target midway through an attach: {intrusions:?}{}",
            outcome
                .err()
                .map_or_else(String::new, |e| format!(" (and: {e})"))
        )
        .into());
    }
    Ok(outcome?)
}

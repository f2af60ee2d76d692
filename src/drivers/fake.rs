//! The fake driver: in memory, for control-plane tests and benchmarks ONLY. It stores
//! no data, only which volumes and snapshots exist and their sizes, so never configure it
//! for a real backend.
//!
//! Config makes verbs fail (`[nodes.driver_options] fail`, `fail_every`: documented, and
//! how the crash harness injects driver failures into the real binary). With the
//! `test-hooks` feature (the tests' build, never the controller's) tests also steer it in
//! process: `fail_next` and `fail_always` make verbs return [`DriverError::Injected`],
//! `set_delay` slows every call so a test can observe in-flight states (`creating`,
//! `deleting`), `set_listing` turns on `list_backing`, and `calls`, `has_volume`, ...
//! show what it holds. Benchmarks push about 20,000 creates per second through it, so
//! each call takes one lock and does O(1) work.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::io;
#[cfg(feature = "test-hooks")]
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
#[cfg(feature = "test-hooks")]
use std::time::Duration;

use uuid::Uuid;

use super::{
    BackendStats, BackingKind, BackingObject, Capacity, ConnectionInfo, DriverError, ModelUpdate,
    OverSubscription, PoolStats, SnapshotRef, VolumeDriver, VolumeRef,
};
use crate::model::VolumeId;

/// How a [`FakeDriver`] is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeDriverOptions {
    /// `volume_backend_name` in the stats. Default `fake`.
    pub volume_backend_name: String,
    /// The single pool's name. Default `fake`.
    pub pool_name: String,
    /// Pool size in GiB. Default 1,000,000.
    pub total_capacity_gb: u64,
    /// The pool reports thin provisioning support. Default true.
    pub thin_provisioning_support: bool,
    /// The pool reports thick provisioning support. Default false.
    pub thick_provisioning_support: bool,
    /// Reported `reserved_percentage`. Default 0.
    pub reserved_percentage: u8,
    /// Reported `max_over_subscription_ratio`. Default 20.0.
    pub max_over_subscription_ratio: OverSubscription,
    /// Extra pool capabilities, matched against volume-type extra specs. Default empty.
    pub capabilities: BTreeMap<String, serde_json::Value>,
}

impl Default for FakeDriverOptions {
    fn default() -> Self {
        Self {
            volume_backend_name: "fake".to_string(),
            pool_name: "fake".to_string(),
            total_capacity_gb: 1_000_000,
            thin_provisioning_support: true,
            thick_provisioning_support: false,
            reserved_percentage: 0,
            max_over_subscription_ratio: OverSubscription::Ratio(20.0),
            capabilities: BTreeMap::new(),
        }
    }
}

/// The verbs of [`VolumeDriver`], to pick which one a test makes fail; each is spelled
/// as the trait method it stands for.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum FakeVerb {
    /// `create_volume`.
    CreateVolume,
    /// `delete_volume`.
    DeleteVolume,
    /// `extend_volume`.
    ExtendVolume,
    /// `create_snapshot`.
    CreateSnapshot,
    /// `delete_snapshot`.
    DeleteSnapshot,
    /// `create_volume_from_snapshot`.
    CreateVolumeFromSnapshot,
    /// `create_cloned_volume`.
    CreateClonedVolume,
    /// `revert_to_snapshot`.
    RevertToSnapshot,
    /// `initialize_connection`.
    InitializeConnection,
    /// `terminate_connection`.
    TerminateConnection,
    /// `get_volume_stats`.
    GetVolumeStats,
}

impl FakeVerb {
    /// Every verb, in trait order.
    pub const ALL: &'static [FakeVerb] = <FakeVerb as strum::VariantArray>::VARIANTS;

    /// The trait method's name, as carried by [`DriverError::Injected`].
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The verb named `name` (the trait method's name), if any.
    pub fn parse(name: &str) -> Option<FakeVerb> {
        name.parse().ok()
    }
}

/// A pending injected failure for one verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Failure {
    #[default]
    None,
    /// Fail this many more calls, then succeed again.
    #[cfg(feature = "test-hooks")]
    Next(u32),
    #[cfg(feature = "test-hooks")]
    Always,
    /// Fail every `n`-th call, counting from the first call after it was set.
    Every { n: u32, seen: u32 },
}

#[derive(Debug, Default)]
struct State {
    volumes: HashMap<VolumeId, u64>,
    snapshots: HashMap<Uuid, u64>,
    /// Sum of the sizes in `volumes` and `snapshots`, kept up to date by every change so
    /// that stats stay O(1) however many volumes a benchmark made.
    provisioned_gb: u64,
    failures: [Failure; FakeVerb::ALL.len()],
    #[cfg(feature = "test-hooks")]
    calls: [u64; FakeVerb::ALL.len()],
}

impl State {
    /// Counts the call and consumes one injected failure, if any is pending.
    fn enter(&mut self, verb: FakeVerb) -> Result<(), DriverError> {
        let i = verb as usize;
        #[cfg(feature = "test-hooks")]
        {
            self.calls[i] += 1;
        }
        match self.failures[i] {
            Failure::None => Ok(()),
            #[cfg(feature = "test-hooks")]
            Failure::Always => Err(DriverError::Injected(verb.as_str())),
            #[cfg(feature = "test-hooks")]
            Failure::Next(n) => {
                self.failures[i] = if n <= 1 {
                    Failure::None
                } else {
                    Failure::Next(n - 1)
                };
                Err(DriverError::Injected(verb.as_str()))
            }
            Failure::Every { n, seen } => {
                let seen = seen + 1;
                let fail = seen >= n;
                self.failures[i] = Failure::Every {
                    n,
                    seen: if fail { 0 } else { seen },
                };
                if fail {
                    Err(DriverError::Injected(verb.as_str()))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Records a volume of `size_gb`, never shrinking one that exists: a re-run create
    /// must not lose an extend that happened in between.
    fn put_volume(&mut self, id: VolumeId, size_gb: u64) {
        let old = self.volumes.entry(id).or_insert(0);
        if *old < size_gb {
            self.provisioned_gb += size_gb - *old;
            *old = size_gb;
        }
    }
}

/// An in-memory [`VolumeDriver`] for control-plane tests and benchmarks only.
#[derive(Debug)]
pub struct FakeDriver {
    options: FakeDriverOptions,
    state: Mutex<State>,
    /// Kept outside `state` so the sleep happens without holding the lock.
    #[cfg(feature = "test-hooks")]
    delay_nanos: AtomicU64,
    /// Whether `list_backing` answers (off by default: a fake starts empty after a
    /// restart, and its rows must not all look orphaned).
    #[cfg(feature = "test-hooks")]
    listing: std::sync::atomic::AtomicBool,
}

impl Default for FakeDriver {
    fn default() -> Self {
        Self::new(FakeDriverOptions::default())
    }
}

/// The error a missing volume or snapshot gives, shaped like the file driver's, so the
/// layers above handle both drivers the same way.
fn not_found(op: &'static str, what: String) -> DriverError {
    DriverError::Io {
        op,
        path: what,
        source: io::Error::from(io::ErrorKind::NotFound),
    }
}

impl FakeDriver {
    /// A fake driver with no volumes, no failures and no delay.
    pub fn new(options: FakeDriverOptions) -> Self {
        Self {
            options,
            state: Mutex::new(State::default()),
            #[cfg(feature = "test-hooks")]
            delay_nanos: AtomicU64::new(0),
            #[cfg(feature = "test-hooks")]
            listing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic under the lock (a failing test thread) leaves the maps consistent:
        // every change is a single insert or remove, so the poison flag carries no news.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps for the delay a test set, then locks and applies failure injection.
    fn enter(&self, verb: FakeVerb) -> Result<MutexGuard<'_, State>, DriverError> {
        #[cfg(feature = "test-hooks")]
        {
            let nanos = self.delay_nanos.load(Ordering::Relaxed);
            if nanos > 0 {
                std::thread::sleep(Duration::from_nanos(nanos));
            }
        }
        let mut state = self.lock();
        state.enter(verb)?;
        Ok(state)
    }

    /// Makes the next `times` calls of `verb` fail with [`DriverError::Injected`];
    /// replaces any failure set before for that verb. `times == 0` clears it.
    #[cfg(feature = "test-hooks")]
    pub fn fail_next(&self, verb: FakeVerb, times: u32) {
        self.lock().failures[verb as usize] = match times {
            0 => Failure::None,
            n => Failure::Next(n),
        };
    }

    /// Makes every call of `verb` fail until [`FakeDriver::clear_failures`].
    #[cfg(feature = "test-hooks")]
    pub fn fail_always(&self, verb: FakeVerb) {
        self.lock().failures[verb as usize] = Failure::Always;
    }

    /// Makes every `n`-th call of `verb` fail (`n == 1`: every call) until
    /// [`FakeDriver::clear_failures`]; `n == 0` clears it. Config sets it through the
    /// node's `driver_options` (`fail`, `fail_every`).
    pub fn fail_every(&self, verb: FakeVerb, n: u32) {
        self.lock().failures[verb as usize] = match n {
            0 => Failure::None,
            n => Failure::Every { n, seen: 0 },
        };
    }

    /// Removes every injected failure.
    #[cfg(feature = "test-hooks")]
    pub fn clear_failures(&self) {
        self.lock().failures = Default::default();
    }

    /// Makes every later call sleep `delay` before doing anything; zero turns it off.
    #[cfg(feature = "test-hooks")]
    pub fn set_delay(&self, delay: Duration) {
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        self.delay_nanos.store(nanos, Ordering::Relaxed);
    }

    /// Makes `list_backing` and `remove_backing` work (or say `NotSupported` again).
    /// Objects read as old: the fake keeps no times.
    #[cfg(feature = "test-hooks")]
    pub fn set_listing(&self, on: bool) {
        self.listing.store(on, Ordering::Relaxed);
    }

    /// How many times `verb` was called, failed calls included.
    #[cfg(feature = "test-hooks")]
    pub fn calls(&self, verb: FakeVerb) -> u64 {
        self.lock().calls[verb as usize]
    }

    /// Whether the volume exists on the fake backend.
    #[cfg(feature = "test-hooks")]
    pub fn has_volume(&self, id: &VolumeId) -> bool {
        self.lock().volumes.contains_key(id)
    }

    /// The volume's size in GiB, or `None` if it does not exist.
    #[cfg(feature = "test-hooks")]
    pub fn volume_size(&self, id: &VolumeId) -> Option<u64> {
        self.lock().volumes.get(id).copied()
    }

    /// How many volumes exist.
    #[cfg(feature = "test-hooks")]
    pub fn volume_count(&self) -> usize {
        self.lock().volumes.len()
    }

    /// Whether the snapshot exists on the fake backend.
    #[cfg(feature = "test-hooks")]
    pub fn has_snapshot(&self, id: &Uuid) -> bool {
        self.lock().snapshots.contains_key(id)
    }

    /// How many snapshots exist.
    #[cfg(feature = "test-hooks")]
    pub fn snapshot_count(&self) -> usize {
        self.lock().snapshots.len()
    }
}

impl VolumeDriver for FakeDriver {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn create_volume(&self, volume: &VolumeRef) -> Result<ModelUpdate, DriverError> {
        let mut state = self.enter(FakeVerb::CreateVolume)?;
        state.put_volume(volume.id, volume.size_gb);
        Ok(ModelUpdate {
            provider_location: Some(format!("fake://{}", volume.id.backend_name())),
        })
    }

    fn delete_volume(&self, volume: &VolumeRef) -> Result<(), DriverError> {
        let mut state = self.enter(FakeVerb::DeleteVolume)?;
        if let Some(size) = state.volumes.remove(&volume.id) {
            state.provisioned_gb -= size;
        }
        Ok(())
    }

    fn extend_volume(&self, volume: &VolumeRef, new_size_gb: u64) -> Result<(), DriverError> {
        let mut state = self.enter(FakeVerb::ExtendVolume)?;
        if !state.volumes.contains_key(&volume.id) {
            return Err(not_found("extend", volume.id.backend_name()));
        }
        state.put_volume(volume.id, new_size_gb);
        Ok(())
    }

    fn create_snapshot(&self, snapshot: &SnapshotRef) -> Result<ModelUpdate, DriverError> {
        let mut guard = self.enter(FakeVerb::CreateSnapshot)?;
        let state = &mut *guard;
        let Some(&size) = state.volumes.get(&snapshot.volume.id) else {
            return Err(not_found("snapshot", snapshot.volume.id.backend_name()));
        };
        if let Entry::Vacant(slot) = state.snapshots.entry(snapshot.id) {
            slot.insert(size);
            state.provisioned_gb += size;
        }
        Ok(ModelUpdate {
            provider_location: Some(format!("fake://snapshot-{}", snapshot.id)),
        })
    }

    fn delete_snapshot(&self, snapshot: &SnapshotRef) -> Result<(), DriverError> {
        let mut state = self.enter(FakeVerb::DeleteSnapshot)?;
        if let Some(size) = state.snapshots.remove(&snapshot.id) {
            state.provisioned_gb -= size;
        }
        Ok(())
    }

    fn create_volume_from_snapshot(
        &self,
        volume: &VolumeRef,
        snapshot: &SnapshotRef,
    ) -> Result<ModelUpdate, DriverError> {
        let mut state = self.enter(FakeVerb::CreateVolumeFromSnapshot)?;
        let Some(&snap_size) = state.snapshots.get(&snapshot.id) else {
            return Err(not_found("copy", format!("snapshot-{}", snapshot.id)));
        };
        state.put_volume(volume.id, volume.size_gb.max(snap_size));
        Ok(ModelUpdate {
            provider_location: Some(format!("fake://{}", volume.id.backend_name())),
        })
    }

    fn create_cloned_volume(
        &self,
        volume: &VolumeRef,
        source: &VolumeRef,
    ) -> Result<ModelUpdate, DriverError> {
        let mut state = self.enter(FakeVerb::CreateClonedVolume)?;
        let Some(&source_size) = state.volumes.get(&source.id) else {
            return Err(not_found("clone", source.id.backend_name()));
        };
        state.put_volume(volume.id, volume.size_gb.max(source_size));
        Ok(ModelUpdate {
            provider_location: Some(format!("fake://{}", volume.id.backend_name())),
        })
    }

    fn revert_to_snapshot(
        &self,
        volume: &VolumeRef,
        snapshot: &SnapshotRef,
    ) -> Result<(), DriverError> {
        let state = self.enter(FakeVerb::RevertToSnapshot)?;
        if !state.volumes.contains_key(&volume.id) {
            return Err(not_found("revert", volume.id.backend_name()));
        }
        if !state.snapshots.contains_key(&snapshot.id) {
            return Err(not_found("revert", format!("snapshot-{}", snapshot.id)));
        }
        Ok(())
    }

    fn initialize_connection(
        &self,
        volume: &VolumeRef,
        _connector: &serde_json::Value,
    ) -> Result<ConnectionInfo, DriverError> {
        let state = self.enter(FakeVerb::InitializeConnection)?;
        if !state.volumes.contains_key(&volume.id) {
            return Err(not_found("export", volume.id.backend_name()));
        }
        let mut data = serde_json::Map::new();
        data.insert("volume_id".to_string(), volume.id.to_string().into());
        // A credential made for this export, as a real target's CHAP password or NBD PSK,
        // so tests can check where credentials travel and that they die with the export.
        data.insert(
            "auth_password".to_string(),
            uuid::Uuid::new_v4().simple().to_string().into(),
        );
        Ok(ConnectionInfo {
            driver_volume_type: "fake".to_string(),
            data,
        })
    }

    fn terminate_connection(
        &self,
        _volume: &VolumeRef,
        _connector: &serde_json::Value,
    ) -> Result<(), DriverError> {
        drop(self.enter(FakeVerb::TerminateConnection)?);
        Ok(())
    }

    fn list_backing(&self) -> Result<Vec<BackingObject>, DriverError> {
        #[cfg(feature = "test-hooks")]
        let listing = self.listing.load(Ordering::Relaxed);
        #[cfg(not(feature = "test-hooks"))]
        let listing = false;
        if !listing {
            return Err(DriverError::NotSupported {
                driver: "fake",
                verb: "list_backing",
            });
        }
        let state = self.lock();
        let object = |kind, id: Uuid, name: String, size: u64| BackingObject {
            kind,
            id,
            name,
            size_bytes: size << 30,
            modified: std::time::UNIX_EPOCH,
            temporary: false,
            exported: false,
        };
        let volumes = state
            .volumes
            .iter()
            .map(|(id, size)| object(BackingKind::Volume, id.0, id.backend_name(), *size));
        let snapshots = state
            .snapshots
            .iter()
            .map(|(id, size)| object(BackingKind::Snapshot, *id, format!("snapshot-{id}"), *size));
        Ok(volumes.chain(snapshots).collect())
    }

    fn remove_backing(&self, object: &BackingObject) -> Result<(), DriverError> {
        let mut state = self.lock();
        let removed = match object.kind {
            BackingKind::Volume => state.volumes.remove(&VolumeId(object.id)),
            BackingKind::Snapshot => state.snapshots.remove(&object.id),
        };
        if let Some(size) = removed {
            state.provisioned_gb -= size;
        }
        Ok(())
    }

    fn get_volume_stats(&self) -> Result<BackendStats, DriverError> {
        let provisioned = self.enter(FakeVerb::GetVolumeStats)?.provisioned_gb;
        let o = &self.options;
        // Thin pools may hold more than their size; free then reads 0, never negative.
        let free = o.total_capacity_gb.saturating_sub(provisioned);
        Ok(BackendStats {
            volume_backend_name: o.volume_backend_name.clone(),
            vendor_name: "Clinker fake driver (tests and benchmarks only)".to_string(),
            driver_version: "1.0".to_string(),
            storage_protocol: "fake".to_string(),
            pools: vec![PoolStats {
                pool_name: o.pool_name.clone(),
                total_capacity_gb: Capacity::Gb(o.total_capacity_gb as f64),
                free_capacity_gb: Capacity::Gb(free as f64),
                allocated_capacity_gb: 0.0,
                provisioned_capacity_gb: provisioned as f64,
                reserved_percentage: o.reserved_percentage,
                max_over_subscription_ratio: o.max_over_subscription_ratio,
                thin_provisioning_support: o.thin_provisioning_support,
                thick_provisioning_support: o.thick_provisioning_support,
                capabilities: o.capabilities.clone(),
            }],
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn vol(size_gb: u64) -> VolumeRef {
        VolumeRef {
            id: VolumeId::new(),
            size_gb,
        }
    }

    fn snap(volume: &VolumeRef) -> SnapshotRef {
        SnapshotRef {
            id: Uuid::new_v4(),
            volume: volume.clone(),
        }
    }

    fn assert_not_found<T: std::fmt::Debug>(r: Result<T, DriverError>) -> TestResult {
        match r {
            Err(DriverError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Ok(())
            }
            other => Err(format!("expected NotFound, got {other:?}").into()),
        }
    }

    /// Calls `verb` on objects that exist, so only an injected failure can fail it.
    fn call(
        d: &FakeDriver,
        verb: FakeVerb,
        v: &VolumeRef,
        s: &SnapshotRef,
    ) -> Result<(), DriverError> {
        let none = Value::Null;
        match verb {
            FakeVerb::CreateVolume => d.create_volume(v).map(drop),
            FakeVerb::DeleteVolume => d.delete_volume(&vol(1)),
            FakeVerb::ExtendVolume => d.extend_volume(v, v.size_gb),
            FakeVerb::CreateSnapshot => d.create_snapshot(s).map(drop),
            FakeVerb::DeleteSnapshot => d.delete_snapshot(&snap(v)),
            FakeVerb::CreateVolumeFromSnapshot => {
                d.create_volume_from_snapshot(&vol(1), s).map(drop)
            }
            FakeVerb::CreateClonedVolume => d.create_cloned_volume(&vol(1), v).map(drop),
            FakeVerb::RevertToSnapshot => d.revert_to_snapshot(v, s),
            FakeVerb::InitializeConnection => d.initialize_connection(v, &none).map(drop),
            FakeVerb::TerminateConnection => d.terminate_connection(v, &none),
            FakeVerb::GetVolumeStats => d.get_volume_stats().map(drop),
        }
    }

    #[test]
    fn volume_verbs_are_idempotent_and_never_shrink() -> TestResult {
        let d = FakeDriver::default();
        let v = vol(10);
        let location = d.create_volume(&v)?.provider_location;
        assert_eq!(location, Some(format!("fake://volume-{}", v.id)));
        d.create_volume(&v)?;
        assert!(d.has_volume(&v.id));
        assert_eq!((d.volume_size(&v.id), d.volume_count()), (Some(10), 1));
        d.extend_volume(&v, 20)?;
        d.extend_volume(&v, 20)?;
        d.extend_volume(&v, 3)?;
        d.create_volume(&v)?;
        assert_eq!(d.volume_size(&v.id), Some(20));
        assert_eq!(d.calls(FakeVerb::CreateVolume), 3);
        assert_not_found(d.extend_volume(&vol(1), 2))?;
        // Delete removes it, and deleting what is gone succeeds.
        d.delete_volume(&v)?;
        assert_eq!((d.has_volume(&v.id), d.volume_size(&v.id)), (false, None));
        d.delete_volume(&v)?;
        assert_eq!(d.volume_count(), 0);
        Ok(())
    }

    #[test]
    fn snapshots_and_volumes_from_them() -> TestResult {
        let d = FakeDriver::default();
        let v = vol(4);
        let s = snap(&v);
        assert_not_found(d.create_snapshot(&snap(&vol(1))))?;
        d.create_volume(&v)?;
        d.create_snapshot(&s)?;
        d.create_snapshot(&s)?;
        assert!(d.has_snapshot(&s.id));
        assert_eq!(d.snapshot_count(), 1);

        let smaller = vol(1);
        let location = d
            .create_volume_from_snapshot(&smaller, &s)?
            .provider_location;
        assert_eq!(location, Some(format!("fake://volume-{}", smaller.id)));
        assert_eq!(d.volume_size(&smaller.id), Some(4));
        let bigger = vol(9);
        d.create_volume_from_snapshot(&bigger, &s)?;
        d.create_volume_from_snapshot(&bigger, &s)?;
        assert_eq!(d.volume_size(&bigger.id), Some(9));

        d.delete_snapshot(&s)?;
        d.delete_snapshot(&s)?;
        assert!(!d.has_snapshot(&s.id));
        assert_not_found(d.create_volume_from_snapshot(&vol(1), &s))?;
        Ok(())
    }

    #[test]
    fn clones_copy_the_source_size_at_least() -> TestResult {
        let d = FakeDriver::default();
        let source = vol(3);
        assert_not_found(d.create_cloned_volume(&vol(1), &source))?;
        d.create_volume(&source)?;
        let (smaller, bigger) = (vol(1), vol(5));
        d.create_cloned_volume(&smaller, &source)?;
        d.create_cloned_volume(&bigger, &source)?;
        d.create_cloned_volume(&bigger, &source)?;
        assert_eq!(d.volume_size(&smaller.id), Some(3));
        assert_eq!(d.volume_size(&bigger.id), Some(5));
        assert_eq!(
            (d.volume_count(), d.calls(FakeVerb::CreateClonedVolume)),
            (3, 4)
        );
        Ok(())
    }

    #[test]
    fn connections() -> TestResult {
        let d = FakeDriver::default();
        let v = vol(1);
        let connector = json!({"host": "h1"});
        assert_not_found(d.initialize_connection(&v, &connector))?;
        d.create_volume(&v)?;
        let info = d.initialize_connection(&v, &connector)?;
        assert_eq!(info.driver_volume_type, "fake");
        assert_eq!(info.data["volume_id"], json!(v.id.to_string()));
        let again = d.initialize_connection(&v, &connector)?;
        assert!(info.data["auth_password"].is_string());
        assert_ne!(
            info.data["auth_password"], again.data["auth_password"],
            "a credential per export"
        );
        d.terminate_connection(&v, &connector)?;
        d.terminate_connection(&vol(1), &connector)?;
        Ok(())
    }

    #[test]
    fn fail_next_fails_that_many_times_without_side_effects() -> TestResult {
        let d = FakeDriver::default();
        let v = vol(1);
        d.fail_next(FakeVerb::CreateVolume, 2);
        for _ in 0..2 {
            match d.create_volume(&v) {
                Err(DriverError::Injected("create_volume")) => assert!(!d.has_volume(&v.id)),
                other => return Err(format!("expected an injected failure: {other:?}").into()),
            }
        }
        d.create_volume(&v)?;
        assert!(d.has_volume(&v.id));
        d.fail_next(FakeVerb::DeleteVolume, 1);
        d.fail_next(FakeVerb::DeleteVolume, 0);
        d.delete_volume(&v)?;
        assert_eq!(d.calls(FakeVerb::CreateVolume), 3);
        Ok(())
    }

    #[test]
    fn every_verb_fails_with_its_own_name_until_cleared() -> TestResult {
        let d = FakeDriver::default();
        let v = vol(2);
        let s = snap(&v);
        d.create_volume(&v)?;
        d.create_snapshot(&s)?;
        for &verb in FakeVerb::ALL {
            let before = d.calls(verb);
            call(&d, verb, &v, &s)?;
            d.fail_always(verb);
            for _ in 0..3 {
                match call(&d, verb, &v, &s) {
                    Err(DriverError::Injected(name)) => assert_eq!(name, verb.as_str()),
                    other => return Err(format!("{verb:?} gave {other:?}").into()),
                }
            }
            d.clear_failures();
            call(&d, verb, &v, &s)?;
            assert_eq!(d.calls(verb), before + 5);
        }
        Ok(())
    }

    #[test]
    fn fail_every_fails_one_call_in_n() -> TestResult {
        let d = FakeDriver::default();
        let v = vol(1);
        d.create_volume(&v)?;
        d.fail_every(FakeVerb::ExtendVolume, 3);
        let outcomes: Vec<bool> = (2..=8).map(|n| d.extend_volume(&v, n).is_ok()).collect();
        assert_eq!(outcomes, [true, true, false, true, true, false, true]);
        // A failed extend changed nothing; the successful ones did.
        assert_eq!(d.volume_size(&v.id), Some(8));
        d.fail_every(FakeVerb::ExtendVolume, 0);
        d.extend_volume(&v, 9)?;
        assert_eq!(
            FakeVerb::parse("extend_volume"),
            Some(FakeVerb::ExtendVolume)
        );
        assert_eq!(FakeVerb::parse("extend"), None);
        Ok(())
    }

    #[test]
    fn list_backing_only_when_asked_and_remove_backing() -> TestResult {
        let d = FakeDriver::default();
        let v = vol(3);
        let s = snap(&v);
        d.create_volume(&v)?;
        d.create_snapshot(&s)?;
        assert!(matches!(
            d.list_backing(),
            Err(DriverError::NotSupported { .. })
        ));
        d.set_listing(true);
        let mut objects = d.list_backing()?;
        objects.sort_by_key(|o| o.kind == BackingKind::Snapshot);
        let seen: Vec<(BackingKind, Uuid, u64)> = objects
            .iter()
            .map(|o| (o.kind, o.id, o.size_bytes))
            .collect();
        assert_eq!(
            seen,
            [
                (BackingKind::Volume, v.id.0, 3 << 30),
                (BackingKind::Snapshot, s.id, 3 << 30)
            ]
        );
        for o in &objects {
            d.remove_backing(o)?;
        }
        assert_eq!((d.volume_count(), d.snapshot_count()), (0, 0));
        Ok(())
    }

    #[test]
    fn delay_slows_every_call_until_reset() -> TestResult {
        let d = std::sync::Arc::new(FakeDriver::default());
        let v = vol(1);
        d.set_delay(Duration::from_millis(200));
        let worker = {
            let (d, v) = (d.clone(), v.clone());
            std::thread::spawn(move || d.create_volume(&v).map(drop))
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!d.has_volume(&v.id), "the create should still be in flight");
        worker.join().map_err(|_| "worker panicked")??;
        assert!(d.has_volume(&v.id));
        d.set_delay(Duration::ZERO);
        let start = std::time::Instant::now();
        d.delete_volume(&v)?;
        assert!(start.elapsed() < Duration::from_millis(100));
        Ok(())
    }

    #[test]
    fn stats_arithmetic_and_options() -> TestResult {
        let options = FakeDriverOptions {
            volume_backend_name: "be".to_string(),
            pool_name: "p1".to_string(),
            total_capacity_gb: 100,
            thick_provisioning_support: true,
            reserved_percentage: 10,
            max_over_subscription_ratio: OverSubscription::Ratio(1.5),
            capabilities: BTreeMap::from([("ssd".to_string(), json!(true))]),
            ..FakeDriverOptions::default()
        };
        let d = FakeDriver::new(options.clone());
        let (a, b) = (vol(10), vol(20));
        d.create_volume(&a)?;
        d.create_volume(&b)?;
        d.create_snapshot(&snap(&a))?;
        d.extend_volume(&b, 25)?;
        let stats = d.get_volume_stats()?;
        assert_eq!(stats.volume_backend_name, "be");
        assert_eq!(stats.storage_protocol, "fake");
        assert!(stats.vendor_name.contains("tests and benchmarks only"));
        let pool = PoolStats {
            pool_name: "p1".to_string(),
            total_capacity_gb: Capacity::Gb(100.0),
            free_capacity_gb: Capacity::Gb(55.0),
            allocated_capacity_gb: 0.0,
            provisioned_capacity_gb: 45.0,
            reserved_percentage: 10,
            max_over_subscription_ratio: OverSubscription::Ratio(1.5),
            thin_provisioning_support: true,
            thick_provisioning_support: true,
            capabilities: options.capabilities,
        };
        assert_eq!(stats.pools, [pool]);

        d.create_volume(&vol(80))?;
        d.delete_volume(&a)?;
        let pool = d.get_volume_stats()?.pools.remove(0);
        assert_eq!(pool.provisioned_capacity_gb, 115.0);
        assert_eq!(pool.free_capacity_gb, Capacity::Gb(0.0));
        Ok(())
    }
}

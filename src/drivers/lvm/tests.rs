//! Tests of the LVM driver.
//!
//! Most run against [`FakeLvm`], a small model of a volume group that answers the lvm2
//! commands the driver sends (and `dd`), records every argument vector, and tracks what
//! each LV holds as a label, including what a removed, uncleared thick LV leaves on its
//! extents for the next one. That checks the exact commands, the parsing of the tools'
//! output, error mapping, idempotency and crash leftovers without lvm2.
//!
//! `real_lvm_round_trip` runs the real tools when device-mapper works and the volume
//! group named by `CLINKER_TEST_VG` exists; otherwise it skips, saying why.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};

use super::parse::{mapper_name, parse_lvs, parse_numbers};
use super::runner::{Runner, SystemRunner};
use super::{LvmDriver, LvmDriverOptions};
use crate::drivers::fsutil::GIB;
use crate::drivers::testutil::{
    GatedTarget, TestResult, check_exports_serialized, reads_mb, snap, vol, write_mb,
};
use crate::drivers::{Capacity, DriverError, VolumeDriver};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Linear,
    CowSnapshot,
    Thin,
    Pool,
}

#[derive(Debug, Clone)]
struct FakeLv {
    bytes: u64,
    kind: Kind,
    origin: String,
    pool: String,
    /// What the LV holds; empty means zeros.
    data: String,
}

#[derive(Debug, Default)]
struct State {
    vg: String,
    vg_bytes: u64,
    lvs: BTreeMap<String, FakeLv>,
    /// Data removed thick LVs left on their extents, handed to the next thick LV.
    stale: Vec<String>,
    pool_used_percent: f64,
    calls: Vec<Vec<String>>,
    /// A failure to inject into the next run of a program: (program, error text).
    fail: Option<(String, String)>,
}

#[derive(Debug, Default)]
struct FakeLvm(Mutex<State>);

fn opt<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).map(String::as_str)
}

fn has(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}

fn gb(text: &str) -> Result<u64, String> {
    text.strip_suffix('g')
        .and_then(|n| n.parse::<u64>().ok())
        .map(|n| n * GIB)
        .ok_or_else(|| format!("bad size {text}"))
}

impl State {
    fn lv_of(&self, full: &str) -> Result<String, String> {
        match full.split_once('/') {
            Some((vg, lv)) if vg == self.vg && self.lvs.contains_key(lv) => Ok(lv.to_string()),
            _ => Err(format!("Failed to find logical volume \"{full}\"")),
        }
    }

    fn thick_used(&self) -> u64 {
        let thick = |lv: &&FakeLv| lv.kind != Kind::Thin;
        self.lvs.values().filter(thick).map(|lv| lv.bytes).sum()
    }

    fn device(&self, path: &str) -> Result<String, String> {
        if let Some(name) = path.strip_prefix(&format!("/dev/{}/", self.vg)) {
            return self.lv_of(&format!("{}/{name}", self.vg));
        }
        let cow = path
            .strip_prefix("/dev/mapper/")
            .and_then(|m| m.strip_suffix("-cow"))
            .ok_or_else(|| format!("{path}: No such file or directory"))?;
        self.lvs
            .iter()
            .find(|(n, lv)| lv.kind == Kind::CowSnapshot && mapper_name(&self.vg, n) == cow)
            .map(|(n, _)| n.clone())
            .ok_or_else(|| format!("{path}: No such file or directory"))
    }

    fn exec(&mut self, program: &str, args: &[String]) -> Result<String, String> {
        let last = args.last().cloned().unwrap_or_default();
        match program {
            "vgs" if last != self.vg => Err(format!("Volume group \"{last}\" not found")),
            "vgs" if has(args, "vg_size,vg_free") => Ok(format!(
                "  {:.2}|{:.2}\n",
                self.vg_bytes as f64 / GIB as f64,
                (self.vg_bytes - self.thick_used()) as f64 / GIB as f64
            )),
            "vgs" => Ok(format!("  {}\n", self.vg)),
            "lvs" if has(args, "lv_size,data_percent") => {
                let pool = &self.lvs[&self.lv_of(&last)?];
                Ok(format!(
                    "  {:.2}|{:.2}\n",
                    pool.bytes as f64 / GIB as f64,
                    self.pool_used_percent
                ))
            }
            "lvs" if last == self.vg => Ok(self
                .lvs
                .iter()
                .map(|(name, lv)| {
                    let attr = match lv.kind {
                        Kind::Linear => "-wi-a-----",
                        Kind::CowSnapshot => "swi-a-s---",
                        Kind::Thin => "Vwi-a-tz--",
                        Kind::Pool => "twi-aotz--",
                    };
                    format!("  {name}|{}|{attr}|{}|{}\n", lv.bytes, lv.origin, lv.pool)
                })
                .collect()),
            "lvs" => Err(format!("Volume group \"{last}\" not found")),
            "lvcreate" => self.lvcreate(args, &last),
            "lvremove" => {
                let name = self.lv_of(&last)?;
                if self
                    .lvs
                    .values()
                    .any(|lv| lv.origin == name && lv.kind == Kind::CowSnapshot)
                {
                    return Err(format!("{name} has dependent snapshots"));
                }
                if let Some(lv) = self.lvs.remove(&name)
                    && lv.kind != Kind::Thin
                    && !lv.data.is_empty()
                {
                    self.stale.push(lv.data);
                }
                Ok(String::new())
            }
            "lvextend" => {
                let name = self.lv_of(&last)?;
                let bytes = gb(opt(args, "--size").unwrap_or_default())?;
                let lv = self.lvs.get_mut(&name).ok_or("gone")?;
                if bytes <= lv.bytes {
                    return Err("New size given not larger than existing size".into());
                }
                lv.bytes = bytes;
                Ok(String::new())
            }
            "lvrename" => {
                let (from, to) = (&args[1], &args[2]);
                let lv = self.lvs.remove(from).ok_or("no such LV")?;
                self.lvs.insert(to.clone(), lv);
                Ok(String::new())
            }
            "lvconvert" => {
                let snap = self.lv_of(opt(args, "--merge").unwrap_or_default())?;
                let lv = self.lvs.remove(&snap).ok_or("gone")?;
                self.lvs.get_mut(&lv.origin).ok_or("no origin")?.data = lv.data;
                Ok(String::new())
            }
            "lvchange" => self.lv_of(&last).map(|_| String::new()),
            "dd" => {
                let arg = |k: &str| {
                    args.iter()
                        .find_map(|a| a.strip_prefix(k))
                        .unwrap_or_default()
                        .to_string()
                };
                let dst = self.device(&arg("of="))?;
                let data = match arg("if=").as_str() {
                    "/dev/zero" => String::new(),
                    src => self.lvs[&self.device(src)?].data.clone(),
                };
                self.lvs.get_mut(&dst).ok_or("gone")?.data = data;
                Ok(String::new())
            }
            other => Err(format!("{other}: command not found")),
        }
    }

    fn lvcreate(&mut self, args: &[String], target: &str) -> Result<String, String> {
        let name = opt(args, "--name").ok_or("no name")?.to_string();
        if self.lvs.contains_key(&name) {
            return Err(format!(
                "Logical Volume \"{name}\" already exists in volume group \"{}\"",
                self.vg
            ));
        }
        let free = self.vg_bytes - self.thick_used();
        let no_space = || format!("Volume group \"{}\" has insufficient free space", self.vg);
        let lv = if opt(args, "--type") == Some("thin-pool") {
            let bytes = free / 100 * 95;
            FakeLv {
                bytes,
                kind: Kind::Pool,
                origin: String::new(),
                pool: String::new(),
                data: String::new(),
            }
        } else if has(args, "--snapshot") {
            let origin = self.lv_of(target)?;
            let o = self.lvs[&origin].clone();
            match opt(args, "--size") {
                Some(size) => {
                    let bytes = gb(size)?;
                    if bytes > free {
                        return Err(no_space());
                    }
                    FakeLv {
                        bytes,
                        kind: Kind::CowSnapshot,
                        origin,
                        pool: String::new(),
                        data: o.data,
                    }
                }
                None if o.kind == Kind::Thin => FakeLv { origin, ..o },
                None => return Err("thick snapshot needs a size".into()),
            }
        } else if has(args, "--thin") {
            let pool = self.lv_of(target)?;
            let bytes = gb(opt(args, "--virtualsize").unwrap_or_default())?;
            FakeLv {
                bytes,
                kind: Kind::Thin,
                origin: String::new(),
                pool,
                data: String::new(),
            }
        } else {
            if target != self.vg {
                return Err(format!("Volume group \"{target}\" not found"));
            }
            let bytes = gb(opt(args, "--size").unwrap_or_default())?;
            if bytes > free {
                return Err(no_space());
            }
            let data = self.stale.pop().unwrap_or_default();
            FakeLv {
                bytes,
                kind: Kind::Linear,
                origin: String::new(),
                pool: String::new(),
                data,
            }
        };
        self.lvs.insert(name, lv);
        Ok(String::new())
    }
}

impl Runner for FakeLvm {
    fn run(
        &self,
        program: &'static str,
        action: &str,
        args: &[String],
    ) -> Result<String, DriverError> {
        let mut s = self
            .0
            .lock()
            .map_err(|_| DriverError::Injected("poisoned fake"))?;
        s.calls.push(
            std::iter::once(program.to_string())
                .chain(args.iter().cloned())
                .collect(),
        );
        let command = |detail: String| DriverError::Command {
            program,
            action: action.to_string(),
            detail,
        };
        if s.fail.as_ref().is_some_and(|(p, _)| p == program) {
            let detail = s.fail.take().map(|(_, d)| d).unwrap_or_default();
            return Err(command(detail));
        }
        s.exec(program, args).map_err(command)
    }
}

impl FakeLvm {
    fn new(vg_gb: u64) -> Arc<Self> {
        let fake = Self::default();
        if let Ok(mut s) = fake.0.lock() {
            s.vg = "vg0".into();
            s.vg_bytes = vg_gb * GIB;
        }
        Arc::new(fake)
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> TestResult<T> {
        let mut s = self.0.lock().map_err(|_| "poisoned fake")?;
        Ok(f(&mut s))
    }

    fn write(&self, lv: &str, data: &str) -> TestResult {
        self.with(|s| s.lvs.get_mut(lv).map(|l| l.data = data.into()))?
            .ok_or_else(|| format!("no LV {lv}").into())
    }

    fn data(&self, lv: &str) -> TestResult<String> {
        self.with(|s| s.lvs.get(lv).map(|l| l.data.clone()))?
            .ok_or_else(|| format!("no LV {lv}").into())
    }

    fn bytes(&self, lv: &str) -> TestResult<u64> {
        self.with(|s| s.lvs.get(lv).map(|l| l.bytes))?
            .ok_or_else(|| format!("no LV {lv}").into())
    }

    fn names(&self) -> TestResult<Vec<String>> {
        self.with(|s| s.lvs.keys().cloned().collect())
    }

    /// The calls since the last `take_calls`, each as `program args...`.
    fn take_calls(&self) -> TestResult<Vec<Vec<String>>> {
        self.with(|s| std::mem::take(&mut s.calls))
    }

    fn fail_next(&self, program: &str, detail: &str) -> TestResult {
        self.with(|s| s.fail = Some((program.into(), detail.into())))
    }
}

/// The calls of `program`, without the program.
fn of(calls: &[Vec<String>], program: &str) -> Vec<Vec<String>> {
    calls
        .iter()
        .filter(|c| c[0] == program)
        .map(|c| c[1..].to_vec())
        .collect()
}

fn argv(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

/// The arguments of an `lvs`/`vgs` report in the driver's machine form.
fn report(units: &str, fields: &str, target: &str) -> Vec<String> {
    let form = [
        "--noheadings",
        "--nosuffix",
        "--units",
        units,
        "--separator",
        "|",
    ];
    argv(&[&form[..], &["-o", fields, target]].concat())
}

fn thick(fake: &Arc<FakeLvm>, clear: bool) -> TestResult<LvmDriver> {
    let options = LvmDriverOptions {
        clear_on_delete: clear,
        ..LvmDriverOptions::thick("vg0")
    };
    Ok(LvmDriver::new(options, fake.clone())?)
}

fn thin(fake: &Arc<FakeLvm>) -> TestResult<LvmDriver> {
    let options = LvmDriverOptions {
        thin_pool: Some("vg0-pool".into()),
        ..LvmDriverOptions::thick("vg0")
    };
    Ok(LvmDriver::new(options, fake.clone())?)
}

#[test]
fn thick_volumes_snapshots_copies_and_clearing() -> TestResult {
    let fake = FakeLvm::new(20);
    let d = thick(&fake, true)?;
    let v = vol(2);
    let name = v.id.backend_name();
    let update = d.create_volume(&v)?;
    assert_eq!(update.provider_location, Some(format!("/dev/vg0/{name}")));
    let calls = fake.take_calls()?;
    assert_eq!(
        of(&calls, "lvcreate"),
        vec![argv(&["--yes", "--size", "2g", "--name", &name, "vg0"])]
    );
    assert_eq!(
        of(&calls, "lvs"),
        vec![report("b", "lv_name,lv_size,lv_attr,origin,pool_lv", "vg0")]
    );
    // Creating what exists makes nothing.
    d.create_volume(&v)?;
    assert!(of(&fake.take_calls()?, "lvcreate").is_empty());

    fake.write(&name, "first")?;
    let s = snap(&v);
    let sname = format!("_snapshot-{}", s.id);
    d.create_snapshot(&s)?;
    d.create_snapshot(&s)?;
    let calls = fake.take_calls()?;
    assert_eq!(
        of(&calls, "lvcreate"),
        vec![argv(&[
            "--yes",
            "--snapshot",
            "--size",
            "2g",
            "--name",
            &sname,
            &format!("vg0/{name}")
        ])]
    );
    fake.write(&name, "second")?;

    // From the snapshot, bigger: copied under a temp name, renamed, then grown.
    let from = vol(3);
    let from_name = from.id.backend_name();
    d.create_volume_from_snapshot(&from, &s)?;
    assert_eq!(fake.data(&from_name)?, "first");
    assert_eq!(fake.bytes(&from_name)?, 3 * GIB);
    let calls = fake.take_calls()?;
    let tmp = format!("tmp-{from_name}");
    assert_eq!(
        of(&calls, "dd"),
        vec![argv(&[
            &format!("if=/dev/vg0/{sname}"),
            &format!("of=/dev/vg0/{tmp}"),
            "bs=1M",
            "count=2048",
            "iflag=direct",
            "oflag=direct",
            "conv=fdatasync"
        ])]
    );
    assert_eq!(
        of(&calls, "lvrename"),
        vec![argv(&["vg0", &tmp, &from_name])]
    );

    // A clone copies through a temp snapshot that is gone afterwards.
    let clone = vol(2);
    d.create_cloned_volume(&clone, &v)?;
    assert_eq!(fake.data(&clone.id.backend_name())?, "second");
    let names = fake.names()?;
    assert!(!names.iter().any(|n| n.starts_with("tmp-")), "{names:?}");

    // A volume with a snapshot is busy; the snapshot's store is cleared when it goes.
    assert!(matches!(d.delete_volume(&v), Err(DriverError::Busy(_))));
    fake.take_calls()?;
    d.delete_snapshot(&s)?;
    let cow = format!(
        "of=/dev/mapper/vg0-_snapshot--{}-cow",
        s.id.to_string().replace('-', "--")
    );
    let calls = fake.take_calls()?;
    assert_eq!(
        of(&calls, "dd"),
        vec![argv(&[
            "if=/dev/zero",
            &cow,
            "bs=1M",
            "count=2048",
            "oflag=direct",
            "conv=fdatasync"
        ])]
    );
    d.delete_snapshot(&s)?;
    assert!(of(&fake.take_calls()?, "lvremove").is_empty());

    // The delete zeroes the volume first, so its extents hold nothing for the next one.
    d.delete_volume(&v)?;
    let calls = fake.take_calls()?;
    assert_eq!(of(&calls, "dd")[0][1], format!("of=/dev/vg0/{name}"));
    assert_eq!(
        of(&calls, "lvremove"),
        vec![argv(&["--yes", "--force", &format!("vg0/{name}")])]
    );
    d.delete_volume(&v)?;
    let next = vol(2);
    d.create_volume(&next)?;
    assert_eq!(fake.data(&next.id.backend_name())?, "");
    Ok(())
}

#[test]
fn volume_clear_none_skips_the_wipe() -> TestResult {
    let fake = FakeLvm::new(10);
    let d = thick(&fake, false)?;
    let v = vol(1);
    d.create_volume(&v)?;
    fake.write(&v.id.backend_name(), "secret")?;
    d.delete_volume(&v)?;
    assert!(of(&fake.take_calls()?, "dd").is_empty());
    // What Cinder warns of with volume_clear = none: the next LV sees the old data.
    let next = vol(1);
    d.create_volume(&next)?;
    assert_eq!(fake.data(&next.id.backend_name())?, "secret");
    Ok(())
}

#[test]
fn thin_pool_volumes_snapshots_and_clones() -> TestResult {
    let fake = FakeLvm::new(100);
    let d = thin(&fake)?;
    let calls = fake.take_calls()?;
    assert_eq!(
        of(&calls, "lvcreate"),
        vec![argv(&[
            "--yes",
            "--type",
            "thin-pool",
            "--extents",
            "95%FREE",
            "--name",
            "vg0-pool",
            "vg0"
        ])]
    );
    // A second driver finds the pool and leaves it alone.
    thin(&fake)?;
    assert!(of(&fake.take_calls()?, "lvcreate").is_empty());

    let v = vol(5);
    let name = v.id.backend_name();
    d.create_volume(&v)?;
    let calls = fake.take_calls()?;
    assert_eq!(
        of(&calls, "lvcreate"),
        vec![argv(&[
            "--yes",
            "--thin",
            "--virtualsize",
            "5g",
            "--name",
            &name,
            "vg0/vg0-pool"
        ])]
    );
    fake.write(&name, "one")?;
    let s = snap(&v);
    let sname = format!("_snapshot-{}", s.id);
    d.create_snapshot(&s)?;
    let calls = fake.take_calls()?;
    assert_eq!(
        of(&calls, "lvcreate"),
        vec![argv(&[
            "--yes",
            "--snapshot",
            "--setactivationskip",
            "n",
            "--name",
            &sname,
            &format!("vg0/{name}")
        ])]
    );
    fake.write(&name, "two")?;

    let from = vol(8);
    d.create_volume_from_snapshot(&from, &s)?;
    let calls = fake.take_calls()?;
    assert!(of(&calls, "dd").is_empty(), "thin copies are snapshots");
    assert_eq!(
        of(&calls, "lvextend"),
        vec![argv(&[
            "--size",
            "8g",
            &format!("vg0/{}", from.id.backend_name())
        ])]
    );
    assert_eq!(fake.data(&from.id.backend_name())?, "one");
    let clone = vol(5);
    d.create_cloned_volume(&clone, &v)?;
    assert_eq!(fake.data(&clone.id.backend_name())?, "two");

    // Thin snapshots do not pin their volume, and thin deletes are not wiped.
    d.delete_volume(&v)?;
    assert!(of(&fake.take_calls()?, "dd").is_empty());
    assert_eq!(fake.data(&sname)?, "one");

    fake.with(|st| st.pool_used_percent = 25.0)?;
    let stats = d.get_volume_stats()?;
    let pool = &stats.pools[0];
    let pool_gb = (100 * GIB / 100 * 95) as f64 / GIB as f64;
    let approx = |c: Capacity, want: f64| c.gb().is_some_and(|g| (g - want).abs() < 0.01);
    assert!(approx(pool.total_capacity_gb, pool_gb), "{pool:?}");
    assert!(approx(pool.free_capacity_gb, pool_gb * 0.75), "{pool:?}");
    // The snapshot (5), the volume from it (8) and the clone (5).
    assert!(
        (pool.provisioned_capacity_gb - 18.0).abs() < 1e-9,
        "{pool:?}"
    );
    assert!(pool.thin_provisioning_support && !pool.thick_provisioning_support);
    assert_eq!(pool.capabilities["lvm_type"], "thin");
    let calls = fake.take_calls()?;
    assert!(of(&calls, "lvs").contains(&report("g", "lv_size,data_percent", "vg0/vg0-pool")));
    Ok(())
}

#[test]
fn connection_calls_and_deletes_of_one_volume_never_interleave() -> TestResult {
    let fake = FakeLvm::new(20);
    let target = Arc::new(GatedTarget::default());
    let d = thick(&fake, true)?.with_target(target.clone())?;
    let a = check_exports_serialized(&d, &target)?;
    assert!(!fake.names()?.contains(&a.id.backend_name()));
    Ok(())
}

#[test]
fn thick_capacity_comes_from_vgs() -> TestResult {
    let fake = FakeLvm::new(10);
    let d = thick(&fake, true)?;
    d.create_volume(&vol(3))?;
    fake.take_calls()?;
    let stats = d.get_volume_stats()?;
    let pool = &stats.pools[0];
    assert_eq!(pool.total_capacity_gb, Capacity::Gb(10.0));
    assert_eq!(pool.free_capacity_gb, Capacity::Gb(7.0));
    assert_eq!(pool.provisioned_capacity_gb, 3.0);
    assert!(pool.thick_provisioning_support && !pool.thin_provisioning_support);
    assert_eq!(
        of(&fake.take_calls()?, "vgs"),
        vec![report("g", "vg_size,vg_free", "vg0")]
    );
    Ok(())
}

#[test]
fn extend_and_revert() -> TestResult {
    let fake = FakeLvm::new(20);
    let d = thick(&fake, true)?;
    let v = vol(1);
    let name = v.id.backend_name();
    d.create_volume(&v)?;
    d.extend_volume(&v, 4)?;
    d.extend_volume(&v, 4)?;
    d.extend_volume(&v, 2)?;
    let calls = fake.take_calls()?;
    assert_eq!(
        of(&calls, "lvextend"),
        vec![argv(&["--size", "4g", &format!("vg0/{name}")])]
    );
    assert_eq!(fake.bytes(&name)?, 4 * GIB);
    assert!(
        d.extend_volume(&vol(1), 2).is_err(),
        "a missing volume cannot grow"
    );

    let v = crate::drivers::VolumeRef { size_gb: 4, ..v };
    fake.write(&name, "before")?;
    let s = snap(&v);
    d.create_snapshot(&s)?;
    fake.write(&name, "after")?;
    fake.take_calls()?;
    d.revert_to_snapshot(&v, &s)?;
    assert_eq!(fake.data(&name)?, "before");
    let sname = format!("_snapshot-{}", s.id);
    assert_eq!(fake.data(&sname)?, "before", "the snapshot is taken again");
    let calls = fake.take_calls()?;
    assert_eq!(
        of(&calls, "lvconvert"),
        vec![argv(&["--merge", &format!("vg0/{sname}")])]
    );
    let full = format!("vg0/{name}");
    assert_eq!(
        of(&calls, "lvchange"),
        vec![
            argv(&["--activate", "n", "--ignoreactivationskip", &full]),
            argv(&["--activate", "y", "--ignoreactivationskip", &full]),
        ]
    );
    assert!(
        d.revert_to_snapshot(&v, &snap(&v)).is_err(),
        "unknown snapshot"
    );
    Ok(())
}

#[test]
fn errors_are_mapped_and_crash_leftovers_cleaned() -> TestResult {
    let fake = FakeLvm::new(4);
    let d = thick(&fake, true)?;
    // No room: the scheduler's NoSpace, not a generic failure.
    match d.create_volume(&vol(5)) {
        Err(DriverError::NoSpace(m)) => assert!(m.contains("insufficient free space"), "{m}"),
        other => return Err(format!("expected NoSpace, got {other:?}").into()),
    }
    // A volume group that does not exist stops the driver at start.
    let missing = LvmDriver::new(LvmDriverOptions::thick("nope"), fake.clone());
    assert!(matches!(missing, Err(DriverError::InvalidConfig(m)) if m.contains("nope")));

    // A copy that fails half-way leaves only the temp LV; the retry replaces it.
    let v = vol(1);
    d.create_volume(&v)?;
    fake.write(&v.id.backend_name(), "data")?;
    let s = snap(&v);
    d.create_snapshot(&s)?;
    let from = vol(1);
    fake.fail_next("dd", "dd: error writing: Input/output error")?;
    let err = d
        .create_volume_from_snapshot(&from, &s)
        .err()
        .map(|e| e.to_string());
    assert!(
        err.as_deref().is_some_and(|e| e.contains("Input/output")),
        "{err:?}"
    );
    let names = fake.names()?;
    assert!(!names.contains(&from.id.backend_name()), "{names:?}");
    assert!(
        names.contains(&format!("tmp-{}", from.id.backend_name())),
        "{names:?}"
    );
    d.create_volume_from_snapshot(&from, &s)?;
    assert_eq!(fake.data(&from.id.backend_name())?, "data");
    let names = fake.names()?;
    assert!(!names.iter().any(|n| n.starts_with("tmp-")), "{names:?}");

    // Deleting a volume whose copy failed removes the temp LV too.
    let other = vol(1);
    fake.fail_next("dd", "dd: failed")?;
    assert!(d.create_volume_from_snapshot(&other, &s).is_err());
    d.delete_volume(&other)?;
    let names = fake.names()?;
    assert!(!names.iter().any(|n| n.starts_with("tmp-")), "{names:?}");

    // Garbage from a tool is an error, not a guess.
    fake.with(|st| st.vg = "elsewhere".into())?;
    assert!(d.get_volume_stats().is_err());
    Ok(())
}

#[test]
fn reports_are_parsed_exactly() -> TestResult {
    let lvs = parse_lvs(
        "  volume-1|1073741824|-wi-a-----||\n  _snapshot-2|1073741824|swi-a-s---|volume-1|\n\n  t|5368709120|Vwi-a-tz--||pool\n",
    )?;
    assert_eq!(lvs.len(), 3);
    assert_eq!((lvs[0].name.as_str(), lvs[0].bytes), ("volume-1", GIB));
    assert!(lvs[1].is_thick_snapshot() && lvs[1].origin == "volume-1");
    assert_eq!(lvs[2].pool, "pool");
    assert!(parse_lvs("  volume-1|1.00g|-wi-a-----||\n").is_err());
    assert!(parse_lvs("  volume-1|1|-wi\n").is_err());
    assert_eq!(parse_numbers("vgs", "  9.99|8.50\n", 2)?, vec![9.99, 8.5]);
    assert_eq!(parse_numbers("lvs", "  9.50|\n", 2)?, vec![9.5, 0.0]);
    assert!(parse_numbers("vgs", "  9.99|8.50\n  1|2\n", 2).is_err());
    assert!(parse_numbers("vgs", "  x|1\n", 2).is_err());
    assert!(parse_numbers("vgs", "", 2).is_err());
    assert_eq!(
        mapper_name("my-vg", "_snapshot-a-b"),
        "my--vg-_snapshot--a--b"
    );
    Ok(())
}

/// Whether the real lvm2 tools can be used: device-mapper answers and the volume group
/// `CLINKER_TEST_VG` exists. Prints why not.
fn real_vg(test: &str) -> Option<String> {
    let skip = |why: String| {
        eprintln!("SKIPPED {test}: {why}");
        None
    };
    match Command::new("dmsetup").arg("version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return skip(format!(
                "device-mapper is not usable: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Err(e) => return skip(format!("dmsetup cannot run ({e}); install lvm2")),
    }
    let Ok(vg) = std::env::var("CLINKER_TEST_VG") else {
        return skip("set CLINKER_TEST_VG to a scratch volume group to run it".into());
    };
    match Command::new("vgs").arg(&vg).output() {
        Ok(o) if o.status.success() => Some(vg),
        _ => skip(format!("volume group {vg} is not usable")),
    }
}

#[test]
fn real_lvm_round_trip() -> TestResult {
    let Some(vg) = real_vg("real_lvm_round_trip") else {
        return Ok(());
    };
    for pool in [None, Some(format!("{vg}-clinker-test-pool"))] {
        let options = LvmDriverOptions {
            thin_pool: pool.clone(),
            ..LvmDriverOptions::thick(&vg)
        };
        let d = LvmDriver::new(options, Arc::new(SystemRunner))?;
        let v = vol(1);
        d.create_volume(&v)?;
        let dev = d.device_path(&v.id.backend_name()).display().to_string();
        write_mb("raw", &dev, 0, 0x5a)?;
        let s = snap(&v);
        d.create_snapshot(&s)?;
        write_mb("raw", &dev, 0, 0x11)?;
        let from = vol(2);
        d.create_volume_from_snapshot(&from, &s)?;
        let from_dev = d.device_path(&from.id.backend_name()).display().to_string();
        assert!(reads_mb("raw", &from_dev, 0, 0x5a)?);
        let clone = vol(1);
        d.create_cloned_volume(&clone, &v)?;
        let clone_dev = d
            .device_path(&clone.id.backend_name())
            .display()
            .to_string();
        assert!(reads_mb("raw", &clone_dev, 0, 0x11)?);
        d.extend_volume(&from, 3)?;
        assert!(
            d.get_volume_stats()?.pools[0]
                .total_capacity_gb
                .gb()
                .is_some()
        );
        d.delete_snapshot(&s)?;
        for x in [&v, &from, &clone] {
            d.delete_volume(x)?;
            d.delete_volume(x)?;
        }
        if let Some(pool) = pool {
            Command::new("lvremove")
                .args(["--yes", "--force", &format!("{vg}/{pool}")])
                .status()?;
        }
    }
    Ok(())
}

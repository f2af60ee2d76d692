//! `db::hosts::usage` (what `GET /os-hosts/{host}` shows) on both backends: Cinder's host
//! matching, LIKE's wildcards taken literally, case kept, and snapshots counted for the
//! projects with volumes there.

mod common_db;

use std::collections::BTreeMap;

use clinker::db::hosts::{HostUsage, usage};
use clinker::db::rows::SnapshotRow;
use clinker::db::{DbConnection, now, snapshots, volumes};
use clinker::model::{SnapshotStatus, VolumeStatus};
use common_db::{TestDb, TestResult, volume};

/// Inserts a volume of `project` with `size` GiB on `host`; answers its id.
fn placed(c: &mut DbConnection, project: &str, size: i64, host: &str) -> TestResult<String> {
    let mut row = volume(project, None, size, VolumeStatus::Available, now());
    row.host = Some(host.parse()?);
    volumes::insert(c, &row, &BTreeMap::new())?;
    Ok(row.id)
}

fn snapshot(c: &mut DbConnection, project: &str, volume_id: &str, size: i64) -> TestResult {
    let row = SnapshotRow {
        id: clinker::model::SnapshotId::new(),
        volume_id: volume_id.to_string(),
        project_id: project.into(),
        user_id: "user-1".to_string(),
        status: SnapshotStatus::Available,
        progress: "100%".to_string(),
        volume_size: size,
        display_name: None,
        display_description: None,
        volume_type_id: common_db::DEFAULT_TYPE_ID.to_string(),
        provider_location: None,
        request_id: "req-1".to_string(),
        created_at: now(),
        updated_at: None,
    };
    snapshots::insert(c, &row, &BTreeMap::new())?;
    Ok(())
}

fn suite(c: &mut DbConnection) -> TestResult {
    let a = placed(c, "0a0a", 2, "n_1@fake#pool")?;
    placed(c, "0a0a", 3, "n_1@slow#pool")?;
    let b = placed(c, "0b0b", 5, "n_1@fake#pool")?;
    // Not on n_1: a LIKE wildcard would take the first, a case-blind match the second,
    // a prefix the third.
    placed(c, "0a0a", 7, "nX1@fake#pool")?;
    placed(c, "0a0a", 11, "N_1@fake#pool")?;
    placed(c, "0a0a", 13, "n_10@fake#pool")?;
    snapshot(c, "0a0a", &a, 2)?;
    snapshot(c, "0b0b", &b, 5)?;
    snapshot(c, "0b0b", &b, 5)?;
    // Another project's snapshot of A's volume is not A's (nor B's) usage there.
    snapshot(c, "0c0c", &a, 2)?;

    let u = |project: &str, v: i64, vg: i64, s: i64, sg: i64| HostUsage {
        project_id: project.to_string(),
        volume_count: v,
        volume_gb: vg,
        snapshot_count: s,
        snapshot_gb: sg,
    };
    assert_eq!(
        usage(c, "n_1")?,
        vec![u("0a0a", 2, 5, 1, 2), u("0b0b", 1, 5, 2, 10)]
    );
    assert_eq!(
        usage(c, "n_1@fake")?,
        vec![u("0a0a", 1, 2, 1, 2), u("0b0b", 1, 5, 2, 10)]
    );
    assert_eq!(usage(c, "n_1@slow#pool")?, vec![u("0a0a", 1, 3, 0, 0)]);
    assert_eq!(usage(c, "n_1@slow#other")?, vec![]);
    assert_eq!(usage(c, "n%")?, vec![]);
    Ok(())
}

#[test]
fn sqlite() -> TestResult {
    let db = TestDb::sqlite(1)?;
    let mut c = db.migrated()?;
    suite(&mut c)
}

#[test]
fn postgres() -> TestResult {
    let db = TestDb::postgres(1)?;
    let mut c = db.migrated()?;
    suite(&mut c)
}

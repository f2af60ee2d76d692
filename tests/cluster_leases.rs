//! Instances, leases and node claims in the database, on SQLite and on PostgreSQL: what a
//! dead instance held is released, a live one's node is refused to others, and a write
//! under a stale epoch changes nothing.

mod common_db;

use std::time::Duration;

use clinker::db::claims::{self, Fence};
use clinker::db::instances::{self, InstanceKind, NewInstance};
use clinker::db::quotas::{self, Defaults, EXTEND_INTENT, ExtendIntent};
use clinker::db::schema::{instances as inst, quota_usages, reservations, volume_admin_metadata};
use clinker::db::{Db, DbConnection, DbError, idempotency, now, volumes};
use clinker::model::{Host, VolumeStatus};
use common_db::{TestDb, TestResult, volume};
use diesel::prelude::*;

fn instance(id: &str, identity: &str, lease_seconds: i64) -> NewInstance {
    NewInstance {
        id: id.into(),
        kind: InstanceKind::Serve,
        host: "host-a".into(),
        identity: identity.into(),
        pid: 4242,
        lease_seconds,
    }
}

/// Reserves `gigabytes` for project `p` on behalf of instance `owner`; its ids.
fn reserve_as(c: &mut DbConnection, owner: &str, gigabytes: i64) -> TestResult<Vec<String>> {
    let ids = quotas::reserve(
        c,
        "p",
        &[("gigabytes", gigabytes)],
        86_400,
        &Defaults::default(),
    )?;
    diesel::update(reservations::table.filter(reservations::id.eq_any(&ids)))
        .set(reservations::instance_id.eq(owner))
        .execute(c)?;
    Ok(ids)
}

fn reserved(c: &mut DbConnection) -> TestResult<i64> {
    Ok(quota_usages::table
        .filter(quota_usages::project_id.eq("p"))
        .filter(quota_usages::resource.eq("gigabytes"))
        .select(quota_usages::reserved)
        .first(c)?)
}

fn left(c: &mut DbConnection) -> TestResult<Vec<String>> {
    let mut ids: Vec<String> = reservations::table.select(reservations::id).load(c)?;
    ids.sort();
    Ok(ids)
}

on_both_backends!(conn dead_instances_are_swept => sweep_sqlite, sweep_postgres);

/// A reservation owned by an instance whose lease lapsed is released by the next sweep,
/// a second after the lapse rather than a day; a live instance's is kept, and so is one
/// an unfinished extend still names.
fn dead_instances_are_swept(c: &mut DbConnection) -> TestResult {
    instances::register(c, &instance("dead", "serve:host-a:/a", 1))?;
    instances::register(c, &instance("alive", "serve:host-b:/b", 60))?;
    let dead = reserve_as(c, "dead", 3)?;
    let kept = reserve_as(c, "alive", 5)?;
    let extending = reserve_as(c, "dead", 7)?;
    let mut v = volume("p", None, 1, VolumeStatus::Extending, now());
    v.host = Some("n1@file#file".parse::<Host>()?);
    diesel::insert_into(clinker::db::schema::volumes::table)
        .values(&v)
        .execute(c)?;
    let intent = ExtendIntent {
        new_size: 8,
        reservations: extending.clone(),
    };
    diesel::insert_into(volume_admin_metadata::table)
        .values((
            volume_admin_metadata::volume_id.eq(&v.id),
            volume_admin_metadata::meta_key.eq(EXTEND_INTENT),
            volume_admin_metadata::meta_value.eq(serde_json::to_string(&intent)?),
        ))
        .execute(c)?;
    assert_eq!(reserved(c)?, 15);

    // Within its lease nothing is touched.
    assert_eq!(instances::sweep(c)?, instances::Swept::default());
    assert_eq!(reserved(c)?, 15);
    assert!(instances::is_live(c, "dead")?);

    std::thread::sleep(Duration::from_millis(1100));
    assert!(!instances::is_live(c, "dead")?);
    let swept = instances::sweep(c)?;
    assert_eq!(swept.instances, vec!["dead".to_string()]);
    assert_eq!(swept.reservations, dead.len());
    let mut want = [kept, extending].concat();
    want.sort();
    assert_eq!(left(c)?, want);
    assert_eq!(reserved(c)?, 12, "only the dead instance's 3 GiB came back");

    // Swept once: the row is gone, and the dead instance cannot revive its lease.
    assert!(instances::find(c, "dead")?.is_none());
    assert!(!instances::renew(c, "dead", 10)?);
    assert!(instances::renew(c, "alive", 10)?);
    assert_eq!(instances::sweep(c)?, instances::Swept::default());
    Ok(())
}

on_both_backends!(conn restart_ends_previous_incarnation => restart_sqlite, restart_postgres);

/// A process registering with the identity of an earlier instance (itself, restarted)
/// ends that one's lease at once: its reservations go at the next sweep, not a lease
/// later. Another identity on the same host is left alone.
fn restart_ends_previous_incarnation(c: &mut DbConnection) -> TestResult {
    instances::register(c, &instance("before", "serve:host-a:/a", 600))?;
    instances::register(c, &instance("neighbour", "serve:host-a:/other", 600))?;
    reserve_as(c, "before", 2)?;
    let neighbours = reserve_as(c, "neighbour", 4)?;
    instances::register(c, &instance("after", "serve:host-a:/a", 600))?;
    assert!(!instances::is_live(c, "before")?);
    let swept = instances::sweep(c)?;
    assert_eq!(swept.instances, vec!["before".to_string()]);
    assert_eq!(left(c)?, neighbours);
    assert_eq!(reserved(c)?, 4);
    let ids: Vec<String> = inst::table.select(inst::id).order(inst::id).load(c)?;
    assert_eq!(ids, vec!["after".to_string(), "neighbour".to_string()]);
    assert_eq!(
        instances::live_peers(c, InstanceKind::Serve)?,
        ids,
        "the live controllers (this test process is none of them)"
    );
    assert!(instances::live_peers(c, InstanceKind::Node)?.is_empty());
    Ok(())
}

fn keyed(key: &str, request_id: &str) -> idempotency::KeyedRequest {
    let path = "/v3/p/volumes";
    idempotency::KeyedRequest {
        project_id: "p".into(),
        key: key.into(),
        path: path.into(),
        hash: clinker::http::idempotency::request_hash(path, b"{}"),
        request_id: request_id.into(),
    }
}

on_both_backends!(conn idempotency_claims_follow_leases => idem_sqlite, idem_postgres);

/// An idempotency claim held by a live peer is still running for a retry (the peer is
/// working on it); once the peer's lease has ended, the retry takes it over.
fn idempotency_claims_follow_leases(c: &mut DbConnection) -> TestResult {
    instances::register(c, &instance("peer", "serve:host-b:/b", 60))?;
    assert_eq!(
        idempotency::claim(c, &keyed("k", "req-1"))?,
        idempotency::Claim::Fresh
    );
    diesel::update(clinker::db::schema::idempotency_keys::table)
        .set(clinker::db::schema::idempotency_keys::claimed_by.eq("peer"))
        .execute(c)?;
    let running = idempotency::Claim::Same {
        status: 0,
        response: None,
    };
    assert_eq!(idempotency::claim(c, &keyed("k", "req-2"))?, running);
    instances::retire(c, "peer")?;
    assert_eq!(
        idempotency::claim(c, &keyed("k", "req-3"))?,
        idempotency::Claim::Fresh
    );
    Ok(())
}

on_both_backends!(conn nodes_are_claimed_once => claims_sqlite, claims_postgres);

/// A node is held by one live instance: another is refused with the holder named; once
/// the holder's lease ends the node is taken over at the next epoch and the old holder,
/// swept, cannot renew.
fn nodes_are_claimed_once(c: &mut DbConnection) -> TestResult {
    instances::register(c, &instance("a", "serve:host-a:/a", 60))?;
    instances::register(c, &instance("b", "serve:host-b:/b", 60))?;
    let first = claims::claim(c, &"n1".into(), "a")?;
    assert_eq!(first.epoch, 1);
    assert_eq!(
        claims::claim(c, &"n1".into(), "a")?,
        first,
        "the holder keeps its epoch"
    );
    let refused = match claims::claim(c, &"n1".into(), "b") {
        Err(e @ DbError::NodeHeld { .. }) => e.to_string(),
        other => return Err(format!("expected NodeHeld, got {other:?}").into()),
    };
    for part in ["node n1", "instance a", "host host-a", "pid 4242"] {
        assert!(refused.contains(part), "{part:?} missing from {refused:?}");
    }
    assert_eq!(
        claims::holder_of(c, &"n1".into())?,
        Some(("a".to_string(), 1))
    );
    assert_eq!(
        claims::claim(c, &"n2".into(), "b")?.epoch,
        1,
        "other nodes are free"
    );

    instances::retire(c, "a")?;
    let second = claims::claim(c, &"n1".into(), "b")?;
    assert_eq!(second.epoch, 2);
    assert_eq!(
        claims::holder_of(c, &"n1".into())?,
        Some(("b".to_string(), 2))
    );
    assert!(!instances::renew(c, "a", 60)?, "the old holder was swept");
    assert!(matches!(
        claims::check(c, &first),
        Err(DbError::Fenced { epoch: 1, .. })
    ));
    claims::check(c, &second)?;
    Ok(())
}

on_both_backends!(db stale_epoch_writes_change_nothing => fenced_sqlite, fenced_postgres);

/// A node's database handle under a stale epoch (the node was taken over) refuses its
/// writes, queued (`Db::write`) or direct (`Db::run`), and the row stays as it was; the
/// new holder's handle writes.
fn stale_epoch_writes_change_nothing(db: &TestDb) -> TestResult {
    let mut c = db.migrated()?;
    instances::register(&mut c, &instance("old", "node:host-a:/a", 60))?;
    instances::register(&mut c, &instance("new", "node:host-b:/b", 60))?;
    let stale = claims::claim(&mut c, &"n1".into(), "old")?;
    instances::retire(&mut c, "old")?;
    let current = claims::claim(&mut c, &"n1".into(), "new")?;
    let v = volume("p", None, 1, VolumeStatus::Creating, now());
    diesel::insert_into(clinker::db::schema::volumes::table)
        .values(&v)
        .execute(&mut c)?;
    let status = |c: &mut DbConnection| -> TestResult<VolumeStatus> {
        Ok(volumes::get(c, &v.id, None)?.row.status)
    };

    let pool = Db::new(db.pool.clone());
    let write = |fence: Fence, to: VolumeStatus| {
        let (handle, id) = (pool.fenced(fence), v.id.clone());
        async move {
            let queued = {
                let id = id.clone();
                handle
                    .write(move |c| volumes::transition(c, &id, &[VolumeStatus::Creating], to))
                    .await
            };
            let direct = handle
                .run(move |c| volumes::transition(c, &id, &[VolumeStatus::Creating], to))
                .await;
            (queued, direct)
        }
    };
    let system = actix_web::rt::System::new();
    let (queued, direct) = system.block_on(write(stale.clone(), VolumeStatus::Error));
    for r in [queued, direct] {
        assert!(
            matches!(r, Err(DbError::Fenced { ref node, epoch: 1 }) if node == "n1"),
            "{r:?}"
        );
    }
    assert_eq!(status(&mut c)?, VolumeStatus::Creating);

    let (queued, _) = system.block_on(write(current, VolumeStatus::Available));
    queued?;
    assert_eq!(status(&mut c)?, VolumeStatus::Available);
    Ok(())
}

/// On PostgreSQL a take-over waits for a write its old holder had already checked (the
/// check holds the node's lock until that write's transaction ends), and every check after
/// the take-over sees the new epoch: the write checked first lands, none after it.
#[test]
fn a_take_over_waits_for_a_checked_write_postgres() -> TestResult {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let db = TestDb::postgres(4)?;
    let mut c = db.migrated()?;
    instances::register(&mut c, &instance("old", "node:host-a:/a", 60))?;
    instances::register(&mut c, &instance("new", "node:host-b:/b", 60))?;
    let stale = claims::claim(&mut c, &"n1".into(), "old")?;
    instances::retire(&mut c, "old")?;
    let v = volume("p", None, 1, VolumeStatus::Creating, now());
    diesel::insert_into(clinker::db::schema::volumes::table)
        .values(&v)
        .execute(&mut c)?;

    let taken = Arc::new(AtomicBool::new(false));
    let mut holder = db.conn()?;
    let mut taker = db.conn()?;
    let (id, flag) = (v.id.clone(), taken.clone());
    let wrote = claims::guarded(&mut holder, &stale, move |c| {
        let flag = flag.clone();
        let take_over = std::thread::spawn(move || {
            let fence = claims::claim(&mut taker, &"n1".into(), "new");
            flag.store(true, Ordering::SeqCst);
            fence
        });
        // Long enough for the take-over to reach the lock and wait there.
        std::thread::sleep(Duration::from_millis(500));
        let waited = !taken.load(Ordering::SeqCst);
        volumes::transition(c, &id, &[VolumeStatus::Creating], VolumeStatus::Error)?;
        Ok((waited, take_over))
    });
    let (waited, take_over) = wrote?;
    assert!(
        waited,
        "the take-over finished while a checked write was open"
    );
    let fence = take_over
        .join()
        .map_err(|_| "take-over thread panicked")??;
    assert_eq!(fence.epoch, 2);
    assert_eq!(
        volumes::get(&mut c, &v.id, None)?.row.status,
        VolumeStatus::Error
    );

    let late = claims::guarded(&mut c, &stale, |c| {
        volumes::transition(c, &v.id, &[VolumeStatus::Error], VolumeStatus::Available)
    });
    assert!(
        matches!(late, Err(DbError::Fenced { epoch: 1, .. })),
        "{late:?}"
    );
    assert_eq!(
        volumes::get(&mut c, &v.id, None)?.row.status,
        VolumeStatus::Error
    );
    Ok(())
}

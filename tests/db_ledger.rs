//! The capacity ledger (`db::ledger`) on both backends: a booking refused once the rule
//! says the pool is full, the figures moved back by every path that clears a host,
//! deletes a placed volume or grows one, and on PostgreSQL many bookers at once never
//! placing more than the rule allows.

mod common_db;

use std::collections::BTreeMap;

use clinker::db::ledger::{self, Booking};
use clinker::db::{DbConnection, now, volumes};
use clinker::model::spec::RequestSpec;
use clinker::model::{Host, VolumeStatus};
use common_db::{TestDb, TestResult, volume};

const POOL: &str = "n1@fake#fake";

fn booked(c: &mut DbConnection) -> TestResult<i64> {
    Ok(ledger::of_node(c, "n1")?
        .into_iter()
        .find(|f| f.host == POOL)
        .map_or(0, |f| f.allocated_gb))
}

/// Books `size` on [`POOL`] while at most `limit` GiB fit, as the scheduler does.
fn book(c: &mut DbConnection, size: i64, limit: i64) -> TestResult<Booking> {
    Ok(ledger::book(c, POOL, size, |placed| {
        placed + size <= limit
    })?)
}

/// A `creating` volume of `size` GiB, accepted and not yet placed.
fn accepted(c: &mut DbConnection, size: i64) -> TestResult<String> {
    let row = volume("p1", None, size, VolumeStatus::Creating, now());
    volumes::insert(c, &row, &BTreeMap::new())?;
    Ok(row.id)
}

/// Places volume `id` on [`POOL`], booking it in the same transaction.
fn place(c: &mut DbConnection, id: &str, size: i64) -> TestResult {
    let host: Host = POOL.parse()?;
    clinker::db::write_txn(c, |c| {
        ledger::book(c, POOL, size, |_| true)?;
        volumes::set_scheduled(c, id, &host, &RequestSpec::default())
    })?;
    Ok(())
}

fn bookings_stop_at_the_rule(c: &mut DbConnection) -> TestResult {
    assert_eq!(booked(c)?, 0, "a pool never booked reads 0");
    for n in 1..=3 {
        match book(c, 2, 6)? {
            Booking::Booked(f) => {
                assert_eq!(f.allocated_gb, 2 * n);
                assert_eq!(f.host, POOL);
            }
            other => return Err(format!("booking {n}: {other:?}").into()),
        }
    }
    let before = ledger::all(c)?;
    match book(c, 2, 6)? {
        Booking::Full(f) => assert_eq!((f.allocated_gb, f.version), (6, before[0].version)),
        other => return Err(format!("the fourth booking: {other:?}").into()),
    }
    assert_eq!(ledger::all(c)?, before, "a refusal changes nothing");
    ledger::adjust(c, POOL, -2)?;
    assert_eq!(booked(c)?, 4);
    assert!(
        ledger::all(c)?[0].version > before[0].version,
        "every change is versioned"
    );
    assert!(matches!(book(c, 2, 6)?, Booking::Booked(_)));
    // Another node's pools are not this node's.
    ledger::adjust(c, "n10@fake#fake", 5)?;
    assert_eq!(ledger::of_node(c, "n1")?.len(), 1);
    Ok(())
}

fn every_release_moves_the_figure_back(c: &mut DbConnection) -> TestResult {
    let host: Host = POOL.parse()?;
    // Rescheduled: the node gives the volume back.
    let a = accepted(c, 3)?;
    place(c, &a, 3)?;
    assert_eq!(booked(c)?, 3);
    volumes::unschedule(c, &a, &host)?;
    assert_eq!(booked(c)?, 0);
    // A give-back of a volume no longer on this host changes nothing.
    assert!(volumes::unschedule(c, &a, &host).is_err());
    assert_eq!(booked(c)?, 0);

    // Deleted once placed.
    place(c, &a, 3)?;
    let b = accepted(c, 4)?;
    place(c, &b, 4)?;
    assert_eq!(booked(c)?, 7);
    assert!(volumes::destroy_and_release(c, &a)?);
    assert_eq!(booked(c)?, 4);
    // Deleted before it was placed: nothing booked, nothing given back.
    let never = accepted(c, 5)?;
    assert!(volumes::destroy_unplaced_and_release(c, &never)?);
    assert_eq!(booked(c)?, 4);

    // Grown: the growth is booked with the new size.
    volumes::transition(c, &b, &[VolumeStatus::Creating], VolumeStatus::Available)?;
    volumes::begin_transient(c, &b, &[VolumeStatus::Available], VolumeStatus::Extending)?;
    volumes::finish_extend(c, &b, 6)?;
    assert_eq!(booked(c)?, 6);
    assert!(volumes::destroy_and_release(c, &b)?);
    assert_eq!(booked(c)?, 0);
    Ok(())
}

on_both_backends!(conn bookings_stop_at_the_rule => bookings_stop_at_the_rule_sqlite, bookings_stop_at_the_rule_postgres);
on_both_backends!(conn every_release_moves_the_figure_back => every_release_moves_the_figure_back_sqlite, every_release_moves_the_figure_back_postgres);

/// Sixteen bookers on their own connections at once, on a pool that holds five: the row
/// lock makes them take turns, so exactly five are booked.
#[test]
fn concurrent_bookers_never_overfill_postgres() -> TestResult {
    let db = TestDb::postgres(16)?;
    db.migrated()?;
    let barrier = std::sync::Barrier::new(16);
    let outcomes: Vec<bool> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..16)
            .map(|_| {
                let (pool, barrier) = (&db.pool, &barrier);
                s.spawn(move || -> Result<bool, String> {
                    let mut c = pool.get().map_err(|e| e.to_string())?;
                    barrier.wait();
                    let booking = clinker::db::write_txn(&mut c, |c| {
                        let b = ledger::book(c, POOL, 1, |placed| placed < 5)?;
                        // Hold the row a moment, as a scheduling transaction does.
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        Ok(b)
                    })
                    .map_err(|e| e.to_string())?;
                    Ok(matches!(booking, Booking::Booked(_)))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().map_err(|_| "a booker panicked".to_string())?)
            .collect::<Result<Vec<bool>, String>>()
    })?;
    assert_eq!(outcomes.iter().filter(|b| **b).count(), 5, "{outcomes:?}");
    let mut c = db.conn()?;
    assert_eq!(booked(&mut c)?, 5);
    Ok(())
}

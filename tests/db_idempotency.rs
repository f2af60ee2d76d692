//! Idempotency keys in the database, on SQLite and on PostgreSQL: claims, take-overs of
//! claims whose request died, expiry, and the migration that replaced stored bodies by
//! hashes.

mod common_db;

use clinker::db::idempotency::{
    self, CLAIM_STALE_AFTER_SECONDS, Claim, KEY_TTL_SECONDS, KeyedRequest, Made,
};
use clinker::db::schema::{idempotency_keys as k, volumes};
use clinker::db::{DbConnection, MIGRATIONS, now};
use clinker::model::VolumeStatus;
use common_db::{TestDb, TestResult, volume};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;

fn keyed(key: &str, body: &str, request_id: &str) -> KeyedRequest {
    let path = "/v3/0a0a/volumes";
    KeyedRequest {
        project_id: "0a0a".into(),
        key: key.into(),
        path: path.into(),
        hash: clinker::http::idempotency::request_hash(path, body.as_bytes()),
        request_id: request_id.into(),
    }
}

/// Makes the claim of `key` look `age` seconds old and held by `holder`.
fn age(c: &mut DbConnection, key: &str, holder: &str, age: i64) -> TestResult {
    diesel::update(k::table.filter(k::idem_key.eq(key)))
        .set((
            k::claimed_by.eq(holder),
            k::created_at.eq(now() - chrono::Duration::seconds(age)),
        ))
        .execute(c)?;
    Ok(())
}

on_both_backends!(conn claims => claims_sqlite, claims_postgres);

fn claims(c: &mut DbConnection) -> TestResult {
    let first = keyed("k", "{}", "req-1");
    assert_eq!(idempotency::claim(c, &first)?, Claim::Fresh);
    let running = Claim::Same {
        status: 0,
        response: None,
    };
    assert_eq!(idempotency::claim(c, &keyed("k", "{}", "req-2"))?, running);
    assert_eq!(
        idempotency::claim(c, &keyed("k", "{\"other\": 1}", "req-2"))?,
        Claim::Different
    );
    // Only the claim's own request finishes or releases it.
    idempotency::release(c, &keyed("k", "{}", "req-2"))?;
    idempotency::finish(c, &keyed("k", "{}", "req-2"), 202, "nope")?;
    assert_eq!(idempotency::claim(c, &keyed("k", "{}", "req-2"))?, running);
    idempotency::finish(c, &first, 202, "{}")?;
    assert_eq!(
        idempotency::claim(c, &keyed("k", "{}", "req-3"))?,
        Claim::Same {
            status: 202,
            response: Some("{}".into()),
        }
    );

    // A claim left by another incarnation, or too old, is taken over once: the second
    // retry finds it running under the first.
    for (key, holder, secs) in [
        ("dead", "another-incarnation", 0),
        (
            "old",
            idempotency::instance_id(),
            CLAIM_STALE_AFTER_SECONDS + 1,
        ),
    ] {
        assert_eq!(
            idempotency::claim(c, &keyed(key, "{}", "req-a"))?,
            Claim::Fresh
        );
        age(c, key, holder, secs)?;
        assert_eq!(
            idempotency::claim(c, &keyed(key, "{}", "req-b"))?,
            Claim::Fresh
        );
        assert_eq!(idempotency::claim(c, &keyed(key, "{}", "req-c"))?, running);
        // The dead request, should it wake, can no longer touch the key.
        idempotency::finish(c, &keyed(key, "{}", "req-a"), 500, "late")?;
        assert_eq!(idempotency::claim(c, &keyed(key, "{}", "req-c"))?, running);
    }

    // The dead request had made its volume: the retry is told which.
    let mut v = volume("0a0a", None, 1, VolumeStatus::Creating, now());
    v.request_id = "req-made".into();
    diesel::insert_into(volumes::table).values(&v).execute(c)?;
    assert_eq!(
        idempotency::claim(c, &keyed("made", "{}", "req-made"))?,
        Claim::Fresh
    );
    age(c, "made", "another-incarnation", 0)?;
    assert_eq!(
        idempotency::claim(c, &keyed("made", "{}", "req-retry"))?,
        Claim::Created(Made::Volume(v.id.clone()))
    );

    // Expiry: an expired key is new again, and the sweep removes only expired keys.
    age(c, "k", "x", KEY_TTL_SECONDS + 1)?;
    assert_eq!(
        idempotency::claim(c, &keyed("k", "{\"other\": 1}", "req-4"))?,
        Claim::Fresh
    );
    let keys: i64 = k::table.count().get_result(c)?;
    age(c, "dead", "x", KEY_TTL_SECONDS + 1)?;
    assert_eq!(idempotency::expire(c)?, 1);
    assert_eq!(k::table.count().get_result::<i64>(c)?, keys - 1);
    Ok(())
}

on_both_backends!(db old_rows_lose_their_bodies => old_rows_sqlite, old_rows_postgres);

/// Rows written before the hash: the finished one keeps its answer (matched by path), the
/// body is gone, and a claim left running by the old code is dropped.
fn old_rows_lose_their_bodies(db: &TestDb) -> TestResult {
    let mut c = db.migrated()?;
    let hashed = |v: &diesel::migration::MigrationVersion| v.to_string() == "20261207025900";
    while c.applied_migrations()?.iter().any(hashed) {
        c.revert_last_migration(MIGRATIONS)?;
    }
    let body = "x".repeat(100_000);
    c.batch_execute(&format!(
        "INSERT INTO idempotency_keys (project_id, idem_key, request_path, request_body, \
         status, response, created_at) VALUES \
         ('0a0a', 'done', '/v3/0a0a/volumes', '{body}', 202, '{{}}', CURRENT_TIMESTAMP), \
         ('0a0a', 'stuck', '/v3/0a0a/volumes', '{body}', 0, NULL, CURRENT_TIMESTAMP)"
    ))?;
    c.run_pending_migrations(MIGRATIONS)?;
    let rows: Vec<(String, String)> = k::table
        .select((k::idem_key, k::request_hash))
        .load(&mut c)?;
    assert_eq!(rows, vec![("done".to_string(), String::new())]);
    assert_eq!(
        idempotency::claim(&mut c, &keyed("done", "any body", "req-1"))?,
        Claim::Same {
            status: 202,
            response: Some("{}".into()),
        }
    );
    assert_eq!(
        idempotency::claim(&mut c, &keyed("stuck", "{}", "req-1"))?,
        Claim::Fresh
    );
    Ok(())
}

//! The database work of one create on SQLite in a temp dir, call for call as the server
//! makes it (each call checks a connection out of the pool, as `Db::run` does):
//!
//! - `db/create_api`: what `volume_create_api` waits for before answering 202: the type
//!   lookup, the per-volume limit check, the quota reservation, the row insert and the
//!   quota commit.
//! - `db/create_full`: the same, then the scheduler's `set_scheduled` and the node's
//!   re-read and `mark_created` (everything but the journal's batched flow-run inserts).

use std::collections::BTreeMap;
use std::fmt::Display;

use clinker::db::quotas::{self, Defaults};
use clinker::db::rows::VolumeRow;
use clinker::db::{self, Db};
use clinker::model::spec::RequestSpec;
use clinker::model::{AttachStatus, Host, VolumeStatus, quota};
use criterion::{Criterion, criterion_group, criterion_main};

const PROJECT: &str = "5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c";
/// Where the bench's volumes are placed (`bench@fake#fake`).
fn host() -> Host {
    Host::new("bench", "fake", "fake")
}

/// Benchmarks cannot return errors: stop with the message.
fn must<T, E: Display>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

fn defaults() -> Defaults {
    Defaults(BTreeMap::from([
        (quota::VOLUMES.to_string(), -1),
        (quota::GIGABYTES.to_string(), -1),
        (quota::PER_VOLUME_GIGABYTES.to_string(), -1),
    ]))
}

/// The API flow's database calls; returns the new volume's id.
fn create_api(db: &Db, defaults: &Defaults) -> Result<String, db::DbError> {
    let vtype = db
        .run_blocking(|c| db::types::resolve(c, "__DEFAULT__", None))?
        .ok_or_else(|| db::DbError::not_found(db::Resource::VolumeTypeName, "__DEFAULT__"))?;
    let reservations = db.run_blocking(|c| {
        quotas::limit_check(c, PROJECT, quota::PER_VOLUME_GIGABYTES, 1, defaults)?;
        quotas::reserve(
            c,
            PROJECT,
            &[(quota::VOLUMES, 1), (quota::GIGABYTES, 1)],
            86_400,
            defaults,
        )
    })?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = db::now();
    let row = VolumeRow {
        id: id.clone(),
        project_id: PROJECT.into(),
        user_id: "admin".into(),
        display_name: Some("bench".into()),
        display_description: None,
        size: 1,
        status: VolumeStatus::Creating,
        attach_status: AttachStatus::Detached,
        availability_zone: "nova".into(),
        volume_type_id: vtype.row.id.clone(),
        host: None,
        bootable: false,
        multiattach: false,
        snapshot_id: None,
        source_volid: None,
        provider_location: None,
        request_spec: spec(),
        request_id: "req-bench".into(),
        created_at: now,
        updated_at: None,
        scheduled_at: None,
        launched_at: None,
        previous_status: None,
    };
    db.run_blocking(|c| db::volumes::insert(c, &row, &BTreeMap::new()))?;
    db.run_blocking(|c| quotas::commit(c, &reservations))?;
    Ok(id)
}

/// The spec the API flow stores for a 1 GiB volume.
fn spec() -> RequestSpec {
    RequestSpec {
        size_gb: 1,
        availability_zones: vec!["nova".into()],
        volume_type_id: "x".into(),
        ..RequestSpec::default()
    }
}

/// The scheduler's and the node's calls after the API flow.
fn create_rest(db: &Db, id: &str) -> Result<(), db::DbError> {
    let mut placed = spec();
    placed.tried_nodes.push("bench".into());
    db.run_blocking(|c| db::volumes::set_scheduled(c, id, &host(), &placed))?;
    db.run_blocking(|c| db::volumes::get(c, id, None))?;
    db.run_blocking(|c| db::volumes::mark_created(c, id, &host(), None))
}

fn bench_db(c: &mut Criterion) {
    let dir = must(tempfile::tempdir());
    let url = dir.path().join("bench.db");
    let pool = must(db::connect(&url.to_string_lossy(), 8));
    let db = Db::new(pool);
    must(db.run_blocking(db::migrate));
    let defaults = defaults();
    c.bench_function("db/create_api", |b| {
        b.iter(|| must(create_api(&db, &defaults)))
    });
    c.bench_function("db/create_full", |b| {
        b.iter(|| {
            let id = must(create_api(&db, &defaults));
            must(create_rest(&db, &id))
        })
    });
}

criterion_group!(benches, bench_db);
criterion_main!(benches);

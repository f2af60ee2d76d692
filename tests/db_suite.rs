//! The database suite: every check runs on SQLite and on PostgreSQL.
//!
//! Each suite is written once, as `fn suite(c: &mut DbConnection)` (or over a whole
//! [`TestDb`] when it needs migrations undone or several connections), and
//! `on_both_backends!` turns it into a `_sqlite` and a `_postgres` test.

mod common_db;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Barrier;

use chrono::NaiveDateTime;
use clinker::db::rows::{AttachmentRow, FlowRunRow, MessageRow, VolumeRow, VolumeTypeRow};
use clinker::db::schema;
use clinker::db::volumes::{ListQuery, SortKey};
use clinker::db::{
    DbConnection, DbError, MIGRATIONS, attachments, messages, migrate, quotas, timeline, types,
    volumes, write_txn,
};
use clinker::model::host::InvalidHost;
use clinker::model::quota::{GIGABYTES, PER_VOLUME_GIGABYTES, VOLUMES};
use clinker::model::spec::RequestSpec;
use clinker::model::{AttachStatus, Host, VolumeStatus};
use common_db::{DEFAULT_TYPE_ID, TestDb, TestResult, at, must_fail, volume};
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;

// ---------------------------------------------------------------- migrations

on_both_backends!(db migrations => migrations_sqlite, migrations_postgres);

/// Up twice (the second applies nothing), down, up again; the seeded type survives and
/// every table reads back every column of schema.rs.
fn migrations(db: &TestDb) -> TestResult {
    let mut c = db.conn()?;
    let applied = migrate(&mut c)?;
    assert!(applied > 0, "a fresh database applies every migration");
    assert_eq!(migrate(&mut c)?, 0, "the second run applies nothing");

    let reverted = c.revert_all_migrations(MIGRATIONS)?;
    assert_eq!(reverted.len(), applied, "down reverts every migration");
    assert!(
        types::resolve(&mut c, "__DEFAULT__", None).is_err(),
        "after down the tables are gone"
    );
    let reapplied = c.run_pending_migrations(MIGRATIONS)?;
    assert_eq!(reapplied.len(), applied, "up again applies every migration");
    assert_eq!(migrate(&mut c)?, 0);

    let by_name = types::resolve(&mut c, "__DEFAULT__", None)?.ok_or("no __DEFAULT__ type")?;
    assert_eq!(by_name.row.id, DEFAULT_TYPE_ID);
    assert!(by_name.row.is_public);
    let by_id = types::resolve(&mut c, DEFAULT_TYPE_ID, None)?.ok_or("type not found by id")?;
    assert_eq!(by_id, by_name);
    assert_eq!(types::resolve(&mut c, "no-such-type", None)?, None);

    every_column_reads_back(&mut c)
}

/// diesel orders and records migrations by the version before the name's first `_`: two
/// folders with one version run in an undefined order and the second is taken as done
/// (two branches once both chose 2026-12-07-070000, and the groups table lost its types).
#[test]
fn every_migration_has_its_own_version() -> TestResult {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let version = name.split('_').next().unwrap_or_default().to_string();
        assert!(
            seen.insert(version),
            "{name} shares its version with another migration"
        );
    }
    assert!(seen.len() > 1);
    Ok(())
}

/// schema.rs is written by hand to match the migrations: read every column of every
/// table, so a type or nullability mismatch on either backend fails here.
fn every_column_reads_back(c: &mut DbConnection) -> TestResult {
    use schema::{
        quota_classes, quota_usages, reservations, volume_type_extra_specs, volume_types,
    };
    let t = at(0, 250)?;
    diesel::insert_into(volume_type_extra_specs::table)
        .values((
            volume_type_extra_specs::volume_type_id.eq(DEFAULT_TYPE_ID),
            volume_type_extra_specs::spec_key.eq("volume_backend_name"),
            volume_type_extra_specs::spec_value.eq("file"),
        ))
        .execute(c)?;
    set_limit(c, "p", VOLUMES, 7)?;
    diesel::insert_into(quota_classes::table)
        .values((
            quota_classes::class_name.eq("default"),
            quota_classes::resource.eq(VOLUMES),
            quota_classes::hard_limit.eq(-1),
        ))
        .execute(c)?;
    diesel::insert_into(quota_usages::table)
        .values((
            quota_usages::project_id.eq("p"),
            quota_usages::resource.eq(VOLUMES),
            quota_usages::in_use.eq(1),
            quota_usages::reserved.eq(2),
            quota_usages::updated_at.eq(Some(t)),
        ))
        .execute(c)?;
    diesel::insert_into(reservations::table)
        .values((
            reservations::id.eq("r"),
            reservations::project_id.eq("p"),
            reservations::resource.eq(VOLUMES),
            reservations::delta.eq(3),
            reservations::expire.eq(t),
            reservations::created_at.eq(t),
            reservations::instance_id.eq("i"),
        ))
        .execute(c)?;

    let specs: Vec<(String, String, String)> = volume_type_extra_specs::table
        .select(volume_type_extra_specs::all_columns)
        .load(c)?;
    assert_eq!(specs.len(), 1);
    let types: Vec<VolumeTypeRow> = volume_types::table
        .select(VolumeTypeRow::as_select())
        .load(c)?;
    assert_eq!(types.len(), 1);
    let q: Vec<(String, String, i64)> = schema::quotas::table
        .select(schema::quotas::all_columns)
        .load(c)?;
    assert_eq!(q, vec![("p".into(), VOLUMES.into(), 7)]);
    let qc: Vec<(String, String, i64)> = quota_classes::table
        .select(quota_classes::all_columns)
        .load(c)?;
    assert_eq!(qc, vec![("default".into(), VOLUMES.into(), -1)]);
    let qu: Vec<(String, String, i64, i64, Option<NaiveDateTime>)> = quota_usages::table
        .select(quota_usages::all_columns)
        .load(c)?;
    assert_eq!(qu, vec![("p".into(), VOLUMES.into(), 1, 2, Some(t))]);
    type Reservation = (
        String,
        String,
        String,
        i64,
        NaiveDateTime,
        NaiveDateTime,
        String,
    );
    let r: Vec<Reservation> = reservations::table
        .select(reservations::all_columns)
        .load(c)?;
    assert_eq!(
        r,
        vec![("r".into(), "p".into(), VOLUMES.into(), 3, t, t, "i".into())]
    );
    // volumes, volume_metadata, flow_runs and messages are read through their row types
    // by the suites below.
    Ok(())
}

// ---------------------------------------------------------------- volumes

on_both_backends!(conn unknown_status_fails_the_read => unknown_status_sqlite, unknown_status_postgres);

/// A status the enum does not know (written by another version, or by hand) fails the
/// read with the value in the error, instead of panicking or being guessed; the same
/// TEXT is what the typed column writes.
fn unknown_status_fails_the_read(c: &mut DbConnection) -> TestResult {
    let row = volume("p1", None, 1, VolumeStatus::InUse, at(0, 0)?);
    volumes::insert(c, &row, &BTreeMap::new())?;
    let stored: String = schema::volumes::table
        .filter(schema::volumes::id.eq(&row.id))
        .select(schema::volumes::status)
        .get_result(c)?;
    assert_eq!(stored, "in-use");
    diesel::update(schema::volumes::table.filter(schema::volumes::id.eq(&row.id)))
        .set(schema::volumes::status.eq("in_use_typo"))
        .execute(c)?;
    let e = must_fail(volumes::get(c, &row.id, None), "read of an unknown status")?;
    assert!(matches!(e, DbError::Corrupt(_)), "{e:?}");
    assert!(e.to_string().contains("in_use_typo"), "{e}");
    Ok(())
}

on_both_backends!(conn volumes_crud => volumes_crud_sqlite, volumes_crud_postgres);

fn volumes_crud(c: &mut DbConnection) -> TestResult {
    let mut row = volume("p1", Some("alpha"), 10, VolumeStatus::Creating, at(0, 0)?);
    row.display_description = Some("first".into());
    row.bootable = true;
    let meta = BTreeMap::from([("a".to_string(), "1".to_string()), ("b".into(), "2".into())]);
    volumes::insert(c, &row, &meta)?;

    let got = volumes::get(c, &row.id, None)?;
    assert_eq!(got.row, row);
    assert_eq!(got.metadata, meta);
    assert_eq!(got.type_name, "__DEFAULT__");
    assert_eq!(got.row.status, VolumeStatus::Creating);
    assert_eq!(volumes::get(c, &row.id, Some(&"p1".into()))?.row.id, row.id);
    let other = must_fail(
        volumes::get(c, &row.id, Some(&"p2".into())),
        "get from another project",
    )?;
    assert!(
        matches!(other, DbError::NotFound { .. }),
        "another project's volume: {other:?}"
    );
    let missing = must_fail(volumes::get(c, "no-such-id", None), "get unknown id")?;
    assert!(
        matches!(missing, DbError::NotFound { .. }),
        "unknown id: {missing:?}"
    );
    let dup = volumes::insert(c, &row, &BTreeMap::new());
    assert!(dup.is_err(), "a second insert with the same id fails");

    let new_meta = BTreeMap::from([("c".to_string(), "3".to_string())]);
    volumes::update_fields(
        c,
        &row.id,
        Some(Some("renamed".into())),
        Some(Some("second".into())),
        Some(new_meta.clone()),
    )?;
    let got = volumes::get(c, &row.id, None)?;
    assert_eq!(got.row.display_name.as_deref(), Some("renamed"));
    assert_eq!(got.row.display_description.as_deref(), Some("second"));
    assert_eq!(got.metadata, new_meta, "metadata is replaced, not merged");
    assert!(got.row.updated_at.is_some());
    // None leaves a field alone; Some(None) clears it.
    volumes::update_fields(c, &row.id, Some(None), None, None)?;
    let got = volumes::get(c, &row.id, None)?;
    assert_eq!(got.row.display_name, None);
    assert_eq!(got.row.display_description.as_deref(), Some("second"));
    assert_eq!(got.metadata, new_meta);
    volumes::update_fields(c, &row.id, None, None, Some(BTreeMap::new()))?;
    assert!(volumes::get(c, &row.id, None)?.metadata.is_empty());
    let e = must_fail(
        volumes::update_fields(c, "no-such-id", None, None, None),
        "update",
    )?;
    assert!(
        matches!(e, DbError::NotFound { .. }),
        "update unknown id: {e:?}"
    );

    // Compare-and-set: the right from-state moves it, a wrong one changes nothing.
    volumes::transition(
        c,
        &row.id,
        &[VolumeStatus::Creating],
        VolumeStatus::Available,
    )?;
    let before = volumes::get(c, &row.id, None)?;
    assert_eq!(before.row.status, VolumeStatus::Available);
    let e = must_fail(
        volumes::transition(
            c,
            &row.id,
            &[VolumeStatus::Creating, VolumeStatus::Error],
            VolumeStatus::Deleting,
        ),
        "transition from the wrong state",
    )?;
    assert!(matches!(e, DbError::Conflict), "wrong from-state: {e:?}");
    assert_eq!(
        volumes::get(c, &row.id, None)?,
        before,
        "a refused transition changes nothing"
    );
    let e = must_fail(
        volumes::transition(
            c,
            "no-such-id",
            &[VolumeStatus::Available],
            VolumeStatus::Deleting,
        ),
        "transition unknown id",
    )?;
    assert!(matches!(e, DbError::Conflict), "unknown id: {e:?}");
    volumes::transition(c, &row.id, VolumeStatus::DELETABLE, VolumeStatus::Deleting)?;
    assert_eq!(
        volumes::get(c, &row.id, None)?.row.status,
        VolumeStatus::Deleting
    );
    Ok(())
}

on_both_backends!(conn volumes_scheduling => volumes_scheduling_sqlite, volumes_scheduling_postgres);

fn volumes_scheduling(c: &mut DbConnection) -> TestResult {
    let row = volume("p1", Some("alpha"), 10, VolumeStatus::Creating, at(0, 0)?);
    volumes::insert(c, &row, &BTreeMap::new())?;
    let conflict = |r: Result<(), DbError>, what: &str| -> TestResult {
        let e = must_fail(r, what)?;
        assert!(matches!(e, DbError::Conflict), "{what}: {e:?}");
        Ok(())
    };

    assert_eq!(ids(&volumes::unscheduled(c)?), vec![row.id.clone()]);
    let tried = RequestSpec {
        tried_nodes: vec!["n1".into()],
        ..RequestSpec::default()
    };
    volumes::set_scheduled(c, &row.id, &host("n1@file#p1")?, &tried)?;
    let got = volumes::get(c, &row.id, None)?.row;
    assert_eq!(got.host.as_ref().map(Host::as_str), Some("n1@file#p1"));
    assert_eq!(got.request_spec, tried);
    assert_spec_text_round_trips(c, &row.id, &tried)?;
    assert!(got.scheduled_at.is_some());
    assert!(volumes::unscheduled(c)?.is_empty());
    conflict(
        volumes::set_scheduled(c, &row.id, &host("n2@file#p1")?, &RequestSpec::default()),
        "schedule twice",
    )?;
    assert_eq!(
        volumes::get(c, &row.id, None)?.row,
        got,
        "a refused schedule changes nothing"
    );

    conflict(
        volumes::unschedule(c, &row.id, &host("n2@file#p1")?),
        "unschedule from the wrong host",
    )?;
    volumes::unschedule(c, &row.id, &host("n1@file#p1")?)?;
    let got = volumes::get(c, &row.id, None)?;
    assert_eq!(got.row.host, None);
    assert_eq!(got.row.status, VolumeStatus::Creating);
    assert_eq!(ids(&volumes::unscheduled(c)?), vec![row.id.clone()]);

    volumes::set_scheduled(c, &row.id, &host("n2@file#p1")?, &RequestSpec::default())?;
    conflict(
        volumes::mark_created(c, &row.id, &host("n1@file#p1")?, None),
        "created on the wrong host",
    )?;
    volumes::mark_created(c, &row.id, &host("n2@file#p1")?, Some("/data/volume-x"))?;
    let got = volumes::get(c, &row.id, None)?.row;
    assert_eq!(got.status, VolumeStatus::Available.as_str());
    assert_eq!(got.provider_location.as_deref(), Some("/data/volume-x"));
    assert!(got.launched_at.is_some());
    conflict(
        volumes::mark_created(c, &row.id, &host("n2@file#p1")?, None),
        "created twice",
    )?;
    conflict(
        volumes::unschedule(c, &row.id, &host("n2@file#p1")?),
        "unschedule an available volume",
    )?;

    // Only creating + no host can be scheduled.
    let avail = volume("p1", None, 1, VolumeStatus::Available, at(1, 0)?);
    volumes::insert(c, &avail, &BTreeMap::new())?;
    conflict(
        volumes::set_scheduled(c, &avail.id, &host("n1@file#p1")?, &RequestSpec::default()),
        "schedule an available volume",
    )?;
    assert_eq!(volumes::get(c, &avail.id, None)?.row.host, None);
    let failed = RequestSpec {
        size_gb: 1,
        extra_specs: BTreeMap::from([("volume_backend_name".into(), "file".into())]),
        tried_nodes: vec!["n1".into()],
        failures: vec!["n1: disk full".into()],
        copy_source: Some(("v".into(), 1)),
        ..RequestSpec::default()
    };
    volumes::set_request_spec(c, &avail.id, &failed)?;
    assert_eq!(volumes::get(c, &avail.id, None)?.row.request_spec, failed);
    assert_spec_text_round_trips(c, &avail.id, &failed)
}

/// The column holds the spec's JSON text, and that text read back and written again is
/// byte-identical, so a read-modify-write by a node never rewrites a spec it left alone.
fn assert_spec_text_round_trips(c: &mut DbConnection, id: &str, spec: &RequestSpec) -> TestResult {
    let stored: String = schema::volumes::table
        .filter(schema::volumes::id.eq(id))
        .select(schema::volumes::request_spec)
        .get_result(c)?;
    assert_eq!(stored, serde_json::to_string(spec)?);
    let reread: RequestSpec = serde_json::from_str(&stored)?;
    assert_eq!(serde_json::to_string(&reread)?, stored);
    Ok(())
}

on_both_backends!(conn unparsable_host_fails_the_read => unparsable_host_sqlite, unparsable_host_postgres);

/// A host that is not `node@backend#pool` fails the read as `Corrupt`, naming it; a
/// parsed host is stored as the same text.
fn unparsable_host_fails_the_read(c: &mut DbConnection) -> TestResult {
    let mut row = volume("p1", None, 1, VolumeStatus::Available, at(0, 0)?);
    row.host = Some(host("n1@file#pool#0")?);
    volumes::insert(c, &row, &BTreeMap::new())?;
    let stored: Option<String> = schema::volumes::table
        .filter(schema::volumes::id.eq(&row.id))
        .select(schema::volumes::host)
        .get_result(c)?;
    assert_eq!(stored.as_deref(), Some("n1@file#pool#0"));
    diesel::update(schema::volumes::table.filter(schema::volumes::id.eq(&row.id)))
        .set(schema::volumes::host.eq("n1-without-pool"))
        .execute(c)?;
    let e = must_fail(volumes::get(c, &row.id, None), "read of an unparsable host")?;
    assert!(matches!(e, DbError::Corrupt(_)), "{e:?}");
    assert!(e.to_string().contains("n1-without-pool"), "{e}");
    Ok(())
}

on_both_backends!(conn unreadable_spec_fails_the_read => unreadable_spec_sqlite, unreadable_spec_postgres);

/// A spec that is not a `RequestSpec` (written by hand, or by a version with other
/// fields required) fails the read as `Corrupt`, naming the text, like a status would.
fn unreadable_spec_fails_the_read(c: &mut DbConnection) -> TestResult {
    let row = volume("p1", None, 1, VolumeStatus::Creating, at(0, 0)?);
    volumes::insert(c, &row, &BTreeMap::new())?;
    diesel::update(schema::volumes::table.filter(schema::volumes::id.eq(&row.id)))
        .set(schema::volumes::request_spec.eq(r#"{"x":1}"#))
        .execute(c)?;
    let e = must_fail(volumes::get(c, &row.id, None), "read of an unreadable spec")?;
    assert!(matches!(e, DbError::Corrupt(_)), "{e:?}");
    assert!(e.to_string().contains(r#"{"x":1}"#), "{e}");
    Ok(())
}

on_both_backends!(conn unknown_attach_status_settles_nothing => unknown_attach_status_sqlite, unknown_attach_status_postgres);

/// An attachment state no `AttachStatus` spells is not skipped as an error: settling the
/// volume fails as `Corrupt`, naming it, and leaves the volume `in-use` (skipping it
/// would make a volume with no other attachment `available`).
fn unknown_attach_status_settles_nothing(c: &mut DbConnection) -> TestResult {
    let mut row = volume("p1", None, 1, VolumeStatus::InUse, at(0, 0)?);
    row.attach_status = AttachStatus::Attached;
    volumes::insert(c, &row, &BTreeMap::new())?;
    let attachment = AttachmentRow {
        id: uuid::Uuid::new_v4().to_string(),
        volume_id: row.id.clone(),
        project_id: row.project_id.clone(),
        instance_uuid: None,
        attached_host: None,
        mountpoint: None,
        attach_status: AttachStatus::Attached,
        attach_mode: Some("rw".into()),
        connection_info: None,
        connector: None,
        attach_time: None,
        detach_time: None,
        created_at: at(1, 0)?,
        updated_at: None,
    };
    attachments::insert(c, &attachment)?;
    diesel::update(
        schema::volume_attachment::table.filter(schema::volume_attachment::id.eq(&attachment.id)),
    )
    .set(schema::volume_attachment::attach_status.eq("error_exporting"))
    .execute(c)?;
    let e = must_fail(
        attachments::derive_volume_status(c, &row.id),
        "settle with an unknown attach status",
    )?;
    assert!(matches!(e, DbError::Corrupt(_)), "{e:?}");
    assert!(e.to_string().contains("error_exporting"), "{e}");
    // Read the row's own columns: `volumes::get` also loads the attachments, whose
    // unknown status is (rightly) a read error too.
    let got: (VolumeStatus, AttachStatus) = schema::volumes::table
        .filter(schema::volumes::id.eq(&row.id))
        .select((schema::volumes::status, schema::volumes::attach_status))
        .get_result(c)?;
    assert_eq!(got, (VolumeStatus::InUse, AttachStatus::Attached));
    Ok(())
}

on_both_backends!(conn volumes_by_host => volumes_by_host_sqlite, volumes_by_host_postgres);

/// A host spelled out in a test.
fn host(s: &str) -> Result<Host, InvalidHost> {
    s.parse()
}

/// [`volumes::allocated_by_host`] with the hosts spelled out.
fn allocated_by_host(c: &mut DbConnection, node: &str) -> Result<Vec<(String, i64)>, DbError> {
    Ok(volumes::allocated_by_host(c, node)?
        .into_iter()
        .map(|(h, gb)| (h.to_string(), gb))
        .collect())
}

fn volumes_by_host(c: &mut DbConnection) -> TestResult {
    use VolumeStatus::*;
    let mut placed = Vec::new();
    for (host, size, status) in [
        (Some("n1@file#a"), 10, Available),
        (Some("n1@file#a"), 5, Creating),
        (Some("n1@file#b"), 7, Deleting),
        (Some("n1@lvm#a"), 1, InUse),
        (Some("n10@file#a"), 100, Creating),
        (Some("n2@file#a"), 1000, Deleting),
        (None, 3, Creating),
        (None, 4, Deleting),
        (None, 6, Error),
    ] {
        let mut row = volume("p1", None, size, status, at(placed.len() as i64, 0)?);
        row.host = host.map(str::parse::<Host>).transpose()?;
        volumes::insert(c, &row, &BTreeMap::new())?;
        placed.push(row);
    }
    assert_eq!(
        allocated_by_host(c, "n1")?,
        vec![
            ("n1@file#a".to_string(), 15),
            ("n1@file#b".to_string(), 7),
            ("n1@lvm#a".to_string(), 1),
        ],
        "n10 is not n1, and hosts are summed separately"
    );
    assert!(allocated_by_host(c, "n3")?.is_empty());

    let unfinished: BTreeSet<String> = ids(&volumes::unfinished_on_node(c, "n1")?)
        .into_iter()
        .collect();
    assert_eq!(
        unfinished,
        BTreeSet::from([placed[1].id.clone(), placed[2].id.clone()])
    );
    assert_eq!(
        ids(&volumes::unfinished_on_node(c, "n10")?),
        vec![placed[4].id.clone()]
    );
    assert_eq!(ids(&volumes::unscheduled(c)?), vec![placed[6].id.clone()]);
    assert_eq!(
        volumes::deleting_without_host(c)?,
        vec![placed[7].id.clone()]
    );
    Ok(())
}

on_both_backends!(conn volumes_delete => volumes_delete_sqlite, volumes_delete_postgres);

fn volumes_delete(c: &mut DbConnection) -> TestResult {
    let d = quotas::Defaults::default();
    let ids_ = quotas::reserve(c, "p1", &[(VOLUMES, 2), (GIGABYTES, 15)], 60, &d)?;
    quotas::commit(c, &ids_)?;
    let meta = BTreeMap::from([("k".to_string(), "v".to_string())]);
    let a = volume("p1", Some("alpha"), 10, VolumeStatus::Available, at(0, 0)?);
    let b = volume("p1", Some("bravo"), 5, VolumeStatus::Available, at(1, 0)?);
    volumes::insert(c, &a, &meta)?;
    volumes::insert(c, &b, &meta)?;

    assert!(volumes::destroy_and_release(c, &a.id)?);
    let e = must_fail(volumes::get(c, &a.id, None), "get a destroyed volume")?;
    assert!(matches!(e, DbError::NotFound { .. }), "{e:?}");
    assert_eq!(metadata_rows(c, &a.id)?, 0, "metadata goes with the volume");
    assert_eq!(
        in_use(c, "p1")?,
        (1, 5),
        "one volume and its 10 GiB are released"
    );
    assert!(
        !volumes::destroy_and_release(c, &a.id)?,
        "the second destroy finds nothing"
    );
    assert_eq!(in_use(c, "p1")?, (1, 5), "and releases nothing");

    volumes::delete_uncommitted(c, &b.id)?;
    let e = must_fail(volumes::get(c, &b.id, None), "get a deleted volume")?;
    assert!(matches!(e, DbError::NotFound { .. }), "{e:?}");
    assert_eq!(metadata_rows(c, &b.id)?, 0);
    assert_eq!(
        in_use(c, "p1")?,
        (1, 5),
        "an uncommitted create has no usage to give back"
    );
    volumes::delete_uncommitted(c, &b.id)?;
    Ok(())
}

fn metadata_rows(c: &mut DbConnection, id: &str) -> TestResult<i64> {
    use schema::volume_metadata as m;
    Ok(m::table.filter(m::volume_id.eq(id)).count().get_result(c)?)
}

fn ids(rows: &[VolumeRow]) -> Vec<String> {
    rows.iter().map(|r| r.id.clone()).collect()
}

fn record_ids(recs: &[volumes::VolumeRecord]) -> Vec<String> {
    recs.iter().map(|r| r.row.id.clone()).collect()
}

fn list_ids(c: &mut DbConnection, lq: &ListQuery) -> TestResult<Vec<String>> {
    Ok(record_ids(&volumes::list(c, lq)?))
}

on_both_backends!(conn volumes_list_filters => volumes_list_filters_sqlite, volumes_list_filters_postgres);

const P1: Option<&str> = Some("p1");

/// A volume to list: (project, name, size, status, metadata).
type Spec<'a> = (
    &'a str,
    Option<&'a str>,
    i64,
    VolumeStatus,
    &'a [(&'a str, &'a str)],
);

fn volumes_list_filters(c: &mut DbConnection) -> TestResult {
    use VolumeStatus::*;
    // created_at grows with the index.
    let spec: [Spec; 7] = [
        (
            "p1",
            Some("alpha"),
            10,
            Available,
            &[("tier", "gold"), ("env", "prod")],
        ),
        ("p1", Some("bravo"), 20, Available, &[("tier", "gold")]),
        (
            "p1",
            Some("alpha"),
            5,
            Error,
            &[("tier", "silver"), ("env", "prod")],
        ),
        ("p1", None, 20, Creating, &[]),
        ("p1", Some("charlie"), 1, Available, &[("env", "prod")]),
        (
            "p2",
            Some("alpha"),
            10,
            Available,
            &[("tier", "gold"), ("env", "prod")],
        ),
        ("p2", Some("delta"), 3, InUse, &[]),
    ];
    let mut rows = Vec::new();
    for (i, (project, name, size, status, meta)) in spec.iter().enumerate() {
        let mut row = volume(project, *name, *size, *status, at(i as i64 * 10, 0)?);
        row.bootable = i % 2 == 0;
        let meta = meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        volumes::insert(c, &row, &meta)?;
        rows.push(row);
    }
    let ids_of =
        |idx: &[usize]| -> Vec<String> { idx.iter().map(|&i| rows[i].id.clone()).collect() };
    // (what, project, change to the query, the indexes expected in order)
    type Edit = fn(&mut ListQuery);
    let checks: &[(&str, Option<&str>, Edit, &[usize])] = &[
        (
            "default sort is created_at desc",
            P1,
            |_| {},
            &[4, 3, 2, 1, 0],
        ),
        (
            "no project: every project",
            None,
            |_| {},
            &[6, 5, 4, 3, 2, 1, 0],
        ),
        ("unknown project", Some("p3"), |_| {}, &[]),
        ("name", P1, |q| q.name = Some("alpha".into()), &[2, 0]),
        (
            "name, every project",
            None,
            |q| q.name = Some("alpha".into()),
            &[5, 2, 0],
        ),
        (
            "status",
            P1,
            |q| q.status = Some("available".into()),
            &[4, 1, 0],
        ),
        ("size", P1, |q| q.size = Some(20), &[3, 1]),
        ("bootable", P1, |q| q.bootable = Some(true), &[4, 2, 0]),
        (
            "zone",
            None,
            |q| q.availability_zone = Some("elsewhere".into()),
            &[],
        ),
        (
            "one metadata pair",
            P1,
            |q| q.metadata = meta(&[("tier", "gold")]),
            &[1, 0],
        ),
        (
            "two metadata pairs",
            None,
            |q| q.metadata = meta(&[("tier", "gold"), ("env", "prod")]),
            &[5, 0],
        ),
        (
            "metadata value must match",
            None,
            |q| q.metadata = meta(&[("tier", "bronze")]),
            &[],
        ),
        (
            "filters are ANDed",
            P1,
            |q| {
                q.name = Some("alpha".into());
                q.status = Some("available".into())
            },
            &[0],
        ),
        (
            "size desc, name asc (NULL name first)",
            P1,
            |q| q.sort = vec![(SortKey::Size, true), (SortKey::Name, false)],
            &[3, 1, 0, 2, 4],
        ),
    ];
    for &(what, project, edit, want) in checks {
        let mut lq = ListQuery {
            project: project.map(Into::into),
            limit: 1000,
            ..ListQuery::default()
        };
        edit(&mut lq);
        assert_eq!(list_ids(c, &lq)?, ids_of(want), "{what}");
        assert_eq!(volumes::count(c, &lq)?, want.len() as i64, "count: {what}");
    }
    // Name asc: NULL first; the two alphas tie and id breaks the tie.
    let by_name = ListQuery {
        project: P1.map(Into::into),
        sort: vec![(SortKey::Name, false)],
        limit: 1000,
        ..ListQuery::default()
    };
    let mut alphas = ids_of(&[0, 2]);
    alphas.sort();
    assert_eq!(
        list_ids(c, &by_name)?,
        [ids_of(&[3]), alphas, ids_of(&[1, 4])].concat(),
        "name asc"
    );
    let paged = ListQuery {
        offset: 1,
        limit: 2,
        sort: Vec::new(),
        ..by_name
    };
    assert_eq!(list_ids(c, &paged)?, ids_of(&[3, 2]), "offset and limit");
    assert_eq!(
        volumes::count(c, &paged)?,
        5,
        "count ignores offset and limit"
    );

    let bravo = ListQuery {
        name: Some("bravo".into()),
        limit: 10,
        ..ListQuery::default()
    };
    let listed = volumes::list(c, &bravo)?;
    let [one] = listed.as_slice() else {
        return Err(format!("one bravo expected, got {}", listed.len()).into());
    };
    assert_eq!(one.row, rows[1], "list returns whole rows");
    assert_eq!(one.metadata, meta(&[("tier", "gold")]));
    assert_eq!(one.type_name, "__DEFAULT__");
    Ok(())
}

fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

on_both_backends!(conn volumes_pagination => volumes_pagination_sqlite, volumes_pagination_postgres);

/// Walks every page after a marker, for several sort orders over data with NULL names,
/// equal names, equal sizes and equal created_at: each row exactly once, in sort order.
fn volumes_pagination(c: &mut DbConnection) -> TestResult {
    let names = [
        Some("alpha"),
        None,
        Some("bravo"),
        Some("alpha"),
        Some(""),
        None,
        Some("charlie"),
    ];
    let statuses = [
        VolumeStatus::Available,
        VolumeStatus::Error,
        VolumeStatus::Creating,
    ];
    let mut rows = Vec::new();
    for i in 0..23_usize {
        // Groups of three share a created_at to the microsecond; id breaks the tie.
        let mut row = volume(
            "p1",
            names[i % names.len()],
            [1, 2, 2, 5][i % 4],
            statuses[i % statuses.len()],
            at((i / 3) as i64, 7)?,
        );
        row.updated_at = if i % 4 == 0 {
            None
        } else {
            Some(at(100 + (i % 5) as i64, 0)?)
        };
        volumes::insert(c, &row, &BTreeMap::new())?;
        rows.push(row);
    }
    // Another project's rows must never show up in p1's pages.
    let other = volume("p2", Some("alpha"), 2, VolumeStatus::Available, at(3, 7)?);
    volumes::insert(c, &other, &BTreeMap::new())?;

    let sorts: Vec<Vec<(SortKey, bool)>> = vec![
        vec![],
        vec![(SortKey::CreatedAt, false)],
        vec![(SortKey::Name, false)],
        vec![(SortKey::Name, true)],
        vec![(SortKey::Size, true), (SortKey::Name, false)],
        vec![(SortKey::Status, false), (SortKey::CreatedAt, true)],
        vec![(SortKey::UpdatedAt, true)],
        vec![
            (SortKey::Name, false),
            (SortKey::Size, true),
            (SortKey::CreatedAt, false),
        ],
        vec![(SortKey::Id, true)],
        // Every key, mixed directions: the most a request may ask for.
        vec![
            (SortKey::Status, false),
            (SortKey::Size, true),
            (SortKey::Name, false),
            (SortKey::AvailabilityZone, true),
            (SortKey::UpdatedAt, false),
            (SortKey::CreatedAt, true),
            (SortKey::Id, false),
        ],
    ];
    for sort in sorts {
        let want = expected_order(&rows, &sort);
        let lq = ListQuery {
            project: Some("p1".into()),
            sort: sort.clone(),
            limit: 1000,
            ..ListQuery::default()
        };
        assert_eq!(list_ids(c, &lq)?, want, "full list sorted by {sort:?}");
        assert_eq!(volumes::count(c, &lq)?, rows.len() as i64);
        for page in [1, 4, 7] {
            let walked = walk(
                c,
                &ListQuery {
                    limit: page,
                    ..lq.clone()
                },
            )?;
            assert_eq!(walked, want, "pages of {page} sorted by {sort:?}");
        }
    }

    let unknown = ListQuery {
        marker: Some("no-such-id".into()),
        limit: 5,
        ..ListQuery::default()
    };
    let e = must_fail(volumes::list(c, &unknown), "unknown marker")?;
    assert!(
        matches!(e, DbError::NotFound { .. }),
        "unknown marker: {e:?}"
    );
    let foreign = ListQuery {
        project: Some("p1".into()),
        marker: Some(other.id.clone()),
        limit: 5,
        ..ListQuery::default()
    };
    let e = must_fail(volumes::list(c, &foreign), "another project's marker")?;
    assert!(
        matches!(e, DbError::NotFound { .. }),
        "another project's marker: {e:?}"
    );
    Ok(())
}

on_both_backends!(conn sort_cost_is_linear => sort_cost_is_linear_sqlite, sort_cost_is_linear_postgres);

/// The query a list builds grows by the same amount with each sort key, ORDER BY and the
/// keyset condition after a marker alike. The database layer takes duplicate keys (the
/// HTTP layer refuses them), the worst case: 10, 20 and 30 keys with a marker. Before,
/// the chained ORDER BY walked itself 2^n times (30 keys never finished) and the keyset
/// condition repeated every earlier key in each term.
fn sort_cost_is_linear(c: &mut DbConnection) -> TestResult {
    let mut ids = Vec::new();
    for i in 0..3 {
        let row = volume("p1", Some("v"), 1 + i, VolumeStatus::Available, at(i, 0)?);
        volumes::insert(c, &row, &BTreeMap::new())?;
        ids.push(row.id);
    }
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = seen.clone();
    c.set_instrumentation(move |e: diesel::connection::InstrumentationEvent<'_>| {
        if let diesel::connection::InstrumentationEvent::StartQuery { query, .. } = e
            && let Ok(mut s) = sink.lock()
        {
            s.push(query.to_string());
        }
    });
    let mut size_terms = Vec::new();
    for n in [10, 20, 30] {
        let sort: Vec<(SortKey, bool)> = (0..n).map(|i| (SortKey::Size, i % 2 == 0)).collect();
        let lq = ListQuery {
            project: Some("p1".into()),
            sort,
            marker: Some(ids[1].clone()),
            limit: 10,
            ..ListQuery::default()
        };
        if let Ok(mut s) = seen.lock() {
            s.clear();
        }
        volumes::list(c, &lq)?;
        let sql = seen
            .lock()
            .map_err(|_| "poisoned")?
            .iter()
            .find(|q| q.contains("ORDER BY"))
            .cloned()
            .ok_or("no list statement seen")?;
        // The column's name, once per ORDER BY term and per keyset comparison.
        size_terms.push(sql.matches("size").count());
    }
    c.set_instrumentation(|_: diesel::connection::InstrumentationEvent<'_>| {});
    assert_eq!(
        size_terms[2] - size_terms[1],
        size_terms[1] - size_terms[0],
        "each key adds the same to the query: {size_terms:?}"
    );
    assert!(
        size_terms[1] - size_terms[0] <= 10 * 4,
        "at most four mentions per key: {size_terms:?}"
    );
    Ok(())
}

/// Follows markers until an empty page; fails on a page longer than the limit.
fn walk(c: &mut DbConnection, first: &ListQuery) -> TestResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut lq = first.clone();
    loop {
        let page = list_ids(c, &lq)?;
        assert!(page.len() as i64 <= lq.limit);
        let Some(last) = page.last().cloned() else {
            break;
        };
        if out.len() > 1000 {
            return Err("pagination does not end".into());
        }
        out.extend(page);
        lq.marker = Some(last);
    }
    let unique: BTreeSet<&String> = out.iter().collect();
    assert_eq!(
        unique.len(),
        out.len(),
        "a row appears on two pages: {out:?}"
    );
    Ok(out)
}

/// The order `list` promises: the keys given (NULL as the smallest value), then `id` in
/// the first key's direction. Names are lowercase ASCII, so byte order is collation order.
fn expected_order(rows: &[VolumeRow], sort: &[(SortKey, bool)]) -> Vec<String> {
    let mut sort = if sort.is_empty() {
        vec![(SortKey::CreatedAt, true)]
    } else {
        sort.to_vec()
    };
    if !sort.iter().any(|(k, _)| *k == SortKey::Id) {
        let desc = sort.first().is_some_and(|(_, d)| *d);
        sort.push((SortKey::Id, desc));
    }
    let mut sorted: Vec<&VolumeRow> = rows.iter().collect();
    sorted.sort_by(|a, b| {
        sort.iter()
            .map(|&(key, desc)| {
                let o = match key {
                    SortKey::CreatedAt => a.created_at.cmp(&b.created_at),
                    SortKey::UpdatedAt => a
                        .updated_at
                        .unwrap_or_default()
                        .cmp(&b.updated_at.unwrap_or_default()),
                    SortKey::Id => a.id.cmp(&b.id),
                    SortKey::Name => a
                        .display_name
                        .clone()
                        .unwrap_or_default()
                        .cmp(&b.display_name.clone().unwrap_or_default()),
                    SortKey::Status => a.status.as_str().cmp(b.status.as_str()),
                    SortKey::Size => a.size.cmp(&b.size),
                    SortKey::AvailabilityZone => a.availability_zone.cmp(&b.availability_zone),
                };
                if desc { o.reverse() } else { o }
            })
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    sorted.into_iter().map(|r| r.id.clone()).collect()
}

// ---------------------------------------------------------------- quotas

fn defaults(pairs: &[(&str, i64)]) -> quotas::Defaults {
    quotas::Defaults(pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
}

fn usage(c: &mut DbConnection, project: &str, resource: &str) -> TestResult<(i64, i64)> {
    let u = quotas::usage(c, project, &[resource], &quotas::Defaults::default())?;
    let u = u.get(resource).ok_or("no usage returned")?;
    Ok((u.in_use, u.reserved))
}

/// `(volumes, gigabytes)` in use.
fn in_use(c: &mut DbConnection, project: &str) -> TestResult<(i64, i64)> {
    Ok((
        usage(c, project, VOLUMES)?.0,
        usage(c, project, GIGABYTES)?.0,
    ))
}

fn reservation_count(c: &mut DbConnection) -> TestResult<i64> {
    Ok(schema::reservations::table.count().get_result(c)?)
}

fn set_limit(c: &mut DbConnection, project: &str, resource: &str, limit: i64) -> TestResult {
    use schema::quotas as q;
    diesel::insert_into(q::table)
        .values((
            q::project_id.eq(project),
            q::resource.eq(resource),
            q::hard_limit.eq(limit),
        ))
        .execute(c)?;
    Ok(())
}

fn over_quota(e: DbError) -> TestResult<clinker::db::error::QuotaExceeded> {
    match e {
        DbError::OverQuota(q) => Ok(q),
        other => Err(format!("expected OverQuota, got {other:?}").into()),
    }
}

on_both_backends!(conn quotas_reserve_commit_rollback => quotas_reserve_commit_rollback_sqlite, quotas_reserve_commit_rollback_postgres);

fn quotas_reserve_commit_rollback(c: &mut DbConnection) -> TestResult {
    let d = defaults(&[(VOLUMES, 10), (GIGABYTES, 100)]);
    let ids = quotas::reserve(c, "p1", &[(VOLUMES, 1), (GIGABYTES, 10)], 3600, &d)?;
    assert_eq!(ids.len(), 2);
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        2,
        "ids are distinct"
    );
    assert_eq!(usage(c, "p1", VOLUMES)?, (0, 1));
    assert_eq!(usage(c, "p1", GIGABYTES)?, (0, 10));
    assert_eq!(
        usage(c, "p2", VOLUMES)?,
        (0, 0),
        "other projects are untouched"
    );

    quotas::commit(c, &ids)?;
    assert_eq!(usage(c, "p1", VOLUMES)?, (1, 0));
    assert_eq!(usage(c, "p1", GIGABYTES)?, (10, 0));
    assert_eq!(
        reservation_count(c)?,
        0,
        "a commit consumes its reservations"
    );
    quotas::commit(c, &ids)?;
    quotas::rollback(c, &ids)?;
    assert_eq!(in_use(c, "p1")?, (1, 10), "settling twice changes nothing");

    let ids = quotas::reserve(c, "p1", &[(GIGABYTES, 20), (VOLUMES, 2)], 3600, &d)?;
    assert_eq!(usage(c, "p1", GIGABYTES)?, (10, 20));
    quotas::rollback(c, &ids)?;
    assert_eq!(usage(c, "p1", VOLUMES)?, (1, 0));
    assert_eq!(usage(c, "p1", GIGABYTES)?, (10, 0));
    assert_eq!(reservation_count(c)?, 0);

    quotas::release(c, "p1", &[(VOLUMES, 1), (GIGABYTES, 4)])?;
    assert_eq!(in_use(c, "p1")?, (0, 6));
    quotas::release(c, "p1", &[(VOLUMES, 1), (GIGABYTES, 50)])?;
    let (v, g) = in_use(c, "p1")?;
    assert!(v >= 0 && g >= 0, "release never goes below 0: ({v}, {g})");
    quotas::release(c, "p9", &[(VOLUMES, 1)])?;
    assert_eq!(
        usage(c, "p9", VOLUMES)?,
        (0, 0),
        "releasing with no usage row is a no-op"
    );
    Ok(())
}

on_both_backends!(conn quotas_over_limit => quotas_over_limit_sqlite, quotas_over_limit_postgres);

fn quotas_over_limit(c: &mut DbConnection) -> TestResult {
    let d = defaults(&[(VOLUMES, 10), (GIGABYTES, 100)]);
    set_limit(c, "p1", VOLUMES, 3)?;
    let first = quotas::reserve(c, "p1", &[(VOLUMES, 2), (GIGABYTES, 10)], 3600, &d)?;
    quotas::commit(c, &first)?;
    quotas::reserve(c, "p1", &[(VOLUMES, 1), (GIGABYTES, 10)], 3600, &d)?;
    let reservations = reservation_count(c)?;

    // gigabytes (updated first: resources go in name order) fits, volumes does not: the
    // whole reservation fails and gigabytes is not reserved either.
    let e = must_fail(
        quotas::reserve(c, "p1", &[(VOLUMES, 1), (GIGABYTES, 5)], 3600, &d),
        "reserve past the volumes limit",
    )?;
    let q = over_quota(e)?;
    assert_eq!(
        (
            q.resource.as_str(),
            q.limit,
            q.in_use,
            q.reserved,
            q.requested
        ),
        (VOLUMES, 3, 2, 1, 1)
    );
    assert_eq!(usage(c, "p1", VOLUMES)?, (2, 1));
    assert_eq!(usage(c, "p1", GIGABYTES)?, (10, 10), "all or nothing");
    assert_eq!(reservation_count(c)?, reservations);

    let e = must_fail(
        quotas::reserve(c, "p1", &[(GIGABYTES, 81)], 3600, &d),
        "reserve past gigabytes",
    )?;
    let q = over_quota(e)?;
    assert_eq!(
        (
            q.resource.as_str(),
            q.limit,
            q.in_use,
            q.reserved,
            q.requested
        ),
        (GIGABYTES, 100, 10, 10, 81)
    );
    quotas::reserve(c, "p1", &[(GIGABYTES, 80)], 3600, &d)?;
    assert_eq!(
        usage(c, "p1", GIGABYTES)?,
        (10, 90),
        "exactly the limit fits"
    );

    set_limit(c, "p2", VOLUMES, 0)?;
    let q = over_quota(must_fail(
        quotas::reserve(c, "p2", &[(VOLUMES, 1)], 60, &d),
        "limit 0",
    )?)?;
    assert_eq!((q.limit, q.in_use, q.reserved, q.requested), (0, 0, 0, 1));
    Ok(())
}

on_both_backends!(conn quotas_limits => quotas_limits_sqlite, quotas_limits_postgres);

fn quotas_limits(c: &mut DbConnection) -> TestResult {
    let d = defaults(&[(VOLUMES, 10), (PER_VOLUME_GIGABYTES, 50)]);
    assert_eq!(
        quotas::limit(c, "p1", VOLUMES, &d)?,
        10,
        "the config's default"
    );
    assert_eq!(
        quotas::limit(c, "p1", GIGABYTES, &d)?,
        -1,
        "nothing anywhere: unlimited"
    );
    diesel::insert_into(schema::quota_classes::table)
        .values((
            schema::quota_classes::class_name.eq("default"),
            schema::quota_classes::resource.eq(VOLUMES),
            schema::quota_classes::hard_limit.eq(20),
        ))
        .execute(c)?;
    diesel::insert_into(schema::quota_classes::table)
        .values((
            schema::quota_classes::class_name.eq("gold"),
            schema::quota_classes::resource.eq(GIGABYTES),
            schema::quota_classes::hard_limit.eq(5),
        ))
        .execute(c)?;
    assert_eq!(
        quotas::limit(c, "p1", VOLUMES, &d)?,
        20,
        "the default class beats the config"
    );
    assert_eq!(
        quotas::limit(c, "p1", GIGABYTES, &d)?,
        -1,
        "only the 'default' class counts"
    );
    set_limit(c, "p1", VOLUMES, 30)?;
    assert_eq!(
        quotas::limit(c, "p1", VOLUMES, &d)?,
        30,
        "the project's row beats the class"
    );
    assert_eq!(
        quotas::limit(c, "p2", VOLUMES, &d)?,
        20,
        "another project keeps the class"
    );

    // -1 is unlimited wherever it comes from.
    set_limit(c, "p1", GIGABYTES, -1)?;
    let huge = quotas::reserve(c, "p1", &[(GIGABYTES, 1_000_000)], 60, &d)?;
    assert_eq!(huge.len(), 1);
    let u = quotas::usage(c, "p1", &[VOLUMES, GIGABYTES], &d)?;
    assert_eq!(
        u.get(GIGABYTES).map(|u| (u.limit, u.in_use, u.reserved)),
        Some((-1, 0, 1_000_000))
    );
    assert_eq!(
        u.get(VOLUMES).map(|u| (u.limit, u.in_use, u.reserved)),
        Some((30, 0, 0))
    );

    quotas::limit_check(c, "p1", PER_VOLUME_GIGABYTES, 50, &d)?;
    let e = must_fail(
        quotas::limit_check(c, "p1", PER_VOLUME_GIGABYTES, 51, &d),
        "51 GiB > 50",
    )?;
    let q = over_quota(e)?;
    assert_eq!(
        (q.resource.as_str(), q.limit, q.requested),
        (PER_VOLUME_GIGABYTES, 50, 51)
    );
    set_limit(c, "p2", PER_VOLUME_GIGABYTES, -1)?;
    quotas::limit_check(c, "p2", PER_VOLUME_GIGABYTES, 1_000_000, &d)?;
    assert_eq!(reservation_count(c)?, 1, "limit_check reserves nothing");
    Ok(())
}

on_both_backends!(conn extend_reservations_outlive_expiry => extend_reservations_outlive_expiry_sqlite, extend_reservations_outlive_expiry_postgres);

/// An extend's reservations are not released by expiry while its volume is still
/// `extending` (the node commits them when the volume has grown, also after a restart);
/// once the volume has left `extending` without that, they expire like any other.
fn extend_reservations_outlive_expiry(c: &mut DbConnection) -> TestResult {
    let d = quotas::Defaults::default();
    let v = volume(
        "p1",
        Some("n1@fake#pool"),
        1,
        VolumeStatus::Extending,
        at(0, 0)?,
    );
    volumes::insert(c, &v, &BTreeMap::new())?;
    let held = quotas::reserve(c, "p1", &[(GIGABYTES, 2)], -10, &d)?;
    quotas::reserve(c, "p1", &[(GIGABYTES, 5)], -10, &d)?;
    let intent = serde_json::to_string(&quotas::ExtendIntent {
        new_size: 3,
        reservations: held.clone(),
    })?;
    clinker::db::attachments::set_admin_metadata(c, &v.id, quotas::EXTEND_INTENT, &intent)?;
    assert_eq!(
        quotas::expire(c)?,
        1,
        "only the reservation no extend names"
    );
    assert_eq!(usage(c, "p1", GIGABYTES)?, (0, 2));
    quotas::commit(c, &held)?;
    assert_eq!(
        usage(c, "p1", GIGABYTES)?,
        (2, 0),
        "the grown gigabytes are counted"
    );

    // An extend whose volume was reset to `available` holds nothing any more.
    let again = quotas::reserve(c, "p1", &[(GIGABYTES, 4)], -10, &d)?;
    let intent = serde_json::to_string(&quotas::ExtendIntent {
        new_size: 7,
        reservations: again,
    })?;
    clinker::db::attachments::set_admin_metadata(c, &v.id, quotas::EXTEND_INTENT, &intent)?;
    volumes::transition(
        c,
        &v.id,
        &[VolumeStatus::Extending],
        VolumeStatus::Available,
    )?;
    assert_eq!(quotas::expire(c)?, 1);
    assert_eq!(usage(c, "p1", GIGABYTES)?, (2, 0));
    Ok(())
}

on_both_backends!(conn quotas_expire => quotas_expire_sqlite, quotas_expire_postgres);

fn quotas_expire(c: &mut DbConnection) -> TestResult {
    let d = quotas::Defaults::default();
    let stale = quotas::reserve(c, "p1", &[(VOLUMES, 1), (GIGABYTES, 10)], -10, &d)?;
    let live = quotas::reserve(c, "p1", &[(VOLUMES, 2), (GIGABYTES, 3)], 3600, &d)?;
    assert_eq!(usage(c, "p1", VOLUMES)?, (0, 3));
    assert_eq!(
        quotas::expire(c)?,
        2,
        "both rows of the stale reservation expire"
    );
    assert_eq!(usage(c, "p1", VOLUMES)?, (0, 2));
    assert_eq!(usage(c, "p1", GIGABYTES)?, (0, 3));
    assert_eq!(quotas::expire(c)?, 0);
    quotas::commit(c, &stale)?;
    assert_eq!(
        in_use(c, "p1")?,
        (0, 0),
        "an expired reservation cannot be committed"
    );
    quotas::commit(c, &live)?;
    assert_eq!(in_use(c, "p1")?, (2, 3));
    assert_eq!(reservation_count(c)?, 0);
    Ok(())
}

// ---------------------------------------------------------------- concurrency

/// Runs `work(i)` on `n` threads, each on its own pooled connection, released together by
/// a barrier, and returns each thread's result.
fn race<T: Send>(
    db: &TestDb,
    n: usize,
    work: impl Fn(usize, &mut DbConnection) -> Result<T, DbError> + Sync,
) -> Vec<Result<T, DbError>> {
    let barrier = Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (barrier, work) = (&barrier, &work);
                s.spawn(move || {
                    let c = db.pool.get();
                    barrier.wait();
                    work(i, &mut *c.map_err(|e| DbError::Unavailable(e.to_string()))?)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(DbError::Unavailable("thread panicked".into())))
            })
            .collect()
    })
}

/// Every thread's result, or the first error.
fn all_ok<T>(results: Vec<Result<T, DbError>>) -> TestResult<Vec<T>> {
    Ok(results.into_iter().collect::<Result<Vec<T>, DbError>>()?)
}

on_both_backends!(db quotas_concurrent_reserve => quotas_concurrent_reserve_sqlite, quotas_concurrent_reserve_postgres);

/// 16 connections reserve one volume each at the same moment against a limit of 5, with
/// no usage row yet: exactly 5 win, whatever the interleaving.
fn quotas_concurrent_reserve(db: &TestDb) -> TestResult {
    const THREADS: usize = 16;
    const LIMIT: i64 = 5;
    let mut c = db.migrated()?;
    set_limit(&mut c, "p1", VOLUMES, LIMIT)?;
    drop(c);
    let d = defaults(&[(VOLUMES, 100)]);
    let results = race(db, THREADS, |_, c| {
        quotas::reserve(c, "p1", &[(VOLUMES, 1)], 3600, &d)
    });

    let mut won = 0;
    let mut refused = 0;
    for r in results {
        match r {
            Ok(ids) => {
                assert_eq!(ids.len(), 1);
                won += 1;
            }
            Err(DbError::OverQuota(q)) => {
                assert_eq!(
                    (q.resource.as_str(), q.limit, q.in_use, q.reserved),
                    (VOLUMES, LIMIT, 0, LIMIT)
                );
                refused += 1;
            }
            Err(other) => return Err(format!("a reservation failed outright: {other}").into()),
        }
    }
    assert_eq!((won, refused), (5, 11));
    let mut c = db.conn()?;
    assert_eq!(usage(&mut c, "p1", VOLUMES)?, (0, LIMIT));
    assert_eq!(reservation_count(&mut c)?, LIMIT);
    Ok(())
}

on_both_backends!(db quotas_settle_once => quotas_settle_once_sqlite, quotas_settle_once_postgres);

/// Controllers racing to settle one reservation (a commit against the expiry reaper, or
/// two reapers at start-up): it is applied exactly once.
fn quotas_settle_once(db: &TestDb) -> TestResult {
    let mut c = db.migrated()?;
    let d = quotas::Defaults::default();
    for round in 0..10 {
        let ids = quotas::reserve(&mut c, "p1", &[(VOLUMES, 1)], 3600, &d)?;
        let before = usage(&mut c, "p1", VOLUMES)?.0;
        all_ok(race(db, 4, |i, c| {
            if i % 2 == 0 {
                quotas::commit(c, &ids)
            } else {
                quotas::rollback(c, &ids)
            }
        }))?;
        let (in_use, reserved) = usage(&mut c, "p1", VOLUMES)?;
        assert_eq!(
            reserved, 0,
            "round {round}: the reservation is settled once"
        );
        assert!(
            in_use == before || in_use == before + 1,
            "round {round}: in_use {before} -> {in_use}"
        );
    }
    Ok(())
}

on_both_backends!(db quotas_lock_order => quotas_lock_order_sqlite, quotas_lock_order_postgres);

/// Creates and deletes in the same project at once: reserve locks the usage rows in name
/// order, and release (destroy_and_release passes volumes, then gigabytes) must too, or
/// PostgreSQL aborts one of them with "deadlock detected".
fn quotas_lock_order(db: &TestDb) -> TestResult {
    let mut c = db.migrated()?;
    let d = quotas::Defaults::default();
    let ids = quotas::reserve(
        &mut c,
        "p1",
        &[(VOLUMES, 10_000), (GIGABYTES, 10_000)],
        60,
        &d,
    )?;
    quotas::commit(&mut c, &ids)?;
    all_ok(race(db, 8, |i, c| {
        for _ in 0..100 {
            if i % 2 == 0 {
                quotas::reserve(c, "p1", &[(VOLUMES, 1), (GIGABYTES, 1)], 60, &d)?;
            } else {
                write_txn(c, |c| {
                    quotas::release(c, "p1", &[(VOLUMES, 1), (GIGABYTES, 1)])
                })?;
            }
        }
        Ok(())
    }))?;
    assert_eq!(in_use(&mut c, "p1")?, (10_000 - 400, 10_000 - 400));
    assert_eq!(usage(&mut c, "p1", VOLUMES)?.1, 400);
    Ok(())
}

on_both_backends!(db volumes_destroy_once => volumes_destroy_once_sqlite, volumes_destroy_once_postgres);

/// Two controllers destroying the same volumes (start-up recovery on both): each volume
/// is reported destroyed once and its quota released once.
fn volumes_destroy_once(db: &TestDb) -> TestResult {
    const N: i64 = 20;
    let mut c = db.migrated()?;
    let d = quotas::Defaults::default();
    let ids = quotas::reserve(
        &mut c,
        "p1",
        &[(VOLUMES, 2 * N), (GIGABYTES, 20 * N)],
        60,
        &d,
    )?;
    quotas::commit(&mut c, &ids)?;
    let mut vols = Vec::new();
    for i in 0..N {
        let v = volume("p1", None, 10, VolumeStatus::Deleting, at(i, 0)?);
        volumes::insert(&mut c, &v, &BTreeMap::new())?;
        vols.push(v.id);
    }
    let destroyed = all_ok(race(db, 2, |_, c| {
        let mut n = 0;
        for v in &vols {
            n += i64::from(volumes::destroy_and_release(c, v)?);
        }
        Ok(n)
    }))?;
    assert_eq!(
        destroyed.iter().sum::<i64>(),
        N,
        "each volume is destroyed once: {destroyed:?}"
    );
    assert_eq!(
        in_use(&mut c, "p1")?,
        (N, 10 * N),
        "each volume's quota is released once"
    );
    Ok(())
}

on_both_backends!(conn volumes_exact_node => volumes_exact_node_sqlite, volumes_exact_node_postgres);

/// A node's volumes are those whose host starts with exactly `node@`.
fn volumes_exact_node(c: &mut DbConnection) -> TestResult {
    let mut mine = None;
    for (i, host) in [
        "node_1@file#a",
        "nodeX1@file#a",
        "NODE_1@file#a",
        "n%@file#a",
    ]
    .iter()
    .enumerate()
    {
        let mut v = volume(
            "p1",
            None,
            10 + i as i64,
            VolumeStatus::Creating,
            at(i as i64, 0)?,
        );
        v.host = Some(host.parse::<Host>()?);
        volumes::insert(c, &v, &BTreeMap::new())?;
        mine.get_or_insert(v.id);
    }
    assert_eq!(
        allocated_by_host(c, "node_1")?,
        vec![("node_1@file#a".to_string(), 10)]
    );
    assert_eq!(
        ids(&volumes::unfinished_on_node(c, "node_1")?),
        mine.into_iter().collect::<Vec<_>>()
    );
    assert!(allocated_by_host(c, "n%")?.len() == 1, "only n%@ itself");
    Ok(())
}

on_both_backends!(db panic_does_not_poison_pool => panic_does_not_poison_pool_sqlite, panic_does_not_poison_pool_postgres);

/// A panic inside a transaction (Db::run catches it in spawn_blocking) must not leave the
/// pooled connection inside that transaction: the next user's writes must commit.
fn panic_does_not_poison_pool(db: &TestDb) -> TestResult {
    drop(db.migrated()?);
    // One connection, so the next checkout gets the one that panicked.
    let pool = clinker::db::connect(&db.url, 1)?;
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> TestResult {
        let mut c = pool.get()?;
        write_txn(&mut c, |_| -> Result<(), DbError> {
            panic!("a bug inside a transaction")
        })?;
        Ok(())
    }));
    assert!(panicked.is_err());
    let v = volume("p1", None, 1, VolumeStatus::Creating, at(0, 0)?);
    volumes::insert(&mut *pool.get()?, &v, &BTreeMap::new())?;
    let seen = volumes::get(&mut *db.conn()?, &v.id, None)?;
    assert_eq!(
        seen.row.id, v.id,
        "the write is committed and visible elsewhere"
    );
    Ok(())
}

/// SQLite's group-commit writer: a job that panics inside its savepoint leaves nothing
/// behind, and the writes after it still commit (the panic used to leave the savepoint
/// open, so the batch's "commit" only released it and every later write stayed inside a
/// transaction that never committed).
#[test]
fn writer_survives_a_panicking_job() -> TestResult {
    let db = TestDb::sqlite(4)?;
    drop(db.migrated()?);
    let writer = clinker::db::Db::new(clinker::db::connect(&db.url, 4)?);
    let lost = volume("p1", None, 1, VolumeStatus::Creating, at(0, 0)?);
    let kept = volume("p1", None, 1, VolumeStatus::Creating, at(1, 0)?);
    let (lost_id, kept_id) = (lost.id.clone(), kept.id.clone());
    actix_rt::System::new().block_on(async move {
        let panicked = writer
            .write(move |c| -> Result<(), DbError> {
                volumes::insert(c, &lost, &BTreeMap::new())?;
                panic!("a bug after the insert")
            })
            .await;
        assert!(panicked.is_err(), "the caller hears that its write failed");
        writer
            .write(move |c| volumes::insert(c, &kept, &BTreeMap::new()))
            .await
    })?;
    let mut other = db.conn()?;
    assert_eq!(volumes::get(&mut other, &kept_id, None)?.row.id, kept_id);
    assert!(
        volumes::get(&mut other, &lost_id, None).is_err(),
        "the panicked job's insert was undone"
    );
    Ok(())
}

// ---------------------------------------------------------------- timeline, messages

on_both_backends!(conn timeline_runs => timeline_runs_sqlite, timeline_runs_postgres);

/// More runs than one insert statement takes (500), stored out of order, read back whole
/// and in `seq` order, only for their project.
fn timeline_runs(c: &mut DbConnection) -> TestResult {
    let run = |seq: i64, resource: &str, project: &str| -> TestResult<FlowRunRow> {
        Ok(FlowRunRow {
            id: uuid::Uuid::new_v4().to_string(),
            seq,
            resource_id: resource.to_string(),
            project_id: project.to_string(),
            request_id: format!("req-{seq}"),
            flow: "volume_create_api".to_string(),
            state: "SUCCESS".to_string(),
            transitions: format!(
                r#"[{{"task":"reserve","state":"SUCCESS","n":{seq},"note":"ünïcode ✓"}}]"#
            ),
            detail: (seq % 3 == 0).then(|| format!(r#"{{"seq":{seq}}}"#)),
            started_at: at(seq, 123_456)?,
            finished_at: at(seq + 1, 999_999)?,
        })
    };
    const N: i64 = 1203;
    // Every 7th seq first, then the rest, so insert order is not seq order.
    let mut runs: Vec<FlowRunRow> = Vec::new();
    for seq in (0..N)
        .filter(|s| s % 7 == 0)
        .chain((0..N).filter(|s| s % 7 != 0))
    {
        runs.push(run(seq, "vol-a", "p1")?);
    }
    runs.push(run(5, "vol-b", "p1")?);
    runs.push(run(1, "vol-c", "p2")?);
    timeline::insert(c, &runs)?;
    timeline::insert(c, &[])?;

    let mut want: Vec<FlowRunRow> = runs
        .iter()
        .filter(|r| r.resource_id == "vol-a")
        .cloned()
        .collect();
    want.sort_by_key(|r| r.seq);
    let got = timeline::for_resource(c, "vol-a", Some("p1"))?;
    assert_eq!(got.len(), N as usize);
    assert!(got == want, "runs read back whole and in seq order");
    assert_eq!(timeline::for_resource(c, "vol-a", None)?.len(), N as usize);
    assert!(
        timeline::for_resource(c, "vol-a", Some("p2"))?.is_empty(),
        "scoped by project"
    );
    assert_eq!(timeline::for_resource(c, "vol-c", Some("p2"))?.len(), 1);
    assert!(timeline::for_resource(c, "vol-z", None)?.is_empty());
    Ok(())
}

on_both_backends!(conn messages_newest_first => messages_newest_first_sqlite, messages_newest_first_postgres);

fn messages_newest_first(c: &mut DbConnection) -> TestResult {
    let msg = |resource: Option<&str>, project: &str, secs: i64| -> TestResult<MessageRow> {
        Ok(MessageRow {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.to_string(),
            request_id: format!("req-{secs}"),
            resource_type: resource.map(|_| "VOLUME".to_string()),
            resource_uuid: resource.map(str::to_string),
            event_id: "VOLUME_VOLUME_001_003".to_string(),
            message_level: "ERROR".to_string(),
            user_message: "schedule allocate volume:Could not find any available weighted backend."
                .to_string(),
            detail: (secs % 2 == 0).then(|| format!("node n{secs}: no space")),
            created_at: at(secs, 500)?,
            expires_at: at(secs + 86_400 * 30, 0)?,
        })
    };
    let rows = [
        msg(Some("vol-a"), "p1", 20)?,
        msg(Some("vol-a"), "p1", 10)?,
        msg(Some("vol-a"), "p1", 30)?,
        msg(Some("vol-a"), "p2", 40)?,
        msg(Some("vol-b"), "p1", 50)?,
        msg(None, "p1", 60)?,
    ];
    for r in &rows {
        messages::insert(c, r)?;
    }
    let got = messages::for_resource(c, "vol-a", Some("p1"))?;
    assert_eq!(
        got,
        vec![rows[2].clone(), rows[0].clone(), rows[1].clone()],
        "newest first, whole rows"
    );
    let all: Vec<String> = messages::for_resource(c, "vol-a", None)?
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(all, [3, 2, 0, 1].map(|i| rows[i].id.clone()).to_vec());
    assert_eq!(messages::for_resource(c, "vol-a", Some("p2"))?.len(), 1);
    assert!(messages::for_resource(c, "vol-z", None)?.is_empty());
    let dup = messages::insert(c, &rows[0]);
    assert!(dup.is_err(), "ids are unique");
    Ok(())
}

/// PostgreSQL: a pool opened with a statement timeout cancels a statement that runs past
/// it (a request's query cannot hold its connection for long), and `migrate`, which lifts
/// the timeout while it waits for the advisory lock, puts it back after.
#[test]
fn postgres_statement_timeout_bounds_queries_and_survives_migrations() -> TestResult {
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let db = TestDb::postgres(1)?;
    let pool = clinker::db::connect_bounded(&db.url, 1, 250)?;
    let mut c = pool.get()?;
    assert!(migrate(&mut c)? > 0);
    let DbConnection::Postgres(pg) = &mut *c else {
        return Err("not a PostgreSQL connection".into());
    };
    let Setting { value } =
        diesel::sql_query("SELECT current_setting('statement_timeout') AS value").get_result(pg)?;
    assert_eq!(value, "250ms", "the pool's timeout is back after migrate");
    // Twenty times the bound: cancelled by the server, not waited out.
    let slow = diesel::sql_query("SELECT pg_sleep(5)").execute(pg);
    assert!(slow.is_err(), "a statement past the timeout is cancelled");
    diesel::sql_query("SELECT 1").execute(pg)?;
    Ok(())
}

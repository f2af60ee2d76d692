//! The database functions behind the admin and catalogue API (types, default types,
//! quota sets, services, QoS specs, messages), each suite run on SQLite and PostgreSQL.

mod common_db;

use std::collections::BTreeMap;

use clinker::db::messages::{self, MessageFilter};
use clinker::db::rows::{MessageRow, VolumeTypeRow};
use clinker::db::types::{self, DeleteRefusal, TypeFilter};
use clinker::db::{DbConnection, DbError, qos, quota_sets, quotas, services, volumes};
use clinker::model::VolumeStatus;
use common_db::{DEFAULT_TYPE_ID, TestResult, at, must_fail, volume};

fn type_row(name: &str, is_public: bool) -> TestResult<VolumeTypeRow> {
    Ok(VolumeTypeRow {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_string(),
        description: Some(format!("{name} type")),
        is_public,
        created_at: at(10, 0)?,
        updated_at: None,
    })
}

fn specs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---------------------------------------------------------------- types

on_both_backends!(conn types_crud => types_crud_sqlite, types_crud_postgres);

fn types_crud(c: &mut DbConnection) -> TestResult {
    let gold = type_row("gold", true)?;
    types::create(c, &gold, &specs(&[("capabilities:tier", "gold")]))?;
    let again = type_row("gold", true)?;
    assert!(matches!(
        must_fail(types::create(c, &again, &BTreeMap::new()), "duplicate name")?,
        DbError::Conflict
    ));
    let shown = types::get(c, &gold.id, None)?;
    assert_eq!(shown.row, gold);
    assert_eq!(shown.extra_specs, specs(&[("capabilities:tier", "gold")]));
    assert_eq!(shown.qos_specs_id, None);

    types::set_extra_specs(
        c,
        &gold.id,
        &specs(&[("capabilities:tier", "platinum"), ("k", "v")]),
        128,
    )?;
    assert_eq!(
        types::get(c, &gold.id, None)?.extra_specs,
        specs(&[("capabilities:tier", "platinum"), ("k", "v")])
    );
    types::delete_extra_spec(c, &gold.id, "k")?;
    assert!(matches!(
        must_fail(types::delete_extra_spec(c, &gold.id, "k"), "gone key")?,
        DbError::NotFound { .. }
    ));

    // A rename carries the per-type quota keys along.
    let defaults = quotas::Defaults::default();
    let ids = quotas::reserve(c, "p", &[("volumes_gold", 1)], 60, &defaults)?;
    quotas::commit(c, &ids)?;
    types::update(c, &gold.id, Some("silver"), Some(None), Some(false))?;
    let renamed = types::get(c, &gold.id, None)?;
    assert_eq!(renamed.row.name, "silver");
    assert_eq!(renamed.row.description, None);
    assert!(!renamed.row.is_public);
    assert!(renamed.row.updated_at.is_some());
    let usage = quotas::usage(c, "p", &["volumes_silver", "volumes_gold"], &defaults)?;
    assert_eq!(usage["volumes_silver"].in_use, 1);
    assert_eq!(usage["volumes_gold"].in_use, 0);
    assert!(matches!(
        must_fail(
            types::update(c, &gold.id, Some("__DEFAULT__"), None, None),
            "rename onto a taken name"
        )?,
        DbError::Conflict
    ));
    assert_eq!(types::name_of(c, &gold.id)?.as_deref(), Some("silver"));
    assert_eq!(types::names(c)?, ["__DEFAULT__", "silver"]);
    Ok(())
}

on_both_backends!(conn types_visibility => types_visibility_sqlite, types_visibility_postgres);

fn types_visibility(c: &mut DbConnection) -> TestResult {
    let secret = type_row("secret", false)?;
    types::create(c, &secret, &specs(&[("tier", "gold")]))?;
    assert!(matches!(
        must_fail(types::get(c, &secret.id, Some("p1")), "private, no access")?,
        DbError::NotFound { .. }
    ));
    assert!(types::get(c, &secret.id, None).is_ok(), "admins see it");
    let names = |c: &mut DbConnection, f: TypeFilter| -> TestResult<Vec<String>> {
        let mut v: Vec<String> = types::list(c, &f)?
            .into_iter()
            .map(|t| t.row.name)
            .collect();
        v.sort();
        Ok(v)
    };
    let public_for = |p: &str| TypeFilter {
        is_public: Some(true),
        project: Some(p.to_string()),
        ..TypeFilter::default()
    };
    assert_eq!(names(c, public_for("p1"))?, ["__DEFAULT__"]);
    types::add_access(c, &secret.id, "p1")?;
    assert!(matches!(
        must_fail(types::add_access(c, &secret.id, "p1"), "twice")?,
        DbError::Conflict
    ));
    assert!(types::has_access(c, &secret.id, "p1")?);
    assert_eq!(names(c, public_for("p1"))?, ["__DEFAULT__", "secret"]);
    assert_eq!(names(c, public_for("p2"))?, ["__DEFAULT__"]);
    assert_eq!(
        names(
            c,
            TypeFilter {
                is_public: Some(false),
                ..TypeFilter::default()
            }
        )?,
        ["secret"]
    );
    assert_eq!(
        names(
            c,
            TypeFilter {
                extra_specs: specs(&[("tier", "gold")]),
                ..TypeFilter::default()
            }
        )?,
        ["secret"]
    );
    assert_eq!(types::access_list(c, &secret.id)?, ["p1"]);
    types::remove_access(c, &secret.id, "p1")?;
    assert!(matches!(
        must_fail(types::remove_access(c, &secret.id, "p1"), "twice")?,
        DbError::NotFound { .. }
    ));
    Ok(())
}

on_both_backends!(conn types_delete_and_defaults => types_delete_sqlite, types_delete_postgres);

fn types_delete_and_defaults(c: &mut DbConnection) -> TestResult {
    let used = type_row("used", false)?;
    types::create(c, &used, &specs(&[("a", "b")]))?;
    types::add_access(c, &used.id, "p1")?;
    let mut v = volume("p1", None, 1, VolumeStatus::Available, at(20, 0)?);
    v.volume_type_id = used.id.clone();
    volumes::insert(c, &v, &BTreeMap::new())?;
    assert!(types::in_use(c, &used.id)?);
    assert_eq!(
        types::delete(c, &used.id, "__DEFAULT__")?,
        Some(DeleteRefusal::InUse)
    );
    assert_eq!(
        types::delete(c, DEFAULT_TYPE_ID, "__DEFAULT__")?,
        Some(DeleteRefusal::Default),
        "the configured default stays"
    );

    assert_eq!(types::project_default(c, "p1")?, None);
    types::set_project_default(c, "p1", &used.id)?;
    types::set_project_default(c, "p1", DEFAULT_TYPE_ID)?;
    assert_eq!(
        types::project_default(c, "p1")?.as_deref(),
        Some(DEFAULT_TYPE_ID)
    );
    types::set_project_default(c, "p2", &used.id)?;
    assert_eq!(
        types::project_defaults(c)?,
        [
            ("p1".to_string(), DEFAULT_TYPE_ID.to_string()),
            ("p2".to_string(), used.id.clone())
        ]
    );
    volumes::destroy_and_release(c, &v.id)?;
    assert!(!types::in_use(c, &used.id)?);
    assert_eq!(
        types::delete(c, &used.id, "__DEFAULT__")?,
        Some(DeleteRefusal::Default),
        "p2's default stays"
    );
    types::unset_project_default(c, "p2")?;
    assert!(matches!(
        must_fail(types::unset_project_default(c, "p2"), "twice")?,
        DbError::NotFound { .. }
    ));
    assert_eq!(types::delete(c, &used.id, "__DEFAULT__")?, None);
    assert!(matches!(
        must_fail(types::get(c, &used.id, None), "deleted")?,
        DbError::NotFound { .. }
    ));
    assert!(
        types::access_list(c, &used.id)?.is_empty(),
        "access went with it"
    );
    assert!(matches!(
        must_fail(types::delete(c, &used.id, "__DEFAULT__"), "twice")?,
        DbError::NotFound { .. }
    ));
    Ok(())
}

// ---------------------------------------------------------------- quota sets

on_both_backends!(conn quota_set_limits => quota_sets_sqlite, quota_sets_postgres);

fn quota_set_limits(c: &mut DbConnection) -> TestResult {
    let defaults = quotas::Defaults(BTreeMap::from([
        ("volumes".to_string(), 10),
        ("gigabytes".to_string(), 1000),
    ]));
    types::create(c, &type_row("gold", true)?, &BTreeMap::new())?;
    let resources = quota_sets::resources(c)?;
    assert_eq!(
        resources,
        [
            "volumes",
            "snapshots",
            "gigabytes",
            "backups",
            "backup_gigabytes",
            "groups",
            "per_volume_gigabytes",
            "volumes___DEFAULT__",
            "gigabytes___DEFAULT__",
            "snapshots___DEFAULT__",
            "volumes_gold",
            "gigabytes_gold",
            "snapshots_gold",
        ]
    );
    let d = quota_sets::default_limits(c, &resources, &defaults)?;
    assert_eq!(
        (d["volumes"], d["volumes_gold"], d["snapshots"]),
        (10, -1, -1)
    );

    let limits = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    quota_sets::set_class_limits(c, "default", &limits(&[("volumes", 3)]))?;
    quota_sets::set_class_limits(
        c,
        "default",
        &limits(&[("volumes", 4), ("volumes_gold", 2)]),
    )?;
    quota_sets::set_class_limits(c, "big", &limits(&[("gigabytes", 5000)]))?;
    let d = quota_sets::default_limits(c, &resources, &defaults)?;
    assert_eq!(
        (d["volumes"], d["volumes_gold"]),
        (4, 2),
        "the default class wins"
    );
    let big = quota_sets::class_limits(c, "big", &resources, &defaults)?;
    assert_eq!((big["gigabytes"], big["volumes"]), (5000, 4));

    let ids = quotas::reserve(c, "p", &[("volumes", 2)], 60, &defaults)?;
    quotas::commit(c, &ids)?;
    quotas::reserve(c, "p", &[("volumes", 1)], 60, &defaults)?;
    assert_eq!(
        quota_sets::set_project_limits(c, "p", &limits(&[("volumes", 2)]), &defaults)?,
        Err(("volumes".to_string(), 3)),
        "in_use + reserved is 3"
    );
    assert_eq!(
        quota_sets::set_project_limits(
            c,
            "p",
            &limits(&[
                ("volumes", 3),
                ("per_volume_gigabytes", 1),
                ("gigabytes", -1)
            ]),
            &defaults
        )?,
        Ok(())
    );
    quota_sets::set_project_limits(c, "p", &limits(&[("volumes", 7)]), &defaults)?
        .map_err(|e| format!("{e:?}"))?;
    let u = quota_sets::project_usage(c, "p", &resources, &defaults)?;
    assert_eq!(
        (
            u["volumes"].limit,
            u["volumes"].in_use,
            u["volumes"].reserved
        ),
        (7, 2, 1)
    );
    assert_eq!(u["gigabytes"].limit, -1);
    assert_eq!(u["volumes_gold"].limit, 2, "from the default class");
    quota_sets::delete_project_limits(c, "p")?;
    let u = quota_sets::project_usage(c, "p", &resources, &defaults)?;
    assert_eq!((u["volumes"].limit, u["volumes"].in_use), (4, 2));
    Ok(())
}

// ---------------------------------------------------------------- services

on_both_backends!(conn service_rows => services_sqlite, services_postgres);

fn service_rows(c: &mut DbConnection) -> TestResult {
    let row = services::register(c, "n1@fake", services::VOLUME_BINARY, "nova")?;
    assert!(!row.disabled);
    assert_eq!(row.updated_at, Some(row.created_at));
    services::register(c, "ctl", services::SCHEDULER_BINARY, "nova")?;
    let disabled =
        services::set_disabled(c, "n1@fake", services::VOLUME_BINARY, true, Some("swap"))?;
    assert!(disabled.disabled);
    assert_eq!(disabled.disabled_reason.as_deref(), Some("swap"));
    // A restart re-registers: zone and heartbeat refresh, the operator's flag stays.
    let again = services::register(c, "n1@fake", services::VOLUME_BINARY, "az2")?;
    assert!(again.disabled);
    assert_eq!(again.availability_zone, "az2");
    assert_eq!(again.created_at, row.created_at);
    services::heartbeat(c, "n1@fake", services::VOLUME_BINARY)?;
    services::heartbeat(c, "never-registered", services::VOLUME_BINARY)?;
    let all = services::list(c)?;
    assert_eq!(
        all.iter()
            .map(|r| (r.service_binary.as_str(), r.host.as_str()))
            .collect::<Vec<_>>(),
        [("cinder-scheduler", "ctl"), ("cinder-volume", "n1@fake")]
    );
    assert!(all[1].updated_at >= again.updated_at);
    let enabled = services::set_disabled(c, "n1@fake", services::VOLUME_BINARY, false, None)?;
    assert!(!enabled.disabled && enabled.disabled_reason.is_none());
    assert!(matches!(
        must_fail(
            services::set_disabled(c, "n9@fake", services::VOLUME_BINARY, true, None),
            "unknown service"
        )?,
        DbError::NotFound { .. }
    ));
    Ok(())
}

// ---------------------------------------------------------------- QoS specs

on_both_backends!(conn qos_specs => qos_sqlite, qos_postgres);

fn qos_specs(c: &mut DbConnection) -> TestResult {
    let q = qos::QosDetail {
        id: uuid::Uuid::new_v4().to_string(),
        name: "fast".into(),
        consumer: "back-end".into(),
        specs: specs(&[("total_iops_sec", "1000")]),
        created_at: at(1, 0)?,
    };
    qos::create(c, &q)?;
    assert_eq!(qos::get(c, &q.id)?, q);
    let dup = qos::QosDetail {
        id: uuid::Uuid::new_v4().to_string(),
        ..q.clone()
    };
    assert!(matches!(
        must_fail(qos::create(c, &dup), "duplicate name")?,
        DbError::Conflict
    ));
    qos::update(c, &q.id, Some("both"), &specs(&[("delay", "1")]), 128)?;
    let got = qos::get(c, &q.id)?;
    assert_eq!(got.consumer, "both");
    assert_eq!(
        got.specs,
        specs(&[("delay", "1"), ("total_iops_sec", "1000")])
    );
    assert_eq!(
        qos::delete_keys(c, &q.id, &["nope".to_string()])?,
        Some("nope".into())
    );
    assert_eq!(qos::delete_keys(c, &q.id, &["delay".to_string()])?, None);
    assert_eq!(qos::list(c)?.len(), 1);

    let t = type_row("gold", true)?;
    types::create(c, &t, &BTreeMap::new())?;
    assert_eq!(qos::associate(c, &q.id, &t.id)?, None);
    assert_eq!(qos::associate(c, &q.id, &t.id)?, None, "again: no change");
    assert_eq!(
        types::get(c, &t.id, None)?.qos_specs_id.as_deref(),
        Some(q.id.as_str())
    );
    assert_eq!(
        qos::associations(c, &q.id)?,
        [(t.id.clone(), "gold".to_string())]
    );
    let other = qos::QosDetail {
        id: uuid::Uuid::new_v4().to_string(),
        name: "slow".into(),
        ..q.clone()
    };
    qos::create(c, &other)?;
    assert_eq!(
        qos::associate(c, &other.id, &t.id)?,
        Some(qos::AssociateRefusal::OtherSpecs(q.id.clone()))
    );
    assert!(matches!(
        must_fail(qos::associate(c, &q.id, "no-type"), "unknown type")?,
        DbError::NotFound { .. }
    ));
    assert!(!qos::delete(c, &q.id, false)?, "in use");
    qos::disassociate(c, &q.id, Some(&t.id))?;
    assert!(qos::associations(c, &q.id)?.is_empty());
    qos::associate(c, &q.id, &t.id)?;
    qos::disassociate(c, &q.id, None)?;
    qos::associate(c, &q.id, &t.id)?;
    assert!(qos::delete(c, &q.id, true)?, "force");
    assert_eq!(types::get(c, &t.id, None)?.qos_specs_id, None);
    assert!(matches!(
        must_fail(qos::get(c, &q.id), "deleted")?,
        DbError::NotFound { .. }
    ));
    // A type's delete takes its association along.
    qos::associate(c, &other.id, &t.id)?;
    assert_eq!(types::delete(c, &t.id, "__DEFAULT__")?, None);
    assert!(qos::associations(c, &other.id)?.is_empty());
    Ok(())
}

// ---------------------------------------------------------------- messages

on_both_backends!(conn message_rows => messages_sqlite, messages_postgres);

fn message_rows(c: &mut DbConnection) -> TestResult {
    let row = |project: &str, uuid: &str, secs: i64| -> TestResult<MessageRow> {
        Ok(MessageRow {
            id: uuid::Uuid::new_v4().to_string(),
            project_id: project.into(),
            request_id: "req-1".into(),
            resource_type: Some("VOLUME".into()),
            resource_uuid: Some(uuid.into()),
            event_id: "VOLUME_VOLUME_001_003".into(),
            message_level: "ERROR".into(),
            user_message: "schedule allocate volume:Could not find any available weighted backend."
                .into(),
            detail: None,
            created_at: at(secs, 0)?,
            expires_at: at(secs + 100, 0)?,
        })
    };
    let (a, b, c2) = (
        row("p1", "v1", 1)?,
        row("p1", "v2", 2)?,
        row("p2", "v3", 3)?,
    );
    for m in [&a, &b, &c2] {
        messages::insert(c, m)?;
    }
    let ids = |v: Vec<MessageRow>| v.into_iter().map(|m| m.id).collect::<Vec<_>>();
    let p1 = MessageFilter {
        project: Some("p1".into()),
        ..MessageFilter::default()
    };
    assert_eq!(
        ids(messages::list(c, &p1)?),
        [b.id.clone(), a.id.clone()],
        "newest first"
    );
    assert_eq!(ids(messages::list(c, &MessageFilter::default())?).len(), 3);
    let by_uuid = MessageFilter {
        resource_uuid: Some("v1".into()),
        ..p1.clone()
    };
    assert_eq!(
        ids(messages::list(c, &by_uuid)?),
        std::slice::from_ref(&a.id)
    );
    let info = MessageFilter {
        message_level: Some("INFO".into()),
        ..MessageFilter::default()
    };
    assert!(messages::list(c, &info)?.is_empty());
    assert_eq!(messages::get(c, &a.id, Some("p1"))?, a);
    assert!(matches!(
        must_fail(messages::get(c, &a.id, Some("p2")), "other project")?,
        DbError::NotFound { .. }
    ));
    assert!(matches!(
        must_fail(messages::delete(c, &a.id, Some("p2")), "other project")?,
        DbError::NotFound { .. }
    ));
    messages::delete(c, &a.id, Some("p1"))?;
    messages::delete(c, &c2.id, None)?;
    assert_eq!(ids(messages::list(c, &MessageFilter::default())?), [b.id]);
    Ok(())
}

//! End to end: the admin and catalogue commands of the real python-cinderclient against
//! the real `clinker` binary, on SQLite and on PostgreSQL.
//!
//! cinderclient negotiates the server's highest version (3.71); `old_clients` also runs
//! commands pinned to 3.0 (`--os-volume-api-version 3.0`), where `message-list` is
//! refused by cinderclient itself.

mod common_e2e;

use std::path::Path;
use std::time::Duration;

use common_e2e::{PROJECT, PgDatabase, Server, TestResult, field, row_with, wait_for};

/// Three fake nodes: `n1` and `n2` (`tier=gold`) in `nova`, `n3` in `az2`.
const CONFIG: &str = r#"
[[nodes]]
name = "n1"
availability_zone = "nova"
driver = "fake"

[[nodes]]
name = "n2"
availability_zone = "nova"
driver = "fake"
capabilities = { tier = "gold" }

[[nodes]]
name = "n3"
availability_zone = "az2"
driver = "fake"
"#;

/// Creates a volume and waits until it settles; answers its final `show` output.
fn settled(server: &Server, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let mut create = vec!["create"];
    create.extend_from_slice(args);
    let out = server.cinder_ok(&create)?;
    let id = field(&out, "id").ok_or(format!("no id in: {out}"))?;
    let mut last = String::new();
    let done = wait_for(Duration::from_secs(20), || {
        last = server.cinder_ok(&["show", &id])?;
        Ok(matches!(
            field(&last, "status").as_deref(),
            Some("available" | "error")
        ))
    })?;
    if !done {
        return Err(format!("volume {id} never settled: {last}").into());
    }
    Ok(last)
}

fn types_and_access(server: &Server) -> TestResult {
    let out = server.cinder_ok(&["type-create", "gold"])?;
    let gold = row_with(&out, "gold").ok_or(format!("no gold row: {out}"))?;
    assert!(gold.contains(&"True".to_string()), "public: {out}");
    let out = server.cinder_ok(&["type-create", "--is-public", "false", "secret"])?;
    assert!(
        row_with(&out, "secret").is_some_and(|r| r.contains(&"False".to_string())),
        "{out}"
    );
    server.cinder_ok(&["type-key", "gold", "set", "capabilities:tier=gold"])?;
    let out = server.cinder_ok(&["extra-specs-list"])?;
    assert!(
        row_with(&out, "gold").is_some_and(|r| r.iter().any(|c| c.contains("capabilities:tier"))),
        "{out}"
    );
    let out = server.cinder_ok(&["type-list"])?;
    for name in ["gold", "secret", "__DEFAULT__"] {
        assert!(row_with(&out, name).is_some(), "{name} listed: {out}");
    }
    server.cinder_ok(&[
        "type-access-add",
        "--volume-type",
        "secret",
        "--project-id",
        "0b0b",
    ])?;
    let out = server.cinder_ok(&["type-access-list", "--volume-type", "secret"])?;
    assert!(row_with(&out, "0b0b").is_some(), "{out}");
    Ok(())
}

fn catalogue(server: &Server) -> TestResult {
    let out = server.cinder_ok(&["availability-zone-list"])?;
    assert_eq!(
        row_with(&out, "nova"),
        Some(vec!["nova".to_string(), "available".to_string()])
    );
    assert_eq!(
        row_with(&out, "az2"),
        Some(vec!["az2".to_string(), "available".to_string()])
    );
    let out = server.cinder_ok(&["service-list"])?;
    for host in ["n1@fake", "n2@fake", "n3@fake"] {
        let r = row_with(&out, host).ok_or(format!("no {host}: {out}"))?;
        assert_eq!(r[0], "cinder-volume");
        assert!(
            r.contains(&"enabled".to_string()) && r.contains(&"up".to_string()),
            "{r:?}"
        );
    }
    assert!(row_with(&out, "cinder-scheduler").is_some(), "{out}");
    let out = server.cinder_ok(&["get-pools", "--detail"])?;
    for pool in ["n1@fake#fake", "n2@fake#fake", "n3@fake#fake"] {
        assert!(row_with(&out, pool).is_some(), "{pool}: {out}");
    }
    assert_eq!(
        row_with(&out, "tier"),
        Some(vec!["tier".to_string(), "gold".to_string()]),
        "driver capabilities shown"
    );
    Ok(())
}

fn placement_and_quotas(server: &Server) -> TestResult {
    let shown = settled(server, &["--volume-type", "gold", "--name", "g1", "1"])?;
    assert_eq!(
        field(&shown, "status").as_deref(),
        Some("available"),
        "{shown}"
    );
    assert_eq!(
        field(&shown, "os-vol-host-attr:host").as_deref(),
        Some("n2@fake#fake"),
        "the extra spec picked the gold node"
    );

    let out = server.cinder_ok(&[
        "quota-update",
        "--volume-type",
        "gold",
        "--volumes",
        "1",
        PROJECT,
    ])?;
    assert_eq!(field(&out, "volumes_gold").as_deref(), Some("1"), "{out}");
    let out = server.cinder_ok(&["quota-update", "--volumes", "7", PROJECT])?;
    assert_eq!(field(&out, "volumes").as_deref(), Some("7"), "{out}");
    let out = server.cinder_ok(&["quota-show", PROJECT])?;
    assert_eq!(field(&out, "volumes").as_deref(), Some("7"));
    assert_eq!(field(&out, "volumes_gold").as_deref(), Some("1"));
    assert_eq!(field(&out, "gigabytes___DEFAULT__").as_deref(), Some("-1"));
    assert_eq!(field(&out, "snapshots").as_deref(), Some("10"));
    let out = server.cinder_ok(&["quota-usage", PROJECT])?;
    let r = row_with(&out, "volumes_gold").ok_or(format!("no row: {out}"))?;
    assert_eq!(
        &r[..4],
        ["volumes_gold", "1", "0", "1"],
        "type, in use, reserved, limit"
    );

    let (ok, out) = server.cinder(&["create", "--volume-type", "gold", "1"])?;
    assert!(!ok, "over the per-type quota: {out}");
    assert!(
        out.contains("VolumeLimitExceeded") && out.contains("volumes_gold") && out.contains("413"),
        "{out}"
    );
    let out = server.cinder_ok(&["absolute-limits"])?;
    assert_eq!(
        row_with(&out, "totalVolumesUsed"),
        Some(vec!["totalVolumesUsed".to_string(), "1".to_string()])
    );
    assert_eq!(
        row_with(&out, "maxTotalVolumes"),
        Some(vec!["maxTotalVolumes".to_string(), "7".to_string()])
    );
    Ok(())
}

fn disabling(server: &Server) -> TestResult {
    let out = server.cinder_ok(&["service-disable", "n3@fake", "cinder-volume"])?;
    assert!(
        row_with(&out, "n3@fake").is_some_and(|r| r.contains(&"disabled".to_string())),
        "{out}"
    );
    let out = server.cinder_ok(&[
        "service-disable",
        "--reason",
        "disk swap",
        "n3@fake",
        "cinder-volume",
    ])?;
    assert!(out.contains("disk swap"), "{out}");
    let out = server.cinder_ok(&["service-list"])?;
    let r = row_with(&out, "n3@fake").ok_or(format!("no n3: {out}"))?;
    assert!(
        r.contains(&"disabled".to_string()) && r.contains(&"disk swap".to_string()),
        "{r:?}"
    );
    let out = server.cinder_ok(&["availability-zone-list"])?;
    assert_eq!(
        row_with(&out, "az2"),
        Some(vec!["az2".to_string(), "not available".to_string()])
    );
    let shown = settled(server, &["--availability-zone", "az2", "1"])?;
    assert_eq!(
        field(&shown, "status").as_deref(),
        Some("error"),
        "a disabled node gets no new volumes: {shown}"
    );
    Ok(())
}

/// `message-list` needs 3.3: cinderclient negotiates it, and refuses it at 3.0.
fn messages_need_33(server: &Server) -> TestResult {
    let (ok, out) = server.cinder(&["message-list"])?;
    assert!(ok, "message-list at the negotiated version: {out}");
    let (ok, out) = server.cinder(&["--os-volume-api-version", "3.0", "message-list"])?;
    assert!(!ok, "cinderclient refuses message-list at 3.0: {out}");
    Ok(())
}

/// QoS specs, the summary, time filters (3.60) and a clone, then a few areas at 3.0.
fn qos_filters_and_old_clients(server: &Server) -> TestResult {
    let out = server.cinder_ok(&["qos-create", "silver", "read_iops_sec=100"])?;
    let qos = field(&out, "id").ok_or(format!("no qos id: {out}"))?;
    server.cinder_ok(&["qos-key", &qos, "set", "write_iops_sec=5"])?;
    let out = server.cinder_ok(&["qos-show", &qos])?;
    assert!(
        out.contains("write_iops_sec") && out.contains("read_iops_sec"),
        "{out}"
    );
    let types = server.cinder_ok(&["type-list"])?;
    let gold = row_with(&types, "gold").ok_or(format!("no gold: {types}"))?;
    server.cinder_ok(&["qos-associate", &qos, &gold[0]])?;
    let out = server.cinder_ok(&["qos-get-association", &qos])?;
    assert!(row_with(&out, "gold").is_some(), "{out}");
    server.cinder_ok(&["qos-disassociate-all", &qos])?;
    let out = server.cinder_ok(&["qos-get-association", &qos])?;
    assert!(row_with(&out, "gold").is_none(), "{out}");
    server.cinder_ok(&["qos-delete", &qos])?;

    let src = settled(server, &["--name", "filtered", "1"])?;
    let src = field(&src, "id").ok_or("no id")?;
    let clone = settled(server, &["--source-volid", &src, "--name", "twin"])?;
    assert_eq!(field(&clone, "source_volid").as_deref(), Some(src.as_str()));
    let out = server.cinder_ok(&["list", "--filters", "created_at=gt:2000-01-01T00:00:00"])?;
    assert!(
        row_with(&out, "filtered").is_some() && row_with(&out, "twin").is_some(),
        "{out}"
    );
    let out = server.cinder_ok(&["list", "--filters", "created_at=lt:2000-01-01T00:00:00"])?;
    assert!(row_with(&out, "filtered").is_none(), "{out}");
    let (ok, out) = server.cinder(&["list", "--filters", "created_at=soon:2000-01-01"])?;
    assert!(!ok && out.contains("operator"), "{out}");
    let out = server.cinder_ok(&["summary"])?;
    assert!(out.contains("total_count"), "{out}");

    let old = |args: &[&str]| {
        let mut all = vec!["--os-volume-api-version", "3.0"];
        all.extend_from_slice(args);
        server.cinder_ok(&all)
    };
    let out = old(&["list"])?;
    assert!(row_with(&out, "twin").is_some(), "{out}");
    let out = old(&["show", &src])?;
    assert_eq!(field(&out, "name").as_deref(), Some("filtered"));
    assert_eq!(
        field(&out, "volume_type_id"),
        None,
        "volume_type_id is 3.63+"
    );
    let out = old(&["quota-show", PROJECT])?;
    assert!(field(&out, "volumes").is_some(), "{out}");
    let out = old(&["absolute-limits"])?;
    assert!(row_with(&out, "maxTotalVolumes").is_some(), "{out}");
    old(&["type-list"])?;
    old(&["qos-list"])?;
    server.cinder_ok(&["delete", &src])?;
    let (ok, out) = server.cinder(&["delete", "twin"])?;
    assert!(ok, "{out}");
    Ok(())
}

fn admin_scenario(data_dir: &Path, database_url: Option<&str>) -> TestResult {
    let server = Server::start_with(data_dir, database_url, Some(CONFIG))?;
    types_and_access(&server)?;
    catalogue(&server)?;
    placement_and_quotas(&server)?;
    qos_filters_and_old_clients(&server)?;
    disabling(&server)?;
    messages_need_33(&server)
}

#[test]
fn cinder_admin_on_sqlite() -> TestResult {
    let dir = tempfile::tempdir()?;
    admin_scenario(dir.path(), None)
}

#[test]
fn cinder_admin_on_postgres() -> TestResult {
    let db = PgDatabase::create()?;
    let dir = tempfile::tempdir()?;
    admin_scenario(dir.path(), Some(&db.url()))
}

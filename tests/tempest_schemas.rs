//! Every route Tempest has a response schema for, called the way Tempest's volume tests
//! call it, and each answer checked against that schema by `tests/tempest_schemas.py`
//! (Tempest's own modules, `tempest==47.0.0` from `tests/requirements.txt`, and its own
//! `validate_response`): status code, body with `additionalProperties` false, headers.
//! The volume and service schemas are checked at each microversion range Tempest's
//! clients give a schema of its own; the others without a microversion, as Tempest's
//! clients send them. A shape that drifts from what OpenStack's suite accepts fails here.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::{ADMIN, ALICE, TestApp, TestResult, at, eventually, json_req, req};
use serde_json::{Map, Value, json};

const WAIT: Duration = Duration::from_secs(10);

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The answers gathered so far, checked together at the end (one Python start).
struct Recorder {
    app: TestApp,
    seen: Vec<Value>,
}

impl Recorder {
    async fn new() -> BoxResult<Recorder> {
        let mut app = TestApp::new().await?;
        // 3.71 is advertised already; this only keeps the test independent of that.
        app.raise_max_version();
        Ok(Recorder {
            app,
            seen: Vec::new(),
        })
    }

    /// Sends `method path` (with `body` if any) as `token` at `3.<minor>` (no header when
    /// `None`), records the answer for `schema` and returns its body.
    async fn call(
        &mut self,
        schema: &str,
        minor: Option<u16>,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let mut r: TestRequest = match &body {
            Some(b) => json_req(method, path, token, b),
            None => req(method, path, token),
        };
        if let Some(m) = minor {
            r = at(m, r);
        }
        let (status, answer, headers) = self.app.call(r).await;
        let headers: Map<String, Value> = headers
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), json!(v.to_str().ok()?))))
            .collect();
        self.seen.push(json!({
            "label": format!("{method} {path} as {token}"),
            "schema": schema,
            "version": minor.map(|m| format!("3.{m}")),
            "status": status.as_u16(),
            "headers": headers,
            "body": answer,
        }));
        answer
    }

    /// `POST <action>` without a microversion.
    async fn call_action(&mut self, action: &str, schema: &str, token: &str, body: Value) -> Value {
        self.call(schema, None, "POST", action, token, Some(body))
            .await
    }

    async fn get(&mut self, schema: &str, minor: Option<u16>, path: &str, token: &str) -> Value {
        self.call(schema, minor, "GET", path, token, None).await
    }

    /// Waits until `path`'s `element` has `status` (not recorded: Tempest's waiters
    /// poll with the show call, checked elsewhere).
    async fn wait(&self, path: &str, element: &str, status: &str) -> BoxResult<()> {
        eventually(WAIT, || async {
            let (_, v, _) = self.app.call(req("GET", path, ADMIN)).await;
            (v[element]["status"] == status).then_some(())
        })
        .await
        .ok_or_else(|| format!("{path} never became {status}").into())
    }

    /// Runs the checker on everything recorded; any mismatch fails the test.
    fn check(&self) -> TestResult {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tempest_schemas.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!("cannot run python3 (scripts/test puts .venv first on PATH): {e}")
            })?;
        let input = serde_json::to_vec(&self.seen)?;
        child.stdin.take().ok_or("no stdin")?.write_all(&input)?;
        let out = child.wait_with_output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!("{text}");
        if !out.status.success() {
            return Err(format!(
                "answers outside Tempest's schemas (is tempest from tests/requirements.txt installed?):\n{text}"
            )
            .into());
        }
        if !text.contains(&format!("{} answers match", self.seen.len())) {
            return Err(format!("the checker did not check every answer: {text}").into());
        }
        Ok(())
    }
}

fn id_of(v: &Value, element: &str) -> BoxResult<String> {
    v[element]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no {element} id in {v}").into())
}

/// The volume views, at a microversion of each range Tempest's volumes client gives a
/// schema module of its own (3.0-3.60, 3.61-3.62, 3.63, 3.64, 3.65-3.68, 3.69+).
#[actix_web::test]
async fn volume_answers_match_at_every_microversion() -> TestResult {
    let mut r = Recorder::new().await?;
    for minor in [
        None,
        Some(12),
        Some(60),
        Some(61),
        Some(63),
        Some(64),
        Some(65),
        Some(69),
        Some(71),
    ] {
        let base = "/v3/0a0a/volumes";
        let v = r
            .call(
                "volumes.create_volume",
                minor,
                "POST",
                base,
                ALICE,
                Some(json!({"volume": {"size": 1, "name": "v", "metadata": {"k": "v"}}})),
            )
            .await;
        let id = id_of(&v, "volume")?;
        let path = format!("{base}/{id}");
        r.wait(&path, "volume", "available").await?;
        r.get("volumes.show_volume", minor, &path, ALICE).await;
        r.get("volumes.show_volume", minor, &path, ADMIN).await;
        r.get("volumes.list_volumes_no_detail", minor, base, ALICE)
            .await;
        r.get(
            "volumes.list_volumes_with_detail",
            minor,
            &format!("{base}/detail"),
            ALICE,
        )
        .await;
        r.get(
            "volumes.list_volumes_with_detail",
            minor,
            &format!("{base}/detail?all_tenants=1&limit=1"),
            ADMIN,
        )
        .await;
        r.call(
            "volumes.update_volume",
            minor,
            "PUT",
            &path,
            ALICE,
            Some(json!({"volume": {"name": "renamed", "description": "d"}})),
        )
        .await;
        if minor.is_some_and(|m| m >= 12) {
            r.get(
                "volumes.show_volume_summary",
                minor,
                &format!("{base}/summary"),
                ALICE,
            )
            .await;
        }
        r.call("volumes.delete_volume", minor, "DELETE", &path, ALICE, None)
            .await;
    }
    r.check()
}

/// Volume metadata and actions, without a microversion as Tempest sends them.
#[actix_web::test]
async fn volume_metadata_and_action_answers_match() -> TestResult {
    let mut r = Recorder::new().await?;
    let id = r.app.available_volume(ALICE, 1).await?;
    let path = format!("/v3/0a0a/volumes/{id}");
    let meta = format!("{path}/metadata");
    let m = |b: Value| Some(json!({"metadata": b}));
    r.call(
        "volumes.create_volume_metadata",
        None,
        "POST",
        &meta,
        ALICE,
        m(json!({"a": "1", "b": "2"})),
    )
    .await;
    r.get("volumes.show_volume_metadata", None, &meta, ALICE)
        .await;
    r.call(
        "volumes.update_volume_metadata",
        None,
        "PUT",
        &meta,
        ALICE,
        m(json!({"a": "3"})),
    )
    .await;
    let item = format!("{meta}/a");
    r.get("volumes.show_volume_metadata_item", None, &item, ALICE)
        .await;
    r.call(
        "volumes.update_volume_metadata_item",
        None,
        "PUT",
        &item,
        ALICE,
        Some(json!({"meta": {"a": "4"}})),
    )
    .await;
    r.call(
        "volumes.delete_volume_metadata_item",
        None,
        "DELETE",
        &item,
        ALICE,
        None,
    )
    .await;

    let action = format!("{path}/action");
    r.call_action(
        &action,
        "volumes.set_bootable_volume",
        ALICE,
        json!({"os-set_bootable": {"bootable": true}}),
    )
    .await;
    r.call_action(
        &action,
        "volumes.update_volume_readonly",
        ALICE,
        json!({"os-update_readonly_flag": {"readonly": true}}),
    )
    .await;
    r.call_action(
        &action,
        "volumes.update_volume_readonly",
        ALICE,
        json!({"os-update_readonly_flag": {"readonly": false}}),
    )
    .await;
    r.call_action(
        &action,
        "volumes.reserve_volume",
        ALICE,
        json!({"os-reserve": null}),
    )
    .await;
    r.call_action(
        &action,
        "volumes.unreserve_volume",
        ALICE,
        json!({"os-unreserve": null}),
    )
    .await;
    r.call_action(
        &action,
        "volumes.extend_volume",
        ALICE,
        json!({"os-extend": {"new_size": 2}}),
    )
    .await;
    r.wait(&path, "volume", "available").await?;
    r.call_action(&action,
        "volumes.attach_volume",
        ALICE,
        json!({"os-attach": {"instance_uuid": "8d5bd1e3-1ad2-4a8f-8a76-1c4a1d5c3e11", "mountpoint": "/dev/vdb"}}),
    )
    .await;
    r.wait(&path, "volume", "in-use").await?;
    let (_, shown, _) = r.app.call(req("GET", &path, ALICE)).await;
    r.get("volumes.show_volume", None, &path, ALICE).await;
    let attachment = shown["volume"]["attachments"][0]["attachment_id"]
        .as_str()
        .ok_or_else(|| format!("no attachment: {shown}"))?
        .to_string();
    r.call_action(
        &action,
        "volumes.detach_volume",
        ALICE,
        json!({"os-detach": {"attachment_id": attachment}}),
    )
    .await;
    r.wait(&path, "volume", "available").await?;
    r.call_action(&action,
        "volumes.terminate_connection",
        ALICE,
        json!({"os-terminate_connection": {"connector": {"host": "h", "initiator": "iqn.2004-10.org.debian:h"}}}),
    )
    .await;
    r.call_action(
        &action,
        "volumes.reset_volume_status",
        ADMIN,
        json!({"os-reset_status": {"status": "available"}}),
    )
    .await;
    r.call_action(
        &action,
        "volumes.force_delete_volume",
        ADMIN,
        json!({"os-force_delete": null}),
    )
    .await;
    r.check()
}

/// Snapshots and their metadata.
#[actix_web::test]
async fn snapshot_answers_match() -> TestResult {
    let mut r = Recorder::new().await?;
    let vol = r.app.available_volume(ALICE, 1).await?;
    let base = "/v3/0a0a/snapshots";
    let v = r
        .call(
            "snapshots.create_snapshot",
            None,
            "POST",
            base,
            ALICE,
            Some(json!({"snapshot": {"volume_id": vol, "name": "s", "metadata": {"k": "v"}}})),
        )
        .await;
    let id = id_of(&v, "snapshot")?;
    let path = format!("{base}/{id}");
    r.wait(&path, "snapshot", "available").await?;
    r.get("snapshots.show_snapshot", None, &path, ALICE).await;
    r.get("snapshots.list_snapshots_no_detail", None, base, ALICE)
        .await;
    r.get(
        "snapshots.list_snapshots_no_detail",
        None,
        &format!("{base}?limit=1&sort=name:asc"),
        ALICE,
    )
    .await;
    r.get(
        "snapshots.list_snapshots_with_detail",
        None,
        &format!("{base}/detail"),
        ALICE,
    )
    .await;
    r.get(
        "snapshots.list_snapshots_with_detail",
        None,
        &format!("{base}/detail?all_tenants=1&limit=1"),
        ADMIN,
    )
    .await;
    r.call(
        "snapshots.update_snapshot",
        None,
        "PUT",
        &path,
        ALICE,
        Some(json!({"snapshot": {"name": "renamed", "description": "d"}})),
    )
    .await;
    let meta = format!("{path}/metadata");
    let m = |b: Value| Some(json!({"metadata": b}));
    r.call(
        "snapshots.create_snapshot_metadata",
        None,
        "POST",
        &meta,
        ALICE,
        m(json!({"a": "1"})),
    )
    .await;
    r.get("snapshots.show_snapshot_metadata", None, &meta, ALICE)
        .await;
    r.call(
        "snapshots.update_snapshot_metadata",
        None,
        "PUT",
        &meta,
        ALICE,
        m(json!({"a": "2", "b": "3"})),
    )
    .await;
    let item = format!("{meta}/a");
    r.get("snapshots.show_snapshot_metadata_item", None, &item, ALICE)
        .await;
    r.call(
        "snapshots.update_snapshot_metadata_item",
        None,
        "PUT",
        &item,
        ALICE,
        Some(json!({"meta": {"a": "4"}})),
    )
    .await;
    r.call(
        "snapshots.delete_snapshot_metadata_item",
        None,
        "DELETE",
        &item,
        ALICE,
        None,
    )
    .await;
    let action = format!("{path}/action");
    r.call(
        "snapshots.reset_snapshot_status",
        None,
        "POST",
        &action,
        ADMIN,
        Some(json!({"os-reset_status": {"status": "available"}})),
    )
    .await;
    r.call(
        "snapshots.update_snapshot_status",
        None,
        "POST",
        &action,
        ADMIN,
        Some(json!({"os-update_snapshot_status": {"status": "available", "progress": "100%"}})),
    )
    .await;
    r.call(
        "snapshots.delete_snapshot",
        None,
        "DELETE",
        &path,
        ALICE,
        None,
    )
    .await;
    r.app.call(req("GET", &path, ALICE)).await;
    let v = r
        .call(
            "snapshots.create_snapshot",
            None,
            "POST",
            base,
            ALICE,
            Some(json!({"snapshot": {"volume_id": vol}})),
        )
        .await;
    let second = format!("{base}/{}", id_of(&v, "snapshot")?);
    r.wait(&second, "snapshot", "available").await?;
    r.call(
        "snapshots.force_delete_snapshot",
        None,
        "POST",
        &format!("{second}/action"),
        ADMIN,
        Some(json!({"os-force_delete": {}})),
    )
    .await;
    r.check()
}

/// Volume types, extra specs, type access, QoS specs.
#[actix_web::test]
async fn type_and_qos_answers_match() -> TestResult {
    let mut r = Recorder::new().await?;
    let v = r
        .call(
            "volume_types.create_volume_type",
            None,
            "POST",
            "/v3/0a0a/types",
            ADMIN,
            Some(json!({"volume_type": {"name": "gold", "description": "g", "extra_specs": {"k": "v"}}})),
        )
        .await;
    let t = id_of(&v, "volume_type")?;
    let path = format!("/v3/0a0a/types/{t}");
    for token in [ADMIN, ALICE] {
        r.get("volume_types.show_volume_type", None, &path, token)
            .await;
        r.get(
            "volume_types.list_volume_types",
            None,
            "/v3/0a0a/types",
            token,
        )
        .await;
    }
    r.call(
        "volume_types.update_volume_types",
        None,
        "PUT",
        &path,
        ADMIN,
        Some(json!({"volume_type": {"description": "shiny"}})),
    )
    .await;
    let specs = format!("{path}/extra_specs");
    r.get(
        "volume_types.list_volume_types_extra_specs",
        None,
        &specs,
        ADMIN,
    )
    .await;
    r.call(
        "volume_types.create_volume_types_extra_specs",
        None,
        "POST",
        &specs,
        ADMIN,
        Some(json!({"extra_specs": {"a": "1"}})),
    )
    .await;
    let spec = format!("{specs}/a");
    r.get(
        "volume_types.show_volume_types_extra_specs",
        None,
        &spec,
        ADMIN,
    )
    .await;
    r.call(
        "volume_types.update_volume_type_extra_specs",
        None,
        "PUT",
        &spec,
        ADMIN,
        Some(json!({"a": "2"})),
    )
    .await;
    r.call(
        "volume_types.delete_volume_types_extra_specs",
        None,
        "DELETE",
        &spec,
        ADMIN,
        None,
    )
    .await;

    // A private type for the access calls.
    let v = r
        .call(
            "volume_types.create_volume_type",
            None,
            "POST",
            "/v3/0a0a/types",
            ADMIN,
            Some(json!({"volume_type": {"name": "private", "os-volume-type-access:is_public": false}})),
        )
        .await;
    let private = id_of(&v, "volume_type")?;
    let access = format!("/v3/0a0a/types/{private}/action");
    let project = "5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c";
    r.call(
        "volume_types.add_type_access",
        None,
        "POST",
        &access,
        ADMIN,
        Some(json!({"addProjectAccess": {"project": project}})),
    )
    .await;
    r.get(
        "volume_types.list_type_access",
        None,
        &format!("/v3/0a0a/types/{private}/os-volume-type-access"),
        ADMIN,
    )
    .await;
    r.call(
        "volume_types.remove_type_access",
        None,
        "POST",
        &access,
        ADMIN,
        Some(json!({"removeProjectAccess": {"project": project}})),
    )
    .await;

    let v = r
        .call(
            "qos.show_qos",
            None,
            "POST",
            "/v3/0a0a/qos-specs",
            ADMIN,
            Some(
                json!({"qos_specs": {"name": "q", "consumer": "back-end", "read_iops_sec": "100"}}),
            ),
        )
        .await;
    let q = id_of(&v, "qos_specs")?;
    let qos = format!("/v3/0a0a/qos-specs/{q}");
    r.get("qos.show_qos", None, &qos, ADMIN).await;
    r.get("qos.list_qos", None, "/v3/0a0a/qos-specs", ADMIN)
        .await;
    r.call(
        "qos.set_qos_key",
        None,
        "PUT",
        &qos,
        ADMIN,
        Some(json!({"qos_specs": {"write_iops_sec": "50"}})),
    )
    .await;
    r.call(
        "qos.unset_qos_key",
        None,
        "PUT",
        &format!("{qos}/delete_keys"),
        ADMIN,
        Some(json!({"keys": ["write_iops_sec"]})),
    )
    .await;
    r.get(
        "qos.associate_qos",
        None,
        &format!("{qos}/associate?vol_type_id={t}"),
        ADMIN,
    )
    .await;
    r.get(
        "qos.show_association_qos",
        None,
        &format!("{qos}/associations"),
        ADMIN,
    )
    .await;
    r.get("volume_types.show_volume_type", None, &path, ADMIN)
        .await;
    r.get(
        "qos.disassociate_qos",
        None,
        &format!("{qos}/disassociate?vol_type_id={t}"),
        ADMIN,
    )
    .await;
    r.get(
        "qos.associate_qos",
        None,
        &format!("{qos}/associate?vol_type_id={t}"),
        ADMIN,
    )
    .await;
    r.get(
        "qos.disassociate_all_qos",
        None,
        &format!("{qos}/disassociate_all"),
        ADMIN,
    )
    .await;
    r.call("qos.delete_qos", None, "DELETE", &qos, ADMIN, None)
        .await;
    r.call(
        "volume_types.delete_volume_type",
        None,
        "DELETE",
        &path,
        ADMIN,
        None,
    )
    .await;
    r.check()
}

/// Quotas, quota classes, limits.
#[actix_web::test]
async fn quota_and_limit_answers_match() -> TestResult {
    let mut r = Recorder::new().await?;
    let quota = "/v3/0a0a/os-quota-sets/0b0b";
    r.get("quotas.show_quota_set", None, quota, ADMIN).await;
    r.get(
        "quotas.show_quota_set",
        None,
        &format!("{quota}/defaults"),
        ADMIN,
    )
    .await;
    r.get(
        "quotas.show_quota_set_usage",
        None,
        &format!("{quota}?usage=True"),
        ADMIN,
    )
    .await;
    r.get(
        "quotas.show_quota_set",
        None,
        "/v3/0a0a/os-quota-sets/0a0a",
        ALICE,
    )
    .await;
    r.call(
        "quotas.update_quota_set",
        None,
        "PUT",
        quota,
        ADMIN,
        Some(json!({"quota_set": {"volumes": 7, "gigabytes": 70}})),
    )
    .await;
    r.call(
        "quotas.delete_quota_set",
        None,
        "DELETE",
        quota,
        ADMIN,
        None,
    )
    .await;
    let class = "/v3/0a0a/os-quota-class-sets/default";
    r.get("quota_classes.show_quota_classes", None, class, ADMIN)
        .await;
    r.call(
        "quota_classes.update_quota_classes",
        None,
        "PUT",
        class,
        ADMIN,
        Some(json!({"quota_class_set": {"volumes": 20}})),
    )
    .await;
    r.get("limits.show_limits", None, "/v3/0a0a/limits", ALICE)
        .await;
    r.check()
}

/// Services (3.0-3.6 and 3.7+), pools, capabilities, user messages, extensions, versions.
#[actix_web::test]
async fn catalogue_answers_match() -> TestResult {
    let mut r = Recorder::new().await?;
    r.get("versions.list_versions", None, "/", ALICE).await;
    r.get("versions.volume_api_version_details", None, "/v3/", ALICE)
        .await;
    r.get(
        "extensions.list_extensions",
        None,
        "/v3/0a0a/extensions",
        ALICE,
    )
    .await;
    let services = r
        .get(
            "services.list_services",
            None,
            "/v3/0a0a/os-services",
            ADMIN,
        )
        .await;
    r.get(
        "services.list_services",
        Some(7),
        "/v3/0a0a/os-services",
        ADMIN,
    )
    .await;
    r.get(
        "services.list_services",
        Some(7),
        "/v3/0a0a/os-services?binary=cinder-volume",
        ADMIN,
    )
    .await;
    let volume_service = services["services"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["binary"] == "cinder-volume")
        .ok_or_else(|| format!("no cinder-volume service: {services}"))?;
    let host = volume_service["host"]
        .as_str()
        .ok_or("no host")?
        .to_string();
    let svc = json!({"host": host, "binary": "cinder-volume"});
    for minor in [None, Some(7)] {
        r.call(
            "services.disable_service",
            minor,
            "PUT",
            "/v3/0a0a/os-services/disable",
            ADMIN,
            Some(svc.clone()),
        )
        .await;
        let mut reason = svc.clone();
        reason["disabled_reason"] = json!("maintenance");
        r.call(
            "services.disable_log_reason",
            minor,
            "PUT",
            "/v3/0a0a/os-services/disable-log-reason",
            ADMIN,
            Some(reason),
        )
        .await;
        r.call(
            "services.enable_service",
            minor,
            "PUT",
            "/v3/0a0a/os-services/enable",
            ADMIN,
            Some(svc.clone()),
        )
        .await;
    }
    let pools = r
        .get(
            "scheduler_stats.get_pools_no_detail",
            None,
            "/v3/0a0a/scheduler-stats/get_pools",
            ADMIN,
        )
        .await;
    r.get(
        "scheduler_stats.get_pools_with_detail",
        None,
        "/v3/0a0a/scheduler-stats/get_pools?detail=True",
        ADMIN,
    )
    .await;
    let pool = pools["pools"][0]["name"]
        .as_str()
        .ok_or_else(|| format!("no pool: {pools}"))?;
    let backend = pool.split('#').next().unwrap_or(pool).to_string();
    r.get(
        "capabilities.show_backend_capabilities",
        None,
        &format!("/v3/0a0a/capabilities/{backend}"),
        ADMIN,
    )
    .await;

    // A volume no node can take leaves a user message (3.3+).
    let (s, v, _) = r
        .app
        .call(json_req(
            "POST",
            "/v3/types",
            ADMIN,
            &json!({"volume_type": {"name": "nowhere", "extra_specs": {"capabilities:tier": "none"}}}),
        ))
        .await;
    if s != StatusCode::OK {
        return Err(format!("type create answered {s}: {v}").into());
    }
    r.app
        .create_volume(
            ALICE,
            &json!({"volume": {"size": 1, "volume_type": "nowhere"}}),
        )
        .await?;
    let list = "/v3/0a0a/messages";
    let first = eventually(WAIT, || async {
        let (_, v, _) = r.app.call(at(3, req("GET", list, ALICE))).await;
        v["messages"][0]["id"].as_str().map(str::to_string)
    })
    .await
    .ok_or("no user message was written")?;
    r.get("messages.list_messages", Some(3), list, ALICE).await;
    let one = format!("{list}/{first}");
    r.get("messages.show_message", Some(3), &one, ALICE).await;
    r.call(
        "messages.delete_message",
        Some(3),
        "DELETE",
        &one,
        ALICE,
        None,
    )
    .await;
    r.check()
}

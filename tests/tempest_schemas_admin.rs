//! Types, extra specs, type access, QoS, quotas, limits, services, pools, capabilities,
//! hosts, user messages, extensions and versions, called as Tempest calls them and
//! checked against Tempest's response schemas (see `common_tempest`): without a
//! microversion, as Tempest sends them, except the service list (also at 3.7, where
//! Tempest's client has a schema of its own) and messages (3.3, where they begin).

mod common;
mod common_tempest;

use actix_web::http::StatusCode;
use common::{ADMIN, ALICE, TestResult, at, eventually, json_req, req};
use common_tempest::{Recorder, WAIT, id_of};
use serde_json::{Value, json};

#[actix_web::test]
async fn type_answers_match() -> TestResult {
    let mut r = Recorder::new().await?;
    let types = "/v3/0a0a/types";
    let body =
        json!({"volume_type": {"name": "gold", "description": "g", "extra_specs": {"k": "v"}}});
    let v = r
        .with(
            "volume_types.create_volume_type",
            "POST",
            types,
            ADMIN,
            body,
        )
        .await;
    let path = format!("{types}/{}", id_of(&v, "volume_type")?);
    for token in [ADMIN, ALICE] {
        r.get("volume_types.show_volume_type", &path, token).await;
        r.get("volume_types.list_volume_types", types, token).await;
    }
    let update = json!({"volume_type": {"description": "shiny"}});
    r.with(
        "volume_types.update_volume_types",
        "PUT",
        &path,
        ADMIN,
        update,
    )
    .await;
    let specs = format!("{path}/extra_specs");
    let spec = format!("{specs}/a");
    r.get("volume_types.list_volume_types_extra_specs", &specs, ADMIN)
        .await;
    let add = json!({"extra_specs": {"a": "1"}});
    r.with(
        "volume_types.create_volume_types_extra_specs",
        "POST",
        &specs,
        ADMIN,
        add,
    )
    .await;
    r.get("volume_types.show_volume_types_extra_specs", &spec, ADMIN)
        .await;
    r.with(
        "volume_types.update_volume_type_extra_specs",
        "PUT",
        &spec,
        ADMIN,
        json!({"a": "2"}),
    )
    .await;
    r.send(
        "volume_types.delete_volume_types_extra_specs",
        "DELETE",
        &spec,
        ADMIN,
        None,
    )
    .await;

    let private =
        json!({"volume_type": {"name": "private", "os-volume-type-access:is_public": false}});
    let v = r
        .with(
            "volume_types.create_volume_type",
            "POST",
            types,
            ADMIN,
            private,
        )
        .await;
    let private = format!("{types}/{}", id_of(&v, "volume_type")?);
    let action = format!("{private}/action");
    let project = "5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c";
    let add = json!({"addProjectAccess": {"project": project}});
    r.with("volume_types.add_type_access", "POST", &action, ADMIN, add)
        .await;
    let access = format!("{private}/os-volume-type-access");
    r.get("volume_types.list_type_access", &access, ADMIN).await;
    let remove = json!({"removeProjectAccess": {"project": project}});
    r.with(
        "volume_types.remove_type_access",
        "POST",
        &action,
        ADMIN,
        remove,
    )
    .await;
    r.send(
        "volume_types.delete_volume_type",
        "DELETE",
        &private,
        ADMIN,
        None,
    )
    .await;
    r.check()
}

#[actix_web::test]
async fn qos_answers_match() -> TestResult {
    let mut r = Recorder::new().await?;
    let (s, v, _) = r
        .app
        .call(json_req(
            "POST",
            "/v3/0a0a/types",
            ADMIN,
            &json!({"volume_type": {"name": "q"}}),
        ))
        .await;
    if s != StatusCode::OK {
        return Err(format!("type create answered {s}: {v}").into());
    }
    let t = id_of(&v, "volume_type")?;
    let list = "/v3/0a0a/qos-specs";
    let body = json!({"qos_specs": {"name": "q", "consumer": "back-end", "read_iops_sec": "100"}});
    // Tempest's client checks the create answer with `show_qos`.
    let v = r.with("qos.show_qos", "POST", list, ADMIN, body).await;
    let qos = format!("{list}/{}", id_of(&v, "qos_specs")?);
    r.get("qos.show_qos", &qos, ADMIN).await;
    r.get("qos.list_qos", list, ADMIN).await;
    let set = json!({"qos_specs": {"write_iops_sec": "50"}});
    r.with("qos.set_qos_key", "PUT", &qos, ADMIN, set).await;
    let unset = json!({"keys": ["write_iops_sec"]});
    r.with(
        "qos.unset_qos_key",
        "PUT",
        &format!("{qos}/delete_keys"),
        ADMIN,
        unset,
    )
    .await;
    let associate = format!("{qos}/associate?vol_type_id={t}");
    r.get("qos.associate_qos", &associate, ADMIN).await;
    r.get(
        "qos.show_association_qos",
        &format!("{qos}/associations"),
        ADMIN,
    )
    .await;
    r.get(
        "volume_types.show_volume_type",
        &format!("/v3/0a0a/types/{t}"),
        ADMIN,
    )
    .await;
    r.get(
        "qos.disassociate_qos",
        &format!("{qos}/disassociate?vol_type_id={t}"),
        ADMIN,
    )
    .await;
    r.get("qos.associate_qos", &associate, ADMIN).await;
    r.get(
        "qos.disassociate_all_qos",
        &format!("{qos}/disassociate_all"),
        ADMIN,
    )
    .await;
    r.send("qos.delete_qos", "DELETE", &qos, ADMIN, None).await;
    r.check()
}

#[actix_web::test]
async fn quota_and_limit_answers_match() -> TestResult {
    let mut r = Recorder::new().await?;
    let quota = "/v3/0a0a/os-quota-sets/0b0b";
    r.get("quotas.show_quota_set", quota, ADMIN).await;
    r.get("quotas.show_quota_set", &format!("{quota}/defaults"), ADMIN)
        .await;
    r.get(
        "quotas.show_quota_set_usage",
        &format!("{quota}?usage=True"),
        ADMIN,
    )
    .await;
    r.get(
        "quotas.show_quota_set",
        "/v3/0a0a/os-quota-sets/0a0a",
        ALICE,
    )
    .await;
    let update = json!({"quota_set": {"volumes": 7, "gigabytes": 70}});
    r.with("quotas.update_quota_set", "PUT", quota, ADMIN, update)
        .await;
    r.send("quotas.delete_quota_set", "DELETE", quota, ADMIN, None)
        .await;
    let class = "/v3/0a0a/os-quota-class-sets/default";
    r.get("quota_classes.show_quota_classes", class, ADMIN)
        .await;
    let update = json!({"quota_class_set": {"volumes": 20}});
    r.with(
        "quota_classes.update_quota_classes",
        "PUT",
        class,
        ADMIN,
        update,
    )
    .await;
    r.get("limits.show_limits", "/v3/0a0a/limits", ALICE).await;
    r.check()
}

#[actix_web::test]
async fn catalogue_answers_match() -> TestResult {
    let mut r = Recorder::new().await?;
    r.get("versions.list_versions", "/", ALICE).await;
    r.get("versions.volume_api_version_details", "/v3/", ALICE)
        .await;
    r.get("extensions.list_extensions", "/v3/0a0a/extensions", ALICE)
        .await;
    let services = r
        .get("services.list_services", "/v3/0a0a/os-services", ADMIN)
        .await;
    r.at(Some(7));
    r.get("services.list_services", "/v3/0a0a/os-services", ADMIN)
        .await;
    r.get(
        "services.list_services",
        "/v3/0a0a/os-services?binary=cinder-volume",
        ADMIN,
    )
    .await;
    r.at(None);
    let host = services["services"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["binary"] == "cinder-volume")
        .and_then(|s| s["host"].as_str())
        .ok_or_else(|| format!("no cinder-volume service: {services}"))?
        .to_string();
    let svc = json!({"host": host, "binary": "cinder-volume"});
    let mut reason = svc.clone();
    reason["disabled_reason"] = json!("maintenance");
    for (schema, action, body) in [
        ("disable_service", "disable", svc.clone()),
        ("disable_log_reason", "disable-log-reason", reason),
        ("enable_service", "enable", svc),
    ] {
        let path = format!("/v3/0a0a/os-services/{action}");
        r.with(&format!("services.{schema}"), "PUT", &path, ADMIN, body)
            .await;
    }
    let pools = "/v3/0a0a/scheduler-stats/get_pools";
    let listed = r
        .get("scheduler_stats.get_pools_no_detail", pools, ADMIN)
        .await;
    r.get(
        "scheduler_stats.get_pools_with_detail",
        &format!("{pools}?detail=True"),
        ADMIN,
    )
    .await;
    let pool = listed["pools"][0]["name"]
        .as_str()
        .ok_or_else(|| format!("no pool: {listed}"))?;
    let backend = pool.split('#').next().unwrap_or(pool).to_string();
    let capabilities = format!("/v3/0a0a/capabilities/{backend}");
    r.get(
        "capabilities.show_backend_capabilities",
        &capabilities,
        ADMIN,
    )
    .await;
    r.get("hosts.list_hosts", "/v3/0a0a/os-hosts", ADMIN).await;
    r.app.available_volume(ALICE, 1).await?;
    r.get(
        "hosts.show_host",
        &format!("/v3/0a0a/os-hosts/{backend}"),
        ADMIN,
    )
    .await;
    r.check()
}

#[actix_web::test]
async fn message_answers_match() -> TestResult {
    let mut r = Recorder::new().await?;
    // A volume no node can take leaves a user message.
    let nowhere =
        json!({"volume_type": {"name": "nowhere", "extra_specs": {"capabilities:tier": "none"}}});
    let (s, v, _) = r
        .app
        .call(json_req("POST", "/v3/types", ADMIN, &nowhere))
        .await;
    if s != StatusCode::OK {
        return Err(format!("type create answered {s}: {v}").into());
    }
    let volume = json!({"volume": {"size": 1, "volume_type": "nowhere"}});
    r.app.create_volume(ALICE, &volume).await?;
    let list = "/v3/0a0a/messages";
    let first = eventually(WAIT, || async {
        let (_, v, _): (_, Value, _) = r.app.call(at(3, req("GET", list, ALICE))).await;
        v["messages"][0]["id"].as_str().map(str::to_string)
    })
    .await
    .ok_or("no user message was written")?;
    r.at(Some(3));
    r.get("messages.list_messages", list, ALICE).await;
    let one = format!("{list}/{first}");
    r.get("messages.show_message", &one, ALICE).await;
    r.send("messages.delete_message", "DELETE", &one, ALICE, None)
        .await;
    r.check()
}

//! Volumes, their metadata and actions, and snapshots, called as Tempest calls them and
//! checked against Tempest's response schemas (see `common_tempest`). The volume views
//! are checked at a microversion of each range Tempest's volumes client has a schema
//! module for; the calls that client checks with its base schema at every version, up
//! to 3.60 (above, that schema would refuse Cinder's own answer); the rest without a
//! microversion, as Tempest sends them.

mod common;
mod common_tempest;

use common::{ADMIN, ALICE, TestResult};
use common_tempest::{Recorder, id_of};
use serde_json::json;

/// One of each range: 3.0-3.60, 3.61-3.62, 3.63, 3.64, 3.65-3.68, 3.69+ (3.71 is the top).
const VOLUME_VERSIONS: [Option<u16>; 9] = [
    None,
    Some(12),
    Some(60),
    Some(61),
    Some(63),
    Some(64),
    Some(65),
    Some(69),
    Some(71),
];

#[actix_web::test]
async fn volume_answers_match_at_every_microversion() -> TestResult {
    let mut r = Recorder::new().await?;
    let base = "/v3/0a0a/volumes";
    for minor in VOLUME_VERSIONS {
        r.at(minor);
        let body = json!({"volume": {"size": 1, "name": "v", "metadata": {"k": "v"}}});
        let v = r
            .with("volumes.create_volume", "POST", base, ALICE, body)
            .await;
        let path = format!("{base}/{}", id_of(&v, "volume")?);
        r.wait(&path, "volume", "available").await?;
        for token in [ALICE, ADMIN] {
            r.get("volumes.show_volume", &path, token).await;
        }
        r.get("volumes.list_volumes_no_detail", base, ALICE).await;
        r.get(
            "volumes.list_volumes_no_detail",
            &format!("{base}?limit=1"),
            ALICE,
        )
        .await;
        let detail = "volumes.list_volumes_with_detail";
        r.get(detail, &format!("{base}/detail"), ALICE).await;
        r.get(
            detail,
            &format!("{base}/detail?all_tenants=1&limit=1"),
            ADMIN,
        )
        .await;
        if minor.is_none_or(|m| m <= 60) {
            let body = json!({"volume": {"name": "renamed", "description": "d"}});
            r.with("volumes.update_volume", "PUT", &path, ALICE, body)
                .await;
        }
        if minor.is_some_and(|m| (12..=60).contains(&m)) {
            r.get(
                "volumes.show_volume_summary",
                &format!("{base}/summary"),
                ALICE,
            )
            .await;
        }
        if minor.is_none_or(|m| m <= 60) {
            r.send("volumes.delete_volume", "DELETE", &path, ALICE, None)
                .await;
        } else {
            r.app.call(common::req("DELETE", &path, ALICE)).await;
        }
    }
    r.check()
}

#[actix_web::test]
async fn volume_metadata_and_action_answers_match() -> TestResult {
    let mut r = Recorder::new().await?;
    let id = r.app.available_volume(ALICE, 1).await?;
    let path = format!("/v3/0a0a/volumes/{id}");
    let meta = format!("{path}/metadata");
    let item = format!("{meta}/a");
    let m = |b| json!({"metadata": b});
    r.with(
        "volumes.create_volume_metadata",
        "POST",
        &meta,
        ALICE,
        m(json!({"a": "1", "b": "2"})),
    )
    .await;
    r.get("volumes.show_volume_metadata", &meta, ALICE).await;
    r.with(
        "volumes.update_volume_metadata",
        "PUT",
        &meta,
        ALICE,
        m(json!({"a": "3"})),
    )
    .await;
    r.get("volumes.show_volume_metadata_item", &item, ALICE)
        .await;
    let one = json!({"meta": {"a": "4"}});
    r.with(
        "volumes.update_volume_metadata_item",
        "PUT",
        &item,
        ALICE,
        one,
    )
    .await;
    r.send(
        "volumes.delete_volume_metadata_item",
        "DELETE",
        &item,
        ALICE,
        None,
    )
    .await;

    let action = format!("{path}/action");
    for (schema, token, body) in [
        (
            "set_bootable_volume",
            ALICE,
            json!({"os-set_bootable": {"bootable": true}}),
        ),
        (
            "update_volume_readonly",
            ALICE,
            json!({"os-update_readonly_flag": {"readonly": true}}),
        ),
        (
            "update_volume_readonly",
            ALICE,
            json!({"os-update_readonly_flag": {"readonly": false}}),
        ),
        ("reserve_volume", ALICE, json!({"os-reserve": null})),
        ("unreserve_volume", ALICE, json!({"os-unreserve": null})),
        (
            "extend_volume",
            ALICE,
            json!({"os-extend": {"new_size": 2}}),
        ),
    ] {
        r.with(&format!("volumes.{schema}"), "POST", &action, token, body)
            .await;
    }
    r.wait(&path, "volume", "available").await?;
    let server = "8d5bd1e3-1ad2-4a8f-8a76-1c4a1d5c3e11";
    let attach = json!({"os-attach": {"instance_uuid": server, "mountpoint": "/dev/vdb"}});
    r.with("volumes.attach_volume", "POST", &action, ALICE, attach)
        .await;
    r.wait(&path, "volume", "in-use").await?;
    let shown = r.get("volumes.show_volume", &path, ALICE).await;
    let attachment = shown["volume"]["attachments"][0]["attachment_id"]
        .as_str()
        .ok_or_else(|| format!("no attachment: {shown}"))?
        .to_string();
    let detach = json!({"os-detach": {"attachment_id": attachment}});
    r.with("volumes.detach_volume", "POST", &action, ALICE, detach)
        .await;
    r.wait(&path, "volume", "available").await?;
    let connector = json!({"host": "h", "initiator": "iqn.2004-10.org.debian:h"});
    let terminate = json!({"os-terminate_connection": {"connector": connector}});
    r.with(
        "volumes.terminate_connection",
        "POST",
        &action,
        ALICE,
        terminate,
    )
    .await;
    let reset = json!({"os-reset_status": {"status": "available"}});
    r.with("volumes.reset_volume_status", "POST", &action, ADMIN, reset)
        .await;
    let force = json!({"os-force_delete": null});
    r.with("volumes.force_delete_volume", "POST", &action, ADMIN, force)
        .await;
    r.check()
}

#[actix_web::test]
async fn snapshot_answers_match() -> TestResult {
    let mut r = Recorder::new().await?;
    let vol = r.app.available_volume(ALICE, 1).await?;
    let base = "/v3/0a0a/snapshots";
    let body = json!({"snapshot": {"volume_id": vol, "name": "s", "metadata": {"k": "v"}}});
    let v = r
        .with("snapshots.create_snapshot", "POST", base, ALICE, body)
        .await;
    let path = format!("{base}/{}", id_of(&v, "snapshot")?);
    r.wait(&path, "snapshot", "available").await?;
    r.get("snapshots.show_snapshot", &path, ALICE).await;
    let summary = "snapshots.list_snapshots_no_detail";
    r.get(summary, base, ALICE).await;
    r.get(summary, &format!("{base}?limit=1&sort=name:asc"), ALICE)
        .await;
    let detail = "snapshots.list_snapshots_with_detail";
    r.get(detail, &format!("{base}/detail"), ALICE).await;
    r.get(
        detail,
        &format!("{base}/detail?all_tenants=1&limit=1"),
        ADMIN,
    )
    .await;
    let rename = json!({"snapshot": {"name": "renamed", "description": "d"}});
    r.with("snapshots.update_snapshot", "PUT", &path, ALICE, rename)
        .await;

    let meta = format!("{path}/metadata");
    let item = format!("{meta}/a");
    let m = |b| json!({"metadata": b});
    r.with(
        "snapshots.create_snapshot_metadata",
        "POST",
        &meta,
        ALICE,
        m(json!({"a": "1"})),
    )
    .await;
    r.get("snapshots.show_snapshot_metadata", &meta, ALICE)
        .await;
    r.with(
        "snapshots.update_snapshot_metadata",
        "PUT",
        &meta,
        ALICE,
        m(json!({"a": "2", "b": "3"})),
    )
    .await;
    r.get("snapshots.show_snapshot_metadata_item", &item, ALICE)
        .await;
    let one = json!({"meta": {"a": "4"}});
    r.with(
        "snapshots.update_snapshot_metadata_item",
        "PUT",
        &item,
        ALICE,
        one,
    )
    .await;
    r.send(
        "snapshots.delete_snapshot_metadata_item",
        "DELETE",
        &item,
        ALICE,
        None,
    )
    .await;

    // As Tempest's test does: back to `creating`, then the status a driver reports.
    let action = format!("{path}/action");
    let reset = json!({"os-reset_status": {"status": "creating"}});
    r.with(
        "snapshots.reset_snapshot_status",
        "POST",
        &action,
        ADMIN,
        reset,
    )
    .await;
    let update = json!({"os-update_snapshot_status": {"status": "available", "progress": "100%"}});
    r.with(
        "snapshots.update_snapshot_status",
        "POST",
        &action,
        ADMIN,
        update,
    )
    .await;
    r.send("snapshots.delete_snapshot", "DELETE", &path, ALICE, None)
        .await;

    let body = json!({"snapshot": {"volume_id": vol}});
    let v = r
        .with("snapshots.create_snapshot", "POST", base, ALICE, body)
        .await;
    let second = format!("{base}/{}", id_of(&v, "snapshot")?);
    r.wait(&second, "snapshot", "available").await?;
    let force = json!({"os-force_delete": {}});
    r.with(
        "snapshots.force_delete_snapshot",
        "POST",
        &format!("{second}/action"),
        ADMIN,
        force,
    )
    .await;
    r.check()
}

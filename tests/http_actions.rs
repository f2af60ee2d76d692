//! Volume actions and snapshots through the HTTP layer, with the real actors.

mod common;

use std::time::Duration;

use actix_web::http::StatusCode;
use clinker::drivers::fake::FakeVerb;
use common::{ADMIN, ALICE, TestApp, TestResult, eventually, json_req, req};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

async fn volume(
    app: &TestApp,
    token: &str,
    size: u64,
) -> Result<String, Box<dyn std::error::Error>> {
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/volumes",
            token,
            &json!({"volume": {"size": size}}),
        ))
        .await;
    if s != StatusCode::ACCEPTED {
        return Err(format!("create answered {s}: {v}").into());
    }
    let id = v["volume"]["id"].as_str().ok_or("no id")?.to_string();
    wait(app, token, "volumes", &id, "available")
        .await
        .ok_or("never available")?;
    Ok(id)
}

async fn wait(app: &TestApp, token: &str, kind: &str, id: &str, status: &str) -> Option<Value> {
    let one = kind.trim_end_matches('s').to_string();
    eventually(WAIT, || async {
        let (s, v, _) = app
            .call(req("GET", &format!("/v3/0a0a/{kind}/{id}"), token))
            .await;
        (s == StatusCode::OK && v[&one]["status"] == status).then(|| v[&one].clone())
    })
    .await
}

async fn action(app: &TestApp, token: &str, id: &str, body: Value) -> (StatusCode, Value) {
    let (s, v, _) = app
        .call(json_req(
            "POST",
            &format!("/v3/0a0a/volumes/{id}/action"),
            token,
            &body,
        ))
        .await;
    (s, v)
}

async fn status_of(app: &TestApp, id: &str) -> Value {
    let (_, v, _) = app
        .call(req("GET", &format!("/v3/0a0a/volumes/{id}"), ADMIN))
        .await;
    v["volume"].clone()
}

#[actix_web::test]
async fn attach_and_detach_walk_the_state_machine() -> TestResult {
    let app = TestApp::new().await?;
    let id = volume(&app, ALICE, 1).await?;
    let (s, _) = action(&app, ALICE, &id, json!({"os-reserve": null})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(status_of(&app, &id).await["status"], "attaching");
    let (s, _) = action(&app, ALICE, &id, json!({"os-reserve": {}})).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a second reserve is a wrong-state call"
    );
    let (s, _) = action(&app, ALICE, &id, json!({"os-unreserve": {}})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(status_of(&app, &id).await["status"], "available");

    let server = uuid::Uuid::new_v4().to_string();
    let (s, v) = action(
        &app,
        ALICE,
        &id,
        json!({"os-attach": {"instance_uuid": server, "mountpoint": "/dev/vdb"}}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let shown = status_of(&app, &id).await;
    assert_eq!(shown["status"], "in-use");
    assert_eq!(shown["attachments"][0]["server_id"], server.as_str());
    assert_eq!(shown["attachments"][0]["device"], "/dev/vdb");
    assert_eq!(
        shown["attachments"][0]["id"],
        id.as_str(),
        "`id` is the volume's id"
    );
    assert_eq!(shown["metadata"]["attached_mode"], "rw");
    let (s, _) = action(
        &app,
        ALICE,
        &id,
        json!({"os-attach": {"instance_uuid": server, "mountpoint": "/dev/vdc"}}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "not multiattach");
    let (s, _, _) = app
        .call(req("DELETE", &format!("/v3/0a0a/volumes/{id}"), ALICE))
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "an attached volume cannot be deleted"
    );

    let (s, _) = action(&app, ALICE, &id, json!({"os-begin_detaching": null})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(status_of(&app, &id).await["status"], "detaching");
    let (s, _) = action(&app, ALICE, &id, json!({"os-roll_detaching": null})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(status_of(&app, &id).await["status"], "in-use");
    let (s, _) = action(&app, ALICE, &id, json!({"os-detach": {}})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let shown = status_of(&app, &id).await;
    assert_eq!(shown["status"], "available");
    assert_eq!(shown["attachments"], json!([]));
    Ok(())
}

#[actix_web::test]
async fn connection_bootable_readonly_and_bad_actions() -> TestResult {
    let app = TestApp::new().await?;
    let id = volume(&app, ALICE, 1).await?;
    let connector =
        json!({"initiator": "iqn.1993-08.org.debian:01:abc", "host": "h1", "ip": "127.0.0.1"});
    let (s, v) = action(
        &app,
        ALICE,
        &id,
        json!({"os-initialize_connection": {"connector": connector}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["connection_info"]["driver_volume_type"], "fake");
    assert_eq!(v["connection_info"]["data"]["access_mode"], "rw");
    assert_eq!(v["connection_info"]["enforce_multipath"], false);
    let (s, _) = action(
        &app,
        ALICE,
        &id,
        json!({"os-terminate_connection": {"connector": connector}}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = action(&app, ALICE, &id, json!({"os-initialize_connection": {}})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a connector is required");

    let (s, _) = action(
        &app,
        ALICE,
        &id,
        json!({"os-set_bootable": {"bootable": true}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "os-set_bootable answers 200");
    assert_eq!(status_of(&app, &id).await["bootable"], "true");
    let (s, _) = action(
        &app,
        ALICE,
        &id,
        json!({"os-update_readonly_flag": {"readonly": true}}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(status_of(&app, &id).await["metadata"]["readonly"], "True");
    let (s, v) = action(&app, ALICE, &id, json!({"os-attach": {"instance_uuid": uuid::Uuid::new_v4().to_string(), "mountpoint": "/dev/vdb", "mode": "rw"}})).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "read-only volumes attach ro: {v}"
    );

    let (s, v) = action(&app, ALICE, &id, json!({"os-frobnicate": {}})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["badRequest"]["message"],
        "There is no such action: os-frobnicate"
    );
    let (s, _) = action(
        &app,
        ALICE,
        &id,
        json!({"os-reserve": null, "os-unreserve": null}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "exactly one key");
    let (s, v) = action(
        &app,
        ALICE,
        &id,
        json!({"os-reset_status": {"status": "error"}}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(
        status_of(&app, &id).await["status"],
        "available",
        "a refused call changes nothing"
    );
    let (s, _) = action(
        &app,
        ADMIN,
        &id,
        json!({"os-reset_status": {"status": "error"}}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(status_of(&app, &id).await["status"], "error");
    let (s, _) = action(
        &app,
        ADMIN,
        &id,
        json!({"os-reset_status": {"status": "deleting"}}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = action(
        &app,
        ALICE,
        &id,
        json!({"revert": {"snapshot_id": uuid::Uuid::new_v4().to_string()}}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "revert needs 3.40");
    let (s, _) = action(&app, ADMIN, &id, json!({"os-force_delete": {}})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let gone = eventually(WAIT, || async {
        let (s, _, _) = app
            .call(req("GET", &format!("/v3/0a0a/volumes/{id}"), ADMIN))
            .await;
        (s == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    assert!(gone.is_some());
    Ok(())
}

#[actix_web::test]
async fn extend_grows_the_volume_and_its_quota() -> TestResult {
    let app = TestApp::with(|c| c.quota.gigabytes = 10).await?;
    let id = volume(&app, ALICE, 2).await?;
    let (s, v) = action(&app, ALICE, &id, json!({"os-extend": {"new_size": 1}})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = action(&app, ALICE, &id, json!({"os-extend": {"new_size": 11}})).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(status_of(&app, &id).await["status"], "available");
    let (s, _) = action(&app, ALICE, &id, json!({"os-extend": {"new_size": 5}})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let done = eventually(WAIT, || async {
        let v = status_of(&app, &id).await;
        (v["status"] == "available" && v["size"] == 5).then_some(())
    })
    .await;
    assert!(done.is_some(), "extend never finished");
    assert_eq!(app.fakes["n1"].volume_size(&id.parse()?), Some(5));
    assert_eq!(app.usage("0a0a", "gigabytes"), (5, 0));
    Ok(())
}

#[actix_web::test]
async fn snapshots_copy_restore_and_guard_their_volume() -> TestResult {
    let app = TestApp::new().await?;
    let vol = volume(&app, ALICE, 2).await?;
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/snapshots",
            ALICE,
            &json!({"snapshot": {"volume_id": vol, "name": "s1", "metadata": {"k": "v"}}}),
        ))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["snapshot"]["status"], "creating");
    let snap = v["snapshot"]["id"].as_str().ok_or("no id")?.to_string();
    let shown = wait(&app, ALICE, "snapshots", &snap, "available")
        .await
        .ok_or("snapshot never available")?;
    assert_eq!(shown["size"], 2);
    assert_eq!(shown["os-extended-snapshot-attributes:progress"], "100%");
    assert!(app.fakes["n1"].has_snapshot(&snap.parse()?));
    assert_eq!(app.usage("0a0a", "snapshots"), (1, 0));
    assert_eq!(
        app.usage("0a0a", "gigabytes"),
        (4, 0),
        "snapshots count in gigabytes"
    );

    let (_, l, _) = app
        .call(req("GET", "/v3/0a0a/snapshots/detail", ALICE))
        .await;
    assert_eq!(l["snapshots"][0]["id"], snap.as_str());
    let (s, u, _) = app
        .call(json_req(
            "PUT",
            &format!("/v3/0a0a/snapshots/{snap}"),
            ALICE,
            &json!({"snapshot": {"name": "renamed"}}),
        ))
        .await;
    assert_eq!(
        (s, u["snapshot"]["name"].clone()),
        (StatusCode::OK, json!("renamed"))
    );
    let (s, m, _) = app
        .call(json_req(
            "POST",
            &format!("/v3/0a0a/snapshots/{snap}/metadata"),
            ALICE,
            &json!({"metadata": {"b": "2"}}),
        ))
        .await;
    assert_eq!(
        (s, m),
        (StatusCode::OK, json!({"metadata": {"k": "v", "b": "2"}}))
    );

    let (s, _, _) = app
        .call(req("DELETE", &format!("/v3/0a0a/volumes/{vol}"), ALICE))
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a volume with snapshots needs cascade"
    );

    // A new volume from the snapshot: same node, the snapshot's size by default.
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/volumes",
            ALICE,
            &json!({"volume": {"snapshot_id": snap}}),
        ))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["volume"]["size"], 2);
    assert_eq!(v["volume"]["snapshot_id"], snap.as_str());
    let copy = v["volume"]["id"].as_str().ok_or("no id")?.to_string();
    wait(&app, ALICE, "volumes", &copy, "available")
        .await
        .ok_or("copy never available")?;
    assert!(app.fakes["n1"].has_volume(&copy.parse()?));
    let (s, _, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/volumes",
            ALICE,
            &json!({"volume": {"snapshot_id": snap, "size": 1}}),
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "smaller than the snapshot");

    // While a volume is being made from the snapshot, neither the snapshot nor (by
    // cascade) its volume can be deleted.
    let reset = |status: &str| json!({"os-reset_status": {"status": status}});
    let (s, _) = action(&app, ADMIN, &copy, reset("creating")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    for uri in [
        format!("/v3/0a0a/snapshots/{snap}"),
        format!("/v3/0a0a/volumes/{vol}?cascade=true"),
    ] {
        let (s, v, _) = app.call(req("DELETE", &uri, ALICE)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {v}");
        assert!(
            v["badRequest"]["message"]
                .to_string()
                .contains("still being created"),
            "{v}"
        );
    }
    let kept = wait(&app, ALICE, "snapshots", &snap, "available").await;
    assert!(kept.is_some(), "the snapshot stays available");
    let (s, _) = action(&app, ADMIN, &copy, reset("available")).await;
    assert_eq!(s, StatusCode::ACCEPTED);

    // Cascade removes the snapshot, then the volume; quotas come back.
    let (s, _, _) = app
        .call(req(
            "DELETE",
            &format!("/v3/0a0a/volumes/{vol}?cascade=true"),
            ALICE,
        ))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let gone = eventually(WAIT, || async {
        let (a, _, _) = app
            .call(req("GET", &format!("/v3/0a0a/volumes/{vol}"), ALICE))
            .await;
        let (b, _, _) = app
            .call(req("GET", &format!("/v3/0a0a/snapshots/{snap}"), ALICE))
            .await;
        (a == StatusCode::NOT_FOUND && b == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    assert!(gone.is_some(), "cascade never finished");
    assert!(!app.fakes["n1"].has_snapshot(&snap.parse()?));
    assert_eq!(app.usage("0a0a", "snapshots"), (0, 0));
    assert_eq!(
        app.usage("0a0a", "gigabytes"),
        (2, 0),
        "only the copy is left"
    );
    Ok(())
}

#[actix_web::test]
async fn snapshot_errors_are_cinders() -> TestResult {
    let app = TestApp::with(|c| c.quota.snapshots = 1).await?;
    let (s, _, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/snapshots",
            ALICE,
            &json!({"snapshot": {"volume_id": uuid::Uuid::new_v4().to_string()}}),
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let vol = volume(&app, ALICE, 1).await?;
    let body = json!({"snapshot": {"volume_id": vol}});
    let (s, _, _) = app
        .call(json_req("POST", "/v3/0a0a/snapshots", ALICE, &body))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, v, _) = app
        .call(json_req("POST", "/v3/0a0a/snapshots", ALICE, &body))
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(app.count("snapshots"), 1);
    assert_eq!(app.count("reservations"), 0);
    let (s, _, _) = app
        .call(req("GET", "/v3/0a0a/snapshots/not-a-uuid", ALICE))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = app
        .call(req(
            "GET",
            &format!("/v3/0b0b/snapshots/{}", uuid::Uuid::new_v4()),
            "bob:0b0b",
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    Ok(())
}

async fn create_body(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    let project = token.split(':').nth(1).unwrap_or_default();
    let (s, v, _) = app
        .call(json_req(
            "POST",
            &format!("/v3/{project}/volumes"),
            token,
            &json!({ "volume": body }),
        ))
        .await;
    (s, v)
}

#[actix_web::test]
async fn a_clone_copies_its_source_on_the_sources_node() -> TestResult {
    let app = TestApp::with(|c| {
        let mut gold = common::fake_node("gold", "nova");
        gold.capabilities.insert("tier".into(), json!("gold"));
        let mut silver = common::fake_node("silver", "nova");
        silver.capabilities.insert("tier".into(), json!("silver"));
        c.nodes = vec![gold, silver];
    })
    .await?;
    for tier in ["silver", "gold"] {
        let body =
            json!({"volume_type": {"name": tier, "extra_specs": {"capabilities:tier": tier}}});
        let (s, v, _) = app
            .call(json_req("POST", "/v3/0a0a/types", ADMIN, &body))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (s, v) = create_body(&app, ALICE, json!({"size": 2, "volume_type": "gold"})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let src = v["volume"]["id"].as_str().ok_or("no id")?.to_string();
    wait(&app, ALICE, "volumes", &src, "available")
        .await
        .ok_or("source never available")?;
    assert!(app.fakes["gold"].has_volume(&src.parse()?));
    let (s, _) = action(
        &app,
        ALICE,
        &src,
        json!({"os-set_bootable": {"bootable": true}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // The clone: the source's size, type and bootable flag, made on the source's node.
    let (s, v) = create_body(&app, ALICE, json!({"source_volid": src, "name": "twin"})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(
        (&v["volume"]["size"], &v["volume"]["source_volid"]),
        (&json!(2), &json!(src))
    );
    let clone = v["volume"]["id"].as_str().ok_or("no id")?.to_string();
    let shown = wait(&app, ALICE, "volumes", &clone, "available")
        .await
        .ok_or("clone never available")?;
    assert_eq!(
        (
            &shown["source_volid"],
            &shown["volume_type"],
            &shown["bootable"]
        ),
        (&json!(src), &json!("gold"), &json!("true"))
    );
    assert_eq!(app.fakes["gold"].calls(FakeVerb::CreateClonedVolume), 1);
    assert!(app.fakes["gold"].has_volume(&clone.parse()?));
    assert_eq!(app.usage("0a0a", "gigabytes"), (4, 0));

    // A bigger clone is fine; a smaller one, another project's source, an unknown
    // source, a type the source's node cannot hold, or two sources are refused.
    let (s, v) = create_body(&app, ALICE, json!({"source_volid": src, "size": 3})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let bigger = v["volume"]["id"].as_str().ok_or("no id")?.to_string();
    wait(&app, ALICE, "volumes", &bigger, "available")
        .await
        .ok_or("bigger clone never available")?;
    let rows = app.count("volumes");
    let refused = [
        (
            ALICE,
            json!({"source_volid": src, "size": 1}),
            StatusCode::BAD_REQUEST,
            "cannot be smaller than the original volume size 2GB",
        ),
        (
            "bob:0b0b",
            json!({"source_volid": src}),
            StatusCode::NOT_FOUND,
            "could not be found",
        ),
        (
            ALICE,
            json!({"source_volid": uuid::Uuid::new_v4().to_string()}),
            StatusCode::NOT_FOUND,
            "could not be found",
        ),
        (
            ALICE,
            json!({"source_volid": src, "volume_type": "silver"}),
            StatusCode::BAD_REQUEST,
            "requested type is not compatible",
        ),
        (
            ALICE,
            json!({"source_volid": src, "snapshot_id": uuid::Uuid::new_v4().to_string()}),
            StatusCode::BAD_REQUEST,
            "more than one",
        ),
    ];
    for (token, body, want, text) in refused {
        let (s, v) = create_body(&app, token, body.clone()).await;
        assert_eq!(s, want, "{body}: {v}");
        let message = v
            .as_object()
            .and_then(|o| o.values().next())
            .map(|f| f["message"].to_string())
            .unwrap_or_default();
        assert!(message.contains(text), "{body}: {v}");
    }
    assert_eq!(app.count("volumes"), rows, "a refused clone leaves no row");
    assert_eq!(app.count("reservations"), 0);

    // Only `available` and `in-use` sources can be cloned.
    let reset = |status: &str| json!({"os-reset_status": {"status": status}});
    let (s, _) = action(&app, ADMIN, &src, reset("error")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, v) = create_body(&app, ALICE, json!({"source_volid": src})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["badRequest"]["message"]
            .to_string()
            .contains("'available, in-use'"),
        "{v}"
    );
    let (s, _) = action(&app, ADMIN, &src, reset("available")).await;
    assert_eq!(s, StatusCode::ACCEPTED);

    // While a clone is being made, its source cannot be deleted, even by force.
    let (s, _) = action(&app, ADMIN, &clone, reset("creating")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    for (token, uri) in [
        (ALICE, format!("/v3/0a0a/volumes/{src}")),
        (ADMIN, format!("/v3/0a0a/volumes/{src}?force=true")),
    ] {
        let (s, v, _) = app.call(req("DELETE", &uri, token)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert!(
            v["badRequest"]["message"]
                .to_string()
                .contains("still being created"),
            "{v}"
        );
    }
    assert_eq!(status_of(&app, &src).await["status"], "available");
    let (s, _) = action(&app, ADMIN, &clone, reset("available")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _, _) = app
        .call(req("DELETE", &format!("/v3/0a0a/volumes/{src}"), ALICE))
        .await;
    assert_eq!(
        s,
        StatusCode::ACCEPTED,
        "the clone is independent of its source"
    );
    Ok(())
}

#[actix_web::test]
async fn extend_completion_is_admin_only_at_3_71_and_needs_a_waiting_extend() -> TestResult {
    let app = TestApp::new().await?;
    let id = volume(&app, ALICE, 1).await?;
    let call = |token: &'static str, minor: u16, vol: String, body: Value| {
        let app = &app;
        async move {
            let uri = format!("/v3/0a0a/volumes/{vol}/action");
            let (s, v, _) = app
                .call(common::at(minor, json_req("POST", &uri, token, &body)))
                .await;
            (s, v)
        }
    };
    let done = json!({"os-extend_volume_completion": {"error": false}});
    let unknown = uuid::Uuid::new_v4().to_string();
    for (token, minor, vol, body, want) in [
        (ADMIN, 70, id.clone(), done.clone(), StatusCode::NOT_FOUND),
        (ALICE, 71, id.clone(), done.clone(), StatusCode::FORBIDDEN),
        (ADMIN, 71, unknown, done.clone(), StatusCode::NOT_FOUND),
        (
            ADMIN,
            71,
            id.clone(),
            json!({"os-extend_volume_completion": {"error": "no"}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            ADMIN,
            71,
            id.clone(),
            json!({"os-extend_volume_completion": {"size": 2}}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (s, v) = call(token, minor, vol, body.clone()).await;
        assert_eq!(s, want, "{token} 3.{minor} {body}: {v}");
    }
    let (s, v) = call(ADMIN, 71, id.clone(), done.clone()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["badRequest"]["message"]
            .to_string()
            .contains("not being extended"),
        "{v}"
    );
    // Even `extending` (here set by hand) never waits for Nova in Clinker.
    let (s, _) = action(
        &app,
        ADMIN,
        &id,
        json!({"os-reset_status": {"status": "extending"}}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, v) = call(
        ADMIN,
        71,
        id.clone(),
        json!({"os-extend_volume_completion": null}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["badRequest"]["message"]
            .to_string()
            .contains("without waiting for Nova"),
        "{v}"
    );
    let shown = status_of(&app, &id).await;
    assert_eq!(
        (&shown["status"], &shown["size"]),
        (&json!("extending"), &json!(1))
    );
    Ok(())
}

#[actix_web::test]
async fn snapshot_and_attachment_lists_page() -> TestResult {
    let app = TestApp::new().await?;
    let vol = volume(&app, ALICE, 1).await?;
    for name in ["a", "b", "c"] {
        let body = json!({"snapshot": {"volume_id": vol, "name": name}});
        let (s, v, _) = app
            .call(json_req("POST", "/v3/0a0a/snapshots", ALICE, &body))
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        let id = v["snapshot"]["id"].as_str().ok_or("no id")?;
        wait(&app, ALICE, "snapshots", id, "available")
            .await
            .ok_or("snapshot never available")?;
    }
    let (s, first, _) = app
        .call(req("GET", "/v3/0a0a/snapshots?limit=2", ALICE))
        .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let page = first["snapshots"].as_array().ok_or("no list")?;
    assert_eq!(page.len(), 2, "{first}");
    let last = page[1]["id"].as_str().ok_or("no id")?;
    let next = first["snapshots_links"][0]["href"]
        .as_str()
        .ok_or("no next link")?;
    assert!(
        next.contains("/snapshots?limit=2&marker=") && next.ends_with(last),
        "{next}"
    );
    let (_, rest, _) = app
        .call(req(
            "GET",
            &format!("/v3/0a0a/snapshots/detail?limit=2&marker={last}"),
            ALICE,
        ))
        .await;
    assert_eq!(
        rest["snapshots"].as_array().map(Vec::len),
        Some(1),
        "{rest}"
    );
    assert!(rest.get("snapshots_links").is_none(), "{rest}");
    let (_, all, _) = app
        .call(req(
            "GET",
            "/v3/0a0a/snapshots?offset=1&sort=name:asc",
            ALICE,
        ))
        .await;
    assert_eq!(all["snapshots"].as_array().map(Vec::len), Some(2), "{all}");
    assert_eq!(all["snapshots"][0]["name"], "b", "{all}");
    // An unknown sort key is refused, as Cinder refuses it (issue 17).
    for bad in [
        "/v3/0a0a/snapshots?limit=-1",
        "/v3/0a0a/snapshots?offset=x",
        "/v3/0a0a/snapshots?offset=1&sort=bogus",
    ] {
        let (s, v, _) = app.call(req("GET", bad, ALICE)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    for (uri, want) in [
        ("/v3/0a0a/attachments?limit=-1", StatusCode::BAD_REQUEST),
        ("/v3/0a0a/attachments?offset=x", StatusCode::BAD_REQUEST),
        ("/v3/0a0a/attachments?limit=5&marker=x", StatusCode::OK),
    ] {
        let (s, v, _) = app.call(common::at(27, req("GET", uri, ALICE))).await;
        assert_eq!(s, want, "{uri}: {v}");
    }
    Ok(())
}

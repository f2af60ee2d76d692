//! Volume transfers through the HTTP layer: `/os-volume-transfer` and
//! `/volume-transfers` (3.55+), the auth key shown once, the accept that moves the volume,
//! its snapshots and their quota usage in one step, and every refusal changing nothing.
//! The main scenario runs on SQLite and on PostgreSQL.

mod common;
mod common_db;

use std::time::Duration;

use actix_web::http::StatusCode;
use common::{ADMIN, ALICE, BOB, TestApp, TestResult, at, eventually, json_req, req};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// A snapshot of `volume` in Alice's project, once `available`.
async fn snapshot(app: &TestApp, volume: &str) -> BoxResult<String> {
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/snapshots",
            ALICE,
            &json!({"snapshot": {"volume_id": volume}}),
        ))
        .await;
    if s != StatusCode::ACCEPTED {
        return Err(format!("snapshot create answered {s}: {v}").into());
    }
    let id = v["snapshot"]["id"].as_str().ok_or("no id")?.to_string();
    let path = format!("/v3/0a0a/snapshots/{id}");
    eventually(WAIT, || async {
        let (_, v, _) = app.call(req("GET", &path, ALICE)).await;
        (v["snapshot"]["status"] == "available").then_some(())
    })
    .await
    .ok_or("the snapshot never became available")?;
    Ok(id)
}

/// Alice offers `volume` at microversion `minor` through `route`; answers the 202's
/// `transfer`.
async fn offer(app: &TestApp, route: &str, minor: u16, body: Value) -> BoxResult<Value> {
    let (s, v, _) = app
        .call(at(
            minor,
            json_req("POST", &format!("/v3/0a0a/{route}"), ALICE, &body),
        ))
        .await;
    if s != StatusCode::ACCEPTED {
        return Err(format!("transfer create answered {s}: {v}").into());
    }
    Ok(v["transfer"].clone())
}

async fn volume_view(app: &TestApp, id: &str) -> Value {
    app.call(req("GET", &format!("/v3/volumes/{id}"), ADMIN))
        .await
        .1["volume"]
        .clone()
}

/// The whole path on one backend: offer with snapshots, a wrong key, the accept.
async fn offer_and_accept(app: &TestApp) -> TestResult {
    let volume = app.available_volume(ALICE, 2).await?;
    let snap = snapshot(app, &volume).await?;
    let before_alice = (app.usage("0a0a", "volumes"), app.usage("0a0a", "gigabytes"));
    assert_eq!(
        before_alice,
        ((1, 0), (4, 0)),
        "a 2 GiB volume and its snapshot"
    );

    let t = offer(
        app,
        "volume-transfers",
        57,
        json!({"transfer": {"volume_id": volume, "name": "  gift "}}),
    )
    .await?;
    let key = t["auth_key"].as_str().ok_or("no auth key")?.to_string();
    assert_eq!(key.len(), 16);
    assert!(key.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    assert_eq!(t["name"], "gift", "the name is trimmed");
    assert_eq!(t["volume_id"], volume.as_str());
    assert_eq!(t["source_project_id"], "0a0a");
    assert_eq!(t["destination_project_id"], Value::Null);
    assert_eq!(t["accepted"], false);
    assert_eq!(t["no_snapshots"], false);
    let id = t["id"].as_str().ok_or("no id")?.to_string();
    assert!(
        t["links"][0]["href"]
            .as_str()
            .is_some_and(|h| h.ends_with(&format!("/os-volume-transfer/{id}")))
    );
    assert_eq!(
        volume_view(app, &volume).await["status"],
        "awaiting-transfer"
    );

    // The key is never shown again, nor stored as given.
    let (s, shown, _) = app
        .call(at(
            57,
            req("GET", &format!("/v3/0a0a/volume-transfers/{id}"), ALICE),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{shown}");
    assert!(shown["transfer"].get("auth_key").is_none(), "{shown}");
    assert_eq!(shown["transfer"]["created_at"], t["created_at"]);
    let stored: Vec<(String, String)> = app.db.run_blocking(|c| {
        use clinker::db::schema::transfers::dsl::*;
        use diesel::prelude::*;
        Ok(transfers.select((salt, crypt_hash)).load(c)?)
    })?;
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].1.contains(&key) && !stored[0].0.contains(&key));

    // Another project sees nothing of it, and deleting it is not Bob's to do.
    let (s, _, _) = app
        .call(req("GET", &format!("/v3/0b0b/volume-transfers/{id}"), BOB))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, bobs, _) = app.call(req("GET", "/v3/0b0b/volume-transfers", BOB)).await;
    assert_eq!(bobs["transfers"], json!([]));
    let (s, v, _) = app
        .call(req(
            "DELETE",
            &format!("/v3/0b0b/volume-transfers/{id}"),
            BOB,
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(
        v["itemNotFound"]["message"],
        format!("Transfer {id} could not be found.")
    );

    // A wrong key: 400 in Cinder's words, and nothing moved.
    let accept_path = format!("/v3/0b0b/volume-transfers/{id}/accept");
    let wrong = if key.starts_with('0') { "1" } else { "0" }.to_string() + &key[1..];
    let (s, v, _) = app
        .call(json_req(
            "POST",
            &accept_path,
            BOB,
            &json!({"accept": {"auth_key": wrong}}),
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        v["badRequest"]["message"],
        format!("Invalid auth key: Attempt to transfer {id} with invalid auth key.")
    );
    let still = volume_view(app, &volume).await;
    assert_eq!(
        (still["status"].as_str(), still["user_id"].as_str()),
        (Some("awaiting-transfer"), Some("alice"))
    );
    assert_eq!(
        (app.usage("0a0a", "volumes"), app.usage("0a0a", "gigabytes")),
        before_alice
    );
    assert_eq!(app.usage("0b0b", "volumes"), (0, 0));

    // The right key: the volume, its snapshot and their usage change hands.
    let (s, v, _) = app
        .call(json_req(
            "POST",
            &accept_path,
            BOB,
            &json!({"accept": {"auth_key": key}}),
        ))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["transfer"]["id"], id.as_str());
    assert_eq!(v["transfer"]["volume_id"], volume.as_str());
    assert_eq!(v["transfer"]["name"], "gift");
    let moved = volume_view(app, &volume).await;
    assert_eq!(moved["status"], "available");
    assert_eq!(moved["user_id"], "bob");
    assert_eq!(moved["os-vol-tenant-attr:tenant_id"], "0b0b");
    let (s, _, _) = app
        .call(req("GET", &format!("/v3/0b0b/snapshots/{snap}"), BOB))
        .await;
    assert_eq!(s, StatusCode::OK, "the snapshot went with the volume");
    assert_eq!(app.usage("0a0a", "volumes"), (0, 0));
    assert_eq!(app.usage("0a0a", "gigabytes"), (0, 0));
    assert_eq!(app.usage("0a0a", "snapshots"), (0, 0));
    assert_eq!(app.usage("0b0b", "volumes"), (1, 0));
    assert_eq!(app.usage("0b0b", "gigabytes"), (4, 0));
    assert_eq!(app.usage("0b0b", "snapshots"), (1, 0));
    assert_eq!(app.usage("0b0b", "volumes___DEFAULT__"), (1, 0));

    // Accepted: gone from every list, and a second accept finds nothing to move.
    let (s, _, _) = app
        .call(req(
            "GET",
            &format!("/v3/0a0a/volume-transfers/{id}"),
            ALICE,
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = app
        .call(json_req(
            "POST",
            &accept_path,
            BOB,
            &json!({"accept": {"auth_key": key}}),
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(app.usage("0b0b", "volumes"), (1, 0), "no usage moved twice");
    Ok(())
}

#[actix_web::test]
async fn a_volume_changes_hands_with_its_key_on_sqlite() -> TestResult {
    offer_and_accept(&TestApp::new().await?).await
}

#[actix_web::test]
async fn a_volume_changes_hands_with_its_key_on_postgresql() -> TestResult {
    let db = common_db::TestDb::postgres(4).map_err(|e| e.to_string())?;
    let url = db.url.clone();
    let app = TestApp::with(|c| c.database_url = Some(url)).await?;
    offer_and_accept(&app).await
}

#[actix_web::test]
async fn deleting_a_transfer_gives_the_volume_back() -> TestResult {
    let app = TestApp::new().await?;
    let volume = app.available_volume(ALICE, 1).await?;
    let t = offer(
        &app,
        "os-volume-transfer",
        0,
        json!({"transfer": {"volume_id": volume}}),
    )
    .await?;
    let id = t["id"].as_str().ok_or("no id")?;
    // Below 3.55 the views carry neither `no_snapshots` nor the history.
    assert!(
        t.get("no_snapshots").is_none() && t.get("accepted").is_none(),
        "{t}"
    );
    assert_eq!(t["name"], Value::Null);

    // A volume awaiting transfer can be neither offered again nor deleted.
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/os-volume-transfer",
            ALICE,
            &json!({"transfer": {"volume_id": volume}}),
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        v["badRequest"]["message"],
        "Invalid volume: status must be available"
    );
    let (s, _, _) = app
        .call(req("DELETE", &format!("/v3/0a0a/volumes/{volume}"), ALICE))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, list, _) = app
        .call(req("GET", "/v3/0a0a/os-volume-transfer/detail", ALICE))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["transfers"][0]["id"], id);
    assert!(list["transfers"][0]["created_at"].is_string());
    let (_, summary, _) = app
        .call(req("GET", "/v3/0a0a/os-volume-transfer", ALICE))
        .await;
    let keys: Vec<&String> = summary["transfers"][0]
        .as_object()
        .ok_or("no item")?
        .keys()
        .collect();
    assert_eq!(keys, ["id", "links", "name", "volume_id"]);

    let (s, _, _) = app
        .call(req(
            "DELETE",
            &format!("/v3/0a0a/os-volume-transfer/{id}"),
            ALICE,
        ))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(volume_view(&app, &volume).await["status"], "available");
    let (s, _, _) = app
        .call(req(
            "DELETE",
            &format!("/v3/0a0a/os-volume-transfer/{id}"),
            ALICE,
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Offered again once it is back.
    offer(
        &app,
        "os-volume-transfer",
        0,
        json!({"transfer": {"volume_id": volume}}),
    )
    .await?;
    Ok(())
}

#[actix_web::test]
async fn bodies_and_microversions_are_checked_as_cinder_does() -> TestResult {
    let app = TestApp::new().await?;
    let volume = app.available_volume(ALICE, 1).await?;
    let post = |route: &str, minor: u16, body: Value| {
        at(
            minor,
            json_req("POST", &format!("/v3/0a0a/{route}"), ALICE, &body),
        )
    };
    for (route, minor, body) in [
        (
            "volume-transfers",
            54,
            json!({"transfer": {"volume_id": volume, "no_snapshots": true}}),
        ),
        (
            "os-volume-transfer",
            60,
            json!({"transfer": {"volume_id": volume, "no_snapshots": true}}),
        ),
        (
            "volume-transfers",
            60,
            json!({"transfer": {"volume_id": volume, "no_snapshots": "maybe"}}),
        ),
        (
            "volume-transfers",
            60,
            json!({"transfer": {"volume_id": "not-a-uuid"}}),
        ),
        ("volume-transfers", 60, json!({"transfer": {"name": "x"}})),
        (
            "volume-transfers",
            60,
            json!({"transfer": {"volume_id": volume, "extra": 1}}),
        ),
        (
            "volume-transfers",
            60,
            json!({"volume": {"volume_id": volume}}),
        ),
        (
            "volume-transfers",
            60,
            json!({"transfer": {"volume_id": volume, "name": "n".repeat(256)}}),
        ),
    ] {
        let (s, v, _) = app.call(post(route, minor, body.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{route} 3.{minor} {body}: {v}");
        assert!(v["badRequest"]["message"].is_string());
    }
    assert_eq!(
        volume_view(&app, &volume).await["status"],
        "available",
        "nothing was offered"
    );
    let (s, v, _) = app
        .call(post(
            "volume-transfers",
            60,
            json!({"transfer": {"volume_id": uuid::Uuid::new_v4()}}),
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");

    // 3.55: no_snapshots is taken (as Cinder's booleans) and shown.
    let t = offer(
        &app,
        "volume-transfers",
        55,
        json!({"transfer": {"volume_id": volume, "no_snapshots": "yes"}}),
    )
    .await?;
    assert_eq!(t["no_snapshots"], true);
    assert!(t.get("accepted").is_none(), "history is 3.57: {t}");
    let id = t["id"].as_str().ok_or("no id")?;

    // An accept body is checked before anything is looked at.
    let path = format!("/v3/0b0b/volume-transfers/{id}/accept");
    for body in [
        json!({}),
        json!({"accept": {}}),
        json!({"accept": {"auth_key": [1]}}),
        json!({"accept": {"auth_key": "k", "x": 1}}),
    ] {
        let (s, v, _) = app.call(json_req("POST", &path, BOB, &body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
    }
    let (s, _, _) = app
        .call(json_req(
            "POST",
            &format!("/v3/0b0b/volume-transfers/{}/accept", uuid::Uuid::new_v4()),
            BOB,
            &json!({"accept": {"auth_key": 123}}),
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    Ok(())
}

#[actix_web::test]
async fn snapshots_stay_behind_or_must_be_available() -> TestResult {
    let app = TestApp::new().await?;
    let volume = app.available_volume(ALICE, 1).await?;
    let snap = snapshot(&app, &volume).await?;
    let snap_id: clinker::model::SnapshotId = snap.parse()?;
    // A snapshot not available refuses a transfer that takes the snapshots.
    app.db.run_blocking(|c| {
        clinker::db::snapshots::transition(
            c,
            &snap_id,
            &[clinker::model::SnapshotStatus::Available],
            clinker::model::SnapshotStatus::Error,
        )
    })?;
    let (s, v, _) = app
        .call(at(
            60,
            json_req(
                "POST",
                "/v3/0a0a/volume-transfers",
                ALICE,
                &json!({"transfer": {"volume_id": volume}}),
            ),
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        v["badRequest"]["message"],
        format!("Invalid snapshot: snapshot: {snap} status must be available")
    );
    assert_eq!(volume_view(&app, &volume).await["status"], "available");

    // Left behind, it need not be: the volume moves alone, and so does its usage.
    let t = offer(
        &app,
        "volume-transfers",
        60,
        json!({"transfer": {"volume_id": volume, "no_snapshots": true}}),
    )
    .await?;
    let (s, v, _) = app
        .call(json_req(
            "POST",
            &format!(
                "/v3/0b0b/volume-transfers/{}/accept",
                t["id"].as_str().ok_or("no id")?
            ),
            BOB,
            &json!({"accept": {"auth_key": t["auth_key"]}}),
        ))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (s, _, _) = app
        .call(req("GET", &format!("/v3/0a0a/snapshots/{snap}"), ALICE))
        .await;
    assert_eq!(s, StatusCode::OK, "the snapshot stayed with Alice");
    assert_eq!(app.usage("0a0a", "snapshots"), (1, 0));
    assert_eq!(app.usage("0a0a", "gigabytes"), (1, 0));
    assert_eq!(app.usage("0b0b", "gigabytes"), (1, 0));
    assert_eq!(app.usage("0b0b", "snapshots"), (0, 0));
    Ok(())
}

#[actix_web::test]
async fn an_accept_over_the_takers_quota_moves_nothing() -> TestResult {
    let app = TestApp::new().await?;
    let volume = app.available_volume(ALICE, 3).await?;
    let (s, v, _) = app
        .call(json_req(
            "PUT",
            "/v3/0a0a/os-quota-sets/0b0b",
            ADMIN,
            &json!({"quota_set": {"gigabytes": 2}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let t = offer(
        &app,
        "volume-transfers",
        60,
        json!({"transfer": {"volume_id": volume}}),
    )
    .await?;
    let path = format!(
        "/v3/0b0b/volume-transfers/{}/accept",
        t["id"].as_str().ok_or("no id")?
    );
    let body = json!({"accept": {"auth_key": t["auth_key"]}});
    let (s, v, headers) = app.call(json_req("POST", &path, BOB, &body)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert!(
        v["overLimit"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("VolumeSizeExceedsAvailableQuota")),
        "{v}"
    );
    assert_eq!(
        headers.get("Retry-After").and_then(|h| h.to_str().ok()),
        Some("0")
    );
    let still = volume_view(&app, &volume).await;
    assert_eq!(still["status"], "awaiting-transfer");
    assert_eq!(still["os-vol-tenant-attr:tenant_id"], "0a0a");
    assert_eq!(app.usage("0a0a", "gigabytes"), (3, 0));
    assert_eq!(app.usage("0b0b", "gigabytes"), (0, 0));
    assert_eq!(
        app.usage("0b0b", "volumes"),
        (0, 0),
        "the volume count was given back too"
    );

    // With room made, the same key still works.
    app.call(json_req(
        "PUT",
        "/v3/0a0a/os-quota-sets/0b0b",
        ADMIN,
        &json!({"quota_set": {"gigabytes": 3}}),
    ))
    .await;
    let (s, v, _) = app.call(json_req("POST", &path, BOB, &body)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(app.usage("0b0b", "gigabytes"), (3, 0));
    Ok(())
}

#[actix_web::test]
async fn a_replayed_create_makes_one_transfer_and_hides_the_key() -> TestResult {
    let app = TestApp::new().await?;
    let volume = app.available_volume(ALICE, 1).await?;
    let body = json!({"transfer": {"volume_id": volume}});
    let keyed = || {
        json_req("POST", "/v3/0a0a/volume-transfers", ALICE, &body)
            .insert_header(("Idempotency-Key", "t-1"))
    };
    let (s, first, _) = app.call(keyed()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{first}");
    assert!(first["transfer"]["auth_key"].is_string());
    let (s, again, headers) = app.call(keyed()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{again}");
    assert_eq!(
        headers
            .get("Idempotency-Replayed")
            .and_then(|h| h.to_str().ok()),
        Some("true")
    );
    assert_eq!(again["transfer"]["id"], first["transfer"]["id"]);
    assert_eq!(
        again["transfer"]["auth_key"],
        Value::Null,
        "the key is shown once"
    );
    assert_eq!(app.count("transfers"), 1);
    Ok(())
}

#[actix_web::test]
async fn lists_page_from_3_59_and_admins_see_every_project() -> TestResult {
    let app = TestApp::new().await?;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let volume = app.available_volume(ALICE, 1).await?;
        let t = offer(
            &app,
            "volume-transfers",
            60,
            json!({"transfer": {"volume_id": volume}}),
        )
        .await?;
        ids.push(t["id"].as_str().ok_or("no id")?.to_string());
    }
    let (_, page, _) = app
        .call(at(
            60,
            req("GET", "/v3/0a0a/volume-transfers?limit=2", ALICE),
        ))
        .await;
    let shown: Vec<&str> = page["transfers"]
        .as_array()
        .ok_or("no list")?
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(shown, [ids[0].as_str(), ids[1].as_str()], "oldest first");
    let next = page["transfers_links"][0]["href"]
        .as_str()
        .ok_or("no next link")?;
    assert!(next.contains(&format!("marker={}", ids[1])), "{next}");
    let (_, rest, _) = app
        .call(at(
            60,
            req(
                "GET",
                &format!("/v3/0a0a/volume-transfers?limit=2&marker={}", ids[1]),
                ALICE,
            ),
        ))
        .await;
    assert_eq!(rest["transfers"][0]["id"], ids[2].as_str());
    assert_eq!(rest["transfers"].as_array().map(Vec::len), Some(1));
    let (s, _, _) = app
        .call(at(
            60,
            req("GET", "/v3/0a0a/volume-transfers?sort=bogus:asc", ALICE),
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Admins see their own project's, or with all_tenants everyone's.
    let (_, own, _) = app
        .call(req("GET", "/v3/0c0c/volume-transfers", "admin:0c0c"))
        .await;
    assert_eq!(own["transfers"], json!([]));
    let (_, all, _) = app
        .call(req(
            "GET",
            "/v3/0c0c/volume-transfers?all_tenants=1",
            "admin:0c0c",
        ))
        .await;
    assert_eq!(all["transfers"].as_array().map(Vec::len), Some(3));
    let (_, ignored, _) = app
        .call(req("GET", "/v3/0b0b/volume-transfers?all_tenants=1", BOB))
        .await;
    assert_eq!(
        ignored["transfers"],
        json!([]),
        "all_tenants is for admins only"
    );
    Ok(())
}

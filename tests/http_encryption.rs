//! Volume type encryption through the HTTP layer (`/types/{id}/encryption`): create,
//! show, show one field, update, delete, all admin; `encrypted` on the volumes of such a
//! type; every write refused once a volume has the type, as in Cinder.

mod common;
mod common_db;

use actix_web::http::StatusCode;
use common::{ADMIN, ALICE, TestApp, TestResult, at, json_req, req};
use serde_json::{Value, json};

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

async fn create_type(app: &TestApp, name: &str) -> BoxResult<String> {
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/types",
            ADMIN,
            &json!({"volume_type": {"name": name}}),
        ))
        .await;
    if s != StatusCode::OK {
        return Err(format!("type create answered {s}: {v}").into());
    }
    Ok(v["volume_type"]["id"].as_str().ok_or("no id")?.to_string())
}

fn luks() -> Value {
    json!({"encryption": {"provider": "luks", "control_location": "front-end", "cipher": "aes-xts-plain64", "key_size": "256"}})
}

async fn crud(app: &TestApp) -> TestResult {
    let t = create_type(app, "secret").await?;
    let base = format!("/v3/0a0a/types/{t}/encryption");

    // None yet: an empty object, and no field to show.
    let (s, v, _) = app.call(req("GET", &base, ADMIN)).await;
    assert_eq!((s, &v), (StatusCode::OK, &json!({})));
    let (s, v, _) = app.call(req("GET", &format!("{base}/cipher"), ADMIN)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        v["itemNotFound"]["message"],
        format!("Volume type encryption for type {t} does not exist.")
    );

    let (s, made, _) = app.call(json_req("POST", &base, ADMIN, &luks())).await;
    assert_eq!(s, StatusCode::OK, "{made}");
    let e = &made["encryption"];
    assert_eq!(e["volume_type_id"], t.as_str());
    assert_eq!(e["key_size"], 256, "digits become a number");
    assert_eq!(e["provider"], "luks");
    let eid = e["encryption_id"]
        .as_str()
        .ok_or("no encryption id")?
        .to_string();
    let keys: Vec<&String> = e.as_object().ok_or("not an object")?.keys().collect();
    assert_eq!(keys.len(), 6, "{e}");

    let (s, again, _) = app.call(json_req("POST", &base, ADMIN, &luks())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{again}");
    assert_eq!(
        again["badRequest"]["message"],
        format!("Volume type encryption for type {t} already exists.")
    );

    let (_, shown, _) = app.call(req("GET", &base, ADMIN)).await;
    assert_eq!(shown["encryption_id"], eid.as_str());
    assert_eq!(shown["deleted"], false);
    assert_eq!(shown["deleted_at"], Value::Null);
    assert_eq!(shown["control_location"], "front-end");
    assert!(shown["created_at"].is_string());
    let (s, one, _) = app.call(req("GET", &format!("{base}/cipher"), ADMIN)).await;
    assert_eq!(
        (s, one),
        (StatusCode::OK, json!({"cipher": "aes-xts-plain64"}))
    );

    let change = json!({"encryption": {"control_location": "back-end", "key_size": 512}});
    let (s, v, _) = app
        .call(json_req("PUT", &format!("{base}/{eid}"), ADMIN, &change))
        .await;
    assert_eq!(
        (s, v),
        (StatusCode::OK, change.clone()),
        "the change is echoed"
    );
    let (_, shown, _) = app.call(req("GET", &base, ADMIN)).await;
    assert_eq!(
        (
            shown["control_location"].as_str(),
            shown["key_size"].as_i64()
        ),
        (Some("back-end"), Some(512))
    );
    assert_eq!(shown["provider"], "luks", "fields not named stay");
    assert!(shown["updated_at"].is_string());

    let (s, _, _) = app
        .call(req("DELETE", &format!("{base}/{eid}"), ADMIN))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, v, _) = app.call(req("GET", &base, ADMIN)).await;
    assert_eq!(v, json!({}));
    let (s, v, _) = app
        .call(req("DELETE", &format!("{base}/{eid}"), ADMIN))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    Ok(())
}

#[actix_web::test]
async fn an_encryption_is_created_shown_updated_and_deleted_on_sqlite() -> TestResult {
    crud(&TestApp::new().await?).await
}

#[actix_web::test]
async fn an_encryption_is_created_shown_updated_and_deleted_on_postgresql() -> TestResult {
    let db = common_db::TestDb::postgres(4).map_err(|e| e.to_string())?;
    let url = db.url.clone();
    let app = TestApp::with(|c| c.database_url = Some(url)).await?;
    crud(&app).await
}

#[actix_web::test]
async fn bad_bodies_unknown_types_and_members_are_refused() -> TestResult {
    let app = TestApp::new().await?;
    let t = create_type(&app, "secret").await?;
    let base = format!("/v3/0a0a/types/{t}/encryption");
    for body in [
        json!({}),
        json!({"encryption": {"provider": "luks"}}),
        json!({"encryption": {"control_location": "front-end"}}),
        json!({"encryption": {"provider": "luks", "control_location": "middle"}}),
        json!({"encryption": {"provider": "luks", "control_location": "front-end", "key_size": -1}}),
        json!({"encryption": {"provider": "luks", "control_location": "front-end", "key_size": "big"}}),
        json!({"encryption": {"provider": 7, "control_location": "front-end"}}),
        json!({"encryption": {"provider": "luks", "control_location": "front-end", "cipher": "c".repeat(256)}}),
        json!({"encryption": {"provider": "luks", "control_location": "front-end"}, "extra": 1}),
    ] {
        let (s, v, _) = app.call(json_req("POST", &base, ADMIN, &body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
    }
    assert_eq!(
        app.count("volume_type_encryption"),
        0,
        "nothing half-written"
    );

    let missing = format!("/v3/0a0a/types/{}/encryption", uuid::Uuid::new_v4());
    let (s, v, _) = app.call(json_req("POST", &missing, ADMIN, &luks())).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, _, _) = app.call(req("GET", &missing, ADMIN)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Admin API in Cinder's defaults: a member may not even look.
    for r in [
        req("GET", &base, ALICE),
        req("GET", &format!("{base}/cipher"), ALICE),
        json_req("POST", &base, ALICE, &luks()),
        json_req("PUT", &format!("{base}/x"), ALICE, &luks()),
        req("DELETE", &format!("{base}/x"), ALICE),
    ] {
        let (s, v, _) = app.call(r).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    }
    Ok(())
}

#[actix_web::test]
async fn volumes_of_an_encrypted_type_say_so_and_freeze_it() -> TestResult {
    let mut app = TestApp::new().await?;
    app.raise_max_version();
    let t = create_type(&app, "secret").await?;
    let base = format!("/v3/0a0a/types/{t}/encryption");
    let (s, v, _) = app.call(json_req("POST", &base, ADMIN, &luks())).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let made = app
        .create_volume(
            ALICE,
            &json!({"volume": {"size": 1, "volume_type": "secret"}}),
        )
        .await?;
    assert_eq!(made["encrypted"], true, "the create's answer says so");
    let id = made["id"].as_str().ok_or("no id")?.to_string();
    let plain = app.available_volume(ALICE, 1).await?;
    let (_, list, _) = app.call(req("GET", "/v3/0a0a/volumes/detail", ALICE)).await;
    for v in list["volumes"].as_array().ok_or("no list")? {
        assert_eq!(v["encrypted"], v["id"] == id.as_str(), "{v}");
    }
    let (_, shown, _) = app
        .call(req("GET", &format!("/v3/0a0a/volumes/{plain}"), ALICE))
        .await;
    assert_eq!(shown["volume"]["encrypted"], false);

    // In use: no create, update or delete, in Cinder's words.
    let (s, v, _) = app
        .call(json_req(
            "PUT",
            &format!("{base}/x"),
            ADMIN,
            &json!({"encryption": {"cipher": null}}),
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["badRequest"]["message"],
        "Cannot update encryption specs. Volume type in use."
    );
    let (s, v, _) = app.call(req("DELETE", &format!("{base}/x"), ADMIN)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["badRequest"]["message"],
        "Cannot delete encryption specs. Volume type in use."
    );
    let (_, kept, _) = app.call(req("GET", &base, ADMIN)).await;
    assert_eq!(kept["cipher"], "aes-xts-plain64");

    // An encrypted volume is transferred from 3.70 only, and never without its snapshots.
    let body = json!({"transfer": {"volume_id": id}});
    common::eventually(std::time::Duration::from_secs(10), || async {
        let (_, v, _) = app
            .call(req("GET", &format!("/v3/0a0a/volumes/{id}"), ALICE))
            .await;
        (v["volume"]["status"] == "available").then_some(())
    })
    .await
    .ok_or("the volume never became available")?;
    let (s, v, _) = app
        .call(at(
            69,
            json_req("POST", "/v3/0a0a/volume-transfers", ALICE, &body),
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        v["badRequest"]["message"],
        "Invalid volume: transferring encrypted volume is not supported"
    );
    let bare = json!({"transfer": {"volume_id": id, "no_snapshots": true}});
    let (s, _, _) = app
        .call(at(
            70,
            json_req("POST", "/v3/0a0a/volume-transfers", ALICE, &bare),
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v, _) = app
        .call(at(
            70,
            json_req("POST", "/v3/0a0a/volume-transfers", ALICE, &body),
        ))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    Ok(())
}

#[actix_web::test]
async fn a_type_in_use_takes_no_new_encryption() -> TestResult {
    let app = TestApp::new().await?;
    let t = create_type(&app, "plain").await?;
    app.create_volume(
        ALICE,
        &json!({"volume": {"size": 1, "volume_type": "plain"}}),
    )
    .await?;
    let (s, v, _) = app
        .call(json_req(
            "POST",
            &format!("/v3/0a0a/types/{t}/encryption"),
            ADMIN,
            &luks(),
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        v["badRequest"]["message"],
        "Cannot create encryption specs. Volume type in use."
    );
    // A type deleted takes its encryption with it (the row cascades).
    let other = create_type(&app, "gone").await?;
    app.call(json_req(
        "POST",
        &format!("/v3/0a0a/types/{other}/encryption"),
        ADMIN,
        &luks(),
    ))
    .await;
    assert_eq!(app.count("volume_type_encryption"), 1);
    let (s, _, _) = app
        .call(req("DELETE", &format!("/v3/0a0a/types/{other}"), ADMIN))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(app.count("volume_type_encryption"), 0);
    Ok(())
}

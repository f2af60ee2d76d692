//! Quota sets, quota classes, per-type quotas and limits through the HTTP layer
//! (cinder-api.md §12, §13).

mod common;

use std::time::Duration;

use actix_web::http::StatusCode;
use common::{ADMIN, ALICE, BOB, TestApp, TestResult, at, eventually, json_req, req};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

async fn create_volume(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    let project = token.split(':').nth(1).unwrap_or("");
    let (s, v, _) = app
        .call(json_req(
            "POST",
            &format!("/v3/{project}/volumes"),
            token,
            &body,
        ))
        .await;
    (s, v)
}

async fn created(app: &TestApp, token: &str, body: Value) -> BoxResult<String> {
    let (s, v) = create_volume(app, token, body).await;
    if s != StatusCode::ACCEPTED {
        return Err(format!("create answered {s}: {v}").into());
    }
    Ok(v["volume"]["id"].as_str().ok_or("no id")?.to_string())
}

async fn quota_set(app: &TestApp, token: &str, target: &str, query: &str) -> (StatusCode, Value) {
    let project = token.split(':').nth(1).unwrap_or("");
    let (s, v, _) = app
        .call(req(
            "GET",
            &format!("/v3/{project}/os-quota-sets/{target}{query}"),
            token,
        ))
        .await;
    (s, v)
}

async fn set_quota(app: &TestApp, target: &str, body: Value) -> (StatusCode, Value) {
    let (s, v, _) = app
        .call(json_req(
            "PUT",
            &format!("/v3/0a0a/os-quota-sets/{target}"),
            ADMIN,
            &json!({ "quota_set": body }),
        ))
        .await;
    (s, v)
}

/// Creates a public volume type as the admin; its id.
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

fn defaults(id: Option<&str>) -> Value {
    let mut v = json!({
        "volumes": 10, "snapshots": 10, "gigabytes": 1000, "backups": 10,
        "backup_gigabytes": 1000, "groups": 10, "per_volume_gigabytes": -1,
        "volumes___DEFAULT__": -1, "gigabytes___DEFAULT__": -1, "snapshots___DEFAULT__": -1,
    });
    if let Some(id) = id {
        v["id"] = json!(id);
    }
    v
}

#[actix_web::test]
async fn quota_sets_show_defaults_and_usage() -> TestResult {
    let app = TestApp::new().await?;
    let (s, v) = quota_set(&app, ALICE, "0a0a", "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!({"quota_set": defaults(Some("0a0a"))}));
    let (s, v) = quota_set(&app, ALICE, "0b0b", "").await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "members read their own project only"
    );
    assert_eq!(
        v["forbidden"]["message"],
        "Policy doesn't allow volume_extension:quotas:show to be performed."
    );
    let (s, _) = quota_set(&app, ADMIN, "0b0b", "").await;
    assert_eq!(s, StatusCode::OK, "admins read any project");
    let (s, v, _) = app
        .call(req("GET", "/v3/os-quota-sets/0a0a/defaults", ALICE))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!({"quota_set": defaults(Some("0a0a"))}));

    let id = created(&app, ALICE, json!({"volume": {"size": 2}})).await?;
    let (s, v) = quota_set(&app, ALICE, "0a0a", "?usage=true").await;
    assert_eq!(s, StatusCode::OK);
    let q = &v["quota_set"];
    assert_eq!(q["id"], "0a0a", "id stays a plain string");
    assert_eq!(
        q["volumes"],
        json!({"limit": 10, "in_use": 1, "reserved": 0})
    );
    assert_eq!(
        q["gigabytes"],
        json!({"limit": 1000, "in_use": 2, "reserved": 0})
    );
    assert_eq!(
        q["volumes___DEFAULT__"],
        json!({"limit": -1, "in_use": 1, "reserved": 0})
    );
    assert_eq!(
        q["gigabytes___DEFAULT__"],
        json!({"limit": -1, "in_use": 2, "reserved": 0})
    );
    assert_eq!(
        q["snapshots"],
        json!({"limit": 10, "in_use": 0, "reserved": 0})
    );
    let (s, _) = quota_set(&app, ALICE, "0a0a", "?usage=maybe").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, _, _) = app
        .call(req("DELETE", &format!("/v3/0a0a/volumes/{id}"), ALICE))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let released = eventually(WAIT, || async {
        let (_, v) = quota_set(&app, ALICE, "0a0a", "?usage=true").await;
        (v["quota_set"]["volumes___DEFAULT__"]["in_use"] == 0
            && v["quota_set"]["gigabytes___DEFAULT__"]["in_use"] == 0
            && v["quota_set"]["volumes"]["in_use"] == 0)
            .then_some(())
    })
    .await;
    assert!(
        released.is_some(),
        "a delete gives the per-type usage back too"
    );
    Ok(())
}

#[actix_web::test]
async fn quota_updates_are_validated_and_admin_only() -> TestResult {
    let app = TestApp::new().await?;
    let (s, v) = set_quota(
        &app,
        "0b0b",
        json!({"volumes": 5, "groups": "11", "id": "ignored", "tenant_id": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut want = defaults(None);
    want["volumes"] = json!(5);
    want["groups"] = json!(11);
    assert_eq!(
        v,
        json!({"quota_set": want}),
        "no id in the update response"
    );
    let (_, v) = quota_set(&app, BOB, "0b0b", "").await;
    assert_eq!(v["quota_set"]["volumes"], 5);

    for (body, message) in [
        (json!({"nope": 1}), "Bad key(s) in quota set: nope"),
        (
            json!({"volumes": -2}),
            "Invalid input received: volumes must be >= -1",
        ),
        (
            json!({"volumes": "many"}),
            "Invalid input received: volumes must be an integer.",
        ),
        (
            json!({"volumes": 1.5}),
            "Invalid input received: volumes must be an integer.",
        ),
    ] {
        let (s, v) = set_quota(&app, "0b0b", body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(v["badRequest"]["message"], message);
    }
    let (s, _) = set_quota(&app, "0b0b", json!({"volumes": 2147483648u64})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v, _) = app
        .call(json_req(
            "PUT",
            "/v3/0b0b/os-quota-sets/0b0b",
            BOB,
            &json!({"quota_set": {"volumes": 100}}),
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _, _) = app
        .call(req("DELETE", "/v3/0b0b/os-quota-sets/0b0b", BOB))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    created(&app, BOB, json!({"volume": {"size": 3}})).await?;
    created(&app, BOB, json!({"volume": {"size": 3}})).await?;
    let (s, v) = set_quota(&app, "0b0b", json!({"volumes": 1})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["badRequest"]["message"],
        "Quota volumes limit must be equal or greater than existing resources. Current usage is 2 and the requested limit is 1."
    );
    let (s, _) = set_quota(
        &app,
        "0b0b",
        json!({"volumes": -1, "per_volume_gigabytes": 1}),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "-1 and per_volume_gigabytes are never below usage"
    );
    let (s, v) = set_quota(&app, "0b0b", json!({"gigabytes": 6})).await;
    assert_eq!(s, StatusCode::OK, "equal to usage is fine: {v}");

    let (s, v, _) = app
        .call(req("DELETE", "/v3/0a0a/os-quota-sets/0b0b", ADMIN))
        .await;
    assert_eq!(
        (s, v),
        (StatusCode::OK, Value::Null),
        "200 with an empty body"
    );
    let (_, v) = quota_set(&app, ADMIN, "0b0b", "?usage=true").await;
    assert_eq!(
        v["quota_set"]["volumes"]["limit"], 10,
        "back to the defaults"
    );
    assert_eq!(v["quota_set"]["volumes"]["in_use"], 2, "usage kept");
    Ok(())
}

#[actix_web::test]
async fn quota_classes_supply_the_defaults() -> TestResult {
    let app = TestApp::new().await?;
    let (s, v, _) = app
        .call(req("GET", "/v3/0a0a/os-quota-class-sets/default", ADMIN))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!({"quota_class_set": defaults(Some("default"))}));
    let (s, _, _) = app
        .call(req("GET", "/v3/0a0a/os-quota-class-sets/default", ALICE))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v, _) = app
        .call(json_req(
            "PUT",
            "/v3/0a0a/os-quota-class-sets/default",
            ADMIN,
            &json!({"quota_class_set": {"volumes": 3, "snapshots": 4}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["quota_class_set"]["volumes"], 3);
    assert!(v["quota_class_set"].get("id").is_none());
    let (_, v) = quota_set(&app, BOB, "0b0b", "").await;
    assert_eq!(v["quota_set"]["volumes"], 3, "every project's default");
    let (_, v, _) = app
        .call(req("GET", "/v3/0b0b/os-quota-sets/0b0b/defaults", BOB))
        .await;
    assert_eq!(v["quota_set"]["snapshots"], 4);
    let (s, v, _) = app
        .call(json_req(
            "PUT",
            "/v3/0a0a/os-quota-class-sets/gold",
            ADMIN,
            &json!({"quota_class_set": {"volumes": 50, "bogus": 1}}),
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["badRequest"]["message"],
        "Bad key(s) in quota class set: bogus"
    );
    Ok(())
}

#[actix_web::test]
async fn per_type_quotas_limit_creates() -> TestResult {
    let app = TestApp::new().await?;
    let gold = create_type(&app, "gold").await?;
    let (_, v) = quota_set(&app, ALICE, "0a0a", "").await;
    assert_eq!(
        v["quota_set"]["volumes_gold"], -1,
        "new types get keys at -1"
    );
    assert_eq!(v["quota_set"]["snapshots_gold"], -1);

    let (s, _) = set_quota(
        &app,
        "0a0a",
        json!({"volumes_gold": 1, "gigabytes_gold": 3}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = create_volume(
        &app,
        ALICE,
        json!({"volume": {"size": 4, "volume_type": "gold"}}),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        v["overLimit"]["message"],
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes_gold quota. Requested 4G, quota is 3G and 0G has been consumed."
    );
    let id = created(
        &app,
        ALICE,
        json!({"volume": {"size": 1, "volume_type": "gold"}}),
    )
    .await?;
    let (s, v) = create_volume(
        &app,
        ALICE,
        json!({"volume": {"size": 1, "volume_type": "gold"}}),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        v["overLimit"]["message"],
        "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for quota 'volumes_gold'."
    );
    created(&app, ALICE, json!({"volume": {"size": 1}})).await?;
    let (_, v) = quota_set(&app, ALICE, "0a0a", "?usage=true").await;
    assert_eq!(
        v["quota_set"]["volumes_gold"],
        json!({"limit": 1, "in_use": 1, "reserved": 0})
    );
    assert_eq!(v["quota_set"]["volumes"]["in_use"], 2);
    assert_eq!(
        app.count("reservations"),
        0,
        "refused creates leave nothing reserved"
    );

    // A rename carries the limits and the usage along.
    let (s, _, _) = app
        .call(json_req(
            "PUT",
            &format!("/v3/0a0a/types/{gold}"),
            ADMIN,
            &json!({"volume_type": {"name": "platinum"}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = quota_set(&app, ALICE, "0a0a", "?usage=true").await;
    assert_eq!(
        v["quota_set"]["volumes_platinum"],
        json!({"limit": 1, "in_use": 1, "reserved": 0})
    );
    assert!(v["quota_set"].get("volumes_gold").is_none());

    let (s, _, _) = app
        .call(req("DELETE", &format!("/v3/0a0a/volumes/{id}"), ALICE))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let freed = eventually(WAIT, || async {
        let (_, v) = quota_set(&app, ALICE, "0a0a", "?usage=true").await;
        (v["quota_set"]["volumes_platinum"]["in_use"] == 0
            && v["quota_set"]["gigabytes_platinum"]["in_use"] == 0)
            .then_some(())
    })
    .await;
    assert!(freed.is_some(), "the delete released the per-type keys");
    created(
        &app,
        ALICE,
        json!({"volume": {"size": 1, "volume_type": "platinum"}}),
    )
    .await?;

    let (s, _) = set_quota(&app, "0a0a", json!({"per_volume_gigabytes": 5})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = create_volume(&app, ALICE, json!({"volume": {"size": 6}})).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        v["overLimit"]["message"],
        "VolumeSizeExceedsLimit: Requested volume size 6G is larger than maximum allowed limit 5G."
    );
    Ok(())
}

#[actix_web::test]
async fn limits_show_absolute_figures() -> TestResult {
    let mut app = TestApp::new().await?;
    created(&app, ALICE, json!({"volume": {"size": 3}})).await?;
    let (s, v, _) = app.call(req("GET", "/v3/0a0a/limits", ALICE)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!({"limits": {"rate": [], "absolute": {
            "maxTotalVolumes": 10, "maxTotalSnapshots": 10, "maxTotalVolumeGigabytes": 1000,
            "maxTotalBackups": 10, "maxTotalBackupGigabytes": 1000,
            "totalVolumesUsed": 1, "totalGigabytesUsed": 3, "totalSnapshotsUsed": 0,
            "totalBackupsUsed": 0, "totalBackupGigabytesUsed": 0}}})
    );
    let (_, v, _) = app.call(req("GET", "/v3/limits", BOB)).await;
    assert_eq!(v["limits"]["absolute"]["totalVolumesUsed"], 0);
    app.raise_max_version();
    let (_, v, _) = app
        .call(req("GET", "/v3/0a0a/limits?project_id=0b0b", ADMIN))
        .await;
    assert_eq!(
        v["limits"]["absolute"]["totalVolumesUsed"], 1,
        "project_id is ignored before 3.39"
    );
    let (_, v, _) = app
        .call(at(39, req("GET", "/v3/0a0a/limits?project_id=0b0b", ADMIN)))
        .await;
    assert_eq!(v["limits"]["absolute"]["totalVolumesUsed"], 0);
    let (_, v, _) = app
        .call(at(39, req("GET", "/v3/0b0b/limits?project_id=0a0a", BOB)))
        .await;
    assert_eq!(
        v["limits"]["absolute"]["totalVolumesUsed"], 0,
        "members always get their own"
    );
    Ok(())
}

#[actix_web::test]
async fn retype_moves_the_per_type_usage() -> TestResult {
    let app = TestApp::new().await?;
    create_type(&app, "silver").await?;
    let id = created(&app, ALICE, json!({"volume": {"size": 2}})).await?;
    let available = eventually(WAIT, || async {
        let (_, v, _) = app
            .call(req("GET", &format!("/v3/0a0a/volumes/{id}"), ALICE))
            .await;
        (v["volume"]["status"] == "available").then_some(())
    })
    .await;
    assert!(available.is_some(), "the volume became available");
    let retype = || {
        json_req(
            "POST",
            &format!("/v3/0a0a/volumes/{id}/action"),
            ALICE,
            &json!({"os-retype": {"new_type": "silver", "migration_policy": "never"}}),
        )
    };

    // Over the new type's limit: refused, and nothing moves.
    let (s, _) = set_quota(&app, "0a0a", json!({"gigabytes_silver": 1})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v, _) = app.call(retype()).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    let (_, v) = quota_set(&app, ALICE, "0a0a", "?usage=true").await;
    assert_eq!(v["quota_set"]["gigabytes___DEFAULT__"]["in_use"], 2);
    assert_eq!(v["quota_set"]["gigabytes_silver"]["in_use"], 0);
    let (_, v, _) = app
        .call(req("GET", &format!("/v3/0a0a/volumes/{id}"), ALICE))
        .await;
    assert_eq!(v["volume"]["volume_type"], "__DEFAULT__");

    // Within it: the usage follows the volume to its new type.
    let (s, _) = set_quota(&app, "0a0a", json!({"gigabytes_silver": 5})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v, _) = app.call(retype()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (_, v) = quota_set(&app, ALICE, "0a0a", "?usage=true").await;
    let q = &v["quota_set"];
    assert_eq!(q["volumes___DEFAULT__"]["in_use"], 0);
    assert_eq!(q["gigabytes___DEFAULT__"]["in_use"], 0);
    assert_eq!(q["volumes_silver"]["in_use"], 1);
    assert_eq!(q["gigabytes_silver"]["in_use"], 2);
    assert_eq!(q["volumes"]["in_use"], 1, "the totals do not change");
    assert_eq!(q["gigabytes"]["in_use"], 2);
    assert_eq!(app.count("reservations"), 0, "nothing left reserved");
    Ok(())
}

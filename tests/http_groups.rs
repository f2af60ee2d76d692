//! Generic volume groups through the HTTP layer (3.13+): create with a group type and
//! volume types, the views by microversion, update, delete with the `groups` quota
//! counted and given back in the same step, reset_status (3.20, admin), the replication
//! actions answering as Cinder does for a group type without replication, and each
//! refusal leaving nothing written. The main scenario runs on SQLite and PostgreSQL.

mod common;
mod common_db;

use actix_web::http::StatusCode;
use common::{ADMIN, ALICE, BOB, TestApp, TestResult, at, json_req, req};
use serde_json::{Value, json};

async fn call(
    app: &TestApp,
    minor: u16,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let r = match body {
        Some(b) => json_req(method, path, token, &b),
        None => req(method, path, token),
    };
    let (s, v, _) = app.call(at(minor, r)).await;
    (s, v)
}

/// A public group type, made by the admin; its id.
async fn group_type(app: &TestApp, name: &str) -> Result<String, String> {
    let (s, v) = call(
        app,
        11,
        "POST",
        "/v3/group_types",
        ADMIN,
        Some(json!({"group_type": {"name": name}})),
    )
    .await;
    if s != StatusCode::ACCEPTED {
        return Err(format!("group type create answered {s}: {v}"));
    }
    v["group_type"]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "no id".into())
}

async fn lifecycle(app: &TestApp) -> TestResult {
    let gt = group_type(app, "gt").await?;
    let (s, v) = call(
        app,
        13,
        "POST",
        "/v3/0a0a/groups",
        ALICE,
        Some(json!({"group": {"name": "g1", "group_type": "gt", "volume_types": ["__DEFAULT__"]}})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let keys: Vec<&String> = v["group"].as_object().ok_or("no group")?.keys().collect();
    assert_eq!(keys, ["id", "name"], "Cinder's summary view");
    let id = v["group"]["id"].as_str().ok_or("no id")?.to_string();
    assert_eq!(app.usage("0a0a", "groups"), (1, 0), "counted with the row");

    let path = format!("/v3/0a0a/groups/{id}");
    let (s, v) = call(app, 13, "GET", &path, ALICE, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let g = &v["group"];
    assert_eq!(g["status"], "available");
    assert_eq!(g["group_type"], gt.as_str());
    assert_eq!(g["availability_zone"], "nova");
    assert_eq!(g["volume_types"].as_array().map(Vec::len), Some(1));
    assert!(g.get("group_snapshot_id").is_none(), "3.14 field at 3.13");
    let (_, v) = call(app, 38, "GET", &path, ALICE, None).await;
    assert_eq!(v["group"]["group_snapshot_id"], Value::Null);
    assert_eq!(v["group"]["replication_status"], "disabled");
    let (_, v) = call(app, 58, "GET", &path, ALICE, None).await;
    assert!(v["group"].get("project_id").is_none(), "admins only");
    let (_, v) = call(app, 58, "GET", &format!("/v3/groups/{id}"), ADMIN, None).await;
    assert_eq!(v["group"]["project_id"], "0a0a");

    // Another project sees nothing of it.
    let (s, _) = call(app, 13, "GET", &format!("/v3/0b0b/groups/{id}"), BOB, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, v) = call(app, 13, "GET", "/v3/0b0b/groups", BOB, None).await;
    assert_eq!(v, json!({"groups": []}));
    let (_, v) = call(app, 13, "GET", "/v3/0a0a/groups/detail", ALICE, None).await;
    assert_eq!(v["groups"][0]["name"], "g1");

    // Update answers 202 with no body.
    let (s, _) = call(
        app,
        13,
        "PUT",
        &path,
        ALICE,
        Some(json!({"group": {"name": "g2", "description": "d"}})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, v) = call(app, 13, "GET", &path, ALICE, None).await;
    assert_eq!(
        (&v["group"]["name"], &v["group"]["description"]),
        (&json!("g2"), &json!("d"))
    );

    // The group type is in use meanwhile.
    let (s, v) = call(
        app,
        11,
        "DELETE",
        &format!("/v3/group_types/{gt}"),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        v["badRequest"]["message"],
        "Target group type is still in use."
    );

    // reset_status: admin only, from 3.20; a group not available cannot be deleted.
    let action = format!("{path}/action");
    let reset = json!({"reset_status": {"status": "creating"}});
    let (s, _) = call(app, 20, "POST", &action, ALICE, Some(reset.clone())).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call(
        app,
        19,
        "POST",
        &format!("/v3/groups/{id}/action"),
        ADMIN,
        Some(reset.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "no such action below 3.20");
    let (s, _) = call(
        app,
        20,
        "POST",
        &format!("/v3/groups/{id}/action"),
        ADMIN,
        Some(reset),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, v) = call(app, 13, "POST", &action, ALICE, Some(json!({"delete": {}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["badRequest"]["message"],
        "Invalid Group: Group status must be available or error, but current status is: creating"
    );
    assert_eq!(
        app.usage("0a0a", "groups"),
        (1, 0),
        "a refused delete changes nothing"
    );
    let (s, _) = call(
        app,
        20,
        "POST",
        &format!("/v3/groups/{id}/action"),
        ADMIN,
        Some(json!({"reset_status": {"status": "Available"}})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);

    // Replication: the group's type has none.
    let (s, v) = call(
        app,
        38,
        "POST",
        &action,
        ALICE,
        Some(json!({"enable_replication": {}})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["badRequest"]["message"],
        format!("Invalid group type: Group {id} is not a replication group type.")
    );

    let (s, _) = call(
        app,
        13,
        "POST",
        &action,
        ALICE,
        Some(json!({"delete": {"delete-volumes": false}})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(
        app.usage("0a0a", "groups"),
        (0, 0),
        "given back with the row"
    );
    let (s, v) = call(app, 13, "GET", &path, ALICE, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        v["itemNotFound"]["message"],
        format!("Group {id} could not be found.")
    );
    let (s, _) = call(
        app,
        11,
        "DELETE",
        &format!("/v3/group_types/{gt}"),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "no group uses it any more");
    Ok(())
}

#[actix_web::test]
async fn groups_on_sqlite() -> TestResult {
    lifecycle(&TestApp::new().await?).await
}

#[actix_web::test]
async fn groups_on_postgresql() -> TestResult {
    let db = common_db::TestDb::postgres(4).map_err(|e| e.to_string())?;
    let url = db.url.clone();
    let app = TestApp::with(|c| c.database_url = Some(url)).await?;
    lifecycle(&app).await
}

#[actix_web::test]
async fn refused_creates_write_nothing() -> TestResult {
    let app = TestApp::new().await?;
    group_type(&app, "gt").await?;
    let missing = "00000000-0000-0000-0000-000000000000";
    let cases = [
        (
            json!({"group": {"name": "g", "volume_types": ["__DEFAULT__"]}}),
            StatusCode::BAD_REQUEST,
            "group_type must be provided to create group g.",
        ),
        (
            json!({"group": {"name": "g", "group_type": "gt"}}),
            StatusCode::BAD_REQUEST,
            "volume_types must be provided to create group g.",
        ),
        (
            json!({"group": {"name": "g", "group_type": "gt", "volume_types": [], "x": 1}}),
            StatusCode::BAD_REQUEST,
            "Invalid input for field/attribute group. Additional properties are not allowed ('x' was unexpected)",
        ),
        (
            json!({"group": {"group_type": missing, "volume_types": ["__DEFAULT__"]}}),
            StatusCode::NOT_FOUND,
            "Group type 00000000-0000-0000-0000-000000000000 could not be found.",
        ),
        (
            json!({"group": {"group_type": "gt", "volume_types": "nope"}}),
            StatusCode::NOT_FOUND,
            "Volume type with name nope could not be found.",
        ),
        (
            json!({"group": {"group_type": "default_cgsnapshot_type", "volume_types": ["__DEFAULT__"]}}),
            StatusCode::BAD_REQUEST,
            "Group_type default_cgsnapshot_type is reserved for migrating CGs to groups. Migrated group can only be operated by CG APIs.",
        ),
        (
            json!({"group": {"group_type": "gt", "volume_types": ["__DEFAULT__"], "availability_zone": "mars"}}),
            StatusCode::BAD_REQUEST,
            "Invalid input received: Availability zone 'mars' is invalid.",
        ),
    ];
    for (body, status, message) in cases {
        let (s, v) = call(
            &app,
            13,
            "POST",
            "/v3/0a0a/groups",
            ALICE,
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, status, "{body}: {v}");
        let fault = v
            .as_object()
            .and_then(|o| o.values().next())
            .ok_or("no fault")?;
        assert_eq!(fault["message"], message, "{body}");
    }
    let (s, _) = call(
        &app,
        12,
        "POST",
        "/v3/0a0a/groups",
        ALICE,
        Some(json!({"group": {"group_type": "gt", "volume_types": ["__DEFAULT__"]}})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no groups below 3.13");
    assert_eq!(app.count("groups"), 0);
    assert_eq!(app.usage("0a0a", "groups"), (0, 0), "no usage either");

    // The groups quota: the limit set to 1 lets one group in.
    let (s, _) = call(
        &app,
        13,
        "PUT",
        "/v3/os-quota-sets/0a0a",
        ADMIN,
        Some(json!({"quota_set": {"groups": 1}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let body = json!({"group": {"group_type": "gt", "volume_types": "__DEFAULT__"}});
    let (s, v) = call(
        &app,
        13,
        "POST",
        "/v3/0a0a/groups",
        ALICE,
        Some(body.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (s, v) = call(&app, 13, "POST", "/v3/0a0a/groups", ALICE, Some(body)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(
        v["overLimit"]["message"],
        "GroupLimitExceeded: Maximum number of groups allowed (1) exceeded"
    );
    assert_eq!(
        (app.count("groups"), app.usage("0a0a", "groups")),
        (1, (1, 0))
    );
    Ok(())
}

/// The list filters, as Cinder's: admins filter on any column (one that is no column
/// matches nothing), members from 3.31 on `name` only (400 for any other key), and on any
/// column before 3.31.
#[actix_web::test]
async fn lists_filter_on_columns() -> TestResult {
    let app = TestApp::new().await?;
    group_type(&app, "gt").await?;
    for name in ["g1", "g2"] {
        let body = json!({"group": {"name": name, "group_type": "gt",
                                    "volume_types": ["__DEFAULT__"]}});
        let (s, v) = call(&app, 13, "POST", "/v3/0a0a/groups", ALICE, Some(body)).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    }
    let names = |v: &Value| -> Vec<String> {
        let mut n: Vec<String> = v["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g["name"].as_str().map(String::from))
            .collect();
        n.sort();
        n
    };
    let (s, v) = call(&app, 71, "GET", "/v3/0a0a/groups?name=g1", ALICE, None).await;
    assert_eq!(
        (s, names(&v)),
        (StatusCode::OK, vec!["g1".to_string()]),
        "{v}"
    );
    let (s, v) = call(
        &app,
        71,
        "GET",
        "/v3/0a0a/groups/detail?name=g2",
        ALICE,
        None,
    )
    .await;
    assert_eq!(
        (s, names(&v)),
        (StatusCode::OK, vec!["g2".to_string()]),
        "{v}"
    );
    let (s, v) = call(
        &app,
        71,
        "GET",
        "/v3/0a0a/groups?status=available",
        ALICE,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        v["badRequest"]["message"],
        "Invalid filters status are found in query options."
    );
    let (s, v) = call(&app, 30, "GET", "/v3/0a0a/groups?status=error", ALICE, None).await;
    assert_eq!((s, names(&v)), (StatusCode::OK, vec![]), "{v}");
    let (s, v) = call(
        &app,
        30,
        "GET",
        "/v3/0a0a/groups?status=available",
        ALICE,
        None,
    )
    .await;
    assert_eq!(names(&v), ["g1", "g2"], "{s} {v}");
    let all = "/v3/0a0a/groups?all_tenants=1&status=available&limit=5";
    let (s, v) = call(&app, 71, "GET", all, ADMIN, None).await;
    assert_eq!(
        (s, names(&v)),
        (StatusCode::OK, vec!["g1".into(), "g2".into()])
    );
    let (s, v) = call(
        &app,
        71,
        "GET",
        "/v3/0a0a/groups?all_tenants=1&color=blue",
        ADMIN,
        None,
    )
    .await;
    assert_eq!((s, names(&v)), (StatusCode::OK, vec![]), "{v}");
    Ok(())
}

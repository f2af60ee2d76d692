//! Group types and group specs through the HTTP layer (3.11): admin writes, everyone's
//! reads, specs shown to admins only, private types hidden, the configured default, and
//! Cinder's codes and messages for each refusal. The main scenario runs on SQLite and on
//! PostgreSQL.

mod common;
mod common_db;

use actix_web::http::StatusCode;
use common::{ADMIN, ALICE, TestApp, TestResult, at, json_req, req};
use serde_json::{Value, json};

const V: u16 = 11;

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let r = match body {
        Some(b) => json_req(method, path, token, &b),
        None => req(method, path, token),
    };
    let (s, v, _) = app.call(at(V, r)).await;
    (s, v)
}

/// Create, read as admin and member, specs, update, delete, on one backend.
async fn lifecycle(app: &TestApp) -> TestResult {
    let (s, v) = call(
        app,
        "POST",
        "/v3/group_types",
        ADMIN,
        Some(json!({"group_type": {"name": " gold ", "description": "d", "group_specs": {"consistent_group_snapshot_enabled": "<is> True"}}})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let t = &v["group_type"];
    assert_eq!(t["name"], "gold", "names are trimmed");
    assert_eq!(t["is_public"], true);
    assert_eq!(
        t["group_specs"],
        json!({"consistent_group_snapshot_enabled": "<is> True"})
    );
    let id = t["id"].as_str().ok_or("no id")?.to_string();

    // A member reads the type without its specs.
    let (s, v) = call(
        app,
        "GET",
        &format!("/v3/0a0a/group_types/{id}"),
        ALICE,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["group_type"].get("group_specs").is_none(), "{v}");
    assert_eq!(v["group_type"]["description"], "d");

    // The same name again is Cinder's 409.
    let (s, v) = call(
        app,
        "POST",
        "/v3/group_types",
        ADMIN,
        Some(json!({"group_type": {"name": "gold"}})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(
        v["conflictingRequest"]["message"],
        "Group Type gold already exists."
    );

    // Specs: add, show one, replace one, remove one.
    let specs = format!("/v3/group_types/{id}/group_specs");
    let (s, v) = call(
        app,
        "POST",
        &specs,
        ADMIN,
        Some(json!({"group_specs": {"a": "1", "b": "2"}})),
    )
    .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::ACCEPTED,
            json!({"group_specs": {"a": "1", "b": "2"}})
        )
    );
    let (s, v) = call(
        app,
        "PUT",
        &format!("{specs}/a"),
        ADMIN,
        Some(json!({"a": "9"})),
    )
    .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"a": "9"})));
    let (s, v) = call(
        app,
        "PUT",
        &format!("{specs}/a"),
        ADMIN,
        Some(json!({"b": "9"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["badRequest"]["message"], "Request body and URI mismatch");
    let (s, v) = call(app, "GET", &format!("{specs}/a"), ADMIN, None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"a": "9"})));
    let (s, _) = call(app, "DELETE", &format!("{specs}/b"), ADMIN, None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, v) = call(app, "DELETE", &format!("{specs}/b"), ADMIN, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(
        v["itemNotFound"]["message"],
        format!("Group Type {id} has no specs with key b.")
    );
    let (s, v) = call(app, "GET", &format!("{specs}/b"), ADMIN, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(
        v["itemNotFound"]["message"],
        format!("Group Type {id} has no extra spec with key b.")
    );
    let (_, v) = call(app, "GET", &specs, ADMIN, None).await;
    assert_eq!(
        v,
        json!({"group_specs": {"a": "9", "consistent_group_snapshot_enabled": "<is> True"}})
    );
    // Members may not read or write specs.
    let (s, _) = call(
        app,
        "GET",
        &format!("/v3/0a0a/group_types/{id}/group_specs"),
        ALICE,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Private: hidden from members, listed to admins with is_public=false.
    let (s, v) = call(
        app,
        "PUT",
        &format!("/v3/group_types/{id}"),
        ADMIN,
        Some(json!({"group_type": {"is_public": false, "description": null}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["group_type"]["is_public"], false);
    assert_eq!(
        v["group_type"]["description"], "d",
        "a null description changes nothing, as in Cinder"
    );
    let (s, _) = call(
        app,
        "GET",
        &format!("/v3/0a0a/group_types/{id}"),
        ALICE,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, v) = call(app, "GET", "/v3/0a0a/group_types", ALICE, None).await;
    let names: Vec<&str> = v["group_types"]
        .as_array()
        .ok_or("no list")?
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["default_cgsnapshot_type"], "public types only");
    let (_, v) = call(app, "GET", "/v3/group_types?is_public=false", ADMIN, None).await;
    assert_eq!(v["group_types"][0]["id"], id.as_str());
    assert_eq!(v["group_types"].as_array().map(Vec::len), Some(1));

    // Delete, then it is gone.
    let (s, _) = call(app, "DELETE", &format!("/v3/group_types/{id}"), ADMIN, None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, v) = call(app, "GET", &format!("/v3/group_types/{id}"), ADMIN, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        v["itemNotFound"]["message"],
        format!("Group type {id} could not be found.")
    );
    Ok(())
}

#[actix_web::test]
async fn group_types_on_sqlite() -> TestResult {
    lifecycle(&TestApp::new().await?).await
}

#[actix_web::test]
async fn group_types_on_postgresql() -> TestResult {
    let db = common_db::TestDb::postgres(4).map_err(|e| e.to_string())?;
    let url = db.url.clone();
    let app = TestApp::with(|c| c.database_url = Some(url)).await?;
    lifecycle(&app).await
}

#[actix_web::test]
async fn refusals_answer_as_cinder_does() -> TestResult {
    let app = TestApp::new().await?;
    // Below 3.11 the resource does not exist.
    let (s, _, _) = app.call(at(10, req("GET", "/v3/group_types", ADMIN))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Members may not create.
    let (s, v) = call(
        &app,
        "POST",
        "/v3/0a0a/group_types",
        ALICE,
        Some(json!({"group_type": {"name": "x"}})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    for (body, message) in [
        (
            json!({"group_type": {}}),
            "Invalid input for field/attribute group_type. 'name' is a required property and may not be blank.",
        ),
        (
            json!({"group_type": {"name": "   "}}),
            "Invalid input for field/attribute group_type. 'name' is a required property and may not be blank.",
        ),
        (
            json!({"group_type": {"name": "x", "colour": 1}}),
            "Invalid input for field/attribute group_type. Additional properties are not allowed ('colour' was unexpected)",
        ),
        (
            json!({"group_type": {"name": "x", "is_public": "maybe"}}),
            "Invalid value 'maybe' for is_public.",
        ),
        (
            json!({"name": "x"}),
            "Missing required element 'group_type' in request body.",
        ),
    ] {
        let (s, v) = call(&app, "POST", "/v3/group_types", ADMIN, Some(body.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(v["badRequest"]["message"], message, "{body}");
    }
    let (s, v) = call(
        &app,
        "POST",
        "/v3/group_types",
        ADMIN,
        Some(json!({"group_type": {"name": "x", "group_specs": {"bad key": "v"}}})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        app.count("group_types"),
        1,
        "only Cinder's own type: nothing half-written"
    );

    let (_, v) = call(
        &app,
        "POST",
        "/v3/group_types",
        ADMIN,
        Some(json!({"group_type": {"name": "x"}})),
    )
    .await;
    let id = v["group_type"]["id"].as_str().ok_or("no id")?.to_string();
    for body in [json!({}), json!({"description": null})] {
        let (s, v) = call(
            &app,
            "PUT",
            &format!("/v3/group_types/{id}"),
            ADMIN,
            Some(json!({ "group_type": body })),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            v["badRequest"]["message"],
            "Specify group type name, description or a combination thereof."
        );
    }
    let (s, v) = call(
        &app,
        "PUT",
        &format!("/v3/group_types/{id}"),
        ADMIN,
        Some(json!({"group_type": {"name": " "}})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["badRequest"]["message"],
        "Group type name can not be empty."
    );
    let (s, v) = call(
        &app,
        "PUT",
        &format!("/v3/group_types/{id}"),
        ADMIN,
        Some(json!({"group_type": {"name": "default_cgsnapshot_type"}})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, _) = call(
        &app,
        "PUT",
        "/v3/group_types/00000000-0000-0000-0000-000000000000",
        ADMIN,
        Some(json!({"group_type": {"name": "y"}})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(
        &app,
        "POST",
        "/v3/group_types/00000000-0000-0000-0000-000000000000/group_specs",
        ADMIN,
        Some(json!({"group_specs": {"a": "b"}})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    Ok(())
}

#[actix_web::test]
async fn the_default_group_type_is_the_configured_one() -> TestResult {
    let app = TestApp::new().await?;
    let (s, v) = call(&app, "GET", "/v3/0a0a/group_types/default", ALICE, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "unset, as in Cinder");
    assert_eq!(
        v["itemNotFound"]["message"],
        "Default group type can not be found."
    );

    let app =
        TestApp::with(|c| c.default_group_type = Some("default_cgsnapshot_type".into())).await?;
    let (s, v) = call(&app, "GET", "/v3/0a0a/group_types/default", ALICE, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["group_type"]["name"], "default_cgsnapshot_type");
    Ok(())
}

//! Volume types, extra specs, type access and default types through the HTTP layer
//! (cinder-api.md §10), and extra specs steering placement.

mod common;

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test;
use common::{ADMIN, ALICE, BOB, TestApp, TestResult, at, eventually, fake_node, json_req, req};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

async fn create_type(app: &TestApp, name: &str, extra: Value) -> BoxResult<String> {
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/types",
            ADMIN,
            &json!({"volume_type": {"name": name, "extra_specs": extra}}),
        ))
        .await;
    if s != StatusCode::OK {
        return Err(format!("type create answered {s}: {v}").into());
    }
    Ok(v["volume_type"]["id"].as_str().ok_or("no id")?.to_string())
}

async fn create_volume(app: &TestApp, token: &str, body: Value) -> BoxResult<String> {
    let volume = app.create_volume(token, &body).await?;
    Ok(volume["id"].as_str().ok_or("no id")?.to_string())
}

/// An admin's type access action (`addProjectAccess`, `removeProjectAccess`) on a type.
fn access_action(type_id: &str, action: &str, project: &str) -> test::TestRequest {
    json_req(
        "POST",
        &format!("/v3/0a0a/types/{type_id}/action"),
        ADMIN,
        &json!({ action: {"project": project} }),
    )
}

/// Waits for `available` and returns the admin view (with the host).
async fn available(app: &TestApp, id: &str) -> BoxResult<Value> {
    eventually(WAIT, || async {
        let (s, v, _) = app
            .call(req("GET", &format!("/v3/volumes/{id}"), ADMIN))
            .await;
        (s == StatusCode::OK && v["volume"]["status"] == "available").then(|| v["volume"].clone())
    })
    .await
    .ok_or_else(|| format!("volume {id} never became available").into())
}

#[actix_web::test]
async fn types_are_created_listed_shown_updated_and_deleted() -> TestResult {
    let app = TestApp::new().await?;
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/types",
            ADMIN,
            &json!({"volume_type": {"name": " gold ", "description": "fast",
                "os-volume-type-access:is_public": true,
                "extra_specs": {"capabilities:tier": "gold"}}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "type create is 200: {v}");
    let t = &v["volume_type"];
    assert_eq!(t["name"], "gold");
    assert_eq!(t["description"], "fast");
    assert_eq!(t["is_public"], true);
    assert_eq!(t["os-volume-type-access:is_public"], true);
    assert_eq!(t["extra_specs"], json!({"capabilities:tier": "gold"}));
    assert!(
        t.get("qos_specs_id").is_none(),
        "create has no qos_specs_id"
    );
    let id = t["id"].as_str().ok_or("no id")?.to_string();

    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/types",
            ADMIN,
            &json!({"volume_type": {"name": "gold"}}),
        ))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(
        v["conflictingRequest"]["message"],
        "Volume Type gold already exists."
    );
    for bad in [
        json!({"volume_type": {"name": ""}}),
        json!({"volume_type": {"description": "x"}}),
        json!({"volume_type": {"name": "x", "color": "red"}}),
        json!({"volume_type": {"name": "x", "extra_specs": {"a b": "c"}}}),
        json!({"volume_type": {"name": "x", "extra_specs": {"k": 1}}}),
        json!({"type": {"name": "x"}}),
    ] {
        let (s, _, _) = app
            .call(json_req("POST", "/v3/0a0a/types", ADMIN, &bad))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    }

    let (s, v, _) = app
        .call(req("GET", &format!("/v3/0a0a/types/{id}"), ADMIN))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["volume_type"]["qos_specs_id"], Value::Null);
    assert_eq!(v["volume_type"]["os-volume-type-access:is_public"], true);
    let (_, v, _) = app
        .call(req("GET", &format!("/v3/0a0a/types/{id}"), ALICE))
        .await;
    assert!(
        v["volume_type"].get("qos_specs_id").is_none(),
        "members never see qos_specs_id"
    );
    assert_eq!(v["volume_type"]["extra_specs"], json!({}), "{v}");

    let (s, v, _) = app.call(req("GET", "/v3/0a0a/types", ALICE)).await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = v["volume_types"]
        .as_array()
        .ok_or("no list")?
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["gold", "__DEFAULT__"], "newest first");

    let (s, v, _) = app
        .call(json_req(
            "PUT",
            &format!("/v3/0a0a/types/{id}"),
            ADMIN,
            &json!({"volume_type": {"name": "platinum", "description": null}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["volume_type"]["name"], "platinum");
    assert_eq!(v["volume_type"]["description"], Value::Null);
    for (body, code) in [
        (json!({"volume_type": {}}), StatusCode::BAD_REQUEST),
        (
            json!({"volume_type": {"name": "  "}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"volume_type": {"name": "__DEFAULT__"}}),
            StatusCode::CONFLICT,
        ),
    ] {
        let (s, _, _) = app
            .call(json_req(
                "PUT",
                &format!("/v3/0a0a/types/{id}"),
                ADMIN,
                &body,
            ))
            .await;
        assert_eq!(s, code, "{body}");
    }

    let (s, v, _) = app
        .call(req("DELETE", &format!("/v3/0a0a/types/{id}"), ALICE))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        v["forbidden"]["message"],
        "Policy doesn't allow volume_extension:type_delete to be performed."
    );
    let (s, _, _) = app
        .call(req("DELETE", &format!("/v3/0a0a/types/{id}"), ADMIN))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "type delete is 202");
    let (s, v, _) = app
        .call(req("GET", &format!("/v3/0a0a/types/{id}"), ADMIN))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        v["itemNotFound"]["message"],
        format!("Volume type {id} could not be found.")
    );
    Ok(())
}

#[actix_web::test]
async fn members_cannot_write_types() -> TestResult {
    let app = TestApp::new().await?;
    let id = create_type(&app, "t", json!({})).await?;
    let calls = [
        json_req(
            "POST",
            "/v3/0a0a/types",
            ALICE,
            &json!({"volume_type": {"name": "x"}}),
        ),
        json_req(
            "PUT",
            &format!("/v3/0a0a/types/{id}"),
            ALICE,
            &json!({"volume_type": {"name": "x"}}),
        ),
        json_req(
            "POST",
            &format!("/v3/0a0a/types/{id}/extra_specs"),
            ALICE,
            &json!({"extra_specs": {"a": "b"}}),
        ),
        json_req(
            "PUT",
            &format!("/v3/0a0a/types/{id}/extra_specs/a"),
            ALICE,
            &json!({"a": "b"}),
        ),
        req(
            "DELETE",
            &format!("/v3/0a0a/types/{id}/extra_specs/a"),
            ALICE,
        ),
        req(
            "GET",
            &format!("/v3/0a0a/types/{id}/os-volume-type-access"),
            ALICE,
        ),
        json_req(
            "POST",
            &format!("/v3/0a0a/types/{id}/action"),
            ALICE,
            &json!({"addProjectAccess": {"project": "0b0b"}}),
        ),
    ];
    for call in calls {
        let (s, v, _) = app.call(call).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        assert!(
            v["forbidden"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Policy doesn't allow")),
            "{v}"
        );
    }
    Ok(())
}

#[actix_web::test]
async fn extra_specs_are_managed_until_the_type_is_used() -> TestResult {
    let app = TestApp::new().await?;
    let id = create_type(&app, "t", json!({"RESKEY:availability_zones": "nova"})).await?;
    let base = format!("/v3/0a0a/types/{id}/extra_specs");
    let (s, v, _) = app
        .call(json_req(
            "POST",
            &base,
            ADMIN,
            &json!({"extra_specs": {"volume_backend_name": "fake", "k": "v"}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!({"extra_specs": {"volume_backend_name": "fake", "k": "v"}}),
        "echoes the request"
    );
    let (s, v, _) = app.call(req("GET", &base, ADMIN)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["extra_specs"],
        json!({"volume_backend_name": "fake", "k": "v", "RESKEY:availability_zones": "nova"})
    );
    let (_, v, _) = app.call(req("GET", &base, ALICE)).await;
    assert_eq!(
        v["extra_specs"],
        json!({"RESKEY:availability_zones": "nova"}),
        "members see only the user-visible specs"
    );
    let (s, v, _) = app.call(req("GET", &format!("{base}/k"), ADMIN)).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"k": "v"})));
    let (s, _, _) = app.call(req("GET", &format!("{base}/k"), ALICE)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "hidden from members");
    let (s, v, _) = app
        .call(json_req(
            "PUT",
            &format!("{base}/k"),
            ADMIN,
            &json!({"k": "w"}),
        ))
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"k": "w"})));
    for body in [json!({"other": "w"}), json!({"k": "w", "j": "x"})] {
        let (s, _, _) = app
            .call(json_req("PUT", &format!("{base}/k"), ADMIN, &body))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    }
    let (s, v, _) = app
        .call(json_req(
            "POST",
            &base,
            ADMIN,
            &json!({"extra_specs": {"multiattach": "<is> True", "cacheable": "<is> True"}}),
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["badRequest"]["message"],
        "cacheable cannot be set with multiattach."
    );
    let (s, _, _) = app.call(req("DELETE", &format!("{base}/k"), ADMIN)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "extra-spec delete is 202");
    let (s, v, _) = app.call(req("DELETE", &format!("{base}/k"), ADMIN)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        v["itemNotFound"]["message"],
        format!("Volume Type {id} has no extra specs with key k.")
    );

    let vol = create_volume(
        &app,
        ALICE,
        json!({"volume": {"size": 1, "volume_type": "t"}}),
    )
    .await?;
    available(&app, &vol).await?;
    let in_use =
        json!({"badRequest": {"code": 400, "message": "Volume Type is currently in use."}});
    let (s, v, _) = app
        .call(json_req(
            "POST",
            &base,
            ADMIN,
            &json!({"extra_specs": {"x": "y"}}),
        ))
        .await;
    assert_eq!((s, v), (StatusCode::BAD_REQUEST, in_use.clone()));
    let (s, v, _) = app
        .call(json_req(
            "PUT",
            &format!("{base}/volume_backend_name"),
            ADMIN,
            &json!({"volume_backend_name": "x"}),
        ))
        .await;
    assert_eq!((s, v), (StatusCode::BAD_REQUEST, in_use.clone()));
    let (s, v, _) = app
        .call(req("DELETE", &format!("{base}/volume_backend_name"), ADMIN))
        .await;
    assert_eq!((s, v), (StatusCode::BAD_REQUEST, in_use));
    let (s, v, _) = app
        .call(req("DELETE", &format!("/v3/0a0a/types/{id}"), ADMIN))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["badRequest"]["message"],
        "Target volume type is still in use."
    );
    Ok(())
}

#[actix_web::test]
async fn private_types_are_shared_per_project() -> TestResult {
    let app = TestApp::new().await?;
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/types",
            ADMIN,
            &json!({"volume_type": {"name": "secret", "os-volume-type-access:is_public": "false"}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["volume_type"]["is_public"], false);
    let id = v["volume_type"]["id"].as_str().ok_or("no id")?.to_string();
    let listed = |token: &'static str, query: &'static str| {
        let app = &app;
        async move {
            let project = token.split(':').nth(1).unwrap_or("");
            let (_, v, _) = app
                .call(req("GET", &format!("/v3/{project}/types{query}"), token))
                .await;
            v["volume_types"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t["name"].as_str().map(str::to_string))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        }
    };
    assert_eq!(listed(BOB, "").await, ["__DEFAULT__"]);
    assert_eq!(
        listed(ADMIN, "").await,
        ["__DEFAULT__"],
        "admin default: public"
    );
    assert_eq!(listed(ADMIN, "?is_public=false").await, ["secret"]);
    assert_eq!(
        listed(ADMIN, "?is_public=none").await,
        ["secret", "__DEFAULT__"]
    );
    let (s, _, _) = app
        .call(req("GET", &format!("/v3/0b0b/types/{id}"), BOB))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no access, no type");
    let (s, _, _) = app
        .call(json_req(
            "POST",
            "/v3/0b0b/volumes",
            BOB,
            &json!({"volume": {"size": 1, "volume_type": id}}),
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "nor can it be used");

    let action = |name: &str, project: &str| access_action(&id, name, project);
    let (s, _, _) = app.call(action("addProjectAccess", "0b0b")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, v, _) = app.call(action("addProjectAccess", "0b0b")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(listed(BOB, "").await, ["secret", "__DEFAULT__"]);
    let (s, v, _) = app
        .call(req(
            "GET",
            &format!("/v3/0a0a/types/{id}/os-volume-type-access"),
            ADMIN,
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!({"volume_type_access": [{"volume_type_id": id, "project_id": "0b0b"}]})
    );
    let (s, _, _) = app.call(action("removeProjectAccess", "0b0b")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _, _) = app.call(action("removeProjectAccess", "0b0b")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(listed(BOB, "").await, ["__DEFAULT__"]);
    let (s, v, _) = app.call(action("frobnicate", "0b0b")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["badRequest"]["message"],
        "There is no such action: frobnicate"
    );

    let public = create_type(&app, "open", json!({})).await?;
    let (s, _, _) = app
        .call(req(
            "GET",
            &format!("/v3/0a0a/types/{public}/os-volume-type-access"),
            ADMIN,
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a public type has no access list");
    let (s, _, _) = app
        .call(access_action(&public, "addProjectAccess", "0b0b"))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    Ok(())
}

#[actix_web::test]
async fn type_lists_page_and_sort() -> TestResult {
    let app = TestApp::new().await?;
    for n in ["b", "c", "a"] {
        create_type(&app, n, json!({})).await?;
    }
    let (s, v, _) = app
        .call(req("GET", "/v3/0a0a/types?sort=name:asc&limit=2", ADMIN))
        .await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = v["volume_types"]
        .as_array()
        .ok_or("no list")?
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["__DEFAULT__", "a"]);
    let next = v["volume_type_links"][0]["href"]
        .as_str()
        .ok_or("a full page has a next link")?;
    let path = next
        .split_once("/v3/")
        .map(|(_, p)| format!("/v3/{p}"))
        .ok_or("href")?;
    let (_, v, _) = app.call(req("GET", &path, ADMIN)).await;
    let names: Vec<&str> = v["volume_types"]
        .as_array()
        .ok_or("no list")?
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["b", "c"]);
    let (s, _, _) = app
        .call(req("GET", "/v3/0a0a/types?sort=color", ADMIN))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = app
        .call(req("GET", "/v3/0a0a/types?marker=nope", ADMIN))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    Ok(())
}

#[actix_web::test]
async fn extra_specs_filter_and_strict_filters_need_their_versions() -> TestResult {
    let mut app = TestApp::new().await?;
    app.raise_max_version();
    create_type(&app, "gold", json!({"tier": "gold"})).await?;
    let q = "/v3/0a0a/types?extra_specs=%7B%27tier%27%3A+%27gold%27%7D";
    let (_, v, _) = app.call(req("GET", q, ADMIN)).await;
    assert_eq!(
        v["volume_types"].as_array().map(Vec::len),
        Some(2),
        "ignored before 3.52"
    );
    let (_, v, _) = app.call(at(52, req("GET", q, ADMIN))).await;
    assert_eq!(v["volume_types"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["volume_types"][0]["name"], "gold");
    let (s, _, _) = app
        .call(at(30, req("GET", "/v3/0a0a/types?color=red", ALICE)))
        .await;
    assert_eq!(s, StatusCode::OK, "unknown filters are dropped before 3.31");
    let (s, v, _) = app
        .call(at(31, req("GET", "/v3/0a0a/types?color=red", ALICE)))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["badRequest"]["message"],
        "Invalid filters color are found in query options."
    );
    Ok(())
}

#[actix_web::test]
async fn default_types_need_362_and_steer_creates() -> TestResult {
    let app = TestApp::new().await?;
    let (s, v, _) = app.call(req("GET", "/v3/0a0a/types/default", ALICE)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["volume_type"]["name"], "__DEFAULT__");
    assert_eq!(v["volume_type"]["description"], "Default Volume Type");

    let (s, v, _) = app.call(req("GET", "/v3/default-types", ADMIN)).await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "below 3.62 the route does not exist"
    );
    assert_eq!(
        v["itemNotFound"]["message"],
        "The resource could not be found."
    );
    let (s, _, _) = app
        .call(at(62, req("GET", "/v3/default-types", ADMIN)))
        .await;
    assert_eq!(s, StatusCode::OK, "3.62 is advertised");

    let gold = create_type(&app, "gold", json!({})).await?;
    let set = |project: &str, t: &str, token: &str| {
        at(
            62,
            json_req(
                "PUT",
                &format!("/v3/default-types/{project}"),
                token,
                &json!({"default_type": {"volume_type": t}}),
            ),
        )
    };
    let (s, v, _) = app.call(set("0b0b", "gold", ADMIN)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!({"default_type": {"project_id": "0b0b", "volume_type_id": gold}})
    );
    let (s, _, _) = app.call(set("0b0b", "nope", ADMIN)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "unknown type");
    let (s, _, _) = app.call(set("0b0b", "gold", BOB)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, v, _) = app
        .call(at(62, req("GET", "/v3/0a0a/default-types/0b0b", ADMIN)))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["default_type"]["volume_type_id"], gold.as_str());
    let (_, v, _) = app
        .call(at(62, req("GET", "/v3/0a0a/default-types", ADMIN)))
        .await;
    assert_eq!(
        v,
        json!({"default_types": [{"project_id": "0b0b", "volume_type_id": gold}]})
    );
    let (_, v, _) = app.call(req("GET", "/v3/0b0b/types/default", BOB)).await;
    assert_eq!(
        v["volume_type"]["name"], "gold",
        "the project's own default"
    );

    let vol = create_volume(&app, BOB, json!({"volume": {"size": 1}})).await?;
    let (_, v, _) = app
        .call(req("GET", &format!("/v3/0b0b/volumes/{vol}"), BOB))
        .await;
    assert_eq!(
        v["volume"]["volume_type"], "gold",
        "creates use the project default"
    );
    let other = create_volume(&app, ALICE, json!({"volume": {"size": 1}})).await?;
    let (_, v, _) = app
        .call(req("GET", &format!("/v3/0a0a/volumes/{other}"), ALICE))
        .await;
    assert_eq!(v["volume"]["volume_type"], "__DEFAULT__");

    let (s, v, _) = app
        .call(req("DELETE", &format!("/v3/types/{gold}"), ADMIN))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "in use: {v}");
    let (s, _, _) = app
        .call(at(62, req("DELETE", "/v3/default-types/0b0b", ADMIN)))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = app
        .call(at(62, req("GET", "/v3/default-types/0b0b", ADMIN)))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = app
        .call(at(62, req("DELETE", "/v3/default-types/0b0b", ADMIN)))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let spare = create_type(&app, "spare", json!({})).await?;
    let (s, _, _) = app.call(set("0a0a", "spare", ADMIN)).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v, _) = app
        .call(req("DELETE", &format!("/v3/types/{spare}"), ADMIN))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["badRequest"]["message"],
        format!("The volume type {spare} is a default volume type and cannot be deleted.")
    );
    let (_, v, _) = app.call(req("GET", "/v3/types/default", ADMIN)).await;
    let default_id = v["volume_type"]["id"].as_str().ok_or("no id")?.to_string();
    assert_eq!(default_id, spare);
    let (_, v, _) = app
        .call(req("GET", "/v3/types?is_public=none", ADMIN))
        .await;
    let builtin = v["volume_types"]
        .as_array()
        .ok_or("no list")?
        .iter()
        .find(|t| t["name"] == "__DEFAULT__")
        .and_then(|t| t["id"].as_str())
        .ok_or("no __DEFAULT__")?
        .to_string();
    let (s, _, _) = app
        .call(req("DELETE", &format!("/v3/types/{builtin}"), ADMIN))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "the configured default stays");
    Ok(())
}

#[actix_web::test]
async fn extra_specs_steer_placement() -> TestResult {
    let app = TestApp::with(|c| {
        let mut gold = fake_node("n2", "nova");
        gold.capabilities.insert("tier".into(), json!("gold"));
        let mut fast = fake_node("n3", "nova");
        fast.backend_name = Some("fast".into());
        c.nodes = vec![fake_node("n1", "nova"), gold, fast];
    })
    .await?;
    create_type(&app, "gold", json!({"capabilities:tier": "gold"})).await?;
    create_type(&app, "fast", json!({"volume_backend_name": "fast"})).await?;
    for _ in 0..3 {
        let id = create_volume(
            &app,
            ALICE,
            json!({"volume": {"size": 1, "volume_type": "gold"}}),
        )
        .await?;
        let v = available(&app, &id).await?;
        assert_eq!(v["os-vol-host-attr:host"], "n2@fake#fake");
        assert_eq!(v["volume_type"], "gold");
        let id = create_volume(
            &app,
            ALICE,
            json!({"volume": {"size": 1, "volume_type": "fast"}}),
        )
        .await?;
        let v = available(&app, &id).await?;
        assert_eq!(v["os-vol-host-attr:host"], "n3@fast#fake");
    }
    create_type(&app, "platinum", json!({"capabilities:tier": "platinum"})).await?;
    let id = create_volume(
        &app,
        ALICE,
        json!({"volume": {"size": 1, "volume_type": "platinum"}}),
    )
    .await?;
    let failed = eventually(WAIT, || async {
        let (_, v, _) = app
            .call(req("GET", &format!("/v3/volumes/{id}"), ADMIN))
            .await;
        (v["volume"]["status"] == "error").then_some(())
    })
    .await;
    assert!(failed.is_some(), "no node reports tier=platinum");
    Ok(())
}

#[actix_web::test]
async fn qos_specs_are_managed_and_associated_with_types() -> TestResult {
    let app = TestApp::new().await?;
    let (s, _, _) = app.call(req("GET", "/v3/0a0a/qos-specs", ALICE)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/qos-specs",
            ALICE,
            &json!({"qos_specs": {"name": "q"}}),
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        v["forbidden"]["message"],
        "Policy doesn't allow volume_extension:qos_specs_manage:create to be performed."
    );

    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/qos-specs",
            ADMIN,
            &json!({"qos_specs": {"name": "fast", "total_iops_sec": "1000", "read_bytes_sec": 5}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "create is 200: {v}");
    let qos = v["qos_specs"]["id"].as_str().ok_or("no id")?.to_string();
    assert_eq!(v["qos_specs"]["consumer"], "back-end");
    assert_eq!(
        v["qos_specs"]["specs"],
        json!({"total_iops_sec": "1000", "read_bytes_sec": "5"})
    );
    assert!(
        v["links"][0]["href"]
            .as_str()
            .is_some_and(|h| h.ends_with(&format!("/v3/0a0a/qos-specs/{qos}")))
    );
    for (body, code) in [
        (json!({"qos_specs": {"name": "fast"}}), StatusCode::CONFLICT),
        (
            json!({"qos_specs": {"name": "x", "consumer": "middle"}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"qos_specs": {"consumer": "both"}}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (s, _, _) = app
            .call(json_req("POST", "/v3/0a0a/qos-specs", ADMIN, &body))
            .await;
        assert_eq!(s, code, "{body}");
    }
    let (s, v, _) = app
        .call(json_req(
            "PUT",
            &format!("/v3/0a0a/qos-specs/{qos}"),
            ADMIN,
            &json!({"qos_specs": {"consumer": "front-end", "delay": "1"}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!({"qos_specs": {"consumer": "front-end", "delay": "1"}})
    );
    let (s, _, _) = app
        .call(json_req(
            "PUT",
            &format!("/v3/0a0a/qos-specs/{qos}/delete_keys"),
            ADMIN,
            &json!({"keys": ["read_bytes_sec"]}),
        ))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, v, _) = app
        .call(json_req(
            "PUT",
            &format!("/v3/0a0a/qos-specs/{qos}/delete_keys"),
            ADMIN,
            &json!({"keys": ["nope"]}),
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v, _) = app
        .call(req("GET", &format!("/v3/0a0a/qos-specs/{qos}"), ADMIN))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["qos_specs"]["consumer"], "front-end");
    assert_eq!(
        v["qos_specs"]["specs"],
        json!({"total_iops_sec": "1000", "delay": "1"})
    );
    let (_, v, _) = app.call(req("GET", "/v3/qos-specs", ADMIN)).await;
    assert_eq!(v["qos_specs"].as_array().map(Vec::len), Some(1));
    let (s, v, _) = app.call(req("GET", "/v3/0a0a/qos-specs/nope", ADMIN)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["itemNotFound"]["message"], "No such QoS spec nope.");

    let t = create_type(&app, "gold", json!({})).await?;
    let assoc = |what: &str, q: &str| {
        req(
            "GET",
            &format!("/v3/0a0a/qos-specs/{q}/{what}?vol_type_id={t}"),
            ADMIN,
        )
    };
    let (s, _, _) = app.call(assoc("associate", &qos)).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, v, _) = app.call(req("GET", &format!("/v3/types/{t}"), ADMIN)).await;
    assert_eq!(v["volume_type"]["qos_specs_id"], qos.as_str());
    let (s, v, _) = app
        .call(req(
            "GET",
            &format!("/v3/0a0a/qos-specs/{qos}/associations"),
            ADMIN,
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!({"qos_associations": [{"association_type": "volume_type", "name": "gold", "id": t}]})
    );
    let (_, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/qos-specs",
            ADMIN,
            &json!({"qos_specs": {"name": "other"}}),
        ))
        .await;
    let other = v["qos_specs"]["id"].as_str().ok_or("no id")?.to_string();
    let (s, _, _) = app.call(assoc("associate", &other)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "one QoS entry per type");
    let (s, _, _) = app
        .call(req(
            "GET",
            &format!("/v3/0a0a/qos-specs/{qos}/associate?vol_type_id=nope"),
            ADMIN,
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = app
        .call(req(
            "GET",
            &format!("/v3/0a0a/qos-specs/{qos}/associate"),
            ADMIN,
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v, _) = app
        .call(req("DELETE", &format!("/v3/0a0a/qos-specs/{qos}"), ADMIN))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "in use: {v}");
    let (s, _, _) = app.call(assoc("disassociate", &qos)).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, v, _) = app.call(req("GET", &format!("/v3/types/{t}"), ADMIN)).await;
    assert_eq!(v["volume_type"]["qos_specs_id"], Value::Null);
    let (s, _, _) = app.call(assoc("associate", &qos)).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _, _) = app
        .call(req(
            "GET",
            &format!("/v3/0a0a/qos-specs/{qos}/disassociate_all"),
            ADMIN,
        ))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _, _) = app.call(assoc("associate", &qos)).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _, _) = app
        .call(req(
            "DELETE",
            &format!("/v3/0a0a/qos-specs/{qos}?force=true"),
            ADMIN,
        ))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "force disassociates");
    let (_, v, _) = app.call(req("GET", &format!("/v3/types/{t}"), ADMIN)).await;
    assert_eq!(v["volume_type"]["qos_specs_id"], Value::Null);
    Ok(())
}

/// A member of a project the private type was not given.
const CAROL: &str = "carol:0c0c";

/// Every path that takes a type from a caller (create, retype, the project default, the
/// default shown to a member) reads it through the one access check: a private type
/// given to another project is "not found" for a member, by name and by id, changes
/// nothing, and its name and extra specs appear in no answer; admins still use it.
#[actix_web::test]
async fn a_private_type_is_unknown_to_projects_it_was_not_given() -> TestResult {
    let app = TestApp::new().await?;
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/types",
            ADMIN,
            &json!({"volume_type": {"name": "vault", "os-volume-type-access:is_public": false,
                "extra_specs": {"vendor:vault": "hidden-spec"}}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let vault = v["volume_type"]["id"].as_str().ok_or("no id")?.to_string();
    let (s, _, _) = app
        .call(access_action(&vault, "addProjectAccess", "0c0c"))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let hidden = |v: &Value| {
        let text = v.to_string();
        !text.contains("vault") && !text.contains("hidden-spec")
    };

    // Create: 404 by name and by id, and no row written.
    let mine = create_volume(&app, BOB, json!({"volume": {"size": 1}})).await?;
    available(&app, &mine).await?;
    let volumes = app.count("volumes");
    for named in ["vault", vault.as_str()] {
        let (s, v, _) = app
            .call(json_req(
                "POST",
                "/v3/0b0b/volumes",
                BOB,
                &json!({"volume": {"size": 1, "volume_type": named}}),
            ))
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "create with {named}: {v}");
        assert_eq!(
            v["itemNotFound"]["message"],
            format!("Volume type with name {named} could not be found.")
        );
    }
    assert_eq!(app.count("volumes"), volumes, "no volume was created");

    // Retype: 404, and the volume keeps its type and status.
    let retype = |token: &str, new_type: &str| {
        json_req(
            "POST",
            &format!("/v3/volumes/{mine}/action"),
            token,
            &json!({"os-retype": {"new_type": new_type}}),
        )
    };
    for named in ["vault", vault.as_str()] {
        let (s, v, _) = app.call(retype(BOB, named)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "retype to {named}: {v}");
        if named == "vault" {
            assert!(!v.to_string().contains("hidden-spec"), "{v}");
        } else {
            assert!(hidden(&v), "the answer shows the type: {v}");
        }
    }
    let (_, v, _) = app
        .call(req("GET", &format!("/v3/0b0b/volumes/{mine}"), BOB))
        .await;
    assert_eq!(v["volume"]["volume_type"], "__DEFAULT__");
    assert_eq!(v["volume"]["status"], "available");

    // Default type: an admin cannot make it the default of a project it was not given
    // (every create there would take it, or fail); nothing is stored.
    let set = |project: &str| {
        at(
            62,
            json_req(
                "PUT",
                &format!("/v3/default-types/{project}"),
                ADMIN,
                &json!({"default_type": {"volume_type": vault}}),
            ),
        )
    };
    let (s, v, _) = app.call(set("0b0b")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _, _) = app
        .call(at(62, req("GET", "/v3/default-types/0b0b", ADMIN)))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no default was stored");
    let (s, v, _) = app.call(req("GET", "/v3/0b0b/types/default", BOB)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["volume_type"]["name"], "__DEFAULT__");

    // The project it was given uses it everywhere, admins too.
    let (s, v, _) = app.call(set("0c0c")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v, _) = app.call(req("GET", "/v3/0c0c/types/default", CAROL)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["volume_type"]["name"], "vault");
    let carols = create_volume(&app, CAROL, json!({"volume": {"size": 1}})).await?;
    let (_, v, _) = app
        .call(req("GET", &format!("/v3/0c0c/volumes/{carols}"), CAROL))
        .await;
    assert_eq!(v["volume"]["volume_type"], "vault", "the project default");
    let (s, v, _) = app.call(retype(ADMIN, "vault")).await;
    assert_eq!(s, StatusCode::ACCEPTED, "admins see every type: {v}");
    let (_, v, _) = app
        .call(req("GET", &format!("/v3/volumes/{mine}"), ADMIN))
        .await;
    assert_eq!(v["volume"]["volume_type"], "vault");

    // Access taken away after the default was set: the default is gone for the
    // project's members too, and a create without a type is refused, not placed on it.
    let (s, _, _) = app
        .call(access_action(&vault, "removeProjectAccess", "0c0c"))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, v, _) = app.call(req("GET", "/v3/0c0c/types/default", CAROL)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(!v.to_string().contains("hidden-spec"), "{v}");
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0c0c/volumes",
            CAROL,
            &json!({"volume": {"size": 1}}),
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    Ok(())
}

/// A retype the volume's node cannot take tells a member so, but not the filter's
/// reason: it names the pool and the type's extra specs, which only admins read.
#[actix_web::test]
async fn a_refused_retype_shows_members_no_admin_only_detail() -> TestResult {
    let app = TestApp::new().await?;
    create_type(&app, "narrow", json!({"capabilities:tier": "narrow-tier"})).await?;
    let id = create_volume(&app, ALICE, json!({"volume": {"size": 1}})).await?;
    available(&app, &id).await?;
    let retype = |token: &str| {
        json_req(
            "POST",
            &format!("/v3/0a0a/volumes/{id}/action"),
            token,
            &json!({"os-retype": {"new_type": "narrow"}}),
        )
    };
    let (s, v, _) = app.call(retype(ALICE)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let message = v["badRequest"]["message"].as_str().ok_or("no message")?;
    assert!(message.contains("cannot hold type narrow"), "{message}");
    for secret in ["narrow-tier", "tier", "n1@", "Filter"] {
        assert!(!message.contains(secret), "{secret} in {message}");
    }
    let (s, v, _) = app.call(retype(ADMIN)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let message = v["badRequest"]["message"].as_str().ok_or("no message")?;
    assert!(
        message.contains("CapabilitiesFilter") && message.contains("narrow-tier"),
        "admins get the reason: {message}"
    );
    Ok(())
}

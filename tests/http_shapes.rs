//! Answers in the shapes Cinder gives and Tempest's schemas accept: the keys each answer
//! carries (and does not), and the codes of the few requests Tempest found answered
//! differently from Cinder. `tempest_schemas_*.rs` validates every route against the
//! schemas themselves; these tests pin each fix by name.

mod common;

use std::time::Duration;

use actix_web::http::StatusCode;
use common::{ADMIN, ALICE, TestApp, TestResult, eventually, json_req, req};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

/// Creates a snapshot of a new volume in project `0a0a` and waits until it is
/// `available`; answers the create's `snapshot` and the snapshot's id.
async fn snapshot(
    app: &TestApp,
    name: &str,
) -> Result<(Value, String), Box<dyn std::error::Error>> {
    let vol = app.available_volume(ALICE, 1).await?;
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/snapshots",
            ALICE,
            &json!({"snapshot": {"volume_id": vol, "name": name}}),
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
    Ok((v["snapshot"].clone(), id))
}

const EXTENDED: [&str; 2] = [
    "os-extended-snapshot-attributes:progress",
    "os-extended-snapshot-attributes:project_id",
];

#[actix_web::test]
async fn snapshot_extension_attributes_are_on_show_and_detail_only() -> TestResult {
    let app = TestApp::new().await?;
    let (created, id) = snapshot(&app, "s1").await?;
    for key in EXTENDED {
        assert!(
            created.get(key).is_none(),
            "create carries {key}: {created}"
        );
    }
    let (s, v, _) = app
        .call(json_req(
            "PUT",
            &format!("/v3/0a0a/snapshots/{id}"),
            ALICE,
            &json!({"snapshot": {"name": "renamed"}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["snapshot"]["name"], "renamed");
    for key in EXTENDED {
        assert!(
            v["snapshot"].get(key).is_none(),
            "update carries {key}: {v}"
        );
    }
    let (_, shown, _) = app
        .call(req("GET", &format!("/v3/0a0a/snapshots/{id}"), ALICE))
        .await;
    let (_, detail, _) = app
        .call(req("GET", "/v3/0a0a/snapshots/detail", ALICE))
        .await;
    let (_, summary, _) = app.call(req("GET", "/v3/0a0a/snapshots", ALICE)).await;
    assert_eq!(
        shown["snapshot"]["os-extended-snapshot-attributes:progress"],
        "100%"
    );
    assert_eq!(
        detail["snapshots"][0]["os-extended-snapshot-attributes:project_id"],
        "0a0a"
    );
    for key in EXTENDED {
        assert!(
            summary["snapshots"][0].get(key).is_none(),
            "the summary list carries {key}: {summary}"
        );
    }
    Ok(())
}

#[actix_web::test]
async fn type_update_answers_without_qos_specs_id() -> TestResult {
    let app = TestApp::new().await?;
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/types",
            ADMIN,
            &json!({"volume_type": {"name": "gold"}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        v["volume_type"].get("qos_specs_id").is_none(),
        "create: {v}"
    );
    let id = v["volume_type"]["id"].as_str().ok_or("no id")?.to_string();
    let (s, v, _) = app
        .call(json_req(
            "PUT",
            &format!("/v3/0a0a/types/{id}"),
            ADMIN,
            &json!({"volume_type": {"description": "shiny"}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["volume_type"]["description"], "shiny");
    assert!(
        v["volume_type"].get("qos_specs_id").is_none(),
        "update: {v}"
    );
    assert!(
        v["volume_type"]
            .get("os-volume-type-access:is_public")
            .is_none(),
        "update: {v}"
    );
    // Show still gives admins the QoS link.
    let (_, v, _) = app
        .call(req("GET", &format!("/v3/0a0a/types/{id}"), ADMIN))
        .await;
    assert_eq!(v["volume_type"]["qos_specs_id"], Value::Null, "{v}");
    Ok(())
}

#[actix_web::test]
async fn snapshot_create_with_a_null_volume_id_is_not_found() -> TestResult {
    let app = TestApp::new().await?;
    let create = |body: Value| json_req("POST", "/v3/0a0a/snapshots", ALICE, &body);
    let (s, v, _) = app
        .call(create(
            json!({"snapshot": {"volume_id": null, "name": "x"}}),
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(
        v["itemNotFound"]["message"],
        "Volume None could not be found."
    );
    // Cinder's schema requires the key: leaving it out is still a 400.
    let (s, v, _) = app.call(create(json!({"snapshot": {"name": "x"}}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["badRequest"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("'volume_id' is a required property")),
        "{v}"
    );
    assert_eq!(app.count("snapshots"), 0);
    Ok(())
}

#[actix_web::test]
async fn snapshot_lists_sort_and_refuse_unknown_sort_keys() -> TestResult {
    let app = TestApp::new().await?;
    for name in ["b", "c", "a"] {
        snapshot(&app, name).await?;
    }
    let names = |v: &Value, list: &str| -> Vec<String> {
        v[list]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str().map(str::to_string))
            .collect()
    };
    for (path, list) in [
        ("/v3/0a0a/snapshots", "snapshots"),
        ("/v3/0a0a/snapshots/detail", "snapshots"),
    ] {
        let (s, v, _) = app
            .call(req("GET", &format!("{path}?sort_key=invalid"), ALICE))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert_eq!(v["badRequest"]["message"], "Invalid sort key: invalid");
        let (s, v, _) = app
            .call(req("GET", &format!("{path}?sort=name:asc"), ALICE))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(names(&v, list), ["a", "b", "c"]);
        let (_, v, _) = app
            .call(req(
                "GET",
                &format!("{path}?sort_key=display_name&sort_dir=desc&limit=2"),
                ALICE,
            ))
            .await;
        assert_eq!(names(&v, list), ["c", "b"]);
        let next = v["snapshots_links"][0]["href"]
            .as_str()
            .ok_or("a full page has a next link")?;
        let next = next
            .find("/v3/")
            .map(|at| &next[at..])
            .ok_or("the link has no /v3/")?;
        let (_, v, _) = app.call(req("GET", next, ALICE)).await;
        assert_eq!(names(&v, list), ["a"], "the page after the marker");
    }
    Ok(())
}

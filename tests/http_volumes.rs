//! The volume API through actix-web's test service, with the real actors.

mod common;

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use clinker::drivers::fake::FakeVerb;
use common::{ADMIN, ALICE, BOB, TestApp, TestResult, at, eventually, fake_node, json_req, req};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

async fn create(
    app: &TestApp,
    token: &str,
    body: Value,
) -> Result<Value, Box<dyn std::error::Error>> {
    app.create_volume(token, &body).await
}

async fn wait_status(app: &TestApp, token: &str, id: &str, want: &str) -> Option<Value> {
    let project = token.split(':').nth(1).unwrap_or("").to_string();
    eventually(WAIT, || async {
        let (s, v, _) = app
            .call(req("GET", &format!("/v3/{project}/volumes/{id}"), token))
            .await;
        (s == StatusCode::OK && v["volume"]["status"] == want).then_some(v["volume"].clone())
    })
    .await
}

#[actix_web::test]
async fn version_documents_need_no_token() -> TestResult {
    let app = TestApp::new().await?;
    let (s, v, _) = app.call(TestRequest::get().uri("/")).await;
    assert_eq!(s, StatusCode::MULTIPLE_CHOICES);
    assert_eq!(v["versions"][0]["min_version"], "3.0");
    assert!(
        v["versions"][0]["version"]
            .as_str()
            .is_some_and(|x| x.starts_with("3."))
    );
    let (s, v, h) = app.call(TestRequest::get().uri("/v3/")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["versions"][0]["id"], "v3.0");
    assert!(
        h.get("x-openstack-request-id")
            .is_some_and(|r| r.to_str().is_ok_and(|r| r.starts_with("req-")))
    );
    Ok(())
}

#[actix_web::test]
async fn microversion_header_is_negotiated_and_echoed() -> TestResult {
    let app = TestApp::new().await?;
    let list = |v: &'static str| {
        req("GET", "/v3/0a0a/volumes", ADMIN).insert_header(("OpenStack-API-Version", v))
    };
    let (s, _, h) = app.call(list("volume 3.0")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        h.get("openstack-api-version").and_then(|v| v.to_str().ok()),
        Some("volume 3.0")
    );
    let (s, v, _) = app.call(list("volume 3.x")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["badRequest"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid format"))
    );
    let (s, v, h) = app.call(list("volume 3.999")).await;
    assert_eq!(s, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(v["computeFault"]["code"], 406);
    assert!(h.get("openstack-api-version").is_some());
    let (s, _, _) = app.call(list("compute 2.1")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = app.call(list("volume latest")).await;
    assert_eq!(s, StatusCode::OK);
    Ok(())
}

#[actix_web::test]
async fn tokens_and_path_projects_are_checked() -> TestResult {
    let app = TestApp::new().await?;
    let (s, v, _) = app.call(TestRequest::get().uri("/v3/0a0a/volumes")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["unauthorized"]["code"], 401);
    let (s, v, _) = app.call(req("GET", "/v3/0b0b/volumes", ALICE)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["badRequest"]["message"], "Malformed request url");
    // A non-hex project id is not a route at all, as in Cinder.
    let (s, _, _) = app
        .call(req("GET", "/v3/admin/volumes", "admin:admin"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    Ok(())
}

#[actix_web::test]
async fn create_is_accepted_then_available_then_deleted() -> TestResult {
    let app = TestApp::new().await?;
    let v = create(
        &app,
        ADMIN,
        json!({"volume": {"size": 2, "name": " v1 ", "metadata": {"k": "v"}}}),
    )
    .await?;
    assert_eq!(v["status"], "creating");
    assert_eq!(v["name"], "v1");
    assert_eq!(v["bootable"], "false");
    assert_eq!(v["volume_type"], "__DEFAULT__");
    assert!(
        v.get("os-vol-host-attr:host").is_none(),
        "create responses carry no extension fields"
    );
    let id = v["id"].as_str().ok_or("no id")?.to_string();
    let shown = wait_status(&app, ADMIN, &id, "available")
        .await
        .ok_or("never available")?;
    assert_eq!(shown["os-vol-host-attr:host"], "n1@fake#fake");
    assert_eq!(shown["os-vol-tenant-attr:tenant_id"], "0a0a");
    assert_eq!(shown["metadata"]["k"], "v");
    assert!(app.fakes["n1"].has_volume(&id.parse()?));
    assert_eq!(app.usage("0a0a", "volumes"), (1, 0));
    assert_eq!(app.usage("0a0a", "gigabytes"), (2, 0));

    let (s, l, _) = app.call(req("GET", "/v3/0a0a/volumes", ADMIN)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(l["volumes"][0]["id"], id.as_str());
    assert_eq!(
        l["volumes"][0].as_object().map(|o| o.len()),
        Some(3),
        "summary is id, name, links"
    );
    let (_, l, _) = app.call(req("GET", "/v3/volumes/detail", ADMIN)).await;
    assert_eq!(l["volumes"][0]["status"], "available");
    assert!(
        l["volumes"][0]["links"][0]["href"]
            .as_str()
            .is_some_and(|h| h.contains("/v3/volumes/"))
    );

    let (s, u, _) = app
        .call(json_req(
            "PUT",
            &format!("/v3/0a0a/volumes/{id}"),
            ADMIN,
            &json!({"volume": {"name": "renamed", "metadata": {"a": "b"}}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["volume"]["name"], "renamed");
    assert_eq!(u["volume"]["metadata"], json!({"a": "b"}));
    let (s, _, _) = app
        .call(json_req(
            "PUT",
            &format!("/v3/0a0a/volumes/{id}"),
            ADMIN,
            &json!({"volume": {"size": 5}}),
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "update refuses other keys");

    let (s, _, _) = app
        .call(req("DELETE", &format!("/v3/0a0a/volumes/{id}"), ADMIN))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let gone = eventually(WAIT, || async {
        let (s, _, _) = app
            .call(req("GET", &format!("/v3/0a0a/volumes/{id}"), ADMIN))
            .await;
        (s == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    assert!(gone.is_some(), "volume never went away");
    assert!(!app.fakes["n1"].has_volume(&id.parse()?));
    assert_eq!(app.usage("0a0a", "volumes"), (0, 0));
    assert_eq!(app.usage("0a0a", "gigabytes"), (0, 0));
    Ok(())
}

#[actix_web::test]
async fn the_timeline_shows_three_flows_in_order() -> TestResult {
    let app = TestApp::new().await?;
    let v = create(&app, ALICE, json!({"volume": {"size": 1}})).await?;
    let id = v["id"].as_str().ok_or("no id")?;
    wait_status(&app, ALICE, id, "available")
        .await
        .ok_or("never available")?;
    let (s, t, _) = app
        .call(req(
            "GET",
            &format!("/clinker/v1/volumes/{id}/timeline"),
            ALICE,
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let flows: Vec<&str> = t["flows"]
        .as_array()
        .ok_or("no flows")?
        .iter()
        .filter_map(|f| f["flow"].as_str())
        .collect();
    assert_eq!(
        flows,
        [
            "volume_create_api",
            "volume_create_scheduler",
            "volume_create_manager"
        ]
    );
    let api_tasks: Vec<&str> = t["flows"][0]["transitions"]
        .as_array()
        .ok_or("no transitions")?
        .iter()
        .filter(|x| x["state"] == "SUCCESS")
        .filter_map(|x| x["task"].as_str())
        .collect();
    assert_eq!(
        api_tasks,
        [
            "ExtractVolumeRequestTask",
            "QuotaReserveTask",
            "EntryCreateTask",
            "QuotaCommitTask",
            "VolumeCastTask"
        ]
    );
    // The chosen pool is an admin's to see (a member's view is in http_edge.rs).
    let (s, t, _) = app
        .call(req(
            "GET",
            &format!("/clinker/v1/volumes/{id}/timeline"),
            ADMIN,
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(
        t["flows"][1]["detail"]["ScheduleCreateVolumeTask"]["chosen"],
        "n1@fake#fake"
    );
    // Another project cannot read it.
    let (s, _, _) = app
        .call(req(
            "GET",
            &format!("/clinker/v1/volumes/{id}/timeline"),
            BOB,
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    Ok(())
}

#[actix_web::test]
async fn bad_input_gets_cinders_errors_and_leaves_nothing() -> TestResult {
    let app = TestApp::new().await?;
    let uri = "/v3/0a0a/volumes";
    let cases: Vec<(TestRequest, StatusCode, &str)> = vec![
        (
            req("POST", uri, ADMIN)
                .insert_header(("Content-Type", "application/json"))
                .set_payload("{not json"),
            StatusCode::BAD_REQUEST,
            "badRequest",
        ),
        (
            req("POST", uri, ADMIN),
            StatusCode::BAD_REQUEST,
            "badRequest",
        ),
        (
            req("POST", uri, ADMIN)
                .insert_header(("Content-Type", "text/plain"))
                .set_payload(r#"{"volume":{"size":1}}"#),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "badMediaType",
        ),
        (
            json_req("POST", uri, ADMIN, &json!({"volume": {"size": 0}})),
            StatusCode::BAD_REQUEST,
            "badRequest",
        ),
        (
            json_req("POST", uri, ADMIN, &json!({"volume": {"size": -1}})),
            StatusCode::BAD_REQUEST,
            "badRequest",
        ),
        (
            json_req("POST", uri, ADMIN, &json!({"volume": {"size": 1.5}})),
            StatusCode::BAD_REQUEST,
            "badRequest",
        ),
        (
            json_req("POST", uri, ADMIN, &json!({"volume": {"size": "abc"}})),
            StatusCode::BAD_REQUEST,
            "badRequest",
        ),
        (
            json_req(
                "POST",
                uri,
                ADMIN,
                &json!({"volume": {"size": 99_999_999_999u64}}),
            ),
            StatusCode::BAD_REQUEST,
            "badRequest",
        ),
        (
            json_req("POST", uri, ADMIN, &json!({"volume": {}})),
            StatusCode::BAD_REQUEST,
            "badRequest",
        ),
        (
            json_req("POST", uri, ADMIN, &json!({"size": 1})),
            StatusCode::BAD_REQUEST,
            "badRequest",
        ),
        (
            json_req(
                "POST",
                uri,
                ADMIN,
                &json!({"volume": {"size": 1, "availability_zone": "mars"}}),
            ),
            StatusCode::BAD_REQUEST,
            "badRequest",
        ),
        (
            json_req(
                "POST",
                uri,
                ADMIN,
                &json!({"volume": {"size": 1, "volume_type": "gold"}}),
            ),
            StatusCode::NOT_FOUND,
            "itemNotFound",
        ),
        (
            json_req(
                "POST",
                uri,
                ADMIN,
                &json!({"volume": {"size": 1, "multiattach": true}}),
            ),
            StatusCode::BAD_REQUEST,
            "badRequest",
        ),
        (
            json_req(
                "POST",
                uri,
                ADMIN,
                &json!({"volume": {"size": 1, "name": "x".repeat(256)}}),
            ),
            StatusCode::BAD_REQUEST,
            "badRequest",
        ),
        (
            json_req(
                "POST",
                uri,
                ADMIN,
                &json!({"volume": {"size": 1, "metadata": {"k": 5}}}),
            ),
            StatusCode::BAD_REQUEST,
            "badRequest",
        ),
        (
            json_req(
                "POST",
                uri,
                ADMIN,
                &json!({"volume": {"size": 1, "snapshot_id": "not-a-uuid"}}),
            ),
            StatusCode::BAD_REQUEST,
            "badRequest",
        ),
        (
            req("GET", "/v3/0a0a/volumes/not-a-uuid", ADMIN),
            StatusCode::NOT_FOUND,
            "itemNotFound",
        ),
        (
            req(
                "GET",
                &format!("/v3/0a0a/volumes/{}", uuid::Uuid::new_v4()),
                ADMIN,
            ),
            StatusCode::NOT_FOUND,
            "itemNotFound",
        ),
        (
            req("DELETE", "/v3/0a0a/volumes/not-a-uuid", ADMIN),
            StatusCode::NOT_FOUND,
            "itemNotFound",
        ),
        (
            req("GET", "/v3/0a0a/volumes?limit=-1", ADMIN),
            StatusCode::BAD_REQUEST,
            "badRequest",
        ),
        (
            req("GET", "/v3/0a0a/volumes?sort=bogus", ADMIN),
            StatusCode::BAD_REQUEST,
            "badRequest",
        ),
        (
            req(
                "GET",
                &format!("/v3/0a0a/volumes?marker={}", uuid::Uuid::new_v4()),
                ADMIN,
            ),
            StatusCode::NOT_FOUND,
            "itemNotFound",
        ),
    ];
    for (i, (r, status, fault)) in cases.into_iter().enumerate() {
        let (s, v, _) = app.call(r).await;
        assert_eq!(s, status, "case {i}: {v}");
        assert_eq!(v[fault]["code"], status.as_u16(), "case {i}: {v}");
        assert!(
            v[fault]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "case {i}: {v}"
        );
    }
    assert_eq!(app.count("volumes"), 0);
    assert_eq!(app.count("reservations"), 0);
    assert_eq!(app.usage("0a0a", "volumes"), (0, 0));
    Ok(())
}

#[actix_web::test]
async fn a_body_over_the_limit_is_refused_before_parsing() -> TestResult {
    let app = TestApp::with(|c| c.max_body_bytes = 1024).await?;
    let big = json!({"volume": {"size": 1, "description": "x".repeat(2000)}});
    let (s, v, _) = app
        .call(json_req("POST", "/v3/0a0a/volumes", ADMIN, &big))
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v["overLimit"]["code"], 413);
    assert_eq!(app.count("volumes"), 0);
    Ok(())
}

#[actix_web::test]
async fn over_quota_is_413_and_leaves_nothing() -> TestResult {
    let app = TestApp::with(|c| {
        c.quota.volumes = 2;
        c.quota.gigabytes = 10;
    })
    .await?;
    create(&app, ALICE, json!({"volume": {"size": 1}})).await?;
    create(&app, ALICE, json!({"volume": {"size": 1}})).await?;
    let (s, v, h) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/volumes",
            ALICE,
            &json!({"volume": {"size": 1}}),
        ))
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v["overLimit"]["retryAfter"], "0");
    assert!(
        v["overLimit"]["message"].as_str().is_some_and(
            |m| m.starts_with("VolumeLimitExceeded: Maximum number of volumes allowed (2)")
        ),
        "{v}"
    );
    assert_eq!(
        h.get("retry-after").and_then(|x| x.to_str().ok()),
        Some("0")
    );
    // Gigabytes: another project, 11 GiB against 10.
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0b0b/volumes",
            BOB,
            &json!({"volume": {"size": 11}}),
        ))
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        v["overLimit"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("VolumeSizeExceedsAvailableQuota")),
        "{v}"
    );
    assert_eq!(app.count("volumes"), 2);
    assert_eq!(app.count("reservations"), 0);
    assert_eq!(app.usage("0a0a", "volumes"), (2, 0));
    assert_eq!(app.usage("0b0b", "gigabytes"), (0, 0));
    Ok(())
}

#[actix_web::test]
async fn members_see_only_their_project() -> TestResult {
    let app = TestApp::new().await?;
    let v = create(
        &app,
        ALICE,
        json!({"volume": {"size": 1, "name": "alices"}}),
    )
    .await?;
    let id = v["id"].as_str().ok_or("no id")?;
    let (s, _, _) = app
        .call(req("GET", &format!("/v3/0b0b/volumes/{id}"), BOB))
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "another project's volume is 404, not 403"
    );
    let (s, _, _) = app
        .call(req("DELETE", &format!("/v3/0b0b/volumes/{id}"), BOB))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, l, _) = app
        .call(req("GET", "/v3/0b0b/volumes?all_tenants=1", BOB))
        .await;
    assert_eq!(
        l["volumes"].as_array().map(Vec::len),
        Some(0),
        "all_tenants is ignored for members"
    );
    let (_, l, _) = app
        .call(req("GET", "/v3/volumes/detail?all_tenants=1", "admin:0c0c"))
        .await;
    assert_eq!(
        l["volumes"].as_array().map(Vec::len),
        Some(1),
        "admins see every project with all_tenants"
    );
    let (s, _, _) = app
        .call(req("GET", &format!("/v3/0c0c/volumes/{id}"), "admin:0c0c"))
        .await;
    assert_eq!(s, StatusCode::OK, "admins see any volume");
    Ok(())
}

#[actix_web::test]
async fn pagination_links_walk_every_volume_once() -> TestResult {
    let app = TestApp::new().await?;
    let mut ids = Vec::new();
    for i in 0..5 {
        let v = create(
            &app,
            ALICE,
            json!({"volume": {"size": 1, "name": format!("v{i}")}}),
        )
        .await?;
        ids.push(v["id"].as_str().ok_or("no id")?.to_string());
    }
    let mut seen = Vec::new();
    let mut next = Some("/v3/0a0a/volumes?limit=2&sort=name:asc".to_string());
    while let Some(uri) = next.take() {
        let (s, page, _) = app.call(req("GET", &uri, ALICE)).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        for v in page["volumes"].as_array().ok_or("no list")? {
            seen.push(v["name"].as_str().unwrap_or("").to_string());
        }
        if let Some(href) = page["volumes_links"][0]["href"].as_str() {
            let path = href
                .split_once("/v3/")
                .map(|(_, p)| format!("/v3/{p}"))
                .ok_or("bad href")?;
            assert!(
                path.contains("limit=2") && path.contains("sort=name"),
                "next link keeps the query: {path}"
            );
            next = Some(path);
        }
    }
    assert_eq!(seen, ["v0", "v1", "v2", "v3", "v4"]);
    let (_, f, _) = app
        .call(req("GET", "/v3/0a0a/volumes?name=v3", ALICE))
        .await;
    assert_eq!(f["volumes"].as_array().map(Vec::len), Some(1));
    Ok(())
}

#[actix_web::test]
async fn a_failing_node_is_skipped_on_reschedule() -> TestResult {
    let app =
        TestApp::with(|c| c.nodes = vec![fake_node("n1", "nova"), fake_node("n2", "nova")]).await?;
    app.fakes["n1"].fail_always(FakeVerb::CreateVolume);
    app.fakes["n2"].fail_always(FakeVerb::CreateVolume);
    // Both fail: after every node has been tried the volume is `error` with a message.
    let v = create(&app, ALICE, json!({"volume": {"size": 1}})).await?;
    let id = v["id"].as_str().ok_or("no id")?;
    let err = wait_status(&app, ALICE, id, "error")
        .await
        .ok_or("never error")?;
    assert_eq!(err["status"], "error");
    // The nodes and filters behind the failure are an admin's to see.
    let (_, t, _) = app
        .call(req(
            "GET",
            &format!("/clinker/v1/volumes/{id}/timeline"),
            ADMIN,
        ))
        .await;
    let msg = t["messages"][0]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(t["messages"][0]["event_id"], "VOLUME_VOLUME_001_003", "{t}");
    assert!(
        msg.contains("n1") && msg.contains("n2") && msg.contains("injected"),
        "{msg}"
    );
    // Deleting the failed volume works at once and gives the quota back.
    let (s, _, _) = app
        .call(req("DELETE", &format!("/v3/0a0a/volumes/{id}"), ALICE))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(app.usage("0a0a", "volumes"), (0, 0));

    // One fails: the volume lands on the other and the timeline shows the retry.
    app.fakes["n2"].clear_failures();
    let v = create(&app, ALICE, json!({"volume": {"size": 1}})).await?;
    let id = v["id"].as_str().ok_or("no id")?;
    let ok = wait_status(&app, ALICE, id, "available")
        .await
        .ok_or("never available")?;
    assert_eq!(ok["id"], id);
    let (_, t, _) = app
        .call(req(
            "GET",
            &format!("/clinker/v1/volumes/{id}/timeline"),
            ALICE,
        ))
        .await;
    let states: Vec<(String, String)> = t["flows"]
        .as_array()
        .ok_or("no flows")?
        .iter()
        .map(|f| {
            (
                f["flow"].as_str().unwrap_or("").to_string(),
                f["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let managers: Vec<&str> = states
        .iter()
        .filter(|(f, _)| f == "volume_create_manager")
        .map(|(_, s)| s.as_str())
        .collect();
    assert!(
        managers == ["SUCCESS"] || managers == ["REVERTED", "SUCCESS"],
        "{states:?}"
    );
    Ok(())
}

#[actix_web::test]
async fn the_requested_zone_decides_the_node() -> TestResult {
    let app = TestApp::with(|c| {
        c.nodes = vec![fake_node("n1", "az1"), fake_node("n2", "az2")];
        c.default_availability_zone = "az1".into();
    })
    .await?;
    let v = create(
        &app,
        ADMIN,
        json!({"volume": {"size": 900, "availability_zone": "az2"}}),
    )
    .await?;
    let id = v["id"].as_str().ok_or("no id")?;
    let ok = wait_status(&app, ADMIN, id, "available")
        .await
        .ok_or("never available")?;
    assert!(
        ok["os-vol-host-attr:host"]
            .as_str()
            .is_some_and(|h| h.starts_with("n2@"))
    );
    Ok(())
}

#[actix_web::test]
async fn no_valid_backend_gives_error_and_a_message_with_the_numbers() -> TestResult {
    let app = TestApp::with(|c| c.quota.gigabytes = -1).await?;
    let v = create(&app, ALICE, json!({"volume": {"size": 2_147_483_647u64}})).await?;
    let id = v["id"].as_str().ok_or("no id")?;
    wait_status(&app, ALICE, id, "error")
        .await
        .ok_or("never error")?;
    // The nodes and filters behind the failure are an admin's to see.
    let (_, t, _) = app
        .call(req(
            "GET",
            &format!("/clinker/v1/volumes/{id}/timeline"),
            ADMIN,
        ))
        .await;
    let detail = t["messages"][0]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("CapacityFilter") && detail.contains("2147483647"),
        "{t}"
    );
    assert_eq!(
        t["messages"][0]["user_message"],
        "schedule allocate volume:Could not find any available weighted backend."
    );
    let sched = &t["flows"][1];
    assert_eq!(sched["flow"], "volume_create_scheduler");
    assert_eq!(sched["state"], "REVERTED");
    let filters = sched["detail"]["ScheduleCreateVolumeTask"]["pools"][0]["filters"]
        .as_array()
        .ok_or("no filters")?;
    let capacity = filters
        .iter()
        .find(|f| f["filter"] == "CapacityFilter")
        .ok_or("no CapacityFilter verdict")?;
    assert_eq!(capacity["passed"], false);
    Ok(())
}

#[actix_web::test]
async fn the_file_driver_makes_and_removes_a_sparse_file() -> TestResult {
    let app = TestApp::with(|c| c.nodes = vec![common::file_node("local", "nova")]).await?;
    let v = create(&app, ALICE, json!({"volume": {"size": 1}})).await?;
    let id = v["id"].as_str().ok_or("no id")?.to_string();
    let ok = wait_status(&app, ALICE, &id, "available")
        .await
        .ok_or("never available")?;
    assert_eq!(ok["id"], id.as_str());
    let path = app.dir.path().join("volumes").join(format!("volume-{id}"));
    let meta = std::fs::metadata(&path)?;
    assert_eq!(meta.len(), 1 << 30);
    use std::os::unix::fs::MetadataExt;
    assert!(meta.blocks() * 512 < 1 << 20, "the file is sparse");
    let (s, _, _) = app
        .call(req("DELETE", &format!("/v3/0a0a/volumes/{id}"), ALICE))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let gone = eventually(WAIT, || async { (!path.exists()).then_some(()) }).await;
    assert!(gone.is_some(), "the file was not removed");
    Ok(())
}

#[actix_web::test]
async fn the_metadata_subresource_merges_replaces_and_deletes() -> TestResult {
    let app = TestApp::new().await?;
    let v = create(
        &app,
        ALICE,
        json!({"volume": {"size": 1, "metadata": {"a": "1"}}}),
    )
    .await?;
    let id = v["id"].as_str().ok_or("no id")?;
    let base = format!("/v3/0a0a/volumes/{id}/metadata");
    let (s, m, _) = app
        .call(json_req(
            "POST",
            &base,
            ALICE,
            &json!({"metadata": {"b": "2"}}),
        ))
        .await;
    assert_eq!(
        (s, m),
        (StatusCode::OK, json!({"metadata": {"a": "1", "b": "2"}}))
    );
    let (s, m, _) = app
        .call(json_req(
            "PUT",
            &base,
            ALICE,
            &json!({"metadata": {"c": "3"}}),
        ))
        .await;
    assert_eq!((s, m), (StatusCode::OK, json!({"metadata": {"c": "3"}})));
    let (s, m, _) = app.call(req("GET", &format!("{base}/c"), ALICE)).await;
    assert_eq!((s, m), (StatusCode::OK, json!({"meta": {"c": "3"}})));
    let (s, m, _) = app
        .call(json_req(
            "PUT",
            &format!("{base}/c"),
            ALICE,
            &json!({"meta": {"c": "4"}}),
        ))
        .await;
    assert_eq!((s, m), (StatusCode::OK, json!({"meta": {"c": "4"}})));
    let (s, _, _) = app
        .call(json_req(
            "PUT",
            &format!("{base}/c"),
            ALICE,
            &json!({"meta": {"d": "4"}}),
        ))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "body and URI mismatch");
    let (s, _, _) = app.call(req("DELETE", &format!("{base}/c"), ALICE)).await;
    assert_eq!(s, StatusCode::OK);
    let (s, m, _) = app.call(req("GET", &format!("{base}/c"), ALICE)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        m["itemNotFound"]["message"]
            .as_str()
            .is_some_and(|x| x.contains("has no metadata with key c")),
        "{m}"
    );
    let (s, _, _) = app.call(req("DELETE", &format!("{base}/c"), ALICE)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = app
        .call(req("GET", &base, BOB.replace("0b0b", "0a0a").as_str()))
        .await;
    assert_eq!(s, StatusCode::OK, "same project, other user");
    Ok(())
}

#[actix_web::test]
async fn time_comparison_filters_from_3_60() -> TestResult {
    let app = TestApp::new().await?;
    let mut made = Vec::new();
    for name in ["first", "second"] {
        let v = create(&app, ALICE, json!({"volume": {"size": 1, "name": name}})).await?;
        let id = v["id"].as_str().ok_or("no id")?.to_string();
        let shown = wait_status(&app, ALICE, &id, "available")
            .await
            .ok_or("never available")?;
        made.push((
            id,
            shown["created_at"]
                .as_str()
                .ok_or("no created_at")?
                .to_string(),
        ));
    }
    let (first, t0) = made[0].clone();
    let second = made[1].0.clone();
    let names = |q: String| {
        let app = &app;
        async move {
            let (s, v, _) = app
                .call(at(60, req("GET", &format!("/v3/0a0a/volumes?{q}"), ALICE)))
                .await;
            let mut ids: Vec<String> = v["volumes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x["id"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            ids.sort();
            (s, ids, v)
        }
    };
    let sorted = |mut v: Vec<&String>| {
        v.sort();
        v.into_iter().cloned().collect::<Vec<String>>()
    };
    let both = sorted(vec![&first, &second]);
    // The second volume was created no earlier than the first; only the comparisons
    // with the first's own time are certain.
    for (query, want) in [
        (format!("created_at=eq:{t0}"), vec![first.clone()]),
        (format!("created_at=gte:{t0}"), both.clone()),
        (format!("created_at=lte:{t0},gte:{t0}"), vec![first.clone()]),
        (format!("created_at=lt:{t0}"), vec![]),
        (format!("created_at=neq:{t0}"), vec![second.clone()]),
        (
            format!("created_at=gt:{t0}Z&name=second"),
            vec![second.clone()],
        ),
        ("created_at=lt:2999-01-01".into(), both.clone()),
        ("created_at=gt:2999-01-01T00:00:00%2B05:00".into(), vec![]),
        ("updated_at=gt:2000-01-01T00:00:00".into(), both.clone()),
        ("updated_at=lt:2000-01-01T00:00:00".into(), vec![]),
    ] {
        let (s, ids, v) = names(query.clone()).await;
        assert_eq!((s, ids), (StatusCode::OK, want), "{query}: {v}");
    }
    for query in [
        "created_at=after:2020-01-01",
        "created_at=gt:yesterday",
        "created_at=2020",
        "updated_at=gt:2020-01-01,",
    ] {
        let (s, _, v) = names(query.into()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{query}: {v}");
        assert!(v["badRequest"]["message"].is_string(), "{v}");
    }
    Ok(())
}

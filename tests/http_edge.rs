//! The edge of the HTTP layer (issue 13): NUL refused before any handler on both
//! backends, noauth tokens shaped like the routes' project ids, `/metrics` for admins or
//! its token only, and the timeline shown to members without the scheduler's internals.

mod common;
mod common_db;

use actix_web::http::StatusCode;
use actix_web::test::{self as atest, TestRequest};
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// Every kind of field the probe found answering 500 on PostgreSQL, each with a NUL: in
/// names, metadata keys and values, reset-status values, extra specs, QoS values,
/// service disable reasons, and in queries (`%00`, and JSON inside a query value).
async fn nul_is_refused_everywhere(app: &TestApp) -> TestResult {
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/volumes",
            ALICE,
            &json!({"volume": {"size": 1, "name": "keep"}}),
        ))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["volume"]["id"].as_str().ok_or("no id")?.to_string();
    let (s, t, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/types",
            ADMIN,
            &json!({"volume_type": {"name": "t1"}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let type_id = t["volume_type"]["id"]
        .as_str()
        .ok_or("no type id")?
        .to_string();
    let (_, services, _) = app.call(req("GET", "/v3/0a0a/os-services", ADMIN)).await;
    let host = services["services"]
        .as_array()
        .and_then(|l| l.iter().find(|s| s["binary"] == "cinder-volume"))
        .and_then(|s| s["host"].as_str())
        .ok_or("no volume service")?
        .to_string();
    let volumes_before = app.count("volumes");

    let bodies: Vec<(&str, String, &str, Value)> = vec![
        (
            "POST",
            "/v3/0a0a/volumes".into(),
            ALICE,
            json!({"volume": {"size": 1, "name": "a\u{0}b"}}),
        ),
        (
            "POST",
            "/v3/0a0a/volumes".into(),
            ALICE,
            json!({"volume": {"size": 1, "metadata": {"k": "v\u{0}"}}}),
        ),
        (
            "POST",
            "/v3/0a0a/volumes".into(),
            ALICE,
            json!({"volume": {"size": 1, "metadata": {"k\u{0}": "v"}}}),
        ),
        (
            "PUT",
            format!("/v3/0a0a/volumes/{id}"),
            ALICE,
            json!({"volume": {"name": "\u{0}"}}),
        ),
        (
            "POST",
            format!("/v3/0a0a/volumes/{id}/metadata"),
            ALICE,
            json!({"metadata": {"k": "\u{0}"}}),
        ),
        (
            "PUT",
            format!("/v3/0a0a/volumes/{id}/metadata/k"),
            ALICE,
            json!({"meta": {"k": "a\u{0}"}}),
        ),
        (
            "POST",
            format!("/v3/0a0a/volumes/{id}/action"),
            ADMIN,
            json!({"os-reset_status": {"status": "error\u{0}"}}),
        ),
        (
            "POST",
            format!("/v3/0a0a/types/{type_id}/extra_specs"),
            ADMIN,
            json!({"extra_specs": {"k": "v\u{0}"}}),
        ),
        (
            "POST",
            "/v3/0a0a/qos-specs".into(),
            ADMIN,
            json!({"qos_specs": {"name": "q", "read_iops_sec": "1\u{0}"}}),
        ),
        (
            "POST",
            "/v3/0a0a/qos-specs".into(),
            ADMIN,
            json!({"qos_specs": {"name": "q\u{0}"}}),
        ),
        (
            "PUT",
            "/v3/0a0a/os-services/disable-log-reason".into(),
            ADMIN,
            json!({"host": host, "binary": "cinder-volume", "disabled_reason": "why\u{0}"}),
        ),
        (
            "POST",
            "/v3/0a0a/volumes".into(),
            ALICE,
            json!({"volume": {"size": 1, "x": [[{"deep": "\u{0}"}]]}}),
        ),
    ];
    for (method, uri, token, body) in &bodies {
        let (s, v, _) = app.call(json_req(method, uri, token, body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{method} {uri} {body}: {v}");
        assert_eq!(v["badRequest"]["code"], 400, "{v}");
    }
    let queries = [
        // ?metadata={"k":"a\u0000b"}
        "/v3/0a0a/volumes?metadata=%7B%22k%22%3A%22a%5Cu0000b%22%7D".into(),
        "/v3/0a0a/volumes/detail?metadata=%7B%27k%27%3A%27a%5Cu0000%27%7D".into(),
        "/v3/0a0a/volumes?name=a%00b".into(),
        "/v3/0a0a/types?extra_specs=%7B%22k%22%3A%22%5Cu0000%22%7D".into(),
        format!("/v3/0a0a/volumes/{id}/metadata/k%00"),
    ];
    for uri in &queries {
        let (s, v, _) = app
            .call(at(
                52,
                req(
                    "GET",
                    uri,
                    if uri.contains("types") { ADMIN } else { ALICE },
                ),
            ))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {v}");
        assert_eq!(v["badRequest"]["code"], 400, "{v}");
    }

    // Nothing was written, half or whole.
    assert_eq!(app.count("volumes"), volumes_before);
    let (_, v, _) = app
        .call(req("GET", &format!("/v3/0a0a/volumes/{id}"), ALICE))
        .await;
    assert_eq!(v["volume"]["name"], "keep");
    assert_eq!(v["volume"]["metadata"], json!({}));
    assert_ne!(v["volume"]["status"], "error");
    let (_, specs, _) = app
        .call(req(
            "GET",
            &format!("/v3/0a0a/types/{type_id}/extra_specs"),
            ADMIN,
        ))
        .await;
    assert_eq!(specs["extra_specs"], json!({}));
    let (_, qos, _) = app.call(req("GET", "/v3/0a0a/qos-specs", ADMIN)).await;
    assert_eq!(qos["qos_specs"], json!([]));
    let (_, services, _) = app.call(req("GET", "/v3/0a0a/os-services", ADMIN)).await;
    assert!(
        services["services"]
            .as_array()
            .is_some_and(|l| l.iter().all(|s| s["status"] == "enabled")),
        "{services}"
    );
    Ok(())
}

#[actix_web::test]
async fn nul_is_refused_at_the_edge_on_sqlite() -> TestResult {
    nul_is_refused_everywhere(&TestApp::new().await?).await
}

#[actix_web::test]
async fn nul_is_refused_at_the_edge_on_postgresql() -> TestResult {
    let db = common_db::TestDb::postgres(1).map_err(|e| e.to_string())?;
    let url = db.url.clone();
    let app = TestApp::with(|c| c.database_url = Some(url)).await?;
    nul_is_refused_everywhere(&app).await
}

#[actix_web::test]
async fn noauth_projects_must_look_like_the_routes_project_ids() -> TestResult {
    let app = TestApp::new().await?;
    for token in [
        "alice:../../etc",
        "alice:ALICE",
        "alice:0a0a/..",
        "alice:",
        ":0a0a",
        "alice:x0a0a",
        // A third part names roles (`alice:0a0a:reader`); an empty list is malformed.
        "alice:0a0a:",
        "alice:0a0a:,",
    ] {
        let (s, v, _) = app.call(req("GET", "/v3/volumes", token)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{token}: {v}");
        assert_eq!(v["unauthorized"]["code"], 401);
    }
    let long_project = format!("alice:{}", "a".repeat(65));
    let long_user = format!("{}:0a0a", "u".repeat(65));
    let long_role = format!("alice:0a0a:member,{}", "r".repeat(65));
    for token in [&long_project, &long_user, &long_role] {
        let (s, _, _) = app.call(req("GET", "/v3/volumes", token)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{token}");
    }
    for token in [
        "alice:5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c",
        "alice:5e2c0a7d-4b3f-4e1a-9c8d-7b6a5f4e3d2c",
        ALICE,
    ] {
        let (s, v, _) = app.call(req("GET", "/v3/volumes", token)).await;
        assert_eq!(s, StatusCode::OK, "{token}: {v}");
    }
    Ok(())
}

#[actix_web::test]
async fn metrics_need_an_admin_or_the_token_on_the_api_port() -> TestResult {
    let app = TestApp::new().await?;
    let exporter = clinker::http::metrics::Exporter {
        handle: metrics_exporter_prometheus::PrometheusBuilder::new()
            .build_recorder()
            .handle(),
        token: Some("s3cret-token".into()),
        open: false,
    };
    let svc = atest::init_service(
        clinker::http::app(app.state.clone()).app_data(actix_web::web::Data::new(exporter.clone())),
    )
    .await;
    let cases: [(Option<(&str, &str)>, StatusCode); 6] = [
        (None, StatusCode::UNAUTHORIZED),
        (Some(("X-Auth-Token", ALICE)), StatusCode::FORBIDDEN),
        (
            Some(("Authorization", "Bearer wrong-token!")),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Some(("Authorization", "Bearer s3cret-toke")),
            StatusCode::UNAUTHORIZED,
        ),
        (Some(("X-Auth-Token", ADMIN)), StatusCode::OK),
        (
            Some(("Authorization", "Bearer s3cret-token")),
            StatusCode::OK,
        ),
    ];
    for (header, want) in cases {
        let mut r = TestRequest::get().uri("/metrics");
        if let Some(h) = header {
            r = r.insert_header(h);
        }
        let res = atest::call_service(&svc, r.to_request()).await;
        assert_eq!(res.status(), want, "{header:?}");
    }
    // Its own address serves anyone.
    let own = atest::init_service(
        actix_web::App::new().configure(clinker::http::metrics::own_address(exporter)),
    )
    .await;
    let res = atest::call_service(&own, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    Ok(())
}

async fn timeline(app: &TestApp, id: &str, token: &str) -> Result<(Value, String), String> {
    let (s, t, _) = app
        .call(req(
            "GET",
            &format!("/clinker/v1/volumes/{id}/timeline"),
            token,
        ))
        .await;
    if s != StatusCode::OK {
        return Err(format!("{s}: {t}"));
    }
    let text = t.to_string();
    Ok((t, text))
}

#[actix_web::test]
async fn members_see_the_timeline_without_pools_filters_or_weights() -> TestResult {
    let app = TestApp::new().await?;
    // A type no pool satisfies: the failed decision names the pool and quotes the spec.
    let (s, t, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/types",
            ADMIN,
            &json!({"volume_type": {"name": "gold", "extra_specs": {"capabilities:tier": "secret-tier"}}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let mut ids = Vec::new();
    for body in [
        json!({"volume": {"size": 1}}),
        json!({"volume": {"size": 1, "volume_type": "gold"}}),
    ] {
        let (s, v, _) = app
            .call(json_req("POST", "/v3/0a0a/volumes", ALICE, &body))
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        ids.push(v["volume"]["id"].as_str().ok_or("no id")?.to_string());
    }
    for (id, want) in ids.iter().zip(["available", "error"]) {
        let done = eventually(WAIT, || async {
            let (_, v, _) = app
                .call(req("GET", &format!("/v3/0a0a/volumes/{id}"), ALICE))
                .await;
            (v["volume"]["status"] == want).then_some(())
        })
        .await;
        assert!(done.is_some(), "{id} never {want}");
    }
    let (placed_admin, placed_admin_text) = timeline(&app, &ids[0], ADMIN).await?;
    let (_, failed_admin_text) = timeline(&app, &ids[1], ADMIN).await?;
    assert_eq!(
        placed_admin["flows"][1]["detail"]["ScheduleCreateVolumeTask"]["chosen"],
        "n1@fake#fake"
    );
    assert!(placed_admin_text.contains("weight"));
    assert!(
        failed_admin_text.contains("secret-tier"),
        "{failed_admin_text}"
    );

    for id in &ids {
        let (member, text) = timeline(&app, id, ALICE).await?;
        for hidden in [
            "n1",
            "fake#",
            "secret-tier",
            "\"weight\"",
            "\"filters\"",
            "\"chosen\"",
        ] {
            assert!(!text.contains(hidden), "a member sees {hidden}: {text}");
        }
        // What remains still tells the story: the flows, their tasks, their counts.
        assert_eq!(member["flows"][1]["flow"], "volume_create_scheduler");
        assert_eq!(
            member["flows"][1]["detail"]["ScheduleCreateVolumeTask"]["pools_considered"], 1,
            "{member}"
        );
    }
    Ok(())
}

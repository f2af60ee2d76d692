//! `Idempotency-Key`: retries get the first answer and create nothing new.

mod common;

use actix_web::http::StatusCode;
use common::{ALICE, BOB, TestApp, TestResult, json_req};
use serde_json::json;

#[actix_web::test]
async fn a_retry_returns_the_first_answer_and_creates_nothing() -> TestResult {
    let app = TestApp::new().await?;
    let body = json!({"volume": {"size": 1, "name": "once"}});
    let post = || {
        json_req("POST", "/v3/0a0a/volumes", ALICE, &body).insert_header(("Idempotency-Key", "k-1"))
    };
    let (s1, v1, _) = app.call(post()).await;
    assert_eq!(s1, StatusCode::ACCEPTED, "{v1}");
    let (s2, v2, h2) = app.call(post()).await;
    assert_eq!(s2, StatusCode::ACCEPTED);
    assert_eq!(v1["volume"]["id"], v2["volume"]["id"], "the same volume");
    assert_eq!(
        h2.get("idempotency-replayed").and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(app.count("volumes"), 1);
    assert_eq!(app.usage("0a0a", "volumes").0, 1);

    // The same key with another body is a conflict and changes nothing.
    let other = json!({"volume": {"size": 2}});
    let (s, v, _) = app
        .call(
            json_req("POST", "/v3/0a0a/volumes", ALICE, &other)
                .insert_header(("Idempotency-Key", "k-1")),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["conflictingRequest"]["code"], 409);
    assert_eq!(app.count("volumes"), 1);

    // Keys belong to a project: another project's identical key is a new request.
    let (s, _, _) = app
        .call(
            json_req("POST", "/v3/0b0b/volumes", BOB, &body)
                .insert_header(("Idempotency-Key", "k-1")),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(app.count("volumes"), 2);

    // Without a key every POST creates.
    let (s, _, _) = app
        .call(json_req("POST", "/v3/0a0a/volumes", ALICE, &body))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(app.count("volumes"), 3);
    Ok(())
}

#[actix_web::test]
async fn a_refused_request_is_replayed_as_refused() -> TestResult {
    let app = TestApp::with(|c| c.quota.gigabytes = 1).await?;
    let body = json!({"volume": {"size": 5}});
    let post = || {
        json_req("POST", "/v3/0a0a/volumes", ALICE, &body).insert_header(("Idempotency-Key", "big"))
    };
    let (s1, v1, _) = app.call(post()).await;
    let (s2, v2, _) = app.call(post()).await;
    assert_eq!(
        (s1, s2),
        (StatusCode::PAYLOAD_TOO_LARGE, StatusCode::PAYLOAD_TOO_LARGE)
    );
    assert_eq!(v1, v2);
    assert_eq!(app.count("volumes"), 0);
    Ok(())
}

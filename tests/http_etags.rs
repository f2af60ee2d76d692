//! Volume metadata ETags and `If-Match` (3.15), and the snapshot `os-unmanage` refusal,
//! as Cinder answers them.

mod common;

use actix_web::http::StatusCode;
use common::{ADMIN, ALICE, BOB, TestApp, TestResult, at, json_req, req};
use serde_json::json;

fn etag_of(h: &actix_web::http::header::HeaderMap) -> Option<String> {
    h.get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

#[actix_web::test]
async fn volume_metadata_has_an_etag_from_3_15_that_follows_the_metadata() -> TestResult {
    let app = TestApp::new().await?;
    let id = app.available_volume(ALICE, 1).await?;
    let meta = format!("/v3/0a0a/volumes/{id}/metadata");
    let (s, _, h) = app.call(at(14, req("GET", &meta, ALICE))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(etag_of(&h).is_none(), "no ETag before 3.15");
    let (s, v, h) = app.call(at(15, req("GET", &meta, ALICE))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!({"metadata": {}}));
    let empty = etag_of(&h).ok_or("no ETag at 3.15")?;
    let (_, _, h) = app.call(at(15, req("GET", &meta, ALICE))).await;
    assert_eq!(etag_of(&h), Some(empty.clone()), "one set, one tag");
    app.call(json_req(
        "POST",
        &meta,
        ALICE,
        &json!({"metadata": {"a": "1"}}),
    ))
    .await;
    let (_, _, h) = app.call(at(15, req("GET", &meta, ALICE))).await;
    let one = etag_of(&h).ok_or("no ETag")?;
    assert_ne!(one, empty, "a change changes the tag");
    Ok(())
}

#[actix_web::test]
async fn metadata_writes_with_a_stale_if_match_are_refused_with_412() -> TestResult {
    let app = TestApp::new().await?;
    let id = app.available_volume(ALICE, 1).await?;
    let meta = format!("/v3/0a0a/volumes/{id}/metadata");
    let put = |path: &str, body: serde_json::Value, tag: &str| {
        at(15, json_req("PUT", path, ALICE, &body)).insert_header(("If-Match", tag.to_string()))
    };
    app.call(json_req(
        "POST",
        &meta,
        ALICE,
        &json!({"metadata": {"a": "1"}}),
    ))
    .await;
    let (_, _, h) = app.call(at(15, req("GET", &meta, ALICE))).await;
    let tag = etag_of(&h).ok_or("no ETag")?;

    // Someone else changes the metadata: the tag read before is stale.
    app.call(json_req(
        "POST",
        &meta,
        ALICE,
        &json!({"metadata": {"b": "2"}}),
    ))
    .await;
    let (s, v, _) = app
        .call(put(&meta, json!({"metadata": {"c": "3"}}), &tag))
        .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED, "{v}");
    assert_eq!(v["computeFault"]["code"], 412, "{v}");
    let item = format!("{meta}/a");
    let (s, _, _) = app
        .call(put(&item, json!({"meta": {"a": "9"}}), &tag))
        .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    let (_, v, _) = app.call(req("GET", &meta, ALICE)).await;
    assert_eq!(
        v,
        json!({"metadata": {"a": "1", "b": "2"}}),
        "nothing was written"
    );

    // The current tag, quoted or not, or `*`, lets the write through.
    let (_, _, h) = app.call(at(15, req("GET", &meta, ALICE))).await;
    let tag = etag_of(&h).ok_or("no ETag")?;
    let (s, v, _) = app
        .call(put(
            &item,
            json!({"meta": {"a": "9"}}),
            &format!("\"{tag}\""),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, _, h) = app.call(at(15, req("GET", &meta, ALICE))).await;
    let tag = etag_of(&h).ok_or("no ETag")?;
    let (s, v, _) = app
        .call(put(
            &meta,
            json!({"metadata": {"z": "1"}}),
            &format!("x, {tag}"),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"metadata": {"z": "1"}}));
    let (s, _, _) = app
        .call(put(&meta, json!({"metadata": {"y": "1"}}), "*"))
        .await;
    assert_eq!(s, StatusCode::OK);

    // Before 3.15, and on POST (merge), If-Match is not read, as in Cinder.
    let stale = "0000";
    let (s, _, _) = app
        .call(
            at(
                14,
                json_req("PUT", &meta, ALICE, &json!({"metadata": {"x": "1"}})),
            )
            .insert_header(("If-Match", stale)),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = app
        .call(
            at(
                15,
                json_req("POST", &meta, ALICE, &json!({"metadata": {"w": "1"}})),
            )
            .insert_header(("If-Match", stale)),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    Ok(())
}

#[actix_web::test]
async fn snapshot_unmanage_is_for_admins() -> TestResult {
    let app = TestApp::new().await?;
    let vol = app.available_volume(ALICE, 1).await?;
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/snapshots",
            ALICE,
            &json!({"snapshot": {"volume_id": vol}}),
        ))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["snapshot"]["id"].as_str().ok_or("no id")?.to_string();
    let action = |token: &str, project: &str| {
        json_req(
            "POST",
            &format!("/v3/{project}/snapshots/{id}/action"),
            token,
            &json!({"os-unmanage": null}),
        )
    };
    let (s, v, _) = app.call(action(ALICE, "0a0a")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(
        v["forbidden"]["message"],
        "Policy doesn't allow snapshot_extension:snapshot_unmanage to be performed."
    );
    // Not visible to the caller: 404, as for any id not found.
    let (s, _, _) = app.call(action(BOB, "0b0b")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // An admin is told it is not supported; the snapshot stays.
    let (s, v, _) = app.call(action(ADMIN, "0a0a")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, _, _) = app
        .call(req("GET", &format!("/v3/0a0a/snapshots/{id}"), ALICE))
        .await;
    assert_eq!(s, StatusCode::OK);
    Ok(())
}

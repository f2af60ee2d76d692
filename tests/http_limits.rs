//! What a request may ask for at most: sort keys, page size (`osapi_max_limit`) and
//! metadata items per resource (`max_metadata_items`), on every list and every write
//! that takes them, through the HTTP layer with the real actors.

mod common;

use std::time::Duration;

use actix_web::http::StatusCode;
use common::{ADMIN, ALICE, TestApp, TestResult, at, eventually, json_req, req};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

/// Sends `method uri` (with `body` unless it is `Null`) and returns status and body.
async fn send(
    app: &TestApp,
    method: &str,
    uri: &str,
    token: &str,
    body: Value,
) -> (StatusCode, Value) {
    let r = if body.is_null() {
        req(method, uri, token)
    } else {
        json_req(method, uri, token, &body)
    };
    let (s, v, _) = app.call(r).await;
    (s, v)
}

/// Creates a `kind` (`volumes` or `snapshots`) and waits until it is `available`.
async fn available(
    app: &TestApp,
    kind: &str,
    body: Value,
) -> Result<String, Box<dyn std::error::Error>> {
    let (s, v) = send(app, "POST", &format!("/v3/0a0a/{kind}"), ALICE, body).await;
    let one = kind.trim_end_matches('s');
    if s != StatusCode::ACCEPTED {
        return Err(format!("create answered {s}: {v}").into());
    }
    let id = v[one]["id"].as_str().ok_or("no id")?.to_string();
    eventually(WAIT, || async {
        let (s, v) = send(
            app,
            "GET",
            &format!("/v3/0a0a/{kind}/{id}"),
            ALICE,
            Value::Null,
        )
        .await;
        (s == StatusCode::OK && v[one]["status"] == "available").then_some(())
    })
    .await
    .ok_or("never available")?;
    Ok(id)
}

/// The answer is Cinder's 400 with a message containing `needle`.
fn bad_request(what: &str, (s, v): &(StatusCode, Value), needle: &str) {
    assert_eq!(*s, StatusCode::BAD_REQUEST, "{what}: {v}");
    assert_eq!(v["badRequest"]["code"], 400, "{what}: {v}");
    let message = v["badRequest"]["message"].as_str().unwrap_or("");
    assert!(message.contains(needle), "{what}: {message}");
}

#[actix_web::test]
async fn every_sorted_list_refuses_duplicate_and_surplus_sort_keys() -> TestResult {
    let app = TestApp::new().await?;
    let many = vec!["created_at"; 5000].join(",");
    // (list, a valid key, nine distinct valid keys or the most the list has plus one)
    let lists = [
        (
            "/v3/0a0a/volumes",
            "size",
            "size,status,name,id,created_at,updated_at,availability_zone,size:asc",
        ),
        (
            "/v3/0a0a/volumes/detail",
            "size",
            "size,status,name,id,created_at,updated_at,availability_zone,name:asc",
        ),
        (
            "/v3/0a0a/types",
            "name",
            "name,id,description,is_public,created_at,updated_at,id:asc",
        ),
        (
            "/v3/0a0a/messages",
            "event_id",
            "event_id,id,created_at,message_level,request_id,resource_type,resource_uuid,id:asc",
        ),
    ];
    for (list, key, surplus) in lists {
        let get = |q: String| at(5, req("GET", &format!("{list}?{q}"), ALICE));
        let (s, v, _) = app.call(get(format!("sort={key}:asc"))).await;
        assert_eq!(s, StatusCode::OK, "{list} sorted by {key}: {v}");
        let (s, v, _) = app.call(get(format!("sort={key},{key}:asc"))).await;
        bad_request(list, &(s, v), &format!("Duplicate sort key: {key}"));
        let (s, v, _) = app.call(get(format!("sort={surplus}"))).await;
        let want = if surplus.split(',').count() > 8 {
            "Too many sort keys"
        } else {
            "Duplicate sort key"
        };
        bad_request(list, &(s, v), want);
        let (s, v, _) = app.call(get(format!("sort={many}"))).await;
        bad_request(list, &(s, v), "Too many sort keys: 5000");
    }
    // Two names of one column are one key.
    let (s, v, _) = app
        .call(req("GET", "/v3/0a0a/volumes?sort=name,display_name", ALICE))
        .await;
    bad_request(
        "name and display_name",
        &(s, v),
        "Duplicate sort key: display_name",
    );
    Ok(())
}

#[actix_web::test]
async fn every_volume_sort_key_at_once_pages_after_a_marker() -> TestResult {
    let app = TestApp::new().await?;
    for i in 0..3 {
        available(
            &app,
            "volumes",
            json!({"volume": {"size": 1 + i % 2, "name": format!("v{i}")}}),
        )
        .await?;
    }
    let sort = "status:asc,size,name:asc,availability_zone,updated_at:asc,created_at,id:asc";
    let mut next = Some(format!("/v3/0a0a/volumes?limit=1&sort={sort}"));
    let mut seen = Vec::new();
    while let Some(uri) = next.take() {
        let (s, page) = send(&app, "GET", &uri, ALICE, Value::Null).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        for v in page["volumes"].as_array().ok_or("no list")? {
            seen.push(v["name"].as_str().unwrap_or("").to_string());
        }
        if let Some(href) = page["volumes_links"][0]["href"].as_str() {
            next = href.split_once("/v3/").map(|(_, p)| format!("/v3/{p}"));
        }
        assert!(seen.len() <= 3, "pagination does not end: {seen:?}");
    }
    // size descending, then name ascending.
    assert_eq!(seen, ["v1", "v0", "v2"]);
    Ok(())
}

#[actix_web::test]
async fn limit_is_clamped_to_osapi_max_limit_on_every_list() -> TestResult {
    let app = TestApp::with(|c| c.osapi_max_limit = 2).await?;
    let vol = available(&app, "volumes", json!({"volume": {"size": 1}})).await?;
    for _ in 0..2 {
        available(&app, "volumes", json!({"volume": {"size": 1}})).await?;
    }
    for _ in 0..3 {
        available(&app, "snapshots", json!({"snapshot": {"volume_id": vol}})).await?;
    }
    for i in 0..2 {
        let (s, v) = send(
            &app,
            "POST",
            "/v3/0a0a/types",
            ADMIN,
            json!({"volume_type": {"name": format!("t{i}")}}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let lists = [
        ("/v3/0a0a/volumes", "volumes", "volumes_links"),
        ("/v3/0a0a/volumes/detail", "volumes", "volumes_links"),
        ("/v3/0a0a/snapshots", "snapshots", "snapshots_links"),
        ("/v3/0a0a/types", "volume_types", "volume_type_links"),
    ];
    for (list, field, links) in lists {
        for limit in [
            "",
            "limit=2&",
            "limit=3&",
            "limit=1000000000000&",
            "limit=99999999999999999999999999&",
        ] {
            let (s, v) = send(
                &app,
                "GET",
                &format!("{list}?{limit}x=1"),
                ADMIN,
                Value::Null,
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{list}?{limit}: {v}");
            assert_eq!(
                v[field].as_array().map(Vec::len),
                Some(2),
                "{list}?{limit}: {v}"
            );
            assert!(
                v[links][0]["href"].is_string(),
                "{list}?{limit}: a next link: {v}"
            );
        }
        for (query, want) in [("limit=1", 1), ("offset=99999999999999999999999", 0)] {
            let (s, v) = send(&app, "GET", &format!("{list}?{query}"), ADMIN, Value::Null).await;
            assert_eq!(
                (s, v[field].as_array().map(Vec::len)),
                (StatusCode::OK, Some(want)),
                "{list}?{query}: {v}"
            );
        }
        for bad in ["limit=ten", "limit=-1", "limit=1.5", "offset=-3"] {
            let got = send(&app, "GET", &format!("{list}?{bad}"), ADMIN, Value::Null).await;
            bad_request(&format!("{list}?{bad}"), &got, "Invalid");
        }
    }
    Ok(())
}

/// `(status, body)` of a write, then the stored map read back through `show`.
async fn write_then_read(
    app: &TestApp,
    (method, uri, token, body): (&str, &str, &str, Value),
    show: &str,
    field: &str,
) -> ((StatusCode, Value), Value) {
    let answer = send(app, method, uri, token, body).await;
    let (_, stored) = send(app, "GET", show, token, Value::Null).await;
    (answer, stored[field].clone())
}

/// Each write of `refused` answers 400 "too many" and leaves the three items `k0`..`k2`
/// read back from `field` of `show`.
async fn all_refused(
    app: &TestApp,
    refused: Vec<(&str, String, Value)>,
    (token, show, field): (&str, &str, &str),
) {
    for (method, uri, body) in refused {
        let (got, stored) = write_then_read(app, (method, &uri, token, body), show, field).await;
        bad_request(&format!("{method} {uri}"), &got, "at most 3 are allowed");
        assert_eq!(stored, items(3, "k"), "{method} {uri} changed nothing");
    }
}

fn items(n: usize, prefix: &str) -> Value {
    Value::Object(
        (0..n)
            .map(|i| (format!("{prefix}{i}"), json!("v")))
            .collect(),
    )
}

#[actix_web::test]
async fn metadata_items_are_capped_on_every_write_that_sets_them() -> TestResult {
    let app = TestApp::with(|c| c.max_metadata_items = 3).await?;
    let too_many = "at most 3 are allowed";

    // Volumes: create, update, replace, merge, one key.
    let got = send(
        &app,
        "POST",
        "/v3/0a0a/volumes",
        ALICE,
        json!({"volume": {"size": 1, "metadata": items(4, "k")}}),
    )
    .await;
    bad_request("volume create", &got, too_many);
    assert_eq!(app.count("volumes"), 0, "nothing written");
    let vol = available(
        &app,
        "volumes",
        json!({"volume": {"size": 1, "metadata": items(3, "k")}}),
    )
    .await?;
    let meta = format!("/v3/0a0a/volumes/{vol}/metadata");
    let refused: Vec<(&str, String, Value)> = vec![
        ("POST", meta.clone(), json!({"metadata": {"new": "v"}})),
        ("PUT", meta.clone(), json!({"metadata": items(4, "r")})),
        ("PUT", format!("{meta}/new"), json!({"meta": {"new": "v"}})),
        (
            "PUT",
            format!("/v3/0a0a/volumes/{vol}"),
            json!({"volume": {"metadata": items(4, "u")}}),
        ),
    ];
    all_refused(&app, refused, (ALICE, &meta, "metadata")).await;
    // Overwriting keys already there adds none; a merge counts the keys it keeps.
    let steps = [
        ("POST", json!({"metadata": {"k0": "w"}})),
        ("PUT", json!({"metadata": items(2, "k")})),
    ];
    for (method, body) in steps {
        let (s, v) = send(&app, method, &meta, ALICE, body).await;
        assert_eq!(s, StatusCode::OK, "{method}: {v}");
    }
    let (got, stored) = write_then_read(
        &app,
        ("POST", &meta, ALICE, json!({"metadata": items(2, "m")})),
        &meta,
        "metadata",
    )
    .await;
    bad_request("merge of two new keys onto two", &got, "would leave 4");
    assert_eq!(stored, items(2, "k"));

    // Snapshots: create, merge, replace, one key.
    let got = send(
        &app,
        "POST",
        "/v3/0a0a/snapshots",
        ALICE,
        json!({"snapshot": {"volume_id": vol, "metadata": items(4, "k")}}),
    )
    .await;
    bad_request("snapshot create", &got, too_many);
    assert_eq!(app.count("snapshots"), 0, "nothing written");
    let snap = available(
        &app,
        "snapshots",
        json!({"snapshot": {"volume_id": vol, "metadata": items(3, "k")}}),
    )
    .await?;
    let meta = format!("/v3/0a0a/snapshots/{snap}/metadata");
    let refused: Vec<(&str, String, Value)> = vec![
        ("POST", meta.clone(), json!({"metadata": {"new": "v"}})),
        ("PUT", meta.clone(), json!({"metadata": items(4, "r")})),
        ("PUT", format!("{meta}/new"), json!({"meta": {"new": "v"}})),
    ];
    all_refused(&app, refused, (ALICE, &meta, "metadata")).await;

    // Type extra specs: create, merge, one key.
    let got = send(
        &app,
        "POST",
        "/v3/0a0a/types",
        ADMIN,
        json!({"volume_type": {"name": "big", "extra_specs": items(4, "k")}}),
    )
    .await;
    bad_request("type create", &got, too_many);
    let (s, t) = send(
        &app,
        "POST",
        "/v3/0a0a/types",
        ADMIN,
        json!({"volume_type": {"name": "full", "extra_specs": items(3, "k")}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let specs = format!(
        "/v3/0a0a/types/{}/extra_specs",
        t["volume_type"]["id"].as_str().ok_or("no id")?
    );
    let refused: Vec<(&str, String, Value)> = vec![
        ("POST", specs.clone(), json!({"extra_specs": {"new": "v"}})),
        ("POST", specs.clone(), json!({"extra_specs": items(4, "r")})),
        ("PUT", format!("{specs}/new"), json!({"new": "v"})),
    ];
    all_refused(&app, refused, (ADMIN, &specs, "extra_specs")).await;

    // QoS specs: create, set.
    let got = send(
        &app,
        "POST",
        "/v3/0a0a/qos-specs",
        ADMIN,
        json!({"qos_specs": {"name": "big", "a": "1", "b": "1", "c": "1", "d": "1"}}),
    )
    .await;
    bad_request("qos create", &got, too_many);
    let (s, q) = send(
        &app,
        "POST",
        "/v3/0a0a/qos-specs",
        ADMIN,
        json!({"qos_specs": {"name": "full", "a": "1", "b": "1", "c": "1"}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{q}");
    let qos = format!(
        "/v3/0a0a/qos-specs/{}",
        q["qos_specs"]["id"].as_str().ok_or("no id")?
    );
    let (got, stored) = write_then_read(
        &app,
        ("PUT", &qos, ADMIN, json!({"qos_specs": {"d": "1"}})),
        &qos,
        "qos_specs",
    )
    .await;
    bad_request("qos set", &got, too_many);
    assert_eq!(
        stored["specs"],
        json!({"a": "1", "b": "1", "c": "1"}),
        "qos set changed nothing"
    );
    Ok(())
}

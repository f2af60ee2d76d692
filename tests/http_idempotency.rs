//! `Idempotency-Key`: retries get the first answer and create nothing new.

mod common;

use std::time::Duration;

use actix_web::dev::Service;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderValue;
use actix_web::test::{self, TestRequest};
use common::{ALICE, BOB, TestApp, TestResult, at, eventually, json_req};
use futures_util::FutureExt;
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

// ------------------------------------------------------------ helpers

/// The rows of the key table: (key, hash, status, response, claimed_by, request_id).
type KeyRow = (String, String, i64, Option<String>, String, String);

fn keys(app: &TestApp) -> Result<Vec<KeyRow>, Box<dyn std::error::Error>> {
    use clinker::db::schema::idempotency_keys as k;
    use diesel::prelude::*;
    Ok(app.db.run_blocking(|c| {
        Ok(k::table
            .select((
                k::idem_key,
                k::request_hash,
                k::status,
                k::response,
                k::claimed_by,
                k::request_id,
            ))
            .order(k::idem_key)
            .load(c)?)
    })?)
}

/// Rewrites the claim of `key` as a request that died would have left it: still running,
/// no answer, held by `holder`, taken `age_seconds` ago.
fn leave_running(
    app: &TestApp,
    key: &str,
    holder: &str,
    age_seconds: i64,
) -> Result<(), Box<dyn std::error::Error>> {
    use clinker::db::schema::idempotency_keys as k;
    use diesel::prelude::*;
    let holder = holder.to_string();
    let at = clinker::db::now() - chrono::Duration::seconds(age_seconds);
    let key = key.to_string();
    let n = app.db.run_blocking(move |c| {
        Ok(diesel::update(k::table.filter(k::idem_key.eq(key)))
            .set((
                k::status.eq(0),
                k::response.eq(None::<String>),
                k::claimed_by.eq(holder),
                k::created_at.eq(at),
            ))
            .execute(c)?)
    })?;
    assert_eq!(n, 1, "one claim rewritten");
    Ok(())
}

fn keyed(method: &str, uri: &str, key: &str, body: &serde_json::Value) -> TestRequest {
    json_req(method, uri, ALICE, body).insert_header(("Idempotency-Key", key))
}

// ------------------------------------------------------------ the key itself

#[actix_web::test]
async fn a_malformed_key_is_refused_and_runs_nothing() -> TestResult {
    let app = TestApp::new().await?;
    let body = json!({"volume": {"size": 1}});
    let long = "k".repeat(256);
    let bad: [&[u8]; 5] = [
        b"",
        "caf\u{e9}".as_bytes(),
        long.as_bytes(),
        b"two words",
        b"tab\there",
    ];
    for key in bad {
        let value = HeaderValue::from_bytes(key)?;
        let (s, v, _) = app
            .call(
                json_req("POST", "/v3/0a0a/volumes", ALICE, &body)
                    .insert_header(("Idempotency-Key", value)),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{key:?}: {v}");
        assert_eq!(v["badRequest"]["code"], 400, "{v}");
    }
    // Two keys: which one would the retry match?
    let (s, _, _) = app
        .call(
            json_req("POST", "/v3/0a0a/volumes", ALICE, &body)
                .append_header(("Idempotency-Key", "a"))
                .append_header(("Idempotency-Key", "b")),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(app.count("volumes"), 0, "a refused key runs nothing");
    assert_eq!(app.count("idempotency_keys"), 0);

    // The longest key, printable ASCII of every kind, is a key.
    let longest: String = (0..255)
        .map(|i| char::from(b'!' + (i % 94) as u8))
        .collect();
    for _ in 0..2 {
        let (s, v, _) = app
            .call(keyed("POST", "/v3/0a0a/volumes", &longest, &body))
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    }
    assert_eq!(
        app.count("volumes"),
        1,
        "the retry was answered from the key"
    );
    Ok(())
}

#[actix_web::test]
async fn a_key_keeps_a_hash_and_a_bounded_answer_never_the_body() -> TestResult {
    let app = TestApp::new().await?;
    // Just under the body limit, and refused (a name is at most 255 characters).
    let name = "n".repeat(app.config.max_body_bytes - 100);
    let body = json!({"volume": {"size": 1, "name": name}});
    for i in 0..10 {
        let (s, _, _) = app
            .call(keyed(
                "POST",
                "/v3/0a0a/volumes",
                &format!("big-{i}"),
                &body,
            ))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }
    // The same key again is refused the same way, and so is another body under it.
    let (s, _, _) = app
        .call(keyed("POST", "/v3/0a0a/volumes", "big-0", &body))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let rows = keys(&app)?;
    let mut stored = 0;
    for (key, hash, _, response, _, _) in &rows {
        assert_eq!(hash.len(), 64, "{key}: a SHA-256, hex");
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
        stored += hash.len() + response.as_ref().map_or(0, String::len);
    }
    assert!(
        stored <= 10 * (64 + 4096),
        "ten keyed 1 MiB bodies kept {stored} bytes"
    );
    assert_eq!(app.count("volumes"), 0);
    Ok(())
}

// ------------------------------------------------------------ claims whose request is gone

#[actix_web::test]
async fn a_client_that_leaves_leaves_the_answer_for_its_retry() -> TestResult {
    let app = TestApp::new().await?;
    let service = test::init_service(clinker::http::app(app.state.clone())).await;
    let body = json!({"volume": {"size": 1, "name": "left"}});
    // Polled once and dropped: what actix-web does to a request whose client reset the
    // connection while it ran.
    let first = service.call(keyed("POST", "/v3/0a0a/volumes", "left", &body).to_request());
    assert!(
        first.now_or_never().is_none(),
        "the create was still running"
    );
    let answered = eventually(Duration::from_secs(30), || async {
        let rows = keys(&app).ok()?;
        rows.iter().find(|r| r.0 == "left" && r.2 != 0).map(|r| r.2)
    })
    .await;
    assert_eq!(answered, Some(202), "the dropped request stored its answer");
    let (s, v, h) = app
        .call(keyed("POST", "/v3/0a0a/volumes", "left", &body))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["volume"]["name"], "left");
    assert_eq!(
        h.get("idempotency-replayed").and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(app.count("volumes"), 1);
    Ok(())
}

#[actix_web::test]
async fn a_claim_whose_request_died_is_taken_over() -> TestResult {
    let app = TestApp::new().await?;
    let body = json!({"volume": {"size": 1}});
    let post = |key: &str| keyed("POST", "/v3/0a0a/volumes", key, &body);

    let (s, young, _) = app.call(post("young")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, killed, _) = app.call(post("killed")).await;
    assert_eq!(s, StatusCode::ACCEPTED);

    // Held by this process and young: the request may still run.
    leave_running(&app, "young", clinker::db::idempotency::instance_id(), 0)?;
    let (s, v, _) = app.call(post("young")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");

    // Older than any request lives, or held by a process that is gone (killed): taken
    // over, and since those requests had made their volume, answered with it.
    let stale = clinker::db::idempotency::CLAIM_STALE_AFTER_SECONDS + 1;
    for (key, first, holder, age) in [
        (
            "young",
            young,
            clinker::db::idempotency::instance_id(),
            stale,
        ),
        ("killed", killed, "an-incarnation-that-died", 0),
    ] {
        leave_running(&app, key, holder, age)?;
        let before = app.count("volumes");
        let (s, v, h) = app.call(post(key)).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{key}: {v}");
        assert_eq!(
            v["volume"]["id"], first["volume"]["id"],
            "{key}: the volume it made"
        );
        assert_eq!(
            h.get("idempotency-replayed").and_then(|v| v.to_str().ok()),
            Some("true")
        );
        assert_eq!(app.count("volumes"), before, "{key}: no second volume");
        // The answer is stored now: the next retry is a plain replay.
        let (s, again, _) = app.call(post(key)).await;
        assert_eq!(
            (s, &again["volume"]["id"]),
            (StatusCode::ACCEPTED, &v["volume"]["id"])
        );
    }

    // The same for a snapshot.
    let volume = app.available_volume(ALICE, 1).await?;
    let snap = json!({"snapshot": {"volume_id": volume, "name": "s"}});
    let post_snapshot = || keyed("POST", "/v3/0a0a/snapshots", "snap", &snap);
    let (s, first, _) = app.call(post_snapshot()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{first}");
    leave_running(&app, "snap", "an-incarnation-that-died", 0)?;
    let (s, v, h) = app.call(post_snapshot()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["snapshot"]["id"], first["snapshot"]["id"]);
    assert!(h.get("idempotency-replayed").is_some());
    assert_eq!(app.count("snapshots"), 1, "no second snapshot");

    // A dead claim whose request made nothing: the retry runs it.
    let (s, _, _) = app.call(post("nothing")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let made = app.count("volumes");
    leave_running(&app, "nothing", "an-incarnation-that-died", 0)?;
    let (rows, id) = (keys(&app)?, "nothing");
    let request_id = rows
        .iter()
        .find(|r| r.0 == id)
        .map(|r| r.5.clone())
        .ok_or("no row")?;
    app.db.run_blocking(move |c| {
        use clinker::db::schema::volumes as v;
        use diesel::prelude::*;
        Ok(diesel::delete(v::table.filter(v::request_id.eq(request_id))).execute(c)?)
    })?;
    let (s, v, h) = app.call(post("nothing")).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert!(h.get("idempotency-replayed").is_none(), "a fresh run");
    assert_eq!(app.count("volumes"), made);
    Ok(())
}

#[actix_web::test]
async fn a_key_expires_after_a_day() -> TestResult {
    use clinker::db::idempotency::KEY_TTL_SECONDS;
    let app = TestApp::new().await?;
    let body = json!({"volume": {"size": 1}});
    let (_, first, _) = app
        .call(keyed("POST", "/v3/0a0a/volumes", "day", &body))
        .await;
    let age = |secs: i64| {
        use clinker::db::schema::idempotency_keys as k;
        use diesel::prelude::*;
        let at = clinker::db::now() - chrono::Duration::seconds(secs);
        app.db.run_blocking(move |c| {
            Ok(diesel::update(k::table)
                .set(k::created_at.eq(at))
                .execute(c)?)
        })
    };
    // A day old, not yet swept: as if new, whatever it held.
    age(KEY_TTL_SECONDS + 1)?;
    let (s, second, h) = app
        .call(keyed("POST", "/v3/0a0a/volumes", "day", &body))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert!(h.get("idempotency-replayed").is_none());
    assert_ne!(first["volume"]["id"], second["volume"]["id"]);
    assert_eq!(app.count("volumes"), 2);

    // The sweep deletes only the keys past their day.
    let (s, _, _) = app
        .call(keyed("POST", "/v3/0a0a/volumes", "other", &body))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(app.db.run_blocking(clinker::db::idempotency::expire)?, 0);
    age(KEY_TTL_SECONDS + 1)?;
    assert_eq!(app.db.run_blocking(clinker::db::idempotency::expire)?, 2);
    assert_eq!(app.count("idempotency_keys"), 0);
    Ok(())
}

// ------------------------------------------------------------ credentials

#[actix_web::test]
async fn credentials_are_never_kept_for_replay() -> TestResult {
    let app = TestApp::new().await?;
    let id = app.available_volume(ALICE, 1).await?;
    let connector = json!({"initiator": "iqn.1993-08.org.debian:01:abc", "host": "h1"});
    let action = format!("/v3/0a0a/volumes/{id}/action");
    let init = json!({"os-initialize_connection": {"connector": connector}});
    let (s, v, _) = app.call(keyed("POST", &action, "init", &init)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let secret = v["connection_info"]["data"]["auth_password"]
        .as_str()
        .ok_or("the export has a credential")?
        .to_string();
    let kept = || -> Result<String, Box<dyn std::error::Error>> {
        Ok(keys(&app)?
            .into_iter()
            .map(|r| r.3.unwrap_or_default())
            .collect())
    };
    assert!(
        !kept()?.contains(&secret),
        "the credential is not in the key table"
    );

    // After terminate, the retry does not get the old credential back.
    let terminate = json!({"os-terminate_connection": {"connector": connector}});
    let (s, _, _) = app.call(json_req("POST", &action, ALICE, &terminate)).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, v, h) = app.call(keyed("POST", &action, "init", &init)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(h.get("idempotency-replayed").is_none(), "not a replay");
    assert_ne!(
        v["connection_info"]["data"]["auth_password"],
        secret.as_str()
    );
    assert!(v["connection_info"]["data"]["auth_password"].is_string());

    // An attachment's answer (connection_info flat, as the attachments API has it) is kept
    // with its credentials emptied: the retry names the
    // attachment, whose connection the project reads from it.
    let attach = json!({"attachment": {
        "volume_uuid": id, "instance_uuid": uuid::Uuid::new_v4(), "connector": connector,
    }});
    let post = || at(27, keyed("POST", "/v3/0a0a/attachments", "attach", &attach));
    let (s, first, _) = app.call(post()).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let secret = first["attachment"]["connection_info"]["auth_password"]
        .as_str()
        .ok_or("the attachment has a credential")?
        .to_string();
    let stored = kept()?;
    assert!(
        !stored.contains(&secret) && !stored.contains("auth_password"),
        "{stored}"
    );
    let (s, again, h) = app.call(post()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        h.get("idempotency-replayed").and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(again["attachment"]["id"], first["attachment"]["id"]);
    assert_eq!(again["attachment"]["connection_info"], json!({}));
    assert_eq!(app.count("volume_attachment"), 1);
    Ok(())
}

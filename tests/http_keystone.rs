//! `auth_strategy = "keystone"` against a stand-in Keystone: a small actix-web server
//! speaking the two calls keystonemiddleware makes (`POST` and `GET /v3/auth/tokens`), with
//! tokens the test hands out and counters of what Clinker asked. It covers the paths a real
//! Keystone cannot easily be made to take: a token expiring while cached, Keystone down,
//! Keystone refusing the service user or forgetting its token.

mod common;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::{SecondsFormat, Utc};
use clinker::config::{AuthStrategy, Secret};
use common::{TestApp, TestResult, json_req, req};
use serde_json::{Value, json};

const PROJECT: &str = "5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c";
const OTHER: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
const PASSWORD: &str = "cinder-service-pa55";

/// What the stand-in knows and counts.
#[derive(Default)]
struct Keystone {
    /// User tokens: their token bodies.
    tokens: HashMap<String, Value>,
    /// Service tokens issued and still honoured.
    service_tokens: Vec<String>,
    /// Seconds a service token lasts.
    service_ttl: i64,
    /// Refuse the service user's password.
    refuse_service_user: bool,
    /// `POST /v3/auth/tokens` calls.
    issued: usize,
    /// `GET /v3/auth/tokens` calls, by subject token.
    validations: HashMap<String, usize>,
}

type Shared = Arc<Mutex<Keystone>>;

fn stamp(in_seconds: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(in_seconds))
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A token body as Keystone returns it (`nocatalog`): project scope and role names.
fn token_body(user: &str, project: &str, roles: &[&str], expires_in: i64) -> Value {
    json!({"token": {
        "methods": ["password"],
        "user": {"id": format!("{user}-id"), "name": user, "domain": {"id": "default", "name": "Default"}},
        "project": {"id": project, "name": "demo", "domain": {"id": "default", "name": "Default"}},
        "roles": roles.iter().map(|r| json!({"id": format!("{r}-id"), "name": r})).collect::<Vec<_>>(),
        "expires_at": stamp(expires_in),
        "issued_at": stamp(0),
        "audit_ids": ["a"],
    }})
}

async fn issue(state: web::Data<Shared>, body: web::Json<Value>) -> HttpResponse {
    let mut k = state.lock().unwrap_or_else(|e| e.into_inner());
    k.issued += 1;
    let user = &body["auth"]["identity"]["password"]["user"];
    let scope = &body["auth"]["scope"]["project"];
    let right = user["name"] == "cinder"
        && user["password"] == PASSWORD
        && user["domain"]["name"] == "Default"
        && scope["name"] == "service";
    if !right || k.refuse_service_user {
        return HttpResponse::Unauthorized().json(json!({"error": {"code": 401,
            "title": "Unauthorized", "message": "The request you have made requires authentication."}}));
    }
    let token = format!("service-{}", k.issued);
    k.service_tokens.push(token.clone());
    let ttl = k.service_ttl;
    HttpResponse::Created()
        .insert_header(("X-Subject-Token", token))
        .json(token_body("cinder", "00ff", &["admin", "service"], ttl))
}

async fn validate(state: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut k = state.lock().unwrap_or_else(|e| e.into_inner());
    let subject = header("X-Subject-Token");
    *k.validations.entry(subject.clone()).or_default() += 1;
    if !k.service_tokens.contains(&header("X-Auth-Token"))
        || !req.query_string().contains("nocatalog")
    {
        return HttpResponse::Unauthorized().finish();
    }
    match k.tokens.get(&subject) {
        Some(body) => HttpResponse::Ok()
            .insert_header(("X-Subject-Token", subject))
            .json(body),
        None => HttpResponse::NotFound().json(json!({"error": {"code": 404,
            "title": "Not Found", "message": "Could not find token."}})),
    }
}

/// Starts the stand-in on a free port: its state and its URL.
fn stand_in() -> Result<(Shared, String), Box<dyn std::error::Error>> {
    let state: Shared = Arc::new(Mutex::new(Keystone {
        service_ttl: 3600,
        ..Keystone::default()
    }));
    let data = web::Data::new(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/v3/auth/tokens", web::post().to(issue))
            .route("/v3/auth/tokens", web::get().to(validate))
    })
    .workers(1)
    .bind("127.0.0.1:0")?;
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    Ok((state, format!("http://127.0.0.1:{port}")))
}

/// Clinker validating against `auth_url`.
async fn clinker(auth_url: &str) -> Result<TestApp, Box<dyn std::error::Error>> {
    TestApp::with(|c| {
        c.auth_strategy = AuthStrategy::Keystone;
        let k = &mut c.keystone_authtoken;
        k.auth_url = auth_url.to_string();
        k.www_authenticate_uri = Some("http://keystone.example:5000".into());
        k.password = Secret::new(PASSWORD);
        k.http_request_max_retries = 0;
    })
    .await
}

fn give(state: &Shared, token: &str, body: Value) {
    state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .tokens
        .insert(token.to_string(), body);
}

fn counts(state: &Shared, token: &str) -> (usize, usize) {
    let k = state.lock().unwrap_or_else(|e| e.into_inner());
    (k.issued, k.validations.get(token).copied().unwrap_or(0))
}

fn is_keystone_401(
    status: StatusCode,
    body: &Value,
    headers: &actix_web::http::header::HeaderMap,
) -> bool {
    status == StatusCode::UNAUTHORIZED
        && body["error"]["code"] == 401
        && headers
            .get("WWW-Authenticate")
            .and_then(|v| v.to_str().ok())
            == Some("Keystone uri=\"http://keystone.example:5000\"")
}

#[actix_web::test]
async fn a_valid_token_gives_its_user_project_and_roles_and_is_cached() -> TestResult {
    let (ks, url) = stand_in()?;
    let app = clinker(&url).await?;
    give(
        &ks,
        "tok-member",
        token_body("alice", PROJECT, &["member", "reader"], 3600),
    );
    give(
        &ks,
        "tok-admin",
        token_body("root", OTHER, &["admin", "member", "reader"], 3600),
    );

    let (status, body, _) = app
        .call(req("GET", "/clinker/v1/whoami", "tok-member"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"user": "alice-id", "project": PROJECT, "is_admin": false})
    );
    let (status, body, _) = app
        .call(req("GET", "/clinker/v1/whoami", "tok-admin"))
        .await;
    assert_eq!(
        (status, body["is_admin"].clone()),
        (StatusCode::OK, json!(true))
    );

    // The member creates in its own project; the path's project must be the token's.
    let create = json!({"volume": {"size": 1, "name": "v"}});
    let (status, body, _) = app
        .call(json_req(
            "POST",
            &format!("/v3/{PROJECT}/volumes"),
            "tok-member",
            &create,
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, _, _) = app
        .call(json_req(
            "POST",
            &format!("/v3/{OTHER}/volumes"),
            "tok-member",
            &create,
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Three requests with the member's token, one validation; one service token for all.
    assert_eq!(counts(&ks, "tok-member"), (1, 1));
    assert_eq!(counts(&ks, "tok-admin").1, 1);
    Ok(())
}

#[actix_web::test]
async fn roles_come_from_the_token_and_never_from_the_client() -> TestResult {
    let (ks, url) = stand_in()?;
    let app = clinker(&url).await?;
    give(
        &ks,
        "tok-reader",
        token_body("rita", PROJECT, &["reader"], 3600),
    );
    let forged = |r: actix_web::test::TestRequest| {
        r.insert_header(("X-Roles", "admin,member"))
            .insert_header(("X-Project-Id", OTHER))
            .insert_header(("X-User-Id", "root-id"))
            .insert_header(("X-Identity-Status", "Confirmed"))
    };
    let (status, body, _) = app
        .call(forged(req("GET", "/clinker/v1/whoami", "tok-reader")))
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"user": "rita-id", "project": PROJECT, "is_admin": false})
        )
    );
    // A reader reads, and neither creates a volume nor a type, whatever it claims.
    let (status, _, _) = app
        .call(forged(req(
            "GET",
            &format!("/v3/{PROJECT}/volumes"),
            "tok-reader",
        )))
        .await;
    assert_eq!(status, StatusCode::OK);
    let create = json!({"volume": {"size": 1}});
    let (status, _, _) = app
        .call(forged(json_req(
            "POST",
            &format!("/v3/{PROJECT}/volumes"),
            "tok-reader",
            &create,
        )))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = app
        .call(forged(json_req(
            "POST",
            &format!("/v3/{PROJECT}/types"),
            "tok-reader",
            &json!({"volume_type": {"name": "t"}}),
        )))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    Ok(())
}

#[actix_web::test]
async fn missing_unknown_and_expired_tokens_get_keystones_401() -> TestResult {
    let (ks, url) = stand_in()?;
    let app = clinker(&url).await?;
    give(
        &ks,
        "tok-old",
        token_body("olga", PROJECT, &["member"], -10),
    );
    let path = format!("/v3/{PROJECT}/volumes");

    let (status, body, headers) = app
        .call(actix_web::test::TestRequest::get().uri(&path))
        .await;
    assert!(is_keystone_401(status, &body, &headers), "{status} {body}");
    // Keystone's 404 (unknown, expired or revoked) is the caller's 401.
    let (status, body, headers) = app.call(req("GET", &path, "no-such-token")).await;
    assert!(is_keystone_401(status, &body, &headers), "{status} {body}");
    assert_eq!(counts(&ks, "no-such-token").1, 1);
    // An invalid token is not cached: asked about again.
    app.call(req("GET", &path, "no-such-token")).await;
    assert_eq!(counts(&ks, "no-such-token").1, 2);
    // A body whose expiry has passed is refused, even if Keystone vouched for it.
    let (status, body, headers) = app.call(req("GET", &path, "tok-old")).await;
    assert!(is_keystone_401(status, &body, &headers), "{status} {body}");

    // The version documents stay open, token or not, and ask Keystone nothing.
    for open in ["/", "/v3/", &format!("/v3/{PROJECT}")] {
        let (status, _, _) = app.call(req("GET", open, "stale-token")).await;
        assert!(
            status.is_success() || status.is_redirection(),
            "{open}: {status}"
        );
    }
    assert_eq!(counts(&ks, "stale-token").1, 0);
    Ok(())
}

#[actix_web::test]
async fn a_cached_token_past_its_expiry_is_refused_without_asking_keystone() -> TestResult {
    let (ks, url) = stand_in()?;
    let app = clinker(&url).await?;
    give(
        &ks,
        "tok-brief",
        token_body("bea", PROJECT, &["member", "reader"], 1),
    );
    let path = format!("/v3/{PROJECT}/volumes");
    let (status, _, _) = app.call(req("GET", &path, "tok-brief")).await;
    assert_eq!(status, StatusCode::OK);
    // Past its expires_at (one second from its issue): the cache refuses it itself.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    let (status, body, headers) = app.call(req("GET", &path, "tok-brief")).await;
    assert!(is_keystone_401(status, &body, &headers), "{status} {body}");
    assert_eq!(counts(&ks, "tok-brief").1, 1);
    Ok(())
}

#[actix_web::test]
async fn a_refused_service_user_or_an_absent_keystone_is_503() -> TestResult {
    let (ks, url) = stand_in()?;
    ks.lock()
        .unwrap_or_else(|e| e.into_inner())
        .refuse_service_user = true;
    give(&ks, "tok", token_body("alice", PROJECT, &["member"], 3600));
    let app = clinker(&url).await?;
    let path = format!("/v3/{PROJECT}/volumes");
    let (status, body, _) = app.call(req("GET", &path, "tok")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let message = body["serviceUnavailable"]["message"].as_str().unwrap_or("");
    assert_eq!(counts(&ks, "tok"), (1, 0), "{message}");
    assert!(message.contains("service's own credentials"), "{message}");

    // A port that takes connections and never answers (kept bound, so no other test's
    // stand-in can get it): every call times out.
    let silent = TcpListener::bind("127.0.0.1:0")?;
    let port = silent.local_addr()?.port();
    let mut app = clinker(&format!("http://127.0.0.1:{port}/v3")).await?;
    app.config.keystone_authtoken.http_connect_timeout = 1;
    app.state.auth = clinker::http::auth::Authenticator::from_config(&app.config);
    let (status, body, _) = app.call(req("GET", &path, "tok")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let message = body["serviceUnavailable"]["message"].as_str().unwrap_or("");
    assert!(message.contains("cannot be reached"), "{message}");
    Ok(())
}

#[actix_web::test]
async fn a_service_token_must_carry_a_service_role() -> TestResult {
    let (ks, url) = stand_in()?;
    let app = clinker(&url).await?;
    give(
        &ks,
        "tok",
        token_body("alice", PROJECT, &["member", "reader"], 3600),
    );
    give(
        &ks,
        "svc-nova",
        token_body("nova", "00ff", &["service"], 3600),
    );
    give(
        &ks,
        "svc-fake",
        token_body("mallory", "00ff", &["member"], 3600),
    );
    let path = format!("/v3/{PROJECT}/volumes");
    let with = |service: &str| {
        req("GET", &path, "tok").insert_header(("X-Service-Token", service.to_string()))
    };

    let (status, _, _) = app.call(with("svc-nova")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body, headers) = app.call(with("svc-fake")).await;
    assert!(is_keystone_401(status, &body, &headers), "{status} {body}");
    let (status, body, headers) = app.call(with("not-a-token")).await;
    assert!(is_keystone_401(status, &body, &headers), "{status} {body}");
    Ok(())
}

#[actix_web::test]
async fn the_service_token_is_renewed_before_it_expires_one_renewal_at_a_time() -> TestResult {
    let (ks, url) = stand_in()?;
    let app = clinker(&url).await?;
    for i in 0..6 {
        give(
            &ks,
            &format!("tok-{i}"),
            token_body("alice", PROJECT, &["reader"], 3600),
        );
    }
    let path = format!("/v3/{PROJECT}/volumes");
    // Four first requests at once: one service token is obtained, for all of them.
    let calls: Vec<_> = (0..4)
        .map(|i| app.call(req("GET", &path, &format!("tok-{i}"))))
        .collect();
    for (status, body, _) in futures_util::future::join_all(calls).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(counts(&ks, "tok-0").0, 1);
    // A burst with one uncached token: one validation for all of it.
    let calls: Vec<_> = (0..4)
        .map(|_| app.call(req("GET", &path, "tok-5")))
        .collect();
    for (status, body, _) in futures_util::future::join_all(calls).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(counts(&ks, "tok-5").1, 1);

    // Keystone forgets the service token (a restart with new fernet keys): Clinker signs in
    // again and retries the validation once.
    ks.lock()
        .unwrap_or_else(|e| e.into_inner())
        .service_tokens
        .clear();
    let (status, body, _) = app.call(req("GET", &path, "tok-4")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(counts(&ks, "tok-4"), (2, 2));

    // A service token within two minutes of its expiry is renewed before use.
    let (ks, url) = stand_in()?;
    ks.lock().unwrap_or_else(|e| e.into_inner()).service_ttl = 60;
    give(
        &ks,
        "tok-a",
        token_body("alice", PROJECT, &["reader"], 3600),
    );
    give(
        &ks,
        "tok-b",
        token_body("alice", PROJECT, &["reader"], 3600),
    );
    let app = clinker(&url).await?;
    app.call(req("GET", &path, "tok-a")).await;
    assert_eq!(counts(&ks, "tok-a").0, 1);
    let (status, _, _) = app.call(req("GET", &path, "tok-b")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(counts(&ks, "tok-b").0, 2);
    Ok(())
}

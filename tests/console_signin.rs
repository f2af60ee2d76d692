//! The console's sign-in routes: `GET /clinker/v1/console/config` and the Keystone relay
//! `POST /clinker/v1/console/auth/tokens`, against a stand-in Keystone that records every
//! `POST /v3/auth/tokens` it gets. The relay's refusals are checked here (wrong password,
//! noauth, oversized or malformed bodies, Keystone down); `console_browser.rs` signs in
//! through a real Keystone.

mod common;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use actix_web::{App, HttpResponse, HttpServer, web};
use chrono::{SecondsFormat, Utc};
use clinker::config::{AuthStrategy, Secret};
use common::{TestApp, TestResult, req};
use serde_json::{Value, json};

const PROJECT: &str = "5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c";
const SERVICE_PASSWORD: &str = "cinder-service-pa55";
const ALICE_PASSWORD: &str = "alice-Pa55-w0rd!";
const SIGN_IN: &str = "/clinker/v1/console/auth/tokens";

/// What the stand-in was asked: each `POST /v3/auth/tokens` body, and the tokens it issued.
#[derive(Default)]
struct Seen {
    posts: Vec<Value>,
    issued: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

fn token_body(user: &str, project_id: &str, project: &str, roles: &[&str]) -> Value {
    let at = |s: i64| {
        (Utc::now() + chrono::Duration::seconds(s)).to_rfc3339_opts(SecondsFormat::Micros, true)
    };
    json!({"token": {
        "methods": ["password"],
        "user": {"id": format!("{user}-id"), "name": user, "domain": {"id": "default", "name": "Default"}},
        "project": {"id": project_id, "name": project, "domain": {"id": "default", "name": "Default"}},
        "roles": roles.iter().map(|r| json!({"id": format!("{r}-id"), "name": r})).collect::<Vec<_>>(),
        "expires_at": at(3600),
        "issued_at": at(0),
        "audit_ids": ["a"],
    }})
}

/// `POST /v3/auth/tokens`: the service user in `service`, and alice in `demo` (domain
/// `Default`); anything else is Keystone's 401.
async fn issue(seen: web::Data<Shared>, body: web::Json<Value>) -> HttpResponse {
    let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
    s.posts.push(body.0.clone());
    let user = &body["auth"]["identity"]["password"]["user"];
    let scope = &body["auth"]["scope"]["project"];
    let pair = (
        user["name"].as_str(),
        user["password"].as_str(),
        scope["name"].as_str(),
    );
    let in_default = user["domain"]["name"] == "Default" && scope["domain"]["name"] == "Default";
    let (token, body) = match pair {
        (Some("cinder"), Some(SERVICE_PASSWORD), Some("service")) if in_default => (
            "service-token".to_string(),
            token_body("cinder", "00ff", "service", &["admin", "service"]),
        ),
        (Some("alice"), Some(ALICE_PASSWORD), Some("demo")) if in_default => (
            format!("alice-token-{}", s.issued.len()),
            token_body("alice", PROJECT, "demo", &["member", "reader"]),
        ),
        _ => {
            return HttpResponse::Unauthorized().json(json!({"error": {"code": 401,
                "title": "Unauthorized", "message": "The request you have made requires authentication."}}));
        }
    };
    s.issued.push(token.clone());
    HttpResponse::Created()
        .insert_header(("X-Subject-Token", token))
        .json(body)
}

/// `GET /v3/auth/tokens`: every token the stand-in issued is valid.
async fn validate(seen: web::Data<Shared>, r: actix_web::HttpRequest) -> HttpResponse {
    let subject = r
        .headers()
        .get("X-Subject-Token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let s = seen.lock().unwrap_or_else(|e| e.into_inner());
    if !s.issued.iter().any(|t| t == subject) || subject == "service-token" {
        return HttpResponse::NotFound().finish();
    }
    HttpResponse::Ok().json(token_body("alice", PROJECT, "demo", &["member", "reader"]))
}

fn stand_in() -> Result<(Shared, String), Box<dyn std::error::Error>> {
    let seen: Shared = Arc::default();
    let data = web::Data::new(seen.clone());
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
    Ok((seen, format!("http://127.0.0.1:{port}")))
}

async fn clinker(auth_url: &str) -> Result<TestApp, Box<dyn std::error::Error>> {
    TestApp::with(|c| {
        c.auth_strategy = AuthStrategy::Keystone;
        let k = &mut c.keystone_authtoken;
        k.auth_url = auth_url.to_string();
        k.password = Secret::new(SERVICE_PASSWORD);
        k.http_request_max_retries = 0;
        k.http_connect_timeout = 2;
    })
    .await
}

fn sign_in(body: &Value) -> TestRequest {
    TestRequest::post()
        .uri(SIGN_IN)
        .insert_header(("Content-Type", "application/json"))
        .set_payload(body.to_string())
}

fn alice(password: &str) -> Value {
    json!({"user": "alice", "password": password, "project": "demo"})
}

fn posts(seen: &Shared) -> Vec<Value> {
    seen.lock().unwrap_or_else(|e| e.into_inner()).posts.clone()
}

#[actix_web::test]
async fn noauth_says_so_and_refuses_the_relay() -> TestResult {
    let app = TestApp::new().await?;
    let (status, body, headers) = app
        .call(TestRequest::get().uri("/clinker/v1/console/config"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"auth_strategy": "noauth"}));
    assert_eq!(
        headers.get("cache-control").map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );

    let (status, body, _) = app.call(sign_in(&alice(ALICE_PASSWORD))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let message = body["itemNotFound"]["message"].as_str().unwrap_or("");
    assert!(message.contains("noauth"), "{body}");
    assert!(!body.to_string().contains(ALICE_PASSWORD), "{body}");
    Ok(())
}

#[actix_web::test]
async fn the_relay_hands_back_keystones_token_and_whom_it_names() -> TestResult {
    let (seen, url) = stand_in()?;
    let app = clinker(&url).await?;
    let (status, body, _) = app
        .call(TestRequest::get().uri("/clinker/v1/console/config"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["auth_strategy"], "keystone");
    assert_eq!(body["keystone"]["default_domain"], "Default");

    let (status, body, headers) = app.call(sign_in(&alice(ALICE_PASSWORD))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = headers
        .get("X-Subject-Token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert_eq!(token, "alice-token-0");
    assert_eq!(
        headers.get("cache-control").map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    assert_eq!(
        body["token"]["user"],
        json!({"id": "alice-id", "name": "alice"})
    );
    assert_eq!(
        body["token"]["project"],
        json!({"id": PROJECT, "name": "demo"})
    );
    assert_eq!(body["token"]["roles"], json!(["member", "reader"]));
    assert!(body["token"]["expires_at"].is_string(), "{body}");
    // The body names nobody's secret: not the token, not the password.
    let text = body.to_string();
    assert!(
        !text.contains(&token) && !text.contains(ALICE_PASSWORD),
        "{text}"
    );

    // What reached Keystone: a project-scoped password authentication in Default.
    let sent = posts(&seen);
    let relayed = sent
        .iter()
        .find(|p| p["auth"]["identity"]["password"]["user"]["name"] == "alice")
        .ok_or("the relay never reached Keystone")?;
    assert_eq!(relayed["auth"]["identity"]["methods"], json!(["password"]));
    assert_eq!(
        relayed["auth"]["scope"],
        json!({"project": {"name": "demo", "domain": {"name": "Default"}}})
    );

    // The token then works as any client's: validated, then alice in her project.
    let (status, body, _) = app.call(req("GET", "/clinker/v1/whoami", &token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["project"], PROJECT);
    let (status, body, _) = app
        .call(req("GET", &format!("/v3/{PROJECT}/volumes"), &token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A domain given names both the user's and the project's.
    let mut other = alice(ALICE_PASSWORD);
    other["domain"] = json!("Elsewhere");
    let (status, _, _) = app.call(sign_in(&other)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let last = posts(&seen).pop().ok_or("nothing relayed")?;
    assert_eq!(
        last["auth"]["identity"]["password"]["user"]["domain"]["name"],
        "Elsewhere"
    );
    assert_eq!(
        last["auth"]["scope"]["project"]["domain"]["name"],
        "Elsewhere"
    );
    Ok(())
}

#[actix_web::test]
async fn a_wrong_password_is_keystones_401() -> TestResult {
    let (seen, url) = stand_in()?;
    let app = clinker(&url).await?;
    let (status, body, headers) = app.call(sign_in(&alice("not-her-password"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], 401, "{body}");
    assert_eq!(
        body["error"]["message"],
        "The request you have made requires authentication."
    );
    assert!(headers.get("X-Subject-Token").is_none());
    assert!(!body.to_string().contains("not-her-password"));
    // An unknown project is the same answer: Keystone does not say which part was wrong.
    let (status, _, _) = app
        .call(sign_in(
            &json!({"user": "alice", "password": ALICE_PASSWORD, "project": "nope"}),
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        posts(&seen)
            .iter()
            .filter(|p| p["auth"]["identity"]["password"]["user"]["name"] == "alice")
            .count(),
        2
    );
    Ok(())
}

#[actix_web::test]
async fn hostile_bodies_are_refused_before_keystone_is_asked() -> TestResult {
    let (seen, url) = stand_in()?;
    let app = clinker(&url).await?;
    let secret = "s3cret-n0t-to-echo";
    let huge = json!({"user": "alice", "password": "x".repeat(20_000), "project": "demo"});
    let cases: Vec<(TestRequest, StatusCode, &str)> = vec![
        (sign_in(&huge), StatusCode::PAYLOAD_TOO_LARGE, "oversized"),
        (
            sign_in(&json!({"user": "alice", "password": "p".repeat(4097), "project": "demo"})),
            StatusCode::BAD_REQUEST,
            "password over 4096 bytes",
        ),
        (
            TestRequest::post()
                .uri(SIGN_IN)
                .set_payload(alice(secret).to_string()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "no Content-Type",
        ),
        (
            TestRequest::post()
                .uri(SIGN_IN)
                .insert_header(("Content-Type", "text/plain"))
                .set_payload(alice(secret).to_string()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a cross-site form's text/plain",
        ),
        (
            sign_in(
                &json!({"user": "alice", "password": secret, "project": "demo",
                "auth_url": "http://evil.example/v3"}),
            ),
            StatusCode::BAD_REQUEST,
            "an upstream URL in the body",
        ),
        (
            sign_in(&json!({"user": "alice", "password": 123_456_789, "project": "demo"})),
            StatusCode::BAD_REQUEST,
            "a password that is not a string",
        ),
        (
            sign_in(&json!({"user": "alice", "project": "demo"})),
            StatusCode::BAD_REQUEST,
            "no password",
        ),
        (
            sign_in(&json!({"user": "", "password": secret, "project": "demo"})),
            StatusCode::BAD_REQUEST,
            "an empty user",
        ),
        (
            sign_in(&json!({"user": "al\nice", "password": secret, "project": "demo"})),
            StatusCode::BAD_REQUEST,
            "a control character in the user",
        ),
        (
            sign_in(&json!({"user": "alice", "password": secret, "project": "d".repeat(65)})),
            StatusCode::BAD_REQUEST,
            "a project name over 64",
        ),
        (
            sign_in(
                &json!({"user": "alice", "password": secret, "project": "demo", "domain": "\u{1b}[2J"}),
            ),
            StatusCode::BAD_REQUEST,
            "a control character in the domain",
        ),
        (
            TestRequest::post()
                .uri(SIGN_IN)
                .insert_header(("Content-Type", "application/json"))
                .set_payload("{\"user\": \"alice\", \"password\": "),
            StatusCode::BAD_REQUEST,
            "truncated JSON",
        ),
        (
            sign_in(&json!(["alice", secret, "demo"])),
            StatusCode::BAD_REQUEST,
            "not an object",
        ),
    ];
    for (request, want, what) in cases {
        let (status, body, _) = app.call(request).await;
        assert_eq!(status, want, "{what}: {body}");
        let text = body.to_string();
        assert!(
            !text.contains(secret) && !text.contains("123456789"),
            "{what} echoes the password: {text}"
        );
    }
    assert!(
        posts(&seen)
            .iter()
            .all(|p| p["auth"]["identity"]["password"]["user"]["name"] != "alice"),
        "a refused body reached Keystone"
    );
    Ok(())
}

#[actix_web::test]
async fn keystone_out_of_reach_is_a_503() -> TestResult {
    // A port that takes connections and never answers: the call times out.
    let silent = TcpListener::bind("127.0.0.1:0")?;
    let port = silent.local_addr()?.port();
    let mut app = clinker(&format!("http://127.0.0.1:{port}")).await?;
    app.config.keystone_authtoken.http_connect_timeout = 1;
    app.state.auth = clinker::http::auth::Authenticator::from_config(&app.config);
    let started = std::time::Instant::now();
    let (status, body, _) = app.call(sign_in(&alice(ALICE_PASSWORD))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "the relay waited {:?}",
        started.elapsed()
    );
    let message = body["serviceUnavailable"]["message"].as_str().unwrap_or("");
    assert!(message.contains("Keystone cannot be reached"), "{body}");
    Ok(())
}

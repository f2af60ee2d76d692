//! The real binary with `auth_strategy = "keystone"` against a real Keystone 30.0.0
//! (`.venv-keystone`, which `scripts/test` installs from
//! `tests/tempest/keystone-requirements.txt`): SQLite, fernet tokens, bootstrapped, served
//! by uwsgi on a free loopback port; users, projects and roles made with the OpenStack
//! client (`.venv`), with the harness in `common_keystone`. Clinker signs in as its
//! service user and validates the users' tokens.

mod common_e2e;
mod common_keystone;

use common_e2e::{Server, TestResult, http_request};
use common_keystone::{
    ADMIN_PASSWORD, keystone, openstack, service_user, token, user_in_new_project,
};
use serde_json::{Value, json};

const CINDER_PASSWORD: &str = "cinder-service-test-pw";
const ALICE_PASSWORD: &str = "alice-test-pw";

fn call(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let headers = [
        ("X-Auth-Token", token),
        ("Content-Type", "application/json"),
    ];
    let body = body.map(Value::to_string);
    let (status, text) = http_request(port, method, path, &headers, body.as_deref())?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

#[test]
fn a_real_keystones_tokens_are_validated_and_scoped() -> TestResult {
    let dir = tempfile::tempdir()?;
    let ks = keystone(dir.path())?;
    let url = ks.url.clone();
    // The service user, as the README registers it, and a member of a project.
    service_user(&url, CINDER_PASSWORD)?;
    let demo = user_in_new_project(&url, "alice", ALICE_PASSWORD, "demo", "member")?;
    let alice = token(&url, "alice", ALICE_PASSWORD, "demo")?;

    let config = format!(
        "auth_strategy = \"keystone\"\n[keystone_authtoken]\nauth_url = \"{url}\"\n\
         www_authenticate_uri = \"{url}/v3\"\nusername = \"cinder\"\n"
    );
    let clinker_dir = dir.path().join("clinker");
    let server = Server::builder(&clinker_dir)
        .config(&config)
        .env("CLINKER_KEYSTONE_PASSWORD", CINDER_PASSWORD)
        .rust_log("info")
        .start()?;
    let port = server.port;

    // Keystone's `member` implies `reader`: alice reads and creates in her project.
    let (status, body) = call(port, "GET", "/clinker/v1/whoami", &alice, None)?;
    assert_eq!(status, 200, "{body} {}", server.log_text());
    assert_eq!(body["project"], json!(demo));
    assert_eq!(body["is_admin"], json!(false));
    let create = json!({"volume": {"size": 1, "name": "through-keystone"}});
    let (status, body) = call(
        port,
        "POST",
        &format!("/v3/{demo}/volumes"),
        &alice,
        Some(&create),
    )?;
    assert_eq!(status, 202, "{body}");
    let (status, _) = call(port, "GET", &format!("/v3/{demo}/volumes"), &alice, None)?;
    assert_eq!(status, 200);
    // Not an admin: the admin API refuses her.
    let (status, _) = call(
        port,
        "GET",
        &format!("/v3/{demo}/os-services"),
        &alice,
        None,
    )?;
    assert_eq!(status, 403);

    // A token Keystone does not know, and one it revoked before Clinker saw it.
    let (status, body) = call(
        port,
        "GET",
        &format!("/v3/{demo}/volumes"),
        "gAAAAABnot-a-token",
        None,
    )?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!(401)),
        "{body}"
    );
    let revoked = token(&url, "alice", ALICE_PASSWORD, "demo")?;
    openstack(&url, &["token", "revoke", &revoked])?;
    let (status, _) = call(port, "GET", &format!("/v3/{demo}/volumes"), &revoked, None)?;
    assert_eq!(status, 401);

    // The cloud admin of the bootstrap is an admin here.
    let admin = token(&url, "admin", ADMIN_PASSWORD, "admin")?;
    let (status, body) = call(port, "GET", "/clinker/v1/whoami", &admin, None)?;
    assert_eq!(
        (status, body["is_admin"].clone()),
        (200, json!(true)),
        "{body}"
    );

    // The service password never reaches the log.
    assert!(!server.log_text().contains(CINDER_PASSWORD));
    Ok(())
}

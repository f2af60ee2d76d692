//! Secrets stay secret: the real binary on PostgreSQL (its URL carries a password) and
//! a file node exporting through tgtd with CHAP. An attachment gets its CHAP password in
//! the one answer about it that its project asks for; the password and the database
//! password must not appear in any list, error, user message, timeline, or the server's
//! log (at debug level).

mod common_e2e;

use std::time::Duration;

use clinker::drivers::targets::tgt::tgtd_ready;
use common_e2e::{PgDatabase, Server, TestResult, http_request, wait_for};
use serde_json::{Value, json};

const CONFIG: &str = r#"
[[nodes]]
name = "n1"
availability_zone = "nova"
driver = "file"
driver_options = { path = "volumes", target = "tgt" }
"#;

const MEMBER: &str = "alice:5e2c0a7d";
const ADMIN: &str = "admin:0c0c";
const DB_PASSWORD: &str = "Db-Pa55word-never-shown";

/// One call at microversion 3.70; answers the status and the body text.
fn call(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    let headers = [
        ("X-Auth-Token", token),
        ("OpenStack-API-Version", "volume 3.70"),
        ("Content-Type", "application/json"),
    ];
    let body = body.map(Value::to_string);
    Ok(http_request(port, method, path, &headers, body.as_deref())?)
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

#[test]
fn chap_passwords_and_database_passwords_stay_out_of_lists_errors_and_logs() -> TestResult {
    // As the tgt driver tests do: the secret only exists with a tgtd to hold it.
    if !tgtd_ready("chap_passwords_and_database_passwords_stay_out_of_lists_errors_and_logs") {
        return Ok(());
    }
    let db = PgDatabase::create()?;
    let url = db.url().replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{DB_PASSWORD}@"),
        1,
    );
    assert!(url.contains(DB_PASSWORD), "the URL {url} has no password");
    let dir = tempfile::tempdir()?;
    let server = Server::builder(&dir.path().join("data"))
        .database_url(Some(&url))
        .config(CONFIG)
        .rust_log("debug")
        .start()?;
    let port = server.port;
    let project = MEMBER.split(':').nth(1).unwrap_or_default();

    let (s, v) = call(
        port,
        "POST",
        "/v3/volumes",
        MEMBER,
        Some(&json!({"volume": {"size": 1, "name": "secret-test"}})),
    )?;
    assert_eq!(s, 202, "{v}");
    let volume = json_of(&v)["volume"]["id"]
        .as_str()
        .ok_or("no id")?
        .to_string();
    let available = wait_for(Duration::from_secs(30), || {
        let (_, v) = call(port, "GET", &format!("/v3/volumes/{volume}"), MEMBER, None)?;
        Ok(json_of(&v)["volume"]["status"] == "available")
    })?;
    assert!(
        available,
        "volume never became available:\n{}",
        server.log_text()
    );

    let connector = json!({"initiator": "iqn.1993-08.org.debian:01:secrets-test", "host": "h1", "ip": "127.0.0.1", "platform": "x86_64", "os_type": "linux", "multipath": false});
    let (s, v) = call(
        port,
        "POST",
        "/v3/attachments",
        MEMBER,
        Some(
            &json!({"attachment": {"volume_uuid": volume, "instance_uuid": "a3e4c0de-41d9-4c5e-9d7b-3b1f3f0e9a11", "connector": connector}}),
        ),
    )?;
    assert_eq!(s, 200, "{v}\n{}", server.log_text());
    let attachment = json_of(&v)["attachment"]["id"]
        .as_str()
        .ok_or("no attachment id")?
        .to_string();
    let info = json_of(&v)["attachment"]["connection_info"].clone();
    let password = info["data"]["auth_password"]
        .as_str()
        .or_else(|| info["auth_password"].as_str())
        .ok_or_else(|| format!("no CHAP password in the attachment: {v}"))?
        .to_string();
    assert!(password.len() >= 12, "a weak CHAP password: {password}");

    // Everything the callers can read that is not the one answer about the attachment.
    let mut seen = Vec::new();
    let lists = [
        "/v3/volumes",
        "/v3/volumes/detail",
        "/v3/volumes/detail?all_tenants=1",
        "/v3/snapshots/detail",
        "/v3/attachments",
        "/v3/attachments/detail",
        "/v3/attachments/detail?all_tenants=1",
        "/v3/messages",
        "/v3/os-services",
        "/v3/scheduler-stats/get_pools?detail=true",
        "/v3/capabilities/n1@file",
        "/v3/limits",
        "/v3/types",
        "/v3/extensions",
    ];
    for token in [MEMBER, ADMIN] {
        for path in lists {
            seen.push((
                format!("GET {path} as {token}"),
                call(port, "GET", path, token, None)?.1,
            ));
        }
        let one = [
            format!("/v3/volumes/{volume}"),
            format!("/v3/{project}/volumes/{volume}"),
            format!("/clinker/v1/volumes/{volume}/timeline"),
        ];
        for path in one {
            seen.push((
                format!("GET {path} as {token}"),
                call(port, "GET", &path, token, None)?.1,
            ));
        }
    }
    // Errors around the attachment: a second attachment, bad connectors, another
    // project's look, a detach of what is attached, deleting the attached volume.
    let errors: [(&str, String, &str, Option<Value>); 6] = [
        (
            "GET",
            format!("/v3/attachments/{attachment}"),
            "bob:0b0b",
            None,
        ),
        (
            "PUT",
            format!("/v3/attachments/{attachment}"),
            MEMBER,
            Some(json!({"attachment": {"connector": "not an object"}})),
        ),
        (
            "PUT",
            format!("/v3/attachments/{attachment}"),
            MEMBER,
            Some(json!({"attachment": {"connector": {"initiator": 5}}})),
        ),
        (
            "POST",
            "/v3/attachments".into(),
            MEMBER,
            Some(
                json!({"attachment": {"volume_uuid": volume, "instance_uuid": "7d3b2a9e-0b59-4f19-9a55-3e9d41e0c7a2", "connector": connector}}),
            ),
        ),
        ("DELETE", format!("/v3/volumes/{volume}"), MEMBER, None),
        (
            "POST",
            format!("/v3/volumes/{volume}/action"),
            MEMBER,
            Some(json!({"os-initialize_connection": {"connector": {}}})),
        ),
    ];
    for (method, path, token, body) in &errors {
        seen.push((
            format!("{method} {path} as {token}"),
            call(port, method, path, token, body.as_ref())?.1,
        ));
    }
    // The lists do show the attachment (so the check looks at the right thing).
    let listed = seen
        .iter()
        .filter(|(what, _)| what.starts_with("GET /v3/attachments/detail as alice"))
        .any(|(_, body)| body.contains(&attachment));
    assert!(listed, "the attachment is not in its project's list");

    // Detach and delete, so tgtd keeps nothing; those answers are checked too.
    let (s, v) = call(
        port,
        "DELETE",
        &format!("/v3/attachments/{attachment}"),
        MEMBER,
        None,
    )?;
    assert_eq!(s, 200, "{v}");
    seen.push(("DELETE attachment".into(), v));
    let (s, v) = call(
        port,
        "DELETE",
        &format!("/v3/volumes/{volume}"),
        MEMBER,
        None,
    )?;
    assert_eq!(s, 202, "{v}");
    let gone = wait_for(Duration::from_secs(30), || {
        Ok(call(port, "GET", &format!("/v3/volumes/{volume}"), MEMBER, None)?.0 == 404)
    })?;
    assert!(gone, "the volume was not deleted");
    seen.push((
        "timeline after delete".into(),
        call(
            port,
            "GET",
            &format!("/clinker/v1/volumes/{volume}/timeline"),
            MEMBER,
            None,
        )?
        .1,
    ));

    for (what, body) in &seen {
        assert!(
            !body.contains(&password),
            "{what} shows the CHAP password: {body}"
        );
        assert!(
            !body.contains(DB_PASSWORD),
            "{what} shows the database password: {body}"
        );
    }
    let log = server.log_text();
    assert!(
        log.contains("DEBUG") || log.contains("debug"),
        "the log is not at debug level"
    );
    assert!(
        log.contains(&attachment),
        "the log does not mention the attachment: it is not the log of this flow"
    );
    assert!(!log.contains(&password), "the log shows the CHAP password");
    assert!(
        !log.contains(DB_PASSWORD),
        "the log shows the database password"
    );
    Ok(())
}

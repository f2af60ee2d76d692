//! The fixes of issue 17 (answers in Cinder's shapes, metadata ETags, snapshot unmanage
//! refused to members) as the real clients meet them: python-cinderclient, the
//! `openstack` CLI and openstacksdk, against the real binary.

mod common_e2e;

use std::process::Command;
use std::time::Duration;

use common_e2e::{PROJECT, Server, TestResult, field, http, wait_for};

/// Runs `cinder` as `user` of [`PROJECT`] (`Server::cinder` is always the admin).
fn cinder_as(server: &Server, user: &str, args: &[&str]) -> Result<(bool, String), String> {
    let out = Command::new("cinder")
        .args(["--os-auth-type", "noauth", "--os-endpoint"])
        .arg(format!("http://127.0.0.1:{}/v3", server.port))
        .args(["--os-user-id", user, "--os-project-id", PROJECT])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `cinder` (tests/requirements.txt): {e}"))?;
    Ok((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

fn available(server: &Server, show: &str, id: &str) -> Result<bool, Box<dyn std::error::Error>> {
    wait_for(Duration::from_secs(20), || {
        let (_, out) = server.cinder(&[show, id])?;
        Ok(field(&out, "status").as_deref() == Some("available"))
    })
}

/// cinderclient from 3.15 removes metadata keys by reading the set with its ETag and
/// writing the rest back with `If-Match`: it works only if the tag round-trips.
#[test]
fn cinderclient_unsets_metadata_through_the_etag() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), None)?;
    let out = server.cinder_ok(&["create", "--name", "etag", "1"])?;
    let id = field(&out, "id").ok_or(format!("no id in: {out}"))?;
    assert!(available(&server, "show", &id)?, "{}", server.log_text());
    server.cinder_ok(&["metadata", &id, "set", "a=1", "b=2"])?;
    server.cinder_ok(&[
        "--os-volume-api-version",
        "3.15",
        "metadata",
        &id,
        "unset",
        "a",
    ])?;
    let token = format!("admin:{PROJECT}");
    let (status, body) = http(
        server.port,
        "GET",
        &format!("/v3/{PROJECT}/volumes/{id}/metadata"),
        Some(&token),
    )?;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body)?;
    assert_eq!(v, serde_json::json!({"metadata": {"b": "2"}}));
    Ok(())
}

/// A member's `cinder snapshot-unmanage` and `openstack volume snapshot delete --remote`
/// are refused with 403; the snapshot stays.
#[test]
fn members_cannot_unmanage_snapshots_through_cinderclient_or_the_cli() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), None)?;
    let (ok, out) = cinder_as(&server, "member", &["create", "--name", "v", "1"])?;
    assert!(ok, "{out}");
    let vol = field(&out, "id").ok_or(format!("no id in: {out}"))?;
    assert!(available(&server, "show", &vol)?, "{}", server.log_text());
    let (ok, out) = cinder_as(&server, "member", &["snapshot-create", &vol])?;
    assert!(ok, "{out}");
    let snap = field(&out, "id").ok_or(format!("no id in: {out}"))?;
    // The create answer, as cinderclient prints it, has no extension attributes.
    assert!(
        !out.contains("os-extended-snapshot-attributes"),
        "create answer: {out}"
    );
    assert!(available(&server, "snapshot-show", &snap)?);
    let (ok, out) = cinder_as(&server, "member", &["snapshot-unmanage", &snap])?;
    assert!(!ok && out.contains("HTTP 403"), "{out}");

    let endpoint = format!("http://127.0.0.1:{}/v3/{PROJECT}", server.port);
    let out = Command::new("openstack")
        .args(["--os-auth-type", "admin_token", "--os-token"])
        .arg(format!("member:{PROJECT}"))
        .args(["--os-endpoint", &endpoint])
        .args(["--os-volume-api-version", "3.0"])
        .args(["volume", "snapshot", "delete", "--remote", &snap])
        .output()
        .map_err(|e| format!("cannot run `openstack` (tests/requirements.txt): {e}"))?;
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("403"),
        "openstack: {text}"
    );
    let (ok, out) = server.cinder(&["snapshot-show", &snap])?;
    assert!(ok && out.contains("available"), "{out}");
    Ok(())
}

/// openstacksdk: the snapshot answers, the sort keys and the unmanage refusal
/// (tests/clients/sdk_shapes.py).
#[test]
fn openstacksdk_reads_the_fixed_answers() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), None)?;
    let text = common_e2e::client_script(
        &server,
        "sdk_shapes.py",
        &[
            &format!("http://127.0.0.1:{}/v3/{PROJECT}", server.port),
            &format!("admin:{PROJECT}"),
        ],
    )?;
    common_e2e::assert_areas(
        &text,
        &[
            "snapshot create and show",
            "snapshot sort keys",
            "snapshot unmanage refused to a member",
            "cleanup",
        ],
    );
    Ok(())
}

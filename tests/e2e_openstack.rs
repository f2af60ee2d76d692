//! The `openstack` CLI and openstacksdk (keystoneauth's `admin_token` plugin with the token
//! `USER:PROJECT` and an endpoint override) against the real binary. `.ci/run` installs
//! both, pinned in tests/requirements.txt.

mod common_e2e;

use std::process::Command;

use common_e2e::{PROJECT, Server, TestResult, assert_areas};

/// Runs a command that prints a resource or a list, as JSON.
fn openstack(
    server: &Server,
    args: &[&str],
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let mut with_format = args.to_vec();
    with_format.extend(["-f", "json"]);
    run(server, &with_format)
}

/// Runs a command and returns its JSON output (`Null` if it prints nothing).
fn run(server: &Server, args: &[&str]) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let endpoint = format!("http://127.0.0.1:{}/v3/{PROJECT}", server.port);
    let token = format!("admin:{PROJECT}");
    let out = Command::new("openstack")
        .args([
            "--os-auth-type",
            "admin_token",
            "--os-token",
            &token,
            "--os-endpoint",
            &endpoint,
        ])
        .args(args)
        .output()
        .map_err(|e| {
            format!("cannot run `openstack` (python-openstackclient; .ci/run installs it): {e}")
        })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("openstack {args:?} failed: {stderr}\n{}", server.log_text()).into());
    }
    assert!(
        !stderr.contains("Cannot determine endpoint"),
        "discovery failed: {stderr}"
    );
    Ok(serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null))
}

fn wait_status(
    server: &Server,
    kind: &[&str],
    id: &str,
    want: &str,
) -> Result<bool, Box<dyn std::error::Error>> {
    for _ in 0..200 {
        let mut args = kind.to_vec();
        args.push(id);
        if openstack(server, &args)?["status"] == want {
            return Ok(true);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(false)
}

#[test]
fn the_openstack_cli_manages_volumes_and_snapshots() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), None)?;
    let v = openstack(&server, &["volume", "create", "--size", "1", "osc-vol"])?;
    let id = v["id"].as_str().ok_or(format!("no id: {v}"))?.to_string();
    assert!(
        wait_status(&server, &["volume", "show"], &id, "available")?,
        "never available"
    );
    let list = openstack(&server, &["volume", "list"])?;
    assert!(
        list.as_array()
            .is_some_and(|l| l.iter().any(|x| x["ID"] == id.as_str())),
        "{list}"
    );
    let s = openstack(
        &server,
        &["volume", "snapshot", "create", "--volume", &id, "osc-snap"],
    )?;
    let sid = s["id"]
        .as_str()
        .ok_or(format!("no snapshot id: {s}"))?
        .to_string();
    assert!(
        wait_status(&server, &["volume", "snapshot", "show"], &sid, "available")?,
        "snapshot never available"
    );
    run(&server, &["volume", "set", "--name", "renamed", &id])?;
    assert_eq!(
        openstack(&server, &["volume", "show", &id])?["name"],
        "renamed"
    );
    run(&server, &["volume", "snapshot", "delete", &sid])?;
    Ok(())
}

/// Runs a Python client script from tests/clients against `server` as the admin of
/// [`PROJECT`] (the endpoint with the project, and the `admin_token` token).
fn client_script(server: &Server, script: &str) -> Result<String, Box<dyn std::error::Error>> {
    common_e2e::client_script(
        server,
        script,
        &[
            &format!("http://127.0.0.1:{}/v3/{PROJECT}", server.port),
            &format!("admin:{PROJECT}"),
        ],
    )
}

#[test]
fn openstacksdk_block_storage_proxy_works() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), None)?;
    let text = client_script(&server, "sdk_smoke.py")?;
    assert!(
        text.contains("snapshot") && text.contains("deleted"),
        "{text}"
    );
    Ok(())
}

/// openstacksdk's block_storage proxy over types, QoS, volumes and actions, snapshots,
/// attachments, quotas, limits, the catalogue, messages, transfers (the usage moves with
/// the volume), type encryption, group types and groups, and the absent backups.
#[test]
fn openstacksdk_covers_every_area() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), None)?;
    let text = client_script(&server, "sdk_areas.py")?;
    assert_areas(
        &text,
        &[
            "types",
            "qos",
            "volumes",
            "snapshots",
            "attachments",
            "quotas",
            "limits",
            "catalogue",
            "messages",
            "transfers",
            "encryption",
            "group types",
            "groups",
            "backups absent",
            "cleanup",
        ],
    );
    Ok(())
}

/// The `openstack` CLI over the same areas, at its default volume API version and at
/// 3.71 (see the script for what the CLI cannot do without Keystone and Nova).
#[test]
fn the_openstack_cli_covers_every_area() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::start(dir.path(), None)?;
    let text = client_script(&server, "osc_areas.py")?;
    assert_areas(
        &text,
        &[
            "types",
            "qos",
            "volumes",
            "snapshots",
            "catalogue",
            "transfers",
            "encryption",
            "backups absent",
            "cleanup",
            "messages",
            "attachments",
            "group types",
            "groups",
            "summary",
            "cleanup micro",
        ],
    );
    Ok(())
}

//! `os-hosts` (admin): the enabled services as hosts, and a storage host's volumes and
//! snapshots per project, as Cinder's `hosts` extension answers them. No client has a
//! command for it (cinderclient, openstacksdk and the `openstack` CLI go to Nova's
//! `os-hosts` or to `os-services`); Tempest's `hosts_client` does, and
//! `tempest_schemas_*.rs` checks these answers against its schemas.

mod common;

use std::time::Duration;

use actix_web::http::StatusCode;
use common::{ADMIN, ALICE, BOB, TestApp, TestResult, eventually, fake_node, json_req, req};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

/// `n1` in zone `nova` and `n2` in zone `az2`.
async fn two_nodes() -> Result<TestApp, Box<dyn std::error::Error>> {
    TestApp::with(|c| c.nodes = vec![fake_node("n1", "nova"), fake_node("n2", "az2")]).await
}

fn names(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["host_name"].as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

#[actix_web::test]
async fn hosts_are_admin_only() -> TestResult {
    let app = two_nodes().await?;
    for path in ["/v3/0a0a/os-hosts", "/v3/0a0a/os-hosts/n1@fake"] {
        let (s, v, _) = app.call(req("GET", path, ALICE)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {v}");
        assert_eq!(
            v["forbidden"]["message"],
            "Policy doesn't allow volume_extension:hosts to be performed."
        );
    }
    Ok(())
}

#[actix_web::test]
async fn the_host_list_is_the_enabled_services() -> TestResult {
    let app = two_nodes().await?;
    let (s, v, _) = app.call(req("GET", "/v3/0a0a/os-hosts", ADMIN)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let all = names(&v);
    assert!(
        all.contains(&"n1@fake".to_string()) && all.contains(&"n2@fake".to_string()),
        "{v}"
    );
    let n1 = v["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["host_name"] == "n1@fake")
        .ok_or("no n1")?;
    assert_eq!(n1["service"], "cinder-volume");
    assert_eq!(n1["zone"], "nova");
    assert_eq!(n1["service-status"], "available");
    assert_eq!(n1["service-state"], "enabled");
    assert!(n1["last-update"].is_string(), "{n1}");

    let (_, v, _) = app
        .call(req("GET", "/v3/0a0a/os-hosts?zone=az2", ADMIN))
        .await;
    assert_eq!(names(&v), ["n2@fake"]);

    // A disabled service is not a host any more (Cinder lists enabled ones only).
    let (s, v, _) = app
        .call(json_req(
            "PUT",
            "/v3/0a0a/os-services/disable",
            ADMIN,
            &json!({"host": "n2@fake", "binary": "cinder-volume"}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v, _) = app.call(req("GET", "/v3/0a0a/os-hosts", ADMIN)).await;
    assert!(!names(&v).contains(&"n2@fake".to_string()), "{v}");
    Ok(())
}

/// Waits until `path`'s `element` is `available`.
async fn available(app: &TestApp, token: &str, path: &str, element: &str) -> TestResult {
    eventually(WAIT, || async {
        let (_, v, _) = app.call(req("GET", path, token)).await;
        (v[element]["status"] == "available").then_some(())
    })
    .await
    .ok_or_else(|| format!("{path} never available").into())
}

/// Creates a `size` GiB volume in the token's project on zone `zone`'s node and waits
/// until it is available.
async fn volume(
    app: &TestApp,
    token: &str,
    size: u64,
    zone: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let project = token.rsplit(':').next().unwrap_or(token);
    let v = app
        .create_volume(
            token,
            &json!({"volume": {"size": size, "availability_zone": zone}}),
        )
        .await?;
    let id = v["id"].as_str().ok_or("no id")?.to_string();
    available(app, token, &format!("/v3/{project}/volumes/{id}"), "volume").await?;
    Ok(id)
}

/// [`volume`], then a snapshot of it, waited for too.
async fn volume_with_snapshot(
    app: &TestApp,
    token: &str,
    size: u64,
    zone: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let project = token.rsplit(':').next().unwrap_or(token);
    let id = volume(app, token, size, zone).await?;
    let (s, v, _) = app
        .call(json_req(
            "POST",
            &format!("/v3/{project}/snapshots"),
            token,
            &json!({"snapshot": {"volume_id": id}}),
        ))
        .await;
    if s != StatusCode::ACCEPTED {
        return Err(format!("snapshot create answered {s}: {v}").into());
    }
    let snap = v["snapshot"]["id"].as_str().ok_or("no snapshot id")?;
    available(
        app,
        token,
        &format!("/v3/{project}/snapshots/{snap}"),
        "snapshot",
    )
    .await?;
    Ok(id)
}

#[actix_web::test]
async fn a_host_shows_its_volumes_and_snapshots_per_project() -> TestResult {
    let app = two_nodes().await?;
    volume_with_snapshot(&app, ALICE, 2, "nova").await?;
    volume(&app, ALICE, 3, "nova").await?;
    volume_with_snapshot(&app, BOB, 5, "nova").await?;
    // On the other node: not counted on n1.
    volume_with_snapshot(&app, ALICE, 7, "az2").await?;

    let resource = |v: &Value, project: &str| -> Option<Value> {
        v["host"]
            .as_array()?
            .iter()
            .find(|r| r["resource"]["project"] == project)
            .map(|r| r["resource"].clone())
    };
    for asked in ["n1@fake", "n1"] {
        let (s, v, _) = app
            .call(req("GET", &format!("/v3/0a0a/os-hosts/{asked}"), ADMIN))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["host"][0]["resource"]["project"], "(total)", "{v}");
        assert_eq!(
            resource(&v, "(total)"),
            Some(
                json!({"host": asked, "project": "(total)", "volume_count": "3",
                        "total_volume_gb": "10", "snapshot_count": "2",
                        "total_snapshot_gb": "7"})
            )
        );
        assert_eq!(
            resource(&v, "0a0a"),
            Some(
                json!({"host": asked, "project": "0a0a", "volume_count": "2",
                        "total_volume_gb": "5", "snapshot_count": "1",
                        "total_snapshot_gb": "2"})
            )
        );
        assert_eq!(
            resource(&v, "0b0b"),
            Some(
                json!({"host": asked, "project": "0b0b", "volume_count": "1",
                        "total_volume_gb": "5", "snapshot_count": "1",
                        "total_snapshot_gb": "5"})
            )
        );
        assert_eq!(v["host"].as_array().map(Vec::len), Some(3), "{v}");
    }

    for missing in ["nowhere", "n1@other", "n"] {
        let (s, v, _) = app
            .call(req("GET", &format!("/v3/0a0a/os-hosts/{missing}"), ADMIN))
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{missing}: {v}");
        assert_eq!(
            v["itemNotFound"]["message"],
            format!("Service cinder-volume could not be found on host {missing}.")
        );
    }
    Ok(())
}

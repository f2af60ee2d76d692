//! Availability zones, services (enable/disable steering placement), pools and
//! capabilities through the HTTP layer (cinder-api.md §14–§16).

mod common;

use std::time::Duration;

use actix_web::http::StatusCode;
use common::{ADMIN, ALICE, BOB, TestApp, TestResult, at, eventually, fake_node, json_req, req};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Two fake nodes: `n1` in `nova`, `n2` (capability `tier=gold`) in `az2`.
async fn two_zones() -> BoxResult<TestApp> {
    let mut app = TestApp::with(|c| {
        let mut n2 = fake_node("n2", "az2");
        n2.capabilities.insert("tier".into(), json!("gold"));
        c.nodes = vec![fake_node("n1", "nova"), n2];
    })
    .await?;
    app.raise_max_version();
    Ok(app)
}

async fn service_action(app: &TestApp, action: &str, body: Value) -> (StatusCode, Value) {
    let (s, v, _) = app
        .call(json_req(
            "PUT",
            &format!("/v3/0a0a/os-services/{action}"),
            ADMIN,
            &body,
        ))
        .await;
    (s, v)
}

/// Creates a volume in `zone` and returns the host it landed on.
async fn placed_in(app: &TestApp, zone: &str) -> BoxResult<Value> {
    let (s, v, _) = app
        .call(json_req(
            "POST",
            "/v3/0a0a/volumes",
            ADMIN,
            &json!({"volume": {"size": 1, "availability_zone": zone}}),
        ))
        .await;
    if s != StatusCode::ACCEPTED {
        return Err(format!("create answered {s}: {v}").into());
    }
    let id = v["volume"]["id"].as_str().ok_or("no id")?.to_string();
    eventually(WAIT, || async {
        let (_, v, _) = app
            .call(req("GET", &format!("/v3/0a0a/volumes/{id}"), ADMIN))
            .await;
        let st = v["volume"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (st == "available" || st == "error")
            .then(|| json!({"status": st, "host": v["volume"]["os-vol-host-attr:host"]}))
    })
    .await
    .ok_or_else(|| "volume never settled".into())
}

#[actix_web::test]
async fn zones_come_from_the_nodes() -> TestResult {
    let app = two_zones().await?;
    let (s, v, _) = app
        .call(req("GET", "/v3/0a0a/os-availability-zone", ALICE))
        .await;
    assert_eq!(s, StatusCode::OK, "open to every user");
    assert_eq!(
        v,
        json!({"availabilityZoneInfo": [
            {"zoneName": "az2", "zoneState": {"available": true}},
            {"zoneName": "nova", "zoneState": {"available": true}},
        ]})
    );
    let (s, _) = service_action(
        &app,
        "disable",
        json!({"host": "n2@fake", "binary": "cinder-volume"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v, _) = app
        .call(req("GET", "/v3/os-availability-zone", ALICE))
        .await;
    assert_eq!(
        v["availabilityZoneInfo"][0]["zoneState"]["available"],
        false
    );
    assert_eq!(v["availabilityZoneInfo"][1]["zoneState"]["available"], true);
    Ok(())
}

#[actix_web::test]
async fn services_are_listed_for_admins() -> TestResult {
    let app = two_zones().await?;
    let (s, v, _) = app.call(req("GET", "/v3/0a0a/os-services", ALICE)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        v["forbidden"]["message"],
        "Policy doesn't allow volume_extension:services:index to be performed."
    );
    let (s, v, _) = app.call(req("GET", "/v3/0a0a/os-services", ADMIN)).await;
    assert_eq!(s, StatusCode::OK);
    let list = v["services"].as_array().ok_or("no list")?;
    assert_eq!(list.len(), 3, "{v}");
    let sched = list
        .iter()
        .find(|s| s["binary"] == "cinder-scheduler")
        .ok_or("no scheduler row")?;
    assert_eq!(sched["state"], "up");
    assert_eq!(sched["zone"], "nova");
    assert!(sched.get("frozen").is_none(), "volume-only fields");
    let n1 = list
        .iter()
        .find(|s| s["host"] == "n1@fake")
        .ok_or("no n1 row")?;
    for (k, want) in [
        ("binary", json!("cinder-volume")),
        ("zone", json!("nova")),
        ("status", json!("enabled")),
        ("state", json!("up")),
        ("disabled_reason", Value::Null),
        ("frozen", json!(false)),
        ("active_backend_id", Value::Null),
    ] {
        assert_eq!(n1[k], want, "{k}");
    }
    assert!(n1["updated_at"].is_string());
    assert!(n1.get("cluster").is_none() && n1.get("backend_state").is_none());

    let (_, v, _) = app
        .call(at(
            49,
            req("GET", "/v3/os-services?binary=cinder-volume", ADMIN),
        ))
        .await;
    let list = v["services"].as_array().ok_or("no list")?;
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["cluster"], Value::Null, "3.7 adds cluster");
    assert_eq!(list[0]["backend_state"], "up", "3.49 adds backend_state");
    let (_, v, _) = app.call(req("GET", "/v3/os-services?host=n2", ADMIN)).await;
    assert_eq!(v["services"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["services"][0]["host"], "n2@fake");
    Ok(())
}

#[actix_web::test]
async fn disabled_nodes_get_no_new_volumes() -> TestResult {
    let app = two_zones().await?;
    let (s, v) = service_action(
        &app,
        "disable",
        json!({"host": "n1@fake", "binary": "cinder-volume"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!({"host": "n1@fake", "service": "", "binary": "cinder-volume",
               "status": "disabled", "disabled": true})
    );
    let placed = placed_in(&app, "nova").await?;
    assert_eq!(
        placed["status"], "error",
        "n1 is the only node in nova: {placed}"
    );
    let placed = placed_in(&app, "az2").await?;
    assert_eq!(placed["host"], "n2@fake#fake");

    let (s, v) = service_action(
        &app,
        "disable-log-reason",
        json!({"host": "n1@fake", "service": "cinder-volume", "disabled_reason": "disk swap"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!({"host": "n1@fake", "service": "cinder-volume", "binary": "cinder-volume",
               "status": "disabled", "disabled": true, "disabled_reason": "disk swap"})
    );
    let (_, v, _) = app
        .call(req("GET", "/v3/os-services?host=n1@fake", ADMIN))
        .await;
    assert_eq!(v["services"][0]["status"], "disabled");
    assert_eq!(v["services"][0]["disabled_reason"], "disk swap");

    let (s, v) = service_action(
        &app,
        "enable",
        json!({"host": "n1@fake", "binary": "cinder-volume"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "enabled");
    assert_eq!(v["disabled"], false);
    let (_, v, _) = app
        .call(req("GET", "/v3/os-services?host=n1@fake", ADMIN))
        .await;
    assert_eq!(
        v["services"][0]["disabled_reason"],
        Value::Null,
        "enable clears it"
    );
    let placed = placed_in(&app, "nova").await?;
    assert_eq!(placed["host"], "n1@fake#fake");

    for (action, body, code) in [
        (
            "disable",
            json!({"host": "n9@fake", "binary": "cinder-volume"}),
            StatusCode::NOT_FOUND,
        ),
        (
            "disable",
            json!({"binary": "cinder-volume"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "disable",
            json!({"host": "n1@fake"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "disable-log-reason",
            json!({"host": "n1@fake", "binary": "cinder-volume", "disabled_reason": " "}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "freeze",
            json!({"host": "n1@fake"}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (s, v) = service_action(&app, action, body.clone()).await;
        assert_eq!(s, code, "{action} {body}: {v}");
    }
    let (s, v) = service_action(
        &app,
        "disable",
        json!({"host": "n9@fake", "binary": "cinder-volume"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        v["itemNotFound"]["message"],
        "Could not find binary cinder-volume on host n9@fake."
    );
    let (s, _, _) = app
        .call(json_req(
            "PUT",
            "/v3/0a0a/os-services/disable",
            ALICE,
            &json!({"host": "n1@fake", "binary": "cinder-volume"}),
        ))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    Ok(())
}

#[actix_web::test]
async fn a_disabled_node_stays_disabled_after_a_restart() -> TestResult {
    let app = two_zones().await?;
    let (s, _) = service_action(
        &app,
        "disable",
        json!({"host": "n1@fake", "binary": "cinder-volume"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let app = app.restart().await?;
    let placed = placed_in(&app, "nova").await?;
    assert_eq!(
        placed["status"], "error",
        "the flag was loaded at start: {placed}"
    );
    let (_, v, _) = app.call(req("GET", "/v3/os-services?host=n1", ADMIN)).await;
    assert_eq!(v["services"][0]["status"], "disabled");
    Ok(())
}

#[actix_web::test]
async fn pools_are_listed_with_capabilities_and_filters() -> TestResult {
    let app = two_zones().await?;
    let (s, _, _) = app
        .call(req("GET", "/v3/0a0a/scheduler-stats/get_pools", ALICE))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v, _) = app
        .call(req("GET", "/v3/0a0a/scheduler-stats/get_pools", ADMIN))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!({"pools": [{"name": "n1@fake#fake"}, {"name": "n2@fake#fake"}]})
    );
    let (_, v, _) = app
        .call(req(
            "GET",
            "/v3/scheduler-stats/get_pools?detail=true",
            ADMIN,
        ))
        .await;
    let caps = &v["pools"][1]["capabilities"];
    assert_eq!(caps["tier"], "gold", "driver capabilities are flattened in");
    assert_eq!(caps["volume_backend_name"], "fake");
    assert_eq!(caps["pool_name"], "fake");
    assert!(caps["total_capacity_gb"].is_number());
    assert!(caps["free_capacity_gb"].is_number());
    assert_eq!(caps["allocated_capacity_gb"], 0.0);
    assert_eq!(caps["thin_provisioning_support"], true);
    for k in [
        "vendor_name",
        "driver_version",
        "storage_protocol",
        "timestamp",
    ] {
        assert!(caps[k].is_string(), "{k}: {caps}");
    }

    let names = |v: &Value| -> Vec<String> {
        v["pools"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (_, v, _) = app
        .call(req("GET", "/v3/scheduler-stats/get_pools?tier=gold", ADMIN))
        .await;
    assert_eq!(names(&v).len(), 2, "filters are ignored before 3.28");
    let (_, v, _) = app
        .call(at(
            28,
            req("GET", "/v3/scheduler-stats/get_pools?tier=gold", ADMIN),
        ))
        .await;
    assert_eq!(names(&v), ["n2@fake#fake"]);
    let (_, v, _) = app
        .call(at(
            28,
            req(
                "GET",
                "/v3/scheduler-stats/get_pools?name=n1@fake%23fake",
                ADMIN,
            ),
        ))
        .await;
    assert_eq!(names(&v), ["n1@fake#fake"]);
    let (_, v, _) = app
        .call(at(
            28,
            req(
                "GET",
                "/v3/scheduler-stats/get_pools?thin_provisioning_support=true",
                ADMIN,
            ),
        ))
        .await;
    assert_eq!(names(&v).len(), 2, "booleans compare by meaning");

    let (s, _, _) = app
        .call(json_req(
            "POST",
            "/v3/types",
            ADMIN,
            &json!({"volume_type": {"name": "gold", "extra_specs": {"capabilities:tier": "gold"}}}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v, _) = app
        .call(at(
            34,
            req(
                "GET",
                "/v3/scheduler-stats/get_pools?volume_type=gold",
                ADMIN,
            ),
        ))
        .await;
    assert_eq!(names(&v).len(), 2, "volume_type needs 3.35");
    let (_, v, _) = app
        .call(at(
            35,
            req(
                "GET",
                "/v3/scheduler-stats/get_pools?volume_type=gold",
                ADMIN,
            ),
        ))
        .await;
    assert_eq!(names(&v), ["n2@fake#fake"]);
    let (s, _, _) = app
        .call(at(
            35,
            req(
                "GET",
                "/v3/scheduler-stats/get_pools?volume_type=nope",
                ADMIN,
            ),
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, _) = service_action(
        &app,
        "disable",
        json!({"host": "n2@fake", "binary": "cinder-volume"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v, _) = app
        .call(req("GET", "/v3/scheduler-stats/get_pools", ADMIN))
        .await;
    assert_eq!(
        names(&v),
        ["n1@fake#fake"],
        "disabled nodes' pools are left out"
    );
    Ok(())
}

#[actix_web::test]
async fn capabilities_describe_a_backend() -> TestResult {
    let app = two_zones().await?;
    let (s, v, _) = app
        .call(req("GET", "/v3/0a0a/capabilities/n2@fake", ADMIN))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["namespace"], "OS::Storage::Capabilities::n2@fake");
    assert_eq!(v["volume_backend_name"], "fake");
    assert_eq!(v["pool_name"], "fake");
    assert_eq!(v["replication_targets"], json!([]));
    for k in [
        "thin_provisioning",
        "compression",
        "qos",
        "replication_enabled",
        "tier",
    ] {
        assert!(v["properties"][k]["type"].is_string(), "{k}: {v}");
    }
    assert_eq!(v["properties"]["thin_provisioning"]["type"], "boolean");
    let (s, v, _) = app
        .call(req("GET", "/v3/0a0a/capabilities/n9@fake", ADMIN))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["itemNotFound"]["message"], "Can't find service: n9@fake");
    let (s, _, _) = app
        .call(req("GET", "/v3/0a0a/capabilities/n2@fake", ALICE))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    Ok(())
}

/// Creates a volume no node can take and waits for its user message.
async fn failed_volume(app: &TestApp, token: &str) -> BoxResult<String> {
    let project = token.split(':').nth(1).unwrap_or("");
    // A type no node satisfies (a second create of it is a harmless 409).
    app.call(json_req(
        "POST",
        "/v3/types",
        ADMIN,
        &json!({"volume_type": {"name": "nowhere", "extra_specs": {"capabilities:tier": "none"}}}),
    ))
    .await;
    let (s, v, _) = app
        .call(json_req(
            "POST",
            &format!("/v3/{project}/volumes"),
            token,
            &json!({"volume": {"size": 1, "volume_type": "nowhere"}}),
        ))
        .await;
    if s != StatusCode::ACCEPTED {
        return Err(format!("create answered {s}: {v}").into());
    }
    let id = v["volume"]["id"].as_str().ok_or("no id")?.to_string();
    eventually(WAIT, || async {
        let (_, v, _) = app
            .call(at(3, req("GET", &format!("/v3/{project}/messages"), token)))
            .await;
        v["messages"]
            .as_array()
            .is_some_and(|a| a.iter().any(|m| m["resource_uuid"] == id.as_str()))
            .then_some(())
    })
    .await
    .ok_or("no message was written")?;
    Ok(id)
}

#[actix_web::test]
async fn user_messages_need_33_and_stay_in_their_project() -> TestResult {
    let mut app = TestApp::new().await?;
    let (s, v, _) = app.call(req("GET", "/v3/0a0a/messages", ALICE)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "below 3.3 there are no messages");
    assert_eq!(
        v["itemNotFound"]["message"],
        "The resource could not be found."
    );
    app.raise_max_version();
    let vol = failed_volume(&app, ALICE).await?;
    let (s, v, _) = app
        .call(at(3, req("GET", "/v3/0a0a/messages", ALICE)))
        .await;
    assert_eq!(s, StatusCode::OK);
    let m = &v["messages"][0];
    assert_eq!(m["event_id"], "VOLUME_VOLUME_001_003");
    assert_eq!(
        m["user_message"],
        "schedule allocate volume:Could not find any available weighted backend."
    );
    assert_eq!(m["message_level"], "ERROR");
    assert_eq!(m["resource_type"], "VOLUME");
    assert_eq!(m["resource_uuid"], vol.as_str());
    for k in ["created_at", "guaranteed_until", "request_id"] {
        assert!(m[k].is_string(), "{k}");
    }
    let id = m["id"].as_str().ok_or("no id")?.to_string();
    assert!(
        m["links"][0]["href"]
            .as_str()
            .is_some_and(|h| h.ends_with(&format!("/v3/0a0a/messages/{id}")))
    );
    let (s, v, _) = app
        .call(at(3, req("GET", &format!("/v3/0a0a/messages/{id}"), ALICE)))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["message"]["id"], id.as_str());

    let (_, v, _) = app.call(at(3, req("GET", "/v3/0b0b/messages", BOB))).await;
    assert_eq!(
        v["messages"],
        json!([]),
        "members see their own project's only"
    );
    let (s, _, _) = app
        .call(at(3, req("GET", &format!("/v3/0b0b/messages/{id}"), BOB)))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = app
        .call(at(
            3,
            req("DELETE", &format!("/v3/0b0b/messages/{id}"), BOB),
        ))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, v, _) = app.call(at(3, req("GET", "/v3/messages", ADMIN))).await;
    assert_eq!(
        v["messages"].as_array().map(Vec::len),
        Some(1),
        "admins see all"
    );

    let (_, v, _) = app
        .call(at(
            3,
            req(
                "GET",
                &format!("/v3/0a0a/messages?resource_uuid={vol}&event_id=VOLUME_VOLUME_001_003"),
                ALICE,
            ),
        ))
        .await;
    assert_eq!(v["messages"].as_array().map(Vec::len), Some(1));
    let (_, v, _) = app
        .call(at(
            3,
            req("GET", "/v3/0a0a/messages?message_level=INFO", ALICE),
        ))
        .await;
    assert_eq!(v["messages"], json!([]));
    let (s, _, _) = app
        .call(at(31, req("GET", "/v3/0a0a/messages?colour=red", ALICE)))
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "3.31: unknown filters are refused"
    );

    let (s, v, _) = app
        .call(at(
            3,
            req("DELETE", &format!("/v3/0a0a/messages/{id}"), ALICE),
        ))
        .await;
    assert_eq!((s, v), (StatusCode::NO_CONTENT, Value::Null));
    let (s, v, _) = app
        .call(at(3, req("GET", &format!("/v3/0a0a/messages/{id}"), ALICE)))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        v["itemNotFound"]["message"],
        format!("Message {id} could not be found.")
    );
    Ok(())
}

#[actix_web::test]
async fn message_lists_page_from_35() -> TestResult {
    let mut app = TestApp::new().await?;
    app.raise_max_version();
    failed_volume(&app, ALICE).await?;
    failed_volume(&app, ALICE).await?;
    let (_, v, _) = app
        .call(at(3, req("GET", "/v3/0a0a/messages?limit=1", ALICE)))
        .await;
    assert_eq!(
        v["messages"].as_array().map(Vec::len),
        Some(2),
        "3.3 ignores limit"
    );
    assert!(v.get("messages_links").is_none());
    let (_, v, _) = app
        .call(at(5, req("GET", "/v3/0a0a/messages?limit=1", ALICE)))
        .await;
    assert_eq!(v["messages"].as_array().map(Vec::len), Some(1));
    let next = v["messages_links"][0]["href"]
        .as_str()
        .ok_or("a full page has a next link")?;
    let path = next
        .split_once("/v3/")
        .map(|(_, p)| format!("/v3/{p}"))
        .ok_or("href")?;
    let first = v["messages"][0]["id"].clone();
    let (_, v, _) = app.call(at(5, req("GET", &path, ALICE))).await;
    assert_eq!(v["messages"].as_array().map(Vec::len), Some(1));
    assert_ne!(v["messages"][0]["id"], first);
    let (s, _, _) = app
        .call(at(5, req("GET", "/v3/0a0a/messages?sort=color", ALICE)))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    Ok(())
}

#[actix_web::test]
async fn extensions_and_resource_filters() -> TestResult {
    let mut app = TestApp::new().await?;
    let (s, v, _) = app.call(req("GET", "/v3/0a0a/extensions", ALICE)).await;
    assert_eq!(s, StatusCode::OK);
    let aliases: Vec<&str> = v["extensions"]
        .as_array()
        .ok_or("no list")?
        .iter()
        .filter_map(|e| e["alias"].as_str())
        .collect();
    for a in [
        "os-availability-zone",
        "os-quota-sets",
        "os-services",
        "scheduler-stats",
        "capabilities",
        "qos-specs",
        "os-volume-type-access",
    ] {
        assert!(aliases.contains(&a), "{a}");
    }
    assert_eq!(v["extensions"][0]["links"], json!([]));
    let (s, _, _) = app.call(req("GET", "/v3/resource_filters", ALICE)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "resource_filters needs 3.33");
    app.raise_max_version();
    let (s, v, _) = app
        .call(at(33, req("GET", "/v3/0a0a/resource_filters", ALICE)))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["resource_filters"].as_array().map(Vec::len), Some(6));
    let (_, v, _) = app
        .call(at(
            33,
            req("GET", "/v3/resource_filters?resource=message", ALICE),
        ))
        .await;
    assert_eq!(
        v,
        json!({"resource_filters": [{"resource": "message", "filters":
            ["resource_uuid", "resource_type", "event_id", "request_id", "message_level"]}]})
    );
    Ok(())
}

//! The policy table: every route the router mounts, called by a member of the owning
//! project (A), a member of another project (B) and an admin (of a third project), with
//! the outcome each must get. Resources are made by A's member (types and QoS specs by
//! the admin). B gets 404 on A's resources, never 403, and exactly what it gets for an id
//! that does not exist, so ids do not leak; admin-only calls give 403 to both members
//! (cinder-api.md §3.3). A route without a row fails the test.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use clinker::drivers::fake::FakeVerb;
use clinker::http::{MOUNTS, Route};
use common::{TestApp, TestResult, at, eventually, json_req, req};
use serde_json::{Value, json};

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Member of project A, the owner of the resources.
const A: &str = "alice:0a0a";
const A_PROJECT: &str = "0a0a";
/// A project whose default type the fixture sets (not A's: A's volumes keep the
/// default type).
const DEFAULTED: &str = "0d0d";
/// Member of project B.
const B: &str = "bob:0b0b";
/// An admin of a third project.
const ADMIN: &str = "admin:0c0c";
/// Every call is made at this microversion, so that gated routes are reachable.
const MINOR: u16 = 70;
const WAIT: Duration = Duration::from_secs(10);

/// What a caller must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Any 2xx or 3xx.
    Ok,
    /// 403 `forbidden`: an admin-only call.
    Forbidden,
    /// 404 `itemNotFound`: another project's resource.
    NotFound,
}

use Want::{Forbidden as Deny, NotFound as Hidden, Ok as Allow};

/// The resources the calls name.
#[derive(Debug, Clone)]
struct Fx {
    /// A's volume with metadata `k1` and a snapshot.
    volume: String,
    /// A's volume with nothing depending on it.
    plain: String,
    /// A's snapshot of `volume`, with metadata `k1`.
    snapshot: String,
    /// A's attachment of `attached`.
    attachment: String,
    /// A private type A has access to, with extra spec `multiattach`.
    type_id: String,
    /// QoS specs.
    qos: String,
    /// A user message for project A.
    message: String,
}

/// One row: a route (method and path as in the router's table, mounted at `mount`), a
/// label for variants of one route, the body, and what A, B and the admin get.
struct Row {
    mount: &'static str,
    method: &'static str,
    path: &'static str,
    label: &'static str,
    body: fn(&Fx) -> Option<Value>,
    a: Want,
    b: Want,
    admin: Want,
}

fn none(_: &Fx) -> Option<Value> {
    None
}

const fn row(method: &'static str, path: &'static str, a: Want, b: Want, admin: Want) -> Row {
    Row {
        mount: "/v3",
        method,
        path,
        label: "",
        body: none,
        a,
        b,
        admin,
    }
}

const fn with(
    method: &'static str,
    path: &'static str,
    label: &'static str,
    body: fn(&Fx) -> Option<Value>,
    wants: (Want, Want, Want),
) -> Row {
    Row {
        mount: "/v3",
        method,
        path,
        label,
        body,
        a: wants.0,
        b: wants.1,
        admin: wants.2,
    }
}

const fn top(mount: &'static str, path: &'static str) -> Row {
    Row {
        mount,
        ..row("get", path, Allow, Allow, Allow)
    }
}

/// Owned by A: A and the admin may, B gets 404.
const OWNED: (Want, Want, Want) = (Allow, Hidden, Allow);
/// Admin only.
const ADMIN_ONLY: (Want, Want, Want) = (Deny, Deny, Allow);
/// Admin only, on one of A's resources: B does not learn that it exists.
const ADMIN_ON_OWNED: (Want, Want, Want) = (Deny, Hidden, Allow);
/// Everyone.
const ANYONE: (Want, Want, Want) = (Allow, Allow, Allow);

fn table() -> Vec<Row> {
    let meta = |_: &Fx| Some(json!({"metadata": {"k2": "v2"}}));
    let meta_key = |_: &Fx| Some(json!({"meta": {"k1": "v9"}}));
    vec![
        top("", "/"),
        // Metrics are not enabled in a test app: the same 404 for everyone, no policy.
        Row {
            mount: "",
            ..row("get", "/metrics", Hidden, Hidden, Hidden)
        },
        top("", "/v3"),
        top("/v3", "/"),
        top("/v3", "/{project_id:[0-9a-f\\-]+}"),
        // Volumes.
        with(
            "post",
            "/volumes",
            "",
            |_| Some(json!({"volume": {"size": 1}})),
            ANYONE,
        ),
        row("get", "/volumes", Allow, Allow, Allow),
        row("get", "/volumes/detail", Allow, Allow, Allow),
        row("get", "/volumes/summary", Allow, Allow, Allow),
        row("get", "/volumes/{volume_id}", Allow, Hidden, Allow),
        with(
            "put",
            "/volumes/{volume_id}",
            "",
            |_| Some(json!({"volume": {"name": "n"}})),
            OWNED,
        ),
        row("delete", "/volumes/{plain}", Allow, Hidden, Allow),
        row("get", "/volumes/{volume_id}/metadata", Allow, Hidden, Allow),
        with("post", "/volumes/{volume_id}/metadata", "", meta, OWNED),
        with("put", "/volumes/{volume_id}/metadata", "", meta, OWNED),
        row(
            "get",
            "/volumes/{volume_id}/metadata/{key}",
            Allow,
            Hidden,
            Allow,
        ),
        with(
            "put",
            "/volumes/{volume_id}/metadata/{key}",
            "",
            meta_key,
            OWNED,
        ),
        row(
            "delete",
            "/volumes/{volume_id}/metadata/{key}",
            Allow,
            Hidden,
            Allow,
        ),
        with(
            "post",
            "/volumes/{plain}/action",
            "os-extend",
            |_| Some(json!({"os-extend": {"new_size": 2}})),
            OWNED,
        ),
        with(
            "post",
            "/volumes/{plain}/action",
            "os-set_bootable",
            |_| Some(json!({"os-set_bootable": {"bootable": true}})),
            OWNED,
        ),
        with(
            "post",
            "/volumes/{plain}/action",
            "os-reset_status",
            |_| Some(json!({"os-reset_status": {"status": "error"}})),
            ADMIN_ON_OWNED,
        ),
        with(
            "post",
            "/volumes/{plain}/action",
            "os-force_delete",
            |_| Some(json!({"os-force_delete": {}})),
            ADMIN_ON_OWNED,
        ),
        // Snapshots.
        with(
            "post",
            "/snapshots",
            "",
            |f| Some(json!({"snapshot": {"volume_id": f.plain}})),
            OWNED,
        ),
        row("get", "/snapshots", Allow, Allow, Allow),
        row("get", "/snapshots/detail", Allow, Allow, Allow),
        row("get", "/snapshots/{snapshot_id}", Allow, Hidden, Allow),
        with(
            "put",
            "/snapshots/{snapshot_id}",
            "",
            |_| Some(json!({"snapshot": {"name": "s"}})),
            OWNED,
        ),
        row("delete", "/snapshots/{snapshot_id}", Allow, Hidden, Allow),
        with(
            "post",
            "/snapshots/{snapshot_id}/action",
            "os-reset_status",
            |_| Some(json!({"os-reset_status": {"status": "error"}})),
            ADMIN_ON_OWNED,
        ),
        with(
            "post",
            "/snapshots/{snapshot_id}/action",
            "os-force_delete",
            |_| Some(json!({"os-force_delete": {}})),
            ADMIN_ON_OWNED,
        ),
        row(
            "get",
            "/snapshots/{snapshot_id}/metadata",
            Allow,
            Hidden,
            Allow,
        ),
        with("post", "/snapshots/{snapshot_id}/metadata", "", meta, OWNED),
        with("put", "/snapshots/{snapshot_id}/metadata", "", meta, OWNED),
        row(
            "get",
            "/snapshots/{snapshot_id}/metadata/{key}",
            Allow,
            Hidden,
            Allow,
        ),
        with(
            "put",
            "/snapshots/{snapshot_id}/metadata/{key}",
            "",
            meta_key,
            OWNED,
        ),
        row(
            "delete",
            "/snapshots/{snapshot_id}/metadata/{key}",
            Allow,
            Hidden,
            Allow,
        ),
        // Attachments.
        with(
            "post",
            "/attachments",
            "",
            |f| {
                Some(
                    json!({"attachment": {"volume_uuid": f.plain, "instance_uuid": "7a3c1a52-7f36-4e8e-b7a4-4bd3ad1c2f33"}}),
                )
            },
            OWNED,
        ),
        row("get", "/attachments", Allow, Allow, Allow),
        row("get", "/attachments/detail", Allow, Allow, Allow),
        row("get", "/attachments/{attachment_id}", Allow, Hidden, Allow),
        with(
            "put",
            "/attachments/{attachment_id}",
            "",
            |_| {
                Some(
                    json!({"attachment": {"connector": {"initiator": "iqn.2004-10.com.example:h1", "host": "h1"}}}),
                )
            },
            OWNED,
        ),
        row(
            "delete",
            "/attachments/{attachment_id}",
            Allow,
            Hidden,
            Allow,
        ),
        with(
            "post",
            "/attachments/{attachment_id}/action",
            "os-complete",
            |_| Some(json!({"os-complete": null})),
            OWNED,
        ),
        // Types: the private type is A's through its access list.
        row("get", "/types", Allow, Allow, Allow),
        with(
            "post",
            "/types",
            "",
            |_| Some(json!({"volume_type": {"name": "created-by-policy"}})),
            ADMIN_ONLY,
        ),
        row("get", "/types/default", Allow, Allow, Allow),
        row("get", "/types/{type_id}", Allow, Hidden, Allow),
        with(
            "put",
            "/types/{type_id}",
            "",
            |_| Some(json!({"volume_type": {"description": "d"}})),
            ADMIN_ONLY,
        ),
        row("delete", "/types/{type_id}", Deny, Deny, Allow),
        row("get", "/types/{type_id}/extra_specs", Allow, Hidden, Allow),
        with(
            "post",
            "/types/{type_id}/extra_specs",
            "",
            |_| Some(json!({"extra_specs": {"k": "v"}})),
            ADMIN_ONLY,
        ),
        row(
            "get",
            "/types/{type_id}/extra_specs/{key}",
            Allow,
            Hidden,
            Allow,
        ),
        with(
            "put",
            "/types/{type_id}/extra_specs/{key}",
            "",
            |_| Some(json!({"multiattach": "<is> False"})),
            ADMIN_ONLY,
        ),
        row(
            "delete",
            "/types/{type_id}/extra_specs/{key}",
            Deny,
            Deny,
            Allow,
        ),
        row(
            "get",
            "/types/{type_id}/os-volume-type-access",
            Deny,
            Deny,
            Allow,
        ),
        with(
            "post",
            "/types/{type_id}/action",
            "addProjectAccess",
            |_| Some(json!({"addProjectAccess": {"project": "0d0d"}})),
            ADMIN_ONLY,
        ),
        row("get", "/default-types", Deny, Deny, Allow),
        row("get", "/default-types/{target_project}", Deny, Deny, Allow),
        with(
            "put",
            "/default-types/{target_project}",
            "",
            // A public type: the private one is not the target project's to be given
            // as its default (tests/http_types.rs covers that refusal).
            |_| Some(json!({"default_type": {"volume_type": "__DEFAULT__"}})),
            ADMIN_ONLY,
        ),
        row(
            "delete",
            "/default-types/{target_project}",
            Deny,
            Deny,
            Allow,
        ),
        // Quotas: members read only their own project's.
        row("get", "/os-quota-sets/{target_project}", Allow, Deny, Allow),
        with(
            "put",
            "/os-quota-sets/{target_project}",
            "",
            |_| Some(json!({"quota_set": {"volumes": 100_000}})),
            ADMIN_ONLY,
        ),
        row(
            "delete",
            "/os-quota-sets/{target_project}",
            Deny,
            Deny,
            Allow,
        ),
        row(
            "get",
            "/os-quota-sets/{target_project}/defaults",
            Allow,
            Deny,
            Allow,
        ),
        row("get", "/os-quota-class-sets/{class}", Deny, Deny, Allow),
        with(
            "put",
            "/os-quota-class-sets/{class}",
            "",
            |_| Some(json!({"quota_class_set": {"volumes": 100_000}})),
            ADMIN_ONLY,
        ),
        row("get", "/limits", Allow, Allow, Allow),
        // Catalogue.
        row("get", "/os-availability-zone", Allow, Allow, Allow),
        row("get", "/os-services", Deny, Deny, Allow),
        with(
            "put",
            "/os-services/{action}",
            "enable",
            |_| Some(json!({"host": "n1@fake", "binary": "cinder-volume"})),
            ADMIN_ONLY,
        ),
        row("get", "/scheduler-stats/get_pools", Deny, Deny, Allow),
        row("get", "/capabilities/{host}", Deny, Deny, Allow),
        row("get", "/os-hosts", Deny, Deny, Allow),
        row("get", "/os-hosts/{host_name}", Deny, Deny, Allow),
        row("get", "/messages", Allow, Allow, Allow),
        row("get", "/messages/{message_id}", Allow, Hidden, Allow),
        row("delete", "/messages/{message_id}", Allow, Hidden, Allow),
        row("get", "/extensions", Allow, Allow, Allow),
        row("get", "/resource_filters", Allow, Allow, Allow),
        // QoS specs: admin only.
        row("get", "/qos-specs", Deny, Deny, Allow),
        with(
            "post",
            "/qos-specs",
            "",
            |_| Some(json!({"qos_specs": {"name": "created-by-policy", "consumer": "back-end"}})),
            ADMIN_ONLY,
        ),
        row("get", "/qos-specs/{qos_id}", Deny, Deny, Allow),
        with(
            "put",
            "/qos-specs/{qos_id}",
            "",
            |_| Some(json!({"qos_specs": {"total_iops_sec": "500"}})),
            ADMIN_ONLY,
        ),
        row("delete", "/qos-specs/{qos_id}", Deny, Deny, Allow),
        with(
            "put",
            "/qos-specs/{qos_id}/delete_keys",
            "",
            |_| Some(json!({"keys": ["read_iops_sec"]})),
            ADMIN_ONLY,
        ),
        row("get", "/qos-specs/{qos_id}/associations", Deny, Deny, Allow),
        row(
            "get",
            "/qos-specs/{qos_id}/associate?vol_type_id={type_id}",
            Deny,
            Deny,
            Allow,
        ),
        row(
            "get",
            "/qos-specs/{qos_id}/disassociate?vol_type_id={type_id}",
            Deny,
            Deny,
            Allow,
        ),
        row(
            "get",
            "/qos-specs/{qos_id}/disassociate_all",
            Deny,
            Deny,
            Allow,
        ),
        // Clinker's own.
        Row {
            mount: "/clinker/v1",
            ..row("get", "/volumes/{volume_id}/timeline", Allow, Hidden, Allow)
        },
        top("/clinker/v1", "/openapi.json"),
    ]
}

/// The route a row stands for: its path up to the query, with the fixture placeholders
/// (`{plain}`) named as the router names them.
fn route_of(r: &Row) -> (&'static str, String, String) {
    let path = r.path.split('?').next().unwrap_or(r.path);
    (
        r.mount,
        r.method.to_string(),
        path.replace("{plain}", "{volume_id}"),
    )
}

/// The URI a row calls: placeholders replaced by the fixture's ids (or `missing` in
/// place of each resource id, for the not-found comparison).
fn uri(r: &Row, f: &Fx, missing: Option<&str>) -> String {
    let id = |real: &str| missing.map_or_else(|| real.to_string(), str::to_string);
    let key = if r.path.starts_with("/types") {
        "multiattach"
    } else {
        "k1"
    };
    let path = r
        .path
        .replace("{project_id:[0-9a-f\\-]+}", A_PROJECT)
        .replace("{volume_id}", &id(&f.volume))
        .replace("{plain}", &id(&f.plain))
        .replace("{snapshot_id}", &id(&f.snapshot))
        .replace("{attachment_id}", &id(&f.attachment))
        .replace("{type_id}", &id(&f.type_id))
        .replace("{qos_id}", &id(&f.qos))
        .replace("{message_id}", &id(&f.message))
        .replace("{key}", key)
        .replace(
            "{target_project}",
            if r.path.starts_with("/default-types") {
                DEFAULTED
            } else {
                A_PROJECT
            },
        )
        .replace("{class}", "default")
        .replace("{action}", "enable")
        .replace("{host}", "n1@fake")
        .replace("{host_name}", "n1@fake");
    format!("{}{path}", r.mount)
}

async fn call(
    app: &TestApp,
    r: &Row,
    f: &Fx,
    token: &str,
    missing: Option<&str>,
) -> (StatusCode, Value) {
    let u = uri(r, f, missing);
    let request = match (r.body)(f) {
        Some(body) => json_req(&r.method.to_uppercase(), &u, token, &body),
        None => req(&r.method.to_uppercase(), &u, token),
    };
    let (s, v, _) = app.call(at(MINOR, request)).await;
    (s, v)
}

fn outcome(s: StatusCode) -> Option<Want> {
    if s.is_success() || s.is_redirection() {
        Some(Want::Ok)
    } else if s == StatusCode::FORBIDDEN {
        Some(Want::Forbidden)
    } else if s == StatusCode::NOT_FOUND {
        Some(Want::NotFound)
    } else {
        None
    }
}

async fn send(
    app: &TestApp,
    method: &str,
    uri: &str,
    token: &str,
    body: Option<Value>,
) -> BoxResult<Value> {
    let request = match body {
        Some(b) => json_req(method, uri, token, &b),
        None => req(method, uri, token),
    };
    let (s, v, _) = app.call(at(MINOR, request)).await;
    if !(s.is_success()) {
        return Err(format!("{method} {uri} answered {s}: {v}").into());
    }
    Ok(v)
}

async fn settled(app: &TestApp, what: &str, id: &str, want: &str) -> BoxResult<()> {
    let key = what.trim_end_matches('s');
    eventually(WAIT, || async {
        let (s, v, _) = app
            .call(at(MINOR, req("GET", &format!("/v3/{what}/{id}"), A)))
            .await;
        (s == StatusCode::OK && v[key]["status"] == want).then_some(())
    })
    .await
    .ok_or_else(|| format!("{what} {id} did not reach {want}").into())
}

async fn volume(app: &TestApp) -> BoxResult<String> {
    let v = send(
        app,
        "POST",
        "/v3/volumes",
        A,
        Some(json!({"volume": {"size": 1, "metadata": {"k1": "v1"}}})),
    )
    .await?;
    let id = v["volume"]["id"]
        .as_str()
        .ok_or("no volume id")?
        .to_string();
    settled(app, "volumes", &id, "available").await?;
    Ok(id)
}

/// A Clinker whose quotas do not get in the way of many fixtures.
async fn roomy() -> BoxResult<TestApp> {
    TestApp::with(|c| {
        c.quota.volumes = 100_000;
        c.quota.snapshots = 100_000;
        c.quota.gigabytes = 1_000_000;
    })
    .await
}

/// Fresh resources (the admin's type and QoS specs included).
async fn fixture(app: &TestApp) -> BoxResult<Fx> {
    let volume_id = volume(app).await?;
    let plain = volume(app).await?;
    let attached = volume(app).await?;
    let s = send(
        app,
        "POST",
        "/v3/snapshots",
        A,
        Some(json!({"snapshot": {"volume_id": volume_id, "metadata": {"k1": "v1"}}})),
    )
    .await?;
    let snapshot = s["snapshot"]["id"]
        .as_str()
        .ok_or("no snapshot id")?
        .to_string();
    settled(app, "snapshots", &snapshot, "available").await?;
    let a = send(app, "POST", "/v3/attachments", A, Some(json!({"attachment": {"volume_uuid": attached, "instance_uuid": "0f0e4a43-3b4e-4ac5-a35d-6a5e9e4d7c11"}}))).await?;
    let attachment = a["attachment"]["id"]
        .as_str()
        .ok_or("no attachment id")?
        .to_string();
    let name = format!("policy-{}", &plain[..8]);
    let t = send(app, "POST", "/v3/types", ADMIN, Some(json!({"volume_type": {"name": name, "os-volume-type-access:is_public": false, "extra_specs": {"multiattach": "<is> True"}}}))).await?;
    let type_id = t["volume_type"]["id"]
        .as_str()
        .ok_or("no type id")?
        .to_string();
    send(
        app,
        "POST",
        &format!("/v3/types/{type_id}/action"),
        ADMIN,
        Some(json!({"addProjectAccess": {"project": A_PROJECT}})),
    )
    .await?;
    let default = send(app, "GET", "/v3/types/default", ADMIN, None).await?;
    send(
        app,
        "PUT",
        &format!("/v3/default-types/{DEFAULTED}"),
        ADMIN,
        Some(json!({"default_type": {"volume_type": default["volume_type"]["id"]}})),
    )
    .await?;
    let q = send(
        app,
        "POST",
        "/v3/qos-specs",
        ADMIN,
        Some(json!({"qos_specs": {"name": name, "read_iops_sec": "100"}})),
    )
    .await?;
    let qos = q["qos_specs"]["id"]
        .as_str()
        .ok_or("no qos id")?
        .to_string();
    // A failed extend leaves a user message for project A.
    let fake = app.fakes.get("n1").ok_or("no fake n1")?;
    fake.fail_next(FakeVerb::ExtendVolume, 1);
    send(
        app,
        "POST",
        &format!("/v3/volumes/{volume_id}/action"),
        A,
        Some(json!({"os-extend": {"new_size": 3}})),
    )
    .await?;
    let message = eventually(WAIT, || async {
        let (_, v, _) = app.call(at(MINOR, req("GET", "/v3/messages", A))).await;
        v["messages"][0]["id"].as_str().map(str::to_string)
    })
    .await
    .ok_or("no user message after a failed extend")?;
    // The failed extend leaves the volume available or in error; make it available.
    send(
        app,
        "POST",
        &format!("/v3/volumes/{volume_id}/action"),
        ADMIN,
        Some(json!({"os-reset_status": {"status": "available"}})),
    )
    .await?;
    Ok(Fx {
        volume: volume_id,
        plain,
        snapshot,
        attachment,
        type_id,
        qos,
        message,
    })
}

#[actix_web::test]
async fn every_route_has_a_policy_row() -> TestResult {
    let rows = table();
    let covered: BTreeSet<(&str, String, String)> = rows.iter().map(route_of).collect();
    let mut missing = Vec::new();
    let mut routes = 0;
    for (mount, table) in MOUNTS {
        if mount.contains('{') {
            continue;
        }
        for Route { method, path } in *table {
            routes += 1;
            if !covered.contains(&(*mount, method.to_string(), path.to_string())) {
                missing.push(format!("{method} {mount}{path}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routes without a policy row: {missing:?}"
    );
    assert!(routes > 80);
    // And no row names a route that does not exist.
    for r in &rows {
        let (mount, method, path) = route_of(r);
        let routed = MOUNTS
            .iter()
            .any(|(m, t)| *m == mount && t.iter().any(|x| x.method == method && x.path == path));
        assert!(routed, "row {method} {mount}{path} names no route");
    }
    Ok(())
}

#[actix_web::test]
async fn policy_table_holds_for_a_b_and_admin() -> TestResult {
    let app = roomy().await?;
    let shared = fixture(&app).await?;
    let missing_id = "3f1e2d4c-5b6a-4789-8a9b-0c1d2e3f4a5b";
    let mut failures = Vec::new();
    for r in table() {
        let name = format!("{} {}{} {}", r.method, r.mount, r.path, r.label);
        let mutating = r.method != "get";
        // B first: a refusal changes nothing, so the shared fixture stays valid.
        let (s, v) = call(&app, &r, &shared, B, None).await;
        if outcome(s) != Some(r.b) {
            failures.push(format!("{name}: B got {s} {v}, want {:?}", r.b));
        }
        if r.b == Want::NotFound {
            let (s2, v2) = call(&app, &r, &shared, B, Some(missing_id)).await;
            if s2 != s
                || v2.as_object().map(|o| o.keys().collect::<Vec<_>>())
                    != v.as_object().map(|o| o.keys().collect::<Vec<_>>())
            {
                failures.push(format!(
                    "{name}: B tells A's id ({s}) from a missing one ({s2})"
                ));
            }
        }
        for (who, token, want) in [("A", A, r.a), ("admin", ADMIN, r.admin)] {
            let f = if mutating && want == Want::Ok {
                fixture(&app).await?
            } else {
                shared.clone()
            };
            let (s, v) = call(&app, &r, &f, token, None).await;
            if outcome(s) != Some(want) {
                failures.push(format!("{name}: {who} got {s} {v}, want {want:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} policy failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    Ok(())
}

/// `all_tenants` widens lists for admins only; members see their own project either way.
#[actix_web::test]
async fn all_tenants_only_for_admins() -> TestResult {
    let app = roomy().await?;
    let f = fixture(&app).await?;
    // The last column: whether an admin sees other projects' items without
    // `all_tenants`. Cinder lists user messages with `project_only`, which does not
    // narrow an admin's context, so admins see every project's messages.
    let lists: [(&str, &str, &str, bool); 6] = [
        ("/v3/volumes", "volumes", &f.volume, false),
        ("/v3/volumes/detail", "volumes", &f.volume, false),
        ("/v3/snapshots", "snapshots", &f.snapshot, false),
        ("/v3/snapshots/detail", "snapshots", &f.snapshot, false),
        ("/v3/attachments", "attachments", &f.attachment, false),
        ("/v3/messages", "messages", &f.message, true),
    ];
    let ids = |v: &Value, key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (path, key, id, admin_sees_all) in lists {
        for (token, all, sees) in [
            (A, false, true),
            (A, true, true),
            (B, false, false),
            (B, true, false),
            (ADMIN, false, admin_sees_all),
            (ADMIN, true, true),
        ] {
            let uri = if all {
                format!("{path}?all_tenants=1")
            } else {
                path.to_string()
            };
            let (s, v, _) = app.call(at(MINOR, req("GET", &uri, token))).await;
            assert_eq!(s, StatusCode::OK, "{token} {uri}: {v}");
            assert_eq!(
                ids(&v, key).contains(&id.to_string()),
                sees,
                "{token} {uri} sees A's {key}: {v}"
            );
        }
    }
    Ok(())
}

/// The project in the path must be the caller's: B cannot reach A's resources (or A's
/// project) by naming A's project in the URL.
#[actix_web::test]
async fn project_in_the_path_must_be_the_callers() -> TestResult {
    let app = roomy().await?;
    let f = fixture(&app).await?;
    for uri in [
        format!("/v3/{A_PROJECT}/volumes"),
        format!("/v3/{A_PROJECT}/volumes/{}", f.volume),
        format!("/v3/{A_PROJECT}/snapshots/{}", f.snapshot),
    ] {
        let (s, v, _) = app.call(at(MINOR, req("GET", &uri, B))).await;
        assert!(
            s == StatusCode::BAD_REQUEST || s == StatusCode::NOT_FOUND,
            "{uri}: {s} {v}"
        );
        assert!(v.to_string().find(&f.volume).is_none(), "{v}");
    }
    let (s, _, _) = app
        .call(
            TestRequest::get()
                .uri(&format!("/v3/{A_PROJECT}/volumes/{}", f.volume))
                .insert_header(("X-Auth-Token", A)),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    Ok(())
}

//! The OpenAPI document: served without a token, and listing every route the router
//! mounts (from the same tables the router is built from).

mod common;

use actix_web::http::StatusCode;
use actix_web::test;
use clinker::http::MOUNTS;
use clinker::http::openapi::openapi_path;
use common::{TestApp, TestResult};

#[actix_web::test]
async fn openapi_document_lists_every_route() -> TestResult {
    let app = TestApp::new().await?;
    let (status, doc, headers) = app
        .call(test::TestRequest::get().uri("/clinker/v1/openapi.json"))
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert!(
        headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
    );
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let mut checked = 0;
    for (mount, routes) in MOUNTS {
        if mount.contains('{') {
            // The `/v3/{project_id}` forms repeat the project-less tables.
            continue;
        }
        for route in *routes {
            let path = openapi_path(mount, route.path);
            let op = &doc["paths"][&path][route.method];
            assert!(
                op.is_object(),
                "{} {path} is not in the document",
                route.method
            );
            assert!(op["responses"].is_object(), "{} {path}", route.method);
            checked += 1;
        }
    }
    assert!(checked > 80, "only {checked} routes");
    // Every operation in the document is a route (no invented paths).
    let mut documented = 0;
    for (path, item) in doc["paths"].as_object().ok_or("no paths")? {
        for method in item.as_object().ok_or("bad path item")?.keys() {
            let known = MOUNTS
                .iter()
                .filter(|(m, _)| !m.contains('{'))
                .any(|(m, rs)| {
                    rs.iter()
                        .any(|r| r.method == method && openapi_path(m, r.path) == *path)
                });
            assert!(known, "{method} {path} is documented but not routed");
            documented += 1;
        }
    }
    assert_eq!(documented, checked);
    // The noauth scheme, the microversion header and Cinder's fault body.
    let scheme = &doc["components"]["securitySchemes"]["noauth"];
    assert_eq!(scheme["in"], "header");
    assert_eq!(scheme["name"], "X-Auth-Token");
    let show = &doc["paths"]["/v3/volumes/{volume_id}"]["get"];
    let params = show["parameters"].as_array().ok_or("no parameters")?;
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "OpenStack-API-Version" && p["in"] == "header")
    );
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "volume_id" && p["in"] == "path")
    );
    assert!(doc["components"]["schemas"]["Fault"]["properties"]["badRequest"].is_object());
    assert!(
        doc["components"]["schemas"]["Volume"]["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|k| k == "status"))
    );
    Ok(())
}

#[actix_web::test]
async fn openapi_paths_drop_actix_patterns() {
    assert_eq!(
        openapi_path("/v3", "/{project_id:[0-9a-f\\-]+}"),
        "/v3/{project_id}"
    );
    assert_eq!(
        openapi_path("/v3", "/volumes/{volume_id}/metadata/{key}"),
        "/v3/volumes/{volume_id}/metadata/{key}"
    );
}

/// The creates of volumes and snapshots link to the operations on what they created, so
/// schemathesis' stateful phase chains calls on real ids; every link names an operation
/// of the document and one of its path parameters, and points into the create's body.
#[actix_web::test]
async fn openapi_links_chain_creates_to_their_resources() -> TestResult {
    let app = TestApp::new().await?;
    let (_, doc, _) = app
        .call(test::TestRequest::get().uri("/clinker/v1/openapi.json"))
        .await;
    let mut operations = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().ok_or("no paths")? {
        for (method, op) in item.as_object().ok_or("bad path item")? {
            let id = op["operationId"].as_str().ok_or("no operationId")?;
            operations.insert(id.to_string(), (format!("{method} {path}"), op.clone()));
        }
    }
    let mut links = 0;
    for (create, status, key) in [
        ("post /v3/volumes", "202", "volume"),
        ("post /v3/snapshots", "202", "snapshot"),
    ] {
        let (_, op) = operations.get(create).ok_or(create)?;
        let found = op["responses"][status]["links"]
            .as_object()
            .ok_or(format!("{create} has no links"))?;
        let mut targets = Vec::new();
        for (name, link) in found {
            let target = link["operationId"].as_str().ok_or("no operationId")?;
            let (_, to) = operations
                .get(target)
                .ok_or(format!("{name} leads to {target}, not an operation"))?;
            let params = link["parameters"].as_object().ok_or("no parameters")?;
            for (param, value) in params {
                let declared = to["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == *param && p["in"] == "path"));
                assert!(declared, "{name}: {target} has no path parameter {param}");
                assert_eq!(value, &format!("$response.body#/{key}/id"), "{name}");
            }
            targets.push(target.split(' ').next().unwrap_or_default().to_string());
            links += 1;
        }
        for method in ["get", "put", "delete"] {
            assert!(
                targets.iter().any(|t| t == method),
                "{create} has no {method} link"
            );
        }
    }
    assert!(links >= 6, "{links} links");
    Ok(())
}

/// The transfer, encryption and group-spec bodies are documented by the types their
/// handlers parse: the fields, and the envelopes that take no other key.
#[actix_web::test]
async fn parsed_bodies_are_their_documented_schemas() -> TestResult {
    let app = TestApp::new().await?;
    let (_, doc, _) = app
        .call(test::TestRequest::get().uri("/clinker/v1/openapi.json"))
        .await;
    let schemas = &doc["components"]["schemas"];
    for (method, path, envelope, key, item) in [
        (
            "post",
            "/v3/volume-transfers",
            "TransferCreateRequest",
            "transfer",
            "TransferCreate",
        ),
        (
            "post",
            "/v3/os-volume-transfer/{transfer_id}/accept",
            "TransferAcceptRequest",
            "accept",
            "TransferAccept",
        ),
        (
            "post",
            "/v3/types/{type_id}/encryption",
            "EncryptionSpecsRequest",
            "encryption",
            "EncryptionSpecs",
        ),
        (
            "put",
            "/v3/types/{type_id}/encryption/{key}",
            "EncryptionSpecsRequest",
            "encryption",
            "EncryptionSpecs",
        ),
        (
            "post",
            "/v3/group_types/{group_type_id}/group_specs",
            "GroupSpecsRequest",
            "group_specs",
            "GroupSpecs",
        ),
    ] {
        let body = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"];
        assert_eq!(
            body,
            &format!("#/components/schemas/{envelope}"),
            "{method} {path}"
        );
        assert_eq!(
            schemas[envelope]["additionalProperties"], false,
            "{envelope}"
        );
        assert_eq!(
            schemas[envelope]["properties"][key]["$ref"],
            format!("#/components/schemas/{item}"),
            "{envelope}"
        );
        assert!(schemas[item].is_object(), "{item}");
    }
    let create = &schemas["TransferCreate"];
    assert_eq!(create["additionalProperties"], false);
    assert_eq!(create["required"], serde_json::json!(["volume_id"]));
    for field in ["volume_id", "name", "no_snapshots"] {
        assert!(create["properties"][field].is_object(), "{field}: {create}");
    }
    assert!(schemas["TransferAccept"]["properties"]["auth_key"].is_object());
    let encryption = &schemas["EncryptionSpecs"]["properties"];
    assert_eq!(
        first(&encryption["control_location"], "enum"),
        Some(&serde_json::json!(["front-end", "back-end"])),
        "{encryption}"
    );
    assert_eq!(
        first(&encryption["key_size"], "maximum"),
        Some(&serde_json::json!(2147483647)),
        "{encryption}"
    );
    assert_eq!(
        schemas["GroupSpecs"]["propertyNames"]["pattern"],
        "^[a-zA-Z0-9-_:.]{1,255}$"
    );
    Ok(())
}

/// The first value of `key` in `v`, at any depth (an optional field's schema may wrap
/// the field type's own in a `oneOf` with `null`).
fn first<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m
            .get(key)
            .or_else(|| m.values().find_map(|x| first(x, key))),
        serde_json::Value::Array(a) => a.iter().find_map(|x| first(x, key)),
        _ => None,
    }
}

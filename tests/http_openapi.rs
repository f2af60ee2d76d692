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

//! The web console's server side: the embedded files under `/dashboard/`, their headers,
//! and `GET /clinker/v1/whoami`. The browser test (`console_browser.rs`) drives the pages.

mod common;

use std::path::{Path, PathBuf};

use actix_web::http::StatusCode;
use actix_web::test;
use clinker::http::console::ASSETS;
use common::{ADMIN, ALICE, TestApp, TestResult, req};

async fn get_raw(
    app: &TestApp,
    uri: &str,
) -> (StatusCode, actix_web::http::header::HeaderMap, Vec<u8>) {
    let service = test::init_service(clinker::http::app(app.state.clone())).await;
    let res = test::call_service(&service, test::TestRequest::get().uri(uri).to_request()).await;
    let status = res.status();
    let headers = res.headers().clone();
    let body = test::read_body(res).await.to_vec();
    (status, headers, body)
}

fn header<'a>(h: &'a actix_web::http::header::HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Every file of the console (but its tests), relative to `console/`.
fn console_files(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "tests") {
                continue;
            }
            console_files(&path, base, out)?;
        } else if let Ok(rel) = path.strip_prefix(base) {
            out.push(rel.to_path_buf());
        }
    }
    Ok(())
}

#[actix_web::test]
async fn every_console_file_is_embedded_and_served() -> TestResult {
    let app = TestApp::new().await?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
    let mut files = Vec::new();
    console_files(&root, &root, &mut files)?;
    assert!(files.len() >= 5, "console files: {files:?}");
    for rel in files {
        let rel = rel.to_string_lossy().replace('\\', "/");
        assert!(
            ASSETS.iter().any(|a| a.path == rel),
            "console/{rel} is not listed in src/http/console.rs ASSETS"
        );
        let (status, headers, body) = get_raw(&app, &format!("/dashboard/{rel}")).await;
        assert_eq!(status, StatusCode::OK, "{rel}");
        assert_eq!(
            body,
            std::fs::read(root.join(&rel))?,
            "{rel}: stale or different bytes"
        );
        assert!(
            header(&headers, "content-security-policy").contains("default-src 'none'"),
            "{rel}: CSP"
        );
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        let text = String::from_utf8_lossy(&body);
        for external in ["https://", "http://", "//cdn", "@import url("] {
            // The SVG namespace is a name, not a request.
            let hits = text
                .matches(external)
                .count()
                .saturating_sub(text.matches("http://www.w3.org/2000/svg").count());
            assert_eq!(
                hits, 0,
                "{rel} refers to something outside the server ({external})"
            );
        }
    }
    Ok(())
}

#[actix_web::test]
async fn the_index_is_at_dashboard_and_the_api_root_is_unchanged() -> TestResult {
    let app = TestApp::new().await?;
    let (status, headers, body) = get_raw(&app, "/dashboard/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&headers, "content-type").starts_with("text/html"));
    let html = String::from_utf8(body)?;
    assert!(
        html.contains("<script type=\"module\" src=\"js/main.js\">"),
        "{html}"
    );

    let (status, headers, _) = get_raw(&app, "/dashboard").await;
    assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header(&headers, "location"), "/dashboard/");

    let (status, headers, _) = get_raw(&app, "/dashboard/js/app.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(header(&headers, "content-type").starts_with("text/plain"));

    let (status, headers, _) = get_raw(&app, "/dashboard/js/main.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&headers, "content-type").starts_with("text/javascript"));

    let (status, body, _) = app.call(test::TestRequest::get().uri("/")).await;
    assert_eq!(status, StatusCode::MULTIPLE_CHOICES, "{body}");
    assert!(body["versions"].is_array(), "{body}");
    Ok(())
}

#[actix_web::test]
async fn whoami_tells_user_project_and_admin() -> TestResult {
    let app = TestApp::new().await?;
    let (status, body, _) = app.call(req("GET", "/clinker/v1/whoami", ALICE)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"], "alice");
    assert_eq!(body["project"], "0a0a");
    assert_eq!(body["is_admin"], false);

    let (status, body, _) = app.call(req("GET", "/clinker/v1/whoami", ADMIN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["is_admin"], true);

    let (status, body, _) = app
        .call(test::TestRequest::get().uri("/clinker/v1/whoami"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["unauthorized"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("X-Auth-Token")),
        "{body}"
    );

    // The timeline, in the same /clinker/v1 prefix, is still routed: Cinder's JSON 404,
    // not the router's plain-text one.
    let (status, body, _) = app
        .call(req(
            "GET",
            "/clinker/v1/volumes/5e2c0a7d-4b3f-4e1a-9c8d-7b6a5f4e3d2c/timeline",
            ALICE,
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["itemNotFound"]["message"].is_string(), "{body}");
    Ok(())
}

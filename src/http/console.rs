//! The web console: plain HTML, CSS and JavaScript under `console/` at the top of the
//! repository, embedded in the binary and served under `/dashboard/`; plus
//! `GET /clinker/v1/whoami`, which tells the console who the token belongs to, and the
//! sign-in routes of [`super::console_auth`].
//!
//! The console is a client of the public API like any other: it holds no privileges of
//! its own and calls `/v3/{project}/...` with the user's token (noauth's `user:project`,
//! or Keystone's).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::auth;
use super::error::ApiError;

/// One embedded file: its path under `/dashboard/`, its media type and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// The path under `/dashboard/` (`""` is the index).
    pub path: &'static str,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The file.
    pub bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $file:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            bytes: include_bytes!(concat!("../../console/", $file)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file the console is made of. `tests/console_http.rs` checks that each file
/// under `console/` (but `console/tests/`) is listed here.
pub const ASSETS: &[Asset] = &[
    asset!("", "index.html", "text/html; charset=utf-8"),
    asset!("index.html", "index.html", "text/html; charset=utf-8"),
    asset!("app.css", "app.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "favicon.svg", "image/svg+xml"),
    asset!("js/api.js", "js/api.js", JS),
    asset!("js/ui.js", "js/ui.js", JS),
    asset!("js/main.js", "js/main.js", JS),
    asset!("js/signin.js", "js/signin.js", JS),
    asset!("js/volumes.js", "js/volumes.js", JS),
    asset!("js/volume_dialogs.js", "js/volume_dialogs.js", JS),
    asset!("js/volume_detail.js", "js/volume_detail.js", JS),
    asset!("js/timeline.js", "js/timeline.js", JS),
    asset!("js/snapshots.js", "js/snapshots.js", JS),
    asset!("js/types.js", "js/types.js", JS),
    asset!("js/specs.js", "js/specs.js", JS),
    asset!("js/group_types.js", "js/group_types.js", JS),
    asset!("js/nodes.js", "js/nodes.js", JS),
    asset!("js/messages.js", "js/messages.js", JS),
    asset!("js/transfers.js", "js/transfers.js", JS),
];

/// Only this origin: no CDN, no inline script, nothing fetched from elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Mounts `/dashboard/...`, `/clinker/v1/whoami` and the console's sign-in routes.
/// Registered before the `/clinker/v1` scope, which would otherwise answer 404 for them.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/clinker/v1/whoami", web::get().to(whoami))
        .route(
            "/clinker/v1/console/config",
            web::get().to(super::console_auth::config),
        )
        .route(
            "/clinker/v1/console/auth/tokens",
            web::post().to(super::console_auth::sign_in),
        )
        .route("/dashboard", web::get().to(redirect))
        .route("/dashboard/{path:.*}", web::get().to(serve));
}

/// `GET /clinker/v1/whoami` → `{"user", "project", "is_admin"}`, with the API's auth.
pub async fn whoami(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let ctx = auth::context(&req)?;
    Ok(HttpResponse::Ok().json(json!({
        "user": ctx.user_id,
        "project": ctx.project_id,
        "is_admin": ctx.is_admin,
    })))
}

async fn redirect() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, "/dashboard/"))
        .finish()
}

/// Serves one embedded file, or a plain 404.
pub async fn serve(req: HttpRequest) -> HttpResponse {
    let path = req.match_info().get("path").unwrap_or("");
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return HttpResponse::NotFound()
            .content_type("text/plain")
            .body("The resource could not be found.");
    };
    let mut res = HttpResponse::Ok()
        .content_type(asset.content_type)
        // Embedded files change only with the binary; revalidating is cheap on loopback
        // and means an upgraded server never runs a stale script.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(asset.bytes);
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    res
}

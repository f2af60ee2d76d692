//! The HTTP front end (actix-web): routes, request ids, microversions, errors.
//!
//! Handlers parse and check the request, send one message to `ApiActor`, and render.

pub mod auth;
pub mod body;
pub mod error;
pub mod metadata;
pub mod metrics;
pub mod timeline;
pub mod validate;
pub mod version;
pub mod views;
pub mod volumes;

use actix::Addr;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpMessage, HttpResponse, web};

use crate::actors::api::ApiActor;
use crate::model::RequestId;

/// What handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The API actor.
    pub api: Addr<ApiActor>,
    /// noauth users who are admins.
    pub admin_users: Vec<String>,
    /// Largest body accepted.
    pub max_body_bytes: usize,
}

/// Gives every request an id and echoes it as `x-openstack-request-id` (and
/// `x-compute-request-id`, which cinderclient reads into its exceptions). The id is the
/// one the tracing span of the request carries, so a log line and a response match.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let traced = req
        .extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|r| RequestId(format!("req-{}", **r)));
    let id = traced.unwrap_or_default();
    req.extensions_mut().insert(id.clone());
    let mut res = next.call(req).await?;
    if let Ok(v) = HeaderValue::from_str(&id.0) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-openstack-request-id"), v.clone());
        res.headers_mut()
            .insert(HeaderName::from_static("x-compute-request-id"), v);
    }
    Ok(res)
}

fn volume_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/volumes", web::post().to(volumes::create))
        .route("/volumes", web::get().to(volumes::list))
        .route("/volumes/detail", web::get().to(volumes::list_detail))
        .route("/volumes/{volume_id}", web::get().to(volumes::show))
        .route("/volumes/{volume_id}", web::put().to(volumes::update))
        .route("/volumes/{volume_id}", web::delete().to(volumes::delete))
        .route(
            "/volumes/{volume_id}/metadata",
            web::get().to(metadata::show_all),
        )
        .route(
            "/volumes/{volume_id}/metadata",
            web::post().to(metadata::merge),
        )
        .route(
            "/volumes/{volume_id}/metadata",
            web::put().to(metadata::replace),
        )
        .route(
            "/volumes/{volume_id}/metadata/{key}",
            web::get().to(metadata::show_key),
        )
        .route(
            "/volumes/{volume_id}/metadata/{key}",
            web::put().to(metadata::update_key),
        )
        .route(
            "/volumes/{volume_id}/metadata/{key}",
            web::delete().to(metadata::delete_key),
        );
}

/// Mounts every route. The request-id middleware is wrapped around the whole app by the
/// caller ([`app`] does it).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(version::root))
        .route("/metrics", web::get().to(metrics::render))
        .route("/v3", web::get().to(version::v3_redirect))
        .service(
            web::scope("/v3")
                .wrap(from_fn(version::microversion))
                .route("/", web::get().to(version::v3))
                // The project-less form first: `volumes` is not a hex project id anyway.
                .configure(volume_routes)
                .service(web::scope("/{project_id:[0-9a-f\\-]+}").configure(volume_routes)),
        )
        .service(web::scope("/clinker/v1").route(
            "/volumes/{volume_id}/timeline",
            web::get().to(timeline::show),
        ))
        .default_service(web::to(not_found));
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain")
        .body("The resource could not be found.")
}

/// The whole application, ready for `HttpServer::new` or `test::init_service`.
pub fn app(
    state: AppState,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new()
        .app_data(web::Data::new(state))
        .configure(configure)
        .wrap(from_fn(request_id))
        .wrap(tracing_actix_web::TracingLogger::default())
        .wrap(from_fn(metrics::track))
}

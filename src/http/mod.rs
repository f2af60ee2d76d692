//! The HTTP front end (actix-web): routes, request ids, microversions, errors.
//!
//! Handlers parse and check the request, send one message to `ApiActor`, and render.

pub mod actions;
pub mod attachments;
pub mod auth;
pub mod body;
pub mod catalogue;
pub mod console;
pub mod error;
pub mod extensions;
pub mod guard;
pub mod idempotency;
pub mod listing;
pub mod messages;
pub mod metadata;
pub mod metrics;
pub mod qos;
pub mod quotas;
pub mod snapshots;
pub mod timeline;
pub mod type_access;
pub mod types;
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
use crate::actors::mailbox::Tracked;
use crate::model::RequestId;

/// What handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The API actor.
    pub api: Tracked<Addr<ApiActor>>,
    /// noauth users who are admins.
    pub admin_users: Vec<String>,
    /// Largest body accepted.
    pub max_body_bytes: usize,
    /// Highest microversion accepted: [`version::MAX_VERSION`], the advertised one.
    /// Tests raise it to exercise behaviour gated on versions not yet advertised.
    pub max_version: version::ApiVersion,
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
        .route("/volumes/summary", web::get().to(volumes::summary))
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
    cfg.route("/volumes/{volume_id}/action", web::post().to(actions::run))
        .route("/snapshots", web::post().to(snapshots::create))
        .route("/snapshots", web::get().to(snapshots::list))
        .route("/snapshots/detail", web::get().to(snapshots::list_detail))
        .route("/snapshots/{snapshot_id}", web::get().to(snapshots::show))
        .route("/snapshots/{snapshot_id}", web::put().to(snapshots::update))
        .route(
            "/snapshots/{snapshot_id}",
            web::delete().to(snapshots::delete),
        )
        .route(
            "/snapshots/{snapshot_id}/action",
            web::post().to(snapshots::action),
        )
        .route(
            "/snapshots/{snapshot_id}/metadata",
            web::get().to(snapshots::metadata_show),
        )
        .route(
            "/snapshots/{snapshot_id}/metadata",
            web::post().to(snapshots::metadata_merge),
        )
        .route(
            "/snapshots/{snapshot_id}/metadata",
            web::put().to(snapshots::metadata_replace),
        )
        .route(
            "/snapshots/{snapshot_id}/metadata/{key}",
            web::get().to(snapshots::metadata_show),
        )
        .route(
            "/snapshots/{snapshot_id}/metadata/{key}",
            web::put().to(snapshots::metadata_replace),
        )
        .route(
            "/snapshots/{snapshot_id}/metadata/{key}",
            web::delete().to(snapshots::metadata_delete),
        );
    cfg.route("/attachments", web::post().to(attachments::create))
        .route("/attachments", web::get().to(attachments::list))
        .route(
            "/attachments/detail",
            web::get().to(attachments::list_detail),
        )
        .route(
            "/attachments/{attachment_id}",
            web::get().to(attachments::show),
        )
        .route(
            "/attachments/{attachment_id}",
            web::put().to(attachments::update),
        )
        .route(
            "/attachments/{attachment_id}",
            web::delete().to(attachments::delete),
        )
        .route(
            "/attachments/{attachment_id}/action",
            web::post().to(attachments::action),
        );
}

/// The admin and catalogue resources: types, default types, QoS, quotas, limits, zones,
/// services, pools, capabilities, messages, extensions and resource filters.
fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/types", web::get().to(types::list))
        .route("/types", web::post().to(types::create))
        // Before `/types/{type_id}`, which would take `default` as an id.
        .route("/types/default", web::get().to(types::show_default))
        .route("/types/{type_id}", web::get().to(types::show))
        .route("/types/{type_id}", web::put().to(types::update))
        .route("/types/{type_id}", web::delete().to(types::delete))
        .route(
            "/types/{type_id}/extra_specs",
            web::get().to(types::specs_list),
        )
        .route(
            "/types/{type_id}/extra_specs",
            web::post().to(types::specs_create),
        )
        .route(
            "/types/{type_id}/extra_specs/{key}",
            web::get().to(types::specs_show),
        )
        .route(
            "/types/{type_id}/extra_specs/{key}",
            web::put().to(types::specs_update),
        )
        .route(
            "/types/{type_id}/extra_specs/{key}",
            web::delete().to(types::specs_delete),
        )
        .route(
            "/types/{type_id}/os-volume-type-access",
            web::get().to(type_access::list),
        )
        .route(
            "/types/{type_id}/action",
            web::post().to(type_access::action),
        )
        .route("/default-types", web::get().to(type_access::list_defaults))
        .route(
            "/default-types/{target_project}",
            web::get().to(type_access::show_default),
        )
        .route(
            "/default-types/{target_project}",
            web::put().to(type_access::set_default),
        )
        .route(
            "/default-types/{target_project}",
            web::delete().to(type_access::unset_default),
        )
        .route(
            "/os-quota-sets/{target_project}",
            web::get().to(quotas::show),
        )
        .route(
            "/os-quota-sets/{target_project}",
            web::put().to(quotas::update),
        )
        .route(
            "/os-quota-sets/{target_project}",
            web::delete().to(quotas::delete),
        )
        .route(
            "/os-quota-sets/{target_project}/defaults",
            web::get().to(quotas::defaults),
        )
        .route(
            "/os-quota-class-sets/{class}",
            web::get().to(quotas::class_show),
        )
        .route(
            "/os-quota-class-sets/{class}",
            web::put().to(quotas::class_update),
        )
        .route("/limits", web::get().to(quotas::limits))
        .route("/os-availability-zone", web::get().to(catalogue::zones))
        .route("/os-services", web::get().to(catalogue::services))
        .route("/os-services/{action}", web::put().to(catalogue::update))
        .route(
            "/scheduler-stats/get_pools",
            web::get().to(catalogue::pools),
        )
        .route(
            "/capabilities/{host}",
            web::get().to(catalogue::capabilities_show),
        )
        .route("/messages", web::get().to(messages::list))
        .route("/messages/{message_id}", web::get().to(messages::show))
        .route("/messages/{message_id}", web::delete().to(messages::delete))
        .route("/extensions", web::get().to(extensions::list))
        .route(
            "/resource_filters",
            web::get().to(extensions::resource_filters),
        )
        .route("/qos-specs", web::get().to(qos::list))
        .route("/qos-specs", web::post().to(qos::create))
        .route("/qos-specs/{qos_id}", web::get().to(qos::show))
        .route("/qos-specs/{qos_id}", web::put().to(qos::update))
        .route("/qos-specs/{qos_id}", web::delete().to(qos::delete))
        .route(
            "/qos-specs/{qos_id}/delete_keys",
            web::put().to(qos::delete_keys),
        )
        .route(
            "/qos-specs/{qos_id}/associations",
            web::get().to(qos::associations),
        )
        .route(
            "/qos-specs/{qos_id}/associate",
            web::get().to(qos::associate),
        )
        .route(
            "/qos-specs/{qos_id}/disassociate",
            web::get().to(qos::disassociate),
        )
        .route(
            "/qos-specs/{qos_id}/disassociate_all",
            web::get().to(qos::disassociate_all),
        );
}

/// Mounts every route. The request-id middleware is wrapped around the whole app by the
/// caller ([`app`] does it).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(version::root))
        .route("/metrics", web::get().to(metrics::render))
        .route("/v3", web::get().to(version::v3_redirect))
        .configure(console::configure)
        .service(
            web::scope("/v3")
                .wrap(from_fn(idempotency::middleware))
                .wrap(from_fn(version::microversion))
                .route("/", web::get().to(version::v3))
                // keystoneauth discovers from the endpoint it is given, which for the
                // volume service often ends in the project id.
                .route("/{project_id:[0-9a-f\\-]+}", web::get().to(version::v3))
                // The project-less form first: `volumes` is not a hex project id anyway.
                .configure(volume_routes)
                .configure(admin_routes)
                .service(
                    web::scope("/{project_id:[0-9a-f\\-]+}")
                        .configure(volume_routes)
                        .configure(admin_routes),
                ),
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

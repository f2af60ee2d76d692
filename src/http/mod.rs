//! The HTTP front end (actix-web): routes, request ids, microversions, errors.
//!
//! Handlers parse and check the request, send one message to `ApiActor`, and render.

pub mod actions;
pub mod attachments;
pub mod auth;
pub mod body;
pub mod catalogue;
pub mod console;
pub mod console_auth;
pub mod encryption;
pub mod error;
pub mod extensions;
pub mod fields;
pub mod group_types;
pub mod groups;
pub mod guard;
pub mod hosts;
pub mod idempotency;
pub mod intake;
pub mod listing;
pub mod messages;
pub mod metadata;
pub mod metrics;
pub mod openapi;
pub mod policy;
pub mod qos;
pub mod quotas;
pub mod snapshots;
pub mod timeline;
pub mod transfers;
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
    /// How tokens are checked (`auth_strategy`).
    pub auth: auth::Authenticator,
    /// The policy every request is checked against, loaded once at start.
    pub policy: std::sync::Arc<crate::policy::Enforcer>,
    /// Largest body accepted.
    pub max_body_bytes: usize,
    /// Page size and metadata caps.
    pub limits: listing::Limits,
    /// The body deadline and the memory budget of bodies being read.
    pub intake: intake::Intake,
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

/// One registered route: its method (lower case) and its path relative to where its table
/// is mounted (see [`MOUNTS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// `get`, `post`, `put` or `delete`.
    pub method: &'static str,
    /// The actix path pattern, e.g. `/volumes/{volume_id}`.
    pub path: &'static str,
}

/// Declares a function mounting a list of routes and a constant listing them, from one
/// source, so that the policy table and the OpenAPI document can be checked against what
/// the router really serves.
macro_rules! routes {
    ($(#[$doc:meta])* fn $name:ident, $table:ident; $($method:ident $path:literal => $handler:path;)*) => {
        $(#[$doc])*
        fn $name(cfg: &mut web::ServiceConfig) {
            $(cfg.route($path, web::$method().to($handler));)*
        }

        $(#[$doc])*
        pub const $table: &[Route] = &[$(Route { method: stringify!($method), path: $path }),*];
    };
}

routes! {
    /// Version discovery and the Prometheus metrics, at the top.
    fn top_routes, TOP_ROUTES;
    get "/" => version::root;
    get "/metrics" => metrics::render;
    get "/v3" => version::v3_redirect;
}

routes! {
    /// The v3 version document; keystoneauth discovers from the endpoint it is given, which
    /// for the volume service often ends in the project id.
    fn version_routes, VERSION_ROUTES;
    get "/" => version::v3;
    get "/{project_id:[0-9a-f\\-]+}" => version::v3_project;
}

routes! {
    /// Clinker's own API (not Cinder's): timelines and the OpenAPI document.
    fn clinker_routes, CLINKER_ROUTES;
    get "/volumes/{volume_id}/timeline" => timeline::show;
    get "/openapi.json" => openapi::serve;
}

/// Where each route table is mounted. The console's files ([`console::ASSETS`]) and its
/// `whoami` are mounted by [`console::configure`] besides these.
pub const MOUNTS: &[(&str, &[Route])] = &[
    ("", TOP_ROUTES),
    ("/v3", VERSION_ROUTES),
    ("/v3", VOLUME_ROUTES),
    ("/v3", ADMIN_ROUTES),
    ("/v3/{project_id}", VOLUME_ROUTES),
    ("/v3/{project_id}", ADMIN_ROUTES),
    ("/clinker/v1", CLINKER_ROUTES),
];

routes! {
    /// The volume, snapshot, attachment and transfer resources.
    fn volume_routes, VOLUME_ROUTES;
    post "/volumes" => volumes::create;
    get "/volumes" => volumes::list;
    get "/volumes/detail" => volumes::list_detail;
    get "/volumes/summary" => volumes::summary;
    get "/volumes/{volume_id}" => volumes::show;
    put "/volumes/{volume_id}" => volumes::update;
    delete "/volumes/{volume_id}" => volumes::delete;
    get "/volumes/{volume_id}/metadata" => metadata::show_all;
    post "/volumes/{volume_id}/metadata" => metadata::merge;
    put "/volumes/{volume_id}/metadata" => metadata::replace;
    get "/volumes/{volume_id}/metadata/{key}" => metadata::show_key;
    put "/volumes/{volume_id}/metadata/{key}" => metadata::update_key;
    delete "/volumes/{volume_id}/metadata/{key}" => metadata::delete_key;
    post "/volumes/{volume_id}/action" => actions::run;
    post "/snapshots" => snapshots::create;
    get "/snapshots" => snapshots::list;
    get "/snapshots/detail" => snapshots::list_detail;
    get "/snapshots/{snapshot_id}" => snapshots::show;
    put "/snapshots/{snapshot_id}" => snapshots::update;
    delete "/snapshots/{snapshot_id}" => snapshots::delete;
    post "/snapshots/{snapshot_id}/action" => snapshots::action;
    get "/snapshots/{snapshot_id}/metadata" => snapshots::metadata_show;
    post "/snapshots/{snapshot_id}/metadata" => snapshots::metadata_merge;
    put "/snapshots/{snapshot_id}/metadata" => snapshots::metadata_replace;
    get "/snapshots/{snapshot_id}/metadata/{key}" => snapshots::metadata_show_key;
    put "/snapshots/{snapshot_id}/metadata/{key}" => snapshots::metadata_update_key;
    delete "/snapshots/{snapshot_id}/metadata/{key}" => snapshots::metadata_delete;
    post "/attachments" => attachments::create;
    get "/attachments" => attachments::list;
    get "/attachments/detail" => attachments::list_detail;
    get "/attachments/{attachment_id}" => attachments::show;
    put "/attachments/{attachment_id}" => attachments::update;
    delete "/attachments/{attachment_id}" => attachments::delete;
    post "/attachments/{attachment_id}/action" => attachments::action;
    post "/os-volume-transfer" => transfers::create;
    get "/os-volume-transfer" => transfers::list;
    get "/os-volume-transfer/detail" => transfers::list_detail;
    get "/os-volume-transfer/{transfer_id}" => transfers::show;
    delete "/os-volume-transfer/{transfer_id}" => transfers::delete;
    post "/os-volume-transfer/{transfer_id}/accept" => transfers::accept;
    post "/groups" => groups::create;
    get "/groups" => groups::list;
    get "/groups/detail" => groups::list_detail;
    get "/groups/{group_id}" => groups::show;
    put "/groups/{group_id}" => groups::update;
    post "/groups/{group_id}/action" => groups::action;
    post "/volume-transfers" => transfers::create;
    get "/volume-transfers" => transfers::list;
    get "/volume-transfers/detail" => transfers::list_detail;
    get "/volume-transfers/{transfer_id}" => transfers::show;
    delete "/volume-transfers/{transfer_id}" => transfers::delete;
    post "/volume-transfers/{transfer_id}/accept" => transfers::accept;
}

routes! {
    /// The admin and catalogue resources: types, default types, QoS, quotas, limits, zones,
    /// services, pools, capabilities, messages, extensions and resource filters.
    /// `/types/default` comes before `/types/{type_id}`, which would take `default` as an id.
    fn admin_routes, ADMIN_ROUTES;
    get "/types" => types::list;
    post "/types" => types::create;
    get "/types/default" => types::show_default;
    get "/types/{type_id}" => types::show;
    put "/types/{type_id}" => types::update;
    delete "/types/{type_id}" => types::delete;
    get "/types/{type_id}/extra_specs" => types::specs_list;
    post "/types/{type_id}/extra_specs" => types::specs_create;
    get "/types/{type_id}/extra_specs/{key}" => types::specs_show;
    put "/types/{type_id}/extra_specs/{key}" => types::specs_update;
    delete "/types/{type_id}/extra_specs/{key}" => types::specs_delete;
    get "/types/{type_id}/encryption" => encryption::show;
    post "/types/{type_id}/encryption" => encryption::create;
    get "/types/{type_id}/encryption/{key}" => encryption::show_key;
    put "/types/{type_id}/encryption/{key}" => encryption::update;
    delete "/types/{type_id}/encryption/{key}" => encryption::delete;
    get "/types/{type_id}/os-volume-type-access" => type_access::list;
    post "/types/{type_id}/action" => type_access::action;
    get "/default-types" => type_access::list_defaults;
    get "/default-types/{target_project}" => type_access::show_default;
    put "/default-types/{target_project}" => type_access::set_default;
    delete "/default-types/{target_project}" => type_access::unset_default;
    get "/os-quota-sets/{target_project}" => quotas::show;
    put "/os-quota-sets/{target_project}" => quotas::update;
    delete "/os-quota-sets/{target_project}" => quotas::delete;
    get "/os-quota-sets/{target_project}/defaults" => quotas::defaults;
    get "/os-quota-class-sets/{class}" => quotas::class_show;
    put "/os-quota-class-sets/{class}" => quotas::class_update;
    get "/limits" => quotas::limits;
    get "/os-availability-zone" => catalogue::zones;
    get "/os-services" => catalogue::services;
    put "/os-services/{action}" => catalogue::update;
    get "/group_types" => group_types::list;
    post "/group_types" => group_types::create;
    get "/group_types/{group_type_id}" => group_types::show;
    put "/group_types/{group_type_id}" => group_types::update;
    delete "/group_types/{group_type_id}" => group_types::delete;
    get "/group_types/{group_type_id}/group_specs" => group_types::specs_list;
    post "/group_types/{group_type_id}/group_specs" => group_types::specs_create;
    get "/group_types/{group_type_id}/group_specs/{key}" => group_types::specs_show;
    put "/group_types/{group_type_id}/group_specs/{key}" => group_types::specs_update;
    delete "/group_types/{group_type_id}/group_specs/{key}" => group_types::specs_delete;
    get "/os-hosts" => hosts::list;
    get "/os-hosts/{host_name}" => hosts::show;
    get "/scheduler-stats/get_pools" => catalogue::pools;
    get "/capabilities/{host}" => catalogue::capabilities_show;
    get "/messages" => messages::list;
    get "/messages/{message_id}" => messages::show;
    delete "/messages/{message_id}" => messages::delete;
    get "/extensions" => extensions::list;
    get "/resource_filters" => extensions::resource_filters;
    get "/qos-specs" => qos::list;
    post "/qos-specs" => qos::create;
    get "/qos-specs/{qos_id}" => qos::show;
    put "/qos-specs/{qos_id}" => qos::update;
    delete "/qos-specs/{qos_id}" => qos::delete;
    put "/qos-specs/{qos_id}/delete_keys" => qos::delete_keys;
    get "/qos-specs/{qos_id}/associations" => qos::associations;
    get "/qos-specs/{qos_id}/associate" => qos::associate;
    get "/qos-specs/{qos_id}/disassociate" => qos::disassociate;
    get "/qos-specs/{qos_id}/disassociate_all" => qos::disassociate_all;
}

/// Mounts every route. The request-id middleware is wrapped around the whole app by the
/// caller ([`app`] does it).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(top_routes)
        .configure(console::configure)
        .service(
            web::scope("/v3")
                // Innermost: a refusal is the handler's answer, as far as idempotency
                // keys, microversions and the NUL check are concerned.
                .wrap(from_fn(policy::enforce))
                .wrap(from_fn(idempotency::middleware))
                .wrap(from_fn(guard::refuse_nul))
                .wrap(from_fn(version::microversion))
                .configure(version_routes)
                // The project-less form first: `volumes` is not a hex project id anyway.
                .configure(volume_routes)
                .configure(admin_routes)
                .service(
                    web::scope("/{project_id:[0-9a-f\\-]+}")
                        .configure(volume_routes)
                        .configure(admin_routes),
                ),
        )
        .service(
            web::scope("/clinker/v1")
                .wrap(from_fn(policy::enforce))
                .wrap(from_fn(guard::refuse_nul))
                .configure(clinker_routes),
        )
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
        // Innermost of the app's: the request id is set for its log lines, and a refusal
        // is counted by the metrics like any answer.
        .wrap(from_fn(auth::authenticate))
        .wrap(from_fn(intake::guard))
        .wrap(from_fn(request_id))
        .wrap(tracing_actix_web::TracingLogger::<
            crate::logging::RequestSpan,
        >::new())
        .wrap(from_fn(metrics::track))
}

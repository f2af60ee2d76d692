//! Where the policy meets the routes: each route's Cinder rule, checked before its handler
//! runs ([`enforce`]), and the checks handlers make themselves where the rule depends on
//! the body (a volume action's name) or on a flag (`DELETE /volumes/{id}?force=true`).
//!
//! The target of a check is the caller's own project, except on routes that name a
//! project (`/os-quota-sets/{target_project}`, `/default-types/{target_project}`), whose
//! target is that project. Resources of other projects are out of sight anyway: the
//! actors scope every lookup to the caller's project unless the context is an admin
//! one, so a member of B who passes `volume:get` for its own project still gets 404 on
//! A's volume, exactly as for an id that does not exist.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, ResponseError, web};

use super::AppState;
use super::error::ApiError;
use crate::actors::api::GetVolume;
use crate::model::{RequestContext, VolumeId};
use crate::policy::{Action, Denied, Target};

/// What guards a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// No policy, as in Cinder (version documents, limits, zones, extensions, attachment
    /// reads): any caller the token check admits.
    Open,
    /// The rule, with the caller's project as the target.
    Rule(Action),
    /// The rule, with the project the path names (`{target_project}`) as the target.
    ForProject(Action),
    /// The handler picks the rule from the body (the action routes).
    InHandler,
}

use Action as A;
use Guard::{ForProject, InHandler, Open, Rule};

/// Every route's guard, by method and path as the route tables ([`super::MOUNTS`]) write
/// them. A route missing here fails the tests.
pub const GUARDS: &[(&str, &str, Guard)] = &[
    // Version discovery, metrics (which check their own token), Clinker's own.
    ("get", "/", Open),
    ("get", "/metrics", Open),
    ("get", "/v3", Open),
    ("get", "/{project_id:[0-9a-f\\-]+}", Open),
    ("get", "/openapi.json", Open),
    ("get", "/volumes/{volume_id}/timeline", Rule(A::VolumeGet)),
    // Volumes.
    ("post", "/volumes", Rule(A::VolumeCreate)),
    ("get", "/volumes", Rule(A::VolumeGetAll)),
    ("get", "/volumes/detail", Rule(A::VolumeGetAll)),
    ("get", "/volumes/summary", Rule(A::VolumeGetAll)),
    ("get", "/volumes/{volume_id}", Rule(A::VolumeGet)),
    ("put", "/volumes/{volume_id}", Rule(A::VolumeUpdate)),
    // `volume:force_delete` first when forced, then `volume:delete`, as Cinder checks them.
    ("delete", "/volumes/{volume_id}", InHandler),
    (
        "get",
        "/volumes/{volume_id}/metadata",
        Rule(A::VolumeMetadataGet),
    ),
    (
        "post",
        "/volumes/{volume_id}/metadata",
        Rule(A::VolumeMetadataCreate),
    ),
    (
        "put",
        "/volumes/{volume_id}/metadata",
        Rule(A::VolumeMetadataUpdate),
    ),
    (
        "get",
        "/volumes/{volume_id}/metadata/{key}",
        Rule(A::VolumeMetadataGet),
    ),
    (
        "put",
        "/volumes/{volume_id}/metadata/{key}",
        Rule(A::VolumeMetadataUpdate),
    ),
    (
        "delete",
        "/volumes/{volume_id}/metadata/{key}",
        Rule(A::VolumeMetadataDelete),
    ),
    ("post", "/volumes/{volume_id}/action", InHandler),
    // Snapshots.
    ("post", "/snapshots", Rule(A::SnapshotCreate)),
    ("get", "/snapshots", Rule(A::SnapshotGetAll)),
    ("get", "/snapshots/detail", Rule(A::SnapshotGetAll)),
    ("get", "/snapshots/{snapshot_id}", Rule(A::SnapshotGet)),
    ("put", "/snapshots/{snapshot_id}", Rule(A::SnapshotUpdate)),
    (
        "delete",
        "/snapshots/{snapshot_id}",
        Rule(A::SnapshotDelete),
    ),
    ("post", "/snapshots/{snapshot_id}/action", InHandler),
    (
        "get",
        "/snapshots/{snapshot_id}/metadata",
        Rule(A::SnapshotMetadataGet),
    ),
    (
        "post",
        "/snapshots/{snapshot_id}/metadata",
        Rule(A::SnapshotMetadataUpdate),
    ),
    (
        "put",
        "/snapshots/{snapshot_id}/metadata",
        Rule(A::SnapshotMetadataUpdate),
    ),
    (
        "get",
        "/snapshots/{snapshot_id}/metadata/{key}",
        Rule(A::SnapshotMetadataGet),
    ),
    (
        "put",
        "/snapshots/{snapshot_id}/metadata/{key}",
        Rule(A::SnapshotMetadataUpdate),
    ),
    (
        "delete",
        "/snapshots/{snapshot_id}/metadata/{key}",
        Rule(A::SnapshotMetadataDelete),
    ),
    // Attachments: Cinder checks no rule on reads (they are scoped to the project).
    ("post", "/attachments", Rule(A::AttachmentCreate)),
    ("get", "/attachments", Open),
    ("get", "/attachments/detail", Open),
    ("get", "/attachments/{attachment_id}", Open),
    (
        "put",
        "/attachments/{attachment_id}",
        Rule(A::AttachmentUpdate),
    ),
    (
        "delete",
        "/attachments/{attachment_id}",
        Rule(A::AttachmentDelete),
    ),
    // `os-complete` is the only attachment action.
    (
        "post",
        "/attachments/{attachment_id}/action",
        Rule(A::AttachmentComplete),
    ),
    // Types, extra specs, access.
    ("get", "/types", Rule(A::TypeGetAll)),
    ("post", "/types", Rule(A::TypeCreate)),
    ("get", "/types/default", Rule(A::TypeGet)),
    ("get", "/types/{type_id}", Rule(A::TypeGet)),
    ("put", "/types/{type_id}", Rule(A::TypeUpdate)),
    ("delete", "/types/{type_id}", Rule(A::TypeDelete)),
    (
        "get",
        "/types/{type_id}/extra_specs",
        Rule(A::ExtraSpecsIndex),
    ),
    (
        "post",
        "/types/{type_id}/extra_specs",
        Rule(A::ExtraSpecsCreate),
    ),
    (
        "get",
        "/types/{type_id}/extra_specs/{key}",
        Rule(A::ExtraSpecsShow),
    ),
    (
        "put",
        "/types/{type_id}/extra_specs/{key}",
        Rule(A::ExtraSpecsUpdate),
    ),
    (
        "delete",
        "/types/{type_id}/extra_specs/{key}",
        Rule(A::ExtraSpecsDelete),
    ),
    (
        "get",
        "/types/{type_id}/os-volume-type-access",
        Rule(A::TypeAccessList),
    ),
    ("post", "/types/{type_id}/action", InHandler),
    ("get", "/default-types", Rule(A::DefaultTypeGetAll)),
    (
        "get",
        "/default-types/{target_project}",
        ForProject(A::DefaultTypeGet),
    ),
    (
        "put",
        "/default-types/{target_project}",
        ForProject(A::DefaultTypeSet),
    ),
    (
        "delete",
        "/default-types/{target_project}",
        ForProject(A::DefaultTypeUnset),
    ),
    // Quotas and limits.
    (
        "get",
        "/os-quota-sets/{target_project}",
        ForProject(A::QuotaShow),
    ),
    (
        "put",
        "/os-quota-sets/{target_project}",
        ForProject(A::QuotaUpdate),
    ),
    (
        "delete",
        "/os-quota-sets/{target_project}",
        ForProject(A::QuotaDelete),
    ),
    (
        "get",
        "/os-quota-sets/{target_project}/defaults",
        ForProject(A::QuotaShow),
    ),
    (
        "get",
        "/os-quota-class-sets/{class}",
        Rule(A::QuotaClassGet),
    ),
    (
        "put",
        "/os-quota-class-sets/{class}",
        Rule(A::QuotaClassUpdate),
    ),
    ("get", "/limits", Open),
    // Catalogue.
    ("get", "/os-availability-zone", Open),
    ("get", "/os-services", Rule(A::ServicesIndex)),
    ("put", "/os-services/{action}", Rule(A::ServicesUpdate)),
    (
        "get",
        "/scheduler-stats/get_pools",
        Rule(A::SchedulerGetPools),
    ),
    ("get", "/capabilities/{host}", Rule(A::Capabilities)),
    ("post", "/os-volume-transfer", Rule(A::TransferCreate)),
    ("get", "/os-volume-transfer", Rule(A::TransferGetAll)),
    ("get", "/os-volume-transfer/detail", Rule(A::TransferGetAll)),
    (
        "get",
        "/os-volume-transfer/{transfer_id}",
        Rule(A::TransferGet),
    ),
    (
        "delete",
        "/os-volume-transfer/{transfer_id}",
        Rule(A::TransferDelete),
    ),
    (
        "post",
        "/os-volume-transfer/{transfer_id}/accept",
        Rule(A::TransferAccept),
    ),
    ("post", "/volume-transfers", Rule(A::TransferCreate)),
    ("get", "/volume-transfers", Rule(A::TransferGetAll)),
    ("get", "/volume-transfers/detail", Rule(A::TransferGetAll)),
    (
        "get",
        "/volume-transfers/{transfer_id}",
        Rule(A::TransferGet),
    ),
    (
        "delete",
        "/volume-transfers/{transfer_id}",
        Rule(A::TransferDelete),
    ),
    (
        "post",
        "/volume-transfers/{transfer_id}/accept",
        Rule(A::TransferAccept),
    ),
    ("get", "/types/{type_id}/encryption", Rule(A::EncryptionGet)),
    (
        "post",
        "/types/{type_id}/encryption",
        Rule(A::EncryptionCreate),
    ),
    (
        "get",
        "/types/{type_id}/encryption/{key}",
        Rule(A::EncryptionGet),
    ),
    (
        "put",
        "/types/{type_id}/encryption/{key}",
        Rule(A::EncryptionUpdate),
    ),
    (
        "delete",
        "/types/{type_id}/encryption/{key}",
        Rule(A::EncryptionDelete),
    ),
    // Group types (3.11): reads have no rule in Cinder.
    ("get", "/group_types", Open),
    ("post", "/group_types", Rule(A::GroupTypeCreate)),
    ("get", "/group_types/{group_type_id}", Open),
    (
        "put",
        "/group_types/{group_type_id}",
        Rule(A::GroupTypeUpdate),
    ),
    (
        "delete",
        "/group_types/{group_type_id}",
        Rule(A::GroupTypeDelete),
    ),
    (
        "get",
        "/group_types/{group_type_id}/group_specs",
        Rule(A::GroupSpecGetAll),
    ),
    (
        "post",
        "/group_types/{group_type_id}/group_specs",
        Rule(A::GroupSpecCreate),
    ),
    (
        "get",
        "/group_types/{group_type_id}/group_specs/{key}",
        Rule(A::GroupSpecGet),
    ),
    (
        "put",
        "/group_types/{group_type_id}/group_specs/{key}",
        Rule(A::GroupSpecUpdate),
    ),
    (
        "delete",
        "/group_types/{group_type_id}/group_specs/{key}",
        Rule(A::GroupSpecDelete),
    ),
    // Groups (3.13); the action's rule depends on the action.
    ("post", "/groups", Rule(A::GroupCreate)),
    ("get", "/groups", Rule(A::GroupGetAll)),
    ("get", "/groups/detail", Rule(A::GroupGetAll)),
    ("get", "/groups/{group_id}", Rule(A::GroupGet)),
    ("put", "/groups/{group_id}", Rule(A::GroupUpdate)),
    ("post", "/groups/{group_id}/action", InHandler),
    ("get", "/os-hosts", Rule(A::Hosts)),
    ("get", "/os-hosts/{host_name}", Rule(A::Hosts)),
    ("get", "/messages", Rule(A::MessageGetAll)),
    ("get", "/messages/{message_id}", Rule(A::MessageGet)),
    ("delete", "/messages/{message_id}", Rule(A::MessageDelete)),
    ("get", "/extensions", Open),
    ("get", "/resource_filters", Open),
    // QoS specs, with Cinder's choices: removing keys is a delete, listing a spec's
    // associations a `get_all`.
    ("get", "/qos-specs", Rule(A::QosGetAll)),
    ("post", "/qos-specs", Rule(A::QosCreate)),
    ("get", "/qos-specs/{qos_id}", Rule(A::QosGet)),
    ("put", "/qos-specs/{qos_id}", Rule(A::QosUpdate)),
    ("delete", "/qos-specs/{qos_id}", Rule(A::QosDelete)),
    ("put", "/qos-specs/{qos_id}/delete_keys", Rule(A::QosDelete)),
    (
        "get",
        "/qos-specs/{qos_id}/associations",
        Rule(A::QosGetAll),
    ),
    ("get", "/qos-specs/{qos_id}/associate", Rule(A::QosUpdate)),
    (
        "get",
        "/qos-specs/{qos_id}/disassociate",
        Rule(A::QosUpdate),
    ),
    (
        "get",
        "/qos-specs/{qos_id}/disassociate_all",
        Rule(A::QosUpdate),
    ),
];

/// [`GUARDS`] by method and path, built once.
static BY_ROUTE: LazyLock<HashMap<(&'static str, &'static str), Guard>> =
    LazyLock::new(|| GUARDS.iter().map(|(m, p, g)| ((*m, *p), *g)).collect());

/// The guard of a route, by its method and the pattern the router matched (mount point
/// included: `/v3/{project_id:...}/volumes/{volume_id}`).
pub fn guard_of(method: &str, pattern: &str) -> Option<Guard> {
    let method = method.to_ascii_lowercase();
    let find = |path: &str| BY_ROUTE.get(&(method.as_str(), path)).copied();
    let relative = ["/clinker/v1", "/v3"].iter().find_map(|m| {
        pattern
            .strip_prefix(m)
            .filter(|r| r.is_empty() || r.starts_with('/'))
    });
    let Some(relative) = relative else {
        return find(pattern);
    };
    // The volume and admin tables are mounted twice: with and without the project.
    let without_project = relative
        .strip_prefix("/{project_id")
        .and_then(|r| r.split_once('}'))
        .map(|(_, rest)| rest)
        .filter(|rest| rest.starts_with('/'));
    find(without_project.unwrap_or(relative))
        .or_else(|| find(if relative.is_empty() { "/v3" } else { relative }))
}

/// Checks the matched route's rule before its handler runs; a refusal is Cinder's 403.
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Err(e) = check_route(req.request()) {
        let (http, _) = req.into_parts();
        return Ok(ServiceResponse::new(http, e.error_response()).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

fn check_route(req: &HttpRequest) -> Result<(), ApiError> {
    // Unmatched paths go on to the default service's 404.
    let Some(pattern) = req.match_pattern() else {
        return Ok(());
    };
    // No guard: a method the path has no route for, which the router answers (404).
    // Every mounted route has a guard, which `every_mounted_route_has_exactly_one_guard`
    // and `tests/http_policy.rs` enforce.
    let Some(guard) = guard_of(req.method().as_str(), &pattern) else {
        return Ok(());
    };
    let (action, named) = match guard {
        Open | InHandler => return Ok(()),
        Rule(a) => (a, None),
        ForProject(a) => {
            let Some(p) = segment(&pattern, req.path(), "{target_project}") else {
                return Err(ApiError::Internal(format!(
                    "no target project in {pattern}"
                )));
            };
            (a, Some(p))
        }
    };
    let ctx = super::auth::context(req)?;
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Err(ApiError::Internal("no application state".into()));
    };
    let target = Target::project(named.unwrap_or(ctx.project_id.as_str()));
    Ok(state.policy.authorize(&ctx, action, &target)?)
}

/// The path's segment where the pattern has `name`. The router has not yet matched the
/// route's own segments when a scope's middleware runs, so `match_info` lacks them. Every
/// segment of our patterns is one path segment. The raw (undecoded) segment is fine for
/// a target project: a percent-encoded one can only fail to match the caller's project,
/// which refuses, never admits.
fn segment<'a>(pattern: &str, path: &'a str, name: &str) -> Option<&'a str> {
    let at = pattern.split('/').position(|s| s == name)?;
    let segments: Vec<&str> = path.split('/').collect();
    (segments.len() == pattern.split('/').count())
        .then(|| segments.get(at).copied())
        .flatten()
}

/// Checks `action` on the caller's own project (the handler-picked rules).
pub fn authorize(state: &AppState, ctx: &RequestContext, action: Action) -> Result<(), ApiError> {
    Ok(state
        .policy
        .authorize(ctx, action, &Target::project(&ctx.project_id))?)
}

/// Whether the caller passes `action` on its own project (admin-only fields and
/// filters: `volume_extension:volume_host_attribute`, ...).
pub fn allows(state: &AppState, ctx: &RequestContext, action: Action) -> bool {
    state
        .policy
        .allows(ctx, action, &Target::project(&ctx.project_id))
}

/// Checks `action` on one volume. A caller who is refused and cannot see the volume gets
/// the 404 a missing id gets, so a refusal does not tell another project's ids apart.
pub async fn authorize_on_volume(
    state: &AppState,
    ctx: &RequestContext,
    id: VolumeId,
    action: Action,
) -> Result<(), ApiError> {
    let Err(denied) = authorize(state, ctx, action) else {
        return Ok(());
    };
    state
        .api
        .send(GetVolume {
            ctx: ctx.clone(),
            id,
        })
        .await??;
    Err(denied)
}

impl From<Denied> for ApiError {
    fn from(d: Denied) -> Self {
        ApiError::Forbidden(d.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{GUARDS, Guard, guard_of, segment};
    use crate::http::{MOUNTS, Route};
    use crate::policy::Action;

    #[test]
    fn every_mounted_route_has_exactly_one_guard() {
        let mut seen = BTreeSet::new();
        for (m, p, _) in GUARDS {
            assert!(seen.insert((*m, *p)), "{m} {p} guarded twice");
        }
        let mut missing = Vec::new();
        for (mount, table) in MOUNTS {
            for Route { method, path } in *table {
                if !seen.remove(&(*method, *path)) && guard_of(method, path).is_none() {
                    missing.push(format!("{method} {mount}{path}"));
                }
            }
        }
        assert!(missing.is_empty(), "routes without a guard: {missing:?}");
        assert!(seen.is_empty(), "guards of no route: {seen:?}");
    }

    #[test]
    fn patterns_find_their_guard_with_or_without_the_project() {
        let v = Some(Guard::Rule(Action::VolumeGet));
        assert_eq!(guard_of("GET", "/v3/volumes/{volume_id}"), v);
        assert_eq!(
            guard_of("GET", "/v3/{project_id:[0-9a-f\\-]+}/volumes/{volume_id}"),
            v
        );
        assert_eq!(
            guard_of("GET", "/v3/{project_id:[0-9a-f\\-]+}"),
            Some(Guard::Open)
        );
        assert_eq!(guard_of("GET", "/v3/"), Some(Guard::Open));
        assert_eq!(guard_of("GET", "/v3"), Some(Guard::Open));
        assert_eq!(
            guard_of("GET", "/clinker/v1/volumes/{volume_id}/timeline"),
            v
        );
        assert_eq!(guard_of("PATCH", "/v3/volumes/{volume_id}"), None);
        assert_eq!(guard_of("GET", "/v3/nothing"), None);
    }

    #[test]
    fn the_target_project_is_read_from_the_path_by_the_pattern() {
        let p = "/v3/{project_id:[0-9a-f\\-]+}/os-quota-sets/{target_project}/defaults";
        let at = |path| segment(p, path, "{target_project}");
        assert_eq!(at("/v3/0b0b/os-quota-sets/0a0a/defaults"), Some("0a0a"));
        assert_eq!(at("/v3/0b0b/os-quota-sets/0a0a"), None);
        let p = "/v3/os-quota-sets/{target_project}";
        assert_eq!(
            segment(p, "/v3/os-quota-sets/0a0a", "{target_project}"),
            Some("0a0a")
        );
    }
}

//! The policy table: every route the router mounts, with the Cinder rule it is checked
//! against, called by A's member, A's reader (the `reader` role only), a member of
//! another project (B) and an admin (of a third project). What A's member, the reader
//! and the admin get follows from the rule's default (reader rules let the reader in,
//! member rules do not, admin rules let only the admin in); what B gets is the row's: B
//! gets 404 on A's resources, never 403, and exactly what it gets for an id that does not
//! exist, so ids do not leak (cinder-api.md §3.3). Resources are made by A's member
//! (types and QoS specs by the admin). A route without a row fails the test, and under a
//! policy where only its row's rule refuses, each route must answer 403 naming that rule.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use clinker::drivers::fake::FakeVerb;
use clinker::http::{MOUNTS, Route};
use clinker::policy::Action;
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
/// A reader (and nothing more) of project A.
const READER: &str = "rita:0a0a:reader";
/// Every call is made at this microversion, so that gated routes are reachable.
const MINOR: u16 = 70;
const WAIT: Duration = Duration::from_secs(10);

/// What a caller must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Any 2xx or 3xx.
    Ok,
    /// 403 `forbidden`: the rule refuses the caller.
    Forbidden,
    /// 404 `itemNotFound`: another project's resource.
    NotFound,
}

use Want::{Forbidden as Deny, NotFound as Hidden, Ok as Allow};

/// Who a rule lets in, by Cinder's default check strings (`cinder/policies/*.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// No rule: anyone with a token.
    Open,
    /// `role:admin or (role:reader and project_id:%(project_id)s)`.
    Reader,
    /// `role:admin or (role:member and project_id:%(project_id)s)`.
    Member,
    /// `admin_api`.
    Admin,
}

/// Cinder's default for each rule a route names, written out here rather than read from
/// `clinker::policy`, so that a wrong default in the crate fails this test.
fn class(rule: &str) -> Option<Class> {
    const READER: &[&str] = &[
        "volume:get",
        "volume:get_all",
        "volume:get_volume_metadata",
        "volume:get_snapshot",
        "volume:get_all_snapshots",
        "volume:get_snapshot_metadata",
        "volume_extension:type_get",
        "volume_extension:type_get_all",
        "volume_extension:types_extra_specs:index",
        "volume_extension:types_extra_specs:show",
        "volume_extension:quotas:show",
        "message:get",
        "message:get_all",
        "volume:get_all_transfers",
        "volume:get_transfer",
        "group:get",
        "group:get_all",
    ];
    const MEMBER: &[&str] = &[
        "volume:create",
        "volume:update",
        "volume:delete",
        "volume:create_volume_metadata",
        "volume:update_volume_metadata",
        "volume:delete_volume_metadata",
        "volume:extend",
        "volume:create_snapshot",
        "volume:update_snapshot",
        "volume:delete_snapshot",
        "volume:update_snapshot_metadata",
        "volume:delete_snapshot_metadata",
        "volume:attachment_create",
        "volume:attachment_update",
        "volume:attachment_delete",
        "volume:attachment_complete",
        "message:delete",
        "volume:create_transfer",
        "volume:accept_transfer",
        "volume:delete_transfer",
        "group:create",
        "group:update",
        "group:delete",
    ];
    const ADMIN: &[&str] = &[
        "volume:force_delete",
        "volume_extension:volume_admin_actions:reset_status",
        "volume_extension:volume_admin_actions:force_delete",
        "volume_extension:snapshot_admin_actions:reset_status",
        "volume_extension:snapshot_admin_actions:force_delete",
        "volume_extension:type_create",
        "volume_extension:type_update",
        "volume_extension:type_delete",
        "volume_extension:types_extra_specs:create",
        "volume_extension:types_extra_specs:update",
        "volume_extension:types_extra_specs:delete",
        "volume_extension:volume_type_access:get_all_for_type",
        "volume_extension:volume_type_access:addProjectAccess",
        "volume_extension:default_get_all",
        "volume_extension:default_get",
        "volume_extension:default_set_or_update",
        "volume_extension:default_unset",
        "volume_extension:quotas:update",
        "volume_extension:quotas:delete",
        "volume_extension:quota_classes:get",
        "volume_extension:quota_classes:update",
        "volume_extension:services:index",
        "volume_extension:services:update",
        "scheduler_extension:scheduler_stats:get_pools",
        "volume_extension:capabilities",
        "volume_extension:qos_specs_manage:get_all",
        "volume_extension:qos_specs_manage:get",
        "volume_extension:qos_specs_manage:create",
        "volume_extension:qos_specs_manage:update",
        "volume_extension:qos_specs_manage:delete",
        "volume_extension:hosts",
        "volume_extension:volume_type_encryption:get",
        "volume_extension:volume_type_encryption:create",
        "volume_extension:volume_type_encryption:update",
        "volume_extension:volume_type_encryption:delete",
        "group:group_types:create",
        "group:group_types:update",
        "group:group_types:delete",
        "group:group_types_specs:get",
        "group:group_types_specs:get_all",
        "group:group_types_specs:create",
        "group:group_types_specs:update",
        "group:group_types_specs:delete",
        "group:reset_status",
    ];
    if rule == OPEN {
        Some(Class::Open)
    } else if READER.contains(&rule) {
        Some(Class::Reader)
    } else if MEMBER.contains(&rule) {
        Some(Class::Member)
    } else if ADMIN.contains(&rule) {
        Some(Class::Admin)
    } else {
        None
    }
}

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
    /// A's pending transfer of a volume of its own.
    transfer: String,
    /// Two more of A's pending transfers and their keys, one for each accept route: an
    /// accept is any project member's call, so B's accept succeeds and uses one up.
    gifts: [(String, String); 2],
    /// A public type with encryption and no volumes.
    encrypted_type: String,
    /// A public group type with group spec `k1`, no group using it.
    group_type: String,
    /// A's group (of another group type).
    group: String,
}

/// The rule of a route Cinder checks no rule on.
const OPEN: &str = "";

/// One row: a route (method and path as in the router's table, mounted at `mount`), a
/// label for variants of one route, the body, the Cinder rule the route is checked
/// against, and what the member of another project (B) gets. What A's member, A's reader
/// and the admin get follows from the rule's class ([`class`]).
struct Row {
    mount: &'static str,
    method: &'static str,
    path: &'static str,
    label: &'static str,
    body: fn(&Fx) -> Option<Value>,
    rule: &'static str,
    b: Want,
    /// Set for a route outside the policy, whose outcome is the same for everyone.
    everyone: Option<Want>,
}

impl Row {
    /// What each of A's member, A's reader, B and the admin must get.
    fn wants(&self) -> Result<[Want; 4], String> {
        if let Some(w) = self.everyone {
            return Ok([w; 4]);
        }
        let (a, reader) = match class(self.rule) {
            Some(Class::Open | Class::Reader) => (Allow, Allow),
            Some(Class::Member) => (Allow, Deny),
            Some(Class::Admin) => (Deny, Deny),
            None => return Err(format!("{} has no class in this test", self.rule)),
        };
        Ok([a, reader, self.b, Allow])
    }
}

fn none(_: &Fx) -> Option<Value> {
    None
}

const fn row(method: &'static str, path: &'static str, rule: &'static str, b: Want) -> Row {
    Row {
        mount: "/v3",
        method,
        path,
        label: "",
        body: none,
        rule,
        b,
        everyone: None,
    }
}

const fn with(
    method: &'static str,
    path: &'static str,
    label: &'static str,
    body: fn(&Fx) -> Option<Value>,
    rule: &'static str,
    b: Want,
) -> Row {
    Row {
        mount: "/v3",
        method,
        path,
        label,
        body,
        rule,
        b,
        everyone: None,
    }
}

const fn top(mount: &'static str, path: &'static str) -> Row {
    Row {
        mount,
        ..row("get", path, OPEN, Allow)
    }
}

fn table() -> Vec<Row> {
    let meta = |_: &Fx| Some(json!({"metadata": {"k2": "v2"}}));
    let meta_key = |_: &Fx| Some(json!({"meta": {"k1": "v9"}}));
    vec![
        top("", "/"),
        // Metrics are not enabled in a test app: the same 404 for everyone, no policy.
        Row {
            mount: "",
            everyone: Some(Hidden),
            ..row("get", "/metrics", OPEN, Hidden)
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
            "volume:create",
            Allow,
        ),
        row("get", "/volumes", "volume:get_all", Allow),
        row("get", "/volumes/detail", "volume:get_all", Allow),
        row("get", "/volumes/summary", "volume:get_all", Allow),
        row("get", "/volumes/{volume_id}", "volume:get", Hidden),
        with(
            "put",
            "/volumes/{volume_id}",
            "",
            |_| Some(json!({"volume": {"name": "n"}})),
            "volume:update",
            Hidden,
        ),
        row("delete", "/volumes/{plain}", "volume:delete", Hidden),
        row(
            "delete",
            "/volumes/{plain}?force=true",
            "volume:force_delete",
            Hidden,
        ),
        row(
            "get",
            "/volumes/{volume_id}/metadata",
            "volume:get_volume_metadata",
            Hidden,
        ),
        with(
            "post",
            "/volumes/{volume_id}/metadata",
            "",
            meta,
            "volume:create_volume_metadata",
            Hidden,
        ),
        with(
            "put",
            "/volumes/{volume_id}/metadata",
            "",
            meta,
            "volume:update_volume_metadata",
            Hidden,
        ),
        row(
            "get",
            "/volumes/{volume_id}/metadata/{key}",
            "volume:get_volume_metadata",
            Hidden,
        ),
        with(
            "put",
            "/volumes/{volume_id}/metadata/{key}",
            "",
            meta_key,
            "volume:update_volume_metadata",
            Hidden,
        ),
        row(
            "delete",
            "/volumes/{volume_id}/metadata/{key}",
            "volume:delete_volume_metadata",
            Hidden,
        ),
        with(
            "post",
            "/volumes/{plain}/action",
            "os-extend",
            |_| Some(json!({"os-extend": {"new_size": 2}})),
            "volume:extend",
            Hidden,
        ),
        with(
            "post",
            "/volumes/{plain}/action",
            "os-set_bootable",
            |_| Some(json!({"os-set_bootable": {"bootable": true}})),
            "volume:update",
            Hidden,
        ),
        with(
            "post",
            "/volumes/{plain}/action",
            "os-reset_status",
            |_| Some(json!({"os-reset_status": {"status": "error"}})),
            "volume_extension:volume_admin_actions:reset_status",
            Hidden,
        ),
        with(
            "post",
            "/volumes/{plain}/action",
            "os-force_delete",
            |_| Some(json!({"os-force_delete": {}})),
            "volume_extension:volume_admin_actions:force_delete",
            Hidden,
        ),
        // Snapshots.
        with(
            "post",
            "/snapshots",
            "",
            |f| Some(json!({"snapshot": {"volume_id": f.plain}})),
            "volume:create_snapshot",
            Hidden,
        ),
        row("get", "/snapshots", "volume:get_all_snapshots", Allow),
        row(
            "get",
            "/snapshots/detail",
            "volume:get_all_snapshots",
            Allow,
        ),
        row(
            "get",
            "/snapshots/{snapshot_id}",
            "volume:get_snapshot",
            Hidden,
        ),
        with(
            "put",
            "/snapshots/{snapshot_id}",
            "",
            |_| Some(json!({"snapshot": {"name": "s"}})),
            "volume:update_snapshot",
            Hidden,
        ),
        row(
            "delete",
            "/snapshots/{snapshot_id}",
            "volume:delete_snapshot",
            Hidden,
        ),
        with(
            "post",
            "/snapshots/{snapshot_id}/action",
            "os-reset_status",
            |_| Some(json!({"os-reset_status": {"status": "error"}})),
            "volume_extension:snapshot_admin_actions:reset_status",
            Hidden,
        ),
        with(
            "post",
            "/snapshots/{snapshot_id}/action",
            "os-force_delete",
            |_| Some(json!({"os-force_delete": {}})),
            "volume_extension:snapshot_admin_actions:force_delete",
            Hidden,
        ),
        row(
            "get",
            "/snapshots/{snapshot_id}/metadata",
            "volume:get_snapshot_metadata",
            Hidden,
        ),
        with(
            "post",
            "/snapshots/{snapshot_id}/metadata",
            "",
            meta,
            "volume:update_snapshot_metadata",
            Hidden,
        ),
        with(
            "put",
            "/snapshots/{snapshot_id}/metadata",
            "",
            meta,
            "volume:update_snapshot_metadata",
            Hidden,
        ),
        row(
            "get",
            "/snapshots/{snapshot_id}/metadata/{key}",
            "volume:get_snapshot_metadata",
            Hidden,
        ),
        with(
            "put",
            "/snapshots/{snapshot_id}/metadata/{key}",
            "",
            meta_key,
            "volume:update_snapshot_metadata",
            Hidden,
        ),
        row(
            "delete",
            "/snapshots/{snapshot_id}/metadata/{key}",
            "volume:delete_snapshot_metadata",
            Hidden,
        ),
        // Attachments: Cinder checks no rule on reads, which are scoped to the project.
        with(
            "post",
            "/attachments",
            "",
            |f| {
                Some(
                    json!({"attachment": {"volume_uuid": f.plain, "instance_uuid": "7a3c1a52-7f36-4e8e-b7a4-4bd3ad1c2f33"}}),
                )
            },
            "volume:attachment_create",
            Hidden,
        ),
        row("get", "/attachments", OPEN, Allow),
        row("get", "/attachments/detail", OPEN, Allow),
        row("get", "/attachments/{attachment_id}", OPEN, Hidden),
        with(
            "put",
            "/attachments/{attachment_id}",
            "",
            |_| {
                Some(
                    json!({"attachment": {"connector": {"initiator": "iqn.2004-10.com.example:h1", "host": "h1"}}}),
                )
            },
            "volume:attachment_update",
            Hidden,
        ),
        row(
            "delete",
            "/attachments/{attachment_id}",
            "volume:attachment_delete",
            Hidden,
        ),
        with(
            "post",
            "/attachments/{attachment_id}/action",
            "os-complete",
            |_| Some(json!({"os-complete": null})),
            "volume:attachment_complete",
            Hidden,
        ),
        // Types: the private type is A's through its access list.
        row("get", "/types", "volume_extension:type_get_all", Allow),
        with(
            "post",
            "/types",
            "",
            |_| Some(json!({"volume_type": {"name": "created-by-policy"}})),
            "volume_extension:type_create",
            Deny,
        ),
        row("get", "/types/default", "volume_extension:type_get", Allow),
        row(
            "get",
            "/types/{type_id}",
            "volume_extension:type_get",
            Hidden,
        ),
        with(
            "put",
            "/types/{type_id}",
            "",
            |_| Some(json!({"volume_type": {"description": "d"}})),
            "volume_extension:type_update",
            Deny,
        ),
        row(
            "delete",
            "/types/{type_id}",
            "volume_extension:type_delete",
            Deny,
        ),
        row(
            "get",
            "/types/{type_id}/extra_specs",
            "volume_extension:types_extra_specs:index",
            Hidden,
        ),
        with(
            "post",
            "/types/{type_id}/extra_specs",
            "",
            |_| Some(json!({"extra_specs": {"k": "v"}})),
            "volume_extension:types_extra_specs:create",
            Deny,
        ),
        row(
            "get",
            "/types/{type_id}/extra_specs/{key}",
            "volume_extension:types_extra_specs:show",
            Hidden,
        ),
        with(
            "put",
            "/types/{type_id}/extra_specs/{key}",
            "",
            |_| Some(json!({"multiattach": "<is> False"})),
            "volume_extension:types_extra_specs:update",
            Deny,
        ),
        row(
            "delete",
            "/types/{type_id}/extra_specs/{key}",
            "volume_extension:types_extra_specs:delete",
            Deny,
        ),
        // Group types: reads open, everything else admin only.
        row("get", "/group_types", OPEN, Allow),
        with(
            "post",
            "/group_types",
            "",
            |_| Some(json!({"group_type": {"name": format!("g-{}", uuid::Uuid::new_v4())}})),
            "group:group_types:create",
            Deny,
        ),
        row("get", "/group_types/{group_type_id}", OPEN, Allow),
        with(
            "put",
            "/group_types/{group_type_id}",
            "",
            |_| Some(json!({"group_type": {"description": "d"}})),
            "group:group_types:update",
            Deny,
        ),
        row(
            "delete",
            "/group_types/{group_type_id}",
            "group:group_types:delete",
            Deny,
        ),
        row(
            "get",
            "/group_types/{group_type_id}/group_specs",
            "group:group_types_specs:get_all",
            Deny,
        ),
        with(
            "post",
            "/group_types/{group_type_id}/group_specs",
            "",
            |_| Some(json!({"group_specs": {"k2": "v2"}})),
            "group:group_types_specs:create",
            Deny,
        ),
        row(
            "get",
            "/group_types/{group_type_id}/group_specs/{key}",
            "group:group_types_specs:get",
            Deny,
        ),
        with(
            "put",
            "/group_types/{group_type_id}/group_specs/{key}",
            "",
            |_| Some(json!({"k1": "v9"})),
            "group:group_types_specs:update",
            Deny,
        ),
        row(
            "delete",
            "/group_types/{group_type_id}/group_specs/{key}",
            "group:group_types_specs:delete",
            Deny,
        ),
        // Groups: reads reader, writes member, reset_status admin.
        with(
            "post",
            "/groups",
            "",
            |f| {
                Some(
                    json!({"group": {"group_type": f.group_type, "volume_types": ["__DEFAULT__"]}}),
                )
            },
            "group:create",
            Allow,
        ),
        row("get", "/groups", "group:get_all", Allow),
        row("get", "/groups/detail", "group:get_all", Allow),
        row("get", "/groups/{group_id}", "group:get", Hidden),
        with(
            "put",
            "/groups/{group_id}",
            "",
            |_| Some(json!({"group": {"name": "n"}})),
            "group:update",
            Hidden,
        ),
        with(
            "post",
            "/groups/{group_id}/action",
            "delete",
            |_| Some(json!({"delete": {}})),
            "group:delete",
            Hidden,
        ),
        with(
            "post",
            "/groups/{group_id}/action",
            "reset_status",
            |_| Some(json!({"reset_status": {"status": "available"}})),
            "group:reset_status",
            Deny,
        ),
        // Type encryption: admin only, every call.
        row(
            "get",
            "/types/{type_id}/encryption",
            "volume_extension:volume_type_encryption:get",
            Deny,
        ),
        with(
            "post",
            "/types/{type_id}/encryption",
            "",
            |_| Some(json!({"encryption": {"provider": "luks", "control_location": "front-end"}})),
            "volume_extension:volume_type_encryption:create",
            Deny,
        ),
        row(
            "get",
            "/types/{encrypted_type}/encryption/{key}",
            "volume_extension:volume_type_encryption:get",
            Deny,
        ),
        with(
            "put",
            "/types/{encrypted_type}/encryption/{key}",
            "",
            |_| Some(json!({"encryption": {"cipher": "aes-xts-plain64"}})),
            "volume_extension:volume_type_encryption:update",
            Deny,
        ),
        row(
            "delete",
            "/types/{encrypted_type}/encryption/{key}",
            "volume_extension:volume_type_encryption:delete",
            Deny,
        ),
        row(
            "get",
            "/types/{type_id}/os-volume-type-access",
            "volume_extension:volume_type_access:get_all_for_type",
            Deny,
        ),
        with(
            "post",
            "/types/{type_id}/action",
            "addProjectAccess",
            |_| Some(json!({"addProjectAccess": {"project": "0d0d"}})),
            "volume_extension:volume_type_access:addProjectAccess",
            Deny,
        ),
        row(
            "get",
            "/default-types",
            "volume_extension:default_get_all",
            Deny,
        ),
        row(
            "get",
            "/default-types/{target_project}",
            "volume_extension:default_get",
            Deny,
        ),
        with(
            "put",
            "/default-types/{target_project}",
            "",
            // A public type: the private one is not the target project's to be given
            // as its default (tests/http_types.rs covers that refusal).
            |_| Some(json!({"default_type": {"volume_type": "__DEFAULT__"}})),
            "volume_extension:default_set_or_update",
            Deny,
        ),
        row(
            "delete",
            "/default-types/{target_project}",
            "volume_extension:default_unset",
            Deny,
        ),
        // Quotas: the target is the project in the path, so B may not read A's.
        row(
            "get",
            "/os-quota-sets/{target_project}",
            "volume_extension:quotas:show",
            Deny,
        ),
        with(
            "put",
            "/os-quota-sets/{target_project}",
            "",
            |_| Some(json!({"quota_set": {"volumes": 100_000}})),
            "volume_extension:quotas:update",
            Deny,
        ),
        row(
            "delete",
            "/os-quota-sets/{target_project}",
            "volume_extension:quotas:delete",
            Deny,
        ),
        row(
            "get",
            "/os-quota-sets/{target_project}/defaults",
            "volume_extension:quotas:show",
            Deny,
        ),
        row(
            "get",
            "/os-quota-class-sets/{class}",
            "volume_extension:quota_classes:get",
            Deny,
        ),
        with(
            "put",
            "/os-quota-class-sets/{class}",
            "",
            |_| Some(json!({"quota_class_set": {"volumes": 100_000}})),
            "volume_extension:quota_classes:update",
            Deny,
        ),
        row("get", "/limits", OPEN, Allow),
        // Catalogue.
        row("get", "/os-availability-zone", OPEN, Allow),
        row(
            "get",
            "/os-services",
            "volume_extension:services:index",
            Deny,
        ),
        with(
            "put",
            "/os-services/{action}",
            "enable",
            |_| Some(json!({"host": "n1@fake", "binary": "cinder-volume"})),
            "volume_extension:services:update",
            Deny,
        ),
        row(
            "get",
            "/scheduler-stats/get_pools",
            "scheduler_extension:scheduler_stats:get_pools",
            Deny,
        ),
        row(
            "get",
            "/capabilities/{host}",
            "volume_extension:capabilities",
            Deny,
        ),
        row("get", "/os-hosts", "volume_extension:hosts", Deny),
        row(
            "get",
            "/os-hosts/{host_name}",
            "volume_extension:hosts",
            Deny,
        ),
        row("get", "/messages", "message:get_all", Allow),
        row("get", "/messages/{message_id}", "message:get", Hidden),
        row("delete", "/messages/{message_id}", "message:delete", Hidden),
        row("get", "/extensions", OPEN, Allow),
        row("get", "/resource_filters", OPEN, Allow),
        // Transfers, on both routes: reading and offering are the owner's (and the
        // admin's); accepting is any member's, since the taker never owns the volume.
        with(
            "post",
            "/os-volume-transfer",
            "",
            |f| Some(json!({"transfer": {"volume_id": f.plain}})),
            "volume:create_transfer",
            Hidden,
        ),
        row(
            "get",
            "/os-volume-transfer",
            "volume:get_all_transfers",
            Allow,
        ),
        row(
            "get",
            "/os-volume-transfer/detail",
            "volume:get_all_transfers",
            Allow,
        ),
        row(
            "get",
            "/os-volume-transfer/{transfer_id}",
            "volume:get_transfer",
            Hidden,
        ),
        row(
            "delete",
            "/os-volume-transfer/{transfer_id}",
            "volume:delete_transfer",
            Hidden,
        ),
        with(
            "post",
            "/os-volume-transfer/{transfer_id}/accept",
            "",
            |f| Some(json!({"accept": {"auth_key": f.gifts[0].1}})),
            "volume:accept_transfer",
            Allow,
        ),
        with(
            "post",
            "/volume-transfers",
            "",
            |f| Some(json!({"transfer": {"volume_id": f.plain}})),
            "volume:create_transfer",
            Hidden,
        ),
        row(
            "get",
            "/volume-transfers",
            "volume:get_all_transfers",
            Allow,
        ),
        row(
            "get",
            "/volume-transfers/detail",
            "volume:get_all_transfers",
            Allow,
        ),
        row(
            "get",
            "/volume-transfers/{transfer_id}",
            "volume:get_transfer",
            Hidden,
        ),
        row(
            "delete",
            "/volume-transfers/{transfer_id}",
            "volume:delete_transfer",
            Hidden,
        ),
        with(
            "post",
            "/volume-transfers/{transfer_id}/accept",
            "",
            |f| Some(json!({"accept": {"auth_key": f.gifts[1].1}})),
            "volume:accept_transfer",
            Allow,
        ),
        // QoS specs: admin only.
        row(
            "get",
            "/qos-specs",
            "volume_extension:qos_specs_manage:get_all",
            Deny,
        ),
        with(
            "post",
            "/qos-specs",
            "",
            |_| Some(json!({"qos_specs": {"name": "created-by-policy", "consumer": "back-end"}})),
            "volume_extension:qos_specs_manage:create",
            Deny,
        ),
        row(
            "get",
            "/qos-specs/{qos_id}",
            "volume_extension:qos_specs_manage:get",
            Deny,
        ),
        with(
            "put",
            "/qos-specs/{qos_id}",
            "",
            |_| Some(json!({"qos_specs": {"total_iops_sec": "500"}})),
            "volume_extension:qos_specs_manage:update",
            Deny,
        ),
        row(
            "delete",
            "/qos-specs/{qos_id}",
            "volume_extension:qos_specs_manage:delete",
            Deny,
        ),
        // Cinder checks `delete` for removing keys and `get_all` for associations.
        with(
            "put",
            "/qos-specs/{qos_id}/delete_keys",
            "",
            |_| Some(json!({"keys": ["read_iops_sec"]})),
            "volume_extension:qos_specs_manage:delete",
            Deny,
        ),
        row(
            "get",
            "/qos-specs/{qos_id}/associations",
            "volume_extension:qos_specs_manage:get_all",
            Deny,
        ),
        row(
            "get",
            "/qos-specs/{qos_id}/associate?vol_type_id={type_id}",
            "volume_extension:qos_specs_manage:update",
            Deny,
        ),
        row(
            "get",
            "/qos-specs/{qos_id}/disassociate?vol_type_id={type_id}",
            "volume_extension:qos_specs_manage:update",
            Deny,
        ),
        row(
            "get",
            "/qos-specs/{qos_id}/disassociate_all",
            "volume_extension:qos_specs_manage:update",
            Deny,
        ),
        // Clinker's own.
        Row {
            mount: "/clinker/v1",
            ..row("get", "/volumes/{volume_id}/timeline", "volume:get", Hidden)
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
        path.replace("{plain}", "{volume_id}")
            .replace("{encrypted_type}", "{type_id}"),
    )
}

/// The URI a row calls: placeholders replaced by the fixture's ids (or `missing` in
/// place of each resource id, for the not-found comparison).
fn uri(r: &Row, f: &Fx, missing: Option<&str>) -> String {
    let id = |real: &str| missing.map_or_else(|| real.to_string(), str::to_string);
    let key = if r.path.contains("/encryption/") {
        "provider"
    } else if r.path.starts_with("/types") {
        "multiattach"
    } else {
        "k1"
    };
    // Each accept route takes its own transfer; the other calls share one.
    let transfer = match (r.path.ends_with("/accept"), r.path.starts_with("/os-")) {
        (true, true) => &f.gifts[0].0,
        (true, false) => &f.gifts[1].0,
        (false, _) => &f.transfer,
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
        .replace("{transfer_id}", &id(transfer))
        .replace("{encrypted_type}", &id(&f.encrypted_type))
        .replace("{group_type_id}", &id(&f.group_type))
        .replace("{group_id}", &id(&f.group))
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
    let mut offered = Vec::new();
    for _ in 0..3 {
        let given = volume(app).await?;
        let t = send(
            app,
            "POST",
            "/v3/volume-transfers",
            A,
            Some(json!({"transfer": {"volume_id": given}})),
        )
        .await?;
        let id = t["transfer"]["id"].as_str().ok_or("no transfer id")?;
        let key = t["transfer"]["auth_key"].as_str().ok_or("no auth key")?;
        offered.push((id.to_string(), key.to_string()));
    }
    let e = send(
        app,
        "POST",
        "/v3/types",
        ADMIN,
        Some(json!({"volume_type": {"name": format!("{name}-enc")}})),
    )
    .await?;
    let encrypted_type = e["volume_type"]["id"]
        .as_str()
        .ok_or("no type id")?
        .to_string();
    send(
        app,
        "POST",
        &format!("/v3/types/{encrypted_type}/encryption"),
        ADMIN,
        Some(json!({"encryption": {"provider": "luks", "control_location": "front-end"}})),
    )
    .await?;
    let g = send(
        app,
        "POST",
        "/v3/group_types",
        ADMIN,
        Some(json!({"group_type": {"name": format!("g-{}", uuid::Uuid::new_v4()), "group_specs": {"k1": "v1"}}})),
    )
    .await?;
    let group_type = g["group_type"]["id"]
        .as_str()
        .ok_or("no group type id")?
        .to_string();
    // Every fixture makes a group in A's project: no limit on them.
    send(
        app,
        "PUT",
        &format!("/v3/os-quota-sets/{A_PROJECT}"),
        ADMIN,
        Some(json!({"quota_set": {"groups": -1}})),
    )
    .await?;
    let other = send(
        app,
        "POST",
        "/v3/group_types",
        ADMIN,
        Some(json!({"group_type": {"name": format!("g-{}", uuid::Uuid::new_v4())}})),
    )
    .await?;
    let grouped = send(
        app,
        "POST",
        "/v3/groups",
        A,
        Some(json!({"group": {"group_type": other["group_type"]["id"], "volume_types": ["__DEFAULT__"]}})),
    )
    .await?;
    let group = grouped["group"]["id"]
        .as_str()
        .ok_or("no group id")?
        .to_string();
    let mut offered = offered.into_iter();
    let mut next = || offered.next().ok_or("a transfer is missing");
    Ok(Fx {
        volume: volume_id,
        plain,
        snapshot,
        attachment,
        type_id,
        qos,
        message,
        transfer: next()?.0,
        gifts: [next()?, next()?],
        encrypted_type,
        group_type,
        group,
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
async fn policy_table_holds_for_admin_member_reader_and_another_project() -> TestResult {
    let app = roomy().await?;
    let shared = fixture(&app).await?;
    let missing_id = "3f1e2d4c-5b6a-4789-8a9b-0c1d2e3f4a5b";
    let mut failures = Vec::new();
    for r in table() {
        let name = format!("{} {}{} {}", r.method, r.mount, r.path, r.label);
        let mutating = r.method != "get";
        let [a, reader, b, admin] = r.wants()?;
        if class(r.rule) == Some(Class::Admin) && b == Allow {
            failures.push(format!("{name}: an admin rule cannot let B in"));
        }
        // B and the reader first: a refusal changes nothing, so the shared fixture
        // stays valid.
        let (s, v) = call(&app, &r, &shared, B, None).await;
        if outcome(s) != Some(b) {
            failures.push(format!("{name}: B got {s} {v}, want {b:?}"));
        }
        if b == Want::NotFound {
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
        for (who, token, want) in [
            ("reader", READER, reader),
            ("A", A, a),
            ("admin", ADMIN, admin),
        ] {
            let f = if mutating && want == Want::Ok {
                fixture(&app).await?
            } else {
                shared.clone()
            };
            let (s, v) = call(&app, &r, &f, token, None).await;
            if outcome(s) != Some(want) {
                failures.push(format!("{name}: {who} got {s} {v}, want {want:?}"));
            }
            if want == Want::Forbidden && v["forbidden"]["message"] != refusal(r.rule) {
                failures.push(format!("{name}: {who} refused by another rule: {v}"));
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

/// Cinder's refusal naming `rule`.
fn refusal(rule: &str) -> String {
    format!("Policy doesn't allow {rule} to be performed.")
}

/// The role that, in [`probe_policy`], makes exactly `rule` refuse.
fn probe_role(rule: &str) -> Option<String> {
    Action::ALL
        .iter()
        .position(|a| a.name() == rule)
        .map(|i| format!("probe{i}"))
}

/// A policy file in which every rule lets everyone in except a caller holding that
/// rule's probe role.
fn probe_policy(dir: &std::path::Path) -> BoxResult<std::path::PathBuf> {
    let mut text = String::new();
    for a in Action::ALL {
        let role = probe_role(a.name()).ok_or("no probe role")?;
        text.push_str(&format!("\"{}\": \"not role:{role}\"\n", a.name()));
    }
    let path = dir.join("probe-policy.yaml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Each route checks the rule its row names, and nothing else first: under a policy where
/// only that rule refuses (the caller holding its probe role), the route answers 403
/// naming it. Routes without a rule refuse nobody, whatever the roles.
#[actix_web::test]
async fn each_route_checks_the_rule_its_row_names() -> TestResult {
    let dir = tempfile::tempdir()?;
    let policy = probe_policy(dir.path())?;
    let app = TestApp::with(|c| {
        c.quota.volumes = 100_000;
        c.quota.snapshots = 100_000;
        c.quota.gigabytes = 1_000_000;
        c.policy_file = Some(policy);
    })
    .await?;
    let f = fixture(&app).await?;
    let every: Vec<String> = Action::ALL
        .iter()
        .filter_map(|a| probe_role(a.name()))
        .collect();
    let mut failures = Vec::new();
    for r in table().into_iter().filter(|r| r.everyone.is_none()) {
        let name = format!("{} {}{} {}", r.method, r.mount, r.path, r.label);
        let roles = match probe_role(r.rule) {
            Some(role) => format!("member,reader,{role}"),
            None if r.rule == OPEN => format!("member,reader,{}", every.join(",")),
            None => {
                failures.push(format!("{name}: {} is not a rule Clinker knows", r.rule));
                continue;
            }
        };
        let token = format!("prober:{A_PROJECT}:{roles}");
        let (s, v) = call(&app, &r, &f, &token, None).await;
        let refused = s == StatusCode::FORBIDDEN;
        if r.rule == OPEN && refused {
            failures.push(format!("{name}: refused though it has no rule: {v}"));
        }
        if r.rule != OPEN && (!refused || v["forbidden"]["message"] != refusal(r.rule)) {
            failures.push(format!("{name}: want 403 naming {}, got {s} {v}", r.rule));
        }
    }
    assert!(
        failures.is_empty(),
        "{} probe failures:\n{}",
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

/// A policy file with a rule that does not parse stops `clinker serve` before it opens
/// anything, with a message naming the file, the rule and the position.
#[test]
fn a_bad_policy_file_refuses_to_start() -> TestResult {
    let dir = tempfile::tempdir()?;
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "\"volume:get\": \"@\"\n\"volume:create\": \"role:admin or\"\n",
    )?;
    let config = dir.path().join("clinker.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\npolicy_file = {:?}\n",
            dir.path().join("data").display().to_string(),
            policy.display().to_string()
        ),
    )?;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_clinker"))
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("CLINKER_DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if std::time::Instant::now() > deadline {
            child.kill()?;
            return Err("clinker serve started with a bad policy file".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().ok_or("no stderr")?, &mut stderr)?;
    assert!(!status.success(), "{stderr}");
    let want = format!(
        "policy_file {}: rule 'volume:create': the rule ends where a check was expected at position 14",
        policy.display()
    );
    assert!(stderr.contains(&want), "{stderr}");
    assert!(
        !dir.path().join("data").join("clinker.db").exists(),
        "no database is made before the policy is read"
    );
    Ok(())
}

/// Admin-only parts of answers follow their own rules, not a fixed admin flag: with
/// `read_sensitive` and `access_types_qos_specs_id` given to members, A's member sees every
/// extra spec and the QoS id; with `volume:get_all` taken from readers, the reader is
/// refused the list but members are not.
#[actix_web::test]
async fn admin_only_fields_and_overridden_rules_follow_the_policy_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "\
volume_extension:types_extra_specs:read_sensitive: role:member
volume_extension:access_types_qos_specs_id: role:member
volume:get_all: role:admin or (role:member and project_id:%(project_id)s)
",
    )?;
    let overridden = TestApp::with(|c| c.policy_file = Some(policy)).await?;
    let defaults = TestApp::new().await?;
    for (app, member_sees_all) in [(&overridden, true), (&defaults, false)] {
        let t = send(app, "POST", "/v3/types", ADMIN, Some(json!({"volume_type": {"name": "gold", "extra_specs": {"capabilities:tier": "gold", "multiattach": "<is> True"}}}))).await?;
        let id = t["volume_type"]["id"].as_str().ok_or("no type id")?;
        for token in [A, ADMIN] {
            let sees_all = token == ADMIN || member_sees_all;
            let v = send(app, "GET", &format!("/v3/types/{id}"), token, None).await?;
            let specs = &v["volume_type"]["extra_specs"];
            assert_eq!(specs["multiattach"], "<is> True", "{token}: {v}");
            assert_eq!(
                specs.get("capabilities:tier").is_some(),
                sees_all,
                "{token}: {v}"
            );
            assert_eq!(
                v["volume_type"].get("qos_specs_id").is_some(),
                sees_all,
                "{token}: {v}"
            );
            let v = send(
                app,
                "GET",
                &format!("/v3/types/{id}/extra_specs"),
                token,
                None,
            )
            .await?;
            assert_eq!(
                v["extra_specs"].get("capabilities:tier").is_some(),
                sees_all,
                "{v}"
            );
        }
    }
    let (s, v, _) = overridden
        .call(at(MINOR, req("GET", "/v3/volumes", READER)))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["forbidden"]["message"], refusal("volume:get_all"));
    let (s, v, _) = overridden
        .call(at(MINOR, req("GET", "/v3/volumes", A)))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v, _) = defaults
        .call(at(MINOR, req("GET", "/v3/volumes", READER)))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    Ok(())
}

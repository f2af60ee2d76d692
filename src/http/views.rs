//! Cinder's JSON shapes for volumes (cinder-api.md §4.2).

use actix_web::HttpRequest;
use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use super::version::ApiVersion;
use crate::db::volumes::VolumeRecord;
use crate::model::RequestContext;

/// Naive UTC with microseconds and no zone, as Cinder writes it.
pub fn time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// Optional time: `null` when unset.
pub fn opt_time(t: Option<NaiveDateTime>) -> Value {
    t.map_or(Value::Null, |t| Value::String(time(t)))
}

/// Where links point: the base URL and whether the request path named the project.
#[derive(Debug, Clone)]
pub struct LinkBase {
    base: String,
    project: Option<String>,
}

impl LinkBase {
    /// From the request: `<scheme>://<host>` and the `{project_id}` segment, if any.
    pub fn of(req: &HttpRequest) -> Self {
        let info = req.connection_info();
        Self {
            base: format!("{}://{}", info.scheme(), info.host()),
            project: req.match_info().get("project_id").map(str::to_string),
        }
    }

    fn prefix(&self) -> String {
        match &self.project {
            Some(p) => format!("/{p}"),
            None => String::new(),
        }
    }

    /// `self` and `bookmark` links of a resource.
    pub fn links(&self, collection: &str, id: &str) -> Value {
        let p = self.prefix();
        json!([
            {"rel": "self", "href": format!("{}/v3{p}/{collection}/{id}", self.base)},
            {"rel": "bookmark", "href": format!("{}{p}/{collection}/{id}", self.base)},
        ])
    }

    /// The URL of a collection path under `/v3`.
    pub fn collection(&self, path: &str) -> String {
        format!("{}/v3{}/{path}", self.base, self.prefix())
    }
}

/// Which variant of the detail view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Create and update responses: no extension attributes.
    Plain,
    /// Show and the detail list: with `os-vol-*` attributes.
    Extended,
}

/// The summary view (`GET /volumes`).
pub fn volume_summary(v: &VolumeRecord, links: &LinkBase) -> Value {
    json!({
        "id": v.row.id,
        "name": v.row.display_name,
        "links": links.links("volumes", &v.row.id),
    })
}

/// The detail view.
pub fn volume_detail(
    v: &VolumeRecord,
    ctx: &RequestContext,
    version: ApiVersion,
    links: &LinkBase,
    detail: Detail,
) -> Value {
    let r = &v.row;
    let mut o = Map::new();
    o.insert("id".into(), json!(r.id));
    o.insert("name".into(), json!(r.display_name));
    o.insert("description".into(), json!(r.display_description));
    o.insert("status".into(), json!(r.status));
    o.insert("size".into(), json!(r.size));
    o.insert("availability_zone".into(), json!(r.availability_zone));
    o.insert("created_at".into(), json!(time(r.created_at)));
    o.insert("updated_at".into(), opt_time(r.updated_at));
    o.insert("volume_type".into(), json!(v.type_name));
    o.insert("snapshot_id".into(), json!(r.snapshot_id));
    o.insert("source_volid".into(), json!(r.source_volid));
    // The visible admin keys override user keys of the same name (Cinder does the same).
    let mut metadata = v.metadata.clone();
    for key in ["readonly", "attached_mode"] {
        if let Some(val) = v.admin_metadata.get(key) {
            metadata.insert(key.to_string(), val.clone());
        }
    }
    o.insert("metadata".into(), json!(metadata));
    o.insert("user_id".into(), json!(r.user_id));
    o.insert(
        "bootable".into(),
        json!(if r.bootable { "true" } else { "false" }),
    );
    o.insert("encrypted".into(), json!(false));
    o.insert("multiattach".into(), json!(r.multiattach));
    o.insert("replication_status".into(), Value::Null);
    o.insert("consistencygroup_id".into(), Value::Null);
    let attachments: Vec<Value> = v
        .attachments
        .iter()
        .filter(|a| a.attach_status == "attached")
        .map(|a| {
            json!({
                "id": r.id,
                "attachment_id": a.id,
                "volume_id": r.id,
                "server_id": a.instance_uuid,
                "host_name": if ctx.is_admin { json!(a.attached_host) } else { Value::Null },
                "device": a.mountpoint,
                "attached_at": opt_time(a.attach_time),
            })
        })
        .collect();
    o.insert("attachments".into(), Value::Array(attachments));
    o.insert("links".into(), links.links("volumes", &r.id));
    if ctx.is_admin {
        o.insert("migration_status".into(), Value::Null);
    }
    if version.at_least(3, 13) {
        o.insert("group_id".into(), Value::Null);
    }
    if version.at_least(3, 21) && ctx.is_admin {
        o.insert("provider_id".into(), Value::Null);
    }
    if version.at_least(3, 48) {
        o.insert("shared_targets".into(), json!(false));
        o.insert("service_uuid".into(), Value::Null);
    }
    if version.at_least(3, 61) && ctx.is_admin {
        o.insert("cluster_name".into(), Value::Null);
    }
    if version.at_least(3, 63) {
        o.insert("volume_type_id".into(), json!(r.volume_type_id));
    }
    if version.at_least(3, 65) {
        o.insert("consumes_quota".into(), json!(true));
    }
    if detail == Detail::Extended {
        o.insert("os-vol-tenant-attr:tenant_id".into(), json!(r.project_id));
        if ctx.is_admin {
            o.insert("os-vol-host-attr:host".into(), json!(r.host));
            o.insert("os-vol-mig-status-attr:migstat".into(), Value::Null);
            o.insert("os-vol-mig-status-attr:name_id".into(), Value::Null);
        }
    }
    Value::Object(o)
}

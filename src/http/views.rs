//! Cinder's JSON shapes for volumes (cinder-api.md §4.2).
//!
//! The volume views are typed structs serialized straight into the response body: no
//! `serde_json::Value` tree per volume. Their fields are declared in the byte order of
//! their keys, the order the `Value` maps (`BTreeMap`s) wrote them in before, so the
//! bytes of an answer did not change with the switch.

use std::collections::BTreeMap;
use std::fmt;

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use chrono::{Datelike, NaiveDateTime, Timelike};
use serde::ser::{Serialize, SerializeSeq, Serializer};
use serde_json::Value;

use super::version::ApiVersion;
use crate::db::rows::AttachmentRow;
use crate::db::volumes::VolumeRecord;
use crate::model::{Host, RequestContext};

/// A time as Cinder writes it: naive UTC, microseconds, no zone
/// (`2026-01-31T12:00:00.000000`). Written digit by digit, not through chrono: its
/// `format` parses the format string again for every call, which showed in the list
/// profile, and even its items parsed once (`format_with_items`) took 128 ns a time
/// against these digits' 29 ns (`cargo bench --bench timestamps`, BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time(pub NaiveDateTime);

impl Time {
    /// The 26 bytes, or `None` for what the fixed layout cannot hold (a year outside
    /// 0..=9999, a leap second), which chrono then writes.
    fn digits(self) -> Option<[u8; 26]> {
        let t = self.0;
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        let nanos = t.nanosecond();
        if nanos >= 1_000_000_000 {
            return None;
        }
        let mut b = *b"0000-00-00T00:00:00.000000";
        let mut put = |at: usize, width: usize, mut n: u32| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, t.month());
        put(8, 2, t.day());
        put(11, 2, t.hour());
        put(14, 2, t.minute());
        put(17, 2, t.second());
        put(20, 6, nanos / 1_000);
        Some(b)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.digits() {
            // Only ASCII digits and separators were written.
            Some(b) => f.write_str(std::str::from_utf8(&b).map_err(|_| fmt::Error)?),
            None => write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.6f")),
        }
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Naive UTC with microseconds and no zone, as Cinder writes it.
pub fn time(t: NaiveDateTime) -> String {
    Time(t).to_string()
}

/// Optional time: `null` when unset.
pub fn opt_time(t: Option<NaiveDateTime>) -> Value {
    t.map_or(Value::Null, |t| Value::String(time(t)))
}

/// A JSON body written straight into a buffer of `capacity` bytes (what the answer is
/// expected to need, so a large page is not copied by repeated growth). Errors as
/// actix-web's `json` does.
pub fn json_response<T: Serialize>(
    mut builder: HttpResponseBuilder,
    body: &T,
    capacity: usize,
) -> HttpResponse {
    let mut buf = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut buf, body) {
        Ok(()) => builder.insert_header(ContentType::json()).body(buf),
        Err(e) => HttpResponse::from_error(actix_web::error::JsonPayloadError::Serialize(e)),
    }
}

/// Where links point: the base URL and whether the request path named the project.
#[derive(Debug, Clone)]
pub struct LinkBase {
    base: String,
    /// `/{project_id}` when the path named the project, else empty.
    prefix: String,
}

impl LinkBase {
    /// From the request: `<scheme>://<host>` and the `{project_id}` segment, if any.
    pub fn of(req: &HttpRequest) -> Self {
        let info = req.connection_info();
        Self {
            base: format!("{}://{}", info.scheme(), info.host()),
            prefix: req
                .match_info()
                .get("project_id")
                .map(|p| format!("/{p}"))
                .unwrap_or_default(),
        }
    }

    /// `self` and `bookmark` links of a resource.
    pub fn links(&self, collection: &str, id: &str) -> Value {
        let links = Links {
            base: self,
            collection,
            id,
        };
        serde_json::to_value(links).unwrap_or(Value::Null)
    }

    /// The URL of a collection path under `/v3`.
    pub fn collection(&self, path: &str) -> String {
        format!("{}/v3{}/{path}", self.base, self.prefix)
    }
}

/// The `self` and `bookmark` links of a resource, written without building their URLs
/// as strings first.
#[derive(Debug, Clone, Copy)]
pub struct Links<'a> {
    base: &'a LinkBase,
    collection: &'a str,
    id: &'a str,
}

/// One link's URL: `<base>[/v3]<prefix>/<collection>/<id>`.
struct Href<'a>(&'a Links<'a>, bool);

impl fmt::Display for Href<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Links {
            base,
            collection,
            id,
        } = self.0;
        let v3 = if self.1 { "/v3" } else { "" };
        write!(f, "{}{v3}{}/{collection}/{id}", base.base, base.prefix)
    }
}

/// `{"href": ..., "rel": ...}`, keys in the order a `Value` map writes them.
#[derive(serde::Serialize)]
struct Link<'a> {
    #[serde(serialize_with = "serialize_display")]
    href: Href<'a>,
    rel: &'static str,
}

fn serialize_display<T: fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl Serialize for Links<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(2))?;
        seq.serialize_element(&Link {
            href: Href(self, true),
            rel: "self",
        })?;
        seq.serialize_element(&Link {
            href: Href(self, false),
            rel: "bookmark",
        })?;
        seq.end()
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

/// `null`, for keys Cinder always sends without a value here.
#[derive(Debug, Clone, Copy)]
pub struct Null;

impl Serialize for Null {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

/// `Some(Null)` when `present`: a key sent as `null`, or left out.
fn null_if(present: bool) -> Option<Null> {
    present.then_some(Null)
}

/// The summary view (`GET /volumes`).
#[derive(Debug, serde::Serialize)]
pub struct VolumeSummary<'a> {
    id: &'a str,
    links: Links<'a>,
    name: Option<&'a str>,
}

impl<'a> VolumeSummary<'a> {
    /// The view of one volume.
    pub fn new(v: &'a VolumeRecord, links: &'a LinkBase) -> Self {
        Self {
            id: &v.row.id,
            links: Links {
                base: links,
                collection: "volumes",
                id: &v.row.id,
            },
            name: v.row.display_name.as_deref(),
        }
    }
}

/// The detail view (show, the detail list, and without the extension attributes create
/// and update). The keys that depend on the caller or the microversion are `Option`s,
/// left out when `None`; fields are in the byte order of their keys.
#[derive(Debug, serde::Serialize)]
pub struct VolumeDetail<'a> {
    attachments: Attachments<'a>,
    availability_zone: &'a str,
    bootable: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_name: Option<Null>,
    consistencygroup_id: Null,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumes_quota: Option<bool>,
    created_at: Time,
    description: Option<&'a str>,
    encrypted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    group_id: Option<Null>,
    id: &'a str,
    links: Links<'a>,
    metadata: Metadata<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    migration_status: Option<Null>,
    multiattach: bool,
    name: Option<&'a str>,
    #[serde(
        rename = "os-vol-host-attr:host",
        skip_serializing_if = "Option::is_none"
    )]
    host: Option<Option<&'a str>>,
    #[serde(
        rename = "os-vol-mig-status-attr:migstat",
        skip_serializing_if = "Option::is_none"
    )]
    migstat: Option<Null>,
    #[serde(
        rename = "os-vol-mig-status-attr:name_id",
        skip_serializing_if = "Option::is_none"
    )]
    name_id: Option<Null>,
    #[serde(
        rename = "os-vol-tenant-attr:tenant_id",
        skip_serializing_if = "Option::is_none"
    )]
    tenant_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_id: Option<Null>,
    replication_status: Null,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_uuid: Option<Null>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_targets: Option<bool>,
    size: i64,
    snapshot_id: Option<crate::model::SnapshotId>,
    source_volid: Option<&'a str>,
    status: &'a str,
    updated_at: Option<Time>,
    user_id: &'a str,
    volume_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    volume_type_id: Option<&'a str>,
}

impl<'a> VolumeDetail<'a> {
    /// The view of one volume for this caller and microversion.
    pub fn new(
        v: &'a VolumeRecord,
        ctx: &RequestContext,
        version: ApiVersion,
        links: &'a LinkBase,
        detail: Detail,
    ) -> Self {
        let r = &v.row;
        let admin = ctx.is_admin;
        let extended = detail == Detail::Extended;
        let from = |minor: u16| version.at_least(3, minor);
        Self {
            attachments: Attachments {
                rows: &v.attachments,
                volume_id: &r.id,
                admin,
            },
            availability_zone: &r.availability_zone,
            bootable: if r.bootable { "true" } else { "false" },
            cluster_name: null_if(from(61) && admin),
            consistencygroup_id: Null,
            consumes_quota: from(65).then_some(true),
            created_at: Time(r.created_at),
            description: r.display_description.as_deref(),
            encrypted: v.encrypted,
            group_id: null_if(from(13)),
            id: &r.id,
            links: Links {
                base: links,
                collection: "volumes",
                id: &r.id,
            },
            metadata: Metadata {
                user: &v.metadata,
                admin: &v.admin_metadata,
            },
            migration_status: null_if(admin),
            multiattach: r.multiattach,
            name: r.display_name.as_deref(),
            host: (extended && admin).then_some(r.host.as_ref().map(Host::as_str)),
            migstat: null_if(extended && admin),
            name_id: null_if(extended && admin),
            tenant_id: extended.then_some(r.project_id.as_str()),
            provider_id: null_if(from(21) && admin),
            replication_status: Null,
            service_uuid: null_if(from(48)),
            shared_targets: from(48).then_some(false),
            size: r.size,
            snapshot_id: r.snapshot_id,
            source_volid: r.source_volid.as_deref(),
            status: r.status.as_str(),
            updated_at: r.updated_at.map(Time),
            user_id: &r.user_id,
            volume_type: &v.type_name,
            volume_type_id: from(63).then_some(r.volume_type_id.as_str()),
        }
    }
}

/// The admin keys shown over the user's metadata (Cinder shows them the same way).
const VISIBLE_ADMIN_KEYS: [&str; 2] = ["readonly", "attached_mode"];

/// User metadata with the visible admin keys overriding user keys of the same name.
#[derive(Debug)]
struct Metadata<'a> {
    user: &'a BTreeMap<String, String>,
    admin: &'a BTreeMap<String, String>,
}

impl Serialize for Metadata<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if !VISIBLE_ADMIN_KEYS
            .iter()
            .any(|k| self.admin.contains_key(*k))
        {
            return s.collect_map(self.user);
        }
        let mut merged: BTreeMap<&str, &str> = self
            .user
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        for key in VISIBLE_ADMIN_KEYS {
            if let Some(val) = self.admin.get(key) {
                merged.insert(key, val);
            }
        }
        s.collect_map(merged)
    }
}

/// The attached attachments of a volume, oldest first.
#[derive(Debug)]
struct Attachments<'a> {
    rows: &'a [AttachmentRow],
    volume_id: &'a str,
    admin: bool,
}

/// One attachment as the volume views show it.
#[derive(serde::Serialize)]
struct AttachmentView<'a> {
    attached_at: Option<Time>,
    attachment_id: &'a str,
    device: Option<&'a str>,
    host_name: Option<&'a str>,
    id: &'a str,
    server_id: Option<&'a str>,
    volume_id: &'a str,
}

impl Serialize for Attachments<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.rows
                .iter()
                .filter(|a| a.attach_status == crate::model::AttachStatus::Attached)
                .map(|a| AttachmentView {
                    attached_at: a.attach_time.map(Time),
                    attachment_id: &a.id,
                    device: a.mountpoint.as_deref(),
                    host_name: a.attached_host.as_deref().filter(|_| self.admin),
                    id: self.volume_id,
                    server_id: a.instance_uuid.as_deref(),
                    volume_id: self.volume_id,
                }),
        )
    }
}

/// `{"volume": ...}`: show, create and update.
#[derive(Debug, serde::Serialize)]
pub struct OneVolume<'a> {
    /// The detail view.
    pub volume: VolumeDetail<'a>,
}

/// A list page: `count` (with `with_count`), the volumes, and the `next` link when the
/// page is full.
#[derive(Debug, serde::Serialize)]
pub struct VolumePage<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<i64>,
    volumes: PageItems<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    volumes_links: Option<[NextLink; 1]>,
}

/// The `next` link of a list page.
#[derive(Debug, serde::Serialize)]
struct NextLink {
    href: String,
    rel: &'static str,
}

/// The volumes of a page, each viewed as it is written.
#[derive(Debug)]
struct PageItems<'a> {
    items: &'a [VolumeRecord],
    ctx: &'a RequestContext,
    version: ApiVersion,
    links: &'a LinkBase,
    detail: bool,
}

impl Serialize for PageItems<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.items.len()))?;
        for v in self.items {
            if self.detail {
                seq.serialize_element(&VolumeDetail::new(
                    v,
                    self.ctx,
                    self.version,
                    self.links,
                    Detail::Extended,
                ))?;
            } else {
                seq.serialize_element(&VolumeSummary::new(v, self.links))?;
            }
        }
        seq.end()
    }
}

impl<'a> VolumePage<'a> {
    /// A page of `items`: detail views (extended) or summaries; `next` is the URL of
    /// the following page, if there is one.
    pub fn new(
        items: &'a [VolumeRecord],
        ctx: &'a RequestContext,
        version: ApiVersion,
        links: &'a LinkBase,
        detail: bool,
        next: Option<String>,
        count: Option<i64>,
    ) -> Self {
        Self {
            count,
            volumes: PageItems {
                items,
                ctx,
                version,
                links,
                detail,
            },
            volumes_links: next.map(|href| [NextLink { href, rel: "next" }]),
        }
    }

    /// About how many bytes the page takes as JSON.
    pub fn size_hint(&self) -> usize {
        let per = if self.volumes.detail { 1_200 } else { 300 };
        256 + self.volumes.items.len() * per
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RequestId;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, nanos: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_nano_opt(h, mi, s, nanos))
            .unwrap_or_default()
    }

    #[test]
    fn times_match_chrono() {
        for t in [
            at(2026, 12, 3, 7, 38, 29, 191_898_000),
            at(2026, 1, 1, 0, 0, 0, 0),
            at(1999, 12, 31, 23, 59, 59, 999_999_999),
            at(2016, 12, 31, 23, 59, 59, 1_500_000_000),
            at(0, 1, 1, 0, 0, 0, 7_000),
            at(-44, 3, 15, 12, 0, 0, 0),
            at(12345, 6, 7, 8, 9, 10, 11_000),
        ] {
            let want = t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
            assert_eq!(time(t), want);
            assert_eq!(
                serde_json::to_string(&Time(t)).ok(),
                Some(format!("\"{want}\""))
            );
        }
    }

    fn record(with_extras: bool) -> VolumeRecord {
        let t = at(2026, 12, 3, 7, 38, 29, 191_898_000);
        let mut v = VolumeRecord {
            type_name: "fast \"ssd\"".into(),
            ..VolumeRecord::default()
        };
        v.row.id = "3f0c0c5e-0000-4000-8000-000000000001".into();
        v.row.project_id = "p1".into();
        v.row.user_id = "u1".into();
        v.row.status = crate::model::VolumeStatus::InUse;
        v.row.availability_zone = "nova".into();
        v.row.volume_type_id = "t1".into();
        v.row.size = 3;
        v.row.created_at = t;
        if with_extras {
            v.row.display_name = Some("né\n".into());
            v.row.host = Some(Host::new("n1", "b", "p"));
            v.row.bootable = true;
            v.row.updated_at = Some(t);
            v.metadata =
                BTreeMap::from([("readonly".into(), "user".into()), ("a".into(), "1".into())]);
            v.admin_metadata = BTreeMap::from([
                ("readonly".into(), "True".into()),
                ("hidden".into(), "x".into()),
            ]);
            use crate::model::AttachStatus::{Attached, Detached};
            for (i, status) in [Attached, Detached, Attached].into_iter().enumerate() {
                v.attachments.push(AttachmentRow {
                    id: format!("a{i}"),
                    volume_id: v.row.id.clone(),
                    instance_uuid: Some(format!("s{i}")),
                    attached_host: (i == 0).then(|| "h".to_string()),
                    mountpoint: Some("/dev/vdb".into()),
                    attach_status: status,
                    attach_time: (i == 2).then_some(t),
                    attach_mode: Some("rw".into()),
                    connection_info: None,
                    connector: None,
                    detach_time: None,
                    created_at: t,
                    updated_at: None,
                    project_id: "p1".into(),
                });
            }
        }
        v
    }

    /// Every key is written in the order a `Value` map would write it, so the typed
    /// views give the bytes the `Value` trees gave.
    #[test]
    fn views_write_keys_in_value_order() -> Result<(), serde_json::Error> {
        let links = LinkBase {
            base: "http://h:1".into(),
            prefix: "/p1".into(),
        };
        for extras in [false, true] {
            let v = record(extras);
            for is_admin in [false, true] {
                let ctx = RequestContext {
                    user_id: "u1".into(),
                    project_id: "p1".into(),
                    is_admin,
                    roles: Vec::new(),
                    request_id: RequestId::new(),
                };
                for minor in [0, 13, 21, 48, 61, 63, 65, 70] {
                    let ver = ApiVersion::new(3, minor);
                    for detail in [Detail::Plain, Detail::Extended] {
                        let volume = VolumeDetail::new(&v, &ctx, ver, &links, detail);
                        let text = serde_json::to_string(&OneVolume { volume })?;
                        let value: Value = serde_json::from_str(&text)?;
                        assert_eq!(serde_json::to_string(&value)?, text);
                    }
                    let items = std::slice::from_ref(&v);
                    for detail in [false, true] {
                        let page = VolumePage::new(
                            items,
                            &ctx,
                            ver,
                            &links,
                            detail,
                            Some("n".into()),
                            Some(1),
                        );
                        let text = serde_json::to_string(&page)?;
                        let value: Value = serde_json::from_str(&text)?;
                        assert_eq!(serde_json::to_string(&value)?, text);
                    }
                }
            }
        }
        Ok(())
    }

    #[test]
    fn detail_view_shows_admin_keys_and_attached_attachments() -> Result<(), serde_json::Error> {
        let links = LinkBase {
            base: "http://h:1".into(),
            prefix: String::new(),
        };
        let v = record(true);
        let ctx = RequestContext {
            user_id: "u1".into(),
            project_id: "p1".into(),
            is_admin: false,
            roles: Vec::new(),
            request_id: RequestId::new(),
        };
        let view = VolumeDetail::new(&v, &ctx, ApiVersion::new(3, 0), &links, Detail::Extended);
        let got = serde_json::to_value(&view)?;
        assert_eq!(
            got["metadata"],
            serde_json::json!({"a": "1", "readonly": "True"})
        );
        assert_eq!(got["bootable"], "true");
        assert_eq!(got["updated_at"], "2026-12-03T07:38:29.191898");
        assert_eq!(got["os-vol-tenant-attr:tenant_id"], "p1");
        assert!(got.get("os-vol-host-attr:host").is_none());
        assert!(got.get("migration_status").is_none());
        let atts = got["attachments"].as_array().map(Vec::len);
        assert_eq!(atts, Some(2));
        assert_eq!(got["attachments"][0]["host_name"], Value::Null);
        assert_eq!(
            got["attachments"][1]["attached_at"],
            "2026-12-03T07:38:29.191898"
        );
        assert_eq!(
            got["links"][1]["href"],
            "http://h:1/volumes/3f0c0c5e-0000-4000-8000-000000000001"
        );
        Ok(())
    }
}

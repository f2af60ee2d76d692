//! The attachments API (cinder-api.md §9, 3.27+): reserve, connect, complete, delete,
//! with the volume's status derived from its attachments (§7.2).

use crate::actors::mailbox::UntilAsked;
use actix::prelude::*;
use serde_json::Value;

use super::{ApiActor, ApiShared, scope_of};
use crate::actors::error::ServiceError;
use crate::actors::protocol::{InitializeConnection, TerminateConnection};
use crate::db::attachments::{self, AttachmentQuery};
use crate::db::rows::AttachmentRow;
use crate::db::volumes::VolumeRecord;
use crate::db::{DbError, volumes};
use crate::model::{AttachStatus, RequestContext, VolumeId, VolumeStatus};

/// What an attachment call asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum AttachmentOp {
    /// Reserve a volume for a server (and connect it if a connector is given).
    Create {
        /// The volume.
        volume_id: VolumeId,
        /// The server.
        instance_uuid: Option<String>,
        /// os-brick's connector.
        connector: Option<Value>,
        /// `rw` or `ro` (3.54).
        mode: Option<String>,
    },
    /// Show one.
    Get,
    /// Connect it (`PUT` with a connector).
    Update {
        /// os-brick's connector.
        connector: Value,
    },
    /// `os-complete`: the consumer is attached.
    Complete,
    /// Remove it (and its export).
    Delete,
}

/// Act on an attachment (`id` is ignored for `Create`).
#[derive(Debug, Message)]
#[rtype(result = "Result<AttachmentAnswer, ServiceError>")]
pub struct AttachmentCall {
    /// The caller.
    pub ctx: RequestContext,
    /// The attachment.
    pub id: Option<uuid::Uuid>,
    /// What to do.
    pub op: AttachmentOp,
}

/// What an attachment call answers.
#[derive(Debug, Clone, PartialEq)]
pub enum AttachmentAnswer {
    /// The attachment afterwards.
    One(Box<AttachmentRow>),
    /// The volume's remaining attachments (delete).
    Remaining(Vec<AttachmentRow>),
    /// Nothing (complete).
    Done,
}

/// List attachments.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<AttachmentRow>, ServiceError>")]
pub struct ListAttachments {
    /// The caller.
    pub ctx: RequestContext,
    /// Filters; `project` forced to the caller's unless admin.
    pub query: AttachmentQuery,
}

impl Handler<ListAttachments> for ApiActor {
    type Result = UntilAsked<Result<Vec<AttachmentRow>, ServiceError>>;
    fn handle(&mut self, msg: ListAttachments, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        UntilAsked(Box::pin(async move {
            let mut q = msg.query;
            if !msg.ctx.is_admin {
                q.project = Some(msg.ctx.project_id.clone());
            }
            Ok(db.run(move |c| attachments::list(c, &q)).await?)
        }))
    }
}

impl Handler<AttachmentCall> for ApiActor {
    type Result = ResponseFuture<Result<AttachmentAnswer, ServiceError>>;
    fn handle(&mut self, msg: AttachmentCall, _: &mut Self::Context) -> Self::Result {
        let s = self.shared.clone();
        Box::pin(async move { call(&s, msg).await })
    }
}

async fn volume(
    s: &ApiShared,
    ctx: &RequestContext,
    id: &str,
) -> Result<VolumeRecord, ServiceError> {
    let (key, scope) = (id.to_string(), scope_of(ctx));
    s.db.run(move |c| volumes::get(c, &key, scope.as_ref()))
        .await
        .map_err(ServiceError::from)
}

async fn call(s: &ApiShared, msg: AttachmentCall) -> Result<AttachmentAnswer, ServiceError> {
    if let AttachmentOp::Create {
        volume_id,
        instance_uuid,
        connector,
        mode,
    } = msg.op
    {
        return create(s, &msg.ctx, volume_id, instance_uuid, connector, mode).await;
    }
    let id = msg
        .id
        .ok_or_else(|| ServiceError::Internal("no attachment id".into()))?;
    let (key, scope) = (id.to_string(), scope_of(&msg.ctx));
    let att =
        s.db.run(move |c| attachments::get(c, &key, scope.as_ref()))
            .await
            .map_err(ServiceError::from)?;
    match msg.op {
        AttachmentOp::Get | AttachmentOp::Create { .. } => Ok(AttachmentAnswer::One(Box::new(att))),
        AttachmentOp::Update { connector } => {
            let v = volume(s, &msg.ctx, &att.volume_id).await?;
            if v.row.status.is_error() {
                return Err(ServiceError::Conflict(format!(
                    "Invalid volume: Volume {} status must not be an error status to connect an attachment.",
                    v.row.id
                )));
            }
            let mode = att.attach_mode.clone().unwrap_or_else(|| "rw".into());
            let row = connect(s, &v, &att, connector, &mode).await?;
            Ok(AttachmentAnswer::One(Box::new(row)))
        }
        AttachmentOp::Complete => {
            let (key, vol) = (att.id.clone(), att.volume_id.clone());
            s.db.run(move |c| {
                attachments::mark_attached(c, &key)?;
                attachments::derive_volume_status(c, &vol)
            })
            .await?;
            Ok(AttachmentAnswer::Done)
        }
        AttachmentOp::Delete => {
            let v = volume(s, &msg.ctx, &att.volume_id).await?;
            if att.attach_status != AttachStatus::Reserved
                && let Some(connector) = att
                    .connector
                    .as_deref()
                    .and_then(|c| serde_json::from_str::<Value>(c).ok())
            {
                node_call_terminate(s, &v, connector).await?;
            }
            let (key, vol) = (att.id.clone(), att.volume_id.clone());
            let remaining =
                s.db.run(move |c| {
                    attachments::delete(c, &key)?;
                    attachments::derive_volume_status(c, &vol)?;
                    attachments::of_volume(c, &vol)
                })
                .await?;
            Ok(AttachmentAnswer::Remaining(remaining))
        }
    }
}

async fn create(
    s: &ApiShared,
    ctx: &RequestContext,
    volume_id: VolumeId,
    instance_uuid: Option<String>,
    connector: Option<Value>,
    mode: Option<String>,
) -> Result<AttachmentAnswer, ServiceError> {
    let v = volume(s, ctx, &volume_id.to_string()).await?;
    if v.row.status.is_error() {
        return Err(ServiceError::InvalidState(format!(
            "Invalid volume: Volume {volume_id} status must not be an error status to attach."
        )));
    }
    let mut from = vec![VolumeStatus::Available, VolumeStatus::Downloading];
    let same_server = instance_uuid.is_some()
        && v.attachments
            .iter()
            .any(|a| a.instance_uuid == instance_uuid);
    if v.row.multiattach || same_server {
        from.extend([
            VolumeStatus::InUse,
            VolumeStatus::Reserved,
            VolumeStatus::Attaching,
        ]);
    }
    let now = crate::db::now();
    let mode = mode.unwrap_or_else(|| "rw".into());
    let row = AttachmentRow {
        id: uuid::Uuid::new_v4().to_string(),
        volume_id: v.row.id.clone(),
        project_id: v.row.project_id.clone(),
        instance_uuid,
        attached_host: None,
        mountpoint: None,
        attach_status: AttachStatus::Reserved,
        attach_mode: Some(mode.clone()),
        connection_info: None,
        connector: None,
        attach_time: None,
        detach_time: None,
        created_at: now,
        updated_at: None,
    };
    let (r, key) = (row.clone(), v.row.id.clone());
    s.db.run(move |c| {
        crate::db::write_txn(c, |c| {
            let current = volumes::get(c, &key, None)?.row.status;
            if !from.contains(&current) {
                return Err(DbError::Conflict);
            }
            attachments::insert(c, &r)?;
            if current == VolumeStatus::Available || current == VolumeStatus::Downloading {
                volumes::transition(c, &key, &from, VolumeStatus::Reserved)?;
            }
            Ok(())
        })
    })
    .await
    .map_err(|e| match e {
        DbError::Conflict => ServiceError::InvalidState(format!(
            "Invalid volume: Volume {volume_id} status must be available or downloading to reserve, but the current status is {}.",
            v.row.status
        )),
        other => other.into(),
    })?;
    let Some(c) = connector else {
        return Ok(AttachmentAnswer::One(Box::new(row)));
    };
    match connect(s, &v, &row, c, &mode).await {
        Ok(made) => Ok(AttachmentAnswer::One(Box::new(made))),
        Err(e) => {
            // The caller gets an error and no attachment id: the reservation made for
            // it goes away again (Cinder deletes it too), so nothing is left behind.
            let (key, vol) = (row.id.clone(), row.volume_id.clone());
            let undone =
                s.db.run(move |c| {
                    attachments::delete(c, &key)?;
                    attachments::derive_volume_status(c, &vol)
                })
                .await;
            if let Err(u) = undone {
                tracing::error!(attachment.id = %row.id, error = %u, "could not remove the attachment of a failed connect");
            }
            Err(e)
        }
    }
}

/// Exports the volume for `connector` and stores the flattened connection info.
async fn connect(
    s: &ApiShared,
    v: &VolumeRecord,
    att: &AttachmentRow,
    connector: Value,
    mode: &str,
) -> Result<AttachmentRow, ServiceError> {
    let host = v.row.host.as_ref().ok_or_else(|| {
        ServiceError::InvalidState("Invalid volume: never placed on a node.".into())
    })?;
    let msg = InitializeConnection {
        volume_id: v
            .row
            .id
            .parse()
            .map_err(|_| ServiceError::Internal("bad id".into()))?,
        size_gb: v.row.size.max(0) as u64,
        connector: connector.clone(),
    };
    let info = s
        .dispatcher
        .initialize(host, msg)
        .await
        .map_err(|e| match e {
            // The node's agent is down or did not answer: said as such (503).
            ServiceError::Unavailable(_) | ServiceError::NodeUnavailable(_) => e,
            _ => ServiceError::Internal(format!(
                "Unable to create attachment for volume ({}).",
                v.row.id
            )),
        })?;
    let mut flat = info.data.clone();
    flat.insert(
        "driver_volume_type".into(),
        Value::String(info.driver_volume_type),
    );
    flat.insert("attachment_id".into(), Value::String(att.id.clone()));
    flat.insert("access_mode".into(), Value::String(mode.to_string()));
    flat.insert(
        "enforce_multipath".into(),
        Value::Bool(
            connector
                .get("enforce_multipath")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        ),
    );
    let (key, vol) = (att.id.clone(), v.row.id.clone());
    let (conn_json, info_json, mode) = (
        connector.to_string(),
        Value::Object(flat).to_string(),
        mode.to_string(),
    );
    s.db.run(move |c| {
        attachments::set_connection(c, &key, &conn_json, &info_json, &mode)?;
        attachments::derive_volume_status(c, &vol)?;
        attachments::get(c, &key, None)
    })
    .await
    .map_err(ServiceError::from)
}

async fn node_call_terminate(
    s: &ApiShared,
    v: &VolumeRecord,
    connector: Value,
) -> Result<(), ServiceError> {
    let Some(host) = v.row.host.as_ref() else {
        return Ok(());
    };
    let msg = TerminateConnection {
        volume_id: v
            .row
            .id
            .parse()
            .map_err(|_| ServiceError::Internal("bad id".into()))?,
        size_gb: v.row.size.max(0) as u64,
        connector,
    };
    s.dispatcher.terminate(host, msg).await
}

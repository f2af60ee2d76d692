//! The volume metadata subresource (cinder-api.md §5).

use std::collections::BTreeMap;

use actix::prelude::*;

use super::{ApiActor, scope_of};
use crate::actors::error::ServiceError;
use crate::db::DbError;
use crate::model::{RequestContext, VolumeId, VolumeStatus};

/// How a metadata write changes the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataWrite {
    /// Add or overwrite the given keys (`POST .../metadata`, `PUT .../metadata/{key}`).
    Merge,
    /// Replace the whole set (`PUT .../metadata`).
    Replace,
}

/// Read a volume's metadata.
#[derive(Debug, Message)]
#[rtype(result = "Result<BTreeMap<String, String>, ServiceError>")]
pub struct GetMetadata {
    /// The caller.
    pub ctx: RequestContext,
    /// The volume.
    pub id: VolumeId,
}

/// Change a volume's metadata; answers with the whole set afterwards.
#[derive(Debug, Message)]
#[rtype(result = "Result<BTreeMap<String, String>, ServiceError>")]
pub struct WriteMetadata {
    /// The caller.
    pub ctx: RequestContext,
    /// The volume.
    pub id: VolumeId,
    /// The keys.
    pub metadata: BTreeMap<String, String>,
    /// Merge or replace.
    pub mode: MetadataWrite,
}

/// Remove one key.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct DeleteMetadataKey {
    /// The caller.
    pub ctx: RequestContext,
    /// The volume.
    pub id: VolumeId,
    /// The key.
    pub key: String,
}

impl Handler<GetMetadata> for ApiActor {
    type Result = ResponseFuture<Result<BTreeMap<String, String>, ServiceError>>;
    fn handle(&mut self, msg: GetMetadata, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let (key, scope) = (msg.id.to_string(), scope_of(&msg.ctx));
            db.run(move |c| crate::db::volumes::get(c, &key, scope.as_ref()))
                .await
                .map(|v| v.metadata)
                .map_err(ServiceError::from)
        })
    }
}

/// Metadata cannot change while the volume is in these states (Cinder refuses too).
const FROZEN: [VolumeStatus; 2] = [VolumeStatus::Maintenance, VolumeStatus::Uploading];

impl Handler<WriteMetadata> for ApiActor {
    type Result = ResponseFuture<Result<BTreeMap<String, String>, ServiceError>>;
    fn handle(&mut self, msg: WriteMetadata, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        let max_items = self.shared.settings.max_metadata_items;
        Box::pin(async move {
            let id = msg.id;
            let scope = scope_of(&msg.ctx);
            db.run(move |c| {
                let key = id.to_string();
                let v = crate::db::volumes::get(c, &key, scope.as_ref())?;
                if FROZEN.contains(&v.row.status) {
                    return Err(DbError::Conflict);
                }
                match msg.mode {
                    MetadataWrite::Merge => {
                        crate::db::volumes::merge_metadata(c, &key, &msg.metadata, max_items)?
                    }
                    MetadataWrite::Replace => crate::db::volumes::update_fields(
                        c,
                        &key,
                        None,
                        None,
                        Some(msg.metadata),
                    )?,
                }
                Ok(crate::db::volumes::get(c, &key, None)?.metadata)
            })
            .await
            .map_err(|e| match e {
                DbError::Conflict => ServiceError::InvalidState(format!(
                    "Invalid volume: Volume {id} is in a state that does not allow metadata changes."
                )),
                other => other.into(),
            })
        })
    }
}

impl Handler<DeleteMetadataKey> for ApiActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, msg: DeleteMetadataKey, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let id = msg.id;
            let scope = scope_of(&msg.ctx);
            let meta_key = msg.key;
            db.run(move |c| {
                let key = id.to_string();
                let v = crate::db::volumes::get(c, &key, scope.as_ref())?;
                if FROZEN.contains(&v.row.status) {
                    return Err(DbError::Conflict);
                }
                crate::db::volumes::delete_metadata_key(c, &key, &meta_key)
            })
            .await
            .map_err(|e| match e {
                DbError::Conflict => ServiceError::InvalidState(format!(
                    "Invalid volume: Volume {id} is in a state that does not allow metadata changes."
                )),
                other => other.into(),
            })
        })
    }
}

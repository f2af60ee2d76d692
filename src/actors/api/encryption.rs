//! Volume type encryption (Cinder's `volume_type_encryption.py`): one entry per type,
//! fixed once a volume has the type. All admin; the HTTP layer checks the policy.

use actix::prelude::*;

use super::ApiActor;
use crate::actors::error::ServiceError;
use crate::db::encryption::{self, EncryptionChange, EncryptionRow, Refusal};
use crate::db::{DbError, Resource, types};
use crate::model::RequestContext;

/// What to do with a type's encryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncryptionOp {
    /// Show it (`None`: the type has none).
    Get,
    /// Create it: cipher, key size, provider, control location.
    Create {
        /// e.g. `aes-xts-plain64`.
        cipher: Option<String>,
        /// Bits.
        key_size: Option<i64>,
        /// e.g. `luks`.
        provider: String,
        /// `front-end` or `back-end`.
        control_location: String,
    },
    /// Change some fields.
    Update(EncryptionChange),
    /// Remove it.
    Delete,
}

/// One call on a type's encryption; answers the entry afterwards (`None` after a
/// delete, or for a type without one).
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<EncryptionRow>, ServiceError>")]
pub struct EncryptionCall {
    /// The caller.
    pub ctx: RequestContext,
    /// The type's id.
    pub type_id: String,
    /// What to do.
    pub op: EncryptionOp,
}

/// Cinder's words for a write refused because volumes have the type; `verb` is
/// `create`, `update` or `delete`.
fn refused(refusal: Refusal, verb: &str, type_id: &str) -> ServiceError {
    match refusal {
        Refusal::InUse => ServiceError::Invalid(format!(
            "Cannot {verb} encryption specs. Volume type in use."
        )),
        Refusal::Exists => ServiceError::Invalid(format!(
            "Volume type encryption for type {type_id} already exists."
        )),
    }
}

impl Handler<EncryptionCall> for ApiActor {
    type Result = ResponseFuture<Result<Option<EncryptionRow>, ServiceError>>;
    fn handle(&mut self, msg: EncryptionCall, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let type_id = msg.type_id.clone();
            match msg.op {
                EncryptionOp::Get => db
                    .run(move |c| {
                        if types::name_of(c, &type_id)?.is_none() {
                            return Err(DbError::not_found(Resource::VolumeType, &type_id));
                        }
                        encryption::find(c, &type_id)
                    })
                    .await
                    .map_err(ServiceError::from),
                EncryptionOp::Create {
                    cipher,
                    key_size,
                    provider,
                    control_location,
                } => {
                    let row = EncryptionRow {
                        volume_type_id: type_id,
                        encryption_id: uuid::Uuid::new_v4().to_string(),
                        cipher,
                        key_size,
                        provider,
                        control_location,
                        created_at: crate::db::now(),
                        updated_at: None,
                    };
                    let stored = row.clone();
                    db.write(move |c| encryption::create(c, &stored))
                        .await?
                        .map_err(|r| refused(r, "create", &msg.type_id))?;
                    Ok(Some(row))
                }
                EncryptionOp::Update(change) => {
                    let row = db
                        .write(move |c| encryption::update(c, &type_id, &change))
                        .await?
                        .map_err(|r| refused(r, "update", &msg.type_id))?;
                    Ok(Some(row))
                }
                EncryptionOp::Delete => {
                    db.write(move |c| encryption::delete(c, &type_id))
                        .await?
                        .map_err(|r| refused(r, "delete", &msg.type_id))?;
                    Ok(None)
                }
            }
        })
    }
}

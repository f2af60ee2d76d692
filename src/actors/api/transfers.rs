//! Volume transfers (cinder-api.md §4; Cinder's `cinder/transfer/api.py`): offer a
//! volume with a one-time auth key, accept it into another project, withdraw it.
//!
//! The key is made here, shown once in the create's answer and never stored or logged:
//! the row keeps a random salt and SHA-256 of salt and key, and an accept compares
//! hashes in constant time. The HTTP layer checks the policy.

use std::fmt;

use actix::prelude::*;
use sha2::{Digest, Sha256};

use super::{ApiActor, scope_of};
use crate::actors::error::ServiceError;
use crate::db::transfers::{self, Refusal, Taker, TransferFilter, TransferRow};
use crate::db::{DbError, Resource, volumes};
use crate::model::{RequestContext, VolumeStatus};

/// Hex digits of a new auth key (Cinder's `volume_transfer_key_length`).
const KEY_LENGTH: usize = 16;

/// Hex digits of a salt (Cinder's `volume_transfer_salt_length`).
const SALT_LENGTH: usize = 8;

/// A transfer's auth key. Its `Debug` and `Display` never show it, so no log line or
/// error can carry it by accident; [`AuthKey::reveal`] is for the create's answer only.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthKey(String);

impl AuthKey {
    /// The key a client sent (Cinder takes a string or an integer).
    pub fn new(key: String) -> Self {
        Self(key)
    }

    /// The key itself, for the one answer that shows it.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthKey(<redacted>)")
    }
}

/// `len` random hex digits: SHA-256 over two v4 UUIDs (the OS's random source, 244
/// bits), as Cinder hashes `os.urandom` output, so the key is plain to type.
fn random_hex(len: usize) -> String {
    let mut h = Sha256::new();
    h.update(uuid::Uuid::new_v4().as_bytes());
    h.update(uuid::Uuid::new_v4().as_bytes());
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    hex.chars().take(len).collect()
}

/// Hex SHA-256 of the salt and the key, NUL between them (neither holds one: the key
/// reached us through a body refused if it had one).
fn crypt_hash(salt: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal bytes, in time that depends only on the lengths (both are 64 hex digits), so
/// how long a refusal takes says nothing about how close a guess was.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `key` is the one whose hash with `salt` is `stored`.
fn key_matches(key: &AuthKey, salt: &str, stored: &str) -> bool {
    same(crypt_hash(salt, &key.0).as_bytes(), stored.as_bytes())
}

fn invalid_volume(reason: impl fmt::Display) -> ServiceError {
    ServiceError::Invalid(format!("Invalid volume: {reason}"))
}

fn invalid_snapshot(reason: impl fmt::Display) -> ServiceError {
    ServiceError::Invalid(format!("Invalid snapshot: {reason}"))
}

/// Offer a volume.
#[derive(Debug, Message)]
#[rtype(result = "Result<CreatedTransfer, ServiceError>")]
pub struct CreateTransfer {
    /// The caller; the volume must be its project's (or the caller an admin).
    pub ctx: RequestContext,
    /// The volume.
    pub volume_id: String,
    /// Name, already trimmed.
    pub name: Option<String>,
    /// Leave the snapshots with the giving project (3.55).
    pub no_snapshots: bool,
    /// Whether an encrypted volume may be offered (3.70).
    pub allow_encrypted: bool,
}

/// A new transfer and its key, which nothing else will ever show again.
#[derive(Debug)]
pub struct CreatedTransfer {
    /// The stored row.
    pub row: TransferRow,
    /// The auth key.
    pub auth_key: AuthKey,
}

impl Handler<CreateTransfer> for ApiActor {
    type Result = ResponseFuture<Result<CreatedTransfer, ServiceError>>;
    fn handle(&mut self, msg: CreateTransfer, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            // volume:create_transfer is admin-or-owner: another project's volume is not
            // found, as Cinder's project-scoped read answers.
            let scope = scope_of(&msg.ctx);
            let id = msg.volume_id.clone();
            let volume = db
                .run(move |c| volumes::get(c, &id, scope.as_ref()))
                .await?;
            if volume.row.status != VolumeStatus::Available {
                return Err(invalid_volume("status must be available"));
            }
            if volume.encrypted && !msg.allow_encrypted {
                return Err(invalid_volume(
                    "transferring encrypted volume is not supported",
                ));
            }
            if volume.encrypted && msg.no_snapshots {
                return Err(invalid_volume(
                    "transferring an encrypted volume without its snapshots is not supported",
                ));
            }
            let auth_key = AuthKey(random_hex(KEY_LENGTH));
            let salt = random_hex(SALT_LENGTH);
            let row = TransferRow {
                id: uuid::Uuid::new_v4().to_string(),
                volume_id: volume.row.id.clone(),
                display_name: msg.name,
                crypt_hash: crypt_hash(&salt, &auth_key.0),
                salt,
                no_snapshots: msg.no_snapshots,
                source_project_id: volume.row.project_id.to_string(),
                destination_project_id: None,
                accepted: false,
                created_at: crate::db::now(),
                updated_at: None,
                deleted_at: None,
            };
            let stored = row.clone();
            let outcome = db
                .write(move |c| transfers::create(c, &stored))
                .await
                .map_err(|e| match e {
                    DbError::Conflict => invalid_volume(format_args!(
                        "Transfer {}: Volume id {} expected in available state.",
                        row.id, row.volume_id
                    )),
                    other => other.into(),
                })?;
            match outcome {
                Ok(()) => {
                    tracing::info!(transfer.id = %row.id, volume.id = %row.volume_id, "transfer created");
                    Ok(CreatedTransfer { row, auth_key })
                }
                Err(Refusal::SnapshotState(snap)) => Err(invalid_snapshot(format_args!(
                    "snapshot: {snap} status must be available"
                ))),
                Err(Refusal::VolumeState(_) | Refusal::WrongKey) => {
                    Err(invalid_volume("status must be available"))
                }
            }
        })
    }
}

/// Show one pending transfer.
#[derive(Debug, Message)]
#[rtype(result = "Result<TransferRow, ServiceError>")]
pub struct GetTransfer {
    /// The caller; only its project's transfers unless admin.
    pub ctx: RequestContext,
    /// The transfer.
    pub id: String,
}

impl Handler<GetTransfer> for ApiActor {
    type Result = ResponseFuture<Result<TransferRow, ServiceError>>;
    fn handle(&mut self, msg: GetTransfer, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let scope = scope_of(&msg.ctx);
            Ok(db
                .run(move |c| transfers::get(c, &msg.id, scope.as_deref()))
                .await?)
        })
    }
}

/// List pending transfers.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<TransferRow>, ServiceError>")]
pub struct ListTransfers {
    /// The caller.
    pub ctx: RequestContext,
    /// Every project's (`all_tenants`, honoured for admins only, as in Cinder).
    pub all_tenants: bool,
    /// Name and volume filters; the project is set here from the caller.
    pub filter: TransferFilter,
}

impl Handler<ListTransfers> for ApiActor {
    type Result = ResponseFuture<Result<Vec<TransferRow>, ServiceError>>;
    fn handle(&mut self, msg: ListTransfers, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let mut filter = msg.filter;
            filter.project =
                (!(msg.ctx.is_admin && msg.all_tenants)).then_some(msg.ctx.project_id.0);
            Ok(db.run(move |c| transfers::list(c, &filter)).await?)
        })
    }
}

/// Accept a transfer into the caller's project.
#[derive(Debug, Message)]
#[rtype(result = "Result<TransferRow, ServiceError>")]
pub struct AcceptTransfer {
    /// The caller: its project becomes the owner.
    pub ctx: RequestContext,
    /// The transfer, whichever project offered it.
    pub id: String,
    /// The key the giver passed on.
    pub auth_key: AuthKey,
}

impl Handler<AcceptTransfer> for ApiActor {
    type Result = ResponseFuture<Result<TransferRow, ServiceError>>;
    fn handle(&mut self, msg: AcceptTransfer, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        let defaults = self.shared.settings.quota_defaults.clone();
        Box::pin(async move {
            let AcceptTransfer { ctx, id, auth_key } = msg;
            let key_id = id.clone();
            let outcome = db
                .write(move |c| {
                    let taker = Taker {
                        user_id: &ctx.user_id,
                        project_id: &ctx.project_id,
                    };
                    let check = |salt: &str, hash: &str| key_matches(&auth_key, salt, hash);
                    transfers::accept(c, &key_id, taker, check, &defaults)
                })
                .await?;
            match outcome {
                Ok(row) => {
                    tracing::info!(transfer.id = %row.id, volume.id = %row.volume_id, "volume transferred");
                    Ok(row)
                }
                Err(Refusal::WrongKey) => {
                    // The id only: the key that was tried is never logged.
                    tracing::warn!(transfer.id = %id, "transfer accept with an invalid auth key");
                    Err(ServiceError::Invalid(format!(
                        "Invalid auth key: Attempt to transfer {id} with invalid auth key."
                    )))
                }
                Err(Refusal::VolumeState(_)) => Err(invalid_volume(format_args!(
                    "Transfer {id}: Volume expected in awaiting-transfer state."
                ))),
                Err(Refusal::SnapshotState(snap)) => Err(invalid_snapshot(format_args!(
                    "Transfer {id}: Snapshot {snap} is not in the expected available state."
                ))),
            }
        })
    }
}

/// Withdraw a pending transfer; the volume is `available` again.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct DeleteTransfer {
    /// The caller; only its project's transfers unless admin.
    pub ctx: RequestContext,
    /// The transfer.
    pub id: String,
}

impl Handler<DeleteTransfer> for ApiActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, msg: DeleteTransfer, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let scope = scope_of(&msg.ctx);
            let id = msg.id.clone();
            db.write(move |c| transfers::destroy(c, &id, scope.as_deref()))
                .await
                .map_err(|e| match e {
                    DbError::NotFound { .. } => {
                        ServiceError::not_found(Resource::Transfer, &msg.id)
                    }
                    other => other.into(),
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hex_of_cinders_length_and_differ() {
        let (a, b) = (random_hex(KEY_LENGTH), random_hex(KEY_LENGTH));
        assert_eq!(a.len(), KEY_LENGTH);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(random_hex(SALT_LENGTH).len(), SALT_LENGTH);
    }

    #[test]
    fn only_the_right_key_matches_its_salted_hash() {
        let key = AuthKey::new("0123456789abcdef".into());
        let stored = crypt_hash("salt", key.reveal());
        assert!(key_matches(&key, "salt", &stored));
        assert!(!key_matches(
            &AuthKey::new("0123456789abcdee".into()),
            "salt",
            &stored
        ));
        assert!(!key_matches(&key, "other", &stored));
        assert!(!key_matches(&AuthKey::new(String::new()), "salt", &stored));
        assert!(
            !stored.contains(key.reveal()),
            "the hash does not carry the key"
        );
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let key = AuthKey::new("0123456789abcdef".into());
        let msg = AcceptTransfer {
            ctx: RequestContext {
                user_id: "u".into(),
                project_id: "0a0a".into(),
                is_admin: false,
                roles: vec!["member".into()],
                request_id: crate::model::RequestId::new(),
            },
            id: "t".into(),
            auth_key: key,
        };
        assert!(!format!("{msg:?}").contains("0123456789abcdef"));
    }
}

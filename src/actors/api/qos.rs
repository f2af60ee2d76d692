//! QoS specs and their association with volume types (cinder-api.md §11). All admin;
//! the HTTP layer checks the policy.

use std::collections::BTreeMap;

use actix::prelude::*;

use super::ApiActor;
use crate::actors::error::ServiceError;
use crate::db::qos::{self, AssociateRefusal, QosDetail};
use crate::db::{Db, DbError};
use crate::model::RequestContext;

/// Reads an entry, answering Cinder's "No such QoS spec" when it is unknown.
async fn existing(db: &Db, id: &str) -> Result<QosDetail, ServiceError> {
    let key = id.to_string();
    db.run(move |c| qos::get(c, &key))
        .await
        .map_err(ServiceError::from)
}

/// List every entry.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<QosDetail>, ServiceError>")]
pub struct ListQos {
    /// The caller.
    pub ctx: RequestContext,
}

impl Handler<ListQos> for ApiActor {
    type Result = ResponseFuture<Result<Vec<QosDetail>, ServiceError>>;
    fn handle(&mut self, _msg: ListQos, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move { Ok(db.run(qos::list).await?) })
    }
}

/// Show one entry.
#[derive(Debug, Message)]
#[rtype(result = "Result<QosDetail, ServiceError>")]
pub struct GetQos {
    /// The caller.
    pub ctx: RequestContext,
    /// The entry.
    pub id: String,
}

impl Handler<GetQos> for ApiActor {
    type Result = ResponseFuture<Result<QosDetail, ServiceError>>;
    fn handle(&mut self, msg: GetQos, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move { existing(&db, &msg.id).await })
    }
}

/// Create an entry.
#[derive(Debug, Message)]
#[rtype(result = "Result<QosDetail, ServiceError>")]
pub struct CreateQos {
    /// The caller.
    pub ctx: RequestContext,
    /// Unique name.
    pub name: String,
    /// `back-end`, `front-end` or `both`.
    pub consumer: String,
    /// The specs.
    pub specs: BTreeMap<String, String>,
}

impl Handler<CreateQos> for ApiActor {
    type Result = ResponseFuture<Result<QosDetail, ServiceError>>;
    fn handle(&mut self, msg: CreateQos, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let q = QosDetail {
                id: uuid::Uuid::new_v4().to_string(),
                name: msg.name.clone(),
                consumer: msg.consumer,
                specs: msg.specs,
                created_at: crate::db::now(),
            };
            let stored = q.clone();
            db.run(move |c| qos::create(c, &stored))
                .await
                .map_err(|e| match e {
                    DbError::Conflict => {
                        ServiceError::Conflict(format!("QoS Specs {} already exists.", msg.name))
                    }
                    other => other.into(),
                })?;
            Ok(q)
        })
    }
}

/// A change to an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QosChange {
    /// Add or overwrite specs (and the consumer, if given).
    Set {
        /// New consumer.
        consumer: Option<String>,
        /// Specs.
        specs: BTreeMap<String, String>,
    },
    /// Remove keys (each must be there).
    DeleteKeys(Vec<String>),
    /// Delete the entry; while types use it, only with `force`.
    Delete {
        /// Disassociate the types first.
        force: bool,
    },
    /// Associate with a type.
    Associate(String),
    /// Disassociate from a type, or from every type (`None`).
    Disassociate(Option<String>),
}

/// Change an entry (admin).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct ChangeQos {
    /// The caller.
    pub ctx: RequestContext,
    /// The entry.
    pub id: String,
    /// What to do.
    pub change: QosChange,
}

impl Handler<ChangeQos> for ApiActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, msg: ChangeQos, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        let max_items = self.shared.settings.max_metadata_items;
        Box::pin(async move {
            existing(&db, &msg.id).await?;
            let id = msg.id.clone();
            match msg.change {
                QosChange::Set { consumer, specs } => Ok(db
                    .run(move |c| qos::update(c, &id, consumer.as_deref(), &specs, max_items))
                    .await?),
                QosChange::DeleteKeys(keys) => {
                    match db.run(move |c| qos::delete_keys(c, &id, &keys)).await? {
                        None => Ok(()),
                        Some(key) => Err(ServiceError::Missing(format!(
                            "QoS spec {} has no spec with key {key}.",
                            msg.id
                        ))),
                    }
                }
                QosChange::Delete { force } => {
                    if db.run(move |c| qos::delete(c, &id, force)).await? {
                        Ok(())
                    } else {
                        Err(ServiceError::InvalidState(format!(
                            "QoS Specs {} is still associated with entities.",
                            msg.id
                        )))
                    }
                }
                QosChange::Associate(t) => {
                    let key = t.clone();
                    let refused = db.run(move |c| qos::associate(c, &id, &key)).await?;
                    match refused {
                        None => Ok(()),
                        Some(AssociateRefusal::OtherSpecs(other)) => {
                            Err(ServiceError::InvalidState(format!(
                                "Type {t} is already associated with another qos specs: {other}"
                            )))
                        }
                    }
                }
                QosChange::Disassociate(t) => {
                    let key = t.clone();
                    Ok(db
                        .run(move |c| qos::disassociate(c, &id, key.as_deref()))
                        .await?)
                }
            }
        })
    }
}

/// The types an entry is associated with, as `(id, name)`.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<(String, String)>, ServiceError>")]
pub struct QosAssociations {
    /// The caller.
    pub ctx: RequestContext,
    /// The entry.
    pub id: String,
}

impl Handler<QosAssociations> for ApiActor {
    type Result = ResponseFuture<Result<Vec<(String, String)>, ServiceError>>;
    fn handle(&mut self, msg: QosAssociations, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let id = msg.id.clone();
            Ok(db.run(move |c| qos::associations(c, &id)).await?)
        })
    }
}

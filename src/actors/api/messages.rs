//! User messages (cinder-api.md §17): what went wrong with an asynchronous request.
//! The actors write them (`user_messages`); these read and delete them.

use crate::actors::mailbox::UntilAsked;
use actix::prelude::*;

use super::{ApiActor, scope_of};
use crate::actors::error::ServiceError;
use crate::db::messages::{self, MessageFilter};
use crate::db::rows::MessageRow;
use crate::model::RequestContext;

/// List messages: a member's own project's; an admin's, every project's.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<MessageRow>, ServiceError>")]
pub struct ListMessages {
    /// The caller.
    pub ctx: RequestContext,
    /// Filters; `project` is forced to the caller's unless admin.
    pub filter: MessageFilter,
}

impl Handler<ListMessages> for ApiActor {
    type Result = UntilAsked<Result<Vec<MessageRow>, ServiceError>>;
    fn handle(&mut self, msg: ListMessages, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        UntilAsked(Box::pin(async move {
            let mut f = msg.filter;
            if !msg.ctx.is_admin {
                f.project = Some(msg.ctx.project_id.to_string());
            }
            Ok(db.run(move |c| messages::list(c, &f)).await?)
        }))
    }
}

/// Show one message.
#[derive(Debug, Message)]
#[rtype(result = "Result<MessageRow, ServiceError>")]
pub struct GetMessage {
    /// The caller.
    pub ctx: RequestContext,
    /// The message.
    pub id: String,
}

impl Handler<GetMessage> for ApiActor {
    type Result = ResponseFuture<Result<MessageRow, ServiceError>>;
    fn handle(&mut self, msg: GetMessage, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let (id, scope) = (msg.id.clone(), scope_of(&msg.ctx));
            db.run(move |c| messages::get(c, &id, scope.as_deref()))
                .await
                .map_err(ServiceError::from)
        })
    }
}

/// Delete one message.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct DeleteMessage {
    /// The caller.
    pub ctx: RequestContext,
    /// The message.
    pub id: String,
}

impl Handler<DeleteMessage> for ApiActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, msg: DeleteMessage, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let (id, scope) = (msg.id.clone(), scope_of(&msg.ctx));
            db.run(move |c| messages::delete(c, &id, scope.as_deref()))
                .await
                .map_err(ServiceError::from)
        })
    }
}

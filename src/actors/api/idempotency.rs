//! Idempotency keys for POSTs (issue: a retried create must not create twice).

use actix::prelude::*;

use super::ApiActor;
use crate::actors::error::ServiceError;
use crate::db::idempotency::{self, Claim, KeyedRequest};

/// What to do with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOp {
    /// Claim it for the request.
    Claim,
    /// Store the answer.
    Finish {
        /// HTTP status.
        status: u16,
        /// JSON body.
        response: String,
    },
    /// Forget it (the request failed on the server side, or its answer is not kept).
    Release,
}

/// Claim, finish or release an idempotency key of a project.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Claim>, ServiceError>")]
pub struct IdempotencyKey {
    /// The keyed request.
    pub request: KeyedRequest,
    /// What to do.
    pub op: KeyOp,
}

impl Handler<IdempotencyKey> for ApiActor {
    type Result = ResponseFuture<Result<Option<Claim>, ServiceError>>;
    fn handle(&mut self, msg: IdempotencyKey, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let r = msg.request;
            Ok(db
                .run(move |c| match msg.op {
                    KeyOp::Claim => idempotency::claim(c, &r).map(Some),
                    KeyOp::Finish { status, response } => {
                        idempotency::finish(c, &r, i64::from(status), &response).map(|_| None)
                    }
                    KeyOp::Release => idempotency::release(c, &r).map(|_| None),
                })
                .await?)
        })
    }
}

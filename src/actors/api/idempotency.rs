//! Idempotency keys for POSTs (issue: a retried create must not create twice).

use actix::prelude::*;

use super::ApiActor;
use crate::actors::error::ServiceError;
use crate::db::idempotency::{self, Claim};

/// What to do with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOp {
    /// Claim it for a request (path and body identify the request).
    Claim {
        /// The request path.
        path: String,
        /// The request body, as sent.
        body: String,
    },
    /// Store the answer.
    Finish {
        /// HTTP status.
        status: u16,
        /// JSON body.
        response: String,
    },
    /// Forget it (the request failed on the server side).
    Release,
}

/// Claim, finish or release an idempotency key of a project.
#[derive(Debug, Message)]
#[rtype(result = "Result<Option<Claim>, ServiceError>")]
pub struct IdempotencyKey {
    /// The caller's project.
    pub project_id: String,
    /// The key.
    pub key: String,
    /// What to do.
    pub op: KeyOp,
}

impl Handler<IdempotencyKey> for ApiActor {
    type Result = ResponseFuture<Result<Option<Claim>, ServiceError>>;
    fn handle(&mut self, msg: IdempotencyKey, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let (p, k) = (msg.project_id, msg.key);
            Ok(db
                .run(move |c| match msg.op {
                    KeyOp::Claim { path, body } => {
                        idempotency::claim(c, &p, &k, &path, &body).map(Some)
                    }
                    KeyOp::Finish { status, response } => {
                        idempotency::finish(c, &p, &k, i64::from(status), &response).map(|_| None)
                    }
                    KeyOp::Release => idempotency::release(c, &p, &k).map(|_| None),
                })
                .await?)
        })
    }
}

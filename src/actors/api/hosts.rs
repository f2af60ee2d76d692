//! `os-hosts` show: a storage host's volumes and snapshots per project (Cinder's
//! `hosts` extension). The list is the service list, read through `ListServices`; the
//! HTTP layer checks the admin policy.

use actix::prelude::*;

use super::ApiActor;
use crate::actors::error::ServiceError;
use crate::db::hosts::{self, HostUsage};
use crate::db::services::{self, VOLUME_BINARY};
use crate::model::RequestContext;

/// The usage on one `cinder-volume` host, named as Cinder matches hosts (`node`,
/// `node@backend` or `node@backend#pool`).
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<HostUsage>, ServiceError>")]
pub struct ShowHost {
    /// The caller.
    pub ctx: RequestContext,
    /// The host asked for.
    pub host: String,
}

impl Handler<ShowHost> for ApiActor {
    type Result = ResponseFuture<Result<Vec<HostUsage>, ServiceError>>;
    fn handle(&mut self, msg: ShowHost, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            let host = msg.host;
            let wanted = host.clone();
            // Cinder looks the host up among the volume services first (404 when none),
            // then counts what that service's own host holds.
            let found = db
                .run(move |c| {
                    let service = services::list(c)?.into_iter().find(|s| {
                        s.service_binary == VOLUME_BINARY && hosts::on_host(&s.host, &wanted)
                    });
                    service.map(|s| hosts::usage(c, &s.host)).transpose()
                })
                .await?;
            found.ok_or_else(|| {
                ServiceError::Missing(format!(
                    "Service {VOLUME_BINARY} could not be found on host {host}."
                ))
            })
        })
    }
}

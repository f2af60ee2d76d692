//! The catalogue: availability zones, the service list with enable/disable, pools and
//! backend capabilities (cinder-api.md §14–§16). The HTTP layer checks the admin policy.

use std::collections::{BTreeMap, BTreeSet};

use actix::prelude::*;

use super::ApiActor;
use crate::actors::dispatch::node_name;
use crate::actors::error::ServiceError;
use crate::actors::protocol::{GetPoolReports, PoolReport, SetNodeDisabled};
use crate::db::services::{self, ServiceRow, VOLUME_BINARY};
use crate::model::RequestContext;
use crate::scheduler::{ScheduleRequest, filters};

/// How the API asks the scheduler about pools and tells it about disabled nodes.
#[derive(Clone)]
pub struct SchedulerQueries {
    /// Every pool with its backend's figures.
    pub pools: Recipient<GetPoolReports>,
    /// Enable or disable a node.
    pub set_disabled: Recipient<SetNodeDisabled>,
}

impl ApiActor {
    fn queries(&self) -> Result<SchedulerQueries, ServiceError> {
        self.shared
            .scheduler_queries
            .clone()
            .ok_or_else(|| ServiceError::Unavailable("the scheduler is not reachable".into()))
    }
}

/// The zones of the configured nodes, each with whether any of its nodes is enabled.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<(String, bool)>, ServiceError>")]
pub struct ListZones {
    /// The caller.
    pub ctx: RequestContext,
}

impl Handler<ListZones> for ApiActor {
    type Result = ResponseFuture<Result<Vec<(String, bool)>, ServiceError>>;
    fn handle(&mut self, _msg: ListZones, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        let nodes: BTreeSet<String> = self.shared.dispatcher.nodes.keys().cloned().collect();
        // Nodes of this process, and those other processes hold (claimed ever).
        let known = self.shared.settings.known_zones.clone();
        Box::pin(async move {
            let rows = db.run(services::list).await?;
            let mut zones: BTreeMap<String, bool> = BTreeMap::new();
            for r in rows.iter().filter(|r| {
                r.service_binary == VOLUME_BINARY
                    && (nodes.contains(node_name(&r.host)) || known.contains(&r.availability_zone))
            }) {
                *zones.entry(r.availability_zone.clone()).or_default() |= !r.disabled;
            }
            Ok(zones.into_iter().collect())
        })
    }
}

/// A service row with what the scheduler knows of its backend.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceInfo {
    /// The row.
    pub row: ServiceRow,
    /// For `cinder-volume`: whether the scheduler holds pools of it (`backend_state`).
    pub has_pools: bool,
    /// For `cinder-volume`: the node's holder has not renewed its lease for
    /// `[cluster] node_down_after_seconds` (or is gone), so the node is down whatever
    /// its last heartbeat.
    pub node_down: bool,
}

/// List services, optionally by host (`node@backend`, or the node alone) and binary.
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<ServiceInfo>, ServiceError>")]
pub struct ListServices {
    /// The caller.
    pub ctx: RequestContext,
    /// Only this host.
    pub host: Option<String>,
    /// Only this binary.
    pub binary: Option<String>,
}

impl Handler<ListServices> for ApiActor {
    type Result = ResponseFuture<Result<Vec<ServiceInfo>, ServiceError>>;
    fn handle(&mut self, msg: ListServices, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        let queries = self.queries();
        let down_after = self
            .shared
            .dispatcher
            .remote
            .as_ref()
            .map(|r| r.down_after_seconds);
        Box::pin(async move {
            let (rows, down) = db
                .run(move |c| {
                    let down: BTreeSet<String> = match down_after {
                        Some(after) => crate::db::claims::states(c, after)?
                            .into_iter()
                            .filter(|s| !s.up)
                            .map(|s| s.node)
                            .collect(),
                        None => BTreeSet::new(),
                    };
                    Ok((services::list(c)?, down))
                })
                .await?;
            let with_pools: BTreeSet<String> = match queries {
                Ok(q) => q
                    .pools
                    .send(GetPoolReports)
                    .await?
                    .into_iter()
                    .map(|r| r.pool.host.service().to_string())
                    .collect(),
                Err(_) => BTreeSet::new(),
            };
            Ok(rows
                .into_iter()
                .filter(|r| {
                    msg.host
                        .as_deref()
                        .is_none_or(|h| r.host == h || node_name(&r.host) == h)
                })
                .filter(|r| msg.binary.as_deref().is_none_or(|b| r.service_binary == b))
                .map(|row| ServiceInfo {
                    has_pools: with_pools.contains(&row.host),
                    node_down: row.service_binary == VOLUME_BINARY
                        && down.contains(node_name(&row.host)),
                    row,
                })
                .collect())
        })
    }
}

/// Enable or disable a service (admin). A disabled node gets no new volumes.
#[derive(Debug, Message)]
#[rtype(result = "Result<ServiceRow, ServiceError>")]
pub struct SetServiceStatus {
    /// The caller.
    pub ctx: RequestContext,
    /// `node@backend` (or the controller's host for the scheduler).
    pub host: String,
    /// `cinder-volume` or `cinder-scheduler`.
    pub binary: String,
    /// Disable (true) or enable (false).
    pub disabled: bool,
    /// Why (disable-log-reason); enabling clears it.
    pub reason: Option<String>,
}

impl Handler<SetServiceStatus> for ApiActor {
    type Result = ResponseFuture<Result<ServiceRow, ServiceError>>;
    fn handle(&mut self, msg: SetServiceStatus, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        let queries = self.queries();
        Box::pin(async move {
            let row = db
                .run(move |c| {
                    services::set_disabled(
                        c,
                        &msg.host,
                        &msg.binary,
                        msg.disabled,
                        msg.reason.as_deref(),
                    )
                })
                .await?;
            // Stored first, so a restart loads the same flag the scheduler now holds.
            if row.service_binary == VOLUME_BINARY {
                queries?
                    .set_disabled
                    .send(SetNodeDisabled {
                        node: node_name(&row.host).into(),
                        disabled: row.disabled,
                    })
                    .await?;
            }
            Ok(row)
        })
    }
}

/// The pools of enabled nodes (admin). With a type, only the pools that pass the
/// scheduler's filters for its extra specs (3.35 `volume_type`).
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<PoolReport>, ServiceError>")]
pub struct ListPools {
    /// The caller.
    pub ctx: RequestContext,
    /// A type, by name or id.
    pub volume_type: Option<String>,
}

impl Handler<ListPools> for ApiActor {
    type Result = ResponseFuture<Result<Vec<PoolReport>, ServiceError>>;
    fn handle(&mut self, msg: ListPools, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        let queries = self.queries();
        Box::pin(async move {
            let reports = queries?.pools.send(GetPoolReports).await?;
            // Cinder leaves disabled services out of the pool list altogether.
            let mut reports: Vec<PoolReport> =
                reports.into_iter().filter(|r| !r.pool.disabled).collect();
            if let Some(wanted) = msg.volume_type {
                let t = super::types::resolve_type(&db, &msg.ctx, &wanted).await?;
                let request = ScheduleRequest {
                    extra_specs: t.extra_specs,
                    ..ScheduleRequest::default()
                };
                reports.retain(|r| filters::run_all(&r.pool, &request).1.is_none());
            }
            Ok(reports)
        })
    }
}

/// The pools of one backend (`node@backend`), for its capabilities (admin).
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<PoolReport>, ServiceError>")]
pub struct GetBackendPools {
    /// The caller.
    pub ctx: RequestContext,
    /// `node@backend`.
    pub host: String,
}

impl Handler<GetBackendPools> for ApiActor {
    type Result = ResponseFuture<Result<Vec<PoolReport>, ServiceError>>;
    fn handle(&mut self, msg: GetBackendPools, _: &mut Self::Context) -> Self::Result {
        let queries = self.queries();
        Box::pin(async move {
            let pools: Vec<PoolReport> = queries?
                .pools
                .send(GetPoolReports)
                .await?
                .into_iter()
                .filter(|r| r.pool.host.service() == msg.host)
                .collect();
            if pools.is_empty() {
                return Err(ServiceError::Missing(format!(
                    "Can't find service: {}",
                    msg.host
                )));
            }
            Ok(pools)
        })
    }
}

//! `clinker node`: a storage agent. It runs only the nodes of its config (a `VolumeActor`
//! and driver each), holds them by claim and lease like any instance, resumes what they
//! left unfinished and compares their backends with the database, beats their service
//! heartbeats, and serves nothing but its health.
//!
//! Controllers cannot yet send an agent new work: messages between processes (the outbox,
//! issue 16 item 4) come next. Until then an agent finishes what its nodes already hold
//! and keeps other processes from taking them.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use tracing::{info, warn};

use super::{Lease, lease, node_services, start_nodes};
use crate::actors::dispatch::SchedulerLink;
use crate::actors::journal::JournalActor;
use crate::actors::protocol::{NodeStatsReport, PublishStats, RecoverNode, ScheduleCreateVolume};
use crate::actors::volume::VolumeActor;
use crate::config::Config;
use crate::db::instances::InstanceKind;
use crate::db::{Db, services};
use crate::drivers::VolumeDriver;

/// A running agent.
#[derive(Clone)]
pub struct Agent {
    /// One actor per node.
    pub nodes: HashMap<String, Addr<VolumeActor>>,
    /// The journal.
    pub journal: Addr<JournalActor>,
    /// This process's instance and lease.
    pub lease: Lease,
}

/// Where an agent's nodes send what they would send a scheduler in a controller: no
/// scheduler runs here.
struct Uplink;

impl Actor for Uplink {
    type Context = Context<Self>;
}

impl Handler<NodeStatsReport> for Uplink {
    type Result = ();

    /// The node's capacity goes to the metrics (`/metrics` is a controller's; the gauges
    /// are kept for when the agent exports them). Controllers read capacity from their
    /// own nodes' reports until capacity is booked in the database (issue 16 item 5).
    fn handle(&mut self, msg: NodeStatsReport, _ctx: &mut Self::Context) {
        crate::telemetry::node_reported(&msg.node, &msg.stats);
    }
}

impl Handler<ScheduleCreateVolume> for Uplink {
    type Result = ();

    /// A create that failed on this node: the node has already cleared the volume's host
    /// and stored the failure in its spec (`OnFailureRescheduleTask`), so the row is
    /// unscheduled, which a controller resumes when it starts (`service::recover`).
    fn handle(&mut self, msg: ScheduleCreateVolume, _ctx: &mut Self::Context) {
        warn!(
            volume.id = %msg.volume_id,
            "create failed on this agent's node; the volume waits, unscheduled, for a \
             controller to place it again"
        );
    }
}

/// Starts an agent: registers its instance (kind `node`), claims its nodes (refusing to
/// start if a live instance holds one), starts their actors, registers their services,
/// and resumes their unfinished work. The caller has checked the database is PostgreSQL.
pub async fn start_agent(
    config: &Config,
    db: Db,
    drivers: HashMap<String, Arc<dyn VolumeDriver>>,
) -> anyhow::Result<Agent> {
    let host = super::controller_host();
    let lease = lease::register(config, &db, InstanceKind::Node, &host).await?;
    let journal = JournalActor::new(db.clone()).start();
    let uplink = Uplink.start();
    let link = SchedulerLink {
        schedule: uplink.clone().recipient(),
        stats: uplink.recipient(),
    };
    let nodes = start_nodes(config, &db, &lease, &drivers, &journal, &link).await?;
    let rows = node_services(config);
    db.run(move |c| {
        for (_, host, zone) in &rows {
            services::register(c, host, services::VOLUME_BINARY, zone)?;
        }
        Ok(())
    })
    .await?;
    let mut resumed = 0;
    for (name, addr) in &nodes {
        if let Err(e) = addr.send(PublishStats).await? {
            warn!(node.id = %name, error = %e, "node could not report its capacity at start");
        }
        resumed += addr.send(RecoverNode).await??;
    }
    info!(
        nodes = nodes.len(),
        node_volumes.resumed = resumed,
        "storage agent is running its nodes"
    );
    Ok(Agent {
        nodes,
        journal,
        lease,
    })
}

//! `clinker node`: a storage agent. It runs only the nodes of its config (a `VolumeActor`
//! and driver each), holds them by claim and lease like any instance, resumes what they
//! left unfinished and compares their backends with the database, beats their service
//! heartbeats, and serves nothing but its health.
//!
//! Controllers reach its nodes through the database: the casts and calls they queue in
//! the outbox are taken by this process's worker ([`super::outbox::start_worker`]), and
//! its nodes' capacity reports are published there for the controllers' schedulers
//! ([`super::outbox::ReportRelay`]), and a create that failed here is queued for any
//! controller to place again in the transaction that gives the volume back.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use tracing::{info, warn};

use super::outbox::{self, ReportRelay};
use super::{Lease, claim_nodes, clear_queued, held_nodes, lease, node_services, start_nodes};
use crate::actors::dispatch::{NodeHandle, SchedulerLink};
use crate::actors::journal::JournalActor;
use crate::actors::protocol::{PublishStats, RecoverNode};
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
    let fences = claim_nodes(config, &db, &lease).await?;
    let acked = outbox::Acked::default();
    let relay = ReportRelay::new(db.clone(), None, fences.clone(), acked.clone()).start();
    let link = SchedulerLink {
        schedule: None,
        stats: relay.recipient(),
    };
    let nodes = start_nodes(config, &db, &fences, &drivers, &journal, &link).await?;
    let rows = node_services(config);
    db.run(move |c| {
        for (_, host, zone) in &rows {
            services::register(c, host, services::VOLUME_BINARY, zone)?;
        }
        Ok(())
    })
    .await?;
    let cleared = clear_queued(&db, &fences).await?;
    let mut resumed = 0;
    for (name, addr) in &nodes {
        if let Err(e) = addr.send(PublishStats).await? {
            warn!(node.id = %name, error = %e, "node could not report its capacity at start");
        }
        resumed += addr.send(RecoverNode).await??;
    }
    let handles: HashMap<String, NodeHandle> = nodes
        .iter()
        .map(|(k, v)| (k.clone(), NodeHandle::of(k, v.clone())))
        .collect();
    outbox::start_worker(
        db.clone(),
        Some(config.database_url()),
        held_nodes(&handles, &fences),
        acked,
    );
    info!(
        nodes = nodes.len(),
        queued.cleared = cleared,
        node_volumes.resumed = resumed,
        "storage agent is running its nodes"
    );
    Ok(Agent {
        nodes,
        journal,
        lease,
    })
}

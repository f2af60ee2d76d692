//! Where each actor is: the one seam that a scale-out (casts to other processes through
//! durable work rows) will replace. The handles here (`Addr`, `Recipient`) name mailboxes
//! of this process, so they stay out of [`super::protocol`], whose messages can travel.
//!
//! Casts are sent with `send(..).await`, never `try_send`: an actix mailbox holds 16
//! messages, and under load `try_send` fails where `send` waits for room. The handlers of
//! casts only queue work and return, so the wait is for delivery, not for the work.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;

use super::journal::{Flush, JournalActor, RecordRun};
use super::mailbox::Tracked;
use super::protocol::{
    CheckHost, CreateSnapshotOnNode, CreateVolumeOnNode, DeleteSnapshotOnNode, DeleteVolumeOnNode,
    ExtendVolumeOnNode, InitializeConnection, NodeStatsReport, RevertVolumeOnNode,
    ScheduleCreateVolume, TerminateConnection,
};
use crate::flow::{FlowRun, Journal};
use crate::model::Host;

/// The messages a node accepts from the API and the scheduler.
#[derive(Clone)]
pub struct NodeHandle {
    /// Create a volume placed on this node.
    pub create: Tracked<Recipient<CreateVolumeOnNode>>,
    /// Delete a volume of this node.
    pub delete: Tracked<Recipient<DeleteVolumeOnNode>>,
    /// Grow a volume.
    pub extend: Tracked<Recipient<ExtendVolumeOnNode>>,
    /// Take a snapshot.
    pub create_snapshot: Tracked<Recipient<CreateSnapshotOnNode>>,
    /// Delete a snapshot.
    pub delete_snapshot: Tracked<Recipient<DeleteSnapshotOnNode>>,
    /// Revert a volume to a snapshot.
    pub revert: Tracked<Recipient<RevertVolumeOnNode>>,
    /// Export a volume (a call).
    pub initialize: Tracked<Recipient<InitializeConnection>>,
    /// Undo an export (a call).
    pub terminate: Tracked<Recipient<TerminateConnection>>,
}

impl NodeHandle {
    /// The handle of any actor that takes every node message (the real VolumeActor of
    /// node `name`, or a fake in tests); its mailbox depth is counted as `volume:<name>`.
    pub fn of<A>(name: &str, addr: Addr<A>) -> Self
    where
        A: Actor<Context = Context<A>>
            + Handler<CreateVolumeOnNode>
            + Handler<DeleteVolumeOnNode>
            + Handler<ExtendVolumeOnNode>
            + Handler<CreateSnapshotOnNode>
            + Handler<DeleteSnapshotOnNode>
            + Handler<RevertVolumeOnNode>
            + Handler<InitializeConnection>
            + Handler<TerminateConnection>,
    {
        let label = format!("volume:{name}");
        Self {
            create: Tracked::new(addr.clone().recipient(), label.clone()),
            delete: Tracked::new(addr.clone().recipient(), label.clone()),
            extend: Tracked::new(addr.clone().recipient(), label.clone()),
            create_snapshot: Tracked::new(addr.clone().recipient(), label.clone()),
            delete_snapshot: Tracked::new(addr.clone().recipient(), label.clone()),
            revert: Tracked::new(addr.clone().recipient(), label.clone()),
            initialize: Tracked::new(addr.clone().recipient(), label.clone()),
            terminate: Tracked::new(addr.recipient(), label.clone()),
        }
    }
}

/// How the API reaches the scheduler and the nodes.
#[derive(Clone)]
pub struct Dispatcher {
    /// The scheduler.
    pub scheduler: Tracked<Recipient<ScheduleCreateVolume>>,
    /// The scheduler's check of one host against a type (retype).
    pub host_check: Recipient<CheckHost>,
    /// Every node, by name.
    pub nodes: Arc<HashMap<String, NodeHandle>>,
}

impl Dispatcher {
    /// The node of a volume's host.
    pub fn node_of_host(&self, host: &Host) -> Option<&NodeHandle> {
        self.nodes.get(host.node())
    }
}

/// The node part of a `cinder-volume` service's host, `node@backend` (a service row
/// names no pool, so it is not a [`Host`]); a host without `@` is all node.
pub fn node_name(service_host: &str) -> &str {
    service_host
        .split_once('@')
        .map_or(service_host, |(node, _)| node)
}

/// How a node reaches the scheduler.
#[derive(Clone)]
pub struct SchedulerLink {
    /// Reschedules.
    pub schedule: Recipient<ScheduleCreateVolume>,
    /// Capacity reports.
    pub stats: Recipient<NodeStatsReport>,
}

/// The handle flows record through (the journal is always this process's own: see
/// [`RecordRun`]).
#[derive(Debug, Clone)]
pub struct JournalHandle(pub Addr<JournalActor>);

impl JournalHandle {
    /// Waits until every run recorded so far is stored.
    pub async fn flush(&self) -> Result<(), MailboxError> {
        self.0.send(Flush).await
    }
}

impl Journal for JournalHandle {
    fn record(&self, run: FlowRun) {
        self.0.do_send(RecordRun(run));
    }
}

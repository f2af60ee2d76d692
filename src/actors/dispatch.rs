//! Where each actor is: the one seam that a scale-out (casts to other processes through
//! durable work rows) will replace.
//!
//! Casts are sent with `send(..).await`, never `try_send`: an actix mailbox holds 16
//! messages, and under load `try_send` fails where `send` waits for room. The handlers of
//! casts only queue work and return, so the wait is for delivery, not for the work.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;

use super::scheduler::{CheckHost, ScheduleCreateVolume};
use super::volume::{
    CreateSnapshotOnNode, CreateVolumeOnNode, DeleteSnapshotOnNode, DeleteVolumeOnNode,
    ExtendVolumeOnNode, InitializeConnection, RevertVolumeOnNode, TerminateConnection, VolumeActor,
};

/// The messages a node accepts from the API and the scheduler.
#[derive(Clone)]
pub struct NodeHandle {
    /// Create a volume placed on this node.
    pub create: Recipient<CreateVolumeOnNode>,
    /// Delete a volume of this node.
    pub delete: Recipient<DeleteVolumeOnNode>,
    /// Grow a volume.
    pub extend: Recipient<ExtendVolumeOnNode>,
    /// Take a snapshot.
    pub create_snapshot: Recipient<CreateSnapshotOnNode>,
    /// Delete a snapshot.
    pub delete_snapshot: Recipient<DeleteSnapshotOnNode>,
    /// Revert a volume to a snapshot.
    pub revert: Recipient<RevertVolumeOnNode>,
    /// Export a volume (a call).
    pub initialize: Recipient<InitializeConnection>,
    /// Undo an export (a call).
    pub terminate: Recipient<TerminateConnection>,
}

impl From<Addr<VolumeActor>> for NodeHandle {
    fn from(addr: Addr<VolumeActor>) -> Self {
        Self::of(addr)
    }
}

impl NodeHandle {
    /// The handle of any actor that takes every node message (the real VolumeActor, or a
    /// fake in tests).
    pub fn of<A>(addr: Addr<A>) -> Self
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
        Self {
            create: addr.clone().recipient(),
            delete: addr.clone().recipient(),
            extend: addr.clone().recipient(),
            create_snapshot: addr.clone().recipient(),
            delete_snapshot: addr.clone().recipient(),
            revert: addr.clone().recipient(),
            initialize: addr.clone().recipient(),
            terminate: addr.recipient(),
        }
    }
}

/// How the API reaches the scheduler and the nodes.
#[derive(Clone)]
pub struct Dispatcher {
    /// The scheduler.
    pub scheduler: Recipient<ScheduleCreateVolume>,
    /// The scheduler's check of one host against a type (retype).
    pub host_check: Recipient<CheckHost>,
    /// Every node, by name.
    pub nodes: Arc<HashMap<String, NodeHandle>>,
}

impl Dispatcher {
    /// The node a `node@backend#pool` host string names.
    pub fn node_of_host(&self, host: &str) -> Option<&NodeHandle> {
        self.nodes.get(node_name(host))
    }
}

/// The node part of `node@backend#pool`.
pub fn node_name(host: &str) -> &str {
    host.split('@').next().unwrap_or(host)
}

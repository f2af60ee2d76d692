//! Where each actor is: the one seam that a scale-out (casts to other processes through
//! durable work rows) will replace.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;

use super::scheduler::ScheduleCreateVolume;
use super::volume::{CreateVolumeOnNode, DeleteVolumeOnNode, VolumeActor};

/// The messages a node accepts from the API and the scheduler.
#[derive(Clone)]
pub struct NodeHandle {
    /// Create a volume placed on this node.
    pub create: Recipient<CreateVolumeOnNode>,
    /// Delete a volume of this node.
    pub delete: Recipient<DeleteVolumeOnNode>,
}

impl From<Addr<VolumeActor>> for NodeHandle {
    fn from(addr: Addr<VolumeActor>) -> Self {
        Self {
            create: addr.clone().recipient(),
            delete: addr.recipient(),
        }
    }
}

/// How the API reaches the scheduler and the nodes.
#[derive(Clone)]
pub struct Dispatcher {
    /// The scheduler.
    pub scheduler: Recipient<ScheduleCreateVolume>,
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

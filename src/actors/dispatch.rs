//! Where each actor is: the one seam where local and remote delivery meet. A node of
//! this process gets its casts straight in its mailbox (the fast path, unchanged since
//! the single-process design); a node another process holds (a `clinker node` agent)
//! gets them as rows of the outbox ([`crate::db::outbox`]), queued by the caller in the
//! transaction that writes the cast's intent ([`queue`]), and its calls (exports) as a
//! row the caller waits on within the request ([`Dispatcher::initialize`]). The handles
//! here (`Addr`, `Recipient`) name mailboxes of this process, so they stay out of
//! [`super::protocol`], whose messages can travel.
//!
//! Casts are sent with `send(..).await`, never `try_send`: an actix mailbox holds 16
//! messages, and under load `try_send` fails where `send` waits for room. The handlers of
//! casts only queue work and return, so the wait is for delivery, not for the work.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;

use super::error::ServiceError;
use super::journal::{Flush, JournalActor, RecordRun};
use super::mailbox::Tracked;
use super::protocol::{
    CallReply, CheckHost, CreateSnapshotOnNode, CreateVolumeOnNode, DeleteSnapshotOnNode,
    DeleteVolumeOnNode, ExtendVolumeOnNode, InitializeConnection, NodeCall, NodeStatsReport,
    NodeWork, QueuedWork, RevertVolumeOnNode, ScheduleCreateVolume, TerminateConnection,
};
use crate::db::{Db, DbConnection, DbError, claims, outbox};
use crate::drivers::ConnectionInfo;
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
    /// Every node of this process, by name.
    pub nodes: Arc<HashMap<String, NodeHandle>>,
    /// How calls reach nodes other processes hold; `None` where no other process can
    /// hold one (tests of the actors alone).
    pub remote: Option<Remote>,
}

/// What calls to other processes' nodes need.
#[derive(Clone, Debug)]
pub struct Remote {
    /// The shared database.
    pub db: Db,
    /// `[cluster] node_down_after_seconds`: a node whose holder has not renewed its lease
    /// for this long is down, and a call to it answers 503 at once.
    pub down_after_seconds: u64,
    /// How long a call waits for its answer before it answers 503.
    pub call_timeout: std::time::Duration,
}

/// Queues `work` for `node`, held by another process: call it inside the transaction
/// that writes the work's intent, so the row and the intent commit or vanish together.
pub fn queue(c: &mut DbConnection, node: &str, work: NodeWork) -> Result<(), DbError> {
    let resource = work.resource_id();
    let body = serde_json::to_string(&QueuedWork {
        origin: crate::db::instances::instance_id().to_string(),
        work,
    })
    .map_err(|e| DbError::Unavailable(format!("cannot encode work: {e}")))?;
    outbox::push(c, node, &resource, &body)
}

impl Dispatcher {
    /// The node of a volume's host, if it runs in this process.
    pub fn node_of_host(&self, host: &Host) -> Option<&NodeHandle> {
        self.nodes.get(host.node())
    }

    /// Whether `node` runs in this process (casts to it go straight to its mailbox;
    /// to any other node they go through [`queue`]).
    pub fn is_local(&self, node: &str) -> bool {
        self.nodes.contains_key(node)
    }

    /// Hands `work` to `node` once its intent has committed: straight to the mailbox of
    /// a node of this process; nothing to do for any other, whose row the intent's
    /// transaction queued.
    pub async fn deliver(&self, node: &str, work: NodeWork) -> Result<(), ServiceError> {
        match self.nodes.get(node) {
            Some(handle) => handle.deliver(work).await,
            None => Ok(()),
        }
    }

    /// Exports a volume of `host`'s node: the node's actor here, or a call through the
    /// database to the process holding it, answered within the request.
    pub async fn initialize(
        &self,
        host: &Host,
        msg: InitializeConnection,
    ) -> Result<ConnectionInfo, ServiceError> {
        match self.node_of_host(host) {
            Some(n) => n
                .initialize
                .send(msg)
                .await
                .map_err(|e| ServiceError::Unavailable(e.to_string()))?,
            None => self.call(host.node(), NodeCall::Initialize(msg)).await,
        }
    }

    /// Undoes an export, as [`Dispatcher::initialize`].
    pub async fn terminate(
        &self,
        host: &Host,
        msg: TerminateConnection,
    ) -> Result<(), ServiceError> {
        match self.node_of_host(host) {
            Some(n) => n
                .terminate
                .send(msg)
                .await
                .map_err(|e| ServiceError::Unavailable(e.to_string()))?,
            None => self.call(host.node(), NodeCall::Terminate(msg)).await,
        }
    }

    /// A call to `node`, held by another process: refused at once when no live process
    /// holds it; otherwise queued, and its answer awaited until `call_timeout`.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        node: &str,
        call: NodeCall,
    ) -> Result<T, ServiceError> {
        let Some(remote) = &self.remote else {
            return Err(ServiceError::NodeUnavailable(format!(
                "node {node} is not configured"
            )));
        };
        let (name, down_after) = (node.to_string(), remote.down_after_seconds);
        let state = remote
            .db
            .run(move |c| {
                Ok(claims::states(c, down_after)?
                    .into_iter()
                    .find(|s| s.node == name))
            })
            .await?;
        match state {
            None => {
                return Err(ServiceError::NodeUnavailable(format!(
                    "node {node} is held by no process: no agent has started for it"
                )));
            }
            Some(s) if !s.up => {
                let seen = s
                    .renewed_at
                    .map_or("never".to_string(), |t| format!("{t} UTC"));
                return Err(ServiceError::NodeUnavailable(format!(
                    "node {node} is down: its agent (instance {}) last renewed its lease at {seen}",
                    s.holder
                )));
            }
            Some(_) => {}
        }
        let resource = match &call {
            NodeCall::Initialize(m) => m.volume_id.to_string(),
            NodeCall::Terminate(m) => m.volume_id.to_string(),
        };
        let body = serde_json::to_string(&call)
            .map_err(|e| ServiceError::Internal(format!("cannot encode call: {e}")))?;
        let name = node.to_string();
        let id = remote
            .db
            .run(move |c| outbox::call(c, &name, &resource, &body))
            .await?;
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(2);
        loop {
            let key = id.clone();
            match remote.db.run(move |c| outbox::reply_of(c, &key)).await? {
                Some(Some(reply)) => {
                    let reply: CallReply = serde_json::from_str(&reply).map_err(|e| {
                        ServiceError::Internal(format!("unreadable answer from node {node}: {e}"))
                    })?;
                    return reply.into_result();
                }
                None => {
                    return Err(ServiceError::NodeUnavailable(format!(
                        "node {node}'s agent restarted before it answered; try again"
                    )));
                }
                Some(None) if started.elapsed() >= remote.call_timeout => {
                    let key = id.clone();
                    remote.db.run(move |c| outbox::cancel(c, &key)).await?;
                    return Err(ServiceError::NodeUnavailable(format!(
                        "node {node}'s agent did not answer within {} s",
                        remote.call_timeout.as_secs()
                    )));
                }
                Some(None) => {
                    actix_web::rt::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_millis(50));
                }
            }
        }
    }
}

impl NodeHandle {
    /// Sends a cast to this node's mailbox.
    pub async fn deliver(&self, work: NodeWork) -> Result<(), ServiceError> {
        let sent = match work {
            NodeWork::Create(m) => self.create.send(m).await,
            NodeWork::Delete(m) => self.delete.send(m).await,
            NodeWork::Extend(m) => self.extend.send(m).await,
            NodeWork::CreateSnapshot(m) => self.create_snapshot.send(m).await,
            NodeWork::DeleteSnapshot(m) => self.delete_snapshot.send(m).await,
            NodeWork::Revert(m) => self.revert.send(m).await,
        };
        sent.map_err(|e| ServiceError::Unavailable(e.to_string()))
    }
}

/// The node part of a `cinder-volume` service's host, `node@backend`.
pub use crate::model::host::service_node as node_name;

/// How a node reaches the scheduler.
#[derive(Clone)]
pub struct SchedulerLink {
    /// Reschedules: the scheduler of this process, or `None` in a storage agent, whose
    /// reschedules are queued for any controller ([`crate::db::outbox::SCHEDULER_QUEUE`])
    /// in the transaction that gives the volume back.
    pub schedule: Option<Recipient<ScheduleCreateVolume>>,
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

//! `JournalActor`: writes finished flow runs to the database in batches.
//!
//! Flows hand their runs over with a cast and go on; the journal groups what arrives
//! within a few milliseconds into one insert (group commit), so recording costs the
//! create path nothing it waits for. `Flush` lets a reader see everything recorded so far.

use std::time::Duration;

use actix::prelude::*;
use tracing::error;

use crate::db::Db;
use crate::db::rows::FlowRunRow;
use crate::flow::FlowRun;

/// How long runs wait to be grouped.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// A batch this big is written at once.
const BATCH: usize = 512;

/// Keeps one finished run.
///
/// Not in [`super::protocol`]: each process journals its own flows, so this never leaves
/// the process, and a `FlowRun` borrows `&'static` task names, which serde cannot
/// deserialize. The same holds for [`Flush`].
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RecordRun(pub FlowRun);

/// Writes everything buffered; answers when it is stored.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Flush;

/// Buffers runs and writes them in batches.
#[derive(Debug)]
pub struct JournalActor {
    db: Db,
    buffer: Vec<FlowRunRow>,
}

impl JournalActor {
    /// A journal writing through `db`.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            buffer: Vec::new(),
        }
    }

    /// Takes the buffer and writes it; the returned future completes once stored.
    fn write(&mut self) -> impl Future<Output = ()> + 'static {
        let batch = std::mem::take(&mut self.buffer);
        let db = self.db.clone();
        async move {
            if batch.is_empty() {
                return;
            }
            let n = batch.len();
            if let Err(e) = db
                .write(move |c| crate::db::timeline::insert(c, &batch))
                .await
            {
                error!(error = %e, runs = n, "could not store flow runs");
            }
        }
    }
}

impl Actor for JournalActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(FLUSH_EVERY, |this, ctx| {
            if !this.buffer.is_empty() {
                // `wait`: no Flush is answered while a write is under way.
                ctx.wait(this.write().into_actor(this));
            }
        });
    }

    fn stopping(&mut self, _ctx: &mut Self::Context) -> Running {
        // Last chance on shutdown: write synchronously.
        let batch = std::mem::take(&mut self.buffer);
        if !batch.is_empty()
            && let Err(e) = self
                .db
                .run_blocking(|c| crate::db::timeline::insert(c, &batch))
        {
            error!(error = %e, "could not store flow runs at shutdown");
        }
        Running::Stop
    }
}

impl Handler<RecordRun> for JournalActor {
    type Result = ();

    fn handle(&mut self, msg: RecordRun, ctx: &mut Self::Context) {
        self.buffer.push(row_of(msg.0));
        if self.buffer.len() >= BATCH {
            ctx.wait(self.write().into_actor(self));
        }
    }
}

impl Handler<Flush> for JournalActor {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, _msg: Flush, _ctx: &mut Self::Context) -> Self::Result {
        // Atomic: the actor handles nothing else until this write is stored, so a Flush
        // never answers while an earlier batch is still being written.
        AtomicResponse::new(Box::pin(self.write().into_actor(self)))
    }
}

fn row_of(run: FlowRun) -> FlowRunRow {
    let started = run.transitions.first().map(|t| t.at).unwrap_or_default();
    let finished = run.transitions.last().map(|t| t.at).unwrap_or_default();
    let detail = if run.details.is_empty() {
        None
    } else {
        let map: serde_json::Map<String, serde_json::Value> = run
            .details
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        Some(serde_json::Value::Object(map).to_string())
    };
    FlowRunRow {
        id: run.id.to_string(),
        seq: run.seq,
        resource_id: run.scope.resource_id,
        project_id: run.scope.project_id.0,
        request_id: run.scope.request_id.0,
        flow: run.flow.to_string(),
        state: run.state.as_str().to_string(),
        transitions: serde_json::to_string(&run.transitions).unwrap_or_else(|_| "[]".into()),
        detail,
        started_at: started,
        finished_at: finished,
    }
}

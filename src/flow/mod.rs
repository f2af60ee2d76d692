//! A small flow engine in the manner of taskflow's linear flows.
//!
//! A flow is a list of tasks, each with `execute` and `revert`. The runner executes them
//! in order; when one fails, it reverts that task and every earlier one, newest first, then
//! returns the error. Flow and tasks go PENDING -> RUNNING -> SUCCESS, or on failure
//! FAILURE -> REVERTING -> REVERTED. Every transition is logged with tracing as it
//! happens and kept in a [`FlowRun`], which the caller hands to a [`Journal`] at the end.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::NaiveDateTime;
use serde::Serialize;
use tracing::{debug, warn};

use crate::actors::error::ServiceError;
use crate::model::{FlowState, ProjectId, RequestId};
use crate::telemetry;

/// What a task's `execute` returns: on success, an optional JSON detail for the timeline.
pub type TaskFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<serde_json::Value>, ServiceError>> + 'a>>;

/// What a task's `revert` returns.
pub type RevertFuture<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// One step of a flow, working on the flow's store `S`.
pub trait Task<S> {
    /// The task's name, as Cinder names it (`QuotaReserveTask`).
    fn name(&self) -> &'static str;

    /// Does the work. May record outputs in the store for later tasks.
    fn execute<'a>(&'a self, store: &'a mut S) -> TaskFuture<'a>;

    /// Undoes `execute` (it may have half-run: revert must cope). Default: nothing.
    fn revert<'a>(&'a self, _store: &'a mut S) -> RevertFuture<'a> {
        Box::pin(async {})
    }
}

/// An ordered list of tasks with a name.
pub struct Flow<S> {
    name: &'static str,
    tasks: Vec<Box<dyn Task<S>>>,
}

/// Which resource a run works on, and for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowScope {
    /// The resource (volume id).
    pub resource_id: String,
    /// Its project.
    pub project_id: ProjectId,
    /// The request that started it.
    pub request_id: RequestId,
}

/// One transition of the flow (task `None`) or of a task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    /// The task, or `None` for the flow itself.
    pub task: Option<&'static str>,
    /// The new state.
    pub state: FlowState,
    /// When, naive UTC.
    pub at: NaiveDateTime,
    /// The error, on FAILURE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The record of one run, handed to the journal when it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRun {
    /// The run's id.
    pub id: uuid::Uuid,
    /// Orders runs across the process (and across restarts: it starts at the clock).
    pub seq: i64,
    /// The flow's name.
    pub flow: &'static str,
    /// Resource, project and request.
    pub scope: FlowScope,
    /// Final state: SUCCESS, REVERTED, or FAILURE if a revert itself failed.
    pub state: FlowState,
    /// Every transition in order.
    pub transitions: Vec<Transition>,
    /// Details tasks returned (task name -> JSON), e.g. the scheduler's decision.
    pub details: Vec<(&'static str, serde_json::Value)>,
}

/// Where finished runs go.
pub trait Journal {
    /// Keeps a finished run (durably, soon).
    fn record(&self, run: FlowRun);
}

/// A journal that throws runs away (for tests that do not look at them).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoJournal;

impl Journal for NoJournal {
    fn record(&self, _run: FlowRun) {}
}

static SEQ: AtomicI64 = AtomicI64::new(0);

/// A number that grows across the process and across restarts (it starts from the
/// clock in microseconds, and never repeats within the process).
pub fn next_seq() -> i64 {
    let clock = chrono::Utc::now().timestamp_micros();
    let mut cur = SEQ.load(Ordering::Relaxed);
    loop {
        let next = if clock > cur { clock } else { cur + 1 };
        match SEQ.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => cur = seen,
        }
    }
}

impl<S> Flow<S> {
    /// A flow with no tasks yet.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            tasks: Vec::new(),
        }
    }

    /// Appends a task.
    pub fn with(mut self, task: impl Task<S> + 'static) -> Self {
        self.tasks.push(Box::new(task));
        self
    }

    /// The flow's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs the flow on `store`, records the run in `journal`, and returns the first
    /// task error (after reverting) or `Ok`.
    pub async fn run(
        &self,
        store: &mut S,
        scope: FlowScope,
        journal: &dyn Journal,
    ) -> Result<(), ServiceError> {
        let mut run = FlowRun {
            id: uuid::Uuid::new_v4(),
            seq: next_seq(),
            flow: self.name,
            scope,
            state: FlowState::Pending,
            transitions: Vec::with_capacity(4 + 3 * self.tasks.len()),
            details: Vec::new(),
        };
        let started = std::time::Instant::now();
        let mut outcome = Ok(());
        self.mark(&mut run, None, FlowState::Pending, None);
        self.mark(&mut run, None, FlowState::Running, None);
        for (i, task) in self.tasks.iter().enumerate() {
            self.mark(&mut run, Some(task.name()), FlowState::Running, None);
            let task_started = std::time::Instant::now();
            let executed = task.execute(store).await;
            let ok = executed.is_ok();
            telemetry::task_finished(
                self.name,
                task.name(),
                telemetry::outcome(ok),
                task_started.elapsed(),
            );
            match executed {
                Ok(detail) => {
                    if let Some(d) = detail {
                        run.details.push((task.name(), d));
                    }
                    self.mark(&mut run, Some(task.name()), FlowState::Success, None);
                }
                Err(e) => {
                    if let Some(d) = e.timeline_detail() {
                        run.details.push((task.name(), d));
                    }
                    self.mark(
                        &mut run,
                        Some(task.name()),
                        FlowState::Failure,
                        Some(e.to_string()),
                    );
                    self.mark(&mut run, None, FlowState::Reverting, None);
                    for done in self.tasks[..=i].iter().rev() {
                        self.mark(&mut run, Some(done.name()), FlowState::Reverting, None);
                        done.revert(store).await;
                        self.mark(&mut run, Some(done.name()), FlowState::Reverted, None);
                    }
                    self.mark(&mut run, None, FlowState::Reverted, None);
                    outcome = Err(e);
                    break;
                }
            }
        }
        if outcome.is_ok() {
            self.mark(&mut run, None, FlowState::Success, None);
        }
        telemetry::flow_finished(self.name, run.state.as_str(), started.elapsed());
        journal.record(run);
        outcome
    }

    fn mark(
        &self,
        run: &mut FlowRun,
        task: Option<&'static str>,
        state: FlowState,
        error: Option<String>,
    ) {
        let s = &run.scope;
        match &error {
            None => debug!(
                flow = self.name,
                task = task.unwrap_or("-"),
                state = state.as_str(),
                volume.id = %s.resource_id,
                request_id = %s.request_id,
                "flow transition"
            ),
            Some(e) => warn!(
                flow = self.name,
                task = task.unwrap_or("-"),
                state = state.as_str(),
                volume.id = %s.resource_id,
                request_id = %s.request_id,
                error = %e,
                "flow task failed"
            ),
        }
        if task.is_none() {
            run.state = state;
        }
        run.transitions.push(Transition {
            task,
            state,
            at: crate::db::now(),
            error,
        });
    }
}

#[cfg(test)]
mod tests;

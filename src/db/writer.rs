//! Group commit for SQLite: one thread owns one connection and runs every write that
//! comes through [`Db::write`](super::Db::write), many to a transaction.
//!
//! SQLite has one writer at a time. When every request opens its own write transaction,
//! concurrent writers queue on the database lock (sleeping in the busy handler), and each
//! commit rewrites the pages it touched as whole WAL frames: the quota-usage page, say,
//! once per request. Here the writer thread takes whatever jobs are waiting, runs them in
//! one `BEGIN IMMEDIATE` transaction, each job inside its own savepoint (so a job that
//! fails undoes only itself), commits once and only then answers every job. A caller
//! therefore never sees success for work that is not durable, exactly as before, but a
//! batch of 64 creates pays for one commit.

use std::num::NonZeroU32;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use diesel::Connection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};

use super::{DbConnection, DbError, Pool};

/// The most jobs one transaction takes, so a long queue still commits now and then.
const MAX_BATCH: usize = 512;

/// What a job leaves behind once it has run: told the commit's outcome (`None` when the
/// transaction committed, else why it did not), it answers its caller.
type Completion = Box<dyn FnOnce(Option<&str>) + Send>;

/// One caller's write, ready to run on the writer's connection.
type Job = Box<dyn FnOnce(&mut DbConnection) -> Completion + Send>;

/// The sending end of the writer thread's queue; the thread ends when every handle is
/// dropped.
#[derive(Clone)]
pub(super) struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on a connection taken from `pool` for its whole life.
    pub(super) fn start(pool: &Pool) -> Result<Writer, DbError> {
        let conn = pool
            .get()
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        let (queue, jobs) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || {
                let mut conn = conn;
                run_batches(&mut conn, &jobs);
            })
            .map_err(|e| DbError::Unavailable(format!("cannot start the database writer: {e}")))?;
        Ok(Writer { queue })
    }

    /// Queues `f` and waits until the transaction that ran it has committed (or failed).
    pub(super) async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel::<Result<T, DbError>>();
        let job: Job = Box::new(move |conn: &mut DbConnection| {
            // A savepoint when the batch's transaction is open; a transaction of its own
            // when it could not be (see `run_batches`).
            let depth = open_levels(conn);
            let outcome =
                catch_unwind(AssertUnwindSafe(|| conn.transaction(f))).unwrap_or_else(|_| {
                    // The panic skipped diesel's rollback: the job's savepoint (and any
                    // nested in it) is still open, and committing the batch would only
                    // release it. Undo the job's levels so the batch sees none of it.
                    close_levels_above(conn, depth);
                    Err(DbError::Unavailable("a database write panicked".into()))
                });
            Box::new(move |commit_failed: Option<&str>| {
                let reply = match (outcome, commit_failed) {
                    (Ok(_), Some(why)) => Err(DbError::Unavailable(format!(
                        "the transaction did not commit: {why}"
                    ))),
                    (outcome, _) => outcome,
                };
                // The caller may have gone away (request cancelled); nothing to do then.
                let _ = answer.send(reply);
            })
        });
        self.queue
            .send(job)
            .map_err(|_| DbError::Unavailable("the database writer has stopped".into()))?;
        answered
            .await
            .map_err(|_| DbError::Unavailable("the database writer dropped a write".into()))?
    }
}

/// The writer thread: waits for a job, takes every job queued behind it (up to
/// [`MAX_BATCH`]), and runs them in one transaction.
fn run_batches(conn: &mut DbConnection, jobs: &mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = jobs.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_one_batch(conn, &mut batch);
        metrics::histogram!(crate::telemetry::DB_GROUP_COMMIT_SIZE).record(batch.len() as f64);
        batch.clear();
    }
}

fn run_one_batch(conn: &mut DbConnection, batch: &mut Vec<Job>) {
    let began = match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")
        }
        DbConnection::Postgres(inner) => AnsiTransactionManager::begin_transaction(inner),
    };
    if let Err(e) = began {
        // No shared transaction (the database is locked past the busy timeout, say):
        // each job then runs in a transaction of its own and reports its own outcome.
        tracing::warn!(error = %e, jobs = batch.len(), "group commit could not begin; writing one by one");
        for job in batch.drain(..) {
            job(conn)(None);
        }
        return;
    }
    let completions: Vec<Completion> = batch.drain(..).map(|job| job(conn)).collect();
    let committed = match conn {
        DbConnection::Sqlite(inner) => AnsiTransactionManager::commit_transaction(inner),
        DbConnection::Postgres(inner) => AnsiTransactionManager::commit_transaction(inner),
    };
    let failure = committed.err().map(|e| {
        let _ = match conn {
            DbConnection::Sqlite(inner) => AnsiTransactionManager::rollback_transaction(inner),
            DbConnection::Postgres(inner) => AnsiTransactionManager::rollback_transaction(inner),
        };
        tracing::error!(error = %e, jobs = completions.len(), "group commit failed");
        e.to_string()
    });
    for done in completions {
        done(failure.as_deref());
    }
}

/// How many transaction levels (the transaction and its savepoints) are open on `conn`.
fn open_levels(conn: &mut DbConnection) -> u32 {
    let status = match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::transaction_manager_status_mut(inner)
        }
        DbConnection::Postgres(inner) => {
            AnsiTransactionManager::transaction_manager_status_mut(inner)
        }
    };
    status
        .transaction_depth()
        .ok()
        .flatten()
        .map_or(0, NonZeroU32::get)
}

/// Rolls back the innermost levels until `depth` are left open. Gives up at the first
/// rollback that fails: the connection is then broken and the batch's commit fails,
/// which answers every job of the batch with an error rather than a false success.
fn close_levels_above(conn: &mut DbConnection, depth: u32) {
    while open_levels(conn) > depth {
        let rolled_back = match conn {
            DbConnection::Sqlite(inner) => AnsiTransactionManager::rollback_transaction(inner),
            DbConnection::Postgres(inner) => AnsiTransactionManager::rollback_transaction(inner),
        };
        if let Err(e) = rolled_back {
            tracing::error!(error = %e, "could not roll back a panicked database write");
            return;
        }
    }
}

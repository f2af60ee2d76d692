//! The database: one diesel codebase over SQLite (embedded default) and PostgreSQL.
//!
//! The backend is picked from the URL scheme by our own connection manager, never by
//! trying each backend in turn (SQLite would take a mistyped URL as a file name).
//! Queries are plain functions over `&mut DbConnection`; [`Db::run`] runs them on the
//! blocking pool so no arbiter thread ever waits on the database.

pub mod attachments;
pub mod claims;
pub mod columns;
pub mod encryption;
pub mod error;
pub mod files;
pub mod group_types;
pub mod groups;
pub mod hosts;
pub mod idempotency;
pub mod instances;
pub mod ledger;
pub mod messages;
pub mod outbox;
pub mod qos;
pub mod quota_sets;
pub mod quotas;
pub mod rows;
pub mod schema;
pub mod services;
pub mod snapshots;
pub mod timeline;
pub mod transfers;
pub mod types;
pub mod volumes;
mod writer;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, CustomizeConnection, ManageConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use error::{DbError, Found, Resource};

/// The migrations, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL, chosen by a `postgres://` or `postgresql://` URL.
    Postgres(diesel::PgConnection),
    /// SQLite, chosen by any other URL (a file path, optionally `sqlite://`).
    Sqlite(diesel::SqliteConnection),
}

/// Runs the same diesel expression on whichever backend `conn` holds, for the few
/// statements the derived multi-backend cannot express (batch inserts).
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Postgres($c) => $body,
        }
    };
}

/// Which backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl Backend {
    /// Picks the backend from the URL scheme; an unknown scheme is an error.
    pub fn from_url(url: &str) -> Result<Backend, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if url.starts_with("sqlite://") || !url.contains("://") {
            Ok(Backend::Sqlite)
        } else {
            let scheme = url.split("://").next().unwrap_or_default();
            Err(DbError::Config(format!(
                "unsupported database URL scheme '{scheme}' (use postgres:// or a SQLite path)"
            )))
        }
    }
}

/// r2d2 manager that opens the backend named by the URL.
#[derive(Debug)]
pub struct ConnectionManager {
    url: String,
    backend: Backend,
}

impl ConnectionManager {
    /// Checks the URL's scheme.
    pub fn new(url: &str) -> Result<Self, DbError> {
        let backend = Backend::from_url(url)?;
        let url = url.strip_prefix("sqlite://").unwrap_or(url).to_string();
        Ok(Self { url, backend })
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match self.backend {
            Backend::Postgres => diesel::PgConnection::establish(&self.url)
                .map(DbConnection::Postgres)
                .map_err(r2d2::Error::ConnectionError),
            Backend::Sqlite => diesel::SqliteConnection::establish(&self.url)
                .map(DbConnection::Sqlite)
                .map_err(r2d2::Error::ConnectionError),
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

/// Per-connection settings. SQLite: `busy_timeout` comes before WAL, or opening the pool
/// races on the journal mode change and logs "database is locked". PostgreSQL: the
/// `statement_timeout`, when one is set.
#[derive(Debug)]
struct SessionSettings {
    /// PostgreSQL's `statement_timeout` in milliseconds; 0 leaves the server's.
    statement_timeout_ms: u64,
}

impl CustomizeConnection<DbConnection, r2d2::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        match conn {
            DbConnection::Sqlite(c) => {
                // WAL + synchronous=NORMAL: a committed transaction survives a process
                // crash (kill -9); after power loss the last transactions may roll back,
                // never corrupt.
                c.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(r2d2::Error::QueryError)?;
            }
            // Every statement through the pool is one request's short query or write;
            // one that runs longer than this is cancelled by the server (the caller gets
            // an error) rather than holding its connection while its client is long
            // gone. Migrations, which may wait for another controller's, lift it.
            DbConnection::Postgres(c) if self.statement_timeout_ms > 0 => {
                c.batch_execute(&format!(
                    "SET statement_timeout = {}",
                    self.statement_timeout_ms
                ))
                .map_err(r2d2::Error::QueryError)?;
            }
            DbConnection::Postgres(_) => {}
        }
        Ok(())
    }
}

/// The pool type.
pub type Pool = r2d2::Pool<ConnectionManager>;

/// Opens a pool of `size` connections to `url`, with the server's own statement timeout.
pub fn connect(url: &str, size: u32) -> Result<Pool, DbError> {
    connect_bounded(url, size, 0)
}

/// Opens a pool of `size` connections to `url`; on PostgreSQL a statement running longer
/// than `statement_timeout_ms` (0: no bound) is cancelled.
pub fn connect_bounded(url: &str, size: u32, statement_timeout_ms: u64) -> Result<Pool, DbError> {
    let manager = ConnectionManager::new(url)?;
    if manager.backend == Backend::Sqlite {
        files::private_sqlite_files(&manager.url)
            .map_err(|e| DbError::Config(format!("database file {}: {e}", manager.url)))?;
    }
    r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        // A check-out test is a `SELECT 1` round trip before every query; a broken
        // connection shows itself on use instead, and `has_broken` drops it then.
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(10))
        .connection_customizer(Box::new(SessionSettings {
            statement_timeout_ms,
        }))
        .build(manager)
        .map_err(|e| DbError::Unavailable(e.to_string()))
}

#[derive(diesel::QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    value: String,
}

/// Runs pending migrations. On PostgreSQL an advisory lock makes controllers that start
/// together take turns, so each migration runs once; the wait for the lock and the
/// migrations themselves may take longer than the pool's `statement_timeout`, which is
/// lifted meanwhile and put back after.
pub fn migrate(conn: &mut DbConnection) -> Result<usize, DbError> {
    const LOCK: i64 = 0x636c_696e_6b65; // "clinke"
    let timeout = match conn {
        DbConnection::Postgres(c) => {
            let Setting { value } =
                diesel::sql_query("SELECT current_setting('statement_timeout') AS value")
                    .get_result(c)?;
            c.batch_execute(&format!(
                "SET statement_timeout = 0; SELECT pg_advisory_lock({LOCK})"
            ))?;
            Some(value)
        }
        DbConnection::Sqlite(_) => None,
    };
    let result = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|done| done.len())
        .map_err(|e| DbError::Migration(e.to_string()));
    if let Some(value) = timeout {
        // `value` is the server's own rendering (`30s`, `0`), quoted as a literal.
        conn.batch_execute(&format!(
            "SELECT pg_advisory_unlock({LOCK}); SET statement_timeout = '{}'",
            value.replace('\'', "")
        ))?;
    }
    result
}

/// Runs `f` in a write transaction. SQLite takes the write lock up front
/// (`BEGIN IMMEDIATE`) so two writers never deadlock upgrading read locks; PostgreSQL
/// uses an ordinary transaction, and row locks come from the conditional updates.
pub fn write_txn<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    match conn {
        DbConnection::Sqlite(inner) => {
            if in_txn(inner) {
                // Already inside a transaction: nest as a savepoint.
                return conn.transaction(f);
            }
            // Begun through diesel's own transaction manager, so statements inside that
            // open a transaction themselves (SQLite batch inserts do) nest as savepoints.
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            let result = f(conn);
            let DbConnection::Sqlite(inner) = conn else {
                return Err(DbError::Config("connection changed backend".into()));
            };
            end_txn(inner, result)
        }
        DbConnection::Postgres(_) => conn.transaction(f),
    }
}

/// Whether diesel has a transaction open on `inner`.
pub(crate) fn in_txn<C>(inner: &mut C) -> bool
where
    C: Connection<TransactionManager = AnsiTransactionManager>,
{
    AnsiTransactionManager::transaction_manager_status_mut(inner)
        .transaction_depth()
        .ok()
        .flatten()
        .is_some()
}

/// Ends a transaction begun with `AnsiTransactionManager::begin_transaction_sql`: commits
/// it when `result` is `Ok`, rolls it back otherwise (and when the commit fails).
pub(crate) fn end_txn<C, T>(inner: &mut C, result: Result<T, DbError>) -> Result<T, DbError>
where
    C: Connection<TransactionManager = AnsiTransactionManager>,
{
    match result {
        Ok(v) => match AnsiTransactionManager::commit_transaction(inner) {
            Ok(()) => Ok(v),
            Err(e) => {
                let _ = AnsiTransactionManager::rollback_transaction(inner);
                Err(e.into())
            }
        },
        Err(e) => {
            let _ = AnsiTransactionManager::rollback_transaction(inner);
            Err(e)
        }
    }
}

/// Lets the connection keep a statement prepared that diesel would prepare afresh every
/// time. diesel never caches an `UPDATE` (its changeset may skip `None` fields, so one
/// type can make several SQL texts) nor some inserts; wrapped, the statement is cached
/// under its SQL text, which stays correct when the text varies. Only for statements of
/// bounded shape: every distinct text stays cached for the connection's life.
#[derive(Debug, Clone, Copy)]
pub struct Cached<Q>(pub Q);

impl<Q> diesel::query_builder::QueryId for Cached<Q> {
    // No type-based key: the cache keys these by their SQL text.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, DB> diesel::query_builder::QueryFragment<DB> for Cached<Q>
where
    DB: diesel::backend::Backend,
    Q: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q, C> RunQueryDsl<C> for Cached<Q> {}

/// A cheap handle on the pool that runs queries off the async runtime's threads.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// SQLite's group-commit writer; `None` on PostgreSQL, where writers do not queue
    /// on one database lock and [`Db::write`] is [`Db::run`]. (Measured: routing
    /// PostgreSQL's writes through the one writer connection cut creates from 161/s to
    /// 118/s: one server backend then executes every write statement, on one core.)
    writer: Option<writer::Writer>,
    /// A node's handle: every call runs behind a check of the node's claim
    /// ([`claims::guarded`]), so a process that lost the node writes nothing.
    fence: Option<std::sync::Arc<claims::Fence>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

impl Db {
    /// Wraps a pool. On SQLite this starts the group-commit writer thread, which keeps
    /// one of the pool's connections for itself.
    pub fn new(pool: Pool) -> Self {
        // With one connection the writer would starve every reader.
        let sqlite = pool.max_size() > 1
            && pool
                .get()
                .map(|c| matches!(*c, DbConnection::Sqlite(_)))
                .unwrap_or(false);
        let writer = if sqlite {
            writer::Writer::start(&pool)
                .inspect_err(|e| tracing::warn!(error = %e, "writing without group commit"))
                .ok()
        } else {
            None
        };
        Self {
            pool,
            writer,
            fence: None,
        }
    }

    /// This handle for a node's `VolumeActor`: its calls run only while `fence` holds.
    pub fn fenced(&self, fence: claims::Fence) -> Self {
        Self {
            fence: Some(std::sync::Arc::new(fence)),
            ..self.clone()
        }
    }

    /// Runs a write: `f` and every write queued beside it share one transaction (group
    /// commit, SQLite), `f` inside a savepoint of its own so its failure undoes only its
    /// own changes. Answers once that transaction has committed. `f` must be short and
    /// must not wait on anything but the database: every writer waits behind it.
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        match (&self.writer, self.fence.clone()) {
            (Some(w), Some(fence)) => w.write(move |c| claims::guarded(c, &fence, f)).await,
            (Some(w), None) => w.write(f).await,
            (None, _) => self.run(f).await,
        }
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    ///
    /// A request whose client has gone is dropped by actix-web, and with it the future
    /// awaiting here; the blocking task would still wait for a connection and run `f`.
    /// Under load (seven slow lists whose clients left made every call answer 503) that
    /// work holds the connections the live requests need. So the task looks whether
    /// anyone still waits for its answer before it takes a connection and again once it
    /// has one, and gives the connection back unused if not. A statement already
    /// running is not stopped here: on PostgreSQL `statement_timeout` bounds it (see
    /// [`connect`]); SQLite offers no interrupt through diesel, and the statements a
    /// request can make there are bounded in shape instead (capped sort keys, capped
    /// pages).
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let (answer, answered) = tokio::sync::oneshot::channel();
        match self.fence.clone() {
            Some(fence) => actix_web::rt::task::spawn_blocking(move || {
                run_for(&pool, answer, move |c| claims::guarded(c, &fence, f))
            }),
            None => actix_web::rt::task::spawn_blocking(move || run_for(&pool, answer, f)),
        };
        answered
            .await
            .map_err(|e| DbError::Unavailable(format!("database task failed: {e}")))?
    }

    /// Runs `f` on the calling thread; for start-up and tests only.
    pub fn run_blocking<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        f(&mut conn)
    }
}

/// The blocking half of [`Db::run`]: runs `f` on a connection of `pool` and sends its
/// result to `answer`, unless nobody waits for it any more, looked at before a connection
/// is taken and again once one is had (the wait for it is the long part under load).
fn run_for<T, F>(pool: &Pool, answer: tokio::sync::oneshot::Sender<Result<T, DbError>>, f: F)
where
    F: FnOnce(&mut DbConnection) -> Result<T, DbError>,
{
    if answer.is_closed() {
        return;
    }
    let result = pool
        .get()
        .map_err(|e| DbError::Unavailable(e.to_string()))
        .and_then(|mut conn| {
            if answer.is_closed() {
                return Err(DbError::Unavailable("the requester has gone".into()));
            }
            f(&mut conn)
        });
    // Nobody listening now is the case checked above, arrived meanwhile: nothing to do.
    let _ = answer.send(result);
}

/// Refuses a write that leaves `count` items (metadata, extra specs, QoS specs) on one
/// resource when at most `max` are allowed. Called inside the write's transaction, after
/// the write, so a merge counts the keys it adds to those already there and a refused
/// write keeps nothing.
pub fn at_most_items(count: i64, max: usize) -> Result<(), DbError> {
    if count > i64::try_from(max).unwrap_or(i64::MAX) {
        Err(DbError::TooManyItems { count, max })
    } else {
        Ok(())
    }
}

/// A compare-and-set's outcome: exactly one row changed, or someone else got there first
/// (or the row is in another state).
pub fn one_row(changed: usize) -> Result<(), DbError> {
    if changed == 1 {
        Ok(())
    } else {
        Err(DbError::Conflict)
    }
}

/// The current time as stored: naive UTC with microseconds (PostgreSQL keeps no more).
pub fn now() -> chrono::NaiveDateTime {
    use chrono::Timelike;
    let t = chrono::Utc::now().naive_utc();
    t.with_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t)
}

/// `<col> IN ids` for the ids of a list page, in the form each backend parses once:
/// on PostgreSQL `eq_any`, which binds one array (`= ANY($1)`); on SQLite
/// `<col> IN (SELECT value FROM json_each(?))` with the ids bound as one JSON array,
/// because `eq_any` writes one placeholder per id there, and SQLite parsed a new
/// 1,000-placeholder statement for every read of a 1,000-volume page.
pub fn in_ids<'a, Col>(
    c: &DbConnection,
    col: Col,
    ids: &'a [String],
) -> Box<
    dyn diesel::expression::BoxableExpression<
            Col::Table,
            <DbConnection as Connection>::Backend,
            SqlType = diesel::sql_types::Bool,
        > + 'a,
>
where
    Col: diesel::Column<SqlType = diesel::sql_types::Text> + ExpressionMethods,
    diesel::dsl::EqAny<Col, &'a [String]>: diesel::expression::BoxableExpression<
            Col::Table,
            <DbConnection as Connection>::Backend,
            SqlType = diesel::sql_types::Bool,
        > + 'a,
{
    match c {
        DbConnection::Sqlite(_) => {
            let json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
            Box::new(
                diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                    "{} IN (SELECT value FROM json_each(",
                    Col::NAME
                ))
                .bind::<diesel::sql_types::Text, _>(json)
                .sql("))"),
            )
        }
        DbConnection::Postgres(_) => Box::new(col.eq_any(ids)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// `run_for` on its own thread while the pool's one connection is held elsewhere, the
    /// requester keeping its receiver or dropping it while the work waits: whether the
    /// work ran, and whether the connection came back.
    fn queued_work_runs(requester_stays: bool) -> Result<bool, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("db.sqlite");
        let pool = connect(path.to_str().ok_or("temp path is not UTF-8")?, 1)?;
        let held = pool.get()?;
        let (answer, answered) = tokio::sync::oneshot::channel::<Result<(), DbError>>();
        let ran = Arc::new(AtomicBool::new(false));
        let worker = {
            let (pool, ran) = (pool.clone(), ran.clone());
            std::thread::spawn(move || {
                run_for(&pool, answer, move |_| {
                    ran.store(true, Ordering::SeqCst);
                    Ok(())
                })
            })
        };
        let kept = requester_stays.then_some(answered);
        drop(held);
        worker.join().map_err(|_| "the worker panicked")?;
        assert_eq!(pool.state().idle_connections, 1, "the connection came back");
        if let Some(mut answered) = kept {
            assert!(
                matches!(answered.try_recv(), Ok(Ok(()))),
                "the answer was sent"
            );
        }
        Ok(ran.load(Ordering::SeqCst))
    }

    #[test]
    fn work_whose_requester_has_gone_is_skipped() -> Result<(), Box<dyn std::error::Error>> {
        assert!(queued_work_runs(true)?, "a waiting requester's work runs");
        assert!(
            !queued_work_runs(false)?,
            "a dropped requester's work never takes the connection"
        );
        Ok(())
    }
}

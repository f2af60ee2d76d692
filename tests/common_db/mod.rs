//! A fresh, private database per test, on either backend.
//!
//! SQLite gets a file in a temp dir (never `:memory:`, which gives each pooled connection
//! its own empty database). PostgreSQL gets a database of its own, created from
//! `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`) and dropped
//! `WITH (FORCE)` when the handle goes away, so tests can run in parallel. An unreachable
//! PostgreSQL is an error, never a silent skip: CI starts it.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the helpers"
)]

use std::error::Error;

use clinker::db::{self, ConnectionManager, Pool};
use diesel::connection::SimpleConnection;
use diesel::r2d2::PooledConnection;
use diesel::{Connection, PgConnection};

/// What every test returns.
pub type TestResult<T = ()> = Result<T, Box<dyn Error + Send + Sync>>;

/// Where PostgreSQL tests connect to create their databases.
const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A private database and a pool on it. Dropping it removes the database.
pub struct TestDb {
    /// Declared first so the pool's connections close before the database goes.
    pub pool: Pool,
    /// The database's URL, for a second pool.
    pub url: String,
    /// Held so the SQLite file outlives the pool.
    _dir: Option<tempfile::TempDir>,
    /// Dropped last: drops the PostgreSQL database.
    _pg: Option<PgDatabase>,
}

impl TestDb {
    /// A new SQLite database file with a pool of `size` connections. Not migrated.
    pub fn sqlite(size: u32) -> TestResult<TestDb> {
        let dir = tempfile::TempDir::new()?;
        let path = dir.path().join("clinker.db");
        let url = path.to_str().ok_or("temp path is not UTF-8")?.to_string();
        let pool = db::connect(&url, size)?;
        Ok(TestDb {
            pool,
            url,
            _dir: Some(dir),
            _pg: None,
        })
    }

    /// A new PostgreSQL database with a pool of `size` connections. Not migrated.
    pub fn postgres(size: u32) -> TestResult<TestDb> {
        let pg = PgDatabase::create()?;
        let pool = db::connect(&pg.url, size)?;
        Ok(TestDb {
            pool,
            url: pg.url.clone(),
            _dir: None,
            _pg: Some(pg),
        })
    }

    /// A pooled connection.
    pub fn conn(&self) -> TestResult<PooledConnection<ConnectionManager>> {
        Ok(self.pool.get()?)
    }

    /// A pooled connection on a migrated database.
    pub fn migrated(&self) -> TestResult<PooledConnection<ConnectionManager>> {
        let mut c = self.conn()?;
        db::migrate(&mut c)?;
        Ok(c)
    }
}

/// A database created for one test on the shared PostgreSQL server.
struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    fn create() -> TestResult<PgDatabase> {
        let admin_url =
            std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string());
        let mut admin = PgConnection::establish(&admin_url).map_err(|e| {
            format!(
                "PostgreSQL is not reachable at {admin_url}: {e}. The PostgreSQL tests need \
                 a running server (set TEST_DATABASE_URL to point elsewhere)."
            )
        })?;
        let name = format!("clinker_t_{}", uuid::Uuid::new_v4().simple());
        admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
        let url = with_database(&admin_url, &name)?;
        Ok(PgDatabase {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let dropped = PgConnection::establish(&self.admin_url)
            .map_err(|e| e.to_string())
            .and_then(|mut c| {
                c.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .map_err(|e| e.to_string())
            });
        if let Err(e) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

/// `url` with its database name replaced by `name`, keeping any `?query`.
fn with_database(url: &str, name: &str) -> TestResult<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").ok_or("database URL has no scheme")? + 3;
    let server = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    Ok(match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    })
}

/// Fails the test with `what` unless `r` is an error, and returns the error.
pub fn must_fail<T: std::fmt::Debug>(
    r: Result<T, db::DbError>,
    what: &str,
) -> TestResult<db::DbError> {
    match r {
        Ok(v) => Err(format!("{what}: expected an error, got Ok({v:?})").into()),
        Err(e) => Ok(e),
    }
}

/// Writes each suite once and runs it on both backends: `conn` suites get a pooled
/// connection on a migrated database, `db` suites get the unmigrated [`TestDb`]. Each
/// test name may carry attributes (`#[ignore = "..."]` for a known bug on one backend).
#[macro_export]
macro_rules! on_both_backends {
    (conn $suite:ident => $(#[$sa:meta])* $sqlite:ident, $(#[$pa:meta])* $postgres:ident) => {
        #[test]
        $(#[$sa])*
        fn $sqlite() -> $crate::common_db::TestResult {
            let db = $crate::common_db::TestDb::sqlite(4)?;
            let mut c = db.migrated()?;
            $suite(&mut c)
        }
        #[test]
        $(#[$pa])*
        fn $postgres() -> $crate::common_db::TestResult {
            let db = $crate::common_db::TestDb::postgres(4)?;
            let mut c = db.migrated()?;
            $suite(&mut c)
        }
    };
    (db $suite:ident => $(#[$sa:meta])* $sqlite:ident, $(#[$pa:meta])* $postgres:ident) => {
        #[test]
        $(#[$sa])*
        fn $sqlite() -> $crate::common_db::TestResult {
            $suite(&$crate::common_db::TestDb::sqlite(20)?)
        }
        #[test]
        $(#[$pa])*
        fn $postgres() -> $crate::common_db::TestResult {
            $suite(&$crate::common_db::TestDb::postgres(20)?)
        }
    };
}

/// The seeded `__DEFAULT__` type's fixed id (migrations/…_core/up.sql).
pub const DEFAULT_TYPE_ID: &str = "a3b2c7e4-5f1d-4e8a-9c60-2d7f0e1b9a11";

/// A fixed instant plus `secs` seconds and `micros` microseconds, at the precision both
/// backends keep, so rows compare equal after a round trip.
pub fn at(secs: i64, micros: u32) -> TestResult<chrono::NaiveDateTime> {
    let t = chrono::DateTime::from_timestamp(1_767_225_600 + secs, micros * 1000)
        .ok_or("timestamp out of range")?;
    Ok(t.naive_utc())
}

/// A volume row of `__DEFAULT__` type with no host.
pub fn volume(
    project: &str,
    name: Option<&str>,
    size: i64,
    status: clinker::model::VolumeStatus,
    created_at: chrono::NaiveDateTime,
) -> clinker::db::rows::VolumeRow {
    clinker::db::rows::VolumeRow {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: project.into(),
        user_id: "user-1".to_string(),
        display_name: name.map(str::to_string),
        display_description: None,
        size,
        status,
        attach_status: clinker::model::AttachStatus::Detached,
        availability_zone: "nova".to_string(),
        volume_type_id: DEFAULT_TYPE_ID.to_string(),
        host: None,
        bootable: false,
        multiattach: false,
        snapshot_id: None,
        source_volid: None,
        provider_location: None,
        request_spec: clinker::model::spec::RequestSpec::default(),
        request_id: format!("req-{}", uuid::Uuid::new_v4()),
        created_at,
        updated_at: None,
        scheduled_at: None,
        launched_at: None,
        previous_status: None,
    }
}

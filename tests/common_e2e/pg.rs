//! A PostgreSQL database per test, for the controller's tests and (included by `#[path]`)
//! the tools' tests.

use diesel::Connection;
use diesel::connection::SimpleConnection;

/// A database of its own on the local PostgreSQL, dropped afterwards.
pub struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    /// Creates it (PostgreSQL must be running: `.ci/run` starts it).
    pub fn create() -> Result<PgDatabase, Box<dyn std::error::Error>> {
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("clinker_e2e_{}", uuid::Uuid::new_v4().simple());
        let mut c = diesel::PgConnection::establish(&admin_url)
            .map_err(|e| format!("PostgreSQL at {admin_url} is needed (.ci/run starts it): {e}"))?;
        c.batch_execute(&format!("CREATE DATABASE {name}"))?;
        Ok(PgDatabase { admin_url, name })
    }

    /// Its URL.
    pub fn url(&self) -> String {
        match self.admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{}", self.name),
            None => self.admin_url.clone(),
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut c) = diesel::PgConnection::establish(&self.admin_url) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

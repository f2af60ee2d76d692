//! `DbError`: what the database layer can report.

/// A quota that a reservation would exceed, with the figures Cinder puts in its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaExceeded {
    /// The resource (`volumes`, `gigabytes`, `per_volume_gigabytes`).
    pub resource: String,
    /// The limit in force.
    pub limit: i64,
    /// Committed usage.
    pub in_use: i64,
    /// Reserved but not yet committed.
    pub reserved: i64,
    /// What the request asked for.
    pub requested: i64,
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No row matched.
    #[error("not found")]
    NotFound,
    /// A compare-and-set matched no row: someone else changed it first, or it is in
    /// the wrong state.
    #[error("the row changed or is in another state")]
    Conflict,
    /// The row is in use by another operation that must finish first (a volume being
    /// cloned).
    #[error("the row is busy")]
    Busy,
    /// A write would leave more metadata items (or extra specs, or QoS specs) on one
    /// resource than allowed; raised inside the write's transaction, so nothing is kept.
    #[error("too many items: {count}, at most {max}")]
    TooManyItems {
        /// How many the write would leave.
        count: i64,
        /// The most allowed.
        max: usize,
    },
    /// A reservation would exceed a quota.
    #[error("quota exceeded for {}", .0.resource)]
    OverQuota(QuotaExceeded),
    /// The database URL or settings are wrong.
    #[error("{0}")]
    Config(String),
    /// No connection could be had.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// A stored value could not be read back (bad JSON, unknown status).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error(transparent)]
    Query(diesel::result::Error),
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => DbError::NotFound,
            other => DbError::Query(other),
        }
    }
}

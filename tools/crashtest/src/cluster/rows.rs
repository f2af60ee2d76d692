//! What only the database shows: reservations and their owners, the nodes' claims and
//! epochs, the outbox, and a node's rows as they stand (to prove a stale agent changed
//! none of them). Read with plain SQL, as an operator's `psql` would.

use std::collections::BTreeMap;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

/// A connection to the cluster's database.
pub struct Rows {
    c: PgConnection,
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

#[derive(QueryableByName)]
struct Claim {
    #[diesel(sql_type = Text)]
    node: String,
    #[diesel(sql_type = Text)]
    holder: String,
    #[diesel(sql_type = BigInt)]
    epoch: i64,
    #[diesel(sql_type = BigInt)]
    pid: i64,
}

/// A node's claim: who holds it, at which epoch, and that holder's pid (0 when the
/// holder is no registered instance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeClaim {
    /// The holding instance.
    pub holder: String,
    /// The fencing epoch.
    pub epoch: i64,
    /// The holder's process id, 0 if it is not (or no longer) registered.
    pub pid: i64,
}

impl Rows {
    /// Connects to `url`.
    pub fn connect(url: &str) -> Result<Rows, String> {
        let c = PgConnection::establish(url).map_err(|e| format!("database: {e}"))?;
        Ok(Rows { c })
    }

    fn lines(&mut self, sql: &str) -> Result<Vec<String>, String> {
        diesel::sql_query(sql)
            .load::<Line>(&mut self.c)
            .map(|v| v.into_iter().map(|l| l.line).collect())
            .map_err(|e| format!("{sql}: {e}"))
    }

    /// Reservations whose maker is not a live instance (its row gone or its lease
    /// lapsed): what a dead process left behind.
    pub fn orphan_reservations(&mut self) -> Result<Vec<String>, String> {
        self.lines(
            "SELECT 'reservation ' || r.id || ' (' || r.project_id || ' ' || r.resource || ' ' \
             || r.delta || ') of instance ' || r.instance_id || \
             CASE WHEN i.id IS NULL THEN ' (gone)' ELSE ' (lease lapsed)' END AS line \
             FROM reservations r LEFT JOIN instances i ON i.id = r.instance_id \
             WHERE i.id IS NULL OR i.lease_expires_at < now()",
        )
    }

    /// Work and calls still queued in the outbox.
    pub fn queued(&mut self) -> Result<Vec<String>, String> {
        self.lines(
            "SELECT CASE WHEN is_call THEN 'call' ELSE 'work' END || ' for node ' || node || \
             ' on ' || resource_id || ' queued at ' || created_at::text AS line FROM node_work",
        )
    }

    /// Every node's claim.
    pub fn claims(&mut self) -> Result<BTreeMap<String, NodeClaim>, String> {
        let sql = "SELECT c.node, c.holder, c.epoch, coalesce(i.pid, 0) AS pid \
                   FROM node_claims c LEFT JOIN instances i ON i.id = c.holder";
        let rows = diesel::sql_query(sql)
            .load::<Claim>(&mut self.c)
            .map_err(|e| format!("{sql}: {e}"))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.node,
                    NodeClaim {
                        holder: r.holder,
                        epoch: r.epoch,
                        pid: r.pid,
                    },
                )
            })
            .collect())
    }

    /// Every volume and snapshot row of `node` as one line each (id, status, size,
    /// last update): equal before and after means nothing wrote to them.
    pub fn node_rows(&mut self, node: &str) -> Result<Vec<String>, String> {
        // Node names are the harness's own (`node-0`…), never a client's: safe to quote.
        let like = format!("'{}@%'", node.replace('\'', ""));
        self.lines(&format!(
            "SELECT line FROM (\
             SELECT 'volume ' || v.id || ' ' || v.status || ' ' || v.size || ' ' || \
             coalesce(v.updated_at::text, '-') AS line FROM volumes v WHERE v.host LIKE {like} \
             UNION ALL \
             SELECT 'snapshot ' || s.id || ' ' || s.status || ' ' || \
             coalesce(s.updated_at::text, '-') AS line FROM snapshots s \
             JOIN volumes v ON v.id = s.volume_id WHERE v.host LIKE {like}) t ORDER BY line"
        ))
    }

    /// Checks the connection still works (the server may have restarted).
    pub fn ping(&mut self) -> Result<(), String> {
        self.c.batch_execute("SELECT 1").map_err(|e| e.to_string())
    }
}

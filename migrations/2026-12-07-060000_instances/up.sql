-- Instances and node claims: what lets several processes share one database.
-- Portable DDL only, as in the core migration: the same file runs on SQLite and PostgreSQL.

-- Every running process (`serve`, `node`) while it lives. Its lease is renewed against the
-- database's clock (never a host's): once `lease_expires_at` is past, what the instance
-- owned (quota reservations, idempotency claims, nodes) is released or taken over.
-- `identity` is what restarts as the same process (kind, host, data directory): a new
-- incarnation ends the old one's lease at once instead of waiting for it to lapse.
CREATE TABLE instances (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    identity TEXT NOT NULL,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    lease_expires_at TIMESTAMP NOT NULL
);
CREATE INDEX instances_lease ON instances (lease_expires_at);
CREATE INDEX instances_identity ON instances (identity);

-- One row per storage node ever claimed. The holder's lease is the claim's lease (one
-- renewal per process, not per node); `epoch` grows by one at each change of holder, and
-- a node's writes check it, so an instance that lost the node changes nothing.
CREATE TABLE node_claims (
    node TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    claimed_at TIMESTAMP NOT NULL
);

-- The instance whose request made the reservation ('' for rows from before): when it
-- dies, its uncommitted reservations are released then, not after a day.
ALTER TABLE reservations ADD COLUMN instance_id TEXT NOT NULL DEFAULT '';
CREATE INDEX reservations_instance ON reservations (instance_id);

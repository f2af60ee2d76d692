-- Messages between processes, and what controllers need to know of nodes other processes
-- run. Portable DDL, as in the core migration.

-- The outbox: a message to a node held by another process. Written in the transaction
-- that writes the intent it carries (a volume placed, a status moved to `deleting`, ...);
-- claimed and deleted in one transaction by the process holding the node, checked
-- against its fencing epoch. A row whose `call_id` is set is a call: the holder answers
-- in `reply` and the caller, waiting within its request, deletes it.
CREATE TABLE node_work (
    id TEXT PRIMARY KEY NOT NULL,
    node TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    body TEXT NOT NULL,
    is_call BOOLEAN NOT NULL DEFAULT FALSE,
    claimed_by TEXT,
    reply TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX node_work_node ON node_work (node, created_at);

-- Each node's last capacity report, written by the process holding it, so that every
-- controller's scheduler sees nodes it does not run. `acked` is the last placement of
-- each controller instance the node had received when it measured (JSON object).
CREATE TABLE node_reports (
    node TEXT PRIMARY KEY NOT NULL,
    availability_zone TEXT NOT NULL,
    stats TEXT NOT NULL,
    acked TEXT NOT NULL,
    reported_at TIMESTAMP NOT NULL
);

-- When each instance last renewed its lease (database clock): a node whose holder has
-- not renewed for `[cluster] node_down_after_seconds` is down.
ALTER TABLE instances ADD COLUMN renewed_at TIMESTAMP;

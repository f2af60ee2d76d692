-- Volume transfers (Cinder's `transfers`), portable DDL for SQLite and PostgreSQL.
-- The auth key itself is never stored: only a random salt and SHA-256(salt || key), so
-- a copy of the database does not let anyone accept a pending transfer.
-- An accepted or deleted transfer keeps its row (`deleted_at` set) as Cinder soft-deletes
-- it; every read filters on `deleted_at IS NULL`. The row goes with its volume.
CREATE TABLE transfers (
    id TEXT PRIMARY KEY NOT NULL,
    volume_id TEXT NOT NULL REFERENCES volumes (id) ON DELETE CASCADE,
    display_name TEXT,
    salt TEXT NOT NULL,
    crypt_hash TEXT NOT NULL,
    no_snapshots BOOLEAN NOT NULL DEFAULT FALSE,
    source_project_id TEXT NOT NULL,
    destination_project_id TEXT,
    accepted BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP,
    deleted_at TIMESTAMP
);
CREATE INDEX transfers_volume_id ON transfers (volume_id);
CREATE INDEX transfers_source_project ON transfers (source_project_id, created_at);

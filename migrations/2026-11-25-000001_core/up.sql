-- Portable DDL only (TEXT, BIGINT, BOOLEAN, TIMESTAMP): the same file runs on SQLite and
-- PostgreSQL. Ids are UUID strings made in Rust; timestamps are naive UTC.

CREATE TABLE volume_types (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    is_public BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP
);

CREATE TABLE volume_type_extra_specs (
    volume_type_id TEXT NOT NULL REFERENCES volume_types (id) ON DELETE CASCADE,
    spec_key TEXT NOT NULL,
    spec_value TEXT NOT NULL,
    PRIMARY KEY (volume_type_id, spec_key)
);

-- Cinder always has this type; its id is fixed so every controller agrees on it.
INSERT INTO volume_types (id, name, description, is_public)
VALUES ('a3b2c7e4-5f1d-4e8a-9c60-2d7f0e1b9a11', '__DEFAULT__', 'Default Volume Type', TRUE);

CREATE TABLE volumes (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    display_name TEXT,
    display_description TEXT,
    size BIGINT NOT NULL,
    status TEXT NOT NULL,
    attach_status TEXT NOT NULL,
    availability_zone TEXT NOT NULL,
    volume_type_id TEXT NOT NULL REFERENCES volume_types (id),
    -- node@backend#pool once scheduled; NULL before (a delete then needs no node).
    host TEXT,
    bootable BOOLEAN NOT NULL DEFAULT FALSE,
    multiattach BOOLEAN NOT NULL DEFAULT FALSE,
    snapshot_id TEXT,
    source_volid TEXT,
    provider_location TEXT,
    -- The durable intent: what the scheduler needs, and the nodes already tried (JSON).
    request_spec TEXT NOT NULL,
    -- The request that created the volume, for user messages about it.
    request_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP,
    scheduled_at TIMESTAMP,
    launched_at TIMESTAMP
);
CREATE INDEX volumes_project_created ON volumes (project_id, created_at);
CREATE INDEX volumes_created ON volumes (created_at);
CREATE INDEX volumes_host ON volumes (host);
CREATE INDEX volumes_status ON volumes (status);

CREATE TABLE volume_metadata (
    volume_id TEXT NOT NULL REFERENCES volumes (id) ON DELETE CASCADE,
    meta_key TEXT NOT NULL,
    meta_value TEXT NOT NULL,
    PRIMARY KEY (volume_id, meta_key)
);

-- Per-project limits set by an admin; absent rows fall back to quota_classes 'default',
-- then to the config.
CREATE TABLE quotas (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (project_id, resource)
);

CREATE TABLE quota_classes (
    class_name TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit BIGINT NOT NULL,
    PRIMARY KEY (class_name, resource)
);

CREATE TABLE quota_usages (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    in_use BIGINT NOT NULL DEFAULT 0,
    reserved BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMP,
    PRIMARY KEY (project_id, resource)
);

CREATE TABLE reservations (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    delta BIGINT NOT NULL,
    expire TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX reservations_expire ON reservations (expire);

-- One row per flow run: its final state and every flow and task transition (JSON), and for
-- the scheduler its decision. Written once, when the run ends, so a create costs three rows.
-- Kept after the volume is deleted; seq orders runs that start in the same microsecond.
CREATE TABLE flow_runs (
    id TEXT PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL,
    resource_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    flow TEXT NOT NULL,
    state TEXT NOT NULL,
    transitions TEXT NOT NULL,
    detail TEXT,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL
);
CREATE INDEX flow_runs_resource ON flow_runs (resource_id, seq);

-- User messages (Cinder's messages API): what went wrong with an asynchronous request.
CREATE TABLE messages (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    resource_type TEXT,
    resource_uuid TEXT,
    event_id TEXT NOT NULL,
    message_level TEXT NOT NULL,
    user_message TEXT NOT NULL,
    detail TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX messages_project ON messages (project_id, created_at);

-- Generic volume groups (Cinder's `groups`, `group_volume_type_mapping`), portable DDL
-- for SQLite and PostgreSQL. A group row goes with its project's quota usage of
-- `groups`, written in the same transaction.
CREATE TABLE groups (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    availability_zone TEXT NOT NULL,
    status TEXT NOT NULL,
    -- No cascade: a group type in use cannot be deleted.
    group_type_id TEXT NOT NULL REFERENCES group_types (id),
    group_snapshot_id TEXT,
    source_group_id TEXT,
    replication_status TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP
);
CREATE INDEX groups_project ON groups (project_id, created_at);

CREATE TABLE group_volume_types (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    volume_type_id TEXT NOT NULL REFERENCES volume_types (id),
    PRIMARY KEY (group_id, volume_type_id)
);

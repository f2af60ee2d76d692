-- Group types and their specs (Cinder's `group_types`, `group_type_specs`), portable DDL
-- for SQLite and PostgreSQL. A group type only labels groups: Clinker's drivers read no
-- group spec, so the specs are stored and shown, never interpreted.
CREATE TABLE group_types (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    is_public BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP
);

CREATE TABLE group_type_specs (
    group_type_id TEXT NOT NULL REFERENCES group_types (id) ON DELETE CASCADE,
    spec_key TEXT NOT NULL,
    spec_value TEXT NOT NULL,
    PRIMARY KEY (group_type_id, spec_key)
);

-- Cinder's first migration makes this type (for consistency groups migrated to groups),
-- so a deployment lists it from the start; its id is fixed so every controller agrees.
INSERT INTO group_types (id, name, description, is_public)
VALUES ('5c0f4a9e-2d3b-4e71-8a6f-9b1c7d2e3f40', 'default_cgsnapshot_type',
        'Default group type for migrating cgsnapshot', TRUE);
INSERT INTO group_type_specs (group_type_id, spec_key, spec_value)
VALUES ('5c0f4a9e-2d3b-4e71-8a6f-9b1c7d2e3f40', 'consistent_group_snapshot_enabled', '<is> True');

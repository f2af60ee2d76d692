-- Volume-type access, per-project default types, QoS specs, and the service list.
-- Portable DDL only, as in the core migration: the same file runs on SQLite and PostgreSQL.

-- Projects that may use a private type (Cinder's volume_type_projects).
CREATE TABLE volume_type_projects (
    volume_type_id TEXT NOT NULL REFERENCES volume_types (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    PRIMARY KEY (volume_type_id, project_id)
);

-- A project's own default type (the default-types API, 3.62); absent: the config's.
-- No cascade: a type that is some project's default cannot be deleted.
CREATE TABLE default_volume_types (
    project_id TEXT PRIMARY KEY NOT NULL,
    volume_type_id TEXT NOT NULL REFERENCES volume_types (id)
);

CREATE TABLE qos_specs (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    consumer TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE qos_spec_values (
    qos_specs_id TEXT NOT NULL REFERENCES qos_specs (id) ON DELETE CASCADE,
    spec_key TEXT NOT NULL,
    spec_value TEXT NOT NULL,
    PRIMARY KEY (qos_specs_id, spec_key)
);

-- Which QoS specs a type carries (Cinder keeps qos_specs_id on the type row; a table of
-- its own leaves the core table untouched). At most one per type.
CREATE TABLE volume_type_qos (
    volume_type_id TEXT PRIMARY KEY NOT NULL REFERENCES volume_types (id) ON DELETE CASCADE,
    qos_specs_id TEXT NOT NULL REFERENCES qos_specs (id)
);

-- One row per node (`node@backend`, binary cinder-volume) and per controller
-- (binary cinder-scheduler). updated_at is the heartbeat: older than 60 s is "down".
CREATE TABLE services (
    host TEXT NOT NULL,
    service_binary TEXT NOT NULL,
    availability_zone TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP,
    PRIMARY KEY (host, service_binary)
);

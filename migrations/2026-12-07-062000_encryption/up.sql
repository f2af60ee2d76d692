-- Volume type encryption (Cinder's `encryption` table): at most one entry per type,
-- removed with its type. Portable DDL for SQLite and PostgreSQL.
CREATE TABLE volume_type_encryption (
    volume_type_id TEXT PRIMARY KEY NOT NULL REFERENCES volume_types (id) ON DELETE CASCADE,
    encryption_id TEXT NOT NULL UNIQUE,
    cipher TEXT,
    key_size BIGINT,
    provider TEXT NOT NULL,
    control_location TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP
);

-- Snapshots, attachments and the admin metadata of volumes (portable DDL).

ALTER TABLE volumes ADD COLUMN previous_status TEXT;

CREATE TABLE snapshots (
    id TEXT PRIMARY KEY NOT NULL,
    volume_id TEXT NOT NULL REFERENCES volumes (id),
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    progress TEXT NOT NULL,
    volume_size BIGINT NOT NULL,
    display_name TEXT,
    display_description TEXT,
    volume_type_id TEXT NOT NULL,
    provider_location TEXT,
    request_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP
);
CREATE INDEX snapshots_project_created ON snapshots (project_id, created_at);
CREATE INDEX snapshots_volume ON snapshots (volume_id);

CREATE TABLE snapshot_metadata (
    snapshot_id TEXT NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    meta_key TEXT NOT NULL,
    meta_value TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, meta_key)
);

-- One row per attachment (legacy os-attach and the attachments API alike).
CREATE TABLE volume_attachment (
    id TEXT PRIMARY KEY NOT NULL,
    volume_id TEXT NOT NULL REFERENCES volumes (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    instance_uuid TEXT,
    attached_host TEXT,
    mountpoint TEXT,
    attach_status TEXT NOT NULL,
    attach_mode TEXT,
    -- JSON; may hold credentials: shown only to the caller that made the attachment.
    connection_info TEXT,
    connector TEXT,
    attach_time TIMESTAMP,
    detach_time TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP
);
CREATE INDEX volume_attachment_volume ON volume_attachment (volume_id);

-- Cinder's "visible admin metadata": readonly, attached_mode.
CREATE TABLE volume_admin_metadata (
    volume_id TEXT NOT NULL REFERENCES volumes (id) ON DELETE CASCADE,
    meta_key TEXT NOT NULL,
    meta_value TEXT NOT NULL,
    PRIMARY KEY (volume_id, meta_key)
);

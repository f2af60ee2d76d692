DROP TABLE volume_admin_metadata;
DROP TABLE volume_attachment;
DROP TABLE snapshot_metadata;
DROP TABLE snapshots;
ALTER TABLE volumes DROP COLUMN previous_status;

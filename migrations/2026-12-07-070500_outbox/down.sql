ALTER TABLE instances DROP COLUMN renewed_at;
DROP TABLE node_reports;
DROP INDEX node_work_node;
DROP TABLE node_work;

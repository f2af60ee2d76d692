DROP INDEX reservations_instance;
ALTER TABLE reservations DROP COLUMN instance_id;
DROP TABLE node_claims;
DROP TABLE instances;

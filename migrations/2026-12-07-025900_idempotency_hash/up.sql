-- Idempotency keys keep a SHA-256 of the request (path and body), not the body: a 1 MiB
-- body stored per key filled the disk. A claim records who holds it (the process
-- incarnation and the request id), so a claim whose request died can be taken over, and
-- a volume the dead request created can be found by its request id.
ALTER TABLE idempotency_keys ADD COLUMN request_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
-- Rows from before keep their answers; their hash is unknown (''), so a retry is matched
-- by path alone until they expire (24 h). A claim still running here was left by a
-- request that died: drop it, so its retry runs again.
DELETE FROM idempotency_keys WHERE status = 0;
ALTER TABLE idempotency_keys DROP COLUMN request_body;

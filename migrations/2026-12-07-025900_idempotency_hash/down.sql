ALTER TABLE idempotency_keys ADD COLUMN request_body TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys DROP COLUMN request_id;
ALTER TABLE idempotency_keys DROP COLUMN claimed_by;
ALTER TABLE idempotency_keys DROP COLUMN request_hash;

-- Idempotency-Key: the first answer to a POST, replayed to retries of the same request.
CREATE TABLE idempotency_keys (
    project_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_path TEXT NOT NULL,
    request_body TEXT NOT NULL,
    -- 0 while the first request is still running.
    status BIGINT NOT NULL,
    response TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (project_id, idem_key)
);

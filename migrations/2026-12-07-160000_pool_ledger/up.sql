-- The capacity ledger: per pool (`node@backend#pool`), the GiB of the volumes placed on
-- it. Booked by the scheduler in the transaction that writes a volume's host (after a
-- check of the pool's room under this row's lock), given back in the transactions that
-- clear a host, delete a placed volume or grow one, so any number of schedulers share
-- one book. `version` rises with every change, so a reader keeps the newer of two
-- figures it saw. Portable DDL, as in the core migration.
CREATE TABLE pool_ledger (
    host TEXT PRIMARY KEY NOT NULL,
    allocated_gb BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 0
);

-- The volumes placed before the ledger existed.
INSERT INTO pool_ledger (host, allocated_gb, version)
SELECT host, SUM(size), 1 FROM volumes WHERE host IS NOT NULL GROUP BY host;

DROP TABLE pool_ledger;

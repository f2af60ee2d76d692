//! The fake driver: in memory, for control-plane tests and benchmarks only. To be written.

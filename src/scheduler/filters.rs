//! The filters (cinder-internals.md §5.3). To be written.

use super::{PoolState, ScheduleRequest, Verdict};

/// Runs every filter on one pool, stopping at the first rejection.
pub fn run_all(_pool: &PoolState, _request: &ScheduleRequest) -> Vec<Verdict> {
    Vec::new()
}

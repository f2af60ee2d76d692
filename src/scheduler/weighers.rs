//! The weighers (cinder-internals.md §5.4). To be written.

use super::{PoolState, ScheduleRequest};

/// CapacityWeigher: normalized virtual free space times the multiplier, one per pool.
pub fn capacity_weights<'a>(
    pools: impl Iterator<Item = &'a PoolState>,
    _request: &ScheduleRequest,
    _multiplier: f64,
) -> Vec<f64> {
    pools.map(|_| 0.0).collect()
}

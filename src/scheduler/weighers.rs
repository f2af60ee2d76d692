//! The weighers (cinder-internals.md §5.4; Cinder's `weights/capacity.py` and
//! `base_weight.py`).

use super::{PoolState, ScheduleRequest, capacity};

/// What Cinder puts above the largest finite weight when there is no spread to scale.
const OFFSET_MIN: f64 = 10_000.0;
/// How many spreads above the largest finite weight an infinite one lands.
const OFFSET_MULT: f64 = 100.0;

/// CapacityWeigher: normalized virtual free space times the multiplier, one per pool, in
/// the order given.
///
/// The raw weight is the virtual free space exactly as the CapacityFilter computes it.
/// A pool whose total or free is `infinite`/`unknown` gets -1 when spreading (so it comes
/// last) and, when stacking, +∞ replaced by a value just beyond the largest finite one
/// (so it still comes last once the negative multiplier flips the order).
pub fn capacity_weights<'a>(
    pools: impl Iterator<Item = &'a PoolState>,
    request: &ScheduleRequest,
    multiplier: f64,
) -> Vec<f64> {
    let thin = capacity::wants_thin(request);
    let unknown = if multiplier > 0.0 {
        -1.0
    } else {
        f64::INFINITY
    };
    let mut weights: Vec<f64> = pools
        .map(|pool| capacity::virtual_free(&pool.stats, thin).unwrap_or(unknown))
        .collect();
    let min = weights.iter().copied().fold(f64::INFINITY, f64::min);
    let mut max = weights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::INFINITY {
        let max_finite = weights
            .iter()
            .copied()
            .filter(|w| w.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        if max_finite == f64::NEG_INFINITY {
            // All infinite: all equal. (Cinder raises on `max([])` here.)
            return vec![0.0; weights.len()];
        }
        let offset = (max_finite - min) * OFFSET_MULT;
        max = max_finite + if offset == 0.0 { OFFSET_MIN } else { offset };
        for w in weights.iter_mut().filter(|w| **w == f64::INFINITY) {
            *w = max;
        }
    }
    normalize(&mut weights, min, max, multiplier);
    weights
}

/// `multiplier * (w - min) / (max - min)` in place; all 0 when every weight is equal.
fn normalize(weights: &mut [f64], min: f64, max: f64, multiplier: f64) {
    if min == max {
        weights.fill(0.0);
        return;
    }
    let range = max - min;
    for w in weights {
        *w = multiplier * ((*w - min) / range);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::{Capacity, CapacityWord};
    use crate::scheduler::tests::{pool, request, stats, thin_stats};

    fn weigh(pools: &[PoolState], r: &ScheduleRequest, multiplier: f64) -> Vec<f64> {
        capacity_weights(pools.iter(), r, multiplier)
    }

    fn infinite(node: &str) -> PoolState {
        let mut s = stats(100.0, 0.0);
        s.free_capacity_gb = Capacity::Word(CapacityWord::Infinite);
        pool(node, s)
    }

    fn unknown_total(node: &str) -> PoolState {
        let mut s = stats(0.0, 50.0);
        s.total_capacity_gb = Capacity::Word(CapacityWord::Unknown);
        pool(node, s)
    }

    #[test]
    fn no_pools_no_weights() {
        assert!(weigh(&[], &request(1), 1.0).is_empty());
    }

    #[test]
    fn normalizes_between_min_and_max() {
        let pools = [
            pool("a", stats(100.0, 50.0)),
            pool("b", stats(100.0, 100.0)),
            pool("c", stats(100.0, 0.0)),
        ];
        assert_eq!(weigh(&pools, &request(1), 1.0), [0.5, 1.0, 0.0]);
        assert_eq!(weigh(&pools, &request(1), 2.0), [1.0, 2.0, 0.0]);
    }

    #[test]
    fn equal_weights_are_all_zero() {
        let pools = [pool("a", stats(100.0, 50.0)), pool("b", stats(200.0, 50.0))];
        assert_eq!(weigh(&pools, &request(1), 1.0), [0.0, 0.0]);
        assert_eq!(weigh(&pools[..1], &request(1), -1.0), [0.0]);
    }

    #[test]
    fn negative_multiplier_stacks() {
        let pools = [
            pool("a", stats(100.0, 50.0)),
            pool("b", stats(100.0, 100.0)),
        ];
        assert_eq!(weigh(&pools, &request(1), -1.0), [-0.0, -1.0]);
    }

    #[test]
    fn weighs_virtual_free_thin_unless_thick_requested() {
        // Thin: 100 * 4 - 300 = 100; thick: min(90, 100 - 300) = -200.
        let mut thin = thin_stats(100.0, 90.0, 4.0);
        thin.provisioned_capacity_gb = 300.0;
        let pools = [pool("thin", thin), pool("plain", stats(100.0, 50.0))];
        assert_eq!(weigh(&pools, &request(1), 1.0), [1.0, 0.0]);
        let mut thick = request(1);
        thick
            .extra_specs
            .insert("provisioning:type".into(), "thick".into());
        assert_eq!(weigh(&pools, &thick, 1.0), [0.0, 1.0]);
    }

    #[test]
    fn infinite_or_unknown_comes_last_when_spreading() {
        // Raw -1, min(10 free, 99 usable - 90 provisioned) = 9, -1.
        let mut low = stats(100.0, 10.0);
        low.reserved_percentage = 1;
        low.provisioned_capacity_gb = 90.0;
        let pools = [infinite("inf"), pool("low", low), unknown_total("unk")];
        assert_eq!(weigh(&pools, &request(1), 1.0), [0.0, 1.0, 0.0]);
        // As in Cinder, -1 still beats a pool whose virtual free space is negative.
        let mut full = stats(100.0, 0.0);
        full.provisioned_capacity_gb = 105.0;
        let pools = [infinite("inf"), pool("full", full)];
        assert_eq!(weigh(&pools, &request(1), 1.0), [1.0, 0.0]);
    }

    #[test]
    fn infinite_comes_last_when_stacking() {
        // Raw 100, 40, +inf -> +inf becomes 100 + (100 - 40) * 100 = 6100.
        let pools = [
            pool("a", stats(100.0, 100.0)),
            pool("b", stats(100.0, 40.0)),
            infinite("inf"),
        ];
        let w = weigh(&pools, &request(1), -1.0);
        assert_eq!(w, [-(60.0 / 6060.0), -0.0, -1.0]);
        // b (most used) wins, the infinite pool loses.
        assert!(w[1] > w[0] && w[0] > w[2]);
    }

    #[test]
    fn infinite_with_no_spread_uses_the_minimum_offset() {
        // Raw 40, 40, +inf -> +inf becomes 40 + 10000.
        let pools = [
            pool("a", stats(100.0, 40.0)),
            infinite("inf"),
            pool("b", stats(50.0, 40.0)),
        ];
        assert_eq!(weigh(&pools, &request(1), -2.0), [-0.0, -2.0, -0.0]);
        // All infinite: all equal.
        assert_eq!(
            weigh(&[infinite("x"), infinite("y")], &request(1), -1.0),
            [0.0, 0.0]
        );
    }
}

//! Capacity arithmetic shared by the CapacityFilter and the CapacityWeigher, so both read
//! a pool's room the same way (cinder-internals.md §5.1, §5.3, §5.4; Cinder's
//! `sched_utils.calculate_capacity_factors`).

use super::{CapacityDetail, Rejection, ScheduleRequest};
use crate::drivers::{Capacity, OverSubscription, PoolStats};

/// The ratio `auto` gives a pool that has provisioned nothing yet (Cinder's `INITIAL_AUTO_MOSR`).
const INITIAL_AUTO_MOSR: f64 = 20.0;

/// Whether the request is for a thin volume: anything but `provisioning:type=thick` is.
pub(crate) fn wants_thin(request: &ScheduleRequest) -> bool {
    request
        .extra_specs
        .get("provisioning:type")
        .is_none_or(|t| t != "thick")
}

/// Total and free as numbers, or `None` when either is `infinite`/`unknown` (or NaN, which
/// no arithmetic below could use either).
fn known_figures(stats: &PoolStats) -> Option<(f64, f64)> {
    let total = stats.total_capacity_gb.gb().filter(|t| !t.is_nan())?;
    let free = stats.free_capacity_gb.gb().filter(|f| !f.is_nan())?;
    Some((total, free))
}

/// The pool's effective `max_over_subscription_ratio` (§5.1): 1 when the pool cannot do
/// thin or its figures are not numbers, `auto` resolved from usage, else the reported ratio.
pub(crate) fn max_over_subscription_ratio(stats: &PoolStats) -> f64 {
    if !stats.thin_provisioning_support {
        return 1.0;
    }
    let Some((total, free)) = known_figures(stats) else {
        return 1.0;
    };
    match stats.max_over_subscription_ratio {
        OverSubscription::Ratio(ratio) => ratio,
        OverSubscription::Auto(_) if stats.provisioned_capacity_gb != 0.0 => {
            1.0 + stats.provisioned_capacity_gb / (total - free + 1.0)
        }
        OverSubscription::Auto(_) => INITIAL_AUTO_MOSR,
    }
}

/// The figures both the filter and the weigher derive from one pool.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Factors {
    /// The volume is thin and the pool can do thin, so the ratio applies.
    over_subscribed: bool,
    /// The effective over-subscription ratio.
    mosr: f64,
    /// Total minus the reserve, times the ratio when `over_subscribed`.
    total_available: f64,
    /// GiB that can still be given out.
    virtual_free: f64,
}

/// Cinder's `calculate_capacity_factors` for numeric `total` and `free`.
fn factors(stats: &PoolStats, total: f64, free: f64, thin: bool) -> Factors {
    let mosr = max_over_subscription_ratio(stats);
    // Cinder floors the reserve to whole GiB: floor(total * pct / 100).
    let reserved = (total * (f64::from(stats.reserved_percentage) / 100.0)).floor();
    let avail = total - reserved;
    let provisioned = stats.provisioned_capacity_gb;
    if thin && stats.thin_provisioning_support {
        let total_available = avail * mosr;
        Factors {
            over_subscribed: true,
            mosr,
            total_available,
            virtual_free: total_available - provisioned,
        }
    } else {
        // Thick: the driver's free figure may be lower than what the books say is left.
        Factors {
            over_subscribed: false,
            mosr,
            total_available: avail,
            virtual_free: free.min(avail - provisioned),
        }
    }
}

/// Virtual free GiB as the CapacityFilter computes it, or `None` when total or free is
/// `infinite`/`unknown` (the CapacityWeigher weighs those specially).
pub(crate) fn virtual_free(stats: &PoolStats, thin: bool) -> Option<f64> {
    let (total, free) = known_figures(stats)?;
    Some(factors(stats, total, free, thin).virtual_free)
}

/// The CapacityFilter's rules (§5.3) for `requested_gb` GiB; `None` means the pool passes.
pub(crate) fn check(stats: &PoolStats, requested_gb: u64, thin: bool) -> Option<Rejection> {
    // Cinder lets a zero-sized request (a manage) through whatever the figures say.
    if requested_gb == 0 {
        return None;
    }
    let requested = requested_gb as f64;
    let reject = |detail, virtual_free_gb| {
        Some(Rejection::Capacity {
            requested_gb: requested,
            virtual_free_gb,
            detail,
        })
    };
    let free = match stats.free_capacity_gb {
        // A backend that cannot tell is trusted; a reschedule covers it if it was wrong.
        Capacity::Word(_) => return None,
        Capacity::Gb(free) if free.is_nan() => return reject(CapacityDetail::FreeUnknown, 0.0),
        Capacity::Gb(free) => free,
    };
    let total = match stats.total_capacity_gb {
        // Without a total no reserve can be computed, so a reserve means "no".
        Capacity::Word(_) if stats.reserved_percentage == 0 => return None,
        Capacity::Word(_) => return reject(CapacityDetail::TotalUnknownWithReserve, free),
        Capacity::Gb(total) => total,
    };
    if total.is_nan() || total <= 0.0 {
        return reject(CapacityDetail::NoTotal, 0.0);
    }
    let f = factors(stats, total, free, thin);
    if f.over_subscribed {
        if f.mosr < 1.0 {
            return reject(CapacityDetail::RatioBelowOne, f.virtual_free);
        }
        if (stats.provisioned_capacity_gb + requested) / f.total_available > f.mosr {
            return reject(CapacityDetail::OverSubscribed, f.virtual_free);
        }
    }
    if f.virtual_free >= requested {
        None
    } else {
        reject(CapacityDetail::NotEnoughFree, f.virtual_free)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drivers::{AutoWord, CapacityWord};
    use crate::scheduler::tests::{request, stats, thin_stats};

    fn detail(stats: &PoolStats, size: u64, thin: bool) -> Option<(CapacityDetail, f64)> {
        match check(stats, size, thin)? {
            Rejection::Capacity {
                detail,
                virtual_free_gb,
                ..
            } => Some((detail, virtual_free_gb)),
            _ => None,
        }
    }

    #[test]
    fn thin_unless_provisioning_type_is_thick() {
        let mut r = request(1);
        assert!(wants_thin(&r));
        r.extra_specs
            .insert("provisioning:type".into(), "thin".into());
        assert!(wants_thin(&r));
        r.extra_specs
            .insert("provisioning:type".into(), "thick".into());
        assert!(!wants_thin(&r));
    }

    #[test]
    fn zero_request_always_passes() {
        let s = stats(0.0, 0.0);
        assert_eq!(check(&s, 0, true), None);
        assert!(check(&s, 1, true).is_some());
    }

    #[test]
    fn infinite_or_unknown_free_passes() {
        for word in [CapacityWord::Infinite, CapacityWord::Unknown] {
            let mut s = stats(100.0, 0.0);
            s.free_capacity_gb = Capacity::Word(word);
            s.reserved_percentage = 50;
            assert_eq!(check(&s, 1000, true), None);
            assert_eq!(virtual_free(&s, true), None);
        }
    }

    #[test]
    fn unknown_total_passes_only_without_reserve() {
        let mut s = stats(0.0, 40.0);
        s.total_capacity_gb = Capacity::Word(CapacityWord::Unknown);
        assert_eq!(check(&s, 1000, true), None);
        s.reserved_percentage = 5;
        assert_eq!(
            detail(&s, 10, true),
            Some((CapacityDetail::TotalUnknownWithReserve, 40.0))
        );
    }

    #[test]
    fn nan_free_is_not_reported() {
        let s = stats(100.0, f64::NAN);
        assert_eq!(
            detail(&s, 1, true),
            Some((CapacityDetail::FreeUnknown, 0.0))
        );
    }

    #[test]
    fn zero_total_fails() {
        assert_eq!(
            detail(&stats(0.0, 10.0), 1, true),
            Some((CapacityDetail::NoTotal, 0.0))
        );
        assert_eq!(
            detail(&stats(-5.0, 10.0), 1, false).map(|d| d.0),
            Some(CapacityDetail::NoTotal)
        );
        assert_eq!(
            detail(&stats(f64::NAN, 10.0), 1, true).map(|d| d.0),
            Some(CapacityDetail::NoTotal)
        );
    }

    #[test]
    fn thick_pool_uses_the_smaller_of_free_and_books() {
        // Books say 100 - 70 = 30 left, the driver says 30 free.
        let mut s = stats(100.0, 30.0);
        s.provisioned_capacity_gb = 70.0;
        assert_eq!(check(&s, 30, true), None);
        assert_eq!(
            detail(&s, 31, true),
            Some((CapacityDetail::NotEnoughFree, 30.0))
        );
        // The driver reports less free space than the books: free wins.
        let mut s = stats(100.0, 10.0);
        s.provisioned_capacity_gb = 20.0;
        assert_eq!(virtual_free(&s, true), Some(10.0));
        assert_eq!(
            detail(&s, 11, true),
            Some((CapacityDetail::NotEnoughFree, 10.0))
        );
    }

    #[test]
    fn reserve_is_floored_percentage_of_total() {
        // 10% of 105 = 10.5, floored to 10: 95 GiB usable.
        let mut s = stats(105.0, 105.0);
        s.reserved_percentage = 10;
        assert_eq!(virtual_free(&s, false), Some(95.0));
        assert_eq!(check(&s, 95, false), None);
        assert_eq!(
            detail(&s, 96, false),
            Some((CapacityDetail::NotEnoughFree, 95.0))
        );
        // Thin: the reserve comes off before the ratio multiplies: (100 - 10) * 2 - 0.
        let mut s = thin_stats(100.0, 100.0, 2.0);
        s.reserved_percentage = 10;
        assert_eq!(virtual_free(&s, true), Some(180.0));
    }

    #[test]
    fn thin_volume_on_thin_pool_over_subscribes() {
        // total_available = 100 * 2 = 200, minus 150 provisioned = 50.
        let mut s = thin_stats(100.0, 90.0, 2.0);
        s.provisioned_capacity_gb = 150.0;
        assert_eq!(virtual_free(&s, true), Some(50.0));
        assert_eq!(check(&s, 50, true), None);
        assert_eq!(
            detail(&s, 60, true),
            Some((CapacityDetail::NotEnoughFree, 50.0))
        );
    }

    #[test]
    fn thick_volume_on_thin_pool_ignores_the_ratio() {
        let mut s = thin_stats(100.0, 80.0, 20.0);
        s.provisioned_capacity_gb = 500.0;
        assert_eq!(check(&s, 10, true), None);
        assert_eq!(
            detail(&s, 10, false),
            Some((CapacityDetail::NotEnoughFree, -400.0))
        );
    }

    #[test]
    fn exceeding_the_ratio_fails() {
        // (90 + 20) / (100 * 1) = 1.1 > 1.
        let mut s = thin_stats(100.0, 100.0, 1.0);
        s.provisioned_capacity_gb = 90.0;
        assert_eq!(
            detail(&s, 20, true),
            Some((CapacityDetail::OverSubscribed, 10.0))
        );
        assert_eq!(check(&s, 10, true), None);
    }

    #[test]
    fn ratio_below_one_fails_thin_but_not_thick() {
        let s = thin_stats(100.0, 100.0, 0.5);
        assert_eq!(
            detail(&s, 1, true),
            Some((CapacityDetail::RatioBelowOne, 50.0))
        );
        assert_eq!(check(&s, 1, false), None);
    }

    #[test]
    fn ratio_is_one_without_thin_support_or_numbers() {
        let mut s = thin_stats(100.0, 100.0, 5.0);
        assert_eq!(max_over_subscription_ratio(&s), 5.0);
        s.free_capacity_gb = Capacity::Word(CapacityWord::Infinite);
        assert_eq!(max_over_subscription_ratio(&s), 1.0);
        let mut s = thin_stats(100.0, 100.0, 5.0);
        s.total_capacity_gb = Capacity::Word(CapacityWord::Unknown);
        assert_eq!(max_over_subscription_ratio(&s), 1.0);
        let mut s = thin_stats(100.0, 100.0, 5.0);
        s.thin_provisioning_support = false;
        assert_eq!(max_over_subscription_ratio(&s), 1.0);
        assert_eq!(virtual_free(&s, true), Some(100.0));
    }

    #[test]
    fn auto_ratio_follows_usage() {
        let mut s = thin_stats(100.0, 60.0, 1.0);
        s.max_over_subscription_ratio = OverSubscription::Auto(AutoWord::Auto);
        // Nothing provisioned yet: the initial 20.
        assert_eq!(max_over_subscription_ratio(&s), 20.0);
        assert_eq!(virtual_free(&s, true), Some(2000.0));
        // 1 + 82 / (100 - 60 + 1) = 3.
        s.provisioned_capacity_gb = 82.0;
        assert_eq!(max_over_subscription_ratio(&s), 3.0);
        assert_eq!(virtual_free(&s, true), Some(218.0));
        assert_eq!(check(&s, 218, true), None);
        assert_eq!(
            detail(&s, 219, true),
            Some((CapacityDetail::NotEnoughFree, 218.0))
        );
    }
}

//! Made-up pools for the scheduler's tests, and [`schedule`] end to end.

use super::*;
use crate::drivers::{Capacity, OverSubscription};

/// A thick-only pool named `pool-?` with `total` and `free` GiB, nothing provisioned.
pub(crate) fn stats(total: f64, free: f64) -> PoolStats {
    PoolStats {
        pool_name: "pool".into(),
        total_capacity_gb: Capacity::Gb(total),
        free_capacity_gb: Capacity::Gb(free),
        allocated_capacity_gb: 0.0,
        provisioned_capacity_gb: 0.0,
        reserved_percentage: 0,
        max_over_subscription_ratio: OverSubscription::Ratio(20.0),
        thin_provisioning_support: false,
        thick_provisioning_support: true,
        capabilities: BTreeMap::new(),
    }
}

/// A thin-capable pool with the given over-subscription ratio.
pub(crate) fn thin_stats(total: f64, free: f64, ratio: f64) -> PoolStats {
    PoolStats {
        max_over_subscription_ratio: OverSubscription::Ratio(ratio),
        thin_provisioning_support: true,
        ..stats(total, free)
    }
}

/// Pool `pool-<node>` of node `node`, backend `lvm` (vendor `Open Source`, version
/// `3.0.0`), iSCSI, in zone `nova`.
pub(crate) fn pool(node: &str, stats: PoolStats) -> PoolState {
    let stats = PoolStats {
        pool_name: format!("pool-{node}"),
        ..stats
    };
    PoolState::new(node, "nova", &lvm_backend(), stats)
}

/// The backend keys of Cinder's LVM driver, without pools.
pub(crate) fn lvm_backend() -> BackendStats {
    BackendStats {
        volume_backend_name: "lvm".into(),
        vendor_name: "Open Source".into(),
        driver_version: "3.0.0".into(),
        storage_protocol: "iSCSI".into(),
        pools: Vec::new(),
    }
}

/// A request for `size_gb` GiB with no other constraint.
pub(crate) fn request(size_gb: u64) -> ScheduleRequest {
    ScheduleRequest {
        size_gb,
        ..ScheduleRequest::default()
    }
}

fn rejection(d: &Decision, i: usize) -> Option<(&'static str, &Rejection)> {
    d.evaluations.get(i)?.rejected_by()
}

#[test]
fn picks_the_pool_with_most_free_space() {
    let pools = [
        pool("a", stats(100.0, 30.0)),
        pool("b", stats(100.0, 80.0)),
        pool("c", stats(100.0, 50.0)),
    ];
    let d = schedule(&pools, &request(10), &SchedulerTuning::default());
    assert_eq!(d.chosen, Some(1));
    assert_eq!(d.evaluations.len(), 3);
    assert_eq!(pools[d.evaluations[1].pool].host, "b@lvm#pool-b");
    assert_eq!(d.evaluations[1].weight, Some(1.0));
    assert_eq!(d.evaluations[0].weight, Some(0.0));
}

#[test]
fn negative_multiplier_picks_the_fullest_pool() {
    let pools = [pool("a", stats(100.0, 30.0)), pool("b", stats(100.0, 80.0))];
    let tuning = SchedulerTuning {
        capacity_weight_multiplier: -1.0,
    };
    assert_eq!(schedule(&pools, &request(10), &tuning).chosen, Some(0));
}

#[test]
fn ties_go_to_the_first_pool() {
    let pools = [pool("a", stats(100.0, 50.0)), pool("b", stats(100.0, 50.0))];
    assert_eq!(
        schedule(&pools, &request(1), &SchedulerTuning::default()).chosen,
        Some(0)
    );
}

#[test]
fn filtered_pools_get_no_weight() {
    let pools = [
        pool("big", stats(1000.0, 900.0)),
        pool("ok", stats(100.0, 50.0)),
    ];
    let mut r = request(10);
    r.excluded_nodes = vec!["big".into()];
    let d = schedule(&pools, &r, &SchedulerTuning::default());
    assert_eq!(d.chosen, Some(1));
    assert_eq!(d.evaluations[0].weight, None);
    assert_eq!(
        rejection(&d, 0),
        Some((
            filters::IGNORE_ATTEMPTED_HOSTS_FILTER,
            &Rejection::AlreadyTried
        ))
    );
}

#[test]
fn nothing_chosen_when_every_pool_is_filtered() {
    let mut off = pool("off", stats(100.0, 100.0));
    off.disabled = true;
    let mut elsewhere = pool("far", stats(100.0, 100.0));
    elsewhere.availability_zone = "az2".into();
    let mut slow = stats(100.0, 100.0);
    slow.capabilities.insert("tier".into(), "bronze".into());
    let pools = [
        off,
        pool("tried", stats(100.0, 100.0)),
        elsewhere,
        pool("small", stats(100.0, 5.0)),
        pool("slow", slow),
    ];
    let mut r = request(10);
    r.excluded_nodes = vec!["tried".into()];
    r.availability_zones = vec!["nova".into()];
    r.extra_specs.insert("tier".into(), "gold".into());
    let d = schedule(&pools, &r, &SchedulerTuning::default());
    assert_eq!(d.chosen, None);
    assert!(d.evaluations.iter().all(|e| e.weight.is_none()));
    let lengths: Vec<_> = d.evaluations.iter().map(|e| e.verdicts().count()).collect();
    assert_eq!(lengths, [1, 2, 4, 5, 6]);
    assert_eq!(
        rejection(&d, 0),
        Some((filters::ENABLED_FILTER, &Rejection::Disabled))
    );
    assert_eq!(
        rejection(&d, 1),
        Some((
            filters::IGNORE_ATTEMPTED_HOSTS_FILTER,
            &Rejection::AlreadyTried
        ))
    );
    assert_eq!(
        rejection(&d, 2),
        Some((
            filters::AVAILABILITY_ZONE_FILTER,
            &Rejection::WrongZone { zone: "az2".into() }
        ))
    );
    assert_eq!(
        rejection(&d, 3),
        Some((
            filters::CAPACITY_FILTER,
            &Rejection::Capacity {
                requested_gb: 10.0,
                virtual_free_gb: 5.0,
                detail: CapacityDetail::NotEnoughFree,
            }
        ))
    );
    assert_eq!(
        rejection(&d, 4),
        Some((
            filters::CAPABILITIES_FILTER,
            &Rejection::Capability {
                key: "tier".into(),
                wanted: "gold".into(),
                found: Some("bronze".into()),
            }
        ))
    );
}

#[test]
fn the_ledger_count_is_seen_by_the_next_decision() {
    let reported = pool("a", stats(100.0, 60.0)).stats;
    let mut pools = [pool("a", stats(100.0, 60.0)), pool("b", stats(100.0, 50.0))];
    let tuning = SchedulerTuning::default();
    let first = schedule(&pools, &request(20), &tuning);
    assert_eq!(first.chosen, Some(0));
    pools[0].stats = with_ledger(&reported, 20);
    assert_eq!(pools[0].stats.free_capacity_gb, Capacity::Gb(40.0));
    assert_eq!(pools[0].stats.provisioned_capacity_gb, 20.0);
    assert_eq!(pools[0].stats.allocated_capacity_gb, 20.0);
    let second = schedule(&pools, &request(20), &tuning);
    assert_eq!(second.chosen, Some(1));
    // Given back in the ledger: the first choice again.
    pools[0].stats = with_ledger(&reported, 0);
    assert_eq!(schedule(&pools, &request(20), &tuning).chosen, Some(0));
}

#[test]
fn the_ledger_fills_a_thin_pool_up_to_its_ratio() {
    // 10 GiB at ratio 2: room for 20 GiB of thin volumes, whatever the driver's free says.
    let reported = thin_stats(10.0, 10.0, 2.0);
    for booked in [0, 5, 10, 15] {
        assert!(fits(&reported, booked, &request(5)), "{booked} GiB booked");
    }
    assert!(!fits(&reported, 20, &request(5)));
    let pools = [pool("a", with_ledger(&reported, 20))];
    let d = schedule(&pools, &request(5), &SchedulerTuning::default());
    assert_eq!(d.chosen, None);
    assert!(matches!(
        rejection(&d, 0),
        Some((filters::CAPACITY_FILTER, Rejection::Capacity { .. }))
    ));
}

#[test]
fn a_stale_driver_figure_never_lets_more_than_the_ledger_holds() {
    // The driver measured before anything was made: 10 GiB free, nothing provisioned, and
    // its report counted nothing in the ledger. The ledger now holds 10 GiB.
    let reported = stats(10.0, 10.0);
    assert!(fits(&reported, 9, &request(1)));
    assert!(!fits(&reported, 10, &request(1)));
    // A report that already counted 4 GiB of the ledger (and the driver saw 2 made).
    let mut counted = stats(10.0, 8.0);
    counted.allocated_capacity_gb = 4.0;
    counted.provisioned_capacity_gb = 2.0;
    let now = with_ledger(&counted, 10);
    assert_eq!(now.provisioned_capacity_gb, 10.0);
    assert_eq!(now.free_capacity_gb, Capacity::Gb(2.0));
    assert!(!fits(&counted, 10, &request(1)));
}

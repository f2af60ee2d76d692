//! `clinker::scheduler::schedule` (every filter and the capacity weigher) over 10, 1,000
//! and 10,000 pools. One pool in ten is in another zone, so the AvailabilityZoneFilter
//! rejects it and the rejection path is measured too.

use std::collections::BTreeMap;
use std::hint::black_box;

use clinker::drivers::{BackendStats, Capacity, OverSubscription, PoolStats};
use clinker::scheduler::{PoolState, ScheduleRequest, SchedulerTuning, schedule};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// `n` thin pools on `n / 4` nodes with free space spread from 10 to 1,000 GiB.
fn pools(n: usize) -> Vec<PoolState> {
    let backend = BackendStats {
        volume_backend_name: "lvm".into(),
        vendor_name: "Open Source".into(),
        driver_version: "3.0.0".into(),
        storage_protocol: "iSCSI".into(),
        pools: Vec::new(),
    };
    (0..n)
        .map(|i| {
            let stats = PoolStats {
                pool_name: format!("pool{i}"),
                total_capacity_gb: Capacity::Gb(1000.0),
                free_capacity_gb: Capacity::Gb(10.0 + (i * 7919 % 990) as f64),
                allocated_capacity_gb: (i % 500) as f64,
                provisioned_capacity_gb: (i % 500) as f64,
                reserved_percentage: 5,
                max_over_subscription_ratio: OverSubscription::Ratio(20.0),
                thin_provisioning_support: true,
                thick_provisioning_support: false,
                capabilities: BTreeMap::new(),
            };
            let zone = if i % 10 == 0 { "az2" } else { "nova" };
            PoolState::new(&format!("node{}", i / 4), zone, &backend, stats)
        })
        .collect()
}

fn bench_schedule(c: &mut Criterion) {
    let request = ScheduleRequest {
        size_gb: 1,
        availability_zones: vec!["nova".into()],
        extra_specs: BTreeMap::new(),
        excluded_nodes: Vec::new(),
        pinned_node: None,
    };
    let tuning = SchedulerTuning::default();
    let mut group = c.benchmark_group("schedule");
    for n in [10usize, 1_000, 10_000] {
        let pools = pools(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &pools, |b, pools| {
            b.iter(|| schedule(black_box(pools), black_box(&request), &tuning))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_schedule);
criterion_main!(benches);

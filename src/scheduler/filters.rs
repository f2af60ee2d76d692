//! The filters (cinder-internals.md §5.3), run in a fixed order over one pool.
//!
//! This runs over every pool for every request, so a pool that passes costs no string
//! allocation: only a rejection builds one.

use super::{PoolState, Rejection, ScheduleRequest, capabilities, capacity};

/// Refuses pools of a node an operator disabled.
pub const ENABLED_FILTER: &str = "EnabledFilter";
/// Refuses nodes that already failed this volume.
pub const IGNORE_ATTEMPTED_HOSTS_FILTER: &str = "IgnoreAttemptedHostsFilter";
/// Keeps only the node that holds the source (a snapshot or volume being copied).
pub const RESOURCE_BACKEND_FILTER: &str = "ResourceBackendFilter";
/// Refuses pools outside the requested availability zones.
pub const AVAILABILITY_ZONE_FILTER: &str = "AvailabilityZoneFilter";
/// Refuses pools without room for the volume.
pub const CAPACITY_FILTER: &str = "CapacityFilter";
/// Refuses pools whose capabilities do not satisfy the type's extra specs.
pub const CAPABILITIES_FILTER: &str = "CapabilitiesFilter";

type Filter = fn(&PoolState, &ScheduleRequest) -> Option<Rejection>;

/// The filters in the order they run.
const FILTERS: [(&str, Filter); 6] = [
    (ENABLED_FILTER, enabled),
    (IGNORE_ATTEMPTED_HOSTS_FILTER, not_attempted),
    (RESOURCE_BACKEND_FILTER, resource_backend),
    (AVAILABILITY_ZONE_FILTER, availability_zone),
    (CAPACITY_FILTER, capacity_filter),
    (CAPABILITIES_FILTER, capabilities::check),
];

/// The filters' names, in the order they run.
pub fn names() -> impl Iterator<Item = &'static str> {
    FILTERS.iter().map(|(name, _)| *name)
}

/// Runs the filters on one pool in order, stopping at the first rejection: how many ran,
/// and the last one's rejection if it said no. A pool that passes allocates nothing.
pub fn run_all(pool: &PoolState, request: &ScheduleRequest) -> (u8, Option<Rejection>) {
    let mut ran = 0;
    for (_, run) in FILTERS {
        ran += 1;
        if let Some(rejection) = run(pool, request) {
            return (ran, Some(rejection));
        }
    }
    (ran, None)
}

/// The first filter that turns the pool down, by name, and why.
pub fn first_rejection(
    pool: &PoolState,
    request: &ScheduleRequest,
) -> Option<(&'static str, Rejection)> {
    let (ran, rejection) = run_all(pool, request);
    let name = names().nth(usize::from(ran).checked_sub(1)?)?;
    Some((name, rejection?))
}

fn enabled(pool: &PoolState, _: &ScheduleRequest) -> Option<Rejection> {
    pool.disabled.then_some(Rejection::Disabled)
}

fn not_attempted(pool: &PoolState, request: &ScheduleRequest) -> Option<Rejection> {
    request
        .excluded_nodes
        .contains(&pool.node)
        .then_some(Rejection::AlreadyTried)
}

fn resource_backend(pool: &PoolState, request: &ScheduleRequest) -> Option<Rejection> {
    match &request.pinned_node {
        Some(node) if *node != pool.node => Some(Rejection::NotSourceNode { node: node.clone() }),
        _ => None,
    }
}

fn availability_zone(pool: &PoolState, request: &ScheduleRequest) -> Option<Rejection> {
    let zones = &request.availability_zones;
    (!zones.is_empty() && !zones.contains(&pool.availability_zone)).then(|| Rejection::WrongZone {
        zone: pool.availability_zone.clone(),
    })
}

fn capacity_filter(pool: &PoolState, request: &ScheduleRequest) -> Option<Rejection> {
    capacity::check(&pool.stats, request.size_gb, capacity::wants_thin(request))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::tests::{pool, request, stats};

    fn with_specs(specs: &[(&str, &str)]) -> ScheduleRequest {
        let mut r = request(1);
        for (k, v) in specs {
            r.extra_specs.insert((*k).to_string(), (*v).to_string());
        }
        r
    }

    /// The rejection of the last filter that ran, with the filters' names in order.
    fn outcome(p: &PoolState, r: &ScheduleRequest) -> (Vec<&'static str>, Option<Rejection>) {
        let (ran, rejection) = run_all(p, r);
        (names().take(usize::from(ran)).collect(), rejection)
    }

    #[test]
    fn a_fitting_pool_passes_all_six_in_order() {
        let p = pool("n1", stats(100.0, 100.0));
        let (ran, rejection) = run_all(&p, &request(10));
        let ran: Vec<_> = names().take(usize::from(ran)).collect();
        assert_eq!(
            ran,
            [
                ENABLED_FILTER,
                IGNORE_ATTEMPTED_HOSTS_FILTER,
                RESOURCE_BACKEND_FILTER,
                AVAILABILITY_ZONE_FILTER,
                CAPACITY_FILTER,
                CAPABILITIES_FILTER
            ]
        );
        assert_eq!(rejection, None);
    }

    #[test]
    fn disabled_stops_the_chain() {
        let mut p = pool("n1", stats(100.0, 100.0));
        p.disabled = true;
        let (names, rejection) = outcome(&p, &request(10));
        assert_eq!(names, [ENABLED_FILTER]);
        assert_eq!(rejection, Some(Rejection::Disabled));
    }

    #[test]
    fn already_tried_node_is_skipped() {
        let p = pool("n1", stats(100.0, 100.0));
        let mut r = request(10);
        r.excluded_nodes = vec!["n0".into(), "n1".into()];
        let (names, rejection) = outcome(&p, &r);
        assert_eq!(names, [ENABLED_FILTER, IGNORE_ATTEMPTED_HOSTS_FILTER]);
        assert_eq!(rejection, Some(Rejection::AlreadyTried));
        r.excluded_nodes = vec!["n2".into()];
        assert_eq!(outcome(&p, &r).1, None);
    }

    #[test]
    fn availability_zone_must_be_listed_if_any_are() {
        let p = pool("n1", stats(100.0, 100.0));
        let mut r = request(10);
        assert_eq!(outcome(&p, &r).1, None);
        r.availability_zones = vec!["nova".into()];
        assert_eq!(outcome(&p, &r).1, None);
        r.availability_zones = vec!["az2".into(), "az3".into()];
        let (names, rejection) = outcome(&p, &r);
        assert_eq!(names.last(), Some(&AVAILABILITY_ZONE_FILTER));
        assert_eq!(
            rejection,
            Some(Rejection::WrongZone {
                zone: "nova".into()
            })
        );
    }

    #[test]
    fn capacity_rejection_carries_the_figures() {
        let p = pool("n1", stats(100.0, 40.0));
        let (names, rejection) = outcome(&p, &request(50));
        assert_eq!(names.len(), 5);
        assert_eq!(
            rejection,
            Some(Rejection::Capacity {
                requested_gb: 50.0,
                virtual_free_gb: 40.0,
                detail: super::super::CapacityDetail::NotEnoughFree,
            })
        );
    }

    #[test]
    fn a_pinned_request_keeps_only_the_source_node() {
        let p = pool("n1", stats(100.0, 100.0));
        let mut r = request(10);
        r.pinned_node = Some("n2".into());
        let (_, rejection) = outcome(&p, &r);
        assert_eq!(
            rejection,
            Some(Rejection::NotSourceNode { node: "n2".into() })
        );
        r.pinned_node = Some("n1".into());
        assert_eq!(outcome(&p, &r).1, None);
    }

    #[test]
    fn capability_rejection_names_the_spec() {
        let p = pool("n1", stats(100.0, 100.0));
        let r = with_specs(&[("volume_backend_name", "ceph")]);
        let (names, rejection) = outcome(&p, &r);
        assert_eq!(names.len(), 6);
        assert_eq!(
            rejection,
            Some(Rejection::Capability {
                key: "volume_backend_name".into(),
                wanted: "ceph".into(),
                found: Some("lvm".into()),
            })
        );
    }
}

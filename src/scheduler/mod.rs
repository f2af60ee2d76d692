//! Placement: filters and weighers as pure functions over pool stats.
//!
//! `SchedulerActor` keeps the `PoolState`s and calls [`schedule`]; nothing here does I/O,
//! so every rule is unit-tested on made-up stats. The rules follow Cinder's
//! `FilterScheduler` (cinder-internals.md §5).

mod capabilities;
mod capacity;
pub mod extra_specs;
pub mod filters;
pub mod spec;
pub mod weighers;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::drivers::{BackendStats, PoolStats};
use crate::model::Host;

/// What the scheduler knows about one pool of one node (serde: it travels in
/// [`crate::actors::protocol::PoolReport`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolState {
    /// The node's name from config (the `node` in `node@backend#pool`).
    pub node: String,
    /// `node@backend#pool`, kept ready because it is stored on every volume placed here.
    pub host: Host,
    /// The node's availability zone.
    pub availability_zone: String,
    /// A disabled node takes no new volumes.
    pub disabled: bool,
    /// The backend's storage protocol, matchable by the `storage_protocol` extra spec.
    pub storage_protocol: String,
    /// `volume_backend_name`, matchable by the extra spec of that name.
    pub volume_backend_name: String,
    /// The driver's `vendor_name` and `driver_version`, matchable by extra specs of those
    /// names, as Cinder's host state carries every key the backend reports.
    pub vendor_name: String,
    /// See `vendor_name`.
    pub driver_version: String,
    /// The pool's figures, with in-memory consumption applied on top of the last report.
    pub stats: PoolStats,
}

impl PoolState {
    /// Builds the state of one pool of `backend` (whose own `pools` are not read).
    pub fn new(
        node: &str,
        availability_zone: &str,
        backend: &BackendStats,
        stats: PoolStats,
    ) -> Self {
        Self {
            node: node.to_string(),
            host: Host::new(node, &backend.volume_backend_name, &stats.pool_name),
            availability_zone: availability_zone.to_string(),
            disabled: false,
            storage_protocol: backend.storage_protocol.clone(),
            volume_backend_name: backend.volume_backend_name.clone(),
            vendor_name: backend.vendor_name.clone(),
            driver_version: backend.driver_version.clone(),
            stats,
        }
    }
}

/// What a volume asks of its pool.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScheduleRequest {
    /// GiB to place (for an extend: the growth).
    pub size_gb: u64,
    /// Acceptable availability zones; empty means any.
    pub availability_zones: Vec<String>,
    /// The volume type's extra specs.
    pub extra_specs: BTreeMap<String, String>,
    /// Nodes already tried for this volume (a reschedule skips them).
    pub excluded_nodes: Vec<String>,
    /// The node holding the source snapshot or volume: only it may take the copy.
    pub pinned_node: Option<String>,
}

/// Tunables of the weighers (cinder-internals.md §12).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SchedulerTuning {
    /// `capacity_weight_multiplier`: positive spreads, negative stacks. Default 1.0.
    pub capacity_weight_multiplier: f64,
}

impl Default for SchedulerTuning {
    fn default() -> Self {
        Self {
            capacity_weight_multiplier: 1.0,
        }
    }
}

/// Why a filter turned a pool down. Kept as numbers, turned into words only when shown,
/// so that a decision over thousands of pools allocates no strings.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Rejection {
    /// The node was switched off by an operator.
    Disabled,
    /// The node already failed this volume.
    AlreadyTried,
    /// The source of the copy lives on another node.
    NotSourceNode {
        /// The node that holds the source.
        node: String,
    },
    /// The pool's zone is not one the request accepts.
    WrongZone {
        /// The pool's zone.
        zone: String,
    },
    /// Not enough room, with the figures that decided it.
    Capacity {
        /// GiB asked for.
        requested_gb: f64,
        /// GiB that could still be given out.
        virtual_free_gb: f64,
        /// Why, in Cinder's terms.
        detail: CapacityDetail,
    },
    /// An extra spec the pool does not satisfy.
    Capability {
        /// The extra spec's key.
        key: String,
        /// What the type asks for.
        wanted: String,
        /// What the pool reports (`None`: nothing).
        found: Option<String>,
    },
}

/// Which rule of the CapacityFilter said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacityDetail {
    /// The pool reports no free capacity figure at all.
    FreeUnknown,
    /// Total is infinite/unknown but a reserve is set.
    TotalUnknownWithReserve,
    /// Total capacity is zero or less.
    NoTotal,
    /// The over-subscription ratio is below 1.
    RatioBelowOne,
    /// Provisioning this volume would exceed the over-subscription ratio.
    OverSubscribed,
    /// Not enough virtual free space.
    NotEnoughFree,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Disabled => f.write_str("node is disabled"),
            Rejection::AlreadyTried => f.write_str("node already failed this volume"),
            Rejection::NotSourceNode { node } => {
                write!(f, "the source of the new volume is on node '{node}'")
            }
            Rejection::WrongZone { zone } => {
                write!(f, "node is in availability zone '{zone}'")
            }
            Rejection::Capacity {
                requested_gb,
                virtual_free_gb,
                detail,
            } => {
                let why = match detail {
                    CapacityDetail::FreeUnknown => "free capacity is not reported",
                    CapacityDetail::TotalUnknownWithReserve => {
                        "total capacity is unknown and a reserve is set"
                    }
                    CapacityDetail::NoTotal => "total capacity is zero",
                    CapacityDetail::RatioBelowOne => "over-subscription ratio is below 1",
                    CapacityDetail::OverSubscribed => "it would exceed the over-subscription ratio",
                    CapacityDetail::NotEnoughFree => "not enough free space",
                };
                write!(
                    f,
                    "requested {requested_gb} GiB, {virtual_free_gb:.1} GiB available: {why}"
                )
            }
            Rejection::Capability { key, wanted, found } => match found {
                Some(v) => write!(f, "extra spec {key}='{wanted}' does not match '{v}'"),
                None => write!(f, "extra spec {key}='{wanted}': capability not reported"),
            },
        }
    }
}

/// Every filter's verdict on one pool, and its weight if it passed them all. Small and
/// free of strings (a pool's names are looked up by `pool` when shown), because a
/// decision makes one per pool: at 10,000 pools the whole list is about 300 KiB.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolEvaluation {
    /// Index of the pool in the slice given to [`schedule`].
    pub pool: usize,
    /// How many filters ran, in [`filters::FILTERS`] order; the chain stops at the first
    /// rejection, so all but the last of them passed.
    pub ran: u8,
    /// The last filter's rejection, if it said no (boxed: rare, and large).
    pub rejection: Option<Box<Rejection>>,
    /// The total weight, for pools that passed every filter.
    pub weight: Option<f64>,
}

impl PoolEvaluation {
    /// Each filter that ran, by its Cinder name, with its rejection if it said no.
    pub fn verdicts(&self) -> impl Iterator<Item = (&'static str, Option<&Rejection>)> + '_ {
        let ran = usize::from(self.ran);
        filters::names()
            .take(ran)
            .enumerate()
            .map(move |(i, name)| {
                (
                    name,
                    if i + 1 == ran {
                        self.rejection.as_deref()
                    } else {
                        None
                    },
                )
            })
    }

    /// The filter that turned the pool down, and why.
    pub fn rejected_by(&self) -> Option<(&'static str, &Rejection)> {
        let last = usize::from(self.ran).checked_sub(1)?;
        let name = filters::names().nth(last)?;
        Some((name, self.rejection.as_deref()?))
    }
}

/// The outcome of one scheduling pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Index into `evaluations` (and into the pools given) of the winner, if any.
    pub chosen: Option<usize>,
    /// One entry per pool considered, in the order the pools were given.
    pub evaluations: Vec<PoolEvaluation>,
}

/// Runs the default filters (node enabled, not already tried, AvailabilityZoneFilter,
/// CapacityFilter, CapabilitiesFilter) and the CapacityWeigher over `pools`, and picks the
/// heaviest survivor (ties: the first in order).
pub fn schedule(
    pools: &[PoolState],
    request: &ScheduleRequest,
    tuning: &SchedulerTuning,
) -> Decision {
    let mut evaluations: Vec<PoolEvaluation> = pools
        .iter()
        .enumerate()
        .map(|(i, pool)| {
            let (ran, rejection) = filters::run_all(pool, request);
            PoolEvaluation {
                pool: i,
                ran,
                rejection: rejection.map(Box::new),
                weight: None,
            }
        })
        .collect();
    let survivors: Vec<usize> = evaluations
        .iter()
        .enumerate()
        .filter(|(_, e)| e.rejection.is_none())
        .map(|(i, _)| i)
        .collect();
    let weights = weighers::capacity_weights(
        survivors.iter().map(|&i| &pools[i]),
        request,
        tuning.capacity_weight_multiplier,
    );
    let mut chosen: Option<(usize, f64)> = None;
    for (&i, w) in survivors.iter().zip(weights) {
        evaluations[i].weight = Some(w);
        if chosen.is_none_or(|(_, best)| w > best) {
            chosen = Some((i, w));
        }
    }
    Decision {
        chosen: chosen.map(|(i, _)| i),
        evaluations,
    }
}

/// A pool's figures with the capacity ledger's count applied (Cinder's "virtual
/// consumption", counted in the database): `reported` is the node's last report, whose
/// `allocated_capacity_gb` is the ledger's figure when the node measured; `allocated_gb`
/// is the ledger's figure now. What was placed (or given back) since the report comes
/// off (or back onto) free and onto provisioned, and provisioned never reads less than
/// what the ledger holds, so the capacity rules can never give out more than the pool
/// has, however stale the driver's own figures are.
pub fn with_ledger(reported: &PoolStats, allocated_gb: i64) -> PoolStats {
    let allocated = allocated_gb.max(0) as f64;
    let since = allocated - reported.allocated_capacity_gb;
    let mut s = reported.clone();
    s.allocated_capacity_gb = allocated;
    s.provisioned_capacity_gb = (reported.provisioned_capacity_gb + since).max(allocated);
    if let crate::drivers::Capacity::Gb(free) = &mut s.free_capacity_gb {
        *free -= since;
    }
    s
}

/// Whether `request` still fits on the pool last reported as `reported` once the ledger
/// says `allocated_gb` GiB are placed there: the CapacityFilter's rule, as asked under
/// the ledger row's lock.
pub fn fits(reported: &PoolStats, allocated_gb: i64, request: &ScheduleRequest) -> bool {
    let stats = with_ledger(reported, allocated_gb);
    capacity::check(&stats, request.size_gb, capacity::wants_thin(request)).is_none()
}

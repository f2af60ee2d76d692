//! `SchedulerActor` alone: made-up capacity reports, fake nodes that only record the
//! creates they are sent, a real database and journal.

use std::time::Duration;

use diesel::prelude::*;
use tempfile::TempDir;

use super::*;
use crate::actors::journal::{Flush, JournalActor};
use crate::actors::protocol::DeleteVolumeOnNode;
use crate::db::rows::{FlowRunRow, MessageRow, VolumeRow};
use crate::db::schema::volumes;
use crate::drivers::{BackendStats, Capacity, OverSubscription, PoolStats};
use crate::model::{AttachStatus, Host, RequestId, VolumeId};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

const DEFAULT_TYPE_ID: &str = "a3b2c7e4-5f1d-4e8a-9c60-2d7f0e1b9a11";
const PROJECT: &str = "project-a";

/// A node that records the creates it is sent.
struct FakeNode {
    got: Rc<RefCell<Vec<CreateVolumeOnNode>>>,
}

impl Actor for FakeNode {
    type Context = Context<Self>;
}

impl Handler<CreateVolumeOnNode> for FakeNode {
    type Result = ();
    fn handle(&mut self, msg: CreateVolumeOnNode, _: &mut Self::Context) {
        self.got.borrow_mut().push(msg);
    }
}

impl Handler<DeleteVolumeOnNode> for FakeNode {
    type Result = ();
    fn handle(&mut self, _: DeleteVolumeOnNode, _: &mut Self::Context) {}
}

ignore_node_messages!(FakeNode);

struct Harness {
    _dir: TempDir,
    db: Db,
    journal: Addr<JournalActor>,
    scheduler: Addr<SchedulerActor>,
    /// What each node got, by node name.
    got: BTreeMap<String, Rc<RefCell<Vec<CreateVolumeOnNode>>>>,
}

fn test_db() -> BoxResult<(TempDir, Db)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("clinker.db");
    let pool = crate::db::connect(path.to_str().ok_or("temp path is not UTF-8")?, 4)?;
    let db = Db::new(pool);
    db.run_blocking(crate::db::migrate)?;
    Ok((dir, db))
}

fn harness(node_names: &[&str], max_attempts: u32) -> BoxResult<Harness> {
    let (dir, db) = test_db()?;
    let journal = JournalActor::new(db.clone()).start();
    let mut nodes = HashMap::new();
    let mut got = BTreeMap::new();
    for name in node_names {
        let log = Rc::new(RefCell::new(Vec::new()));
        let addr = FakeNode { got: log.clone() }.start();
        nodes.insert(name.to_string(), NodeHandle::of(name, addr));
        got.insert(name.to_string(), log);
    }
    let scheduler = SchedulerActor::new(
        db.clone(),
        JournalHandle(journal.clone()),
        nodes,
        SchedulerTuning::default(),
        max_attempts,
    )
    .start();
    Ok(Harness {
        _dir: dir,
        db,
        journal,
        scheduler,
        got,
    })
}

/// A thick-only pool `pool` of backend `lvm` with `total` and `free` GiB, measured when
/// the capacity ledger counted `counted` GiB placed on it.
fn report(node: &str, zone: &str, total: f64, free: f64, counted: f64) -> NodeStatsReport {
    NodeStatsReport {
        node: node.into(),
        availability_zone: zone.into(),
        stats: BackendStats {
            volume_backend_name: "lvm".into(),
            vendor_name: "test".into(),
            driver_version: "1".into(),
            storage_protocol: "iSCSI".into(),
            pools: vec![PoolStats {
                pool_name: "pool".into(),
                total_capacity_gb: Capacity::Gb(total),
                free_capacity_gb: Capacity::Gb(free),
                allocated_capacity_gb: counted,
                provisioned_capacity_gb: total - free,
                reserved_percentage: 0,
                max_over_subscription_ratio: OverSubscription::Ratio(1.0),
                thin_provisioning_support: false,
                thick_provisioning_support: true,
                capabilities: BTreeMap::new(),
            }],
        },
        acked_seq: 0,
        ledger: Vec::new(),
    }
}

fn spec(size_gb: u64, zones: &[&str]) -> RequestSpec {
    RequestSpec {
        size_gb,
        availability_zones: zones.iter().map(|z| z.to_string()).collect(),
        volume_type_id: DEFAULT_TYPE_ID.into(),
        extra_specs: BTreeMap::new(),
        tried_nodes: Vec::new(),
        failures: Vec::new(),
        ..RequestSpec::default()
    }
}

impl Harness {
    /// Inserts a `creating` row with no host, as the API leaves it, and returns the cast.
    fn accepted(&self, spec: RequestSpec) -> BoxResult<ScheduleCreateVolume> {
        let id = VolumeId::new();
        let request_id = RequestId::new();
        let row = VolumeRow {
            id: id.to_string(),
            project_id: PROJECT.into(),
            user_id: "user".into(),
            display_name: None,
            display_description: None,
            size: spec.size_gb as i64,
            status: VolumeStatus::Creating,
            attach_status: AttachStatus::Detached,
            availability_zone: spec.availability_zones.first().cloned().unwrap_or_default(),
            volume_type_id: DEFAULT_TYPE_ID.into(),
            host: None,
            bootable: false,
            multiattach: false,
            snapshot_id: None,
            source_volid: None,
            provider_location: None,
            request_spec: spec.clone(),
            request_id: request_id.0.clone(),
            created_at: crate::db::now(),
            updated_at: None,
            scheduled_at: None,
            launched_at: None,
            previous_status: None,
        };
        self.db
            .run_blocking(|c| crate::db::volumes::insert(c, &row, &BTreeMap::new()))?;
        Ok(ScheduleCreateVolume {
            volume_id: id,
            project_id: PROJECT.into(),
            request_id,
            spec,
        })
    }

    async fn report(&self, r: NodeStatsReport) -> TestResult {
        self.scheduler.send(r).await?;
        Ok(())
    }

    fn row(&self, id: VolumeId) -> BoxResult<VolumeRow> {
        let key = id.to_string();
        Ok(self
            .db
            .run_blocking(move |c| crate::db::volumes::get(c, &key, None))?
            .row)
    }

    fn received(&self, node: &str) -> BoxResult<Vec<CreateVolumeOnNode>> {
        Ok(self
            .got
            .get(node)
            .ok_or_else(|| format!("no fake node {node}"))?
            .borrow()
            .clone())
    }

    fn total_received(&self) -> usize {
        self.got.values().map(|g| g.borrow().len()).sum()
    }

    /// Waits until `n` creates in all have reached the fake nodes.
    async fn wait_casts(&self, n: usize) -> TestResult {
        for _ in 0..500 {
            if self.total_received() >= n {
                return Ok(());
            }
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        Err(format!(
            "only {} of {n} creates reached a node",
            self.total_received()
        )
        .into())
    }

    /// Waits until the volume's scheduling run is in the journal, and returns the runs.
    async fn wait_runs(&self, id: VolumeId) -> BoxResult<Vec<FlowRunRow>> {
        for _ in 0..500 {
            self.journal.send(Flush).await?;
            let key = id.to_string();
            let runs = self
                .db
                .run_blocking(move |c| crate::db::timeline::for_resource(c, &key, None))?;
            if !runs.is_empty() {
                return Ok(runs);
            }
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        Err(format!("no flow run was journaled for {id}").into())
    }

    /// Waits until the volume is `error` with a user message, and returns the messages.
    async fn wait_failed(&self, id: VolumeId) -> BoxResult<Vec<MessageRow>> {
        for _ in 0..500 {
            let key = id.to_string();
            let messages = self
                .db
                .run_blocking(move |c| crate::db::messages::for_resource(c, &key, None))?;
            if self.row(id)?.status == "error" && !messages.is_empty() {
                return Ok(messages);
            }
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        Err(format!("volume {id} was not failed with a message").into())
    }

    /// Free GiB of each pool as the scheduler sees it now, by host.
    async fn free(&self) -> BoxResult<BTreeMap<String, f64>> {
        let pools = self.scheduler.send(GetPools).await?;
        pools
            .into_iter()
            .map(|p| {
                let free = p
                    .stats
                    .free_capacity_gb
                    .gb()
                    .ok_or("free is not a number")?;
                Ok((p.host.to_string(), free))
            })
            .collect()
    }
}

#[actix::test]
async fn a_create_goes_to_the_node_with_most_free_space() -> TestResult {
    let h = harness(&["n1", "n2", "n3"], 3)?;
    h.report(report("n1", "nova", 100.0, 40.0, 0.0)).await?;
    h.report(report("n2", "nova", 100.0, 80.0, 0.0)).await?;
    h.report(report("n3", "nova", 100.0, 60.0, 0.0)).await?;
    let msg = h.accepted(spec(10, &["nova"]))?;
    let id = msg.volume_id;
    h.scheduler.send(msg.clone()).await?;
    h.wait_casts(1).await?;

    let cast = h.received("n2")?;
    assert_eq!(cast.len(), 1);
    let cast = &cast[0];
    assert_eq!(cast.volume_id, id);
    assert_eq!(cast.host, "n2@lvm#pool");
    assert_eq!(cast.project_id, PROJECT);
    assert_eq!(cast.request_id, msg.request_id);
    assert_eq!(cast.spec.tried_nodes, ["n2"]);
    assert_eq!(cast.spec.size_gb, 10);
    assert_eq!(cast.cast_seq, 1, "first placement on n2");

    // The choice is on the row before the node hears of it.
    let row = h.row(id)?;
    assert_eq!(row.host.as_ref().map(Host::as_str), Some("n2@lvm#pool"));
    assert_eq!(row.status, "creating");
    assert!(row.scheduled_at.is_some());
    assert_eq!(row.request_spec.tried_nodes, ["n2"]);

    // The journal keeps the decision.
    let runs = h.wait_runs(id).await?;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].flow, "volume_create_scheduler");
    assert_eq!(runs[0].state, "SUCCESS");
    let detail: serde_json::Value =
        serde_json::from_str(runs[0].detail.as_deref().ok_or("no decision detail")?)?;
    let decision = &detail["ScheduleCreateVolumeTask"];
    assert_eq!(decision["chosen"], "n2@lvm#pool");
    assert_eq!(decision["pools_considered"], 3);
    assert_eq!(decision["pools_passed"], 3);

    assert!(h.received("n1")?.is_empty() && h.received("n3")?.is_empty());
    // Consumed in memory at once.
    let free = h.free().await?;
    assert_eq!(free.get("n2@lvm#pool"), Some(&70.0));
    assert_eq!(free.get("n1@lvm#pool"), Some(&40.0));
    Ok(())
}

#[actix::test]
async fn back_to_back_creates_see_each_others_consumption() -> TestResult {
    let h = harness(&["n1", "n2"], 3)?;
    h.report(report("n1", "nova", 100.0, 100.0, 0.0)).await?;
    h.report(report("n2", "nova", 100.0, 100.0, 0.0)).await?;
    let first = h.accepted(spec(10, &["nova"]))?;
    let second = h.accepted(spec(10, &["nova"]))?;
    // Both are in the mailbox before either is handled.
    h.scheduler.do_send(first.clone());
    h.scheduler.do_send(second.clone());
    h.wait_casts(2).await?;

    let (n1, n2) = (h.received("n1")?, h.received("n2")?);
    assert_eq!((n1.len(), n2.len()), (1, 1), "the two creates must spread");
    let hosts = [h.row(first.volume_id)?.host, h.row(second.volume_id)?.host];
    assert!(
        hosts.contains(&Some(Host::new("n1", "lvm", "pool"))),
        "{hosts:?}"
    );
    assert!(
        hosts.contains(&Some(Host::new("n2", "lvm", "pool"))),
        "{hosts:?}"
    );
    assert_eq!((n1[0].cast_seq, n2[0].cast_seq), (1, 1));

    let free = h.free().await?;
    assert_eq!(free.get("n1@lvm#pool"), Some(&90.0));
    assert_eq!(free.get("n2@lvm#pool"), Some(&90.0));

    // A report measured before the ledger counted the placement keeps it on top.
    h.report(report("n1", "nova", 100.0, 100.0, 0.0)).await?;
    assert_eq!(h.free().await?.get("n1@lvm#pool"), Some(&90.0));
    // Once the report counts it, the driver's own figures count, and nothing twice.
    h.report(report("n1", "nova", 100.0, 90.0, 10.0)).await?;
    assert_eq!(h.free().await?.get("n1@lvm#pool"), Some(&90.0));
    // The other node's in-flight placement survives n1's reports.
    assert_eq!(h.free().await?.get("n2@lvm#pool"), Some(&90.0));

    // A third create now goes where the books say there is most room.
    h.report(report("n1", "nova", 100.0, 95.0, 10.0)).await?;
    let third = h.accepted(spec(1, &["nova"]))?;
    h.scheduler.send(third.clone()).await?;
    h.wait_casts(3).await?;
    assert_eq!(h.received("n1")?.len(), 2);
    assert_eq!(h.received("n1")?[1].cast_seq, 2);
    Ok(())
}

#[actix::test]
async fn no_node_fits_fails_the_volume_with_a_message_and_the_decision() -> TestResult {
    let h = harness(&["n1", "n2"], 3)?;
    h.report(report("n1", "nova", 100.0, 100.0, 0.0)).await?;
    h.report(report("n2", "nova", 100.0, 50.0, 0.0)).await?;
    let msg = h.accepted(spec(500, &["nova"]))?;
    let id = msg.volume_id;
    h.scheduler.send(msg.clone()).await?;

    let messages = h.wait_failed(id).await?;
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.event_id, "VOLUME_VOLUME_001_003");
    assert_eq!(m.project_id, PROJECT);
    assert_eq!(m.request_id, msg.request_id.0);
    assert_eq!(m.message_level, "ERROR");
    let detail = m.detail.as_deref().ok_or("message without detail")?;
    for part in [
        "n1@lvm#pool rejected by CapacityFilter: requested 500 GiB, 100.0 GiB available",
        "n2@lvm#pool rejected by CapacityFilter: requested 500 GiB, 50.0 GiB available",
    ] {
        assert!(detail.contains(part), "{part:?} missing from {detail:?}");
    }
    let row = h.row(id)?;
    assert_eq!(row.host, None);

    let runs = h.wait_runs(id).await?;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].flow, "volume_create_scheduler");
    assert_eq!(runs[0].state, "REVERTED");
    let detail: serde_json::Value =
        serde_json::from_str(runs[0].detail.as_deref().ok_or("no decision detail")?)?;
    let decision = &detail["ScheduleCreateVolumeTask"];
    assert!(decision["chosen"].is_null(), "{decision}");
    assert_eq!(decision["pools_considered"], 2);
    assert_eq!(decision["pools_passed"], 0);
    let pools = decision["pools"].as_array().ok_or("no pools in decision")?;
    for p in pools {
        let last = p["filters"]
            .as_array()
            .and_then(|f| f.last())
            .ok_or("no filters")?;
        assert_eq!(last["filter"], "CapacityFilter");
        assert_eq!(last["passed"], false);
    }

    // Nothing was consumed and nobody was told.
    assert_eq!(h.total_received(), 0);
    let free = h.free().await?;
    assert_eq!(free.get("n1@lvm#pool"), Some(&100.0));
    assert_eq!(free.get("n2@lvm#pool"), Some(&50.0));
    Ok(())
}

#[actix::test]
async fn with_no_report_yet_the_message_says_so() -> TestResult {
    let h = harness(&["n1"], 3)?;
    let msg = h.accepted(spec(1, &[]))?;
    h.scheduler.send(msg.clone()).await?;
    let messages = h.wait_failed(msg.volume_id).await?;
    let detail = messages[0].detail.as_deref().unwrap_or_default();
    assert!(detail.contains("No storage node has reported"), "{detail}");
    Ok(())
}

#[actix::test]
async fn exhausted_attempts_fail_the_volume_without_placing_it() -> TestResult {
    let h = harness(&["n1", "n2", "n3", "n4"], 3)?;
    for n in ["n1", "n2", "n3", "n4"] {
        h.report(report(n, "nova", 100.0, 100.0, 0.0)).await?;
    }
    let mut s = spec(1, &["nova"]);
    s.tried_nodes = vec!["n1".into(), "n2".into(), "n3".into()];
    s.failures = vec!["n1: boom".into(), "n2: bang".into(), "n3: crash".into()];
    let msg = h.accepted(s)?;
    h.scheduler.send(msg.clone()).await?;

    let messages = h.wait_failed(msg.volume_id).await?;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].event_id, "VOLUME_VOLUME_001_003");
    let detail = messages[0].detail.as_deref().ok_or("no detail")?;
    assert!(
        detail.contains("Exceeded max scheduling attempts 3"),
        "{detail}"
    );
    assert!(detail.contains("n2: bang"), "{detail}");
    let runs = h.wait_runs(msg.volume_id).await?;
    assert_eq!(runs[0].state, "REVERTED");
    assert!(runs[0].transitions.contains("ExtractSchedulerSpecTask"));
    assert!(
        !runs[0].transitions.contains("ScheduleCreateVolumeTask"),
        "placement must not even be tried"
    );
    assert_eq!(
        h.total_received(),
        0,
        "n4 still had room but must not be used"
    );
    assert_eq!(h.row(msg.volume_id)?.host, None);
    Ok(())
}

#[actix::test]
async fn a_reschedule_skips_the_nodes_already_tried() -> TestResult {
    let h = harness(&["n1", "n2"], 3)?;
    h.report(report("n1", "nova", 100.0, 30.0, 0.0)).await?;
    h.report(report("n2", "nova", 100.0, 90.0, 0.0)).await?;
    let mut s = spec(1, &["nova"]);
    s.tried_nodes = vec!["n2".into()];
    s.failures = vec!["n2: injected".into()];
    let msg = h.accepted(s)?;
    h.scheduler.send(msg.clone()).await?;
    h.wait_casts(1).await?;
    let got = h.received("n1")?;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].spec.tried_nodes, ["n2", "n1"]);
    assert_eq!(got[0].spec.failures, ["n2: injected"]);
    assert_eq!(
        h.row(msg.volume_id)?.host.as_ref().map(Host::as_str),
        Some("n1@lvm#pool")
    );
    Ok(())
}

#[actix::test]
async fn a_create_for_a_zone_lands_only_in_that_zone() -> TestResult {
    let h = harness(&["n1", "n2"], 3)?;
    h.report(report("n1", "az1", 1000.0, 1000.0, 0.0)).await?;
    h.report(report("n2", "az2", 100.0, 20.0, 0.0)).await?;
    for i in 1..=2 {
        let msg = h.accepted(spec(5, &["az2"]))?;
        h.scheduler.send(msg.clone()).await?;
        h.wait_casts(i).await?;
        assert_eq!(
            h.row(msg.volume_id)?.host.as_ref().map(Host::as_str),
            Some("n2@lvm#pool")
        );
    }
    assert!(h.received("n1")?.is_empty());
    assert_eq!(h.received("n2")?.len(), 2);

    // A zone with no node fails, naming the zone filter.
    let msg = h.accepted(spec(5, &["az3"]))?;
    h.scheduler.send(msg.clone()).await?;
    let messages = h.wait_failed(msg.volume_id).await?;
    let detail = messages[0].detail.as_deref().ok_or("no detail")?;
    assert!(detail.contains("AvailabilityZoneFilter"), "{detail}");
    Ok(())
}

#[actix::test]
async fn a_volume_gone_before_placement_gives_its_capacity_back() -> TestResult {
    let h = harness(&["n1"], 3)?;
    h.report(report("n1", "nova", 100.0, 100.0, 0.0)).await?;
    let msg = h.accepted(spec(10, &["nova"]))?;
    // Deleted by the API (no host yet) before the scheduler got to it.
    let key = msg.volume_id.to_string();
    h.db.run_blocking(move |c| crate::db::volumes::delete_uncommitted(c, &key))?;
    h.scheduler.send(msg.clone()).await?;
    let runs = h.wait_runs(msg.volume_id).await?;
    assert_eq!(runs[0].state, "REVERTED");
    assert_eq!(h.total_received(), 0);
    assert_eq!(h.free().await?.get("n1@lvm#pool"), Some(&100.0));
    let key = msg.volume_id.to_string();
    let n = h.db.run_blocking(move |c| {
        Ok(volumes::table
            .filter(volumes::id.eq(&key))
            .count()
            .get_result::<i64>(c)?)
    })?;
    assert_eq!(n, 0);

    // The next placement consumes from the full pool.
    let next = h.accepted(spec(10, &["nova"]))?;
    h.scheduler.send(next).await?;
    h.wait_casts(1).await?;
    assert_eq!(h.free().await?.get("n1@lvm#pool"), Some(&90.0));
    Ok(())
}

#[actix::test]
async fn a_reschedule_with_no_node_left_says_why_earlier_attempts_failed() -> TestResult {
    let h = harness(&["n1"], 3)?;
    h.report(report("n1", "nova", 100.0, 100.0, 0.0)).await?;
    let mut s = spec(1, &["nova"]);
    s.tried_nodes = vec!["n1".into()];
    s.failures = vec!["n1: injected failure in create_volume".into()];
    let msg = h.accepted(s)?;
    h.scheduler.send(msg.clone()).await?;
    let messages = h.wait_failed(msg.volume_id).await?;
    let detail = messages[0].detail.as_deref().ok_or("no detail")?;
    assert!(
        detail.contains("n1@lvm#pool rejected by IgnoreAttemptedHostsFilter"),
        "{detail}"
    );
    assert!(
        detail.contains("Earlier attempt on n1 failed: n1: injected failure in create_volume"),
        "{detail}"
    );
    assert_eq!(h.total_received(), 0);
    Ok(())
}

/// Two schedulers on one database, each told of the same 10 GiB pool, each placing from
/// its own picture of it: the ledger refuses what the other already booked, so exactly
/// five volumes of 2 GiB are placed and the rest fail with Cinder's "No valid backend".
#[actix::test]
async fn two_schedulers_never_place_more_than_the_pool_holds() -> TestResult {
    let h = harness(&["n1"], 3)?;
    let other_log = Rc::new(RefCell::new(Vec::new()));
    let other_node = FakeNode {
        got: other_log.clone(),
    }
    .start();
    let other = SchedulerActor::new(
        h.db.clone(),
        JournalHandle(h.journal.clone()),
        HashMap::from([("n1".to_string(), NodeHandle::of("n1", other_node))]),
        SchedulerTuning::default(),
        3,
    )
    .start();
    for s in [&h.scheduler, &other] {
        s.send(report("n1", "nova", 10.0, 10.0, 0.0)).await?;
    }
    let mut sent = Vec::new();
    for i in 0..15 {
        let msg = h.accepted(spec(2, &["nova"]))?;
        sent.push(msg.volume_id);
        if i % 2 == 0 {
            h.scheduler.do_send(msg);
        } else {
            other.do_send(msg);
        }
    }
    let mut rows: Vec<VolumeRow> = Vec::new();
    for _ in 0..500 {
        rows = sent.iter().map(|id| h.row(*id)).collect::<BoxResult<_>>()?;
        if rows.iter().all(|r| r.host.is_some() || r.status == "error") {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    let placed = rows.iter().filter(|r| r.host.is_some()).count();
    let failed: Vec<&VolumeRow> = rows.iter().filter(|r| r.status == "error").collect();
    assert_eq!((placed, failed.len()), (5, 10));
    assert_eq!(h.total_received() + other_log.borrow().len(), 5);
    let booked = h.db.run_blocking(crate::db::ledger::all)?;
    assert_eq!(booked.len(), 1);
    assert_eq!(booked[0].allocated_gb, 10);
    // Told of the ledger (as a controller's watch tells it), a scheduler shows its figure.
    other.send(LedgerFigures(booked)).await?;
    let pools = other.send(GetPools).await?;
    assert_eq!(pools[0].stats.allocated_capacity_gb, 10.0);
    assert_eq!(pools[0].stats.provisioned_capacity_gb, 10.0);
    for r in failed {
        let messages = h.wait_failed(r.id.parse()?).await?;
        assert_eq!(messages[0].event_id, "VOLUME_VOLUME_001_003");
    }
    Ok(())
}

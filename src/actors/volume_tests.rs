//! `VolumeActor` alone: a real `FakeDriver`, a real database and journal, and a fake
//! scheduler that records the reschedules and capacity reports it gets.

use std::collections::BTreeMap;

use tempfile::TempDir;

use super::*;
use crate::actors::journal::{Flush, JournalActor};
use crate::actors::protocol::ScheduleCreateVolume;
use crate::db::quotas;
use crate::db::rows::{FlowRunRow, MessageRow, VolumeRow};
use crate::drivers::fake::{FakeDriver, FakeVerb};
use crate::model::{AttachStatus, Host, RequestId, quota};
use crate::scheduler::spec::RequestSpec;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

const DEFAULT_TYPE_ID: &str = "a3b2c7e4-5f1d-4e8a-9c60-2d7f0e1b9a11";
const PROJECT: &str = "project-a";
const NODE: &str = "n1";
/// `n1` with the fake driver's default backend and pool names.
const HOST: &str = "n1@fake#fake";

/// [`HOST`], parsed.
fn host() -> Host {
    Host::new("n1", "fake", "fake")
}

/// Records reschedules and capacity reports.
struct FakeScheduler {
    scheduled: Rc<RefCell<Vec<ScheduleCreateVolume>>>,
    reports: Rc<RefCell<Vec<NodeStatsReport>>>,
}

impl Actor for FakeScheduler {
    type Context = Context<Self>;
}

impl Handler<ScheduleCreateVolume> for FakeScheduler {
    type Result = ();
    fn handle(&mut self, msg: ScheduleCreateVolume, _: &mut Self::Context) {
        self.scheduled.borrow_mut().push(msg);
    }
}

impl Handler<NodeStatsReport> for FakeScheduler {
    type Result = ();
    fn handle(&mut self, msg: NodeStatsReport, _: &mut Self::Context) {
        self.reports.borrow_mut().push(msg);
    }
}

struct Harness {
    _dir: TempDir,
    db: Db,
    journal: Addr<JournalActor>,
    node: Addr<VolumeActor>,
    driver: Arc<FakeDriver>,
    scheduled: Rc<RefCell<Vec<ScheduleCreateVolume>>>,
    reports: Rc<RefCell<Vec<NodeStatsReport>>>,
}

fn test_db() -> BoxResult<(TempDir, Db)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("clinker.db");
    let pool = crate::db::connect(path.to_str().ok_or("temp path is not UTF-8")?, 4)?;
    let db = Db::new(pool);
    db.run_blocking(crate::db::migrate)?;
    Ok((dir, db))
}

/// The database, before the node starts (so rows can be in place for its recount).
fn setup() -> BoxResult<(TempDir, Db)> {
    test_db()
}

/// Starts node `n1` over a fresh fake driver; `placed` GiB per pool are booked in the
/// capacity ledger besides the rows (volumes placed by schedulers not shown here).
fn start_node(dir: TempDir, db: Db, placed: BTreeMap<Host, i64>) -> Harness {
    for (host, gb) in placed {
        let _ = db.run_blocking(move |c| crate::db::ledger::adjust(c, host.as_str(), gb));
    }
    let driver = Arc::new(FakeDriver::default());
    let (node, journal, scheduled, reports) =
        start_actor(&db, driver.clone(), Duration::from_secs(600));
    Harness {
        _dir: dir,
        db,
        journal,
        node,
        driver,
        scheduled,
        reports,
    }
}

type Started = (
    Addr<VolumeActor>,
    Addr<JournalActor>,
    Rc<RefCell<Vec<ScheduleCreateVolume>>>,
    Rc<RefCell<Vec<NodeStatsReport>>>,
);

/// Starts node `n1` over `driver`, removing orphans older than `grace`.
fn start_actor(db: &Db, driver: Arc<dyn VolumeDriver>, grace: Duration) -> Started {
    let journal = JournalActor::new(db.clone()).start();
    let scheduled = Rc::new(RefCell::new(Vec::new()));
    let reports = Rc::new(RefCell::new(Vec::new()));
    let scheduler = FakeScheduler {
        scheduled: scheduled.clone(),
        reports: reports.clone(),
    }
    .start();
    let link = SchedulerLink {
        schedule: Some(scheduler.clone().recipient()),
        stats: scheduler.recipient(),
    };
    let node = node_actor(db, driver, grace, &journal, link);
    (node, journal, scheduled, reports)
}

/// Node `n1`'s actor over `driver`, reaching its scheduler through `link`.
fn node_actor(
    db: &Db,
    driver: Arc<dyn VolumeDriver>,
    grace: Duration,
    journal: &Addr<JournalActor>,
    link: SchedulerLink,
) -> Addr<VolumeActor> {
    VolumeActor::new(
        NodeIdentity {
            name: NODE.into(),
            availability_zone: "nova".into(),
            // Only reports that follow an operation, in these tests.
            stats_interval: Duration::from_secs(3600),
            orphan_grace: grace,
            reconcile_interval: None,
        },
        driver,
        db.clone(),
        JournalHandle(journal.clone()),
        link,
    )
    .start()
}

fn harness() -> BoxResult<Harness> {
    let (dir, db) = setup()?;
    Ok(start_node(dir, db, BTreeMap::new()))
}

/// The spec as the scheduler sends it: this node already tried.
fn spec(size_gb: u64) -> RequestSpec {
    RequestSpec {
        size_gb,
        availability_zones: vec!["nova".into()],
        volume_type_id: DEFAULT_TYPE_ID.into(),
        extra_specs: BTreeMap::new(),
        tried_nodes: vec![NODE.into()],
        failures: Vec::new(),
        ..RequestSpec::default()
    }
}

/// Inserts a volume row of `size` GiB in `status` on `host`.
fn insert_row(db: &Db, size: u64, status: VolumeStatus, host: Option<&str>) -> BoxResult<VolumeId> {
    let id = VolumeId::new();
    let row = VolumeRow {
        id: id.to_string(),
        project_id: PROJECT.into(),
        user_id: "user".into(),
        display_name: None,
        display_description: None,
        size: size as i64,
        status,
        attach_status: AttachStatus::Detached,
        availability_zone: "nova".into(),
        volume_type_id: DEFAULT_TYPE_ID.into(),
        host: host.map(str::parse::<Host>).transpose()?,
        bootable: false,
        multiattach: false,
        snapshot_id: None,
        source_volid: None,
        provider_location: None,
        request_spec: spec(size),
        request_id: RequestId::new().0,
        created_at: crate::db::now(),
        updated_at: None,
        scheduled_at: None,
        launched_at: None,
        previous_status: None,
    };
    db.run_blocking(|c| {
        crate::db::volumes::insert(c, &row, &BTreeMap::new())?;
        // Booked as a scheduler's placement books it.
        match host {
            Some(h) => crate::db::ledger::adjust(c, h, size as i64),
            None => Ok(()),
        }
    })?;
    Ok(id)
}

/// Counts `size` GiB and one volume as in use by the project, as a committed create does.
fn commit_usage(db: &Db, size: u64) -> TestResult {
    let defaults = quotas::Defaults::default();
    db.run_blocking(|c| {
        let ids = quotas::reserve(
            c,
            PROJECT,
            &[(quota::VOLUMES, 1), (quota::GIGABYTES, size as i64)],
            3600,
            &defaults,
        )?;
        quotas::commit(c, &ids)
    })?;
    Ok(())
}

fn create_msg(id: VolumeId, size: u64, cast_seq: u64) -> CreateVolumeOnNode {
    CreateVolumeOnNode {
        volume_id: id,
        project_id: PROJECT.into(),
        request_id: RequestId::new(),
        host: host(),
        spec: spec(size),
        cast_seq,
    }
}

fn delete_msg(id: VolumeId) -> DeleteVolumeOnNode {
    DeleteVolumeOnNode {
        volume_id: id,
        project_id: PROJECT.into(),
        request_id: RequestId::new(),
    }
}

impl Harness {
    /// The row, or `None` once it is gone.
    fn row(&self, id: VolumeId) -> BoxResult<Option<VolumeRow>> {
        let key = id.to_string();
        match self
            .db
            .run_blocking(move |c| crate::db::volumes::get(c, &key, None))
        {
            Ok(v) => Ok(Some(v.row)),
            Err(DbError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn messages(&self, id: VolumeId) -> BoxResult<Vec<MessageRow>> {
        let key = id.to_string();
        Ok(self
            .db
            .run_blocking(move |c| crate::db::messages::for_resource(c, &key, None))?)
    }

    /// (in_use volumes, in_use gigabytes) of the project.
    fn in_use(&self) -> BoxResult<(i64, i64)> {
        let u = self.db.run_blocking(|c| {
            quotas::usage(
                c,
                PROJECT,
                &[quota::VOLUMES, quota::GIGABYTES],
                &quotas::Defaults::default(),
            )
        })?;
        let get = |r: &str| u.get(r).map(|x| x.in_use).ok_or("resource missing");
        Ok((get(quota::VOLUMES)?, get(quota::GIGABYTES)?))
    }

    /// Waits until `done` holds of the volume's row (`None`: gone).
    async fn wait_row(
        &self,
        id: VolumeId,
        what: &str,
        done: impl Fn(Option<&VolumeRow>) -> bool,
    ) -> BoxResult<Option<VolumeRow>> {
        let mut last = None;
        for _ in 0..500 {
            last = self.row(id)?;
            if done(last.as_ref()) {
                return Ok(last);
            }
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        Err(format!("volume {id} never became {what}; last seen {last:?}").into())
    }

    /// Waits for a capacity report acknowledging `acked_seq` whose fake pool counts
    /// `allocated` GiB placed (earlier reports may show the figures of before).
    async fn wait_report(&self, acked_seq: u64, allocated: f64) -> BoxResult<NodeStatsReport> {
        let matches = |r: &NodeStatsReport| {
            r.acked_seq == acked_seq
                && r.stats
                    .pools
                    .first()
                    .is_some_and(|p| p.allocated_capacity_gb == allocated)
        };
        for _ in 0..500 {
            let found = self.reports.borrow().iter().find(|r| matches(r)).cloned();
            if let Some(r) = found {
                return Ok(r);
            }
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        let seen: Vec<(u64, Option<f64>)> = self
            .reports
            .borrow()
            .iter()
            .map(|r| {
                (
                    r.acked_seq,
                    r.stats.pools.first().map(|p| p.allocated_capacity_gb),
                )
            })
            .collect();
        Err(format!(
            "no report with acked_seq {acked_seq} and {allocated} GiB allocated; got {seen:?}"
        )
        .into())
    }

    /// Waits until `n` runs of the volume are journaled.
    async fn wait_runs(&self, id: VolumeId, n: usize) -> BoxResult<Vec<FlowRunRow>> {
        let mut runs = Vec::new();
        for _ in 0..500 {
            self.journal.send(Flush).await?;
            let key = id.to_string();
            runs = self
                .db
                .run_blocking(move |c| crate::db::timeline::for_resource(c, &key, None))?;
            if runs.len() >= n {
                return Ok(runs);
            }
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        Err(format!("{} of {n} runs journaled for {id}", runs.len()).into())
    }
}

fn status_is(s: VolumeStatus) -> impl Fn(Option<&VolumeRow>) -> bool {
    move |r| r.is_some_and(|r| r.status == s)
}

#[actix::test]
async fn a_create_makes_the_volume_available_and_reports_it() -> TestResult {
    let (dir, db) = setup()?;
    // 5 GiB were already placed on the pool before this node started.
    let h = start_node(dir, db, BTreeMap::from([(host(), 5)]));
    let id = insert_row(&h.db, 3, VolumeStatus::Creating, Some(HOST))?;
    h.node.send(create_msg(id, 3, 7)).await?;

    let row = h
        .wait_row(id, "available", status_is(VolumeStatus::Available))
        .await?
        .ok_or("row gone")?;
    assert_eq!(row.host.as_ref().map(Host::as_str), Some(HOST));
    assert_eq!(
        row.provider_location,
        Some(format!("fake://{}", id.backend_name()))
    );
    assert!(row.launched_at.is_some());
    assert_eq!(h.driver.volume_size(&id), Some(3));

    let report = h.wait_report(7, 8.0).await?;
    assert_eq!(report.node, NODE);
    assert_eq!(report.availability_zone, "nova");
    let pool = report.stats.pools.first().ok_or("no pool")?;
    assert_eq!(pool.provisioned_capacity_gb, 3.0, "the driver's own figure");

    assert!(h.scheduled.borrow().is_empty(), "no reschedule");
    let runs = h.wait_runs(id, 1).await?;
    assert_eq!(runs[0].flow, "volume_create_manager");
    assert_eq!(runs[0].state, "SUCCESS");
    Ok(())
}

#[actix::test]
async fn a_driver_failure_gives_the_volume_back_to_the_scheduler() -> TestResult {
    let h = harness()?;
    let id = insert_row(&h.db, 4, VolumeStatus::Creating, Some(HOST))?;
    h.driver.fail_next(FakeVerb::CreateVolume, 1);
    let msg = create_msg(id, 4, 1);
    h.node.send(msg.clone()).await?;

    for _ in 0..500 {
        if !h.scheduled.borrow().is_empty() {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    let resent = h.scheduled.borrow().clone();
    assert_eq!(resent.len(), 1, "exactly one reschedule");
    let resent = &resent[0];
    assert_eq!(resent.volume_id, id);
    assert_eq!(resent.project_id, PROJECT);
    assert_eq!(resent.request_id, msg.request_id);
    assert_eq!(resent.spec.tried_nodes, [NODE], "this node stays excluded");
    assert_eq!(resent.spec.failures.len(), 1);
    let why = &resent.spec.failures[0];
    assert!(
        why.starts_with("n1: ") && why.contains("injected failure in create_volume"),
        "{why}"
    );

    // The row is `creating` again with no host, and keeps the failure history.
    let row = h.row(id)?.ok_or("row gone")?;
    assert_eq!(row.status, "creating");
    assert_eq!(row.host, None);
    assert_eq!(row.request_spec, resent.spec);

    // No half-made volume: the revert asked the driver to remove it.
    assert!(!h.driver.has_volume(&id));
    assert_eq!(h.driver.calls(FakeVerb::CreateVolume), 1);
    assert_eq!(h.driver.calls(FakeVerb::DeleteVolume), 1);

    // The node stops counting it.
    h.wait_report(1, 0.0).await?;
    let runs = h.wait_runs(id, 1).await?;
    assert_eq!(runs[0].state, "REVERTED");
    assert!(
        h.messages(id)?.is_empty(),
        "a reschedule is not the user's concern yet"
    );
    Ok(())
}

/// In a storage agent the scheduler is another process's: a create the driver failed is
/// queued for the controllers (`@scheduler`) in the transaction that clears its host and
/// gives its GiB back, so no moment exists where the volume is unscheduled and unqueued.
#[actix::test]
async fn an_agent_queues_a_reschedule_with_the_release() -> TestResult {
    let (_dir, db) = setup()?;
    let id = insert_row(&db, 4, VolumeStatus::Creating, Some(HOST))?;
    let driver = Arc::new(FakeDriver::default());
    driver.fail_next(FakeVerb::CreateVolume, 1);
    let journal = JournalActor::new(db.clone()).start();
    let scheduled = Rc::new(RefCell::new(Vec::new()));
    let scheduler = FakeScheduler {
        scheduled: scheduled.clone(),
        reports: Rc::new(RefCell::new(Vec::new())),
    }
    .start();
    let link = SchedulerLink {
        schedule: None,
        stats: scheduler.recipient(),
    };
    let node = node_actor(&db, driver, Duration::from_secs(600), &journal, link);
    node.send(create_msg(id, 4, 1)).await?;
    let key = id.to_string();
    let mut queued = Vec::new();
    for _ in 0..500 {
        let k = key.clone();
        queued = db.run_blocking(move |c| {
            use crate::db::schema::node_work;
            use diesel::prelude::*;
            Ok(node_work::table
                .filter(node_work::node.eq(crate::db::outbox::SCHEDULER_QUEUE))
                .filter(node_work::resource_id.eq(k))
                .select(node_work::body)
                .load::<String>(c)?)
        })?;
        if !queued.is_empty() {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(queued.len(), 1, "one reschedule queued");
    let msg: ScheduleCreateVolume = serde_json::from_str(&queued[0])?;
    assert_eq!(msg.volume_id, id);
    assert_eq!(msg.spec.tried_nodes, [NODE]);
    assert_eq!(msg.spec.failures.len(), 1);
    // Committed together: the host is clear, the spec keeps the failure, the GiB are back.
    let row = db
        .run_blocking(move |c| crate::db::volumes::get(c, &key, None))?
        .row;
    assert_eq!((row.status, row.host), (VolumeStatus::Creating, None));
    assert_eq!(row.request_spec, msg.spec);
    let booked = db.run_blocking(|c| crate::db::ledger::of_node(c, NODE))?;
    assert_eq!(booked.first().map(|f| f.allocated_gb), Some(0));
    assert!(scheduled.borrow().is_empty(), "nothing sent in memory");
    Ok(())
}

#[actix::test]
async fn a_volume_no_longer_creating_is_left_alone() -> TestResult {
    let h = harness()?;
    let id = insert_row(&h.db, 2, VolumeStatus::Error, Some(HOST))?;
    h.node.send(create_msg(id, 2, 3)).await?;
    let runs = h.wait_runs(id, 1).await?;
    assert_eq!(runs[0].state, "REVERTED");
    assert!(runs[0].transitions.contains("ExtractVolumeRefTask"));

    assert_eq!(h.driver.calls(FakeVerb::CreateVolume), 0);
    assert_eq!(h.driver.calls(FakeVerb::DeleteVolume), 0);
    // The errored row keeps its host, so the ledger keeps its 2 GiB until it is deleted.
    h.wait_report(3, 2.0).await?;
    assert!(h.scheduled.borrow().is_empty(), "no reschedule");
    let row = h.row(id)?.ok_or("row gone")?;
    assert_eq!(
        (row.status.as_str(), row.host.as_ref().map(Host::as_str)),
        ("error", Some(HOST))
    );

    // Placed on another host of the row than the cast says: also left alone.
    let other = insert_row(&h.db, 2, VolumeStatus::Creating, Some("n2@fake#fake"))?;
    h.node.send(create_msg(other, 2, 4)).await?;
    h.wait_runs(other, 1).await?;
    assert_eq!(h.driver.calls(FakeVerb::CreateVolume), 0);
    assert_eq!(
        h.row(other)?
            .ok_or("row gone")?
            .host
            .as_ref()
            .map(Host::as_str),
        Some("n2@fake#fake")
    );
    assert!(h.scheduled.borrow().is_empty());
    Ok(())
}

#[actix::test]
async fn a_delete_removes_volume_row_and_quota() -> TestResult {
    let (dir, db) = setup()?;
    let id = insert_row(&db, 3, VolumeStatus::Deleting, Some(HOST))?;
    commit_usage(&db, 3)?;
    // Another volume of the project, which must stay counted.
    insert_row(&db, 2, VolumeStatus::Available, Some(HOST))?;
    commit_usage(&db, 2)?;
    let h = start_node(dir, db, BTreeMap::new());
    h.driver
        .create_volume(&crate::drivers::VolumeRef { id, size_gb: 3 })?;
    assert_eq!(h.in_use()?, (2, 5));

    h.node.send(delete_msg(id)).await?;
    h.wait_row(id, "gone", |r| r.is_none()).await?;
    assert!(!h.driver.has_volume(&id));
    assert_eq!(h.in_use()?, (1, 2));
    h.wait_report(0, 2.0).await?;
    assert!(h.messages(id)?.is_empty());
    Ok(())
}

#[actix::test]
async fn a_failed_driver_delete_leaves_error_deleting_and_a_message() -> TestResult {
    let (dir, db) = setup()?;
    let id = insert_row(&db, 3, VolumeStatus::Deleting, Some(HOST))?;
    commit_usage(&db, 3)?;
    let h = start_node(dir, db, BTreeMap::new());
    h.driver
        .create_volume(&crate::drivers::VolumeRef { id, size_gb: 3 })?;
    h.driver.fail_next(FakeVerb::DeleteVolume, 1);
    let msg = delete_msg(id);
    h.node.send(msg.clone()).await?;

    h.wait_row(id, "error_deleting", status_is(VolumeStatus::ErrorDeleting))
        .await?;
    let mut messages = Vec::new();
    for _ in 0..500 {
        messages = h.messages(id)?;
        if !messages.is_empty() {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(messages.len(), 1, "one user message");
    let m = &messages[0];
    assert_eq!(m.event_id, "VOLUME_VOLUME_018_001");
    assert_eq!(m.request_id, msg.request_id.0);
    let detail = m.detail.as_deref().ok_or("no detail")?;
    assert!(
        detail.contains("n1") && detail.contains("injected failure in delete_volume"),
        "{detail}"
    );
    assert!(h.driver.has_volume(&id), "the volume is still there");
    assert_eq!(h.in_use()?, (1, 3), "quota stays while the volume exists");
    h.wait_report(0, 3.0).await?;
    Ok(())
}

#[actix::test]
async fn a_delete_of_a_volume_not_deleting_does_nothing() -> TestResult {
    let h = harness()?;
    let id = insert_row(&h.db, 1, VolumeStatus::Available, Some(HOST))?;
    h.driver
        .create_volume(&crate::drivers::VolumeRef { id, size_gb: 1 })?;
    h.node.send(delete_msg(id)).await?;
    // The report follows the end of the operation.
    // The volume stays, and so does its place in the ledger.
    h.wait_report(0, 1.0).await?;
    assert_eq!(h.driver.calls(FakeVerb::DeleteVolume), 0);
    assert!(h.driver.has_volume(&id));
    assert_eq!(h.row(id)?.ok_or("row gone")?.status, "available");
    Ok(())
}

#[actix::test]
async fn recovery_finishes_creates_and_deletes_left_on_this_node() -> TestResult {
    let (dir, db) = setup()?;
    let creating = insert_row(&db, 2, VolumeStatus::Creating, Some(HOST))?;
    let deleting = insert_row(&db, 1, VolumeStatus::Deleting, Some(HOST))?;
    commit_usage(&db, 2)?;
    commit_usage(&db, 1)?;
    let stable = insert_row(&db, 4, VolumeStatus::Available, Some(HOST))?;
    let elsewhere = insert_row(&db, 8, VolumeStatus::Creating, Some("n2@fake#fake"))?;
    let booked = db.run_blocking(|c| crate::db::ledger::of_node(c, NODE))?;
    assert_eq!(
        booked.iter().map(|f| f.allocated_gb).collect::<Vec<_>>(),
        [7]
    );
    let h = start_node(dir, db, BTreeMap::new());
    h.driver.create_volume(&crate::drivers::VolumeRef {
        id: deleting,
        size_gb: 1,
    })?;

    let resumed = h.node.send(RecoverNode).await??;
    assert_eq!(resumed, 2);
    let row = h
        .wait_row(creating, "available", status_is(VolumeStatus::Available))
        .await?
        .ok_or("row gone")?;
    assert_eq!(row.host.as_ref().map(Host::as_str), Some(HOST));
    h.wait_row(deleting, "gone", |r| r.is_none()).await?;
    assert!(h.driver.has_volume(&creating));
    assert!(!h.driver.has_volume(&deleting));
    assert!(!h.driver.has_volume(&elsewhere));
    assert_eq!(h.in_use()?, (1, 2));
    assert_eq!(h.row(stable)?.ok_or("row gone")?.status, "available");
    assert_eq!(h.row(elsewhere)?.ok_or("row gone")?.status, "creating");

    let runs = h.wait_runs(creating, 1).await?;
    assert_eq!(runs[0].state, "SUCCESS");
    assert!(runs[0].request_id.starts_with("recovery-"));
    // The recount already held both; the created one stays, the deleted one goes.
    h.wait_report(0, 6.0).await?;
    Ok(())
}

/// Two creates of one volume sent back to back: the second must wait for the first, so
/// it finds the volume `available` and never reaches the driver.
#[actix::test]
async fn operations_on_one_volume_run_one_at_a_time() -> TestResult {
    let h = harness()?;
    h.driver.set_delay(Duration::from_millis(100));
    let id = insert_row(&h.db, 1, VolumeStatus::Creating, Some(HOST))?;
    h.node.do_send(create_msg(id, 1, 1));
    h.node.do_send(create_msg(id, 1, 2));

    let runs = h.wait_runs(id, 2).await?;
    assert_eq!(runs.len(), 2);
    assert_eq!(
        h.driver.calls(FakeVerb::CreateVolume),
        1,
        "one driver create"
    );
    let states: Vec<&str> = runs.iter().map(|r| r.state.as_str()).collect();
    assert_eq!(states, ["SUCCESS", "REVERTED"]);
    assert!(
        runs[1].started_at >= runs[0].finished_at,
        "the second run started before the first ended: {runs:?}"
    );
    assert_eq!(h.row(id)?.ok_or("row gone")?.status, "available");
    assert!(
        h.scheduled.borrow().is_empty(),
        "a duplicate is not rescheduled"
    );
    // Counted once.
    h.wait_report(2, 1.0).await?;
    Ok(())
}

/// Other volumes are not held up by a busy one.
#[actix::test]
async fn different_volumes_run_at_once() -> TestResult {
    let h = harness()?;
    h.driver.set_delay(Duration::from_millis(200));
    let a = insert_row(&h.db, 1, VolumeStatus::Creating, Some(HOST))?;
    let b = insert_row(&h.db, 1, VolumeStatus::Creating, Some(HOST))?;
    h.node.do_send(create_msg(a, 1, 1));
    h.node.do_send(create_msg(b, 1, 2));
    let ra = h.wait_runs(a, 1).await?;
    let rb = h.wait_runs(b, 1).await?;
    assert_eq!(
        (ra[0].state.as_str(), rb[0].state.as_str()),
        ("SUCCESS", "SUCCESS")
    );
    assert!(
        rb[0].started_at < ra[0].finished_at && ra[0].started_at < rb[0].finished_at,
        "the two creates should overlap: {ra:?} {rb:?}"
    );
    Ok(())
}

/// A third operation queued behind a busy volume must run too.
#[actix::test]
async fn every_queued_operation_on_one_volume_runs() -> TestResult {
    let h = harness()?;
    h.driver.set_delay(Duration::from_millis(100));
    let id = insert_row(&h.db, 1, VolumeStatus::Creating, Some(HOST))?;
    for seq in 1..=3 {
        h.node.do_send(create_msg(id, 1, seq));
    }
    let runs = h.wait_runs(id, 3).await?;
    let states: Vec<&str> = runs.iter().map(|r| r.state.as_str()).collect();
    assert_eq!(states, ["SUCCESS", "REVERTED", "REVERTED"]);
    Ok(())
}

/// Inserts a snapshot row of `volume` in `status`.
fn insert_snapshot(
    db: &Db,
    volume: VolumeId,
    size: u64,
    status: &str,
) -> BoxResult<crate::model::SnapshotId> {
    let id = crate::model::SnapshotId::new();
    let row = crate::db::rows::SnapshotRow {
        id,
        volume_id: volume.to_string(),
        project_id: PROJECT.into(),
        user_id: "user".into(),
        status: status.parse()?,
        progress: "0%".into(),
        volume_size: size as i64,
        display_name: None,
        display_description: None,
        volume_type_id: DEFAULT_TYPE_ID.into(),
        provider_location: None,
        request_id: RequestId::new().0,
        created_at: crate::db::now(),
        updated_at: None,
    };
    db.run_blocking(|c| crate::db::snapshots::insert(c, &row, &BTreeMap::new()))?;
    Ok(id)
}

fn snapshot_status(db: &Db, id: crate::model::SnapshotId) -> BoxResult<Option<String>> {
    let key = id;
    match db.run_blocking(move |c| crate::db::snapshots::get(c, &key, None)) {
        Ok(s) => Ok(Some(s.row.status.to_string())),
        Err(DbError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// An attachment of `volume` in `status` (with a connector unless `reserved`).
fn insert_attachment(db: &Db, volume: VolumeId, status: AttachStatus) -> TestResult {
    let now = crate::db::now();
    let row = crate::db::rows::AttachmentRow {
        id: uuid::Uuid::new_v4().to_string(),
        volume_id: volume.to_string(),
        project_id: PROJECT.into(),
        instance_uuid: Some(uuid::Uuid::new_v4().to_string()),
        attached_host: None,
        mountpoint: None,
        attach_status: status,
        attach_mode: Some("rw".into()),
        connection_info: None,
        connector: (status != AttachStatus::Reserved).then(|| r#"{"host":"h"}"#.to_string()),
        attach_time: None,
        detach_time: None,
        created_at: now,
        updated_at: None,
    };
    db.run_blocking(|c| crate::db::attachments::insert(c, &row))?;
    Ok(())
}

/// A volume moved from `available` to `to` the way the API does it (remembering the
/// status before).
fn begin(db: &Db, id: VolumeId, to: VolumeStatus) -> TestResult {
    let key = id.to_string();
    db.run_blocking(move |c| {
        crate::db::volumes::begin_transient(c, &key, &[VolumeStatus::Available], to)
    })?;
    Ok(())
}

/// Every transitional state a crash can leave is resumed or rolled back: no row stays
/// in one, and what was resumed really ran on the driver.
#[actix::test]
async fn recovery_settles_every_transitional_state() -> TestResult {
    use crate::db::quotas::{EXTEND_INTENT, ExtendIntent};
    let (dir, db) = setup()?;
    let row = |status| insert_row(&db, 1, status, Some(HOST));
    // An extend that stored its intent and reservation, and one that did not.
    let extending = row(VolumeStatus::Available)?;
    commit_usage(&db, 1)?;
    begin(&db, extending, VolumeStatus::Extending)?;
    let ids = db.run_blocking(|c| {
        quotas::reserve(
            c,
            PROJECT,
            &[(quota::GIGABYTES, 2)],
            3600,
            &quotas::Defaults::default(),
        )
    })?;
    let intent = serde_json::to_string(&ExtendIntent {
        new_size: 3,
        reservations: ids,
    })?;
    let key = extending.to_string();
    db.run_blocking(move |c| {
        crate::db::attachments::set_admin_metadata(c, &key, EXTEND_INTENT, &intent)
    })?;
    let extending_blind = row(VolumeStatus::Available)?;
    begin(&db, extending_blind, VolumeStatus::Extending)?;
    let retyping = row(VolumeStatus::Available)?;
    begin(&db, retyping, VolumeStatus::Retyping)?;
    // A revert with its snapshot `restoring`, and a stray `restoring` snapshot.
    let reverting = row(VolumeStatus::Reverting)?;
    let restoring = insert_snapshot(&db, reverting, 1, "restoring")?;
    let plain = row(VolumeStatus::Available)?;
    let stray = insert_snapshot(&db, plain, 1, "restoring")?;
    let creating_snap = insert_snapshot(&db, plain, 1, "creating")?;
    let deleting_snap = insert_snapshot(&db, plain, 1, "deleting")?;
    // The snapshot being deleted is counted (1 snapshot, 1 GiB) until it goes.
    db.run_blocking(|c| {
        let deltas = [(quota::SNAPSHOTS, 1), (quota::GIGABYTES, 1)];
        let ids = quotas::reserve(c, PROJECT, &deltas, 3600, &quotas::Defaults::default())?;
        quotas::commit(c, &ids)
    })?;
    // Attach states: a legacy os-reserve, a consumer's reservation, a legacy
    // begin_detaching of an attached volume.
    let legacy_reserved = row(VolumeStatus::Attaching)?;
    let held = row(VolumeStatus::Reserved)?;
    insert_attachment(&db, held, AttachStatus::Reserved)?;
    let detaching = row(VolumeStatus::Detaching)?;
    insert_attachment(&db, detaching, AttachStatus::Attached)?;

    let h = start_node(dir, db, BTreeMap::new());
    for v in [extending, extending_blind, reverting, plain] {
        h.driver.create_volume(&VolumeRef { id: v, size_gb: 1 })?;
    }
    h.driver.create_snapshot(&crate::drivers::SnapshotRef {
        id: restoring.0,
        volume: VolumeRef {
            id: reverting,
            size_gb: 1,
        },
    })?;
    let resumed = h.node.send(RecoverNode).await??;
    // Extend, revert, snapshot create and snapshot delete.
    assert_eq!(resumed, 4);

    let grown = h
        .wait_row(extending, "grown", |r| r.is_some_and(|r| r.size == 3))
        .await?
        .ok_or("row gone")?;
    assert_eq!(grown.status, "available");
    assert_eq!(h.driver.volume_size(&extending), Some(3));
    for _ in 0..500 {
        if snapshot_status(&h.db, deleting_snap)?.is_none() {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    // 1 GiB from the create, 2 from the committed reservation (the deleted snapshot's
    // GiB went with it), nothing left reserved.
    assert_eq!(h.in_use()?, (1, 3));
    let usage = h.db.run_blocking(|c| {
        quotas::usage(
            c,
            PROJECT,
            &[quota::GIGABYTES],
            &quotas::Defaults::default(),
        )
    })?;
    assert_eq!(usage.get(quota::GIGABYTES).map(|u| u.reserved), Some(0));
    let key = extending.to_string();
    let meta =
        h.db.run_blocking(move |c| crate::db::volumes::get(c, &key, None))?
            .admin_metadata;
    assert!(!meta.contains_key(EXTEND_INTENT), "{meta:?}");

    h.wait_row(reverting, "available", status_is(VolumeStatus::Available))
        .await?;
    assert_eq!(h.driver.calls(FakeVerb::RevertToSnapshot), 1);
    assert_eq!(
        snapshot_status(&h.db, restoring)?.as_deref(),
        Some("available")
    );
    for _ in 0..500 {
        if snapshot_status(&h.db, creating_snap)?.as_deref() == Some("available")
            && snapshot_status(&h.db, deleting_snap)?.is_none()
        {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        snapshot_status(&h.db, creating_snap)?.as_deref(),
        Some("available")
    );
    assert!(h.driver.has_snapshot(&creating_snap.0));
    assert_eq!(snapshot_status(&h.db, deleting_snap)?, None);
    assert_eq!(snapshot_status(&h.db, stray)?.as_deref(), Some("available"));

    let status = |id| -> BoxResult<String> { Ok(h.row(id)?.ok_or("row gone")?.status.to_string()) };
    assert_eq!(status(extending_blind)?, "available");
    assert_eq!(h.row(extending_blind)?.ok_or("row gone")?.size, 1);
    assert_eq!(status(retyping)?, "available");
    assert_eq!(status(legacy_reserved)?, "available");
    assert_eq!(status(held)?, "reserved");
    assert_eq!(status(detaching)?, "in-use");
    Ok(())
}

/// The node compares its backend with the rows: objects with no row are reported,
/// and removed only once older than the grace period; rows whose object is gone go to
/// `error` with a user message. On the real file driver.
#[actix::test]
async fn reconcile_reports_orphans_and_missing_backing() -> TestResult {
    use crate::drivers::file::{FileDriver, FileDriverOptions};
    let (dir, db) = setup()?;
    let path = dir.path().join("volumes");
    let driver = Arc::new(FileDriver::new(path.clone(), FileDriverOptions::default())?);
    let kept = insert_row(&db, 1, VolumeStatus::Available, Some(HOST))?;
    driver.create_volume(&VolumeRef {
        id: kept,
        size_gb: 1,
    })?;
    let lost = insert_row(&db, 1, VolumeStatus::InUse, Some(HOST))?;
    let lost_snap = insert_snapshot(&db, kept, 1, "available")?;
    let in_flight = insert_row(&db, 1, VolumeStatus::Creating, Some(HOST))?;
    let orphan = VolumeId::new();
    driver.create_volume(&VolumeRef {
        id: orphan,
        size_gb: 1,
    })?;
    let stale_temp = path.join(format!(".{}.tmp", kept.backend_name()));
    std::fs::write(&stale_temp, b"half")?;
    let live_temp = path.join(format!(".{}.tmp", in_flight.backend_name()));
    std::fs::write(&live_temp, b"half")?;

    // A long grace: the young orphans are only reported.
    let (young, ..) = start_actor(&db, driver.clone(), Duration::from_secs(600));
    let report = young.send(super::ReconcileNode).await??;
    assert_eq!(
        (report.orphans_found, report.orphans_removed, report.missing),
        (2, 0, 2)
    );
    assert!(path.join(orphan.backend_name()).exists() && stale_temp.exists());
    let lost_row = db.run_blocking(|c| crate::db::volumes::get(c, &lost.to_string(), None))?;
    assert_eq!(lost_row.row.status, "error");
    let messages =
        db.run_blocking(|c| crate::db::messages::for_resource(c, &lost.to_string(), None))?;
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("no backing storage")),
        "{messages:?}"
    );
    assert_eq!(snapshot_status(&db, lost_snap)?.as_deref(), Some("error"));

    // No grace: they go; the volume with a row, and the temp file of a create in
    // flight, stay. Rows already in error are not touched again.
    let (old, ..) = start_actor(&db, driver.clone(), Duration::ZERO);
    let report = old.send(super::ReconcileNode).await??;
    assert_eq!(
        (report.orphans_found, report.orphans_removed, report.missing),
        (2, 2, 0)
    );
    assert!(!path.join(orphan.backend_name()).exists());
    assert!(!stale_temp.exists());
    assert!(path.join(kept.backend_name()).exists() && live_temp.exists());
    let report = old.send(super::ReconcileNode).await??;
    assert_eq!(report, super::ReconcileReport::default());
    Ok(())
}

/// A fake driver that cannot list (the default) makes the comparison a no-op rather
/// than a reason to fail every row.
#[actix::test]
async fn reconcile_skips_a_driver_that_cannot_list() -> TestResult {
    let h = harness()?;
    let id = insert_row(&h.db, 1, VolumeStatus::Available, Some(HOST))?;
    let report = h.node.send(super::ReconcileNode).await??;
    assert_eq!(report, super::ReconcileReport::default());
    assert_eq!(h.row(id)?.ok_or("row gone")?.status, "available");
    // Listing on: the missing volume is found.
    h.driver.set_listing(true);
    let report = h.node.send(super::ReconcileNode).await??;
    assert_eq!(report.missing, 1);
    assert_eq!(h.row(id)?.ok_or("row gone")?.status, "error");
    Ok(())
}

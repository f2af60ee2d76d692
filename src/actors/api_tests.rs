//! `ApiActor` alone: a real database and journal, a fake scheduler and a fake node that
//! only record what they are sent.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use diesel::prelude::*;
use tempfile::TempDir;

use super::*;
use crate::actors::dispatch::NodeHandle;
use crate::actors::journal::{Flush, JournalActor};
use crate::actors::protocol::{CheckHost, CreateVolumeOnNode, ScheduleCreateVolume};
use crate::db::schema::{reservations, volumes};
use crate::model::{RequestId, quota};

type TestResult = Result<(), Box<dyn std::error::Error>>;
/// One journaled transition: the task (`None` for the flow itself) and its new state.
type Step = (Option<String>, String);

const PROJECT_A: &str = "project-a";
const PROJECT_B: &str = "project-b";
const NODE_HOST: &str = "n1@fake#fake";

/// Records every message it gets.
struct Recorder<M> {
    got: Rc<RefCell<Vec<M>>>,
}

impl<M> Default for Recorder<M> {
    fn default() -> Self {
        Self {
            got: Rc::new(RefCell::new(Vec::new())),
        }
    }
}

impl<M: 'static> Actor for Recorder<M> {
    type Context = Context<Self>;
}

impl Handler<ScheduleCreateVolume> for Recorder<ScheduleCreateVolume> {
    type Result = ();
    fn handle(&mut self, msg: ScheduleCreateVolume, _: &mut Self::Context) {
        self.got.borrow_mut().push(msg);
    }
}

/// What the fake node got.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "a test recorder; size does not matter"
)]
enum NodeMsg {
    Create(CreateVolumeOnNode),
    Delete(DeleteVolumeOnNode),
}

impl NodeMsg {
    fn volume_id(&self) -> VolumeId {
        match self {
            NodeMsg::Create(m) => m.volume_id,
            NodeMsg::Delete(m) => m.volume_id,
        }
    }
}

impl Handler<CreateVolumeOnNode> for Recorder<NodeMsg> {
    type Result = ();
    fn handle(&mut self, msg: CreateVolumeOnNode, _: &mut Self::Context) {
        self.got.borrow_mut().push(NodeMsg::Create(msg));
    }
}

impl Handler<DeleteVolumeOnNode> for Recorder<NodeMsg> {
    type Result = ();
    fn handle(&mut self, msg: DeleteVolumeOnNode, _: &mut Self::Context) {
        self.got.borrow_mut().push(NodeMsg::Delete(msg));
    }
}

ignore_node_messages!(Recorder<NodeMsg>);

/// Answered once every message sent before it has been handled (mailboxes are FIFO).
#[derive(Message)]
#[rtype(result = "()")]
struct Ping;

impl<M: 'static> Handler<Ping> for Recorder<M> {
    type Result = ();
    fn handle(&mut self, _: Ping, _: &mut Self::Context) {}
}

/// Accepts every host (retype is not what these tests look at).
struct HostChecker;

impl Actor for HostChecker {
    type Context = Context<Self>;
}

impl Handler<CheckHost> for HostChecker {
    type Result = Result<(), String>;
    fn handle(&mut self, _: CheckHost, _: &mut Self::Context) -> Self::Result {
        Ok(())
    }
}

struct Harness {
    _dir: TempDir,
    db: Db,
    api: Addr<ApiActor>,
    journal: Addr<JournalActor>,
    scheduler: Addr<Recorder<ScheduleCreateVolume>>,
    scheduled: Rc<RefCell<Vec<ScheduleCreateVolume>>>,
    node: Addr<Recorder<NodeMsg>>,
    node_got: Rc<RefCell<Vec<NodeMsg>>>,
    defaults: quotas::Defaults,
}

fn settings(defaults: quotas::Defaults) -> ApiSettings {
    ApiSettings {
        default_availability_zone: "nova".into(),
        known_zones: crate::actors::api::Zones::of(BTreeSet::from([
            "nova".to_string(),
            "az2".to_string(),
        ])),
        default_volume_type: "__DEFAULT__".into(),
        default_group_type: None,
        quota_defaults: defaults,
        reservation_expire_seconds: 86_400,
        max_metadata_items: 128,
    }
}

fn quota_defaults(volumes: i64, gigabytes: i64) -> quotas::Defaults {
    quotas::Defaults(BTreeMap::from([
        (quota::VOLUMES.to_string(), volumes),
        (quota::GIGABYTES.to_string(), gigabytes),
        (quota::PER_VOLUME_GIGABYTES.to_string(), -1),
    ]))
}

fn test_db() -> Result<(TempDir, Db), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("clinker.db");
    let pool = crate::db::connect(path.to_str().ok_or("temp path is not UTF-8")?, 4)?;
    let db = Db::new(pool);
    db.run_blocking(crate::db::migrate)?;
    Ok((dir, db))
}

fn harness(
    defaults: quotas::Defaults,
    fail_at: Option<&'static str>,
) -> Result<Harness, Box<dyn std::error::Error>> {
    let (dir, db) = test_db()?;
    let journal = JournalActor::new(db.clone()).start();
    let sched = Recorder::<ScheduleCreateVolume>::default();
    let scheduled = sched.got.clone();
    let scheduler = sched.start();
    let node_actor = Recorder::<NodeMsg>::default();
    let node_got = node_actor.got.clone();
    let node = node_actor.start();
    let handle = NodeHandle::of("n1", node.clone());
    let checker = HostChecker.start();
    let dispatcher = Dispatcher {
        scheduler: crate::actors::mailbox::Tracked::new(scheduler.clone().recipient(), "scheduler"),
        host_check: checker.recipient(),
        nodes: Arc::new(HashMap::from([("n1".to_string(), handle)])),
        remote: None,
    };
    let mut actor = ApiActor::new(
        db.clone(),
        dispatcher,
        JournalHandle(journal.clone()),
        settings(defaults.clone()),
    );
    if let Some(task) = fail_at {
        actor = actor.failing_at(task);
    }
    Ok(Harness {
        _dir: dir,
        db,
        api: actor.start(),
        journal,
        scheduler,
        scheduled,
        node,
        node_got,
        defaults,
    })
}

fn member(project: &str) -> RequestContext {
    RequestContext {
        user_id: format!("user-of-{project}"),
        project_id: project.into(),
        is_admin: false,
        roles: vec!["member".into(), "reader".into()],
        request_id: RequestId::new(),
    }
}

fn admin() -> RequestContext {
    RequestContext {
        user_id: "admin".into(),
        project_id: "admin-project".into(),
        is_admin: true,
        roles: vec!["admin".into(), "member".into(), "reader".into()],
        request_id: RequestId::new(),
    }
}

fn request(size: u64) -> VolumeCreateRequest {
    VolumeCreateRequest {
        size: Some(size),
        name: Some("vol".into()),
        ..VolumeCreateRequest::default()
    }
}

impl Harness {
    async fn create(
        &self,
        ctx: RequestContext,
        request: VolumeCreateRequest,
    ) -> Result<Result<VolumeRecord, ServiceError>, actix::MailboxError> {
        self.api.send(CreateVolume { ctx, request }).await
    }

    /// Waits until the fakes handled everything sent to them so far.
    async fn settle(&self) -> TestResult {
        self.scheduler.send(Ping).await?;
        self.node.send(Ping).await?;
        Ok(())
    }

    fn volume_count(&self) -> Result<i64, Box<dyn std::error::Error>> {
        Ok(self
            .db
            .run_blocking(|c| Ok(volumes::table.count().get_result::<i64>(c)?))?)
    }

    fn reservation_count(&self) -> Result<i64, Box<dyn std::error::Error>> {
        Ok(self
            .db
            .run_blocking(|c| Ok(reservations::table.count().get_result::<i64>(c)?))?)
    }

    /// (in_use, reserved) of volumes and gigabytes.
    fn usage(&self, project: &str) -> Result<[(i64, i64); 2], Box<dyn std::error::Error>> {
        let defaults = self.defaults.clone();
        let u = self.db.run_blocking(|c| {
            quotas::usage(c, project, &[quota::VOLUMES, quota::GIGABYTES], &defaults)
        })?;
        let get = |r: &str| -> Result<(i64, i64), Box<dyn std::error::Error>> {
            let x = u.get(r).ok_or("resource missing from usage")?;
            Ok((x.in_use, x.reserved))
        };
        Ok([get(quota::VOLUMES)?, get(quota::GIGABYTES)?])
    }

    /// Sets host and status as a scheduler and node would have.
    fn place(&self, id: &str, host: Option<&str>, status: VolumeStatus) -> TestResult {
        let (id, host) = (id.to_string(), host.map(str::to_string));
        self.db.run_blocking(move |c| {
            diesel::update(volumes::table.filter(volumes::id.eq(&id)))
                .set((volumes::host.eq(host), volumes::status.eq(status.as_str())))
                .execute(c)?;
            Ok(())
        })?;
        Ok(())
    }

    fn row(&self, id: &str) -> Result<Option<VolumeRecord>, Box<dyn std::error::Error>> {
        let id = id.to_string();
        match self
            .db
            .run_blocking(move |c| crate::db::volumes::get(c, &id, None))
        {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Asserts the request left nothing behind: no row, no reservation, no usage, no cast.
    async fn assert_nothing_left(&self, project: &str) -> TestResult {
        self.settle().await?;
        assert_eq!(self.volume_count()?, 0, "a volume row was left");
        assert_eq!(self.reservation_count()?, 0, "a reservation was left");
        assert_eq!(
            self.usage(project)?,
            [(0, 0), (0, 0)],
            "quota usage was left"
        );
        assert!(self.scheduled.borrow().is_empty(), "the scheduler was told");
        Ok(())
    }
}

#[actix::test]
async fn create_accepts_reserves_commits_and_casts_once() -> TestResult {
    let h = harness(quota_defaults(10, 1000), None)?;
    let ctx = member(PROJECT_A);
    let req = VolumeCreateRequest {
        availability_zone: Some("az2".into()),
        metadata: BTreeMap::from([("k".to_string(), "v".to_string())]),
        ..request(7)
    };
    let v = h.create(ctx.clone(), req).await??;
    assert_eq!(v.row.status, "creating");
    assert_eq!(v.row.size, 7);
    assert_eq!(v.row.host, None);
    assert_eq!(v.row.project_id, PROJECT_A);
    assert_eq!(v.type_name, "__DEFAULT__");

    let stored = h.row(&v.row.id)?.ok_or("no volume row")?;
    assert_eq!(stored.row.status, "creating");
    assert_eq!(stored.row.availability_zone, "az2");
    assert_eq!(stored.metadata.get("k").map(String::as_str), Some("v"));
    assert_eq!(h.volume_count()?, 1);
    assert_eq!(h.usage(PROJECT_A)?, [(1, 0), (7, 0)]);
    assert_eq!(h.reservation_count()?, 0);

    h.settle().await?;
    let got = h.scheduled.borrow();
    assert_eq!(got.len(), 1, "exactly one cast to the scheduler");
    let cast = &got[0];
    assert_eq!(cast.volume_id.to_string(), v.row.id);
    assert_eq!(cast.project_id, PROJECT_A);
    assert_eq!(cast.request_id, ctx.request_id);
    assert_eq!(cast.spec.size_gb, 7);
    assert_eq!(cast.spec.availability_zones, ["az2"]);
    assert_eq!(cast.spec.volume_type_id, v.row.volume_type_id);
    assert!(cast.spec.tried_nodes.is_empty());
    assert!(
        h.node_got.borrow().is_empty(),
        "the API never talks to nodes on create"
    );
    Ok(())
}

#[actix::test]
async fn create_without_zone_uses_the_default_zone() -> TestResult {
    let h = harness(quota_defaults(10, 1000), None)?;
    let v = h.create(member(PROJECT_A), request(1)).await??;
    assert_eq!(v.row.availability_zone, "nova");
    h.settle().await?;
    assert_eq!(
        h.scheduled
            .borrow()
            .iter()
            .map(|m| m.spec.availability_zones.clone())
            .collect::<Vec<_>>(),
        [["nova".to_string()]]
    );
    Ok(())
}

const CREATE_TASKS: [&str; 5] = [
    "ExtractVolumeRequestTask",
    "QuotaReserveTask",
    "EntryCreateTask",
    "QuotaCommitTask",
    "VolumeCastTask",
];

/// The transitions a run failing at `CREATE_TASKS[k]` must record, in order.
fn expected_failed_transitions(k: usize) -> Vec<Step> {
    let flow = |s: &str| (None, s.to_string());
    let task = |t: &str, s: &str| (Some(t.to_string()), s.to_string());
    let mut out = vec![flow("PENDING"), flow("RUNNING")];
    for t in &CREATE_TASKS[..k] {
        out.push(task(t, "RUNNING"));
        out.push(task(t, "SUCCESS"));
    }
    out.push(task(CREATE_TASKS[k], "RUNNING"));
    out.push(task(CREATE_TASKS[k], "FAILURE"));
    out.push(flow("REVERTING"));
    for t in CREATE_TASKS[..=k].iter().rev() {
        out.push(task(t, "REVERTING"));
        out.push(task(t, "REVERTED"));
    }
    out.push(flow("REVERTED"));
    out
}

fn transitions_of(run: &FlowRunRow) -> Result<Vec<Step>, Box<dyn std::error::Error>> {
    let parsed: Vec<serde_json::Value> = serde_json::from_str(&run.transitions)?;
    parsed
        .iter()
        .map(|t| {
            let task = t.get("task").and_then(|v| v.as_str()).map(str::to_string);
            let state = t
                .get("state")
                .and_then(|v| v.as_str())
                .ok_or("transition without state")?
                .to_string();
            Ok((task, state))
        })
        .collect()
}

/// Waits until the journal holds `n` runs, and returns them all (resource ids are
/// unknown when a create failed). Polls after `Flush`: a `Flush` can answer while a
/// periodic write is still storing earlier runs (see the ignored test at the end).
async fn wait_runs(h: &Harness, n: usize) -> Result<Vec<FlowRunRow>, Box<dyn std::error::Error>> {
    use crate::db::schema::flow_runs;
    let mut runs = Vec::new();
    for _ in 0..500 {
        h.journal.send(Flush).await?;
        runs = h.db.run_blocking(|c| {
            Ok(flow_runs::table
                .order(flow_runs::seq.asc())
                .select(FlowRunRow::as_select())
                .load(c)?)
        })?;
        if runs.len() >= n {
            return Ok(runs);
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Err(format!("{} of {n} flow runs journaled", runs.len()).into())
}

#[actix::test]
async fn a_failure_in_any_create_task_reverts_everything_before_it() -> TestResult {
    for (k, task) in CREATE_TASKS.iter().enumerate() {
        let h = harness(quota_defaults(10, 1000), Some(task))?;
        let ctx = member(PROJECT_A);
        let err = h
            .create(ctx.clone(), request(5))
            .await?
            .err()
            .ok_or_else(|| format!("create failing at {task} succeeded"))?;
        assert!(
            matches!(&err, ServiceError::Internal(m) if m.contains(task)),
            "{task}: unexpected error {err:?}"
        );
        h.assert_nothing_left(PROJECT_A).await?;

        let runs = wait_runs(&h, 1).await?;
        assert_eq!(runs.len(), 1, "{task}: one run expected");
        let run = &runs[0];
        assert_eq!(run.flow, "volume_create_api");
        assert_eq!(run.state, "REVERTED", "{task}");
        assert_eq!(run.project_id, PROJECT_A);
        assert_eq!(run.request_id, ctx.request_id.0);
        // The run is findable by its volume, as the timeline reads it.
        let key = run.resource_id.clone();
        let by_resource = h
            .db
            .run_blocking(move |c| crate::db::timeline::for_resource(c, &key, Some(PROJECT_A)))?;
        assert_eq!(by_resource.len(), 1);
        assert_eq!(
            transitions_of(run)?,
            expected_failed_transitions(k),
            "{task}: transitions"
        );
    }
    Ok(())
}

#[actix::test]
async fn a_successful_create_journals_every_task_in_order() -> TestResult {
    let h = harness(quota_defaults(10, 1000), None)?;
    let v = h.create(member(PROJECT_A), request(1)).await??;
    wait_runs(&h, 1).await?;
    let key = v.row.id.clone();
    let runs =
        h.db.run_blocking(move |c| crate::db::timeline::for_resource(c, &key, None))?;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].state, "SUCCESS");
    let mut want = vec![(None, "PENDING".to_string()), (None, "RUNNING".to_string())];
    for t in CREATE_TASKS {
        want.push((Some(t.to_string()), "RUNNING".to_string()));
        want.push((Some(t.to_string()), "SUCCESS".to_string()));
    }
    want.push((None, "SUCCESS".to_string()));
    assert_eq!(transitions_of(&runs[0])?, want);
    Ok(())
}

#[actix::test]
async fn the_third_volume_is_over_the_volumes_quota() -> TestResult {
    let h = harness(quota_defaults(2, 1000), None)?;
    h.create(member(PROJECT_A), request(1)).await??;
    h.create(member(PROJECT_A), request(1)).await??;
    let err = h
        .create(member(PROJECT_A), request(1))
        .await?
        .err()
        .ok_or("third create passed a quota of 2 volumes")?;
    match &err {
        ServiceError::OverQuota(q) => {
            assert_eq!(q.resource, quota::VOLUMES);
            assert_eq!((q.limit, q.in_use, q.requested), (2, 2, 1));
        }
        other => return Err(format!("expected OverQuota, got {other:?}").into()),
    }
    h.settle().await?;
    assert_eq!(h.volume_count()?, 2);
    assert_eq!(h.reservation_count()?, 0);
    assert_eq!(h.usage(PROJECT_A)?, [(2, 0), (2, 0)]);
    assert_eq!(h.scheduled.borrow().len(), 2);
    // Another project has its own quota.
    h.create(member(PROJECT_B), request(1)).await??;
    Ok(())
}

#[actix::test]
async fn a_create_past_the_gigabytes_quota_leaves_nothing() -> TestResult {
    let h = harness(quota_defaults(10, 10), None)?;
    let err = h
        .create(member(PROJECT_A), request(11))
        .await?
        .err()
        .ok_or("11 GiB passed a quota of 10")?;
    assert!(
        matches!(&err, ServiceError::OverQuota(q) if q.resource == quota::GIGABYTES),
        "{err:?}"
    );
    h.assert_nothing_left(PROJECT_A).await?;

    h.create(member(PROJECT_A), request(6)).await??;
    let err = h
        .create(member(PROJECT_A), request(5))
        .await?
        .err()
        .ok_or("6 + 5 GiB passed a quota of 10")?;
    match &err {
        ServiceError::OverQuota(q) => {
            assert_eq!(q.resource, quota::GIGABYTES);
            assert_eq!((q.limit, q.in_use, q.requested), (10, 6, 5));
        }
        other => return Err(format!("expected OverQuota, got {other:?}").into()),
    }
    // The volumes reservation taken before gigabytes failed is not left behind.
    assert_eq!(h.usage(PROJECT_A)?, [(1, 0), (6, 0)]);
    assert_eq!(h.reservation_count()?, 0);
    assert_eq!(h.volume_count()?, 1);
    Ok(())
}

#[actix::test]
async fn unknown_zone_is_invalid_and_unknown_type_not_found() -> TestResult {
    let h = harness(quota_defaults(10, 1000), None)?;
    let bad_zone = VolumeCreateRequest {
        availability_zone: Some("nowhere".into()),
        ..request(1)
    };
    match h.create(member(PROJECT_A), bad_zone).await? {
        Err(ServiceError::Invalid(m)) => assert!(m.contains("nowhere"), "{m}"),
        other => return Err(format!("expected Invalid, got {other:?}").into()),
    }
    h.assert_nothing_left(PROJECT_A).await?;

    let bad_type = VolumeCreateRequest {
        volume_type: Some("no-such-type".into()),
        ..request(1)
    };
    match h.create(member(PROJECT_A), bad_type).await? {
        Err(ServiceError::NotFound { id, .. }) => assert_eq!(id, "no-such-type"),
        other => return Err(format!("expected NotFound, got {other:?}").into()),
    }
    h.assert_nothing_left(PROJECT_A).await?;

    // The seeded type is found by id as well as by name.
    let by_id = VolumeCreateRequest {
        volume_type: Some("a3b2c7e4-5f1d-4e8a-9c60-2d7f0e1b9a11".into()),
        ..request(1)
    };
    let v = h.create(member(PROJECT_A), by_id).await??;
    assert_eq!(v.type_name, "__DEFAULT__");
    Ok(())
}

#[actix::test]
async fn deleting_a_never_scheduled_volume_removes_it_at_once() -> TestResult {
    let h = harness(quota_defaults(10, 1000), None)?;
    let v = h.create(member(PROJECT_A), request(4)).await??;
    // The scheduler failed it: error, no host.
    h.place(&v.row.id, None, VolumeStatus::Error)?;
    let id: VolumeId = v.row.id.parse()?;
    h.api
        .send(DeleteVolume {
            ctx: member(PROJECT_A),
            id,
            force: false,
            cascade: false,
        })
        .await??;
    assert!(h.row(&v.row.id)?.is_none(), "the row should be gone");
    assert_eq!(h.usage(PROJECT_A)?, [(0, 0), (0, 0)]);
    h.settle().await?;
    assert!(h.node_got.borrow().is_empty(), "no node holds it");
    Ok(())
}

#[actix::test]
async fn deleting_a_placed_available_volume_hands_it_to_its_node() -> TestResult {
    let h = harness(quota_defaults(10, 1000), None)?;
    let v = h.create(member(PROJECT_A), request(4)).await??;
    h.place(&v.row.id, Some(NODE_HOST), VolumeStatus::Available)?;
    let ctx = member(PROJECT_A);
    let id: VolumeId = v.row.id.parse()?;
    h.api
        .send(DeleteVolume {
            ctx: ctx.clone(),
            id,
            force: false,
            cascade: false,
        })
        .await??;
    let row = h
        .row(&v.row.id)?
        .ok_or("the row must stay until the node is done")?;
    assert_eq!(row.row.status, "deleting");
    // The quota is the node's to give back, once the volume is really gone.
    assert_eq!(h.usage(PROJECT_A)?, [(1, 0), (4, 0)]);
    h.settle().await?;
    let got = h.node_got.borrow();
    assert_eq!(got.iter().map(NodeMsg::volume_id).collect::<Vec<_>>(), [id]);
    match &got[0] {
        NodeMsg::Delete(m) => {
            assert_eq!(m.volume_id, id);
            assert_eq!(m.project_id, PROJECT_A);
            assert_eq!(m.request_id, ctx.request_id);
        }
        other => return Err(format!("expected a delete, got {other:?}").into()),
    }
    Ok(())
}

#[actix::test]
async fn deleting_a_volume_still_being_created_is_refused() -> TestResult {
    let h = harness(quota_defaults(10, 1000), None)?;
    let v = h.create(member(PROJECT_A), request(4)).await??;
    h.place(&v.row.id, Some(NODE_HOST), VolumeStatus::Creating)?;
    let before = h.row(&v.row.id)?.ok_or("no row")?;
    let id: VolumeId = v.row.id.parse()?;
    match h
        .api
        .send(DeleteVolume {
            ctx: member(PROJECT_A),
            id,
            force: false,
            cascade: false,
        })
        .await?
    {
        Err(ServiceError::InvalidState(_)) => {}
        other => return Err(format!("expected InvalidState, got {other:?}").into()),
    }
    assert_eq!(h.row(&v.row.id)?.ok_or("row vanished")?, before);
    assert_eq!(h.usage(PROJECT_A)?, [(1, 0), (4, 0)]);
    h.settle().await?;
    assert!(h.node_got.borrow().is_empty());
    Ok(())
}

#[actix::test]
async fn deleting_an_attached_volume_is_refused() -> TestResult {
    let h = harness(quota_defaults(10, 1000), None)?;
    let v = h.create(member(PROJECT_A), request(1)).await??;
    h.place(&v.row.id, Some(NODE_HOST), VolumeStatus::Available)?;
    let key = v.row.id.clone();
    h.db.run_blocking(move |c| {
        diesel::update(volumes::table.filter(volumes::id.eq(&key)))
            .set(volumes::attach_status.eq("attached"))
            .execute(c)?;
        Ok(())
    })?;
    let id: VolumeId = v.row.id.parse()?;
    let r = h
        .api
        .send(DeleteVolume {
            ctx: member(PROJECT_A),
            id,
            force: false,
            cascade: false,
        })
        .await?;
    assert!(matches!(r, Err(ServiceError::InvalidState(_))), "{r:?}");
    assert_eq!(
        h.row(&v.row.id)?.ok_or("row vanished")?.row.status,
        "available"
    );
    Ok(())
}

#[actix::test]
async fn another_projects_volume_is_not_found_unless_admin() -> TestResult {
    let h = harness(quota_defaults(10, 1000), None)?;
    let v = h.create(member(PROJECT_A), request(2)).await??;
    h.place(&v.row.id, Some(NODE_HOST), VolumeStatus::Available)?;
    let id: VolumeId = v.row.id.parse()?;
    let not_found = |r: &Result<_, ServiceError>| matches!(r, Err(ServiceError::NotFound { kind: crate::db::Resource::Volume, id: i }) if *i == v.row.id);

    let r = h
        .api
        .send(GetVolume {
            ctx: member(PROJECT_B),
            id,
        })
        .await?;
    assert!(not_found(&r.map(drop)), "get by another project");
    let r = h
        .api
        .send(UpdateVolume {
            ctx: member(PROJECT_B),
            id,
            name: Some(Some("stolen".into())),
            description: None,
            metadata: None,
        })
        .await?;
    assert!(not_found(&r.map(drop)), "update by another project");
    let r = h
        .api
        .send(DeleteVolume {
            ctx: member(PROJECT_B),
            id,
            force: false,
            cascade: false,
        })
        .await?;
    assert!(not_found(&r), "delete by another project");
    let r = h
        .api
        .send(GetTimeline {
            ctx: member(PROJECT_B),
            id,
        })
        .await?;
    assert!(not_found(&r.map(drop)), "timeline of another project");
    let (listed, count) = h
        .api
        .send(ListVolumes {
            ctx: member(PROJECT_B),
            query: ListQuery {
                limit: 100,
                ..ListQuery::default()
            },
            with_count: true,
        })
        .await??;
    assert!(listed.is_empty());
    assert_eq!(count, Some(0));

    let row = h.row(&v.row.id)?.ok_or("row vanished")?;
    assert_eq!(row.row.status, "available");
    assert_eq!(row.row.display_name.as_deref(), Some("vol"));
    h.settle().await?;
    assert!(h.node_got.borrow().is_empty());

    // The owner and an admin see it.
    let mine = h
        .api
        .send(GetVolume {
            ctx: member(PROJECT_A),
            id,
        })
        .await??;
    assert_eq!(mine.row.id, v.row.id);
    let seen = h.api.send(GetVolume { ctx: admin(), id }).await??;
    assert_eq!(seen.row.project_id, PROJECT_A);
    let renamed = h
        .api
        .send(UpdateVolume {
            ctx: admin(),
            id,
            name: Some(Some("by-admin".into())),
            description: None,
            metadata: None,
        })
        .await??;
    assert_eq!(renamed.row.display_name.as_deref(), Some("by-admin"));
    wait_runs(&h, 1).await?;
    let timeline = h.api.send(GetTimeline { ctx: admin(), id }).await??;
    assert_eq!(timeline.runs.len(), 1);
    Ok(())
}

/// A timeline read right after a create must include the create's run, whenever the
/// journal's periodic write happens to run. Timing-dependent: it fails most runs while
/// `Flush` does not wait for a write already in flight.
#[actix::test]
async fn a_timeline_read_after_a_create_always_shows_its_run() -> TestResult {
    let h = harness(quota_defaults(-1, -1), None)?;
    for i in 0..200u64 {
        let v = h.create(member(PROJECT_A), request(1)).await??;
        // Land the read at every phase of the journal's 20 ms write interval.
        actix_rt::time::sleep(std::time::Duration::from_micros((i * 137) % 20_000)).await;
        let id: VolumeId = v.row.id.parse()?;
        match h.api.send(GetTimeline { ctx: admin(), id }).await? {
            Ok(t) => assert_eq!(t.runs.len(), 1, "iteration {i}"),
            Err(e) => return Err(format!("iteration {i}: {e:?}").into()),
        }
    }
    Ok(())
}

use std::cell::RefCell;
use std::rc::Rc;

use super::*;

/// A task that logs its calls into the store and fails when told to.
struct Step {
    name: &'static str,
    fail: bool,
}

#[derive(Default)]
struct Store {
    log: Vec<String>,
}

impl Task<Store> for Step {
    fn name(&self) -> &'static str {
        self.name
    }
    fn execute<'a>(&'a self, store: &'a mut Store) -> TaskFuture<'a> {
        Box::pin(async move {
            store.log.push(format!("execute {}", self.name));
            if self.fail {
                Err(ServiceError::Invalid(format!("{} failed", self.name)))
            } else {
                Ok(None)
            }
        })
    }
    fn revert<'a>(&'a self, store: &'a mut Store) -> RevertFuture<'a> {
        Box::pin(async move { store.log.push(format!("revert {}", self.name)) })
    }
}

#[derive(Default, Clone)]
struct Keep(Rc<RefCell<Vec<FlowRun>>>);

impl Journal for Keep {
    fn record(&self, run: FlowRun) {
        self.0.borrow_mut().push(run);
    }
}

fn scope() -> FlowScope {
    FlowScope {
        resource_id: "vol".into(),
        project_id: "p".into(),
        request_id: RequestId::new(),
    }
}

fn flow(fail_at: Option<usize>) -> Flow<Store> {
    let names = ["A", "B", "C"];
    names
        .iter()
        .enumerate()
        .fold(Flow::new("test_flow"), |f, (i, n)| {
            f.with(Step {
                name: n,
                fail: fail_at == Some(i),
            })
        })
}

#[actix_rt::test]
async fn success_runs_every_task_in_order_and_records_states() {
    let journal = Keep::default();
    let mut store = Store::default();
    let result = flow(None).run(&mut store, scope(), &journal).await;
    assert!(result.is_ok());
    assert_eq!(store.log, ["execute A", "execute B", "execute C"]);
    let runs = journal.0.borrow();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].state, FlowState::Success);
    let states: Vec<(Option<&str>, FlowState)> = runs[0]
        .transitions
        .iter()
        .map(|t| (t.task, t.state))
        .collect();
    assert_eq!(
        states,
        [
            (None, FlowState::Pending),
            (None, FlowState::Running),
            (Some("A"), FlowState::Running),
            (Some("A"), FlowState::Success),
            (Some("B"), FlowState::Running),
            (Some("B"), FlowState::Success),
            (Some("C"), FlowState::Running),
            (Some("C"), FlowState::Success),
            (None, FlowState::Success),
        ]
    );
}

#[actix_rt::test]
async fn a_failure_reverts_that_task_and_every_earlier_one_newest_first() {
    for fail_at in 0..3 {
        let journal = Keep::default();
        let mut store = Store::default();
        let result = flow(Some(fail_at)).run(&mut store, scope(), &journal).await;
        assert!(result.is_err());
        let names = ["A", "B", "C"];
        let mut expected: Vec<String> = names[..=fail_at]
            .iter()
            .map(|n| format!("execute {n}"))
            .collect();
        expected.extend(
            names[..=fail_at]
                .iter()
                .rev()
                .map(|n| format!("revert {n}")),
        );
        assert_eq!(store.log, expected, "failing at {fail_at}");
        let runs = journal.0.borrow();
        assert_eq!(runs[0].state, FlowState::Reverted);
        let failed = runs[0]
            .transitions
            .iter()
            .find(|t| t.state == FlowState::Failure);
        assert_eq!(failed.and_then(|t| t.task), Some(names[fail_at]));
        assert!(failed.and_then(|t| t.error.clone()).is_some());
    }
}

#[test]
fn seq_grows_strictly() {
    let a = next_seq();
    let b = next_seq();
    assert!(b > a);
}

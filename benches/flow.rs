//! The flow engine's own cost: a flow of 5 tasks that do nothing, run through
//! `clinker::flow::Flow::run` (transitions, timestamps, tracing calls, metrics calls with
//! no recorder installed, the run record handed to a journal that drops it).

use std::hint::black_box;

use clinker::flow::{Flow, FlowScope, NoJournal, Task, TaskFuture};
use clinker::model::RequestId;
use criterion::{Criterion, criterion_group, criterion_main};

struct Noop(&'static str);

impl Task<u64> for Noop {
    fn name(&self) -> &'static str {
        self.0
    }

    fn execute<'a>(&'a self, store: &'a mut u64) -> TaskFuture<'a> {
        Box::pin(async move {
            *store += 1;
            Ok(None)
        })
    }
}

fn bench_flow(c: &mut Criterion) {
    let rt = match actix_rt::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => panic!("no runtime: {e}"),
    };
    let flow = Flow::new("bench_noop")
        .with(Noop("FirstTask"))
        .with(Noop("SecondTask"))
        .with(Noop("ThirdTask"))
        .with(Noop("FourthTask"))
        .with(Noop("FifthTask"));
    let scope = FlowScope {
        resource_id: "7a3e9c1e-3f0b-4d8a-9a51-2a0d3c1b5e77".into(),
        project_id: "5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c".into(),
        request_id: RequestId("req-bench".into()),
    };
    c.bench_function("flow/5_noop_tasks", |b| {
        let mut store = 0u64;
        b.iter(|| {
            let done = rt.block_on(flow.run(&mut store, scope.clone(), &NoJournal));
            black_box(done.is_ok())
        })
    });
}

criterion_group!(benches, bench_flow);
criterion_main!(benches);

//! The cluster's fault rounds (`clinker-crashtest cluster`) in their bounded CI form: three
//! controllers and two storage agents, each agent in a network namespace of its own, on a
//! fresh PostgreSQL database; one round of each fault (kill -9 a controller, kill -9 an
//! agent, SIGSTOP an agent past its lease while a standby takes its node over, cut an
//! agent's link past its lease likewise) under a mixed load, every invariant checked
//! after each. Namespaces need root: without it the test fails, saying so, rather than
//! passing having proved nothing.
//! The long form: `clinker-crashtest cluster --rounds 40 --database-url …` (README,
//! "Running on several hosts").

#[path = "../../test_support.rs"]
mod support;

use clinker_crashtest::cluster::{ClusterOptions, run};
use support::{PgDatabase, TestResult};

#[test]
#[ignore = "its first run found two faults not fixed yet (README, Running on several hosts): \
            a stopped agent's open transaction blocks the take-over of its node, and pools \
            went over capacity around that take-over; run with --ignored as root"]
fn one_round_of_each_fault_postgres() -> TestResult {
    let db = PgDatabase::create()?;
    let summary = run(&ClusterOptions {
        database_url: db.url(),
        rounds: 4,
        controllers: 3,
        agents: 2,
        clients: 4,
        max_load_ms: 1200,
        lease_seconds: 3,
        pool_gb: 2,
        settle_seconds: 30,
        seed: None,
        work_dir: None,
        binary: Some(support::controller()?),
    })?;
    println!("cluster: {summary}");
    for e in &summary.examples {
        println!("  {e}");
    }
    assert_eq!(summary.rounds, 4);
    for fault in ["kill-controller", "kill-agent", "stop-agent", "partition"] {
        assert_eq!(summary.faults.get(fault), Some(&1), "{summary}");
    }
    // A run that did nothing proves nothing.
    assert!(summary.calls_ok > 0 && summary.accepted > 0, "{summary}");
    assert!(
        summary.clean(),
        "{summary}\n{}",
        summary.examples.join("\n")
    );
    Ok(())
}

//! The fault-injection harness (`clinker-crashtest`) in its bounded CI
//! form: the real binary on a file node, SIGKILLed under a mixed load at random moments
//! and restarted, 20 rounds on SQLite and 20 on PostgreSQL; then a fake node failing at
//! each driver step in turn. Each run prints its summary line and fails on any finding.
//! The long form: `clinker-crashtest --rounds 500`.

#[path = "../../test_support.rs"]
mod support;

use clinker_crashtest::{CrashOptions, Summary, run};
use support::{PgDatabase, TestResult};

fn bounded() -> TestResult<CrashOptions> {
    Ok(CrashOptions {
        rounds: 20,
        clients: 4,
        max_load_ms: 500,
        binary: Some(support::controller()?),
        ..CrashOptions::default()
    })
}

fn judge(what: &str, summary: &Summary) -> TestResult {
    println!("{what}: {summary}");
    for e in &summary.examples {
        println!("  {e}");
    }
    // A run that did nothing proves nothing.
    assert!(summary.calls_ok > 0, "{what}: no call succeeded");
    if !summary.clean() {
        return Err(format!("{what}: {summary}\n{}", summary.examples.join("\n")).into());
    }
    Ok(())
}

#[test]
fn kill_nine_under_load_on_sqlite() -> TestResult {
    let summary = run(&bounded()?)?;
    assert_eq!(summary.rounds, 20);
    judge("sqlite", &summary)
}

#[test]
fn kill_nine_under_load_on_postgres() -> TestResult {
    let db = PgDatabase::create()?;
    let summary = run(&CrashOptions {
        database_url: Some(db.url()),
        ..bounded()?
    })?;
    assert_eq!(summary.rounds, 20);
    judge("postgres", &summary)
}

#[test]
fn driver_failures_at_each_step() -> TestResult {
    // Verbs whose failure leaves a volume or snapshot in an error state with a user
    // message (messages outlive the volumes the load deletes), and the connection
    // verbs, whose failure is the caller's 500 (as in Cinder).
    let leaves_error = [
        "create_volume",
        "delete_volume",
        "extend_volume",
        "create_snapshot",
        "delete_snapshot",
        "create_volume_from_snapshot",
        "revert_to_snapshot",
    ];
    let answers_500 = ["initialize_connection", "terminate_connection"];
    for verb in leaves_error.iter().chain(&answers_500) {
        // A short random load may happen not to call a rare verb (revert) at all: run
        // again, up to three times, until an injected failure has taken effect; each run
        // must leave everything consistent.
        let mut took_effect = false;
        let mut last = String::new();
        for _ in 0..3 {
            let summary = run(&CrashOptions {
                rounds: 2,
                max_load_ms: 1000,
                fail: Some(verb.to_string()),
                ..bounded()?
            })?;
            judge(verb, &summary)?;
            took_effect = if leaves_error.contains(verb) {
                summary.messages > 0
            } else {
                summary.server_errors > 0
            };
            last = summary.to_string();
            if took_effect {
                break;
            }
        }
        // The injected failures took effect (else this proves nothing).
        assert!(took_effect, "{verb}: no failure reported or seen: {last}");
    }
    Ok(())
}

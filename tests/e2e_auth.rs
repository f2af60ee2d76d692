//! The real binary's start-up with each `auth_strategy`: noauth refuses a public address
//! (that it is allowed when told is the config check's test, in
//! `src/config/tests.rs`), and says in one log line that it trusts every caller.

mod common_e2e;

use std::time::Duration;

use common_e2e::{Server, TestResult};

#[test]
fn noauth_refuses_a_public_address_unless_told() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (code, log) = Server::builder(dir.path())
        .env("CLINKER_LISTEN", "0.0.0.0:0")
        .run_to_exit(Duration::from_secs(60))?;
    assert_ne!(code, Some(0), "{log}");
    assert!(log.contains("noauth_allow_remote"), "{log}");
    // Nothing was served: the refusal comes before the database is opened.
    assert!(!dir.path().join("clinker.db").exists());
    Ok(())
}

#[test]
fn noauth_says_in_one_line_that_every_caller_is_trusted() -> TestResult {
    let dir = tempfile::tempdir()?;
    let server = Server::builder(dir.path()).rust_log("info").start()?;
    let log = server.log_text();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("every caller is trusted"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("noauth"), "{}", lines[0]);

    Ok(())
}

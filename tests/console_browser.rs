//! The web console in a real browser: the real `clinker` binary (two fake nodes in two
//! zones and a file node) and `console/tests/run.mjs`, which drives Debian's headless
//! Chromium with playwright-core. `scripts/test` installs Chromium, Node.js and the npm
//! package; when one is missing this test fails and says which, it never passes silently.
//! Screenshots land in `test-artifacts/screenshots/`. The Keystone sign-in runs against a
//! real Keystone (`common_keystone`).

mod common_e2e;
mod common_keystone;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common_e2e::{Server, TestResult};
use common_keystone::{keystone, service_user, user_in_new_project};

const CONFIG: &str = r#"
default_availability_zone = "az1"

[[nodes]]
name = "alpha"
availability_zone = "az1"
driver = "fake"
[nodes.driver_options]
total_capacity_gb = 500

[[nodes]]
name = "beta"
availability_zone = "az2"
driver = "fake"
provisioning = "thick"
[nodes.driver_options]
total_capacity_gb = 50

[[nodes]]
name = "local"
availability_zone = "az1"
driver = "file"
[nodes.driver_options]
path = "volumes"
"#;

/// What the browser test needs, each with the way to get it.
fn prerequisites(repo: &Path) -> Result<PathBuf, String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("`node` (Node.js) is not installed: scripts/test installs it (apt-get install nodejs npm)".into());
    }
    let chromium =
        PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    if !chromium.exists() {
        return Err(format!(
            "{} is missing: scripts/test installs Debian's chromium (apt-get install chromium)",
            chromium.display()
        ));
    }
    if !repo
        .join("console/tests/node_modules/playwright-core")
        .is_dir()
    {
        return Err(
            "playwright-core is not installed: run `npm ci` in console/tests (scripts/test does)"
                .into(),
        );
    }
    Ok(chromium)
}

/// Runs a node script from the repository top with the screenshot folder and Chromium
/// set, for at most five minutes; its output on failure, its notes always.
fn run_node(repo: &Path, chromium: &Path, script: &str, args: &[String]) -> Result<(), String> {
    let shots = repo.join("test-artifacts/screenshots");
    std::fs::create_dir_all(&shots).map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out_path = dir.path().join("browser.log");
    let out = std::fs::File::create(&out_path).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new("node")
        .arg(repo.join(script))
        .args(args)
        .current_dir(repo)
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", chromium)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot run node: {e}"))?;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    // Skips and the summary reach the terminal even when the test passes (libtest only
    // captures the print macros).
    let notes: String = output
        .lines()
        .filter(|l| {
            l.starts_with("SKIP")
                || l.starts_with("skipped:")
                || l.starts_with("console:")
                || l.starts_with("shapes:")
        })
        .map(|l| format!("{script}: {l}\n"))
        .collect();
    let _ = std::io::stderr().write_all(notes.as_bytes());
    match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(format!("{script} failed ({s}):\n{output}")),
        None => Err(format!("{script} took over 5 minutes:\n{output}")),
    }
}

#[test]
fn console_in_headless_chromium() -> TestResult {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = prerequisites(repo)?;
    let dir = tempfile::tempdir()?;
    let server = Server::start_with(dir.path(), None, Some(CONFIG))?;
    let url = server.base_url();
    run_node(repo, &chromium, "console/tests/run.mjs", &[url])
        .map_err(|e| format!("{e}\n--- server log ---\n{}", server.log_text()).into())
}

/// The pages for the APIs Clinker does not have yet, against Cinder's documented shapes
/// from a stand-in server (`console/tests/shapes.mjs`).
#[test]
fn console_against_cinder_shapes() -> TestResult {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = prerequisites(repo)?;
    Ok(run_node(repo, &chromium, "console/tests/shapes.mjs", &[])?)
}

/// The console with `auth_strategy = "keystone"`: a user made in a real Keystone signs in
/// through Clinker's relay, works, and signs out (`console/tests/keystone.mjs`).
#[test]
fn console_signs_in_through_a_real_keystone() -> TestResult {
    const SERVICE_PASSWORD: &str = "cinder-console-test-pw";
    const CAROL_PASSWORD: &str = "carol-console-pw-9f1c";
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = prerequisites(repo)?;
    let dir = tempfile::tempdir()?;
    let ks = keystone(dir.path())?;
    let url = ks.url.clone();
    service_user(&url, SERVICE_PASSWORD)?;
    user_in_new_project(&url, "carol", CAROL_PASSWORD, "web-team", "member")?;
    let config = format!(
        "auth_strategy = \"keystone\"\n{CONFIG}\n[keystone_authtoken]\nauth_url = \"{url}\"\n\
         username = \"cinder\"\n"
    );
    let server = Server::builder(&dir.path().join("clinker"))
        .config(&config)
        .env("CLINKER_KEYSTONE_PASSWORD", SERVICE_PASSWORD)
        .rust_log("info")
        .start()?;
    let args = [
        server.base_url(),
        "carol".into(),
        CAROL_PASSWORD.into(),
        "web-team".into(),
    ];
    let outcome = run_node(repo, &chromium, "console/tests/keystone.mjs", &args);
    let log = server.log_text();
    outcome.map_err(|e| format!("{e}\n--- server log ---\n{log}"))?;
    assert!(
        log.contains("console sign-in through Keystone"),
        "the sign-in is logged: {log}"
    );
    for secret in [CAROL_PASSWORD, SERVICE_PASSWORD] {
        assert!(!log.contains(secret), "a password reached the log");
    }
    Ok(())
}

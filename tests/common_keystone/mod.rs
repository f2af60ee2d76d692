//! A real Keystone 30.0.0 for the tests (`.venv-keystone`, which `scripts/test` installs
//! from `tests/tempest/keystone-requirements.txt`): SQLite, fernet tokens, bootstrapped,
//! served by uwsgi on a free loopback port; users, projects and roles made with the
//! OpenStack client (`.venv`).

#![allow(
    dead_code,
    reason = "each test file uses a different part of the harness"
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common_e2e::http_request;

/// The bootstrap admin's password.
pub const ADMIN_PASSWORD: &str = "keystone-admin-test-pw";

/// The repository's root (the tests run from the package's directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// uwsgi serving Keystone; killed when dropped.
pub struct Keystone {
    child: Child,
    /// Its root, `http://127.0.0.1:PORT` (`/v3` is below).
    pub url: String,
}

impl Drop for Keystone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run(cmd: &mut Command) -> Result<String, Box<dyn std::error::Error>> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Bootstraps a Keystone in `dir` and serves it.
pub fn keystone(dir: &Path) -> Result<Keystone, Box<dyn std::error::Error>> {
    let bin = root().join(".venv-keystone/bin");
    if !bin.join("keystone-manage").is_file() {
        return Err("no .venv-keystone: run scripts/test, which installs Keystone".into());
    }
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let url = format!("http://127.0.0.1:{port}");
    let conf = dir.join("keystone.conf");
    let d = dir.display();
    std::fs::write(
        &conf,
        format!(
            "[DEFAULT]\nuse_stderr = true\n[database]\nconnection = sqlite:///{d}/keystone.db\n\
             [token]\nprovider = fernet\n[fernet_tokens]\nkey_repository = {d}/fernet\n\
             [fernet_receipts]\nkey_repository = {d}/fernet\n\
             [credential]\nkey_repository = {d}/credential\n"
        ),
    )?;
    let manage = |args: &[&str]| {
        run(Command::new(bin.join("keystone-manage"))
            .arg("--config-file")
            .arg(&conf)
            .args(args))
    };
    manage(&["db_sync"])?;
    manage(&[
        "fernet_setup",
        "--keystone-user",
        "root",
        "--keystone-group",
        "root",
    ])?;
    manage(&[
        "credential_setup",
        "--keystone-user",
        "root",
        "--keystone-group",
        "root",
    ])?;
    let v3 = format!("{url}/v3");
    manage(&[
        "bootstrap",
        "--bootstrap-password",
        ADMIN_PASSWORD,
        "--bootstrap-region-id",
        "RegionOne",
        "--bootstrap-public-url",
        &v3,
    ])?;
    let child = Command::new(bin.join("uwsgi"))
        .args(["--http-socket", &format!("127.0.0.1:{port}")])
        .args(["--module", "keystone.wsgi.api:application"])
        .args(["--master", "--processes", "1", "--threads", "1"])
        .args([
            "--die-on-term",
            "--need-app",
            "--lazy-apps",
            "--buffer-size",
            "65535",
        ])
        // uwsgi's plain --http-socket does not keep connections alive; without this the
        // clients reuse a closed one and see a reset.
        .args(["--add-header", "Connection: close"])
        .env("OS_KEYSTONE_CONFIG_FILES", &conf)
        .stdout(std::fs::File::create(dir.join("uwsgi.out"))?)
        .stderr(std::fs::File::create(dir.join("uwsgi.log"))?)
        .spawn()?;
    let keystone = Keystone { child, url };
    let start = Instant::now();
    while http_request(port, "GET", "/v3", &[], None).map(|(s, _)| s) != Ok(200) {
        if start.elapsed() > Duration::from_secs(120) {
            let log = std::fs::read_to_string(dir.join("uwsgi.log")).unwrap_or_default();
            return Err(format!("Keystone did not answer: {log}").into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(keystone)
}

/// The OpenStack client as `user` of `project`, without whatever `OS_*` the test inherits.
pub fn os_client(url: &str, user: &str, password: &str, project: &str) -> Command {
    let mut cmd = Command::new(root().join(".venv/bin/openstack"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("OS_")) {
        cmd.env_remove(k);
    }
    cmd.env("OS_AUTH_URL", format!("{url}/v3"))
        .env("OS_IDENTITY_API_VERSION", "3")
        .env("OS_USERNAME", user)
        .env("OS_PASSWORD", password)
        .env("OS_PROJECT_NAME", project)
        .env("OS_USER_DOMAIN_NAME", "Default")
        .env("OS_PROJECT_DOMAIN_NAME", "Default");
    cmd
}

/// `openstack ...` as the bootstrap admin; answers its output.
pub fn openstack(url: &str, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    run(os_client(url, "admin", ADMIN_PASSWORD, "admin").args(args))
}

/// A token of `user` in `project`.
pub fn token(
    url: &str,
    user: &str,
    password: &str,
    project: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    run(os_client(url, user, password, project).args(["token", "issue", "-f", "value", "-c", "id"]))
}

/// Clinker's service user as the README registers it: `cinder`, with the `admin` and
/// `service` roles (Keystone's bootstrap makes `service`) in project `service`.
pub fn service_user(url: &str, password: &str) -> Result<(), Box<dyn std::error::Error>> {
    openstack(url, &["project", "create", "service"])?;
    openstack(url, &["user", "create", "--password", password, "cinder"])?;
    for role in ["admin", "service"] {
        openstack(
            url,
            &[
                "role",
                "add",
                "--user",
                "cinder",
                "--project",
                "service",
                role,
            ],
        )?;
    }
    Ok(())
}

/// A new project with a new user holding `role` in it; the project's id.
pub fn user_in_new_project(
    url: &str,
    user: &str,
    password: &str,
    project: &str,
    role: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let id = openstack(
        url,
        &["project", "create", "-f", "value", "-c", "id", project],
    )?;
    openstack(url, &["user", "create", "--password", password, user])?;
    openstack(
        url,
        &["role", "add", "--user", user, "--project", project, role],
    )?;
    Ok(id)
}

//! The real binary with `auth_strategy = "keystone"` against a real Keystone 30.0.0
//! (`.venv-keystone`, which `scripts/test` installs from
//! `tests/tempest/keystone-requirements.txt`): SQLite, fernet tokens, bootstrapped, served
//! by uwsgi on a free loopback port; users, projects and roles made with the OpenStack
//! client (`.venv`). Clinker signs in as its service user and validates the users' tokens.

mod common_e2e;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common_e2e::{Server, TestResult, http_request};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "keystone-admin-test-pw";
const CINDER_PASSWORD: &str = "cinder-service-test-pw";
const ALICE_PASSWORD: &str = "alice-test-pw";

/// The repository's root (the tests run from the package's directory).
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// uwsgi serving Keystone; killed when dropped.
struct Keystone {
    child: Child,
    url: String,
}

impl Drop for Keystone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(cmd: &mut Command) -> Result<String, Box<dyn std::error::Error>> {
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
fn keystone(dir: &Path) -> Result<Keystone, Box<dyn std::error::Error>> {
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
fn os_client(url: &str, user: &str, password: &str, project: &str) -> Command {
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
fn openstack(url: &str, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    run(os_client(url, "admin", ADMIN_PASSWORD, "admin").args(args))
}

/// A token of `user` in `project`.
fn token(
    url: &str,
    user: &str,
    password: &str,
    project: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    run(os_client(url, user, password, project).args(["token", "issue", "-f", "value", "-c", "id"]))
}

fn call(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let headers = [
        ("X-Auth-Token", token),
        ("Content-Type", "application/json"),
    ];
    let body = body.map(Value::to_string);
    let (status, text) = http_request(port, method, path, &headers, body.as_deref())?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

#[test]
fn a_real_keystones_tokens_are_validated_and_scoped() -> TestResult {
    let dir = tempfile::tempdir()?;
    let ks = keystone(dir.path())?;
    let url = ks.url.clone();
    // The service user, as the README registers it, and a member of a project.
    openstack(&url, &["project", "create", "service"])?;
    // Keystone's bootstrap makes the `service` role (with admin, manager, member, reader).
    openstack(
        &url,
        &["user", "create", "--password", CINDER_PASSWORD, "cinder"],
    )?;
    for role in ["admin", "service"] {
        openstack(
            &url,
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
    let demo = openstack(
        &url,
        &["project", "create", "-f", "value", "-c", "id", "demo"],
    )?;
    openstack(
        &url,
        &["user", "create", "--password", ALICE_PASSWORD, "alice"],
    )?;
    openstack(
        &url,
        &[
            "role",
            "add",
            "--user",
            "alice",
            "--project",
            "demo",
            "member",
        ],
    )?;
    let alice = token(&url, "alice", ALICE_PASSWORD, "demo")?;

    let config = format!(
        "auth_strategy = \"keystone\"\n[keystone_authtoken]\nauth_url = \"{url}\"\n\
         www_authenticate_uri = \"{url}/v3\"\nusername = \"cinder\"\n"
    );
    let clinker_dir = dir.path().join("clinker");
    let server = Server::builder(&clinker_dir)
        .config(&config)
        .env("CLINKER_KEYSTONE_PASSWORD", CINDER_PASSWORD)
        .rust_log("info")
        .start()?;
    let port = server.port;

    // Keystone's `member` implies `reader`: alice reads and creates in her project.
    let (status, body) = call(port, "GET", "/clinker/v1/whoami", &alice, None)?;
    assert_eq!(status, 200, "{body} {}", server.log_text());
    assert_eq!(body["project"], json!(demo));
    assert_eq!(body["is_admin"], json!(false));
    let create = json!({"volume": {"size": 1, "name": "through-keystone"}});
    let (status, body) = call(
        port,
        "POST",
        &format!("/v3/{demo}/volumes"),
        &alice,
        Some(&create),
    )?;
    assert_eq!(status, 202, "{body}");
    let (status, _) = call(port, "GET", &format!("/v3/{demo}/volumes"), &alice, None)?;
    assert_eq!(status, 200);
    // Not an admin: the admin API refuses her.
    let (status, _) = call(
        port,
        "GET",
        &format!("/v3/{demo}/os-services"),
        &alice,
        None,
    )?;
    assert_eq!(status, 403);

    // A token Keystone does not know, and one it revoked before Clinker saw it.
    let (status, body) = call(
        port,
        "GET",
        &format!("/v3/{demo}/volumes"),
        "gAAAAABnot-a-token",
        None,
    )?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!(401)),
        "{body}"
    );
    let revoked = token(&url, "alice", ALICE_PASSWORD, "demo")?;
    openstack(&url, &["token", "revoke", &revoked])?;
    let (status, _) = call(port, "GET", &format!("/v3/{demo}/volumes"), &revoked, None)?;
    assert_eq!(status, 401);

    // The cloud admin of the bootstrap is an admin here.
    let admin = token(&url, "admin", ADMIN_PASSWORD, "admin")?;
    let (status, body) = call(port, "GET", "/clinker/v1/whoami", &admin, None)?;
    assert_eq!(
        (status, body["is_admin"].clone()),
        (200, json!(true)),
        "{body}"
    );

    // The service password never reaches the log.
    assert!(!server.log_text().contains(CINDER_PASSWORD));
    Ok(())
}

//! The iSCSI walk-through through the HTTP API alone, against the real `clinker` binary
//! run with an `examples/iscsi.toml`-like config (a file node exporting through tgtd),
//! the real tgtd and the libiscsi tools (`iscsi-ls`, `iscsi-readcapacity16`) and qemu's
//! iSCSI client (`qemu-io` on `iscsi://` URLs) for data.
//!
//! Create a volume, `os-initialize_connection` → Cinder's iscsi connection_info with
//! CHAP; log in with it and see the size; wrong credentials are refused; write data;
//! extend and see the new size; terminate → the target is gone; snapshot; a volume from
//! the snapshot attached through the attachments API (3.27) reads the same data; the
//! attachment's delete removes its target. Credentials appear neither in attachment
//! lists nor anywhere in the server's log (run at debug level).
//!
//! tgtd is started if it is not running; the test skips, saying why, only when it
//! cannot be started.

mod common_e2e;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use clinker::drivers::targets::tgt::tgtd_ready;
use common_e2e::{Server, tgtadm_show};
use serde_json::{Value, json};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

const GIB: u64 = 1 << 30;
const TOKEN: &str = "alice:0a0a";

/// One file node exporting through tgtd, as `examples/iscsi.toml` has it.
const CONFIG: &str = r#"
[[nodes]]
name = "iscsi"
availability_zone = "nova"
driver = "file"
[nodes.driver_options]
path = "iscsi-volumes"
target = "tgt"
target_ip_address = "127.0.0.1"
target_port = 3260
"#;

/// The server, run at debug level (killed when dropped), and the tgt targets of the
/// test's volumes (removed when dropped, so a failing test leaves nothing in tgtd).
struct Walk {
    server: Server,
    volumes: Vec<String>,
}

impl Drop for Walk {
    fn drop(&mut self) {
        self.server.stop();
        let Ok(shown) = tgtadm_show() else { return };
        for line in shown.lines().filter(|l| l.starts_with("Target ")) {
            let Some((tid, iqn)) = line["Target ".len()..].split_once(": ") else {
                continue;
            };
            if self.volumes.iter().any(|v| iqn.ends_with(v.as_str())) {
                let _ = Command::new("tgtadm")
                    .args(["--lld", "iscsi", "--mode", "target", "--op", "delete"])
                    .args(["--force", "--tid", tid])
                    .status();
            }
        }
    }
}

impl Walk {
    fn start(dir: &Path) -> TestResult<Walk> {
        let server = Server::builder(dir)
            .config(CONFIG)
            .rust_log("debug")
            .start()?;
        Ok(Walk {
            server,
            volumes: Vec::new(),
        })
    }

    fn log_text(&self) -> String {
        self.server.log_text()
    }

    /// One request; `version` is an `OpenStack-API-Version` microversion.
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        version: Option<&str>,
    ) -> TestResult<(u16, Value)> {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let method = awc::http::Method::from_bytes(method.as_bytes())?;
        let mut r = client
            .request(method, format!("{}{path}", self.server.base_url()))
            .insert_header(("X-Auth-Token", TOKEN));
        if let Some(v) = version {
            r = r.insert_header(("OpenStack-API-Version", format!("volume {v}")));
        }
        let mut res = match body {
            Some(b) => r.send_json(&b).await,
            None => r.send().await,
        }
        .map_err(|e| format!("{path}: {e}"))?;
        let bytes = res.body().limit(1 << 22).await?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((res.status().as_u16(), value))
    }

    async fn post(&self, path: &str, body: Value) -> TestResult<Value> {
        let (s, v) = self.call("POST", path, Some(body), None).await?;
        if !(200..300).contains(&s) {
            return Err(format!("POST {path} answered {s}: {v}").into());
        }
        Ok(v)
    }

    /// Waits until `/v3/0a0a/<kind>/<id>` has `status`.
    async fn wait(&self, kind: &str, id: &str, status: &str) -> TestResult {
        let one = kind.trim_end_matches('s');
        let start = Instant::now();
        loop {
            let (_, v) = self
                .call("GET", &format!("/v3/0a0a/{kind}/{id}"), None, None)
                .await?;
            if v[one]["status"] == status {
                return Ok(());
            }
            if v[one]["status"] == "error" || start.elapsed() > Duration::from_secs(60) {
                return Err(format!("{kind} {id} never {status}: {v}").into());
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn create_volume(&mut self, body: Value) -> TestResult<String> {
        let v = self
            .post("/v3/0a0a/volumes", json!({ "volume": body }))
            .await?;
        let id = v["volume"]["id"].as_str().ok_or("no id")?.to_string();
        self.volumes.push(id.clone());
        self.wait("volumes", &id, "available").await?;
        Ok(id)
    }
}

fn connector() -> Value {
    json!({"host": "walk-host", "initiator": "iqn.1993-08.org.debian:01:walk", "ip": "127.0.0.1"})
}

/// libiscsi's URL of LUN 1 of `iqn`, logging in with `user`/`password`.
fn url(user: &str, password: &str, iqn: &str) -> String {
    format!("iscsi://{user}%{password}@127.0.0.1:3260/{iqn}/1")
}

/// The CHAP user, secret and IQN of an iscsi connection_info: nested under `data` as
/// `os-initialize_connection` answers, or flat as the attachments API shows it (Cinder
/// merges `driver_volume_type` into the data there).
fn chap(info: &Value) -> TestResult<(String, String, String)> {
    assert_eq!(info["driver_volume_type"], "iscsi", "{info}");
    let d = info.get("data").unwrap_or(info);
    assert_eq!(d["auth_method"], "CHAP", "{info}");
    assert_eq!(d["target_portal"], "127.0.0.1:3260", "{info}");
    assert_eq!(d["target_lun"], 1, "{info}");
    let get = |k: &str| d[k].as_str().map(str::to_string).ok_or(format!("no {k}"));
    Ok((
        get("auth_username")?,
        get("auth_password")?,
        get("target_iqn")?,
    ))
}

/// The LUN's size after a CHAP login, or `None` when the login fails.
fn read_capacity(url: &str) -> TestResult<Option<u64>> {
    let out = Command::new("iscsi-readcapacity16")
        .arg(url)
        .output()
        .map_err(|e| format!("iscsi-readcapacity16 ({e}): install libiscsi-bin"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let size = text
        .lines()
        .find_map(|l| l.strip_prefix("Total size:"))
        .and_then(|s| s.trim().parse().ok());
    Ok(size.filter(|_| out.status.success()))
}

/// Runs one qemu-io command on `target` (an `iscsi://` URL or a file); `Ok(false)` when
/// qemu lacks its iSCSI block module, any other failure is an error.
fn qemu_io(target: &str, command: &str) -> TestResult<bool> {
    let out = Command::new("qemu-io")
        .args(["-f", "raw", "-c", command, target])
        .output()
        .map_err(|e| format!("qemu-io ({e}): install qemu-utils"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if text.contains("Unable to load module iscsi") {
        return Ok(false);
    }
    if !out.status.success() || text.contains("failed") || !text.contains("bytes at offset") {
        return Err(format!("qemu-io {command}: {text}").into());
    }
    Ok(true)
}

/// Runs `command` through the iSCSI export at `url`, or, where qemu has no iSCSI
/// module (Debian's qemu-block-extra must match qemu-utils' version), on the volume's
/// file on the node, saying so.
fn data_io(url: &str, file: &Path, command: &str) -> TestResult {
    if qemu_io(url, command)? {
        return Ok(());
    }
    eprintln!(
        "NOTE: qemu's iscsi block module is missing (install qemu-block-extra matching \
         qemu-utils); `{command}` runs on the volume's file instead of over iSCSI"
    );
    match qemu_io(&file.display().to_string(), command)? {
        true => Ok(()),
        false => Err("qemu-io cannot open a raw file".into()),
    }
}

#[actix_web::test]
async fn iscsi_walk_through_with_chap_over_the_http_api() -> TestResult {
    if !tgtd_ready("iscsi_walk_through_with_chap_over_the_http_api") {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let mut server = Walk::start(dir.path())?;
    let vol = server.create_volume(json!({"size": 1})).await?;
    let action = format!("/v3/0a0a/volumes/{vol}/action");

    let v = server
        .post(
            &action,
            json!({"os-initialize_connection": {"connector": connector()}}),
        )
        .await?;
    let info = &v["connection_info"];
    let (user, password, iqn) = chap(info)?;
    assert_eq!(iqn, format!("iqn.2010-10.org.openstack:volume-{vol}"));
    assert_eq!(info["data"]["volume_id"], vol.as_str(), "{info}");
    let mut secrets = vec![user.clone(), password.clone()];

    // Discovery with the credentials lists the target; a CHAP login sees 1 GiB.
    let out = Command::new("iscsi-ls")
        .arg(format!("iscsi://{user}%{password}@127.0.0.1:3260"))
        .output()
        .map_err(|e| format!("iscsi-ls ({e}): install libiscsi-bin"))?;
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains(&format!("Target:{iqn} ")), "{listing}");
    let good = url(&user, &password, &iqn);
    assert_eq!(read_capacity(&good)?, Some(GIB));
    assert_eq!(read_capacity(&url(&user, "WrongPassword234", &iqn))?, None);
    assert_eq!(read_capacity(&url("nobody", &password, &iqn))?, None);

    let files = dir.path().join("iscsi-volumes");
    let file = files.join(format!("volume-{vol}"));
    data_io(&good, &file, "write -P 0x5c 0 1M")?;
    data_io(&good, &file, "read -P 0x5c 0 1M")?;

    server
        .post(&action, json!({"os-extend": {"new_size": 2}}))
        .await?;
    server.wait("volumes", &vol, "available").await?;
    assert_eq!(read_capacity(&good)?, Some(2 * GIB));

    server
        .post(
            &action,
            json!({"os-terminate_connection": {"connector": connector()}}),
        )
        .await?;
    assert!(!tgtadm_show()?.contains(&iqn), "target outlived terminate");
    assert_eq!(read_capacity(&good)?, None);

    // Snapshot, a volume from it, attached through the attachments API.
    let v = server
        .post(
            "/v3/0a0a/snapshots",
            json!({"snapshot": {"volume_id": vol}}),
        )
        .await?;
    let snap = v["snapshot"]["id"].as_str().ok_or("no id")?.to_string();
    server.wait("snapshots", &snap, "available").await?;
    // Data written after the snapshot (here on the node, the volume being detached)
    // must not show in the copy.
    if !qemu_io(&file.display().to_string(), "write -P 0x77 0 1M")? {
        return Err("qemu-io cannot open a raw file".into());
    }
    let copy = server.create_volume(json!({"snapshot_id": snap})).await?;
    let body = json!({"attachment": {
        "volume_uuid": copy, "instance_uuid": uuid::Uuid::new_v4(), "connector": connector(),
    }});
    let (s, v) = server
        .call("POST", "/v3/0a0a/attachments", Some(body), Some("3.27"))
        .await?;
    assert_eq!(s, 200, "{v}");
    let attachment = v["attachment"]["id"].as_str().ok_or("no id")?.to_string();
    let (user2, password2, iqn2) = chap(&v["attachment"]["connection_info"])?;
    assert_eq!(iqn2, format!("iqn.2010-10.org.openstack:volume-{copy}"));
    assert_ne!(
        (&user2, &password2),
        (&user, &password),
        "one account per export"
    );
    secrets.extend([user2.clone(), password2.clone()]);
    let copy_url = url(&user2, &password2, &iqn2);
    assert_eq!(read_capacity(&copy_url)?, Some(2 * GIB));
    let copy_file = files.join(format!("volume-{copy}"));
    data_io(&copy_url, &copy_file, "read -P 0x5c 0 1M")?;
    // The first volume's credentials do not open the copy.
    assert_eq!(read_capacity(&url(&user, &password, &iqn2))?, None);

    let volume_paths = [
        format!("/v3/0a0a/volumes/{copy}"),
        "/v3/0a0a/volumes/detail".into(),
    ];
    let attachment_paths = ["/v3/0a0a/attachments", "/v3/0a0a/attachments/detail"];
    for path in attachment_paths
        .iter()
        .map(|p| p.to_string())
        .chain(volume_paths)
    {
        let (s, v) = server.call("GET", &path, None, Some("3.27")).await?;
        assert_eq!(s, 200, "{v}");
        let text = v.to_string();
        // (The volume lists its attachments once they complete; this one is reserved.)
        let listed = text.contains(&attachment) || !path.contains("attachments");
        assert!(listed && text.contains(&copy), "{path}: {text}");
        assert!(
            !text.contains(&password2) && !text.contains(&user2),
            "{path}: {text}"
        );
    }
    let (s, v) = server
        .call(
            "DELETE",
            &format!("/v3/0a0a/attachments/{attachment}"),
            None,
            Some("3.27"),
        )
        .await?;
    assert_eq!(s, 200, "{v}");
    assert!(
        !tgtadm_show()?.contains(&iqn2),
        "target outlived the attachment"
    );
    assert_eq!(read_capacity(&copy_url)?, None);

    let log = server.log_text();
    assert!(
        log.contains(&vol),
        "the log is written at debug level: {log}"
    );
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a credential reached the log"
        );
    }
    Ok(())
}

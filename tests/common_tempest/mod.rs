//! `Recorder`: calls routes on a `TestApp` the way Tempest's volume clients call them,
//! keeps every answer with the name of the Tempest schema that covers it, and hands them
//! all to `tests/tempest_schemas.py` (Tempest's own schema modules and
//! `validate_response`, `tempest==47.0.0` from `tests/requirements.txt`) at the end.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the helpers"
)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use actix_web::test::TestRequest;
use serde_json::{Map, Value, json};

use crate::common::{ADMIN, TestApp, TestResult, at, eventually, json_req, req};

/// How long a resource may take to reach a status.
pub const WAIT: Duration = Duration::from_secs(10);

/// A test's error.
pub type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The answers gathered so far, checked together at the end (one Python start).
pub struct Recorder {
    /// The app the calls go to.
    pub app: TestApp,
    /// The microversion of the next calls (`None`: no header, as Tempest's default).
    minor: Option<u16>,
    seen: Vec<Value>,
}

impl Recorder {
    /// A fresh app (one fake node `n1`).
    pub async fn new() -> BoxResult<Recorder> {
        Ok(Recorder {
            app: TestApp::new().await?,
            minor: None,
            seen: Vec::new(),
        })
    }

    /// Makes the next calls at `3.<minor>` (`None`: without a header).
    pub fn at(&mut self, minor: Option<u16>) {
        self.minor = minor;
    }

    /// Sends `method path` (with `body` if any) as `token`, records the answer for
    /// `schema` (`module.name` in Tempest's `api_schema.response.volume`) and returns
    /// its body.
    pub async fn send(
        &mut self,
        schema: &str,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let mut r: TestRequest = match &body {
            Some(b) => json_req(method, path, token, b),
            None => req(method, path, token),
        };
        if let Some(m) = self.minor {
            r = at(m, r);
        }
        let (status, answer, headers) = self.app.call(r).await;
        let headers: Map<String, Value> = headers
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), json!(v.to_str().ok()?))))
            .collect();
        self.seen.push(json!({
            "label": format!("{method} {path} as {token}"),
            "schema": schema,
            "version": self.minor.map(|m| format!("3.{m}")),
            "status": status.as_u16(),
            "headers": headers,
            "body": answer,
        }));
        answer
    }

    /// [`Recorder::send`] of a GET.
    pub async fn get(&mut self, schema: &str, path: &str, token: &str) -> Value {
        self.send(schema, "GET", path, token, None).await
    }

    /// [`Recorder::send`] with a body.
    pub async fn with(
        &mut self,
        schema: &str,
        method: &str,
        path: &str,
        token: &str,
        body: Value,
    ) -> Value {
        self.send(schema, method, path, token, Some(body)).await
    }

    /// Waits until `path`'s `element` has `status`, unrecorded (Tempest's waiters poll
    /// with the show call, which is recorded where it is checked).
    pub async fn wait(&self, path: &str, element: &str, status: &str) -> TestResult {
        eventually(WAIT, || async {
            let (_, v, _) = self.app.call(req("GET", path, ADMIN)).await;
            (v[element]["status"] == status).then_some(())
        })
        .await
        .ok_or_else(|| format!("{path} never became {status}").into())
    }

    /// Runs the checker on everything recorded; any mismatch, or an answer the checker
    /// did not check, fails the test.
    pub fn check(&self) -> TestResult {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tempest_schemas.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run python3 (scripts/test puts .venv first): {e}"))?;
        let input = serde_json::to_vec(&self.seen)?;
        child.stdin.take().ok_or("no stdin")?.write_all(&input)?;
        let out = child.wait_with_output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!("{text}");
        if !out.status.success() {
            return Err(format!(
                "answers outside Tempest's schemas (tempest from tests/requirements.txt must be installed):\n{text}"
            )
            .into());
        }
        if !text.contains(&format!("{} answers match", self.seen.len())) {
            return Err(format!("the checker did not check every answer: {text}").into());
        }
        Ok(())
    }
}

/// The id of `v[element]`.
pub fn id_of(v: &Value, element: &str) -> BoxResult<String> {
    v[element]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no {element} id in {v}").into())
}

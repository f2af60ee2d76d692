//! The harness's HTTP client: blocking, and with no pooled connection, so a killed server
//! is a failed call at once, never a kept-alive connection that hangs.

use std::time::Duration;

use reqwest::blocking::Client as Http;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// The microversion every call asks for: attachments (3.27), `os-complete` (3.44) and
/// revert (3.40) all need at least this.
const MICROVERSION: &str = "volume 3.44";

/// An answer: the status and the body parsed as JSON (`Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Value,
}

impl Answer {
    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A client of one server as `admin` of one project.
#[derive(Debug, Clone)]
pub struct Client {
    http: Http,
    root: String,
    project: String,
    token: String,
}

/// A client with no idle connections kept: each call opens its own.
fn unpooled(timeout: Duration) -> Result<Http, String> {
    Http::builder()
        .pool_max_idle_per_host(0)
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())
}

impl Client {
    /// A client of the server on `port`, acting as an admin of `project`.
    pub fn new(port: u16, project: &str) -> Result<Self, String> {
        Ok(Self {
            http: unpooled(Duration::from_secs(20))?,
            root: format!("http://127.0.0.1:{port}"),
            project: project.to_string(),
            token: format!("admin:{project}"),
        })
    }

    /// The project this client works in.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// `GET /v3/<project><path>`.
    pub fn get(&self, path: &str) -> Result<Answer, String> {
        self.call("GET", path, None)
    }

    /// `POST /v3/<project><path>` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Result<Answer, String> {
        self.call("POST", path, Some(body))
    }

    /// `DELETE /v3/<project><path>`.
    pub fn delete(&self, path: &str) -> Result<Answer, String> {
        self.call("DELETE", path, None)
    }

    /// A call on `/v3/<project><path>`; `Err` only when no answer came (refused,
    /// reset, timed out, unreadable).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, String> {
        let method = Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let url = format!("{}/v3/{}{path}", self.root, self.project);
        let mut req = self
            .http
            .request(method, url)
            .header("OpenStack-API-Version", MICROVERSION)
            .header("X-Auth-Token", &self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let text = res.text().map_err(|e| e.to_string())?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }
}

/// Asks a starting server whether it serves yet.
pub struct Probe {
    http: Http,
    url: String,
}

impl Probe {
    /// A probe of the server on `port`; each try gives up after `timeout`.
    pub fn new(port: u16, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            http: unpooled(timeout)?,
            url: format!("http://127.0.0.1:{port}/"),
        })
    }

    /// Whether `GET /` answers with the version list (300).
    pub fn serving(&self) -> bool {
        self.http
            .get(&self.url)
            .send()
            .is_ok_and(|r| r.status() == StatusCode::MULTIPLE_CHOICES)
    }
}

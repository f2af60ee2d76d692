//! A blocking HTTP/1.0 client, one connection per call: the harness must see a killed
//! server as a failed call at once, never as a pooled connection that hangs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

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
    port: u16,
    project: String,
    token: String,
    timeout: Duration,
}

impl Client {
    /// A client of the server on `port`, acting as an admin of `project`.
    pub fn new(port: u16, project: &str) -> Self {
        Self {
            port,
            project: project.to_string(),
            token: format!("admin:{project}"),
            timeout: Duration::from_secs(20),
        }
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
        let full = format!("/v3/{}{path}", self.project);
        raw(
            self.port,
            method,
            &full,
            Some(&self.token),
            body,
            self.timeout,
        )
    }
}

/// One HTTP/1.0 exchange with the server on `port`.
pub fn raw(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    timeout: Duration,
) -> Result<Answer, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nOpenStack-API-Version: {MICROVERSION}\r\nContent-Length: {}\r\n",
        payload.len()
    );
    if let Some(t) = token {
        head.push_str(&format!("X-Auth-Token: {t}\r\n"));
    }
    if body.is_some() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())
        .and_then(|()| s.write_all(payload.as_bytes()))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            format!(
                "no status in {:?}",
                text.chars().take(80).collect::<String>()
            )
        })?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| serde_json::from_str(b).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    Ok(Answer { status, body })
}

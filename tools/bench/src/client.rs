//! The load generator's HTTP calls, made exactly as a client makes them: its token,
//! JSON bodies, the project in the path.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::BenchError;

/// Largest body read: a `volumes/detail` page of 1,000 volumes is about 1.5 MB.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// One volume as a list page shows it (only what the load generator reads).
#[derive(Debug, Clone, Deserialize)]
pub struct Listed {
    /// The id.
    pub id: String,
    /// Status (detail view only).
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Deserialize)]
struct Page {
    volumes: Vec<Listed>,
}

#[derive(Deserialize)]
struct Created {
    volume: CreatedVolume,
}

#[derive(Deserialize)]
struct CreatedVolume {
    id: String,
}

/// A client of one project on one server, or on several of one cluster. Not `Send`: it
/// lives on one actix system.
pub struct Api {
    client: awc::Client,
    root: String,
    base: String,
    /// `base` on every server, the first being `base` itself: creates and deletes take
    /// them in turn.
    bases: Vec<String>,
    turn: std::cell::Cell<usize>,
    token: String,
}

impl Api {
    /// A client of `project` at `url` (e.g. `http://127.0.0.1:8776`) and `others`,
    /// keeping up to `connections` connections open; it sends `token`, or the noauth
    /// `admin:<project>`.
    pub fn new(
        url: &str,
        others: &[String],
        project: &str,
        token: Option<&str>,
        connections: usize,
        timeout: Duration,
    ) -> Self {
        // Idle connections are dropped before actix-web's 5 s keep-alive closes them, so a
        // request is never written into a connection the server already shut.
        let connector = awc::Connector::new()
            .limit(connections.max(1))
            .conn_keep_alive(Duration::from_secs(3));
        let client = awc::Client::builder()
            .connector(connector)
            .timeout(timeout)
            .finish();
        let root = url.trim_end_matches('/').to_string();
        let bases = std::iter::once(url)
            .chain(others.iter().map(String::as_str))
            .map(|u| format!("{}/v3/{project}", u.trim_end_matches('/')))
            .collect();
        Self {
            client,
            base: format!("{root}/v3/{project}"),
            bases,
            turn: std::cell::Cell::new(0),
            root,
            token: token.map_or_else(|| format!("admin:{project}"), str::to_string),
        }
    }

    /// The next server's project base, in turn.
    fn next_base(&self) -> &str {
        let i = self.turn.get();
        self.turn.set((i + 1) % self.bases.len());
        self.bases.get(i).map_or(self.base.as_str(), String::as_str)
    }

    /// `GET /`: answers 300 when the server is up.
    pub async fn version(&self) -> Result<(), BenchError> {
        let res = self
            .client
            .get(format!("{}/", self.root))
            .send()
            .await
            .map_err(|e| BenchError::Transport(format!("GET /: {e}")))?;
        match res.status().as_u16() {
            300 | 200 => Ok(()),
            s => Err(BenchError::Http {
                call: "GET /",
                status: s,
                body: String::new(),
            }),
        }
    }

    /// `POST volumes`; returns the new volume's id.
    pub async fn create(&self, name: &str, size: u64) -> Result<String, BenchError> {
        const CALL: &str = "POST volumes";
        let mut res = self
            .client
            .post(format!("{}/volumes", self.next_base()))
            .insert_header(("X-Auth-Token", self.token.as_str()))
            .send_json(&json!({"volume": {"size": size, "name": name}}))
            .await
            .map_err(|e| BenchError::Transport(format!("{CALL}: {e}")))?;
        if res.status().as_u16() != 202 {
            return Err(failure(CALL, &mut res).await);
        }
        let created: Created = res
            .json()
            .limit(BODY_LIMIT)
            .await
            .map_err(|e| BenchError::Transport(format!("{CALL}: body: {e}")))?;
        Ok(created.volume.id)
    }

    /// One page of `volumes` or `volumes/detail`.
    pub async fn list_page(
        &self,
        detail: bool,
        limit: u32,
        marker: Option<&str>,
    ) -> Result<Vec<Listed>, BenchError> {
        let call = if detail {
            "GET volumes/detail"
        } else {
            "GET volumes"
        };
        let path = if detail { "volumes/detail" } else { "volumes" };
        let url = match marker {
            Some(m) => format!("{}/{path}?limit={limit}&marker={m}", self.base),
            None => format!("{}/{path}?limit={limit}", self.base),
        };
        let get = || {
            self.client
                .get(&url)
                .insert_header(("X-Auth-Token", self.token.as_str()))
                .send()
        };
        // A GET is safe to repeat: once, when the connection dropped under it.
        let mut res = match get().await {
            Err(awc::error::SendRequestError::Connect(_)) => get().await,
            other => other,
        }
        .map_err(|e| BenchError::Transport(format!("{call}: {e}")))?;
        if res.status().as_u16() != 200 {
            return Err(failure(call, &mut res).await);
        }
        let page: Page = res
            .json()
            .limit(BODY_LIMIT)
            .await
            .map_err(|e| BenchError::Transport(format!("{call}: body: {e}")))?;
        Ok(page.volumes)
    }

    /// `DELETE volumes/{id}`.
    pub async fn delete(&self, id: &str) -> Result<(), BenchError> {
        const CALL: &str = "DELETE volumes/{id}";
        let mut res = self
            .client
            .delete(format!("{}/volumes/{id}", self.next_base()))
            .insert_header(("X-Auth-Token", self.token.as_str()))
            .send()
            .await
            .map_err(|e| BenchError::Transport(format!("{CALL}: {e}")))?;
        if res.status().as_u16() != 202 {
            return Err(failure(CALL, &mut res).await);
        }
        Ok(())
    }
}

async fn failure<S>(call: &'static str, res: &mut awc::ClientResponse<S>) -> BenchError
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let status = res.status().as_u16();
    let body = match res.body().limit(BODY_LIMIT).await {
        Ok(b) => String::from_utf8_lossy(&b).chars().take(300).collect(),
        Err(e) => format!("(body unreadable: {e})"),
    };
    BenchError::Http { call, status, body }
}

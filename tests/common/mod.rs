//! `TestApp`: the real HTTP layer and actors on a fresh database, with fake or file
//! drivers, driven through actix-web's test service.

#![allow(
    dead_code,
    reason = "each test file uses a different part of the helpers"
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test;
use clinker::config::{Config, DriverKind, NodeConfig, Provisioning};
use clinker::db::{self, Db};
use clinker::drivers::VolumeDriver;
use clinker::drivers::fake::{FakeDriver, FakeDriverOptions};
use clinker::service::Services;
use serde_json::Value;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A running Clinker without a socket.
pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub db: Db,
    pub services: Services,
    pub state: clinker::http::AppState,
    pub fakes: HashMap<String, Arc<FakeDriver>>,
}

/// One fake node: name, zone, capacity in GiB.
pub fn fake_node(name: &str, zone: &str) -> NodeConfig {
    NodeConfig {
        name: name.into(),
        availability_zone: Some(zone.into()),
        driver: DriverKind::Fake,
        backend_name: None,
        provisioning: Provisioning::Thin,
        max_over_subscription_ratio: 20.0,
        reserved_percentage: 0,
        capabilities: Default::default(),
        driver_options: Default::default(),
    }
}

/// One file node keeping its volumes under `<data_dir>/volumes`.
pub fn file_node(name: &str, zone: &str) -> NodeConfig {
    let mut options = toml::Table::new();
    options.insert("path".into(), toml::Value::String("volumes".into()));
    NodeConfig {
        driver: DriverKind::File,
        driver_options: options,
        ..fake_node(name, zone)
    }
}

impl TestApp {
    /// One fake node `n1` in zone `nova`.
    pub async fn new() -> Result<TestApp, Box<dyn std::error::Error>> {
        Self::with(|_| {}).await
    }

    /// Default config with one fake node, adjusted by `tweak` (which may replace nodes).
    pub async fn with(
        tweak: impl FnOnce(&mut Config),
    ) -> Result<TestApp, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            nodes: vec![fake_node("n1", "nova")],
            ..Config::default()
        };
        tweak(&mut config);
        let url = config
            .database_url
            .clone()
            .unwrap_or_else(|| dir.path().join("clinker.db").display().to_string());
        let db = Db::new(db::connect_bounded(
            &url,
            config.database_pool_size,
            config.database_statement_timeout_ms,
        )?);
        db.run_blocking(db::migrate)?;
        let mut drivers: HashMap<String, Arc<dyn VolumeDriver>> =
            clinker::service::build_drivers(&config)?;
        let mut fakes = HashMap::new();
        for node in config.nodes.iter().filter(|n| n.driver == DriverKind::Fake) {
            let fake = Arc::new(FakeDriver::new(FakeDriverOptions {
                volume_backend_name: node.backend_name().to_string(),
                capabilities: node.capabilities.clone(),
                ..FakeDriverOptions::default()
            }));
            fakes.insert(node.name.clone(), fake.clone());
            drivers.insert(node.name.clone(), fake);
        }
        let services = clinker::service::start(&config, db.clone(), drivers).await?;
        let state = clinker::http::AppState {
            api: services.api.clone(),
            admin_users: config.admin_users.clone(),
            auth: clinker::http::auth::Authenticator::from_config(&config),
            policy: Arc::new(clinker::policy::Enforcer::load(
                config.policy_file.as_deref(),
            )?),
            max_body_bytes: config.max_body_bytes,
            limits: clinker::http::listing::Limits::from_config(&config),
            intake: clinker::http::intake::Intake::new(
                Duration::from_secs(config.body_timeout_seconds),
                config.max_buffered_body_bytes,
            ),
            max_version: clinker::http::version::MAX_VERSION,
        };
        Ok(TestApp {
            dir,
            config,
            db,
            services,
            state,
            fakes,
        })
    }

    /// The same database and config with fresh actors, as after a restart of the binary
    /// (fake drivers start empty). The old actors are left idle.
    pub async fn restart(self) -> Result<TestApp, Box<dyn std::error::Error>> {
        let mut drivers: HashMap<String, Arc<dyn VolumeDriver>> = HashMap::new();
        let mut fakes = HashMap::new();
        for node in &self.config.nodes {
            let fake = Arc::new(FakeDriver::new(FakeDriverOptions {
                volume_backend_name: node.backend_name().to_string(),
                capabilities: node.capabilities.clone(),
                ..FakeDriverOptions::default()
            }));
            fakes.insert(node.name.clone(), fake.clone());
            drivers.insert(node.name.clone(), fake);
        }
        let services = clinker::service::start(&self.config, self.db.clone(), drivers).await?;
        let state = clinker::http::AppState {
            api: services.api.clone(),
            ..self.state.clone()
        };
        Ok(TestApp {
            services,
            state,
            fakes,
            ..self
        })
    }

    /// Accepts microversions up to 3.71 (the advertised maximum stays as it is), so
    /// tests can reach behaviour gated on versions not yet advertised.
    pub fn raise_max_version(&mut self) {
        self.state.max_version = clinker::http::version::ApiVersion::new(3, 71);
    }

    /// Sends a request and returns the status and the JSON body (`Null` if not JSON).
    pub async fn call(
        &self,
        req: test::TestRequest,
    ) -> (StatusCode, Value, actix_web::http::header::HeaderMap) {
        let app = test::init_service(clinker::http::app(self.state.clone())).await;
        let res = test::call_service(&app, req.to_request()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = test::read_body(res).await;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body, headers)
    }

    /// Number of rows in a table.
    pub fn count(&self, table: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        self.db
            .run_blocking(|c| {
                use diesel::RunQueryDsl;
                let r: Result<Vec<N>, _> =
                    clinker::on_backend!(c, |c| diesel::sql_query(&sql).load(c));
                Ok(r.map(|v| v.first().map_or(0, |n| n.n)).unwrap_or(-1))
            })
            .unwrap_or(-1)
    }

    /// `POST /volumes` with `body` in the token's project: the `volume` of the 202, or an
    /// error naming the status that came instead.
    pub async fn create_volume(
        &self,
        token: &str,
        body: &Value,
    ) -> Result<Value, Box<dyn std::error::Error>> {
        let project = token.rsplit(':').next().unwrap_or(token);
        let (s, v, _) = self
            .call(json_req(
                "POST",
                &format!("/v3/{project}/volumes"),
                token,
                body,
            ))
            .await;
        if s != StatusCode::ACCEPTED {
            return Err(format!("create answered {s}: {v}").into());
        }
        Ok(v["volume"].clone())
    }

    /// Creates a `size` GiB volume in the token's project (`0a0a` or `0b0b`) and waits
    /// until it is `available`; answers its id.
    pub async fn available_volume(
        &self,
        token: &str,
        size: u64,
    ) -> Result<String, Box<dyn std::error::Error>> {
        let project = token.rsplit(':').next().unwrap_or(token);
        let volume = self
            .create_volume(token, &serde_json::json!({"volume": {"size": size}}))
            .await?;
        let id = volume["id"].as_str().ok_or("no id")?.to_string();
        let path = format!("/v3/{project}/volumes/{id}");
        eventually(Duration::from_secs(10), || async {
            let (_, v, _) = self.call(req("GET", &path, token)).await;
            (v["volume"]["status"] == "available").then_some(())
        })
        .await
        .ok_or("the volume never became available")?;
        Ok(id)
    }

    /// `(in_use, reserved)` of a project's quota resource.
    pub fn usage(&self, project: &str, resource: &str) -> (i64, i64) {
        let defaults = clinker::db::quotas::Defaults::from_config(&self.config.quota);
        self.db
            .run_blocking(|c| clinker::db::quotas::usage(c, project, &[resource], &defaults))
            .ok()
            .and_then(|m| m.get(resource).map(|u| (u.in_use, u.reserved)))
            .unwrap_or((-1, -1))
    }
}

/// A request with a noauth token.
pub fn req(method: &str, uri: &str, token: &str) -> test::TestRequest {
    let r = match method {
        "POST" => test::TestRequest::post(),
        "PUT" => test::TestRequest::put(),
        "DELETE" => test::TestRequest::delete(),
        _ => test::TestRequest::get(),
    };
    r.uri(uri).insert_header(("X-Auth-Token", token))
}

/// A request at microversion `3.<minor>`.
pub fn at(minor: u16, r: test::TestRequest) -> test::TestRequest {
    r.insert_header(("OpenStack-API-Version", format!("volume 3.{minor}")))
}

/// A request with a JSON body.
pub fn json_req(method: &str, uri: &str, token: &str, body: &Value) -> test::TestRequest {
    req(method, uri, token).set_json(body)
}

/// Polls `check` every 10 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Admin of project `0a0a`.
pub const ADMIN: &str = "admin:0a0a";
/// Member of project `0a0a`.
pub const ALICE: &str = "alice:0a0a";
/// Member of project `0b0b`.
pub const BOB: &str = "bob:0b0b";

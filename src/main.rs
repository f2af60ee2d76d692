//! `clinker`: serve the Block Storage v3 API, run a storage agent, or run the migrations.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use clinker::config::{Config, Environment, Overrides};
use clinker::db::{self, Db};
use tracing::info;

/// A block-storage controller that speaks OpenStack Cinder's Block Storage v3 API.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the migrations, start the actors and serve the API.
    Serve(Common),
    /// Run the migrations and exit.
    Migrate(Common),
    /// Run a storage agent: only the `[[nodes]]` of the config, on PostgreSQL shared
    /// with the controllers; `--listen` serves `GET /healthz` only.
    Node(Common),
}

/// What the command runs once its config is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Serve,
    Migrate,
    Node,
}

#[derive(Debug, Args)]
struct Common {
    /// TOML config file (env CLINKER_CONFIG wins over it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8776 (env CLINKER_LISTEN wins over it).
    #[arg(long)]
    listen: Option<String>,
    /// Data directory (env CLINKER_DATA_DIR wins over it).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// postgres://... or a SQLite file path (env CLINKER_DATABASE_URL wins over it).
    #[arg(long)]
    database_url: Option<String>,
}

impl Common {
    fn load(self) -> anyhow::Result<Config> {
        let env = Environment::read()?;
        Ok(Config::load(
            self.config.as_deref(),
            Overrides {
                listen: self.listen,
                data_dir: self.data_dir,
                database_url: self.database_url,
            },
            &env,
        )?)
    }
}

/// Opens the database and brings its schema up to date.
fn open_db(config: &Config) -> anyhow::Result<Db> {
    db::files::private_dir(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    reach_database(
        &config.database_url(),
        std::time::Duration::from_secs(config.cluster.database_connect_seconds),
    )?;
    let pool = db::connect_bounded(
        &config.database_url(),
        config.database_pool_size,
        config.database_statement_timeout_ms,
    )?;
    let db = Db::new(pool);
    let applied = db.run_blocking(db::migrate)?;
    if applied > 0 {
        info!(migrations = applied, "database schema updated");
    }
    Ok(db)
}

/// Waits until a PostgreSQL database answers, trying again after growing pauses for
/// `within`: processes of a cluster often start with (or before) their database, and
/// the pool would give up after one attempt. SQLite is a file: nothing to wait for.
fn reach_database(url: &str, within: std::time::Duration) -> anyhow::Result<()> {
    use diesel::Connection as _;
    if db::Backend::from_url(url)? != db::Backend::Postgres {
        return Ok(());
    }
    let shown = without_secrets(url);
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(500);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let e = match diesel::PgConnection::establish(url) {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let waited = started.elapsed();
        if waited >= within {
            anyhow::bail!(
                "cannot reach the database {shown}: {attempts} attempt(s) over {} s failed \
                 ([cluster] database_connect_seconds = {}); the last said: {}",
                waited.as_secs(),
                within.as_secs(),
                e.to_string().trim()
            );
        }
        tracing::warn!(
            database = %shown,
            attempt = attempts,
            retry_in_ms = pause.as_millis() as u64,
            error = %e.to_string().trim(),
            "cannot reach the database yet; trying again"
        );
        std::thread::sleep(pause.min(within - waited));
        pause = (pause * 2).min(std::time::Duration::from_secs(5));
    }
}

/// A database URL fit for a log: no user or password, no query (which may hold one).
fn without_secrets(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{rest}")
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // First: a policy file that does not parse, or noauth on a public address, stops
    // start-up before anything is touched.
    let policy = clinker::policy::Enforcer::load(config.policy_file.as_deref())?;
    config.check_noauth_listen()?;
    let db = open_db(&config)?;
    let drivers = clinker::service::build_drivers(&config)?;
    // Before the actors start: their mailbox gauges register with this recorder.
    let metrics = clinker::telemetry::install();
    let services = clinker::service::start(&config, db.clone(), drivers).await?;
    let lease = services.lease.clone();
    let state = clinker::http::AppState {
        api: services.api.clone(),
        admin_users: config.admin_users.clone(),
        auth: clinker::http::auth::Authenticator::from_config(&config),
        policy: std::sync::Arc::new(policy),
        max_body_bytes: config.max_body_bytes,
        limits: clinker::http::listing::Limits::from_config(&config),
        intake: clinker::http::intake::Intake::new(
            std::time::Duration::from_secs(config.body_timeout_seconds),
            config.max_buffered_body_bytes,
        ),
        max_version: clinker::http::version::MAX_VERSION,
    };
    let exporter = metrics.map(|handle| clinker::http::metrics::Exporter {
        handle,
        token: config.metrics.token.clone(),
        open: false,
    });
    // With an address of its own, `/metrics` leaves the API's port.
    let on_api_port = exporter.clone().filter(|_| config.metrics.listen.is_none());
    let server = actix_web::HttpServer::new(move || {
        let app = clinker::http::app(state.clone());
        match &on_api_port {
            Some(e) => app.app_data(actix_web::web::Data::new(e.clone())),
            None => app,
        }
    })
    // The request head must arrive within 5 s and idle keep-alive connections close
    // after 5 s (actix's defaults, written out); the body has `body_timeout_seconds`.
    .client_request_timeout(std::time::Duration::from_secs(5))
    .keep_alive(std::time::Duration::from_secs(5))
    .bind(&config.listen)
    .with_context(|| format!("cannot listen on {}", config.listen))?;
    info!(
        listen = %config.listen,
        nodes = config.nodes.len(),
        data_dir = %config.data_dir.display(),
        "Clinker is serving the Block Storage v3 API"
    );
    match config.auth_strategy {
        clinker::config::AuthStrategy::Noauth => tracing::warn!(
            listen = %config.listen,
            "auth_strategy = noauth: every caller is trusted as whoever its X-Auth-Token names, \
             admin included"
        ),
        clinker::config::AuthStrategy::Keystone => info!(
            auth_url = %config.keystone_authtoken.auth_url,
            service_user = %config.keystone_authtoken.username,
            "auth_strategy = keystone: tokens are validated by Keystone"
        ),
    }
    let serving = async {
        match (&config.metrics.listen, exporter) {
            (Some(addr), Some(e)) => {
                let own = actix_web::HttpServer::new(move || {
                    actix_web::App::new().configure(clinker::http::metrics::own_address(e.clone()))
                })
                .workers(1)
                .bind(addr)
                .with_context(|| format!("cannot listen on {addr} for metrics"))?;
                info!(listen = %addr, "serving /metrics on its own address");
                futures_util::future::try_join(server.run(), own.run()).await?;
            }
            _ => server.run().await?,
        }
        anyhow::Ok(())
    };
    until_lease_lost(serving, &db, &lease).await
}

/// Runs `serving` until it ends or this instance's lease is lost; a clean end (SIGTERM,
/// SIGINT) ends the lease.
async fn until_lease_lost(
    serving: impl std::future::Future<Output = anyhow::Result<()>>,
    db: &Db,
    lease: &clinker::service::Lease,
) -> anyhow::Result<()> {
    let lost = lease.lost.clone();
    let lost = std::pin::pin!(lost.notified());
    match futures_util::future::select(std::pin::pin!(serving), lost).await {
        futures_util::future::Either::Left((served, _)) => {
            // A clean stop (SIGTERM, SIGINT): the lease ends now, so another process can
            // claim this one's nodes without waiting for it to lapse.
            clinker::service::retire(db, lease).await;
            served
        }
        // Another instance swept this one's lapsed lease and may hold its nodes now;
        // going on would act on work that is no longer this process's.
        futures_util::future::Either::Right(((), _)) => Err(anyhow::anyhow!(
            "this instance's lease lapsed and was released by another instance; stopping"
        )),
    }
}

/// The storage agent: its nodes, and `GET /healthz` on `listen`.
async fn node(config: Config) -> anyhow::Result<()> {
    let db = open_db(&config)?;
    let drivers = clinker::service::build_drivers(&config)?;
    let agent = clinker::service::start_agent(&config, db.clone(), drivers).await?;
    let health = serde_json::json!({
        "instance": agent.lease.id,
        "nodes": agent.nodes.keys().collect::<Vec<_>>(),
    });
    let server = actix_web::HttpServer::new(move || {
        let health = health.clone();
        actix_web::App::new().route(
            "/healthz",
            actix_web::web::get()
                .to(move || std::future::ready(actix_web::HttpResponse::Ok().json(health.clone()))),
        )
    })
    .workers(1)
    .bind(&config.listen)
    .with_context(|| format!("cannot listen on {}", config.listen))?;
    info!(listen = %config.listen, nodes = agent.nodes.len(), "storage agent is serving its health");
    until_lease_lost(async { Ok(server.run().await?) }, &db, &agent.lease).await
}

/// An agent shares its controllers' database from another host, which SQLite (a file
/// on one host) cannot be; refused before the file would be created. A controller with
/// `nodes = []` needs agents, so the same holds for it.
fn agent_database(config: &Config) -> Result<(), String> {
    match db::Backend::from_url(&config.database_url()) {
        Ok(db::Backend::Postgres) => Ok(()),
        Ok(db::Backend::Sqlite) if config.nodes.is_empty() => Err(
            "this controller runs no node (`nodes = []`): its nodes are storage agents' \
             (`clinker node`), which share the controllers' PostgreSQL database; give \
             --database-url postgres://... (with SQLite, list the nodes under [[nodes]])"
                .into(),
        ),
        Ok(db::Backend::Sqlite) => Err(
            "`clinker node` runs a storage agent that shares its controllers' PostgreSQL \
             database; give --database-url postgres://... (with SQLite, run the nodes \
             inside `clinker serve`)"
                .into(),
        ),
        Err(e) => Err(e.to_string()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (common, mode) = match cli.command {
        Command::Serve(c) => (c, Mode::Serve),
        Command::Migrate(c) => (c, Mode::Migrate),
        Command::Node(c) => (c, Mode::Node),
    };
    let config = match common.load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("clinker: {e:#}");
            return ExitCode::from(2);
        }
    };
    if (mode == Mode::Node || (mode == Mode::Serve && config.nodes.is_empty()))
        && let Err(m) = agent_database(&config)
    {
        eprintln!("clinker: {m}");
        return ExitCode::from(2);
    }
    clinker::logging::init(config.log_format);
    let result = match mode {
        Mode::Serve => actix_web::rt::System::new().block_on(serve(config)),
        Mode::Node => actix_web::rt::System::new().block_on(node(config)),
        Mode::Migrate => open_db(&config).map(|_| ()),
    };
    match result {
        Ok(()) if mode == Mode::Migrate => ExitCode::SUCCESS,
        Ok(()) => exit_now(0),
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("clinker: {e:#}");
            exit_now(1)
        }
    }
}

/// Ends a `serve` or `node` process at once with `code`, without the C library's exit
/// handlers: they tear down OpenSSL (through libpq) while the database pool's threads
/// and the nodes' arbiters may still be using it, and a process refused at start-up was
/// seen to die of a signal there instead of exiting 1. Everything the process had to
/// say is already written: the log goes unbuffered to stderr.
fn exit_now(code: i32) -> ! {
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` takes no pointers and does not return; no Rust code runs after it.
    unsafe { libc::_exit(code) }
}

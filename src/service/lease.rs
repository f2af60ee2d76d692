//! This process as an instance: registered at start, its lease renewed in the background,
//! and the instances whose lease has lapsed swept, so what a dead process owned is
//! released within a lease's length rather than a reservation's day.

use std::sync::Arc;
use std::time::Duration;

use tracing::{Instrument, error, info, info_span, warn};

use crate::config::Config;
use crate::db::Db;
use crate::db::instances::{self, InstanceKind, NewInstance, Swept};

/// This process's instance.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The instance id ([`instances::instance_id`]).
    pub id: String,
    /// Notified once if the lease is lost (another instance found it lapsed and swept
    /// it, and may hold this process's nodes now): the process must stop.
    pub lost: Arc<tokio::sync::Notify>,
}

/// What a restart of this process has in common with it: its kind, host and data
/// directory (two processes on one host with different data directories are different
/// processes; the same directory is the same process, restarted).
fn identity(kind: InstanceKind, host: &str, config: &Config) -> String {
    let dir = std::fs::canonicalize(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone());
    format!("{}:{host}:{}", kind.as_str(), dir.display())
}

/// Registers this process, ends its previous incarnation's lease, releases what dead
/// instances held, and starts renewing the lease (and sweeping) every third of its length.
pub async fn register(
    config: &Config,
    db: &Db,
    kind: InstanceKind,
    host: &str,
) -> anyhow::Result<Lease> {
    let seconds = i64::try_from(config.cluster.lease_seconds).unwrap_or(i64::MAX);
    let me = NewInstance {
        id: instances::instance_id().to_string(),
        kind,
        host: host.to_string(),
        identity: identity(kind, host, config),
        pid: i64::from(std::process::id()),
        lease_seconds: seconds,
    };
    let id = me.id.clone();
    db.run(move |c| instances::register(c, &me)).await?;
    info!(instance.id = %id, lease_seconds = seconds, "registered this process's instance");
    log_swept(db.run(instances::sweep).await?);
    let lease = Lease {
        id,
        lost: Arc::new(tokio::sync::Notify::new()),
    };
    let every = Duration::from_millis(config.cluster.lease_seconds.saturating_mul(1000) / 3);
    let (db, renewing) = (db.clone(), lease.clone());
    actix_web::rt::spawn(
        async move {
            let mut tick = actix_web::rt::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let id = renewing.id.clone();
                match db.run(move |c| instances::renew(c, &id, seconds)).await {
                    Ok(true) => {}
                    Ok(false) => {
                        error!(
                            instance.id = %renewing.id,
                            "this instance's lease lapsed and another instance released \
                             what it held; stopping"
                        );
                        renewing.lost.notify_one();
                        return;
                    }
                    // The database is unreachable: try again at the next tick; if the
                    // lease lapses meanwhile, a peer sweeps it and the next renewal
                    // finds that out.
                    Err(e) => warn!(error = %e, "could not renew this instance's lease"),
                }
                match db.run(instances::sweep).await {
                    Ok(swept) => log_swept(swept),
                    Err(e) => warn!(error = %e, "could not sweep dead instances"),
                }
            }
        }
        .instrument(info_span!("lease")),
    );
    Ok(lease)
}

fn log_swept(swept: Swept) {
    if !swept.instances.is_empty() {
        info!(
            instances = ?swept.instances,
            reservations.released = swept.reservations,
            "released what instances whose lease lapsed held"
        );
    }
}

/// Ends this process's lease at once (a clean stop), so its nodes can be claimed without
/// waiting for the lease to lapse.
pub async fn retire(db: &Db, lease: &Lease) {
    let id = lease.id.clone();
    if let Err(e) = db.run(move |c| instances::retire(c, &id)).await {
        warn!(error = %e, "could not end this instance's lease; it lapses on its own");
    }
}

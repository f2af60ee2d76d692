//! Wiring: builds the drivers from config, starts the actors, and resumes unfinished work.
//! `main` and the tests share it, so tests run the same actors the binary runs.

mod agent;
mod lease;
pub mod outbox;

pub use agent::{Agent, start_agent};
pub use lease::{Lease, retire};

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tracing::{info, warn};

use crate::actors::api::catalogue::SchedulerQueries;
use crate::actors::api::{ApiActor, ApiSettings, Zones};
use crate::actors::dispatch::{Dispatcher, JournalHandle, NodeHandle, Remote, SchedulerLink};
use crate::actors::journal::JournalActor;
use crate::actors::mailbox::Tracked;
use crate::actors::protocol::{PublishStats, RecoverNode, ScheduleCreateVolume, SetNodeDisabled};
use crate::actors::scheduler::SchedulerActor;
use crate::actors::volume::{NodeIdentity, VolumeActor};
use crate::config::{
    Config, ExportOptions, LvmType, NodeDriver, Provisioning, TargetKind, VolumeClear,
};
use crate::db::instances::InstanceKind;
use crate::db::{Db, claims, quotas};
use crate::drivers::fake::{FakeDriver, FakeDriverOptions};
use crate::drivers::file::{FileDriver, FileDriverOptions};
use crate::drivers::lvm::runner::SystemRunner;
use crate::drivers::lvm::{LvmDriver, LvmDriverOptions};
use crate::drivers::qcow2::{Qcow2Driver, Qcow2DriverOptions};
use crate::drivers::targets::Target;
use crate::drivers::targets::local::LocalTarget;
use crate::drivers::targets::nbd::{NbdOptions, NbdTarget};
use crate::drivers::targets::tgt::{TgtOptions, TgtTarget};
use crate::drivers::{OverSubscription, PoolOptions, VolumeDriver};
use crate::model::{NodeName, RequestId};

/// The running actors.
#[derive(Clone)]
pub struct Services {
    /// The API actor (its sends counted in the mailbox-depth gauge).
    pub api: Tracked<Addr<ApiActor>>,
    /// The scheduler.
    pub scheduler: Addr<SchedulerActor>,
    /// One actor per node.
    pub nodes: HashMap<String, Addr<VolumeActor>>,
    /// The journal.
    pub journal: Addr<JournalActor>,
    /// This process's instance and lease.
    pub lease: Lease,
}

/// Builds each node's driver from its config.
pub fn build_drivers(config: &Config) -> anyhow::Result<HashMap<String, Arc<dyn VolumeDriver>>> {
    let mut out: HashMap<String, Arc<dyn VolumeDriver>> = HashMap::new();
    for node in &config.nodes {
        let thin = node.provisioning == Provisioning::Thin;
        let pool = PoolOptions {
            volume_backend_name: node.backend_name().to_string(),
            pool_name: node.backend_name().to_string(),
            reserved_percentage: node.reserved_percentage,
            max_over_subscription_ratio: OverSubscription::Ratio(node.max_over_subscription_ratio),
            capabilities: node.capabilities.clone(),
        };
        let driver: Arc<dyn VolumeDriver> = match node
            .checked_driver(&config.data_dir)
            .map_err(|m| anyhow::anyhow!("node {}: {m}", node.name))?
        {
            NodeDriver::Fake(o) => {
                let fake = FakeDriver::new(FakeDriverOptions {
                    volume_backend_name: pool.volume_backend_name,
                    pool_name: pool.pool_name,
                    total_capacity_gb: o.total_capacity_gb.max(0.0) as u64,
                    thin_provisioning_support: thin,
                    thick_provisioning_support: !thin,
                    reserved_percentage: pool.reserved_percentage,
                    max_over_subscription_ratio: pool.max_over_subscription_ratio,
                    capabilities: pool.capabilities,
                });
                for verb in o
                    .failing_verbs()
                    .map_err(|m| anyhow::anyhow!("node {}: {m}", node.name))?
                {
                    fake.fail_every(verb, o.fail_every.max(1));
                }
                Arc::new(fake)
            }
            NodeDriver::File(o) => {
                let target = build_target(config, &node.name, &o.export)?;
                Arc::new(
                    FileDriver::new(o.path, FileDriverOptions { pool, thin })?
                        .with_target(target)?,
                )
            }
            NodeDriver::Qcow2(o) => {
                let target = build_target(config, &node.name, &o.export)?;
                Arc::new(
                    Qcow2Driver::new(o.path, Qcow2DriverOptions { pool })?.with_target(target)?,
                )
            }
            NodeDriver::Lvm(o) => {
                let target = build_target(config, &node.name, &o.export)?;
                let options = LvmDriverOptions {
                    thin_pool: (o.lvm_type == LvmType::Thin).then(|| {
                        o.thin_pool
                            .clone()
                            .unwrap_or_else(|| format!("{}-pool", o.volume_group))
                    }),
                    clear_on_delete: o.volume_clear == VolumeClear::Zero,
                    pool,
                    ..LvmDriverOptions::thick(&o.volume_group)
                };
                Arc::new(LvmDriver::new(options, Arc::new(SystemRunner))?.with_target(target)?)
            }
        };
        out.insert(node.name.clone(), driver);
    }
    Ok(out)
}

/// The export helper a node uses; its state lives under `<data_dir>/targets/<node>`.
fn build_target(config: &Config, node: &str, o: &ExportOptions) -> anyhow::Result<Arc<dyn Target>> {
    let state_dir = config.data_dir.join("targets").join(node);
    Ok(match o.target {
        TargetKind::Local => Arc::new(LocalTarget),
        TargetKind::Tgt => {
            let mut t = TgtOptions::new(state_dir);
            if let Some(ip) = &o.target_ip_address {
                t.target_ip_address = ip.clone();
            }
            if let Some(port) = o.target_port {
                t.target_port = port;
            }
            Arc::new(TgtTarget::new(t)?)
        }
        TargetKind::Nbd => {
            let mut n = NbdOptions::new(state_dir);
            if let Some(a) = &o.nbd_listen_address {
                n.listen_address = a.clone();
            }
            if let Some(p) = o.nbd_port_min {
                n.port_min = p;
            }
            if let Some(p) = o.nbd_port_max {
                n.port_max = p;
            }
            n.tls_psk = o.nbd_tls_psk;
            Arc::new(NbdTarget::new(n)?)
        }
    })
}

/// Starts the journal, the scheduler, one actor per node and the API actor, waits for
/// every node's first capacity report, then resumes whatever a previous run left unfinished.
pub async fn start(
    config: &Config,
    db: Db,
    drivers: HashMap<String, Arc<dyn VolumeDriver>>,
) -> anyhow::Result<Services> {
    let lease = lease::register(config, &db, InstanceKind::Serve, &controller_host()).await?;
    let journal = JournalActor::new(db.clone()).start();
    // The scheduler's address exists before the scheduler, so nodes can be given it.
    let scheduler_ctx: Context<SchedulerActor> = Context::new();
    let scheduler_addr = scheduler_ctx.address();
    let fences = claim_nodes(config, &db, &lease).await?;
    let acked = outbox::Acked::default();
    let shared = is_shared(&db);
    // On PostgreSQL other controllers may place volumes on this process's nodes: their
    // reports go to the database too. The embedded SQLite default keeps the direct path.
    let stats = if shared {
        outbox::ReportRelay::new(
            db.clone(),
            Some(scheduler_addr.clone().recipient()),
            fences.clone(),
            acked.clone(),
        )
        .start()
        .recipient()
    } else {
        scheduler_addr.clone().recipient()
    };
    let link = SchedulerLink {
        schedule: Some(scheduler_addr.clone().recipient()),
        stats,
    };
    let nodes = start_nodes(config, &db, &fences, &drivers, &journal, &link).await?;
    let handles: HashMap<String, NodeHandle> = nodes
        .iter()
        .map(|(k, v)| (k.clone(), NodeHandle::of(k, v.clone())))
        .collect();
    let scheduler = scheduler_ctx.run(SchedulerActor::new(
        db.clone(),
        JournalHandle(journal.clone()),
        handles.clone(),
        config.scheduler_tuning(),
        config.scheduler.max_attempts,
    ));
    let dispatcher = Dispatcher {
        scheduler: Tracked::new(scheduler.clone().recipient(), "scheduler"),
        host_check: scheduler.clone().recipient(),
        nodes: Arc::new(handles.clone()),
        remote: Some(Remote {
            db: db.clone(),
            down_after_seconds: config.cluster.node_down_after_seconds,
            call_timeout: Duration::from_secs(config.cluster.node_down_after_seconds),
        }),
    };
    let zones = Zones::of(
        config
            .nodes
            .iter()
            .map(|n| n.zone(config).to_string())
            .collect::<BTreeSet<_>>(),
    );
    let settings = ApiSettings {
        default_availability_zone: config.default_availability_zone.clone(),
        known_zones: zones.clone(),
        default_volume_type: config.default_volume_type.clone(),
        default_group_type: config.default_group_type.clone(),
        quota_defaults: quotas::Defaults::from_config(&config.quota),
        reservation_expire_seconds: config.quota.reservation_expire_seconds,
        max_metadata_items: config.max_metadata_items,
    };
    register_services(config, &db, &scheduler).await?;
    let queries = SchedulerQueries {
        pools: scheduler.clone().recipient(),
        set_disabled: scheduler.clone().recipient(),
    };
    let api = ApiActor::new(
        db.clone(),
        dispatcher,
        JournalHandle(journal.clone()),
        settings,
    )
    .with_scheduler_queries(queries)
    .start();
    for (name, addr) in &nodes {
        if let Err(e) = addr.send(PublishStats).await? {
            warn!(node.id = %name, error = %e, "node could not report its capacity at start");
        }
    }
    let services = Services {
        api: Tracked::new(api, "api"),
        scheduler,
        nodes,
        journal,
        lease,
    };
    let cleared = clear_queued(&db, &fences).await?;
    if shared {
        // Before recovery: volumes it schedules again need the other nodes' pools.
        outbox::start_watch(
            db.clone(),
            services.scheduler.clone(),
            handles.keys().cloned().collect(),
            zones,
            config.cluster.node_down_after_seconds,
        )
        .await;
    }
    recover(&services, &db).await?;
    if shared {
        let held = held_nodes(&handles, &fences);
        outbox::start_worker(db.clone(), Some(config.database_url()), held, acked);
    }
    if cleared > 0 {
        info!(
            queued.cleared = cleared,
            "queued work of this process's nodes left to recovery"
        );
    }
    Ok(services)
}

/// Claims every node of the config for this instance (or names the first one a live
/// instance holds) and starts its `VolumeActor`, each on an arbiter of its own and with a
/// database handle fenced by the node's epoch.
pub(crate) async fn start_nodes(
    config: &Config,
    db: &Db,
    fences: &HashMap<String, claims::Fence>,
    drivers: &HashMap<String, Arc<dyn VolumeDriver>>,
    journal: &Addr<JournalActor>,
    link: &SchedulerLink,
) -> anyhow::Result<HashMap<String, Addr<VolumeActor>>> {
    let mut nodes = HashMap::new();
    for node in &config.nodes {
        let driver = drivers
            .get(&node.name)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no driver for node {}", node.name))?;
        let identity = NodeIdentity {
            name: node.name.clone(),
            availability_zone: node.zone(config).to_string(),
            stats_interval: Duration::from_secs(config.scheduler.stats_interval_seconds.max(1)),
            orphan_grace: Duration::from_secs(config.reconcile.orphan_grace_seconds),
            reconcile_interval: (config.reconcile.interval_seconds > 0)
                .then(|| Duration::from_secs(config.reconcile.interval_seconds)),
        };
        let fence = fences
            .get(&node.name)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("node {} was not claimed", node.name))?;
        let (node_db, node_journal, node_link) = (
            db.fenced(fence),
            JournalHandle(journal.clone()),
            link.clone(),
        );
        // Each node on its own arbiter: a slow node never delays another.
        let addr = VolumeActor::start_in_arbiter(&Arbiter::new().handle(), move |_| {
            VolumeActor::new(identity, driver, node_db, node_journal, node_link)
        });
        nodes.insert(node.name.clone(), addr);
    }
    Ok(nodes)
}

/// Whether other processes may share this database (PostgreSQL): then nodes' reports
/// are published, queued work is taken, and other nodes are watched.
pub(crate) fn is_shared(db: &Db) -> bool {
    db.run_blocking(|c| Ok(matches!(c, crate::db::DbConnection::Postgres(_))))
        .unwrap_or(false)
}

/// The nodes this process holds, as its outbox worker reaches them.
pub(crate) fn held_nodes(
    handles: &HashMap<String, NodeHandle>,
    fences: &HashMap<String, claims::Fence>,
) -> Vec<outbox::HeldNode> {
    handles
        .iter()
        .filter_map(|(name, handle)| {
            Some(outbox::HeldNode {
                handle: handle.clone(),
                fence: fences.get(name)?.clone(),
            })
        })
        .collect()
}

/// Deletes the rows queued for this process's nodes before their recovery, which
/// resumes everything those rows asked for from the volume and snapshot rows (so
/// nothing queued is lost, and nothing is run once by the recovery and again from the
/// queue).
pub(crate) async fn clear_queued(
    db: &Db,
    fences: &HashMap<String, claims::Fence>,
) -> anyhow::Result<usize> {
    let mut cleared = 0;
    for fence in fences.values() {
        let fence = fence.clone();
        cleared += db.run(move |c| crate::db::outbox::clear(c, &fence)).await?;
    }
    Ok(cleared)
}

/// Claims every node of the config for this instance, or names the first one a live
/// instance holds. Before any node's actor starts: a node another live process holds
/// stops start-up here, before this process's recovery or backend comparison can touch
/// its volumes.
pub(crate) async fn claim_nodes(
    config: &Config,
    db: &Db,
    lease: &Lease,
) -> anyhow::Result<HashMap<String, claims::Fence>> {
    let mut fences = HashMap::new();
    for node in &config.nodes {
        let (name, me) = (NodeName::from(node.name.as_str()), lease.id.clone());
        let fence = db.run(move |c| claims::claim(c, &name, &me)).await?;
        info!(node.id = %node.name, node.epoch = fence.epoch, "claimed node");
        fences.insert(node.name.clone(), fence);
    }
    Ok(fences)
}

/// The host name the controller's own services are listed under.
pub(crate) fn controller_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "clinker".into())
}

/// Each node's `os-services` row: node name, host (`node@backend`), zone.
pub(crate) fn node_services(config: &Config) -> Vec<(String, String, String)> {
    config
        .nodes
        .iter()
        .map(|n| {
            (
                n.name.clone(),
                crate::model::host::service_host(&n.name, n.backend_name()),
                n.zone(config).to_string(),
            )
        })
        .collect()
}

/// Registers the `os-services` rows (one `cinder-volume` per node as `node@backend`,
/// one `cinder-scheduler` for this controller), hands the scheduler the nodes an operator
/// disabled, and keeps the scheduler row's heartbeat (nodes beat with their reports).
async fn register_services(
    config: &Config,
    db: &Db,
    scheduler: &Addr<SchedulerActor>,
) -> anyhow::Result<()> {
    use crate::db::services::{self, SCHEDULER_BINARY, VOLUME_BINARY};
    let controller = controller_host();
    let zone = config.default_availability_zone.clone();
    let nodes = node_services(config);
    let me = controller.clone();
    let rows = db
        .run(move |c| {
            services::register(c, &me, SCHEDULER_BINARY, &zone)?;
            nodes
                .into_iter()
                .map(|(node, host, zone)| {
                    Ok((node, services::register(c, &host, VOLUME_BINARY, &zone)?))
                })
                .collect::<Result<Vec<_>, crate::db::DbError>>()
        })
        .await?;
    for (node, _) in rows.into_iter().filter(|(_, r)| r.disabled) {
        info!(node.id = %node, "node is disabled; it takes no new volumes");
        scheduler
            .send(SetNodeDisabled {
                node: node.into(),
                disabled: true,
            })
            .await?;
    }
    let every = Duration::from_secs(config.scheduler.stats_interval_seconds.max(1));
    let db = db.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(every);
        loop {
            tick.tick().await;
            let host = controller.clone();
            if let Err(e) = db
                .run(move |c| services::heartbeat(c, &host, SCHEDULER_BINARY))
                .await
            {
                warn!(error = %e, "could not record the scheduler's heartbeat");
            }
        }
    });
    Ok(())
}

/// Resumes work a previous run left unfinished: volumes being created or deleted on a
/// node go back to that node; volumes accepted but never placed go back to the scheduler;
/// volumes being deleted that never reached a node are removed; expired quota
/// reservations are released.
pub async fn recover(services: &Services, db: &Db) -> anyhow::Result<()> {
    let expired = db.run(crate::db::quotas::expire).await?;
    let mut resumed = 0;
    for addr in services.nodes.values() {
        resumed += addr.send(RecoverNode).await??;
    }
    // A volume accepted but not yet placed belongs to no node, and nothing records which
    // controller accepted it: with another controller live it may be in that one's
    // scheduler right now, and placing it here too would fail it (the second placement
    // finds it taken, or finds none of its nodes here) and set it to `error`. So only a
    // controller with no live peer resumes them (until the work itself is a row with an
    // owner, issue 16 item 4).
    let peers = db
        .run(|c| crate::db::instances::live_peers(c, InstanceKind::Serve))
        .await?;
    let unplaced = if peers.is_empty() {
        db.run(crate::db::volumes::unscheduled).await?
    } else {
        info!(
            controllers = ?peers,
            "other controllers are live; volumes not yet placed are left to them"
        );
        Vec::new()
    };
    for row in &unplaced {
        let Ok(volume_id) = row.id.parse() else {
            warn!(volume.id = %row.id, "unreadable unscheduled volume left as is");
            continue;
        };
        services.scheduler.do_send(ScheduleCreateVolume {
            volume_id,
            project_id: row.project_id.clone(),
            request_id: RequestId::internal("recovery"),
            spec: row.request_spec.clone(),
        });
    }
    let orphans = db.run(crate::db::volumes::deleting_without_host).await?;
    for id in &orphans {
        let key = id.clone();
        db.run(move |c| crate::db::volumes::destroy_and_release(c, &key))
            .await?;
    }
    if expired + resumed + unplaced.len() + orphans.len() > 0 {
        info!(
            reservations.expired = expired,
            node_volumes.resumed = resumed,
            unscheduled.resumed = unplaced.len(),
            deleting.removed = orphans.len(),
            "recovered unfinished work"
        );
    }
    Ok(())
}

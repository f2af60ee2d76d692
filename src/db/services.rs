//! The service list (`os-services`, cinder-api.md §15): one row per node
//! (`node@backend`, binary `cinder-volume`) and per controller (`cinder-scheduler`).
//! `updated_at` is the heartbeat; `disabled` keeps a node out of scheduling.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::services;
use super::{DbConnection, DbError, Resource, now};

/// Binary name of a storage node's service.
pub const VOLUME_BINARY: &str = "cinder-volume";
/// Binary name of the scheduler's service.
pub const SCHEDULER_BINARY: &str = "cinder-scheduler";

/// A `services` row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = services)]
pub struct ServiceRow {
    /// `node@backend` for nodes, the controller's host name for the scheduler.
    pub host: String,
    /// `cinder-volume` or `cinder-scheduler`.
    pub service_binary: String,
    /// The zone.
    pub availability_zone: String,
    /// Switched off by an operator.
    pub disabled: bool,
    /// Why, if the operator said.
    pub disabled_reason: Option<String>,
    /// First registration.
    pub created_at: NaiveDateTime,
    /// Last heartbeat.
    pub updated_at: Option<NaiveDateTime>,
}

/// The query for one service row.
type OneService<'a> = diesel::dsl::Filter<
    diesel::dsl::Filter<services::table, diesel::dsl::Eq<services::host, &'a str>>,
    diesel::dsl::Eq<services::service_binary, &'a str>,
>;

fn one<'a>(host: &'a str, binary: &'a str) -> OneService<'a> {
    services::table
        .filter(services::host.eq(host))
        .filter(services::service_binary.eq(binary))
}

/// Registers a service at start (or refreshes its zone and heartbeat); an operator's
/// `disabled` flag is kept. Returns the row.
pub fn register(
    c: &mut DbConnection,
    host: &str,
    binary: &str,
    zone: &str,
) -> Result<ServiceRow, DbError> {
    let at = now();
    let n = diesel::update(one(host, binary))
        .set((
            services::availability_zone.eq(zone),
            services::updated_at.eq(at),
        ))
        .execute(c)?;
    if n == 0 {
        let inserted = diesel::insert_into(services::table)
            .values(ServiceRow {
                host: host.to_string(),
                service_binary: binary.to_string(),
                availability_zone: zone.to_string(),
                disabled: false,
                disabled_reason: None,
                created_at: at,
                updated_at: Some(at),
            })
            .execute(c);
        // Another controller registered it at the same moment: theirs is as good.
        if let Err(e) = inserted
            && !matches!(
                e,
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _
                )
            )
        {
            return Err(e.into());
        }
    }
    Ok(one(host, binary)
        .select(ServiceRow::as_select())
        .get_result(c)?)
}

/// Records a heartbeat; a service that was never registered is left alone.
pub fn heartbeat(c: &mut DbConnection, host: &str, binary: &str) -> Result<(), DbError> {
    diesel::update(one(host, binary))
        .set(services::updated_at.eq(now()))
        .execute(c)?;
    Ok(())
}

/// Every service, by binary then host.
pub fn list(c: &mut DbConnection) -> Result<Vec<ServiceRow>, DbError> {
    Ok(services::table
        .order((services::service_binary, services::host))
        .select(ServiceRow::as_select())
        .load(c)?)
}

/// Enables or disables a service; enabling clears the reason. `NotFound` if unknown.
pub fn set_disabled(
    c: &mut DbConnection,
    host: &str,
    binary: &str,
    disabled: bool,
    reason: Option<&str>,
) -> Result<ServiceRow, DbError> {
    let n = diesel::update(one(host, binary))
        .set((
            services::disabled.eq(disabled),
            services::disabled_reason.eq(reason),
        ))
        .execute(c)?;
    if n == 0 {
        return Err(DbError::not_found(
            Resource::Service { host: host.into() },
            binary,
        ));
    }
    Ok(one(host, binary)
        .select(ServiceRow::as_select())
        .get_result(c)?)
}

//! The flow journal's table: one row per flow run, per resource.

use diesel::prelude::*;

use super::rows::FlowRunRow;
use super::schema::flow_runs;
use super::{DbConnection, DbError};

/// Stores a batch of finished runs.
pub fn insert(c: &mut DbConnection, runs: &[FlowRunRow]) -> Result<(), DbError> {
    // SQLite caps bound parameters per statement; 11 columns x 500 rows stays under it.
    for chunk in runs.chunks(500) {
        crate::on_backend!(c, |c| diesel::insert_into(flow_runs::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// A resource's runs in order. `project` limits them to one project (non-admins).
pub fn for_resource(
    c: &mut DbConnection,
    resource_id: &str,
    project: Option<&str>,
) -> Result<Vec<FlowRunRow>, DbError> {
    let mut q = flow_runs::table
        .filter(flow_runs::resource_id.eq(resource_id))
        .into_boxed();
    if let Some(p) = project {
        q = q.filter(flow_runs::project_id.eq(p));
    }
    Ok(q.order(flow_runs::seq.asc())
        .select(FlowRunRow::as_select())
        .load(c)?)
}

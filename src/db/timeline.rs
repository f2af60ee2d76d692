//! The flow journal's table: every flow and task transition, per resource.

use diesel::prelude::*;

use super::rows::TimelineEventRow;
use super::schema::timeline_events;
use super::{DbConnection, DbError};

/// Stores a batch of events in one statement.
pub fn insert(c: &mut DbConnection, events: &[TimelineEventRow]) -> Result<(), DbError> {
    if events.is_empty() {
        return Ok(());
    }
    // SQLite caps bound parameters per statement; 11 columns x 500 rows stays well under.
    for chunk in events.chunks(500) {
        crate::on_backend!(c, |c| diesel::insert_into(timeline_events::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// A resource's events in order. `project` limits them to one project (non-admins).
pub fn for_resource(
    c: &mut DbConnection,
    resource_id: &str,
    project: Option<&str>,
) -> Result<Vec<TimelineEventRow>, DbError> {
    let mut q = timeline_events::table
        .filter(timeline_events::resource_id.eq(resource_id))
        .into_boxed();
    if let Some(p) = project {
        q = q.filter(timeline_events::project_id.eq(p));
    }
    Ok(q.order(timeline_events::seq.asc())
        .select(TimelineEventRow::as_select())
        .load(c)?)
}

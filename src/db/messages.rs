//! User messages: what went wrong with an asynchronous request (Cinder's messages API).

use diesel::prelude::*;

use super::rows::MessageRow;
use super::schema::messages;
use super::{DbConnection, DbError};

/// Stores one message.
pub fn insert(c: &mut DbConnection, row: &MessageRow) -> Result<(), DbError> {
    diesel::insert_into(messages::table)
        .values(row)
        .execute(c)?;
    Ok(())
}

/// The messages about one resource, newest first. `project` limits them (non-admins).
pub fn for_resource(
    c: &mut DbConnection,
    resource_uuid: &str,
    project: Option<&str>,
) -> Result<Vec<MessageRow>, DbError> {
    let mut q = messages::table
        .filter(messages::resource_uuid.eq(resource_uuid))
        .into_boxed();
    if let Some(p) = project {
        q = q.filter(messages::project_id.eq(p));
    }
    Ok(q.order(messages::created_at.desc())
        .select(MessageRow::as_select())
        .load(c)?)
}

/// Deletes messages past their expiry; returns how many.
pub fn reap(c: &mut DbConnection) -> Result<usize, DbError> {
    Ok(diesel::delete(messages::table.filter(messages::expires_at.lt(super::now()))).execute(c)?)
}

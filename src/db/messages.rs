//! User messages: what went wrong with an asynchronous request (Cinder's messages API).

use diesel::prelude::*;

use super::rows::MessageRow;
use super::schema::messages;
use super::{DbConnection, DbError, Found, Resource};

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

/// What a message list filters on (Cinder's allowed message filters); all ANDed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    /// Only this project (`None`: every project, admins only).
    pub project: Option<String>,
    /// `resource_uuid`.
    pub resource_uuid: Option<String>,
    /// `resource_type`.
    pub resource_type: Option<String>,
    /// `event_id`.
    pub event_id: Option<String>,
    /// `request_id`.
    pub request_id: Option<String>,
    /// `message_level`.
    pub message_level: Option<String>,
}

/// The messages a filter selects, newest first (the API layer sorts and pages).
pub fn list(c: &mut DbConnection, f: &MessageFilter) -> Result<Vec<MessageRow>, DbError> {
    let mut q = messages::table.into_boxed();
    if let Some(p) = &f.project {
        q = q.filter(messages::project_id.eq(p));
    }
    if let Some(v) = &f.resource_uuid {
        q = q.filter(messages::resource_uuid.eq(v));
    }
    if let Some(v) = &f.resource_type {
        q = q.filter(messages::resource_type.eq(v));
    }
    if let Some(v) = &f.event_id {
        q = q.filter(messages::event_id.eq(v));
    }
    if let Some(v) = &f.request_id {
        q = q.filter(messages::request_id.eq(v));
    }
    if let Some(v) = &f.message_level {
        q = q.filter(messages::message_level.eq(v));
    }
    Ok(q.order((messages::created_at.desc(), messages::id.desc()))
        .select(MessageRow::as_select())
        .load(c)?)
}

/// One message; `project` (non-admins) hides other projects' messages.
pub fn get(c: &mut DbConnection, id: &str, project: Option<&str>) -> Result<MessageRow, DbError> {
    let mut q = messages::table.filter(messages::id.eq(id)).into_boxed();
    if let Some(p) = project {
        q = q.filter(messages::project_id.eq(p));
    }
    q.select(MessageRow::as_select())
        .get_result(c)
        .found(Resource::Message, id)
}

/// Deletes one message; `NotFound` if it is not there (or not the caller's project's).
pub fn delete(c: &mut DbConnection, id: &str, project: Option<&str>) -> Result<(), DbError> {
    let mut q = diesel::delete(messages::table.filter(messages::id.eq(id))).into_boxed();
    if let Some(p) = project {
        q = q.filter(messages::project_id.eq(p));
    }
    if q.execute(c)? == 1 {
        Ok(())
    } else {
        Err(DbError::not_found(Resource::Message, id))
    }
}

//! `DbError`: what the database layer can report.

use std::fmt;

/// What a lookup was for: a `NotFound` carries it from the query that missed, so no
/// caller rebuilds Cinder's "... could not be found." text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// A volume.
    Volume,
    /// A snapshot.
    Snapshot,
    /// An attachment, as the attachments API (3.27) names it.
    Attachment,
    /// An attachment named in a volume action (`os-detach`).
    VolumeAttachment,
    /// A volume type, by id.
    VolumeType,
    /// A volume type a caller named (by name or id) to use it.
    VolumeTypeName,
    /// A QoS specs entry.
    QosSpecs,
    /// A user message.
    Message,
    /// A volume transfer.
    Transfer,
    /// A volume type's encryption; the id is the type's.
    Encryption,
    /// A group type, by id.
    GroupType,
    /// A group type's spec; the id is the key.
    GroupTypeSpec {
        /// The group type's id.
        group_type: String,
    },
    /// A generic volume group.
    Group,
    /// A group snapshot.
    GroupSnapshot,
    /// A volume's metadata item; the id is the key.
    VolumeMetadata {
        /// The volume.
        volume: String,
    },
    /// A snapshot's metadata item; the id is the key.
    SnapshotMetadata {
        /// The snapshot.
        snapshot: String,
    },
    /// A type's extra spec; the id is the key.
    ExtraSpec {
        /// The type's id.
        volume_type: String,
    },
    /// A project's access to a private type; the id is the project.
    TypeAccess {
        /// The type's id.
        volume_type: String,
    },
    /// A project's default type; the id is the project.
    DefaultType,
    /// A service; the id is its binary.
    Service {
        /// The host it runs on.
        host: String,
    },
    /// A row whose query did not say what it was (diesel's own `NotFound`); reads as
    /// Cinder's generic "Resource".
    Row,
}

impl Resource {
    /// Cinder's 404 text for `id` of this kind.
    pub fn not_found(&self, id: impl fmt::Display) -> String {
        match self {
            Resource::Volume => format!("Volume {id} could not be found."),
            Resource::Snapshot => format!("Snapshot {id} could not be found."),
            Resource::Attachment => format!("VolumeAttachment {id} could not be found."),
            Resource::VolumeAttachment => format!("Volume attachment {id} could not be found."),
            Resource::VolumeType => format!("Volume type {id} could not be found."),
            Resource::VolumeTypeName => {
                format!("Volume type with name {id} could not be found.")
            }
            Resource::QosSpecs => format!("No such QoS spec {id}."),
            Resource::Message => format!("Message {id} could not be found."),
            Resource::Transfer => format!("Transfer {id} could not be found."),
            Resource::Encryption => {
                format!("Volume type encryption for type {id} does not exist.")
            }
            Resource::GroupType => format!("Group type {id} could not be found."),
            Resource::GroupTypeSpec { group_type } => {
                format!("Group Type {group_type} has no specs with key {id}.")
            }
            Resource::Group => format!("Group {id} could not be found."),
            Resource::GroupSnapshot => format!("GroupSnapshot {id} could not be found."),
            Resource::VolumeMetadata { volume } => {
                format!("Volume {volume} has no metadata with key {id}.")
            }
            Resource::SnapshotMetadata { snapshot } => {
                format!("Snapshot {snapshot} has no metadata with key {id}.")
            }
            Resource::ExtraSpec { volume_type } => {
                format!("Volume Type {volume_type} has no extra specs with key {id}.")
            }
            Resource::TypeAccess { volume_type } => {
                format!("Volume type access not found for {volume_type} / {id} combination.")
            }
            Resource::DefaultType => format!("Default type for project {id} not found."),
            Resource::Service { host } => format!("Could not find binary {id} on host {host}."),
            Resource::Row => format!("Resource {id} could not be found."),
        }
    }
}

/// A quota that a reservation would exceed, with the figures Cinder puts in its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaExceeded {
    /// The resource (`volumes`, `gigabytes`, `per_volume_gigabytes`).
    pub resource: String,
    /// The limit in force.
    pub limit: i64,
    /// Committed usage.
    pub in_use: i64,
    /// Reserved but not yet committed.
    pub reserved: i64,
    /// What the request asked for.
    pub requested: i64,
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No row matched: what was looked for, and by which id (or name, or marker).
    #[error("{}", .kind.not_found(.id))]
    NotFound {
        /// What the query was for.
        kind: Resource,
        /// The id asked for.
        id: String,
    },
    /// A compare-and-set matched no row: someone else changed it first, or it is in
    /// the wrong state.
    #[error("the row changed or is in another state")]
    Conflict,
    /// The row is in use by another operation that must finish first (a volume being
    /// cloned).
    #[error("the row is busy")]
    Busy,
    /// A write would leave more metadata items (or extra specs, or QoS specs) on one
    /// resource than allowed; raised inside the write's transaction, so nothing is kept.
    #[error("too many items: {count}, at most {max}")]
    TooManyItems {
        /// How many the write would leave.
        count: i64,
        /// The most allowed.
        max: usize,
    },
    /// A reservation would exceed a quota.
    #[error("quota exceeded for {}", .0.resource)]
    OverQuota(QuotaExceeded),
    /// A node could not be claimed: a live instance holds it.
    #[error(
        "node {node} is held by instance {} ({} on host {}, pid {}, lease until {} UTC); \
         stop that process or wait for its lease to lapse",
        .holder.id, .holder.kind, .holder.host, .holder.pid, .holder.lease_expires_at
    )]
    NodeHeld {
        /// The node.
        node: String,
        /// Who holds it.
        holder: Box<super::claims::Holder>,
    },
    /// A node's write from an instance that no longer holds the node at this epoch (it
    /// was taken over): nothing was written.
    #[error("node {node} is no longer held at epoch {epoch}; the write was refused")]
    Fenced {
        /// The node.
        node: String,
        /// The stale epoch.
        epoch: i64,
    },
    /// The database URL or settings are wrong.
    #[error("{0}")]
    Config(String),
    /// No connection could be had.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// A stored value could not be read back (bad JSON, unknown status).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error(transparent)]
    Query(diesel::result::Error),
}

/// A query that did not name what it looked for (no [`Found::found`]) misses as a
/// [`Resource::Row`].
impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => DbError::NotFound {
                kind: Resource::Row,
                id: String::new(),
            },
            // A stored value the row type cannot read (an unknown status, `db::columns`):
            // its causes name the field and the value, which `Query`'s text would drop.
            diesel::result::Error::DeserializationError(e) => {
                let mut text = e.to_string();
                let mut cause = e.source();
                while let Some(c) = cause {
                    text = format!("{text}: {c}");
                    cause = c.source();
                }
                DbError::Corrupt(text)
            }
            other => DbError::Query(other),
        }
    }
}

impl DbError {
    /// No `kind` with this `id`.
    pub fn not_found(kind: Resource, id: impl ToString) -> DbError {
        DbError::NotFound {
            kind,
            id: id.to_string(),
        }
    }
}

/// Names what a query looks for, so a missing row says which one.
pub trait Found<T> {
    /// diesel's `NotFound` becomes a `NotFound` of `kind` with `id`.
    fn found(self, kind: Resource, id: &str) -> Result<T, DbError>;
}

impl<T> Found<T> for Result<T, diesel::result::Error> {
    fn found(self, kind: Resource, id: &str) -> Result<T, DbError> {
        self.map_err(|e| match e {
            diesel::result::Error::NotFound => DbError::not_found(kind, id),
            other => other.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Resource;

    #[test]
    fn each_kind_speaks_cinders_words() {
        let cases = [
            (Resource::Volume, "Volume v could not be found."),
            (Resource::Snapshot, "Snapshot v could not be found."),
            (
                Resource::Attachment,
                "VolumeAttachment v could not be found.",
            ),
            (Resource::VolumeType, "Volume type v could not be found."),
            (
                Resource::VolumeTypeName,
                "Volume type with name v could not be found.",
            ),
            (Resource::QosSpecs, "No such QoS spec v."),
            (Resource::Message, "Message v could not be found."),
            (
                Resource::VolumeMetadata { volume: "a".into() },
                "Volume a has no metadata with key v.",
            ),
            (
                Resource::SnapshotMetadata {
                    snapshot: "a".into(),
                },
                "Snapshot a has no metadata with key v.",
            ),
            (
                Resource::ExtraSpec {
                    volume_type: "a".into(),
                },
                "Volume Type a has no extra specs with key v.",
            ),
            (
                Resource::TypeAccess {
                    volume_type: "a".into(),
                },
                "Volume type access not found for a / v combination.",
            ),
            (
                Resource::DefaultType,
                "Default type for project v not found.",
            ),
            (
                Resource::Service { host: "a".into() },
                "Could not find binary v on host a.",
            ),
        ];
        for (kind, text) in cases {
            assert_eq!(kind.not_found("v"), text);
        }
    }
}

//! Domain types shared by every layer: ids, statuses, the request context.
//!
//! Nothing here knows about actix or HTTP, so any room may depend on it. Of diesel, the
//! string enums only derive that they are TEXT columns; how they are read and written
//! (and what an unknown value in the database does) is `crate::db::columns`.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod host;
pub mod ids;
pub mod spec;

pub use host::Host;
pub use ids::{NodeName, ProjectId, SnapshotId, VolumeId};

/// The id that ties logs, the timeline and user messages to one API request
/// (`req-<uuid>`, as oslo's request-id middleware makes them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub String);

impl RequestId {
    /// A fresh `req-<uuid>` id.
    pub fn new() -> Self {
        Self(format!("req-{}", Uuid::new_v4()))
    }

    /// An id for work that no API request started (recovery, periodic tasks).
    pub fn internal(what: &str) -> Self {
        Self(format!("{what}-{}", Uuid::new_v4()))
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who is asking. Built by the HTTP layer from the token, carried by every message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The caller's user id.
    pub user_id: String,
    /// The caller's project id (the owner of anything it creates).
    pub project_id: ProjectId,
    /// Admins may see and act on every project.
    pub is_admin: bool,
    /// The caller's roles, lower case as Keystone returns them, implied roles included
    /// (`admin` implies `member` implies `reader` in Keystone's defaults). Policy rules
    /// (`role:reader`) are checked against these.
    pub roles: Vec<String>,
    /// This request's id.
    pub request_id: RequestId,
}

/// Declares an enum whose values are Cinder's strings: each text is given once, and
/// serde (the wire) and strum (`as_str`, `Display`, `FromStr`, `ALL`) both take it from
/// there.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize,
            diesel::AsExpression, diesel::FromSqlRow,
            strum::IntoStaticStr, strum::Display, strum::EnumString, strum::VariantArray,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        #[strum(parse_err_ty = UnknownValue, parse_err_fn = UnknownValue::of)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] #[strum(serialize = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = <$name as strum::VariantArray>::VARIANTS;

            /// The exact string Cinder uses on the wire and in its database.
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }

        // Comparing with the Cinder spelling keeps tests and wire checks readable.
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

/// A string that names no value of the enum it was parsed as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value '{0}'")]
pub struct UnknownValue(pub String);

impl UnknownValue {
    /// strum's `parse_err_fn`: the refused text.
    fn of(s: &str) -> Self {
        UnknownValue(s.to_owned())
    }
}

string_enum! {
    /// A volume's `status`, spelled exactly as Cinder's `fields.VolumeStatus`.
    VolumeStatus {
        Creating => "creating",
        Available => "available",
        Reserved => "reserved",
        Attaching => "attaching",
        InUse => "in-use",
        Detaching => "detaching",
        Maintenance => "maintenance",
        Deleting => "deleting",
        AwaitingTransfer => "awaiting-transfer",
        Error => "error",
        ErrorDeleting => "error_deleting",
        ErrorExtending => "error_extending",
        ErrorRestoring => "error_restoring",
        BackingUp => "backing-up",
        ErrorBackingUp => "error_backing-up",
        RestoringBackup => "restoring-backup",
        Downloading => "downloading",
        Uploading => "uploading",
        Retyping => "retyping",
        Extending => "extending",
        Reverting => "reverting",
    }
}

/// What a volume is first: `creating` (only rows built in tests rely on it).
impl Default for VolumeStatus {
    fn default() -> Self {
        VolumeStatus::Creating
    }
}

impl VolumeStatus {
    /// States from which a plain `DELETE` is accepted (cinder-api.md §4.7).
    pub const DELETABLE: &'static [VolumeStatus] = &[
        VolumeStatus::Available,
        VolumeStatus::Error,
        VolumeStatus::ErrorRestoring,
        VolumeStatus::ErrorExtending,
    ];

    /// One of the `error*` statuses, which no attachment may be made or connected from.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            VolumeStatus::Error
                | VolumeStatus::ErrorDeleting
                | VolumeStatus::ErrorExtending
                | VolumeStatus::ErrorRestoring
                | VolumeStatus::ErrorBackingUp
        )
    }
}

string_enum! {
    /// A snapshot's `status`, spelled exactly as Cinder's `fields.SnapshotStatus`
    /// (cinder-api.md §7.3).
    SnapshotStatus {
        Creating => "creating",
        Available => "available",
        Deleting => "deleting",
        Error => "error",
        ErrorDeleting => "error_deleting",
        Updating => "updating",
        Unmanaging => "unmanaging",
        BackingUp => "backing-up",
        Restoring => "restoring",
    }
}

string_enum! {
    /// A volume's `attach_status` (stored, not shown in the volume view), spelled as
    /// Cinder's `fields.VolumeAttachStatus`; a volume takes the first of its
    /// attachments' states, so `detaching` is stored too.
    AttachStatus {
        Detached => "detached",
        Reserved => "reserved",
        Attaching => "attaching",
        Attached => "attached",
        Detaching => "detaching",
        ErrorAttaching => "error_attaching",
        ErrorDetaching => "error_detaching",
    }
}

/// What a volume is first: `detached` (only rows built in tests rely on it).
impl Default for AttachStatus {
    fn default() -> Self {
        AttachStatus::Detached
    }
}

string_enum! {
    /// The state of a flow or of one task in it, as taskflow names them.
    FlowState {
        Pending => "PENDING",
        Running => "RUNNING",
        Success => "SUCCESS",
        Failure => "FAILURE",
        Reverting => "REVERTING",
        Reverted => "REVERTED",
    }
}

/// The quota resources Clinker counts.
pub mod quota {
    /// Number of volumes.
    pub const VOLUMES: &str = "volumes";
    /// GiB of volumes and snapshots.
    pub const GIGABYTES: &str = "gigabytes";
    /// Number of snapshots.
    pub const SNAPSHOTS: &str = "snapshots";
    /// A limit on a single volume's size; never reserved.
    pub const PER_VOLUME_GIGABYTES: &str = "per_volume_gigabytes";
    /// Number of backups (shown; Clinker has no backups yet).
    pub const BACKUPS: &str = "backups";
    /// GiB of backups (shown; Clinker has no backups yet).
    pub const BACKUP_GIGABYTES: &str = "backup_gigabytes";
    /// Number of groups (shown; Clinker has no groups yet).
    pub const GROUPS: &str = "groups";
    /// Per-type volume count: `volumes_<type name>`.
    pub const VOLUMES_PREFIX: &str = "volumes_";
    /// Per-type GiB: `gigabytes_<type name>`.
    pub const GIGABYTES_PREFIX: &str = "gigabytes_";
    /// Per-type snapshot count: `snapshots_<type name>`.
    pub const SNAPSHOTS_PREFIX: &str = "snapshots_";

    /// What one volume of `size` GiB and type `type_name` counts against: `volumes` and
    /// `gigabytes`, and the same for its type (`volumes_<type>`, `gigabytes_<type>`), as
    /// Cinder's `add_volume_type_opts` does. Reserved on create, released on delete.
    pub fn volume_deltas(type_name: &str, size: i64) -> Vec<(String, i64)> {
        vec![
            (VOLUMES.to_string(), 1),
            (GIGABYTES.to_string(), size),
            (format!("{VOLUMES_PREFIX}{type_name}"), 1),
            (format!("{GIGABYTES_PREFIX}{type_name}"), size),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_cinder_spelling() {
        for s in VolumeStatus::ALL {
            assert_eq!(s.as_str().parse::<VolumeStatus>(), Ok(*s));
        }
        assert_eq!(VolumeStatus::InUse.as_str(), "in-use");
        assert!("In-Use".parse::<VolumeStatus>().is_err());
        for s in SnapshotStatus::ALL {
            assert_eq!(s.as_str().parse::<SnapshotStatus>(), Ok(*s));
        }
        assert_eq!(SnapshotStatus::ErrorDeleting.as_str(), "error_deleting");
    }

    /// serde (the wire) and strum (`as_str`, `Display`, `FromStr`) spell every value
    /// alike.
    fn spelled_alike<T>(all: &[T]) -> Result<(), serde_json::Error>
    where
        T: Copy
            + Serialize
            + fmt::Display
            + std::str::FromStr
            + PartialEq
            + fmt::Debug
            + Into<&'static str>,
    {
        for &v in all {
            let text: &'static str = v.into();
            assert_eq!(serde_json::to_string(&v)?, format!("\"{text}\""));
            assert_eq!(v.to_string(), text);
            assert!(text.parse::<T>().is_ok_and(|p| p == v), "{text}");
        }
        Ok(())
    }

    #[test]
    fn serde_and_strum_spell_every_status_alike() -> Result<(), serde_json::Error> {
        spelled_alike(VolumeStatus::ALL)?;
        spelled_alike(SnapshotStatus::ALL)?;
        spelled_alike(AttachStatus::ALL)?;
        spelled_alike(FlowState::ALL)?;
        assert_eq!(AttachStatus::ALL.len(), 7);
        assert_eq!(
            "nope".parse::<AttachStatus>(),
            Err(UnknownValue("nope".into()))
        );
        assert_eq!(FlowState::Success.as_str(), "SUCCESS");
        assert_eq!(VolumeStatus::ErrorBackingUp.to_string(), "error_backing-up");
        Ok(())
    }

    #[test]
    fn error_statuses_are_those_cinder_spells_with_error() {
        for s in VolumeStatus::ALL {
            assert_eq!(s.is_error(), s.as_str().contains("error"), "{s}");
        }
    }

    #[test]
    fn volume_backend_name_uses_cinders_template() -> Result<(), uuid::Error> {
        let id: VolumeId = "2b955850-f177-45f7-9f49-ecb2c256d161".parse()?;
        assert_eq!(
            id.backend_name(),
            "volume-2b955850-f177-45f7-9f49-ecb2c256d161"
        );
        Ok(())
    }
}

//! Cinder's default rules, by Cinder's names (`cinder/policies/*.py`, the current defaults,
//! not the deprecated ones they replaced).
//!
//! Cinder's defaults lean on a few base rules (`base.py`): reads take
//! `xena_system_admin_or_project_reader`, writes `xena_system_admin_or_project_member`,
//! the admin API `admin_api`. A policy file may override any of them, base rules
//! included, and every rule naming a base rule follows.

/// `admin_api`, Cinder's rule for the admin API.
const ADMIN: &str = "rule:admin_api";
/// Cinder's `SYSTEM_READER_OR_PROJECT_READER` (`xena_system_admin_or_project_reader`).
const READER: &str = "rule:xena_system_admin_or_project_reader";
/// Cinder's `SYSTEM_ADMIN_OR_PROJECT_MEMBER` (`xena_system_admin_or_project_member`).
const MEMBER: &str = "rule:xena_system_admin_or_project_member";

/// The base rules (`cinder/policies/base.py`) that the actions' defaults name.
pub const BASE_RULES: &[(&str, &str)] = &[
    // What makes a context an admin one (`is_admin:True` and the all-projects views).
    ("context_is_admin", "role:admin"),
    // Keystone's `is_admin_project` is true when no admin project is configured, which is
    // how Clinker's credentials always read, so this is `role:admin` unless overridden.
    (
        "admin_api",
        "is_admin:True or (role:admin and is_admin_project:True)",
    ),
    (
        "admin_or_owner",
        "is_admin:True or (role:admin and is_admin_project:True) or project_id:%(project_id)s",
    ),
    (
        "xena_system_admin_or_project_reader",
        "(role:admin) or (role:reader and project_id:%(project_id)s)",
    ),
    (
        "xena_system_admin_or_project_member",
        "(role:admin) or (role:member and project_id:%(project_id)s)",
    ),
    (
        "system_or_domain_or_project_admin",
        "(role:admin and system_scope:all) or (role:admin and domain_id:%(domain_id)s) or \
         (role:admin and project_id:%(project_id)s)",
    ),
];

/// Declares [`Action`] from one list: variant, Cinder's name, default rule.
macro_rules! actions {
    ($($variant:ident => $name:literal, $default:expr;)*) => {
        /// An operation a handler authorizes, by Cinder's policy name. A typed list, so a
        /// handler cannot name a rule the table lacks.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $(#[doc = concat!("`", $name, "`")] $variant,)*
        }

        impl Action {
            /// Every action, in declaration order.
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            /// Cinder's policy name, the key a policy file overrides it by.
            pub fn name(self) -> &'static str {
                match self { $(Action::$variant => $name),* }
            }

            /// Cinder's default rule.
            pub fn default_rule(self) -> &'static str {
                match self { $(Action::$variant => $default),* }
            }
        }
    };
}

actions! {
    // cinder/policies/volumes.py
    VolumeCreate => "volume:create", MEMBER;
    VolumeCreateFromImage => "volume:create_from_image", MEMBER;
    VolumeGet => "volume:get", READER;
    VolumeGetAll => "volume:get_all", READER;
    VolumeUpdate => "volume:update", MEMBER;
    VolumeDelete => "volume:delete", MEMBER;
    VolumeForceDelete => "volume:force_delete", ADMIN;
    VolumeHostAttribute => "volume_extension:volume_host_attribute", ADMIN;
    VolumeTenantAttribute => "volume_extension:volume_tenant_attribute", READER;
    VolumeMigStatusAttribute => "volume_extension:volume_mig_status_attribute", ADMIN;
    VolumeMultiattach => "volume:multiattach", MEMBER;
    // cinder/policies/volume_metadata.py
    VolumeMetadataGet => "volume:get_volume_metadata", READER;
    VolumeMetadataCreate => "volume:create_volume_metadata", MEMBER;
    VolumeMetadataUpdate => "volume:update_volume_metadata", MEMBER;
    VolumeMetadataDelete => "volume:delete_volume_metadata", MEMBER;
    // cinder/policies/volume_actions.py
    VolumeExtend => "volume:extend", MEMBER;
    VolumeExtendAttached => "volume:extend_attached_volume", MEMBER;
    VolumeExtendCompletion => "volume_extension:volume_admin_actions:extend_volume_completion", ADMIN;
    VolumeRevert => "volume:revert_to_snapshot", MEMBER;
    VolumeResetStatus => "volume_extension:volume_admin_actions:reset_status", ADMIN;
    VolumeRetype => "volume:retype", MEMBER;
    VolumeUpdateReadonly => "volume:update_readonly_flag", MEMBER;
    VolumeAdminForceDelete => "volume_extension:volume_admin_actions:force_delete", ADMIN;
    VolumeForceDetach => "volume_extension:volume_admin_actions:force_detach", ADMIN;
    VolumeMigrate => "volume_extension:volume_admin_actions:migrate_volume", ADMIN;
    VolumeMigrateCompletion => "volume_extension:volume_admin_actions:migrate_volume_completion", ADMIN;
    VolumeUploadImage => "volume_extension:volume_actions:upload_image", MEMBER;
    VolumeUploadPublic => "volume_extension:volume_actions:upload_public", ADMIN;
    VolumeAttach => "volume_extension:volume_actions:attach", MEMBER;
    VolumeDetach => "volume_extension:volume_actions:detach", MEMBER;
    VolumeBeginDetaching => "volume_extension:volume_actions:begin_detaching", MEMBER;
    VolumeRollDetaching => "volume_extension:volume_actions:roll_detaching", MEMBER;
    VolumeReserve => "volume_extension:volume_actions:reserve", MEMBER;
    VolumeUnreserve => "volume_extension:volume_actions:unreserve", MEMBER;
    VolumeInitializeConnection => "volume_extension:volume_actions:initialize_connection", MEMBER;
    VolumeTerminateConnection => "volume_extension:volume_actions:terminate_connection", MEMBER;
    // cinder/policies/snapshots.py, snapshot_actions.py, snapshot_metadata.py
    SnapshotGet => "volume:get_snapshot", READER;
    SnapshotGetAll => "volume:get_all_snapshots", READER;
    SnapshotCreate => "volume:create_snapshot", MEMBER;
    SnapshotUpdate => "volume:update_snapshot", MEMBER;
    SnapshotDelete => "volume:delete_snapshot", MEMBER;
    SnapshotExtendedAttributes => "volume_extension:extended_snapshot_attributes", READER;
    SnapshotResetStatus => "volume_extension:snapshot_admin_actions:reset_status", ADMIN;
    SnapshotForceDelete => "volume_extension:snapshot_admin_actions:force_delete", ADMIN;
    SnapshotUpdateStatus => "snapshot_extension:snapshot_actions:update_snapshot_status", MEMBER;
    SnapshotMetadataGet => "volume:get_snapshot_metadata", READER;
    SnapshotMetadataUpdate => "volume:update_snapshot_metadata", MEMBER;
    SnapshotMetadataDelete => "volume:delete_snapshot_metadata", MEMBER;
    // cinder/policies/attachments.py
    AttachmentCreate => "volume:attachment_create", MEMBER;
    AttachmentUpdate => "volume:attachment_update", MEMBER;
    AttachmentDelete => "volume:attachment_delete", MEMBER;
    AttachmentComplete => "volume:attachment_complete", MEMBER;
    AttachmentMultiattachBootable => "volume:multiattach_bootable_volume", MEMBER;
    // cinder/policies/volume_type.py, type_extra_specs.py, volume_access.py
    TypeCreate => "volume_extension:type_create", ADMIN;
    TypeUpdate => "volume_extension:type_update", ADMIN;
    TypeDelete => "volume_extension:type_delete", ADMIN;
    // cinder/policies/volume_type.py: encryption types, every call the admin's.
    EncryptionCreate => "volume_extension:volume_type_encryption:create", ADMIN;
    EncryptionGet => "volume_extension:volume_type_encryption:get", ADMIN;
    EncryptionUpdate => "volume_extension:volume_type_encryption:update", ADMIN;
    EncryptionDelete => "volume_extension:volume_type_encryption:delete", ADMIN;
    TypeGet => "volume_extension:type_get", READER;
    TypeGetAll => "volume_extension:type_get_all", READER;
    TypeQosSpecsId => "volume_extension:access_types_qos_specs_id", ADMIN;
    TypeExtraSpecs => "volume_extension:access_types_extra_specs", READER;
    ExtraSpecsIndex => "volume_extension:types_extra_specs:index", READER;
    ExtraSpecsShow => "volume_extension:types_extra_specs:show", READER;
    ExtraSpecsCreate => "volume_extension:types_extra_specs:create", ADMIN;
    ExtraSpecsUpdate => "volume_extension:types_extra_specs:update", ADMIN;
    ExtraSpecsDelete => "volume_extension:types_extra_specs:delete", ADMIN;
    ExtraSpecsReadSensitive => "volume_extension:types_extra_specs:read_sensitive", ADMIN;
    TypeAccess => "volume_extension:volume_type_access", MEMBER;
    TypeAccessList => "volume_extension:volume_type_access:get_all_for_type", ADMIN;
    TypeAccessAdd => "volume_extension:volume_type_access:addProjectAccess", ADMIN;
    TypeAccessRemove => "volume_extension:volume_type_access:removeProjectAccess", ADMIN;
    // cinder/policies/default_types.py
    DefaultTypeSet => "volume_extension:default_set_or_update", ADMIN;
    DefaultTypeGet => "volume_extension:default_get", ADMIN;
    DefaultTypeGetAll => "volume_extension:default_get_all", ADMIN;
    DefaultTypeUnset => "volume_extension:default_unset", ADMIN;
    // cinder/policies/qos_specs.py
    QosGetAll => "volume_extension:qos_specs_manage:get_all", ADMIN;
    QosGet => "volume_extension:qos_specs_manage:get", ADMIN;
    QosCreate => "volume_extension:qos_specs_manage:create", ADMIN;
    QosUpdate => "volume_extension:qos_specs_manage:update", ADMIN;
    QosDelete => "volume_extension:qos_specs_manage:delete", ADMIN;
    // cinder/policies/quotas.py, quota_class.py, limits.py
    QuotaShow => "volume_extension:quotas:show", READER;
    QuotaUpdate => "volume_extension:quotas:update", ADMIN;
    QuotaDelete => "volume_extension:quotas:delete", ADMIN;
    QuotaClassGet => "volume_extension:quota_classes:get", ADMIN;
    QuotaClassUpdate => "volume_extension:quota_classes:update", ADMIN;
    UsedLimits => "limits_extension:used_limits", READER;
    // cinder/policies/services.py, scheduler_stats.py, capabilities.py, hosts.py
    ServicesIndex => "volume_extension:services:index", ADMIN;
    ServicesUpdate => "volume_extension:services:update", ADMIN;
    SchedulerGetPools => "scheduler_extension:scheduler_stats:get_pools", ADMIN;
    Capabilities => "volume_extension:capabilities", ADMIN;
    Hosts => "volume_extension:hosts", ADMIN;
    // cinder/policies/manageable_volumes.py, manageable_snapshots.py
    VolumeManage => "volume_extension:volume_manage", ADMIN;
    VolumeUnmanage => "volume_extension:volume_unmanage", ADMIN;
    VolumeListManageable => "volume_extension:list_manageable", ADMIN;
    SnapshotManage => "snapshot_extension:snapshot_manage", ADMIN;
    SnapshotUnmanage => "snapshot_extension:snapshot_unmanage", ADMIN;
    SnapshotListManageable => "snapshot_extension:list_manageable", ADMIN;
    // cinder/policies/volume_transfer.py. The accept's target is the taker's project:
    // a member of any project may accept with the key, never owning the volume before.
    TransferGetAll => "volume:get_all_transfers", READER;
    TransferGet => "volume:get_transfer", READER;
    TransferCreate => "volume:create_transfer", MEMBER;
    TransferAccept => "volume:accept_transfer", MEMBER;
    TransferDelete => "volume:delete_transfer", MEMBER;
    // cinder/policies/group_types.py: lists and shows have no rule; the specs in a
    // type's view follow `group:access_group_types_specs`.
    GroupTypeCreate => "group:group_types:create", ADMIN;
    GroupTypeUpdate => "group:group_types:update", ADMIN;
    GroupTypeDelete => "group:group_types:delete", ADMIN;
    GroupTypeSpecsShown => "group:access_group_types_specs", ADMIN;
    GroupSpecGet => "group:group_types_specs:get", ADMIN;
    GroupSpecGetAll => "group:group_types_specs:get_all", ADMIN;
    GroupSpecCreate => "group:group_types_specs:create", ADMIN;
    GroupSpecUpdate => "group:group_types_specs:update", ADMIN;
    GroupSpecDelete => "group:group_types_specs:delete", ADMIN;
    // cinder/policies/groups.py, group_actions.py
    GroupCreate => "group:create", MEMBER;
    GroupGet => "group:get", READER;
    GroupGetAll => "group:get_all", READER;
    GroupUpdate => "group:update", MEMBER;
    GroupDelete => "group:delete", MEMBER;
    GroupResetStatus => "group:reset_status", ADMIN;
    GroupEnableReplication => "group:enable_replication", MEMBER;
    GroupDisableReplication => "group:disable_replication", MEMBER;
    GroupFailoverReplication => "group:failover_replication", MEMBER;
    GroupListReplicationTargets => "group:list_replication_targets", MEMBER;
    GroupProjectAttribute => "group:group_project_attribute", ADMIN;
    // cinder/policies/messages.py
    MessageGet => "message:get", READER;
    MessageGetAll => "message:get_all", READER;
    MessageDelete => "message:delete", MEMBER;
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{Action, BASE_RULES};

    #[test]
    fn names_are_unique_and_none_is_a_base_rule() {
        let mut seen = BTreeSet::new();
        for (name, _) in BASE_RULES {
            assert!(seen.insert(*name), "{name} twice");
        }
        for a in Action::ALL {
            assert!(seen.insert(a.name()), "{} twice", a.name());
        }
    }
}

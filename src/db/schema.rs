// @generated shape: matches `diesel print-schema` on SQLite for migrations/ (see diesel.toml).
// Keep it in step with the migrations; the DB suite reads every column on both backends.

diesel::table! {
    idempotency_keys (project_id, idem_key) {
        project_id -> Text,
        idem_key -> Text,
        request_path -> Text,
        status -> BigInt,
        response -> Nullable<Text>,
        created_at -> Timestamp,
        request_hash -> Text,
        claimed_by -> Text,
        request_id -> Text,
    }
}

diesel::table! {
    messages (id) {
        id -> Text,
        project_id -> Text,
        request_id -> Text,
        resource_type -> Nullable<Text>,
        resource_uuid -> Nullable<Text>,
        event_id -> Text,
        message_level -> Text,
        user_message -> Text,
        detail -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    quota_classes (class_name, resource) {
        class_name -> Text,
        resource -> Text,
        hard_limit -> BigInt,
    }
}

diesel::table! {
    quota_usages (project_id, resource) {
        project_id -> Text,
        resource -> Text,
        in_use -> BigInt,
        reserved -> BigInt,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    quotas (project_id, resource) {
        project_id -> Text,
        resource -> Text,
        hard_limit -> BigInt,
    }
}

diesel::table! {
    reservations (id) {
        id -> Text,
        project_id -> Text,
        resource -> Text,
        delta -> BigInt,
        expire -> Timestamp,
        created_at -> Timestamp,
        instance_id -> Text,
    }
}

diesel::table! {
    flow_runs (id) {
        id -> Text,
        seq -> BigInt,
        resource_id -> Text,
        project_id -> Text,
        request_id -> Text,
        flow -> Text,
        state -> Text,
        transitions -> Text,
        detail -> Nullable<Text>,
        started_at -> Timestamp,
        finished_at -> Timestamp,
    }
}

diesel::table! {
    volume_metadata (volume_id, meta_key) {
        volume_id -> Text,
        meta_key -> Text,
        meta_value -> Text,
    }
}

diesel::table! {
    volume_type_extra_specs (volume_type_id, spec_key) {
        volume_type_id -> Text,
        spec_key -> Text,
        spec_value -> Text,
    }
}

diesel::table! {
    volume_types (id) {
        id -> Text,
        name -> Text,
        description -> Nullable<Text>,
        is_public -> Bool,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    volumes (id) {
        id -> Text,
        project_id -> Text,
        user_id -> Text,
        display_name -> Nullable<Text>,
        display_description -> Nullable<Text>,
        size -> BigInt,
        status -> Text,
        attach_status -> Text,
        availability_zone -> Text,
        volume_type_id -> Text,
        host -> Nullable<Text>,
        bootable -> Bool,
        multiattach -> Bool,
        snapshot_id -> Nullable<Text>,
        source_volid -> Nullable<Text>,
        provider_location -> Nullable<Text>,
        request_spec -> Text,
        request_id -> Text,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
        scheduled_at -> Nullable<Timestamp>,
        launched_at -> Nullable<Timestamp>,
        previous_status -> Nullable<Text>,
    }
}

diesel::table! {
    snapshots (id) {
        id -> Text,
        volume_id -> Text,
        project_id -> Text,
        user_id -> Text,
        status -> Text,
        progress -> Text,
        volume_size -> BigInt,
        display_name -> Nullable<Text>,
        display_description -> Nullable<Text>,
        volume_type_id -> Text,
        provider_location -> Nullable<Text>,
        request_id -> Text,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    snapshot_metadata (snapshot_id, meta_key) {
        snapshot_id -> Text,
        meta_key -> Text,
        meta_value -> Text,
    }
}

diesel::table! {
    volume_attachment (id) {
        id -> Text,
        volume_id -> Text,
        project_id -> Text,
        instance_uuid -> Nullable<Text>,
        attached_host -> Nullable<Text>,
        mountpoint -> Nullable<Text>,
        attach_status -> Text,
        attach_mode -> Nullable<Text>,
        connection_info -> Nullable<Text>,
        connector -> Nullable<Text>,
        attach_time -> Nullable<Timestamp>,
        detach_time -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    volume_admin_metadata (volume_id, meta_key) {
        volume_id -> Text,
        meta_key -> Text,
        meta_value -> Text,
    }
}

diesel::joinable!(volume_metadata -> volumes (volume_id));
diesel::joinable!(snapshots -> volumes (volume_id));
diesel::joinable!(snapshot_metadata -> snapshots (snapshot_id));
diesel::joinable!(volume_attachment -> volumes (volume_id));
diesel::joinable!(volume_admin_metadata -> volumes (volume_id));
diesel::joinable!(volume_type_extra_specs -> volume_types (volume_type_id));
diesel::joinable!(volumes -> volume_types (volume_type_id));

diesel::allow_tables_to_appear_in_same_query!(
    flow_runs,
    idempotency_keys,
    messages,
    quota_classes,
    quota_usages,
    quotas,
    reservations,
    snapshot_metadata,
    snapshots,
    volume_admin_metadata,
    volume_attachment,
    volume_metadata,
    volume_type_extra_specs,
    volume_types,
    volumes,
);

// Volume-type access, default types, QoS specs and services
// (migration 2026-11-25-000003_types_quotas_services).

diesel::table! {
    volume_type_projects (volume_type_id, project_id) {
        volume_type_id -> Text,
        project_id -> Text,
    }
}

diesel::table! {
    default_volume_types (project_id) {
        project_id -> Text,
        volume_type_id -> Text,
    }
}

diesel::table! {
    qos_specs (id) {
        id -> Text,
        name -> Text,
        consumer -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    qos_spec_values (qos_specs_id, spec_key) {
        qos_specs_id -> Text,
        spec_key -> Text,
        spec_value -> Text,
    }
}

diesel::table! {
    volume_type_qos (volume_type_id) {
        volume_type_id -> Text,
        qos_specs_id -> Text,
    }
}

diesel::table! {
    services (host, service_binary) {
        host -> Text,
        service_binary -> Text,
        availability_zone -> Text,
        disabled -> Bool,
        disabled_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    default_volume_types,
    qos_spec_values,
    qos_specs,
    services,
    volume_type_projects,
    volume_type_qos,
    volume_types,
);

// Instances and node claims (migration 2026-12-07-060000_instances).

diesel::table! {
    instances (id) {
        id -> Text,
        kind -> Text,
        identity -> Text,
        host -> Text,
        pid -> BigInt,
        started_at -> Timestamp,
        lease_expires_at -> Timestamp,
        renewed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    node_claims (node) {
        node -> Text,
        holder -> Text,
        epoch -> BigInt,
        claimed_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(instances, node_claims);

// The outbox and the nodes' reports (migration 2026-12-07-070500_outbox).

diesel::table! {
    node_work (id) {
        id -> Text,
        node -> Text,
        resource_id -> Text,
        body -> Text,
        is_call -> Bool,
        claimed_by -> Nullable<Text>,
        reply -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    node_reports (node) {
        node -> Text,
        availability_zone -> Text,
        stats -> Text,
        acked -> Text,
        reported_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(node_claims, node_reports, node_work);

// Volume transfers (migration 2026-12-07-061000_transfers) and volume type encryption
// (migration 2026-12-07-062000_encryption).

diesel::table! {
    transfers (id) {
        id -> Text,
        volume_id -> Text,
        display_name -> Nullable<Text>,
        salt -> Text,
        crypt_hash -> Text,
        no_snapshots -> Bool,
        source_project_id -> Text,
        destination_project_id -> Nullable<Text>,
        accepted -> Bool,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    volume_type_encryption (volume_type_id) {
        volume_type_id -> Text,
        encryption_id -> Text,
        cipher -> Nullable<Text>,
        key_size -> Nullable<BigInt>,
        provider -> Text,
        control_location -> Text,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(transfers -> volumes (volume_id));
diesel::joinable!(volume_type_encryption -> volume_types (volume_type_id));

diesel::allow_tables_to_appear_in_same_query!(transfers, volumes);
diesel::allow_tables_to_appear_in_same_query!(transfers, snapshots);
diesel::allow_tables_to_appear_in_same_query!(volume_type_encryption, volume_types);
diesel::allow_tables_to_appear_in_same_query!(volume_type_encryption, volumes);

// Group types (migration 2026-12-07-070000_group_types).

diesel::table! {
    group_types (id) {
        id -> Text,
        name -> Text,
        description -> Nullable<Text>,
        is_public -> Bool,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    group_type_specs (group_type_id, spec_key) {
        group_type_id -> Text,
        spec_key -> Text,
        spec_value -> Text,
    }
}

diesel::joinable!(group_type_specs -> group_types (group_type_id));

diesel::allow_tables_to_appear_in_same_query!(group_types, group_type_specs);

// Generic volume groups (migration 2026-12-07-071000_groups).

diesel::table! {
    groups (id) {
        id -> Text,
        project_id -> Text,
        user_id -> Text,
        name -> Nullable<Text>,
        description -> Nullable<Text>,
        availability_zone -> Text,
        status -> Text,
        group_type_id -> Text,
        group_snapshot_id -> Nullable<Text>,
        source_group_id -> Nullable<Text>,
        replication_status -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    group_volume_types (group_id, volume_type_id) {
        group_id -> Text,
        volume_type_id -> Text,
    }
}

diesel::joinable!(groups -> group_types (group_type_id));
diesel::joinable!(group_volume_types -> groups (group_id));

diesel::allow_tables_to_appear_in_same_query!(groups, group_types);
diesel::allow_tables_to_appear_in_same_query!(groups, group_volume_types);

// The capacity ledger (migration 2026-12-07-160000_pool_ledger).

diesel::table! {
    pool_ledger (host) {
        host -> Text,
        allocated_gb -> BigInt,
        version -> BigInt,
    }
}

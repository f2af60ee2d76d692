//! Group types, groups and group snapshots, called as Tempest's group clients call them
//! (at 3.11 and later, where the resources begin) and checked against Tempest's response
//! schemas (see `common_tempest`).

mod common;
mod common_tempest;

use common::{ADMIN, ALICE, TestResult};
use common_tempest::{Recorder, id_of};
use serde_json::json;

#[actix_web::test]
async fn group_type_answers_match() -> TestResult {
    let mut r = Recorder::new().await?;
    r.at(Some(11));
    let types = "/v3/0a0a/group_types";
    let body = json!({"group_type": {"name": "gt", "description": "g", "group_specs": {"k": "v"}}});
    let v = r
        .with("group_types.create_group_type", "POST", types, ADMIN, body)
        .await;
    let path = format!("{types}/{}", id_of(&v, "group_type")?);
    for token in [ADMIN, ALICE] {
        r.get("group_types.show_group_type", &path, token).await;
        r.get("group_types.list_group_types", types, token).await;
    }
    let update = json!({"group_type": {"description": "shiny", "is_public": true}});
    r.with("group_types.update_group_type", "PUT", &path, ADMIN, update)
        .await;
    let specs = format!("{path}/group_specs");
    let spec = format!("{specs}/a");
    r.with(
        "group_types.create_or_update_group_type_specs",
        "POST",
        &specs,
        ADMIN,
        json!({"group_specs": {"a": "1"}}),
    )
    .await;
    r.get("group_types.list_group_type_specs", &specs, ADMIN)
        .await;
    r.get("group_types.show_group_type_specs_item", &spec, ADMIN)
        .await;
    r.with(
        "group_types.update_group_type_specs_item",
        "PUT",
        &spec,
        ADMIN,
        json!({"a": "2"}),
    )
    .await;
    r.send(
        "group_types.delete_group_type_specs_item",
        "DELETE",
        &spec,
        ADMIN,
        None,
    )
    .await;
    r.send(
        "group_types.delete_group_type",
        "DELETE",
        &path,
        ADMIN,
        None,
    )
    .await;
    r.check()
}

#[actix_web::test]
async fn group_answers_match() -> TestResult {
    let mut r = Recorder::new().await?;
    r.at(Some(11));
    let gt = json!({"group_type": {"name": "gt"}});
    r.with(
        "group_types.create_group_type",
        "POST",
        "/v3/0a0a/group_types",
        ADMIN,
        gt,
    )
    .await;
    r.at(Some(13));
    let groups = "/v3/0a0a/groups";
    let body = json!({"group": {"name": "g", "group_type": "gt", "volume_types": ["__DEFAULT__"]}});
    let v = r
        .with("groups.create_group", "POST", groups, ALICE, body)
        .await;
    let path = format!("{groups}/{}", id_of(&v, "group")?);
    for minor in [13, 14, 38] {
        r.at(Some(minor));
        r.get("groups.show_group", &path, ALICE).await;
        r.get(
            "groups.list_groups_with_detail",
            &format!("{groups}/detail"),
            ALICE,
        )
        .await;
    }
    r.get("groups.list_groups_no_detail", groups, ALICE).await;
    let update = json!({"group": {"name": "g2", "description": "d"}});
    r.with("groups.update_group", "PUT", &path, ALICE, update)
        .await;
    r.at(Some(20));
    let action = format!("{path}/action");
    let reset = json!({"reset_status": {"status": "available"}});
    r.with("groups.reset_group_status", "POST", &action, ADMIN, reset)
        .await;
    let delete = json!({"delete": {"delete-volumes": true}});
    r.with("groups.delete_group", "POST", &action, ALICE, delete)
        .await;
    r.check()
}

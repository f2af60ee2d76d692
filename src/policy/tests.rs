use super::{Action, Denied, Enforcer, PolicyError, Target};
use crate::model::{RequestContext, RequestId};

type R = Result<(), PolicyError>;

fn ctx(project: &str, roles: &[&str]) -> RequestContext {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    RequestContext {
        user_id: format!("user-of-{project}"),
        project_id: project.into(),
        is_admin: roles.iter().any(|r| r == "admin"),
        roles,
        request_id: RequestId::new(),
    }
}

fn admin() -> RequestContext {
    ctx("0c0c", &["admin", "member", "reader"])
}
fn member() -> RequestContext {
    ctx("0a0a", &["member", "reader"])
}
fn reader() -> RequestContext {
    ctx("0a0a", &["reader"])
}

const A: Target<'static> = Target {
    project_id: "0a0a",
    user_id: None,
};
const B: Target<'static> = Target {
    project_id: "0b0b",
    user_id: None,
};

#[test]
fn cinders_defaults_all_parse_and_none_loops() -> R {
    let e = Enforcer::load(None)?;
    for a in Action::ALL {
        assert!(e.rules.contains_key(a.name()), "{}", a.name());
    }
    Ok(())
}

#[test]
fn readers_read_members_write_admins_administer() -> R {
    let e = Enforcer::load(None)?;
    use Action::{QuotaUpdate, VolumeCreate, VolumeGet, VolumeResetStatus};
    for (who, c, get, create, reset) in [
        ("admin", admin(), true, true, true),
        ("member", member(), true, true, false),
        ("reader", reader(), true, false, false),
        ("no roles", ctx("0a0a", &[]), false, false, false),
    ] {
        assert_eq!(e.allows(&c, VolumeGet, &A), get, "{who} get");
        assert_eq!(e.allows(&c, VolumeCreate, &A), create, "{who} create");
        assert_eq!(e.allows(&c, VolumeResetStatus, &A), reset, "{who} reset");
        assert_eq!(e.allows(&c, QuotaUpdate, &A), reset, "{who} quota update");
    }
    // Another project's resources: only an admin's roles reach them.
    assert!(!e.allows(&member(), VolumeGet, &B));
    assert!(!e.allows(&reader(), VolumeGet, &B));
    assert!(e.allows(&admin(), VolumeGet, &B));
    // Role names compare without case, as in oslo.
    assert!(e.allows(&ctx("0a0a", &["Reader"]), VolumeGet, &A));
    Ok(())
}

#[test]
fn a_refusal_names_the_rule_in_cinders_words() -> R {
    let e = Enforcer::load(None)?;
    let err = e.authorize(&member(), Action::VolumeResetStatus, &A);
    assert_eq!(err, Err(Denied(Action::VolumeResetStatus)));
    assert_eq!(
        Denied(Action::VolumeResetStatus).to_string(),
        "Policy doesn't allow volume_extension:volume_admin_actions:reset_status to be performed."
    );
    Ok(())
}

#[test]
fn context_is_admin_decides_is_admin_and_admin_api_follows() -> R {
    let e = Enforcer::load(None)?;
    let roles = |r: &[&str]| r.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(e.is_admin("u", "p", &roles(&["admin"])));
    assert!(!e.is_admin("u", "p", &roles(&["member", "reader"])));
    let e = Enforcer::from_text("context_is_admin: 'role:cloud_admin'\n", "p.yaml")?;
    assert!(e.is_admin("u", "p", &roles(&["cloud_admin"])));
    assert!(!e.is_admin("u", "p", &roles(&["admin"])));
    // `admin_api` reads `is_admin:True` from the context, then `role:admin`.
    let mut c = ctx("0a0a", &["cloud_admin"]);
    c.is_admin = true;
    assert!(e.allows(&c, Action::VolumeResetStatus, &A));
    // Inside `context_is_admin` itself, `is_admin` is what is being decided: false.
    let e = Enforcer::from_text("context_is_admin: 'is_admin:True'\n", "p.yaml")?;
    assert!(!e.is_admin("u", "p", &roles(&["admin"])));
    Ok(())
}

#[test]
fn a_policy_file_overrides_by_cinders_names() -> R {
    let text = "\
# Only admins create volumes; readers may not even list them.
volume:create: rule:admin_api
volume:get_all: role:member and project_id:%(project_id)s
\"volume:delete\": \"!\"
volume:get: '@'
";
    let e = Enforcer::from_text(text, "p.yaml")?;
    assert!(!e.allows(&member(), Action::VolumeCreate, &A));
    assert!(e.allows(&admin(), Action::VolumeCreate, &A));
    assert!(!e.allows(&reader(), Action::VolumeGetAll, &A));
    assert!(e.allows(&member(), Action::VolumeGetAll, &A));
    assert!(!e.allows(&admin(), Action::VolumeDelete, &A));
    assert!(e.allows(&ctx("0a0a", &[]), Action::VolumeGet, &B));
    // Untouched names keep Cinder's defaults.
    assert!(e.allows(&reader(), Action::SnapshotGet, &A));
    // Overriding a base rule moves every rule that names it.
    let e = Enforcer::from_text(
        "xena_system_admin_or_project_reader: role:auditor\n",
        "p.yaml",
    )?;
    assert!(e.allows(&ctx("0b0b", &["auditor"]), Action::VolumeGet, &A));
    assert!(!e.allows(&reader(), Action::SnapshotGet, &A));
    Ok(())
}

#[test]
fn json_files_and_empty_files_load() -> R {
    let e = Enforcer::from_text(r#"{"volume:create": "role:admin"}"#, "p.json")?;
    assert!(!e.allows(&member(), Action::VolumeCreate, &A));
    let e = Enforcer::from_text("", "empty.yaml")?;
    assert!(e.allows(&member(), Action::VolumeCreate, &A));
    Ok(())
}

#[test]
fn generic_checks_compare_credentials_and_literals() -> R {
    let e = Enforcer::from_text(
        "\
volume:get: user_id:%(user_id)s
volume:update: roles:member
volume:delete: \"'0a0a':%(project_id)s\"
volume:extend: is_admin_project:True and not system_scope:all
volume:retype: project_id:%(no_such_key)s or rule:no_such_rule
",
        "p.yaml",
    )?;
    let m = member();
    let mine = Target {
        project_id: "0a0a",
        user_id: Some("user-of-0a0a"),
    };
    assert!(e.allows(&m, Action::VolumeGet, &mine));
    assert!(
        !e.allows(&m, Action::VolumeGet, &A),
        "no user in the target"
    );
    assert!(
        e.allows(&m, Action::VolumeUpdate, &B),
        "a list credential matches an element"
    );
    assert!(e.allows(&m, Action::VolumeDelete, &A));
    assert!(!e.allows(&m, Action::VolumeDelete, &B));
    assert!(e.allows(&m, Action::VolumeExtend, &A));
    assert!(
        !e.allows(&admin(), Action::VolumeRetype, &A),
        "missing key and rule are false"
    );
    Ok(())
}

#[test]
fn a_bad_rule_is_refused_naming_rule_and_position() {
    let err = Enforcer::from_text(
        "volume:create: role:admin or\nvolume:get: '@'\n",
        "/etc/clinker/policy.yaml",
    );
    let Err(e @ PolicyError::Rule { .. }) = err else {
        panic!("accepted: {err:?}");
    };
    assert_eq!(
        e.to_string(),
        "policy_file /etc/clinker/policy.yaml: rule 'volume:create': the rule ends where a \
         check was expected at position 14"
    );
    assert!(matches!(
        Enforcer::from_text("volume:create: [role:admin]\n", "p.yaml"),
        Err(PolicyError::Format { .. })
    ));
    assert!(matches!(
        Enforcer::from_text("- volume:create\n", "p.yaml"),
        Err(PolicyError::Format { .. })
    ));
}

#[test]
fn rules_that_refer_back_to_themselves_are_refused() {
    let err = Enforcer::from_text(
        "a: rule:b\nb: role:x or rule:c\nc: rule:a\nvolume:get: rule:a\n",
        "p.yaml",
    );
    match err {
        Err(PolicyError::Cycle { cycle, .. }) => assert_eq!(cycle, "a -> b -> c -> a"),
        other => panic!("not refused as a cycle: {other:?}"),
    }
    assert!(matches!(
        Enforcer::from_text("admin_api: rule:admin_api\n", "p.yaml"),
        Err(PolicyError::Cycle { .. })
    ));
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let err = Enforcer::load(Some(std::path::Path::new("/nonexistent/policy.yaml")));
    assert!(
        matches!(&err, Err(e @ PolicyError::Read { .. }) if e.to_string().contains("/nonexistent/policy.yaml")),
        "{err:?}"
    );
}

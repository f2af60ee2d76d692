use std::fs;
use std::path::Path;

use super::*;

fn no_env() -> Environment {
    Environment::default()
}

fn load_text(text: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().map_err(|source| ConfigError::Read {
        path: "tempdir".into(),
        source,
    })?;
    let path = dir.path().join("clinker.toml");
    let text = text.replace("@DIR@", &dir.path().display().to_string());
    fs::write(&path, text).map_err(|source| ConfigError::Read {
        path: "tempfile".into(),
        source,
    })?;
    Config::load(Some(&path), Overrides::default(), &no_env())
}

#[test]
fn no_file_gives_one_file_node_under_the_data_dir() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let flags = Overrides {
        data_dir: Some(dir.path().to_path_buf()),
        ..Overrides::default()
    };
    let config = Config::load(None, flags, &no_env())?;
    assert_eq!(config.listen, "127.0.0.1:8776");
    assert_eq!(config.nodes.len(), 1);
    assert_eq!(config.nodes[0].driver, DriverKind::File);
    assert_eq!(config.nodes[0].zone(&config), "nova");
    assert!(dir.path().join("volumes").is_dir());
    assert_eq!(
        config.database_url(),
        dir.path().join("clinker.db").display().to_string()
    );
    Ok(())
}

#[test]
fn env_overrides_flags_which_override_the_file() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("c.toml");
    fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:1\"\ndata_dir = \"{}\"\n",
            dir.path().display()
        ),
    )?;
    let flags = Overrides {
        listen: Some("127.0.0.1:2".into()),
        ..Overrides::default()
    };
    assert_eq!(
        Config::load(Some(&path), flags.clone(), &no_env())?.listen,
        "127.0.0.1:2"
    );
    let env = Environment {
        listen: Some("127.0.0.1:3".into()),
        ..Environment::default()
    };
    assert_eq!(
        Config::load(Some(&path), flags, &env)?.listen,
        "127.0.0.1:3"
    );
    Ok(())
}

#[test]
fn clap_reads_every_variable_and_hides_the_secret_ones() {
    use clap::CommandFactory as _;
    let command = Environment::command();
    let read: Vec<(String, bool)> = command
        .get_arguments()
        .filter_map(|a| {
            let name = a.get_env()?.to_string_lossy().into_owned();
            Some((name, a.is_hide_env_values_set()))
        })
        .collect();
    let expected = [
        ("CLINKER_CONFIG", false),
        ("CLINKER_LISTEN", false),
        ("CLINKER_DATA_DIR", false),
        ("CLINKER_DATABASE_URL", true),
        ("CLINKER_LOG_FORMAT", false),
        ("CLINKER_METRICS_TOKEN", true),
        ("CLINKER_KEYSTONE_PASSWORD", true),
    ];
    let expected: Vec<(String, bool)> = expected
        .iter()
        .map(|(n, h)| ((*n).to_string(), *h))
        .collect();
    assert_eq!(read, expected);
}

#[test]
fn the_metrics_token_comes_from_the_environment_only() -> Result<(), Box<dyn std::error::Error>> {
    assert!(load_text("data_dir = \"@DIR@\"\n[metrics]\ntoken = \"s\"\n").is_err());
    let dir = tempfile::tempdir()?;
    let flags = Overrides {
        data_dir: Some(dir.path().to_path_buf()),
        ..Overrides::default()
    };
    let env = Environment {
        metrics_token: Some("s3cret".into()),
        ..Environment::default()
    };
    let config = Config::load(None, flags, &env)?;
    assert_eq!(config.metrics.token.as_deref(), Some("s3cret"));
    assert!(!toml::to_string(&config)?.contains("s3cret"));
    for bad in [
        "data_dir = \"@DIR@\"\n[metrics]\nlisten = \"nowhere\"\n",
        "data_dir = \"@DIR@\"\nlisten = \"127.0.0.1:9\"\n[metrics]\nlisten = \"127.0.0.1:9\"\n",
        "data_dir = \"@DIR@\"\nbody_timeout_seconds = 0\n",
        "data_dir = \"@DIR@\"\nmax_buffered_body_bytes = 10\n",
    ] {
        assert!(load_text(bad).is_err(), "{bad}");
    }
    Ok(())
}

#[test]
fn unknown_key_is_named_with_the_file() {
    let err = load_text("listne = \"127.0.0.1:1\"\n")
        .err()
        .map(|e| e.to_string());
    let err = err.unwrap_or_default();
    assert!(err.contains("clinker.toml"), "{err}");
    assert!(err.contains("listne"), "{err}");
}

#[test]
fn unknown_driver_and_driver_option_are_refused() {
    let err = load_text("[[nodes]]\nname = \"a\"\ndriver = \"ceph\"\n")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("ceph") && err.contains("clinker.toml"),
        "{err}"
    );
    let err = load_text(
        "[[nodes]]\nname = \"a\"\ndriver = \"file\"\n[nodes.driver_options]\npath = \"@DIR@/v\"\nsize = 3\n",
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        err.contains("nodes[0].driver_options") && err.contains("size"),
        "{err}"
    );
}

#[test]
fn duplicate_node_names_are_refused() {
    let node = "[[nodes]]\nname = \"a\"\ndriver = \"fake\"\n";
    let err = load_text(&format!("{node}{node}"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("nodes[1].name") && err.contains("duplicate"),
        "{err}"
    );
}

#[test]
fn backend_names_that_would_split_a_host_are_refused() {
    for bad in ["", "a@b", "a#b"] {
        let err = load_text(&format!(
            "[[nodes]]\nname = \"a\"\ndriver = \"fake\"\nbackend_name = \"{bad}\"\n"
        ))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("nodes[0].backend_name"), "{bad}: {err}");
    }
}

#[test]
fn unusable_directory_is_refused() {
    let err = load_text(
        "[[nodes]]\nname = \"a\"\ndriver = \"file\"\n[nodes.driver_options]\npath = \"/proc/clinker-no\"\n",
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.contains("nodes[0].driver_options: path"), "{err}");
}

#[test]
fn lvm_options_are_checked() -> Result<(), Box<dyn std::error::Error>> {
    let node = "[[nodes]]\nname = \"a\"\ndriver = \"lvm\"\n[nodes.driver_options]\n";
    let refused = |options: &str| {
        load_text(&format!("{node}{options}"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let err = refused("lvm_type = \"thick\"\n");
    assert!(err.contains("volume_group"), "{err}");
    let err = refused("volume_group = \"-vg\"\n");
    assert!(err.contains("not a valid LVM name"), "{err}");
    let err = refused("volume_group = \"vg\"\nlvm_type = \"fat\"\n");
    assert!(err.contains("fat"), "{err}");
    let err = refused("volume_group = \"vg\"\nvolume_clear = \"shred\"\n");
    assert!(err.contains("shred"), "{err}");
    let err = refused("volume_group = \"vg\"\nthin_pool = \"p\"\n");
    assert!(err.contains("thin_pool"), "{err}");
    let err = refused("volume_group = \"vg\"\nthin_pool = \"p q\"\nlvm_type = \"thin\"\n");
    assert!(err.contains("thin_pool"), "{err}");
    let err = refused("volume_group = \"vg\"\npath = \"x\"\n");
    assert!(err.contains("path"), "{err}");
    let config = load_text(&format!(
        "{node}volume_group = \"vg\"\nlvm_type = \"thin\"\nvolume_clear = \"none\"\ntarget = \"nbd\"\n"
    ))?;
    match config.nodes[0].checked_driver(&config.data_dir)? {
        NodeDriver::Lvm(o) => {
            assert_eq!(o.volume_group, "vg");
            assert_eq!(o.lvm_type, LvmType::Thin);
            assert_eq!(o.volume_clear, VolumeClear::None);
            assert_eq!(o.thin_pool, None);
            assert_eq!(o.export.target, TargetKind::Nbd);
        }
        other => return Err(format!("not an lvm node: {other:?}").into()),
    }
    Ok(())
}

#[test]
fn the_example_configs_load() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for name in [
        "single-node.toml",
        "multi-node.toml",
        "qcow2-nbd.toml",
        "iscsi.toml",
        "lvm.toml",
    ] {
        let dir = tempfile::tempdir()?;
        let text = fs::read_to_string(root.join(name))?;
        let path = dir.path().join(name);
        fs::write(&path, text)?;
        let flags = Overrides {
            data_dir: Some(dir.path().to_path_buf()),
            ..Overrides::default()
        };
        let env = Environment::default();
        let config = Config::load(Some(&path), flags, &env)?;
        assert!(!config.nodes.is_empty(), "{name}");
    }
    Ok(())
}

const KEYSTONE: &str = "data_dir = \"@DIR@\"\nauth_strategy = \"keystone\"\n\
    [keystone_authtoken]\nauth_url = \"http://127.0.0.1:5000\"\n\
    www_authenticate_uri = \"http://keystone.example:5000\"\n\
    username = \"cinder\"\npassword = \"in-the-file\"\n";

#[test]
fn the_keystone_table_reads_keystonemiddlewares_keys() -> Result<(), Box<dyn std::error::Error>> {
    let config = load_text(KEYSTONE)?;
    assert_eq!(config.auth_strategy, AuthStrategy::Keystone);
    let k = &config.keystone_authtoken;
    assert_eq!(k.v3_url(), "http://127.0.0.1:5000/v3");
    assert_eq!(k.www_authenticate_uri(), "http://keystone.example:5000");
    assert_eq!(k.password.expose(), "in-the-file");
    assert_eq!((k.token_cache_time, k.http_request_max_retries), (300, 3));
    assert_eq!(k.service_token_roles, ["service"]);
    assert!(k.service_token_roles_required);
    assert_eq!(
        (k.project_name.as_str(), k.user_domain_name.as_str()),
        ("service", "Default")
    );
    Ok(())
}

#[test]
fn the_keystone_password_never_shows() -> Result<(), Box<dyn std::error::Error>> {
    let config = load_text(KEYSTONE)?;
    assert!(!format!("{config:?}").contains("in-the-file"));
    assert!(!toml::to_string(&config)?.contains("in-the-file"));
    // The environment wins over the file, and stays as hidden.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("clinker.toml");
    fs::write(
        &path,
        KEYSTONE.replace("@DIR@", &dir.path().display().to_string()),
    )?;
    let env = Environment {
        keystone_password: Some("from-the-env".into()),
        ..Environment::default()
    };
    let config = Config::load(Some(&path), Overrides::default(), &env)?;
    assert_eq!(config.keystone_authtoken.password.expose(), "from-the-env");
    assert!(!format!("{config:?}").contains("from-the-env"));
    Ok(())
}

#[test]
fn keystone_without_what_it_needs_is_refused() {
    for (bad, key) in [
        (
            KEYSTONE.replace("http://127.0.0.1:5000\"", "https://k:5000\""),
            "auth_url",
        ),
        (
            KEYSTONE.replace("password = \"in-the-file\"\n", ""),
            "password",
        ),
        (
            KEYSTONE.replace("username = \"cinder\"", "username = \"\""),
            "username",
        ),
        (
            format!("{KEYSTONE}http_connect_timeout = 0\n"),
            "http_connect_timeout",
        ),
        (
            format!("{KEYSTONE}token_cache_tiem = 1\n"),
            "token_cache_tiem",
        ),
    ] {
        let err = load_text(&bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(key), "{key}: {err:?}");
    }
    // The same table is ignored with noauth, as keystonemiddleware's is without its filter.
    let noauth = KEYSTONE.replace("\"keystone\"", "\"noauth\"");
    assert!(load_text(&noauth.replace("password = \"in-the-file\"\n", "")).is_ok());
}

#[test]
fn noauth_listens_on_loopback_only_unless_told() -> Result<(), Box<dyn std::error::Error>> {
    let config = load_text("data_dir = \"@DIR@\"\nlisten = \"0.0.0.0:8776\"\n")?;
    let err = config.check_noauth_listen().err().map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("noauth_allow_remote")),
        "{err:?}"
    );
    for fine in [
        "listen = \"127.0.0.1:8776\"\n",
        "listen = \"[::1]:8776\"\n",
        "listen = \"0.0.0.0:8776\"\nnoauth_allow_remote = true\n",
        "listen = \"10.0.0.1:8776\"\nauth_strategy = \"keystone\"\n[keystone_authtoken]\n\
         auth_url = \"http://k:5000\"\npassword = \"p\"\n",
    ] {
        let config = load_text(&format!("data_dir = \"@DIR@\"\n{fine}"))?;
        assert!(config.check_noauth_listen().is_ok(), "{fine}");
    }
    Ok(())
}

/// `examples/cluster/`: the controller runs no node (`nodes = []` written out is not the
/// default one-node config), each agent its own.
#[test]
fn the_cluster_examples_load() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cluster");
    for (name, nodes) in [
        ("controller.toml", vec![]),
        ("node-a.toml", vec!["node-a"]),
        ("node-b.toml", vec!["node-b"]),
    ] {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(name);
        fs::write(&path, fs::read_to_string(root.join(name))?)?;
        let flags = Overrides {
            data_dir: Some(dir.path().to_path_buf()),
            ..Overrides::default()
        };
        let config = Config::load(Some(&path), flags, &Environment::default())?;
        let got: Vec<&str> = config.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(got, nodes, "{name}");
        assert_eq!(config.cluster.node_down_after_seconds, 30, "{name}");
    }
    Ok(())
}

#[test]
fn driver_names_are_spelled_alike_in_config_and_as_str() -> Result<(), serde_json::Error> {
    for kind in [
        DriverKind::Fake,
        DriverKind::File,
        DriverKind::Qcow2,
        DriverKind::Lvm,
    ] {
        assert_eq!(
            serde_json::to_string(&kind)?,
            format!("\"{}\"", kind.as_str())
        );
    }
    assert_eq!(DriverKind::Qcow2.as_str(), "qcow2");
    Ok(())
}

//! Tests of configuration loading and resolution.

use super::*;

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(text: &str) -> Result<FileConfig, ConfigError> {
    parse_file(Path::new("guacsync.toml"), text)
}

#[test]
fn design_example_parses() {
    let text = r#"
[server]
url = "https://guac.example.com/guacamole"
data_source = "postgresql"
ca_cert = "certs/internal-ca.pem"

[scope]
groups = ["ROOT/Prod", "ROOT/Lab"]

[sync]
prune = false
max_deletions = 10
permissions = "additive"
parent_group_read = true
create_groups = true
create_principals = false
max_request_bytes = 2097152
"#;
    let file = parse(text).expect("parses");
    let s = resolve(
        file,
        Some(PathBuf::from("/etc/guacsync/guacsync.toml")),
        &Overrides::default(),
        &no_env,
    )
    .expect("resolves");
    assert_eq!(s.url.as_deref(), Some("https://guac.example.com/guacamole"));
    assert_eq!(
        s.ca_cert,
        Some(PathBuf::from("/etc/guacsync/certs/internal-ca.pem"))
    );
    assert_eq!(s.options.scope.len(), 2);
    assert_eq!(s.options.permissions, PermissionMode::Additive);
    assert_eq!(s.concurrency, 16, "the default");
}

#[test]
fn errors_table() {
    let cases = [
        ("[server]\nurll = \"x\"\n", "unknown field `urll`"),
        ("[server]\npassword = \"x\"\n", "GUACAMOLE_PASSWORD"),
        ("[sync]\nprune = \"yes\"\n", "invalid type"),
        ("[sync]\npermissions = \"strict\"\n", "unknown variant"),
        ("[server\n", "line 1"),
    ];
    for (text, needle) in cases {
        let e = parse(text).expect_err(text).to_string();
        assert!(e.contains(needle), "{text:?}: {e}");
        assert!(e.starts_with("guacsync.toml:"), "{e}");
    }
    let file = parse("[scope]\ngroups = [\"ROOTX/a\"]\n").expect("parses");
    assert!(resolve(file, None, &Overrides::default(), &no_env).is_err());
}

#[test]
fn concurrency_must_be_in_range() {
    for (flag, file, ok) in [
        (Some(0), None, false),
        (Some(1), None, true),
        (Some(MAX_CONCURRENCY), None, true),
        (Some(MAX_CONCURRENCY + 1), None, false),
        (Some(usize::MAX), None, false),
        (None, Some(0), false),
        (None, Some(100_000), false),
        (None, Some(16), true),
        // The flag wins, also over a bad file value.
        (Some(4), Some(0), true),
    ] {
        let text = file.map_or(String::new(), |n| format!("[server]\nconcurrency = {n}\n"));
        let overrides = Overrides {
            concurrency: flag,
            ..Overrides::default()
        };
        let result = resolve(
            parse(&text).expect("parses"),
            Some(PathBuf::from("ci/guacsync.toml")),
            &overrides,
            &no_env,
        );
        match (result, ok) {
            (Ok(s), true) => assert_eq!(Some(s.concurrency), flag.or(file)),
            (Err(e), false) => {
                let e = e.to_string();
                assert!(e.contains("between 1 and 64"), "{e}");
                let origin = if flag.is_some() {
                    "--concurrency"
                } else {
                    "ci/guacsync.toml: [server] concurrency"
                };
                assert!(e.contains(origin), "{e}");
            }
            (r, _) => panic!("{flag:?}/{file:?}: {r:?}"),
        }
    }
}

#[test]
fn precedence_flags_over_env_over_file() {
    let env = |k: &str| match k {
        "GUACAMOLE_URL" => Some("http://env".to_owned()),
        "GUACAMOLE_DATA_SOURCE" => Some("mysql".to_owned()),
        _ => None,
    };
    let file =
        parse("[server]\nurl = \"http://file\"\ndata_source = \"file-ds\"\n[sync]\nprune = true\n")
            .expect("parses");
    let flags = Overrides {
        url: Some("http://flag".into()),
        prune: Some(false),
        concurrency: Some(32),
        ..Overrides::default()
    };
    let s = resolve(file, None, &flags, &env).expect("resolves");
    assert_eq!(s.url.as_deref(), Some("http://flag"));
    assert_eq!(s.data_source.as_deref(), Some("mysql"));
    assert!(!s.options.prune);
    assert_eq!(s.concurrency, 32);
    let file = parse("[scope]\ngroups = [\"ROOT/Prod\"]\n[sync]\nprune = true\n").expect("parses");
    let s = resolve(file, None, &Overrides::default(), &no_env).expect("resolves");
    assert!(s.options.prune);
    assert_eq!(s.options.max_request_bytes, DEFAULT_MAX_REQUEST_BYTES);
}

#[test]
fn ca_cert_from_flag_over_env_over_file() {
    let file = || parse("[server]\nca_cert = \"certs/ca.pem\"\n").expect("parses");
    let config = Some(PathBuf::from("/etc/guacsync/guacsync.toml"));
    let env = |k: &str| (k == "GUACAMOLE_CA_CERT").then(|| "env.pem".to_owned());
    let blank_env = |k: &str| (k == "GUACAMOLE_CA_CERT").then(|| " ".to_owned());
    let flag = Overrides {
        ca_cert: Some(PathBuf::from("flag.pem")),
        ..Overrides::default()
    };
    let none = Overrides::default();
    let got = |o: &Overrides, e: &dyn Fn(&str) -> Option<String>| {
        resolve(file(), config.clone(), o, e)
            .expect("resolves")
            .ca_cert
    };
    assert_eq!(got(&flag, &env), Some(PathBuf::from("flag.pem")));
    assert_eq!(got(&none, &env), Some(PathBuf::from("env.pem")));
    assert_eq!(
        got(&none, &blank_env),
        Some(PathBuf::from("/etc/guacsync/certs/ca.pem"))
    );
    assert_eq!(
        got(&none, &no_env),
        Some(PathBuf::from("/etc/guacsync/certs/ca.pem"))
    );
}

#[test]
fn locate_searches_up_to_the_repository_root() {
    let t = tempfile::tempdir().expect("dir");
    let outer = t.path();
    let repo = outer.join("repo");
    let deep = repo.join("a/b");
    std::fs::create_dir_all(&deep).expect("mkdir");
    std::fs::create_dir(repo.join(".git")).expect("mkdir");
    std::fs::write(outer.join(FILE_NAME), "").expect("write");
    // Above the repository root: not used.
    let (path, origin) = locate(None, &no_env, &deep).expect("locates");
    assert_eq!(path, None);
    assert_eq!(
        origin,
        ConfigOrigin::NotFound {
            from: deep.clone(),
            root: Some(repo.clone())
        }
    );
    std::fs::write(repo.join(FILE_NAME), "").expect("write");
    let (path, origin) = locate(None, &no_env, &deep).expect("locates");
    assert_eq!(path, Some(PathBuf::from("../../guacsync.toml")));
    assert_eq!(origin, ConfigOrigin::Found);
    // The nearest wins.
    std::fs::write(deep.join(FILE_NAME), "").expect("write");
    let (path, _) = locate(None, &no_env, &deep).expect("locates");
    assert_eq!(path, Some(PathBuf::from("guacsync.toml")));
    // A worktree's `.git` is a file.
    std::fs::remove_dir(repo.join(".git")).expect("rm");
    std::fs::write(repo.join(".git"), "gitdir: /elsewhere\n").expect("write");
    std::fs::remove_file(deep.join(FILE_NAME)).expect("rm");
    let (path, _) = locate(None, &no_env, &repo.join("a")).expect("locates");
    assert_eq!(path, Some(PathBuf::from("../guacsync.toml")));
}

#[test]
fn locate_outside_a_repository_reads_only_the_current_directory() {
    let t = tempfile::tempdir().expect("dir");
    let sub = t.path().join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    std::fs::write(t.path().join(FILE_NAME), "").expect("write");
    let (path, origin) = locate(None, &no_env, &sub).expect("locates");
    assert_eq!(path, None);
    assert!(matches!(origin, ConfigOrigin::NotFound { root: None, .. }));
    assert!(origin.describe(None).contains("in no git repository"));
    let (path, _) = locate(None, &no_env, t.path()).expect("locates");
    assert_eq!(path, Some(PathBuf::from("guacsync.toml")));
}

#[test]
fn named_files_must_exist_and_the_flag_wins() {
    let t = tempfile::tempdir().expect("dir");
    let file = t.path().join("x.toml");
    std::fs::write(&file, "").expect("write");
    let file_text = file.display().to_string();
    let env = |k: &str| (k == "GUACSYNC_CONFIG").then(|| file_text.clone());
    let (path, origin) = locate(None, &env, t.path()).expect("locates");
    assert_eq!(
        (path.as_deref(), origin),
        (Some(file.as_path()), ConfigOrigin::Env)
    );
    let other = t.path().join("missing.toml");
    let e = locate(Some(&other), &env, t.path()).expect_err("missing");
    assert_eq!(
        e.to_string(),
        format!(
            "the configuration file {} named by --config does not exist",
            other.display()
        )
    );
    let missing_env = |k: &str| (k == "GUACSYNC_CONFIG").then(|| "nope.toml".to_owned());
    let e = locate(None, &missing_env, t.path()).expect_err("missing");
    assert!(
        e.to_string().contains("nope.toml named by GUACSYNC_CONFIG"),
        "{e}"
    );
    let (path, origin) = locate(Some(&file), &missing_env, t.path()).expect("flag wins");
    assert_eq!(
        (path.as_deref(), origin),
        (Some(file.as_path()), ConfigOrigin::Flag)
    );
}

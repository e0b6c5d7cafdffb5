//! `guacsync export --estate` through the real binary against the test server
//! (issue 13, DESIGN.md §8): every kind in one document on stdout or in one
//! file (connections under `connections`), or `estate.yaml` beside the
//! per-group connection files; the login account left out; the note that
//! passwords cannot be read back; `--secrets` for a user's TOTP key and a
//! sharing profile's unknown parameter; `--scope` limiting groups, sharing
//! profiles and permission targets; the combinations that cannot be refused
//! before anything is asked of the server.

mod common;

use std::path::Path;

use common::{guacsync_in, server_with, stderr, stdout};
use guacamole_testserver::{Config, RunningServer, State};
use serde_json::{Value, json};

const TOTP_KEY: &str = "JBSWY3DPEHPK3PXPEXPORTKEY";
const SHARE_SECRET: &str = "Export-Share-Secret-4d4d";
const CONNECTION_PASSWORD: &str = "Export-Conn-Password-5e5e";

/// A small estate: nested groups (one balancing, one named `estate`), two
/// connections, two sharing profiles (one holding a parameter no sharing form
/// has), users with attributes (one a TOTP key left behind by a removed
/// extension), user groups with members (the login account among them) and
/// permissions of every kind.
fn estate_state() -> State {
    let mut state: State = serde_json::from_value(json!({
        "version": 1,
        "users": [
            {"username": "alice", "password": "pw",
             "attributes": {"guac-full-name": "Alice Jansen", "valid-until": "2027-06-30",
                            "guac-totp-key-secret": TOTP_KEY},
             "permissions": {
                "systemPermissions": ["CREATE_CONNECTION"],
                "connectionPermissions": {"1": ["READ", "UPDATE"], "2": ["READ"]},
                "connectionGroupPermissions": {"1": ["READ"], "2": ["READ"], "3": ["READ", "ADMINISTER"]},
                "sharingProfilePermissions": {"1": ["READ"]},
                "userPermissions": {"alice": ["READ"], "bob": ["READ", "UPDATE"]},
                "userGroupPermissions": {"ops": ["READ"]}}},
            {"username": "bob", "password": "pw", "disabled": true,
             "permissions": {"connectionPermissions": {"3": ["READ"]},
                             "connectionGroupPermissions": {"4": ["READ"]}}},
            {"username": "carol: the dba", "password": "pw",
             "attributes": {"guac-organizational-role": "DBA"}}
        ],
        "userGroups": [
            {"identifier": "ops", "memberUsers": ["alice", "bob", "guacadmin"],
             "memberUserGroups": ["oncall"],
             "permissions": {"systemPermissions": ["CREATE_SHARING_PROFILE"],
                             "connectionPermissions": {"1": ["READ", "UPDATE", "DELETE"]},
                             "connectionGroupPermissions": {"1": ["READ"], "2": ["READ"]},
                             "sharingProfilePermissions": {"2": ["READ"]}}},
            {"identifier": "oncall", "disabled": true}
        ],
        "connectionGroups": [
            {"identifier": "1", "name": "Prod"},
            {"identifier": "2", "name": "Web", "parentIdentifier": "1", "type": "BALANCING",
             "attributes": {"max-connections": "10", "enable-session-affinity": "true"}},
            {"identifier": "3", "name": "Lab"},
            {"identifier": "4", "name": "estate", "parentIdentifier": "ROOT"}
        ],
        "connections": [
            {"identifier": "1", "name": "web-1", "parentIdentifier": "2", "protocol": "ssh",
             "parameters": {"hostname": "10.0.1.11", "password": CONNECTION_PASSWORD}},
            {"identifier": "2", "name": "lab-1", "parentIdentifier": "3", "protocol": "ssh",
             "parameters": {"hostname": "10.0.2.11"}},
            {"identifier": "3", "name": "tools", "parentIdentifier": "4", "protocol": "vnc",
             "parameters": {"hostname": "10.0.3.11"}}
        ],
        "sharingProfiles": [
            {"identifier": "1", "name": "watch-only", "primaryConnectionIdentifier": "1",
             "parameters": {"read-only": "true"}},
            {"identifier": "2", "name": "handover", "primaryConnectionIdentifier": "1",
             "parameters": {"x-share-key": SHARE_SECRET}}
        ]
    }))
    .expect("state");
    state.users.extend(State::default().users);
    state
}

async fn estate_server() -> RunningServer {
    server_with(Config {
        state: estate_state(),
        prefix: "/guacamole".into(),
        ..Config::default()
    })
    .await
}

async fn run(server: &RunningServer, dir: &Path, args: &[&str]) -> std::process::Output {
    guacsync_in(server, dir, args, &[]).await
}

/// What `validate --format json` makes of an exported document: the reader's
/// own view of it (errors fail the test).
async fn normalised(server: &RunningServer, dir: &Path, path: &str) -> Value {
    let out = run(server, dir, &["validate", path, "--format", "json"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    serde_json::from_str(&stdout(&out)).expect("JSON")
}

/// What `schemas/estate.schema.json` finds wrong with a document.
fn estate_schema_errors(doc: &Value) -> Vec<String> {
    let schema = |name: &str| -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schemas")
            .join(name);
        serde_json::from_slice(&std::fs::read(path).expect("schema")).expect("JSON")
    };
    // The estate schema refers to the manifest schema beside it.
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_resource(
            "json-schema:///manifest.schema.json",
            jsonschema::Resource::from_contents(schema("manifest.schema.json")).expect("resource"),
        )
        .build(&schema("estate.schema.json"))
        .expect("the schema compiles");
    validator.iter_errors(doc).map(|e| e.to_string()).collect()
}

fn find<'v>(list: &'v Value, key: &str, value: &str) -> &'v Value {
    list.as_array()
        .and_then(|l| l.iter().find(|x| x[key] == value))
        .unwrap_or_else(|| panic!("no {key} = {value:?} in {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_holds_every_kind_and_leaves_the_login_account_out() {
    let server = estate_server().await;
    let dir = tempfile::tempdir().expect("dir");
    let out = run(&server, dir.path(), &["export", "--estate"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    insta::assert_snapshot!("estate_export_stdout", text);
    let err = stderr(&out);
    assert!(
        err.contains("exported 3 connection(s), 4 connection group(s), 2 sharing profile(s), 2 user group(s), 3 user(s)"),
        "{err}"
    );
    assert!(
        err.contains("note: passwords cannot be read back from Guacamole, so none is exported"),
        "{err}"
    );
    for secret in [TOTP_KEY, SHARE_SECRET, CONNECTION_PASSWORD] {
        assert!(
            !text.contains(secret) && !err.contains(secret),
            "{secret} leaked"
        );
    }
    // The reader reads it back whole.
    std::fs::write(dir.path().join("all.yaml"), &text).expect("write");
    let doc = normalised(&server, dir.path(), "all.yaml").await;
    assert_eq!(doc["connections"].as_array().map(Vec::len), Some(3));
    let users: Vec<&Value> = doc["users"].as_array().expect("users").iter().collect();
    assert_eq!(
        users
            .iter()
            .map(|u| u["username"].as_str())
            .collect::<Vec<_>>(),
        [Some("alice"), Some("bob"), Some("carol: the dba")],
        "the login account is left out"
    );
    assert!(users.iter().all(|u| u["password"].is_null()));
    let alice = find(&doc["users"], "username", "alice");
    assert_eq!(alice["system"], json!(["CREATE_CONNECTION"]));
    assert_eq!(
        alice["attributes"],
        json!({"guac-full-name": "Alice Jansen", "valid-until": "2027-06-30"}),
        "the TOTP key is left out (a plan leaves it alone)"
    );
    assert_eq!(
        alice["permissions"],
        json!({"connections": {"ROOT/Prod/Web/web-1": ["READ", "UPDATE"]},
               "connectionGroups": {"ROOT/Lab": ["READ", "ADMINISTER"]},
               "sharingProfiles": {},
               "users": {"alice": ["READ"], "bob": ["READ", "UPDATE"]},
               "userGroups": {"ops": ["READ"]}})
    );
    assert_eq!(find(&doc["users"], "username", "bob")["disabled"], true);
    let ops = find(&doc["userGroups"], "name", "ops");
    assert_eq!(
        ops["members"],
        json!({"users": ["alice", "bob"], "groups": ["oncall"]}),
        "the login account is never a member guacsync manages"
    );
    assert_eq!(ops["system"], json!(["CREATE_SHARING_PROFILE"]));
    assert_eq!(
        ops["permissions"]["connections"],
        json!({"ROOT/Prod/Web/web-1": ["READ", "UPDATE", "DELETE"]})
    );
    assert_eq!(find(&doc["userGroups"], "name", "oncall")["disabled"], true);
    let web = find(&doc["connectionGroups"], "path", "ROOT/Prod/Web");
    assert_eq!(web["type"], "BALANCING");
    assert_eq!(
        web["attributes"],
        json!({"enable-session-affinity": "true", "max-connections": "10"})
    );
    assert_eq!(web["users"], json!(["alice"]));
    assert_eq!(web["groups"], json!(["ops"]));
    let watch = find(&doc["sharingProfiles"], "name", "watch-only");
    assert_eq!(watch["parameters"], json!({"read-only": "true"}));
    assert_eq!(watch["users"], json!(["alice"]));
    let handover = find(&doc["sharingProfiles"], "name", "handover");
    assert!(
        handover["parameters"].is_null(),
        "a secret parameter left out leaves the whole map alone: {handover}"
    );
    assert_eq!(handover["groups"], json!(["ops"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_file_and_a_directory() {
    let server = estate_server().await;
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    // The connection password is left out: keep it as the server has it.
    std::fs::write(
        d.join("guacsync.toml"),
        "[sync]\nunmanaged_parameters = [\"password\"]\n",
    )
    .expect("write");
    let out = run(&server, d, &["export", "--estate", "--out", "all.json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: Value =
        serde_json::from_slice(&std::fs::read(d.join("all.json")).expect("written")).expect("JSON");
    let keys: Vec<&String> = json.as_object().expect("an object").keys().collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert_eq!(json["connections"].as_array().map(Vec::len), Some(3));
    // It is what schemas/estate.schema.json describes (editors check it).
    let errors = estate_schema_errors(&json);
    assert!(errors.is_empty(), "{errors:?}");
    let from_json = normalised(&server, d, "all.json").await;

    let out = run(&server, d, &["export", "--estate", "--out", "tree/"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut names: Vec<String> = std::fs::read_dir(d.join("tree"))
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // The top-level group `estate` does not take the estate document's name.
    assert_eq!(
        names,
        ["Lab.yaml", "Prod.yaml", "estate-2.yaml", "estate.yaml"]
    );
    let estate = std::fs::read_to_string(d.join("tree/estate.yaml")).expect("read");
    assert!(!estate.contains("\nconnections:"), "{estate}");
    assert!(
        estate.contains("# Passwords cannot be read back from Guacamole"),
        "{estate}"
    );
    // The same objects as the one-file JSON export.
    let from_dir = normalised(&server, d, "tree").await;
    for kind in ["connectionGroups", "sharingProfiles", "userGroups", "users"] {
        let strip = |v: &Value| -> Vec<Value> {
            v[kind]
                .as_array()
                .expect(kind)
                .iter()
                .map(|o| {
                    let mut o = o.clone();
                    o.as_object_mut().expect("object").remove("source");
                    o
                })
                .collect()
        };
        assert_eq!(strip(&from_dir), strip(&from_json), "{kind}");
    }
    // The connections plan to no changes (the estate kinds' plan is X1's).
    let plan = run(&server, d, &["plan", "tree", "--detailed-exitcode"]).await;
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}{}",
        stdout(&plan),
        stderr(&plan)
    );
    // Nothing is replaced without --force, and again it is byte-identical.
    let before = std::fs::read(d.join("tree/estate.yaml")).expect("read");
    let out = run(&server, d, &["export", "--estate", "--out", "tree/"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("add --force to replace them"),
        "{}",
        stderr(&out)
    );
    let out = run(
        &server,
        d,
        &["export", "--estate", "--out", "tree/", "--force"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(d.join("tree/estate.yaml")).expect("read"),
        before
    );
    // JSON connection files get estate.json; CSV ones estate.yaml.
    let out = run(
        &server,
        d,
        &["export", "--estate", "--format", "json", "--out", "j/"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(d.join("j/estate.json").exists() && d.join("j/Prod.json").exists());
    let out = run(
        &server,
        d,
        &["export", "--estate", "--format", "csv", "--out", "c/"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(d.join("c/estate.yaml").exists() && d.join("c/Prod.csv").exists());
    normalised(&server, d, "c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_follow_the_connection_rules() {
    let server = estate_server().await;
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    // omit: left out, named in the header and on stderr.
    let out = run(&server, d, &["export", "--estate"]).await;
    let (text, err) = (stdout(&out), stderr(&out));
    assert!(
        text.contains("#   user \"alice\": attribute guac-totp-key-secret\n")
            && text.contains(
                "#   sharing profile ROOT/Prod/Web/web-1/handover: parameter x-share-key\n"
            ),
        "{text}"
    );
    assert!(
        err.contains("2 sensitive value(s) of users and sharing profiles were left out"),
        "{err}"
    );
    // env-ref: references, and the variables to set listed with what they hold.
    let out = run(
        &server,
        d,
        &[
            "export",
            "--estate",
            "--secrets",
            "env-ref",
            "--out",
            "refs.yaml",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    let written = std::fs::read_to_string(d.join("refs.yaml")).expect("read");
    for (var, what) in [
        (
            "GUAC_PROD_WEB_WEB_1_PASSWORD",
            "ROOT/Prod/Web/web-1 password",
        ),
        (
            "GUAC_USER_ALICE_GUAC_TOTP_KEY_SECRET",
            "user \"alice\" attribute guac-totp-key-secret",
        ),
        (
            "GUAC_SHARING_PROD_WEB_WEB_1_HANDOVER_X_SHARE_KEY",
            "sharing profile ROOT/Prod/Web/web-1/handover parameter x-share-key",
        ),
    ] {
        assert!(err.contains(&format!("  {var}\t{what}\n")), "{var}: {err}");
        assert!(
            written.contains(&format!("${{env:{var}}}")),
            "{var}: {written}"
        );
    }
    for secret in [TOTP_KEY, SHARE_SECRET, CONNECTION_PASSWORD] {
        assert!(!written.contains(secret) && !err.contains(secret));
    }
    let doc = normalised(&server, d, "refs.yaml").await;
    assert_eq!(
        find(&doc["users"], "username", "alice")["attributes"]["guac-totp-key-secret"],
        "${env:GUAC_USER_ALICE_GUAC_TOTP_KEY_SECRET}"
    );
    // include: written, with the warning; stderr still holds none of them.
    let out = run(
        &server,
        d,
        &[
            "export",
            "--estate",
            "--secrets",
            "include",
            "--out",
            "all.yaml",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let written = std::fs::read_to_string(d.join("all.yaml")).expect("read");
    for secret in [TOTP_KEY, SHARE_SECRET, CONNECTION_PASSWORD] {
        assert!(written.contains(secret), "{secret}");
        assert!(!stderr(&out).contains(secret));
    }
    assert!(stderr(&out).contains("--secrets include writes passwords and keys in clear"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_limits_groups_profiles_and_permission_targets() {
    let server = estate_server().await;
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let out = run(
        &server,
        d,
        &[
            "export", "--estate", "--scope", "ROOT/Lab", "--out", "lab.yaml",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(d.join("lab.yaml")).expect("read");
    assert!(
        text.contains("# Exported with --scope") && text.contains("#   groups = [\"ROOT/Lab\"]"),
        "{text}"
    );
    let doc = normalised(&server, d, "lab.yaml").await;
    let paths: Vec<&str> = doc["connectionGroups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["path"].as_str())
        .collect();
    assert_eq!(paths, ["ROOT/Lab"]);
    assert_eq!(doc["sharingProfiles"], json!([]));
    assert_eq!(doc["connections"].as_array().map(Vec::len), Some(1));
    // Every user and user group, with only the targets inside the scope.
    assert_eq!(doc["users"].as_array().map(Vec::len), Some(3));
    let alice = find(&doc["users"], "username", "alice");
    assert_eq!(
        alice["permissions"]["connections"],
        json!({}),
        "UPDATE on ROOT/Prod/Web/web-1 is outside the scope"
    );
    assert_eq!(
        alice["permissions"]["connectionGroups"],
        json!({"ROOT/Lab": ["READ", "ADMINISTER"]})
    );
    assert_eq!(
        alice["permissions"]["users"]["bob"],
        json!(["READ", "UPDATE"])
    );
    assert_eq!(
        find(&doc["userGroups"], "name", "ops")["permissions"]["sharingProfiles"],
        json!({})
    );
    // A scope the configuration already has needs no note.
    std::fs::write(
        d.join("guacsync.toml"),
        "[scope]\ngroups = [\"ROOT/Lab\"]\n",
    )
    .expect("write");
    let out = run(&server, d, &["export", "--estate", "--scope", "ROOT/Lab"]).await;
    assert!(
        !stdout(&out).contains("# Exported with --scope"),
        "{}",
        stdout(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_an_estate_document_is_refused_before_asking_the_server() {
    let server = estate_server().await;
    let dir = tempfile::tempdir().expect("dir");
    for (args, message) in [
        (
            vec!["export", "--estate", "--format", "state", "--out", "s.json"],
            "--estate cannot be used with --format state",
        ),
        (
            vec!["export", "--estate", "--format", "csv"],
            "--estate writes an estate document, which is YAML or JSON, not CSV",
        ),
        (
            vec!["export", "--estate", "--out", "x.csv"],
            "--estate writes an estate document, which is YAML or JSON, not CSV",
        ),
    ] {
        server.clear_requests();
        let out = run(&server, dir.path(), &args).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
        assert!(
            server.requests().is_empty(),
            "{args:?}: the server was asked"
        );
    }
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
}

/// With `delegated_account`, an estate export holds what the account can read
/// and says at its top (the directory's estate document too) that objects it
/// cannot read may exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegated_account_exports_what_it_sees_and_says_so() {
    let mut state = estate_state();
    state.users.push(
        serde_json::from_value(json!({"username": "ci-bot", "password": "bot-pw",
            "permissions": {"connectionGroupPermissions": {"3": ["READ"]},
                            "connectionPermissions": {"2": ["READ", "UPDATE"]}}}))
        .expect("user"),
    );
    let server = server_with(Config {
        state,
        prefix: "/guacamole".into(),
        ..Config::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    std::fs::write(
        d.join("guacsync.toml"),
        "[server]\ndelegated_account = true\n",
    )
    .expect("write");
    let bot = [
        ("GUACAMOLE_USERNAME", "ci-bot"),
        ("GUACAMOLE_PASSWORD", "bot-pw"),
    ];
    let out = guacsync_in(&server, d, &["export", "--estate", "--out", "seen/"], &bot).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let estate = std::fs::read_to_string(d.join("seen/estate.yaml")).expect("written");
    assert!(
        estate.starts_with("# warning: guacsync is logged in as \"ci-bot\""),
        "{estate}"
    );
    let doc = normalised(&server, d, "seen").await;
    let paths: Vec<&str> = doc["connectionGroups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["path"].as_str())
        .collect();
    assert_eq!(paths, ["ROOT/Lab"], "only what it may read");
    assert_eq!(
        doc["users"],
        json!([]),
        "it sees only itself, the login account"
    );
}

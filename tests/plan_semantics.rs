//! Plans an operator can trust (issue 12, DESIGN.md §4), through the binary
//! against the test server: moves and renames keep the object, the server's schema
//! decides which names exist, unmanaged parameters are kept, an account that
//! cannot see everything is refused (or warned about), prune needs a scope,
//! `prune_groups`, and exact mode for group READ. Each test asserts the plan, the
//! server's state and request log after sync, and that a second plan is empty and
//! writes nothing.

mod common;

use std::path::Path;
use std::process::Output;

use common::*;
use guacamole_testserver::state::{ConnectionState, ObjectPermission};
use guacamole_testserver::{RunningServer, State};
use serde_json::{Value, json};

/// `principals_only()` with these groups, connections, sharing profiles and
/// history records added (state-document JSON).
fn state_with(extra: &Value) -> State {
    let mut doc = serde_json::to_value(principals_only()).expect("state json");
    for key in [
        "connectionGroups",
        "connections",
        "sharingProfiles",
        "history",
    ] {
        if let Some(items) = extra.get(key).and_then(Value::as_array) {
            let list = doc
                .as_object_mut()
                .expect("object")
                .entry(key)
                .or_insert_with(|| json!([]));
            list.as_array_mut()
                .expect("array")
                .extend(items.iter().cloned());
        }
    }
    serde_json::from_value(doc).expect("a valid state")
}

/// Grants READ on connections and groups (by identifier) to a user.
fn grant_user(state: &mut State, user: &str, connections: &[&str], groups: &[&str]) {
    let u = state
        .users
        .iter_mut()
        .find(|u| u.username == user)
        .expect("user");
    for c in connections {
        u.permissions
            .connection_permissions
            .entry((*c).to_owned())
            .or_default()
            .insert(ObjectPermission::Read);
    }
    for g in groups {
        u.permissions
            .connection_group_permissions
            .entry((*g).to_owned())
            .or_default()
            .insert(ObjectPermission::Read);
    }
}

fn workspace(config: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("guacsync.toml"), config).expect("write config");
    std::fs::create_dir(dir.path().join("manifests")).expect("mkdir");
    for (name, text) in files {
        std::fs::write(dir.path().join("manifests").join(name), text).expect("write manifest");
    }
    dir
}

async fn run(server: &RunningServer, dir: &Path, args: &[&str]) -> Output {
    guacsync_in(server, dir, args, &[]).await
}

fn connection<'a>(state: &'a State, name: &str) -> &'a ConnectionState {
    state
        .connections
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("connection {name}"))
}

fn group_id(state: &State, name: &str) -> String {
    state
        .connection_groups
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("group {name}"))
        .identifier
        .clone()
}

/// The JSON bodies of the `PATCH ds/connections` requests.
fn connection_patches(server: &RunningServer) -> Vec<Value> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/connections"))
        .map(|r| serde_json::from_str(&r.body).expect("json body"))
        .collect()
}

/// A second plan after a sync: nothing to do, and nothing written.
async fn second_plan_is_empty(server: &RunningServer, dir: &Path, args: &[&str]) {
    server.clear_requests();
    let mut full = vec!["plan", "manifests"];
    full.extend_from_slice(args);
    let out = run(server, dir, &full).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("No changes."),
        "second plan:\n{}",
        stdout(&out)
    );
    assert_eq!(writes(&server.requests()), Vec::<String>::new());
}

const SCOPED_PRUNE: &str = "[scope]\ngroups = [\"ROOT/Prod\"]\n[sync]\nprune = true\n";

/// Changing only a connection's group under prune moves it: one `replace` with
/// the new `parentIdentifier`; its identifier, sharing profile and history stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_under_prune_is_one_replace_keeping_the_object() {
    let mut state = state_with(&json!({
        "connectionGroups": [
            {"identifier": "1", "name": "Prod"},
            {"identifier": "2", "name": "Web", "parentIdentifier": "1"}
        ],
        "connections": [
            {"identifier": "10", "name": "web-1", "parentIdentifier": "2", "protocol": "ssh", "parameters": {"hostname": "10.0.0.5"}},
            {"identifier": "11", "name": "db-1", "parentIdentifier": "1", "protocol": "ssh", "parameters": {"hostname": "10.0.0.6"}}
        ],
        "sharingProfiles": [{"identifier": "1", "name": "watch", "primaryConnectionIdentifier": "10", "parameters": {"read-only": "true"}}],
        "history": [{"identifier": "1", "connectionIdentifier": "10", "connectionName": "web-1", "username": "alice", "startDate": 1_700_000_000_000_i64, "endDate": 1_700_000_100_000_i64}]
    }));
    grant_user(&mut state, "alice", &["10"], &["1", "2"]);
    let server = server(state).await;
    let dir = workspace(
        SCOPED_PRUNE,
        &[(
            "prod.yaml",
            "- {name: web-1, protocol: ssh, group: ROOT/Prod/Frontend, parameters: {hostname: 10.0.0.5}, users: [alice]}\n- {name: db-1, protocol: ssh, group: ROOT/Prod, parameters: {hostname: 10.0.0.6}}\n",
        )],
    );
    let before = server.state();

    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("~ connection ROOT/Prod/Frontend/web-1 (moved from ROOT/Prod/Web/web-1)"),
        "{text}"
    );
    assert!(text.contains("+ group ROOT/Prod/Frontend"), "{text}");
    assert!(
        text.contains("Plan: 0 to add, 1 to change (1 moved), 0 to remove"),
        "{text}"
    );
    assert!(!text.contains("- connection"), "{text}");

    let after = server.state();
    let frontend = group_id(&after, "Frontend");
    let patches = connection_patches(&server);
    assert_eq!(patches.len(), 1, "{patches:#?}");
    let ops = patches[0].as_array().expect("ops");
    assert_eq!(ops.len(), 1, "one replace, never remove + add: {ops:#?}");
    assert_eq!(ops[0]["op"], "replace");
    assert_eq!(ops[0]["path"], "/10");
    assert_eq!(ops[0]["value"]["parentIdentifier"], frontend.as_str());
    assert_eq!(ops[0]["value"]["name"], "web-1");

    let web1 = connection(&after, "web-1");
    assert_eq!(web1.identifier, "10", "identifier kept");
    assert_eq!(web1.parent_identifier, frontend);
    assert_eq!(
        after.sharing_profiles, before.sharing_profiles,
        "sharing profile kept"
    );
    assert_eq!(after.history, before.history, "history kept");
    let alice = after
        .users
        .iter()
        .find(|u| u.username == "alice")
        .expect("alice");
    assert!(
        alice
            .permissions
            .connection_group_permissions
            .contains_key(&frontend),
        "READ on the new parent"
    );
    second_plan_is_empty(&server, dir.path(), &[]).await;
}

/// Two removals of one name and one add of it: which one moved is not known, so
/// nothing is paired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_move_is_not_paired() {
    let state = state_with(&json!({
        "connectionGroups": [
            {"identifier": "1", "name": "Prod"},
            {"identifier": "2", "name": "A", "parentIdentifier": "1"},
            {"identifier": "3", "name": "B", "parentIdentifier": "1"}
        ],
        "connections": [
            {"identifier": "10", "name": "web-1", "parentIdentifier": "2", "protocol": "ssh", "parameters": {"hostname": "a"}},
            {"identifier": "11", "name": "web-1", "parentIdentifier": "3", "protocol": "ssh", "parameters": {"hostname": "b"}}
        ]
    }));
    let server = server(state).await;
    let dir = workspace(
        SCOPED_PRUNE,
        &[(
            "prod.yaml",
            "- {name: web-1, protocol: ssh, group: ROOT/Prod/C, parameters: {hostname: c}}\n",
        )],
    );
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("moved from"), "{text}");
    assert!(text.contains("+ connection ROOT/Prod/C/web-1"), "{text}");
    assert!(text.contains("- connection ROOT/Prod/A/web-1"), "{text}");
    assert!(text.contains("- connection ROOT/Prod/B/web-1"), "{text}");
    let patches = connection_patches(&server);
    assert_eq!(patches.len(), 1);
    let ops: Vec<&str> = patches[0]
        .as_array()
        .expect("ops")
        .iter()
        .map(|o| o["op"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ops, ["add", "remove", "remove"]);
    let after = server.state();
    assert_eq!(after.connections.len(), 1);
    let new = connection(&after, "web-1");
    assert!(new.identifier != "10" && new.identifier != "11");
    assert_eq!(new.parent_identifier, group_id(&after, "C"));
    second_plan_is_empty(&server, dir.path(), &[]).await;
}

/// `[[moved]]` renames a connection and moves a group with its children, without
/// prune; a missing parent of `to` is created; once done the entries do nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_entries_rename_a_connection_and_move_a_group_with_its_children() {
    let state = state_with(&json!({
        "connectionGroups": [
            {"identifier": "1", "name": "Prod"},
            {"identifier": "2", "name": "Old", "parentIdentifier": "1", "attributes": {"max-connections": "4"}},
            {"identifier": "3", "name": "Sub", "parentIdentifier": "2"}
        ],
        "connections": [
            {"identifier": "10", "name": "web-1", "parentIdentifier": "1", "protocol": "ssh", "parameters": {"hostname": "w"}},
            {"identifier": "11", "name": "x", "parentIdentifier": "2", "protocol": "ssh", "parameters": {"hostname": "x"}},
            {"identifier": "12", "name": "y", "parentIdentifier": "3", "protocol": "vnc", "parameters": {"hostname": "y"}}
        ],
        "history": [{"identifier": "1", "connectionIdentifier": "10", "connectionName": "web-1", "username": "bob", "startDate": 1_700_000_000_000_i64}]
    }));
    let server = server(state).await;
    let config = "[scope]\ngroups = [\"ROOT/Prod\"]\n\n[[moved]]\nfrom = \"ROOT/Prod/web-1\"\nto = \"ROOT/Prod/web-01\"\n\n[[moved]]\nfrom = \"ROOT/Prod/Old\"\nto = \"ROOT/Prod/New/Team\"\n";
    let dir = workspace(
        config,
        &[(
            "prod.yaml",
            "- {name: web-01, protocol: ssh, group: ROOT/Prod, parameters: {hostname: w}}\n- {name: x, protocol: ssh, group: ROOT/Prod/New/Team, parameters: {hostname: x}}\n- {name: y, protocol: vnc, group: ROOT/Prod/New/Team/Sub, parameters: {hostname: y}}\n",
        )],
    );
    let before = server.state();
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("~ connection ROOT/Prod/web-01 (moved from ROOT/Prod/web-1)"),
        "{text}"
    );
    assert!(
        text.contains("~ group ROOT/Prod/New/Team (moved from ROOT/Prod/Old)"),
        "{text}"
    );
    assert!(text.contains("+ group ROOT/Prod/New\n"), "{text}");
    assert!(
        !text.contains("connection ROOT/Prod/New/Team/x"),
        "children move with their group: {text}"
    );

    let log = writes(&server.requests());
    assert_eq!(
        log,
        [
            "PATCH ds/connectionGroups",
            "PATCH ds/connectionGroups",
            "PATCH ds/connections"
        ],
        "create the new parent, move the group, rename the connection"
    );
    let group_patches: Vec<Value> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/connectionGroups"))
        .map(|r| serde_json::from_str(&r.body).expect("json"))
        .collect();
    let after = server.state();
    let new = group_id(&after, "New");
    assert_eq!(group_patches[1][0]["op"], "replace");
    assert_eq!(group_patches[1][0]["path"], "/2");
    assert_eq!(
        group_patches[1][0]["value"]["parentIdentifier"],
        new.as_str()
    );
    assert_eq!(group_patches[1][0]["value"]["name"], "Team");
    let rename = &connection_patches(&server)[0][0];
    assert_eq!(
        (rename["op"].as_str(), rename["path"].as_str()),
        (Some("replace"), Some("/10"))
    );
    assert_eq!(rename["value"]["name"], "web-01");

    let team = after
        .connection_groups
        .iter()
        .find(|g| g.identifier == "2")
        .expect("group 2");
    assert_eq!(
        (team.name.as_str(), team.parent_identifier.as_str()),
        ("Team", new.as_str())
    );
    assert_eq!(
        team.attributes.get("max-connections").map(String::as_str),
        Some("4"),
        "attributes kept"
    );
    let sub = after
        .connection_groups
        .iter()
        .find(|g| g.identifier == "3")
        .expect("group 3");
    assert_eq!(sub.parent_identifier, "2", "children kept");
    assert_eq!(connection(&after, "x").identifier, "11");
    assert_eq!(connection(&after, "y").parent_identifier, "3");
    assert_eq!(connection(&after, "web-01").identifier, "10");
    assert_eq!(after.history, before.history);
    second_plan_is_empty(&server, dir.path(), &[]).await;
}

/// Both ends of a `[[moved]]` existing is an error naming the entry; neither is a
/// warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_with_both_ends_is_an_error_and_with_neither_a_warning() {
    let state = state_with(&json!({
        "connectionGroups": [{"identifier": "1", "name": "Prod"}],
        "connections": [
            {"identifier": "10", "name": "a", "parentIdentifier": "1", "protocol": "ssh", "parameters": {"hostname": "a"}},
            {"identifier": "11", "name": "b", "parentIdentifier": "1", "protocol": "ssh", "parameters": {"hostname": "b"}}
        ]
    }));
    let server = server(state).await;
    let manifest = "- {name: a, protocol: ssh, group: ROOT/Prod, parameters: {hostname: a}}\n- {name: b, protocol: ssh, group: ROOT/Prod, parameters: {hostname: b}}\n";
    let both = workspace(
        "[[moved]]\nfrom = \"ROOT/Prod/a\"\nto = \"ROOT/Prod/b\"\n",
        &[("m.yaml", manifest)],
    );
    let out = run(&server, both.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(
            "guacsync.toml:2 ([[moved]] #1, from = \"ROOT/Prod/a\", to = \"ROOT/Prod/b\")"
        ) && err.contains("both connection ROOT/Prod/a and connection ROOT/Prod/b exist"),
        "{err}"
    );
    assert_eq!(writes(&server.requests()), Vec::<String>::new());

    let neither = workspace(
        "[[moved]]\nfrom = \"ROOT/Prod/gone\"\nto = \"ROOT/Prod/also-gone\"\n",
        &[("m.yaml", manifest)],
    );
    let out = run(&server, neither.path(), &["plan", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("neither ROOT/Prod/gone nor ROOT/Prod/also-gone exists"),
        "{}",
        stdout(&out)
    );
}

/// A typo'd parameter is an error at its place with a "did you mean", and its
/// value appears in no output; allowed, it is sent and shown as (sensitive).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typod_parameter_is_an_error_and_its_value_never_shown() {
    let server = server(principals_only()).await;
    let secret = "hunter2-Typo-9f1e";
    let manifest = format!(
        "- name: db\n  protocol: ssh\n  group: ROOT/Prod\n  parameters:\n    hostname: db1\n    pasword: {secret}\n"
    );
    let dir = workspace("", &[("db.yaml", &manifest)]);
    let mut outputs = Vec::new();
    for args in [
        &["plan", "manifests"][..],
        &["plan", "manifests", "--format", "json"],
        &["plan", "manifests", "--format", "markdown"],
        &["sync", "manifests"],
    ] {
        let out = run(&server, dir.path(), args).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("manifests/db.yaml:6:5: error[unknown-parameter]"),
            "{err}"
        );
        assert!(err.contains("did you mean `password`?"), "{err}");
        outputs.push(out);
    }
    assert_eq!(writes(&server.requests()), Vec::<String>::new());
    // validate (offline, bundled schema): a warning, the value masked too.
    for args in [
        &["validate", "manifests"][..],
        &["validate", "manifests", "--format", "json"],
        &["validate", "manifests", "--strict"],
    ] {
        outputs.push(run(&server, dir.path(), args).await);
    }
    let json: Value = serde_json::from_slice(&outputs[5].stdout).expect("validate json");
    assert_eq!(
        json["connections"][0]["parameters"]["pasword"], "(sensitive)",
        "{json}"
    );
    assert_eq!(outputs[6].status.code(), Some(1), "--strict: an error");
    for out in &outputs {
        for text in [stdout(out), stderr(out)] {
            assert!(!text.contains(secret), "the value leaked:\n{text}");
        }
    }

    // Allowed: sent (the server stores it), shown as (sensitive), then settled.
    std::fs::write(
        dir.path().join("guacsync.toml"),
        "[sync]\nallow_unknown_parameters = true\n",
    )
    .expect("write");
    server.clear_requests();
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("+ pasword = (sensitive)"), "{text}");
    assert!(text.contains("(sent: allow_unknown_parameters)"), "{text}");
    assert!(!text.contains(secret) && !stderr(&out).contains(secret));
    assert_eq!(
        connection(&server.state(), "db")
            .parameters
            .get("pasword")
            .map(String::as_str),
        Some(secret)
    );
    second_plan_is_empty(&server, dir.path(), &[]).await;
}

/// An attribute the server's schema does not have is an error (the server would
/// drop it on create and keep it on replace, so the plan would never settle).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_attribute_is_an_error_before_anything_is_sent() {
    let server = server(principals_only()).await;
    let dir = workspace(
        "",
        &[(
            "a.yaml",
            "- name: web\n  protocol: ssh\n  parameters: {hostname: h}\n  attributes:\n    owner-team: payments\n    max-conections: \"2\"\n",
        )],
    );
    let out = run(&server, dir.path(), &["plan", "manifests"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("manifests/a.yaml:5:5: error[unknown-attribute]"),
        "{err}"
    );
    assert!(
        err.contains("manifests/a.yaml:6:5: error[unknown-attribute]")
            && err.contains("did you mean `max-connections`?"),
        "{err}"
    );
    assert!(
        err.contains("2 parameter or attribute name(s) are unknown to the server"),
        "{err}"
    );
    assert_eq!(writes(&server.requests()), Vec::<String>::new());

    // Fixed, the plan settles in one sync.
    std::fs::write(
        dir.path().join("manifests/a.yaml"),
        "- name: web\n  protocol: ssh\n  parameters: {hostname: h}\n  attributes:\n    max-connections: \"2\"\n",
    )
    .expect("write");
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        connection(&server.state(), "web")
            .attributes
            .get("max-connections")
            .map(String::as_str),
        Some("2")
    );
    second_plan_is_empty(&server, dir.path(), &[]).await;
}

/// A password set by hand on the server and left out of the manifest is kept when
/// `unmanaged_parameters` names it: compared only where a manifest sets it, and
/// carried over in replaces. `export --secrets omit` says which line to add.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmanaged_password_is_kept_and_export_says_how() {
    let secret = "Set-By-Hand-4b2c";
    let state = state_with(&json!({
        "connectionGroups": [{"identifier": "1", "name": "Prod"}],
        "connections": [{"identifier": "10", "name": "web-1", "parentIdentifier": "1", "protocol": "ssh",
                         "parameters": {"hostname": "h", "port": "2222", "password": secret}}]
    }));
    let server = server(state).await;

    // Export first: the natural onboarding path.
    let dir = workspace("", &[]);
    let out = run(
        &server,
        dir.path(),
        &["export", "--out", "manifests/", "--scope", "ROOT/Prod"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = "unmanaged_parameters = [\"password\"]";
    assert!(stderr(&out).contains(line), "{}", stderr(&out));
    let exported = std::fs::read_to_string(dir.path().join("manifests/Prod.yaml")).expect("file");
    assert!(
        exported.contains(&format!("#   {line}")),
        "header comment:\n{exported}"
    );
    assert!(!exported.contains(secret));

    // Without the line, the plan would remove the password.
    let out = run(&server, dir.path(), &["plan", "manifests"]).await;
    assert!(
        stdout(&out).contains("- password = (sensitive)"),
        "{}",
        stdout(&out)
    );

    // With it, a change elsewhere keeps the password.
    std::fs::write(
        dir.path().join("guacsync.toml"),
        format!("[sync]\n{line}\n"),
    )
    .expect("write");
    let out = run(&server, dir.path(), &["plan", "manifests"]).await;
    assert!(stdout(&out).contains("No changes."), "{}", stdout(&out));
    let manifest = exported.replace("2222", "22");
    std::fs::write(dir.path().join("manifests/Prod.yaml"), manifest).expect("write");
    server.clear_requests();
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("~ port = \"2222\" -> \"22\""), "{text}");
    assert!(!text.contains("password"), "{text}");
    let patches = connection_patches(&server);
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0][0]["op"], "replace");
    assert_eq!(
        patches[0][0]["value"]["parameters"]["password"], secret,
        "the server's value is carried over in the full replace"
    );
    let after = connection(&server.state(), "web-1").clone();
    assert_eq!(
        after.parameters.get("password").map(String::as_str),
        Some(secret)
    );
    assert_eq!(after.parameters.get("port").map(String::as_str), Some("22"));
    second_plan_is_empty(&server, dir.path(), &[]).await;
}

/// A state with a limited account: `ci-bot` reads ROOT/Prod and web-1 (and may
/// update it, so it can read its parameters) but not ROOT/Hidden or its secret.
fn limited_state() -> State {
    let mut state = state_with(&json!({
        "connectionGroups": [
            {"identifier": "1", "name": "Prod"},
            {"identifier": "2", "name": "Hidden"}
        ],
        "connections": [
            {"identifier": "10", "name": "web-1", "parentIdentifier": "1", "protocol": "ssh", "parameters": {"hostname": "h"}},
            {"identifier": "11", "name": "secret-db", "parentIdentifier": "2", "protocol": "ssh", "parameters": {"hostname": "db"}}
        ]
    }));
    let mut bot: guacamole_testserver::state::UserState = serde_json::from_value(json!({
        "username": "ci-bot", "password": "ci-bot-pw",
        "permissions": {
            "systemPermissions": ["CREATE_CONNECTION"],
            "connectionPermissions": {"10": ["READ", "UPDATE"]},
            "connectionGroupPermissions": {"1": ["READ", "UPDATE"]}
        }
    }))
    .expect("user");
    bot.permissions
        .user_permissions
        .insert("ci-bot".into(), [ObjectPermission::Read].into());
    state.users.push(bot);
    state
}

const BOT: [(&str, &str); 2] = [
    ("GUACAMOLE_USERNAME", "ci-bot"),
    ("GUACAMOLE_PASSWORD", "ci-bot-pw"),
];
const BOT_MANIFEST: &str =
    "- {name: web-1, protocol: ssh, group: ROOT/Prod, parameters: {hostname: h}}\n";

/// Without ADMINISTER, plan, sync and export refuse, naming the account and the
/// permission, before reading the tree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limited_account_is_refused_for_plan_sync_and_export() {
    let server = server(limited_state()).await;
    let bot = BOT;
    let dir = workspace("", &[("m.yaml", BOT_MANIFEST)]);
    for args in [
        &["plan", "manifests"][..],
        &["sync", "manifests"],
        &["export"],
    ] {
        server.clear_requests();
        let out = guacsync_in(&server, dir.path(), args, &bot).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("the account \"ci-bot\" lacks the system permission ADMINISTER")
                && err.contains("delegated_account = true"),
            "{err}"
        );
        assert!(stdout(&out).is_empty(), "no plan, no export");
        let log = summary(&server.requests());
        assert!(
            log.iter().all(|r| !r.contains("tree")),
            "refused before reading the tree: {log:#?}"
        );
        assert!(log.iter().any(|r| r == "GET ds/self/effectivePermissions"));
        assert_eq!(writes(&server.requests()), Vec::<String>::new());
    }
}

/// With `delegated_account`, plan, sync and export work with what the account can
/// read, and say at their top that objects it cannot read may exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegated_account_plans_what_it_sees_and_says_so() {
    let server = server(limited_state()).await;
    let bot = BOT;
    let manifest = BOT_MANIFEST;
    let dir = workspace(
        "[server]\ndelegated_account = true\n",
        &[("m.yaml", manifest)],
    );
    let note = "objects this account cannot read may exist and are neither shown nor touched";
    let out = guacsync_in(&server, dir.path(), &["plan", "manifests"], &bot).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("warning: guacsync is logged in as \"ci-bot\"") && text.contains(note),
        "{text}"
    );
    assert!(text.contains("No changes."), "{text}");
    assert!(!text.contains("secret-db"));
    let out = guacsync_in(
        &server,
        dir.path(),
        &["plan", "manifests", "--format", "markdown"],
        &bot,
    )
    .await;
    let md = stdout(&out);
    assert!(
        md.starts_with("### guacsync plan\n\n> **Warning:** ") && md.contains(note),
        "{md}"
    );
    let out = guacsync_in(
        &server,
        dir.path(),
        &["plan", "manifests", "--format", "json"],
        &bot,
    )
    .await;
    let plan: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        plan["visibility"]
            .as_str()
            .is_some_and(|v| v.contains(note)),
        "{plan}"
    );
    let out = guacsync_in(&server, dir.path(), &["export"], &bot).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning: guacsync is logged in as \"ci-bot\""));
    let exported = stdout(&out);
    assert!(
        exported.starts_with("# warning: guacsync is logged in as \"ci-bot\"")
            && exported.contains(note),
        "{exported}"
    );
    assert!(exported.contains("web-1") && !exported.contains("secret-db"));

    // A sync with the delegated account changes only what it sees.
    std::fs::write(
        dir.path().join("manifests/m.yaml"),
        manifest.replace("hostname: h", "hostname: h2"),
    )
    .expect("write");
    server.clear_requests();
    let out = guacsync_in(&server, dir.path(), &["sync", "manifests"], &bot).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(note));
    assert_eq!(writes(&server.requests()), ["PATCH ds/connections"]);
    let after = server.state();
    assert_eq!(
        connection(&after, "web-1")
            .parameters
            .get("hostname")
            .map(String::as_str),
        Some("h2")
    );
    assert_eq!(
        connection(&after, "secret-db")
            .parameters
            .get("hostname")
            .map(String::as_str),
        Some("db"),
        "what it cannot see is untouched"
    );
    server.clear_requests();
    let out = guacsync_in(&server, dir.path(), &["plan", "manifests"], &bot).await;
    assert!(stdout(&out).contains("No changes."), "{}", stdout(&out));
    assert_eq!(writes(&server.requests()), Vec::<String>::new());
}

/// `--prune` (or `prune = true`) without a scope is an error that says so, before
/// anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_without_scope_is_an_error() {
    let server = server(principals_only()).await;
    let dir = workspace(
        "",
        &[(
            "m.yaml",
            "- {name: a, protocol: ssh, parameters: {hostname: a}}\n",
        )],
    );
    let out = run(&server, dir.path(), &["plan", "manifests", "--prune"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "--prune needs a scope: without [scope] groups guacsync never removes anything"
        ),
        "{}",
        stderr(&out)
    );
    std::fs::write(dir.path().join("guacsync.toml"), "[sync]\nprune = true\n").expect("write");
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("guacsync.toml needs a scope"),
        "{}",
        stderr(&out)
    );
    assert!(server.requests().is_empty(), "nothing sent at all");
    // With a scope it prunes.
    std::fs::write(dir.path().join("guacsync.toml"), SCOPED_PRUNE).expect("write");
    let out = run(&server, dir.path(), &["plan", "manifests"]).await;
    assert_eq!(out.status.code(), Some(1), "a is outside the scope");
    assert!(stderr(&out).contains("outside every scope group"));
}

/// With `prune_groups`, groups below a scope group that are (or are left) empty
/// and that no manifest names are removed, deepest first; the scope group stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_groups_removes_groups_left_empty() {
    let state = state_with(&json!({
        "connectionGroups": [
            {"identifier": "1", "name": "Prod"},
            {"identifier": "2", "name": "Web", "parentIdentifier": "1"},
            {"identifier": "3", "name": "Old", "parentIdentifier": "1"},
            {"identifier": "4", "name": "Deeper", "parentIdentifier": "3"},
            {"identifier": "5", "name": "Legacy", "parentIdentifier": "1"},
            {"identifier": "6", "name": "Lab"}
        ],
        "connections": [
            {"identifier": "10", "name": "web-1", "parentIdentifier": "2", "protocol": "ssh", "parameters": {"hostname": "w"}},
            {"identifier": "11", "name": "legacy-1", "parentIdentifier": "5", "protocol": "ssh", "parameters": {"hostname": "l"}}
        ]
    }));
    let server = server(state).await;
    let dir = workspace(
        &format!("{SCOPED_PRUNE}prune_groups = true\n"),
        &[(
            "m.yaml",
            "- {name: web-1, protocol: ssh, group: ROOT/Prod/Web, parameters: {hostname: w}}\n",
        )],
    );
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "- connection ROOT/Prod/Legacy/legacy-1",
        "- group ROOT/Prod/Old/Deeper",
        "- group ROOT/Prod/Legacy",
        "- group ROOT/Prod/Old\n",
        "1 to remove",
        "3 groups to remove",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
    assert!(!text.contains("- group ROOT/Prod\n") && !text.contains("ROOT/Lab"));
    let removes: Vec<Value> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/connectionGroups"))
        .map(|r| serde_json::from_str(&r.body).expect("json"))
        .collect();
    assert_eq!(
        removes,
        [json!([
            {"op": "remove", "path": "/4"},
            {"op": "remove", "path": "/5"},
            {"op": "remove", "path": "/3"}
        ])],
        "deepest first, after the connections"
    );
    assert_eq!(
        writes(&server.requests()),
        ["PATCH ds/connections", "PATCH ds/connectionGroups"]
    );
    let after = server.state();
    let names: Vec<&str> = after
        .connection_groups
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    assert_eq!(names, ["Prod", "Web", "Lab"]);
    second_plan_is_empty(&server, dir.path(), &[]).await;

    // Each removed group counts as a deletion.
    let server = server_with_state(&after, &[("3", "Empty", "1")]).await;
    let strict = workspace(
        &format!("{SCOPED_PRUNE}prune_groups = true\nmax_deletions = 0\n"),
        &[(
            "m.yaml",
            "- {name: web-1, protocol: ssh, group: ROOT/Prod/Web, parameters: {hostname: w}}\n",
        )],
    );
    let out = run(&server, strict.path(), &["plan", "manifests"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("removes 1 objects (0 connections, 1 groups), more than max_deletions (0)"),
        "{}",
        stderr(&out)
    );
}

/// A server holding `state` plus the given groups (identifier, name, parent).
async fn server_with_state(state: &State, groups: &[(&str, &str, &str)]) -> RunningServer {
    let mut state = state.clone();
    for (id, name, parent) in groups {
        state.connection_groups.push(
            serde_json::from_value(
                json!({"identifier": id, "name": name, "parentIdentifier": parent}),
            )
            .expect("group"),
        );
    }
    state.next_ids = None;
    server(state).await
}

/// Exact mode revokes READ on an in-scope group (scope group included) from a
/// principal no manifest grants any connection below it; memberships are not
/// followed; the login account and groups outside the scope are not touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_mode_revokes_group_read_nobody_needs() {
    let mut state = state_with(&json!({
        "connectionGroups": [
            {"identifier": "1", "name": "Prod"},
            {"identifier": "2", "name": "Web", "parentIdentifier": "1"},
            {"identifier": "3", "name": "Db", "parentIdentifier": "1"},
            {"identifier": "4", "name": "Lab"}
        ],
        "connections": [
            {"identifier": "10", "name": "web-1", "parentIdentifier": "2", "protocol": "ssh", "parameters": {"hostname": "w"}},
            {"identifier": "11", "name": "db-1", "parentIdentifier": "3", "protocol": "ssh", "parameters": {"hostname": "d"}}
        ]
    }));
    // alice still reads Db (and Lab, outside the scope); bob reads only db-1.
    grant_user(&mut state, "alice", &["10"], &["1", "2", "3", "4"]);
    grant_user(&mut state, "bob", &["11"], &["3"]);
    grant_user(&mut state, "guacadmin", &[], &["1", "2", "3"]);
    let ops = state
        .user_groups
        .iter_mut()
        .find(|g| g.identifier == "ops")
        .expect("ops");
    ops.member_users.insert("alice".into());
    ops.permissions
        .connection_group_permissions
        .insert("3".into(), [ObjectPermission::Read].into());
    ops.permissions
        .connection_permissions
        .insert("11".into(), [ObjectPermission::Read].into());
    let server = server(state).await;
    let dir = workspace(
        "[scope]\ngroups = [\"ROOT/Prod\"]\n[sync]\npermissions = \"exact\"\n",
        &[(
            "m.yaml",
            "- {name: web-1, protocol: ssh, group: ROOT/Prod/Web, parameters: {hostname: w}, users: [alice]}\n- {name: db-1, protocol: ssh, group: ROOT/Prod/Db, parameters: {hostname: d}, users: [bob], groups: [ops]}\n",
        )],
    );
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("- READ for user \"alice\":\n      - group ROOT/Prod/Db\n"),
        "{text}"
    );
    assert!(
        text.contains("+ READ for user \"bob\":\n      + group ROOT/Prod\n"),
        "{text}"
    );
    assert!(!text.contains("guacadmin"), "{text}");
    assert!(!text.contains("ROOT/Lab"), "{text}");
    let alice_patch: Value = server
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH" && r.path.ends_with("/users/alice/permissions"))
        .map(|r| serde_json::from_str(&r.body).expect("json"))
        .expect("alice's PATCH");
    assert_eq!(
        alice_patch,
        json!([{"op": "remove", "path": "/connectionGroupPermissions/3", "value": "READ"}])
    );
    let after = server.state();
    let user = |name: &str| {
        after
            .users
            .iter()
            .find(|u| u.username == name)
            .expect("user")
            .permissions
            .connection_group_permissions
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(user("alice"), ["1", "2", "4"]);
    assert_eq!(user("bob"), ["1", "3"]);
    assert_eq!(
        user("guacadmin"),
        ["1", "2", "3"],
        "the login account is untouched"
    );
    second_plan_is_empty(&server, dir.path(), &[]).await;
}

/// CSV `users`/`groups`: a lone trailing backslash is dropped, as upstream does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_lone_trailing_backslash_is_dropped() {
    let server = server(principals_only()).await;
    let dir = workspace(
        "",
        &[(
            "m.csv",
            "name,protocol,hostname,users,groups\nweb,ssh,h,trailing\\,ops\\;eu;x\\\n",
        )],
    );
    let out = run(
        &server,
        dir.path(),
        &["validate", "manifests", "--format", "json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["connections"][0]["users"], json!(["trailing"]));
    assert_eq!(doc["connections"][0]["groups"], json!(["ops;eu", "x"]));
}

/// `--strict` is accepted by `plan` and `sync`: unknown keys are errors there as
/// in `validate`, before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_plan_and_sync_refuse_unknown_keys() {
    let server = server(principals_only()).await;
    let dir = workspace(
        "",
        &[(
            "m.yaml",
            "- name: web\n  protocol: ssh\n  identifer: 7\n  parameters: {hostname: h}\n",
        )],
    );
    for command in ["plan", "sync"] {
        let out = run(&server, dir.path(), &[command, "manifests", "--strict"]).await;
        assert_eq!(out.status.code(), Some(1), "{command}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("manifests/m.yaml:3:3: error[unknown-key]"),
            "{}",
            stderr(&out)
        );
        assert!(server.requests().is_empty(), "nothing sent");
    }
    let out = run(&server, dir.path(), &["plan", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "a warning without --strict");
    assert!(stderr(&out).contains("warning[unknown-key]"));
}

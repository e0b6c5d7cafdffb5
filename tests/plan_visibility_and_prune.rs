//! Seeing everything before planning, and scope and prune (issue 12, DESIGN.md
//! §4), through the binary: an account without ADMINISTER is refused unless
//! `delegated_account` (then every plan and export says so), prune needs a scope,
//! `prune_groups`, and exact mode for group READ.

mod common;
mod plan_support;

use common::*;
use guacamole_testserver::state::ObjectPermission;
use guacamole_testserver::{RunningServer, State};
use plan_support::*;
use serde_json::{Value, json};

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
        md.starts_with("<!-- guacsync-plan -->\n### guacsync plan\n\n> **Warning:** ")
            && md.contains(note),
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
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/connectionGroups") && !is_probe(r))
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

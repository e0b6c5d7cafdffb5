//! Moves and renames keep the object (issue 12, DESIGN.md §4), through the binary
//! against the test server: pairing under prune, ambiguous names left unpaired,
//! `[[moved]]` entries for connections and groups. Each test asserts the plan, the
//! server's state and request log after sync, and that a second plan is empty and
//! writes nothing.

mod common;
mod plan_support;

use common::*;
use plan_support::*;
use serde_json::{Value, json};

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
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/connectionGroups") && !is_probe(r))
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

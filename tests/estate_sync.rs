//! The estate kinds through the real binary against the test server (DESIGN.md
//! §8, issue 13): for connection groups, sharing profiles, user groups and users,
//! create, change one field with the undeclared ones left as they are, move,
//! reject a batch (nothing of that kind applied), and a second run with nothing
//! to do and no write; the login account untouched throughout. Prune and the
//! 1.5.x bodies are in `estate_prune.rs`.

mod common;

use common::estate::{CAROL_PW, Dir, login_account, run, state, sync_then_nothing, user};
use common::{server, stderr, stdout, summary, writes};
use guacamole_testserver::state::{ObjectPermission, SystemPermission};
use guacamole_testserver::{Fault, FaultRule};

const CONFIG: &str = "[secrets]\nenv = [\"CAROL_PW\"]\n";

const CREATE: &str = "\
connectionGroups:
  - path: ROOT/Prod/Pool
    type: BALANCING
    attributes: {max-connections: 4, enable-session-affinity: true}
    users: [bob]
sharingProfiles:
  - {connection: ROOT/Prod/Web/web-1, name: collab, parameters: {}, groups: [auditors]}
userGroups:
  - name: auditors
    disabled: true
    members: {users: [alice, carol]}
    system: [CREATE_CONNECTION]
users:
  - username: carol
    password: ${env:CAROL_PW}
    disabled: true
    attributes: {guac-full-name: Carol Reyes, timezone: Europe/Berlin}
    permissions:
      connections: {ROOT/Prod/Web/web-1: [READ, UPDATE]}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_is_created_and_a_second_run_writes_nothing() {
    let server = server(state()).await;
    let before = server.state();
    let dir = Dir::new(CONFIG, CREATE);
    let plan = run(&server, &dir, &["plan", "manifests"]).await;
    let text = stdout(&plan);
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    for line in [
        "  + group ROOT/Prod/Pool (BALANCING)    # manifests/estate.yaml:2",
        "  + sharing profile \"collab\" of ROOT/Prod/Web/web-1    # manifests/estate.yaml:7",
        "  + user group \"auditors\"    # manifests/estate.yaml:9",
        "  ~ user group \"auditors\" (disabled after creation: Guacamole 1.6 ignores `disabled` when it creates one)",
        "  + user \"carol\"    # manifests/estate.yaml:14\n      + password (set on create)\n      + disabled = \"true\"\n",
        "  ~ members of user group \"auditors\":\n      + user \"alice\"\n      + user \"carol\"\n",
        "      + system CREATE_CONNECTION",
        "      + UPDATE on connection ROOT/Prod/Web/web-1",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    assert!(!text.contains(CAROL_PW));
    let applied = sync_then_nothing(&server, &dir).await;
    assert!(!applied.contains(CAROL_PW));

    let s = server.state();
    let pool = s
        .connection_groups
        .iter()
        .find(|g| g.name == "Pool")
        .expect("pool");
    assert_eq!(
        (pool.group_type.as_str(), pool.parent_identifier.as_str()),
        ("BALANCING", "1")
    );
    assert_eq!(
        pool.attributes.get("max-connections").map(String::as_str),
        Some("4")
    );
    let collab = s
        .sharing_profiles
        .iter()
        .find(|p| p.name == "collab")
        .expect("collab");
    assert_eq!(collab.primary_connection_identifier, "1");
    let auditors = s
        .user_groups
        .iter()
        .find(|g| g.identifier == "auditors")
        .expect("auditors");
    assert!(auditors.disabled, "disabled by the replace after the add");
    assert_eq!(
        auditors.member_users.iter().collect::<Vec<_>>(),
        ["alice", "carol"]
    );
    assert!(
        auditors
            .permissions
            .system_permissions
            .contains(&SystemPermission::CreateConnection)
    );
    assert!(
        auditors.permissions.sharing_profile_permissions[&collab.identifier]
            .contains(&ObjectPermission::Read)
    );
    let carol = user(&s, "carol");
    assert_eq!(carol.password.as_deref(), Some(CAROL_PW));
    assert!(carol.disabled);
    assert_eq!(carol.attributes["timezone"], "Europe/Berlin");
    assert_eq!(
        carol.permissions.connection_permissions["1"],
        [ObjectPermission::Read, ObjectPermission::Update].into()
    );
    let bob = user(&s, "bob");
    assert!(
        bob.permissions.connection_group_permissions[&pool.identifier]
            .contains(&ObjectPermission::Read)
    );
    assert!(
        bob.permissions.connection_group_permissions["1"].contains(&ObjectPermission::Read),
        "parent_group_read"
    );
    assert_eq!(login_account(&s), login_account(&before));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_field_changes_and_what_is_not_declared_stays() {
    let server = server(state()).await;
    let before = server.state();
    let dir = Dir::new(
        CONFIG,
        &[
            "connectionGroups:",
            "  - {path: ROOT/Prod/Web, attributes: {max-connections-per-user: 2}}",
            "sharingProfiles:",
            "  - {connection: ROOT/Prod/Web/web-1, name: watch, parameters: {}}",
            "userGroups:",
            "  - {name: ops, disabled: true}",
            "users:",
            "  - {username: alice, attributes: {guac-organization: Example Corp}}",
            "  - {username: guacadmin, disabled: true, attributes: {guac-full-name: Mallory}}",
            "",
        ]
        .join("\n"),
    );
    let plan = run(&server, &dir, &["plan", "manifests"]).await;
    let text = stdout(&plan);
    assert!(
        text.contains("  ~ user \"alice\"    # manifests/estate.yaml:8\n      ~ attribute guac-organization = \"Example\" -> \"Example Corp\"\n"),
        "{text}"
    );
    assert!(!text.contains("~ user \"guacadmin\""), "{text}");
    assert!(
        text.contains("warning: manifests/estate.yaml:9: user \"guacadmin\" is the account guacsync logs in as, which guacsync never changes; its declared disabled, attributes are left alone"),
        "{text}"
    );
    sync_then_nothing(&server, &dir).await;
    let s = server.state();
    let alice = user(&s, "alice");
    assert_eq!(alice.attributes["guac-organization"], "Example Corp");
    assert_eq!(
        alice.attributes["guac-full-name"], "Alice Jansen",
        "undeclared: kept"
    );
    assert!(alice.disabled, "`disabled` not declared: kept");
    let web = s
        .connection_groups
        .iter()
        .find(|g| g.name == "Web")
        .expect("web");
    assert_eq!(web.attributes["max-connections"], "5", "undeclared: kept");
    assert_eq!(web.attributes["max-connections-per-user"], "2");
    assert_eq!(web.identifier, "2");
    let watch = &s.sharing_profiles[0];
    assert_eq!(
        (watch.identifier.as_str(), watch.parameters.len()),
        ("1", 0),
        "false clears"
    );
    assert!(s.user_groups[0].disabled);
    assert_eq!(
        s.user_groups[0].member_users.len(),
        1,
        "members not declared: kept"
    );
    assert_eq!(login_account(&s), login_account(&before));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_group_moves_with_its_connection_and_profiles() {
    let server = server(state()).await;
    let dir = Dir::new(
        "[[moved]]\nfrom = \"ROOT/Prod/Web\"\nto = \"ROOT/Prod/Front\"\n",
        "connectionGroups:\n  - {path: ROOT/Prod/Front, type: BALANCING}\n",
    );
    std::fs::write(
        dir.path().join("manifests/web.csv"),
        "name,protocol,group,hostname\nweb-1,ssh,ROOT/Prod/Front,10.0.1.11\n",
    )
    .expect("csv");
    let plan = run(&server, &dir, &["plan", "manifests"]).await;
    let text = stdout(&plan);
    assert!(
        text.contains("  ~ group ROOT/Prod/Front (moved from ROOT/Prod/Web) (BALANCING)    # manifests/estate.yaml:2\n      ~ type = \"ORGANIZATIONAL\" -> \"BALANCING\"\n"),
        "{text}"
    );
    sync_then_nothing(&server, &dir).await;
    let s = server.state();
    let front = s
        .connection_groups
        .iter()
        .find(|g| g.identifier == "2")
        .expect("group 2");
    assert_eq!(
        (front.name.as_str(), front.group_type.as_str()),
        ("Front", "BALANCING")
    );
    assert_eq!(
        front.attributes["max-connections"], "5",
        "a move carries the attributes"
    );
    assert_eq!(s.sharing_profiles[0].primary_connection_identifier, "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_batch_leaves_nothing_of_its_kind() {
    // (The first PATCH of connectionGroups is the empty probe every plan sends.)
    for (directory, occurrence, index, kind) in [
        ("connectionGroups", 2, 0, "group"),
        ("sharingProfiles", 1, 0, "sharing profile"),
        ("userGroups", 1, 1, "user group"),
        ("users", 1, 0, "user"),
    ] {
        let server = server(state()).await;
        let dir = Dir::new(CONFIG, CREATE);
        server.set_faults(vec![FaultRule::exact(
            "PATCH",
            &format!("/api/session/data/postgresql/{directory}"),
            occurrence,
            Fault::PatchError {
                index,
                message: Some("Injected rejection.".into()),
            },
        )]);
        let out = run(&server, &dir, &["sync", "manifests"]).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{directory}: {err}");
        assert!(err.contains("Injected rejection."), "{directory}: {err}");
        assert!(
            err.contains("manifests/estate.yaml:"),
            "{directory}: the line of the rejected object: {err}"
        );
        assert!(err.contains("done before it:"), "{directory}: {err}");
        let s = server.state();
        let counts = (
            s.connection_groups.len(),
            s.sharing_profiles.len(),
            s.user_groups.len(),
            s.users.len(),
        );
        let nothing_of_it = match directory {
            "connectionGroups" => counts.0 == 2,
            "sharingProfiles" => counts.1 == 1 && counts.0 == 3,
            "userGroups" => counts.2 == 1 && counts.1 == 2,
            _ => counts.3 == 3 && counts.2 == 2,
        };
        assert!(nothing_of_it, "{kind}: {counts:?}");
        // Running again converges.
        server.set_faults(vec![]);
        sync_then_nothing(&server, &dir).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_are_sent_on_create_and_on_reset_only() {
    let server = server(state()).await;
    let dir = Dir::new(CONFIG, CREATE);
    sync_then_nothing(&server, &dir).await;
    // The password is changed on the server (the user did it); no plan resets it.
    let mut s = server.state();
    s.users
        .iter_mut()
        .find(|u| u.username == "carol")
        .expect("carol")
        .password = Some("Changed-By-Carol".into());
    server.set_state(&s).expect("state");
    let plan = run(&server, &dir, &["plan", "manifests"]).await;
    assert!(stdout(&plan).contains("No changes."), "{}", stdout(&plan));
    // Reset by name, in every format; a name without a password is an error.
    let bad = run(
        &server,
        &dir,
        &["plan", "manifests", "--reset-password", "alice"],
    )
    .await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("no estate document declares user \"alice\""),
        "{}",
        stderr(&bad)
    );
    let json = run(
        &server,
        &dir,
        &[
            "plan",
            "manifests",
            "--reset-password",
            "carol",
            "--format",
            "json",
        ],
    )
    .await;
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(doc["changes"][0]["password"], "reset");
    assert_eq!(doc["summary"]["kinds"]["user"]["change"], 1);
    let md = run(
        &server,
        &dir,
        &[
            "plan",
            "manifests",
            "--reset-passwords",
            "--format",
            "markdown",
        ],
    )
    .await;
    assert!(stdout(&md).contains("password (reset)"), "{}", stdout(&md));
    server.clear_requests();
    let out = run(&server, &dir, &["sync", "manifests", "--reset-passwords"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("~ password (reset)"));
    assert_eq!(writes(&server.requests()), ["PATCH ds/users"]);
    assert_eq!(
        user(&server.state(), "carol").password.as_deref(),
        Some(CAROL_PW)
    );
    for o in [&plan, &bad, &json, &md, &out] {
        assert!(!stdout(o).contains(CAROL_PW) && !stderr(o).contains(CAROL_PW));
    }
}

/// Issue 15 (estates with many users): the permissions of a declared principal
/// are read only when it writes `system` or `permissions`, or a READ list names
/// it, and a user group's member lists only when written; what is not written
/// costs no request, and the plan is the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_and_members_are_read_only_where_written() {
    let server = server(state()).await;
    let dir = Dir::new(
        CONFIG,
        &[
            "connectionGroups:",
            "  - {path: ROOT/Prod/Web, users: [guacadmin]}",
            "userGroups:",
            "  - {name: ops, members: {users: [alice, bob]}}",
            "users:",
            "  - {username: alice, attributes: {guac-organization: Example Corp}}",
            "  - {username: bob, system: [CREATE_CONNECTION]}",
            "",
        ]
        .join("\n"),
    );
    server.clear_requests();
    let plan = run(&server, &dir, &["plan", "manifests"]).await;
    let text = stdout(&plan);
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    for line in [
        "      ~ attribute guac-organization = \"Example\" -> \"Example Corp\"\n",
        "  ~ members of user group \"ops\":\n      + user \"bob\"\n",
        "      + system CREATE_CONNECTION",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    // Sorted: they are fetched concurrently.
    let read: std::collections::BTreeSet<String> = summary(&server.requests())
        .into_iter()
        .filter(|r| r.starts_with("GET ") && r.ends_with("/permissions"))
        .collect();
    assert_eq!(
        read,
        [
            "GET ds/users/bob/permissions".to_owned(),
            "GET ds/users/guacadmin/permissions".to_owned()
        ]
        .into(),
        "bob writes `system`, a READ list names guacadmin; alice and ops write neither"
    );
    let members: Vec<String> = summary(&server.requests())
        .into_iter()
        .filter(|r| r.contains("/member"))
        .collect();
    assert_eq!(
        members,
        ["GET ds/userGroups/ops/memberUsers"],
        "ops writes members.users only"
    );
    sync_then_nothing(&server, &dir).await;
    let s = server.state();
    assert_eq!(
        user(&s, "bob").permissions.system_permissions,
        [SystemPermission::CreateConnection].into()
    );
    assert_eq!(
        user(&s, "alice").attributes["guac-organization"],
        "Example Corp"
    );
}

/// A failed membership PATCH is read back: Guacamole adds, then removes, each in
/// its own statement (rest-api.md §6), so the adds may stay applied when the
/// request fails; the report says what the group now holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_membership_patch_is_read_back() {
    let server = server(state()).await;
    let dir = Dir::new(
        CONFIG,
        "userGroups:\n  - {name: ops, members: {users: [alice, bob]}}\n",
    );
    server.set_faults(vec![FaultRule::exact(
        "PATCH",
        "/api/session/data/postgresql/userGroups/ops/memberUsers",
        1,
        Fault::Status {
            code: 500,
            message: None,
        },
    )]);
    let out = run(&server, &dir, &["sync", "manifests"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(server.fault_hits(), [1], "{err}");
    for part in [
        "updating the members of user group \"ops\" failed:",
        "userGroups/ops/memberUsers",
        "the changes before the failing one may be applied",
        "Read back from the server: 0 of the 1 member(s) to add and 0 of the 0 to remove are in place",
        "done before it:",
    ] {
        assert!(err.contains(part), "{part:?} in\n{err}");
    }
    assert!(
        summary(&server.requests()).contains(&"GET ds/userGroups/ops/memberUsers".to_owned()),
        "the members were read back"
    );
    server.set_faults(Vec::new());
    sync_then_nothing(&server, &dir).await;
}

//! Prune of the estate kinds through the real binary (DESIGN.md §8): users and
//! user groups only with `[scope] principals = "all"`, sharing profiles only
//! with `[scope] sharing_profiles = "all"` and on in-scope connections, every
//! removal counted by the deletion guard, the login account never removed; and
//! the estate applied to Guacamole 1.5.x object by object, `disabled` written as
//! its attribute there and AUDIT refused.

mod common;

use common::estate::{Dir, login_account, run, state, sync_then_nothing, user};
use common::{server_with, stderr, stdout, writes};
use guacamole_testserver::version::GuacamoleVersion;
use guacamole_testserver::{Config, RunningServer};

const DECLARED: &str = "\
sharingProfiles:
  - {connection: ROOT/Prod/Web/web-1, name: collab}
userGroups:
  - {name: ops}
users:
  - {username: alice}
";

async fn server() -> RunningServer {
    common::server(state()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeclared_principals_and_profiles_go_only_when_owned() {
    let server = server().await;
    let before = server.state();
    // Prune alone never removes a principal or a sharing profile.
    let dir = Dir::new(
        "[scope]\ngroups = [\"ROOT/Prod\"]\n[sync]\nprune = true\n",
        DECLARED,
    );
    let out = run(&server, &dir, &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = server.state();
    assert_eq!(
        (s.users.len(), s.user_groups.len(), s.sharing_profiles.len()),
        (3, 1, 2)
    );

    // Owned: bob and the undeclared profile go; guacadmin, never declared, stays.
    let owned = "[scope]\ngroups = [\"ROOT/Prod\"]\nprincipals = \"all\"\nsharing_profiles = \"all\"\n[sync]\nprune = true\nmax_deletions = 1\n";
    let dir = Dir::new(owned, DECLARED);
    let refused = run(&server, &dir, &["plan", "manifests"]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains(
            "the plan removes 2 objects (0 connections, 1 sharing profiles, 1 users), more than max_deletions (1)"
        ),
        "{}",
        stderr(&refused)
    );
    let plan = run(
        &server,
        &dir,
        &["plan", "manifests", "--allow-deletions", "2"],
    )
    .await;
    let text = stdout(&plan);
    assert!(
        text.contains(
            "  - sharing profile \"watch\" of ROOT/Prod/Web/web-1\n      - read-only = \"true\"\n"
        ),
        "{text}"
    );
    assert!(text.contains("  - user \"bob\"\n"), "{text}");
    assert!(!text.contains("- user \"guacadmin\""), "{text}");
    let out = run(
        &server,
        &dir,
        &["sync", "manifests", "--allow-deletions", "2"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = server.state();
    let names: Vec<&str> = s.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["alice", "guacadmin"]);
    let profiles: Vec<&str> = s.sharing_profiles.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(profiles, ["collab"]);
    assert_eq!(login_account(&s), login_account(&before));
    sync_then_nothing(&server, &dir).await;

    // A principal a manifest names must then be declared.
    std::fs::write(
        dir.path().join("manifests/web.csv"),
        "name,protocol,group,hostname,users\nweb-1,ssh,ROOT/Prod/Web,10.0.1.11,carol\n",
    )
    .expect("csv");
    let out = run(&server, &dir, &["plan", "manifests"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("connection ROOT/Prod/Web/web-1 gives READ to user \"carol\", which no estate document declares"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_scope_values_are_configuration_errors() {
    let server = server().await;
    for (config, says) in [
        (
            "[scope]\nprincipals = \"some\"\n",
            "unknown variant `some`, expected `none` or `all`",
        ),
        (
            "[scope]\nsharing_profiles = \"all\"\n",
            "[scope] sharing_profiles = \"all\" needs [scope] groups",
        ),
    ] {
        let dir = Dir::new(config, DECLARED);
        let out = run(&server, &dir, &["plan", "manifests"]).await;
        assert_eq!(out.status.code(), Some(1), "{config}");
        assert!(stderr(&out).contains(says), "{config}: {}", stderr(&out));
    }
    assert_eq!(writes(&server.requests()), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guacamole_1_5_gets_the_disabled_attribute_and_no_audit() {
    let server = server_with(Config {
        state: state(),
        prefix: "/guacamole".into(),
        guacamole_version: GuacamoleVersion::V1_5_5,
        ..Config::default()
    })
    .await;
    let dir = Dir::new(
        "[sync]\nallow_non_atomic = true\n",
        "userGroups:\n  - {name: auditors, disabled: true, system: [AUDIT]}\n",
    );
    let out = run(&server, &dir, &["plan", "manifests"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "manifests/estate.yaml:2: the system permission AUDIT does not exist on this server"
        ),
        "{}",
        stderr(&out)
    );
    dir.estate(
        "userGroups:\n  - {name: auditors, disabled: true, system: [CREATE_USER]}\nusers:\n  - {username: alice, disabled: false}\n  - {username: dora, disabled: true}\n",
    );
    server.clear_requests();
    let out = run(&server, &dir, &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bodies: Vec<(String, String)> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" || r.method == "PUT")
        .filter(|r| !r.path.starts_with("/api/tokens"))
        .map(|r| (format!("{} {}", r.method, r.path), r.body))
        .collect();
    let body = |what: &str| -> serde_json::Value {
        let (_, b) = bodies
            .iter()
            .find(|(w, _)| w.ends_with(what))
            .unwrap_or_else(|| panic!("{what} in {bodies:#?}"));
        serde_json::from_str(b).expect("json")
    };
    assert_eq!(
        body("POST /api/session/data/postgresql/userGroups"),
        serde_json::json!({"identifier": "auditors", "attributes": {"disabled": "true"}})
    );
    assert_eq!(
        body("PUT /api/session/data/postgresql/users/alice")["attributes"]["disabled"],
        serde_json::Value::Null
    );
    let s = server.state();
    assert!(!user(&s, "alice").disabled);
    assert!(
        user(&s, "dora").disabled,
        "created disabled through the attribute"
    );
    assert!(
        s.user_groups
            .iter()
            .any(|g| g.identifier == "auditors" && g.disabled)
    );
    sync_then_nothing(&server, &dir).await;
}

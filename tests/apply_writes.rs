//! Every write fits the request limit, a proxy's 413 is split and retried, and a
//! write whose outcome is unknown is read back (DESIGN.md §4; issue 11 items 3
//! and 4). Permission PATCH requests go several principals at once, and a failure among
//! them says exactly which principals were updated (issue 15 item 2).

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::{guacsync_in, principals_only, server, server_with, stderr, stdout, writes};
use guacamole_testserver::state::ObjectPermission;
use guacamole_testserver::{Config, Fault, FaultRule, RunningServer, State};

/// A CSV of `n` connections in `groups` groups below `ROOT/Big`, each granted
/// to the user group `ops` (and to `alice` when `alice`).
fn big_csv(n: usize, groups: usize, alice: bool) -> String {
    let mut csv = String::from("name,protocol,hostname,port,group,users,groups\n");
    for i in 0..n {
        let users = if alice { "alice" } else { "" };
        let _ = writeln!(
            csv,
            "conn-{i:05},ssh,10.{}.{}.{},22,ROOT/Big/g{:03},{users},ops",
            i / 65536,
            (i / 256) % 256,
            i % 256,
            i % groups
        );
    }
    csv
}

fn workspace(config: &str, csv: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("guacsync.toml"), config).expect("config");
    std::fs::create_dir(dir.path().join("manifests")).expect("mkdir");
    std::fs::write(dir.path().join("manifests/big.csv"), csv).expect("csv");
    dir
}

async fn run(server: &RunningServer, dir: &Path, args: &[&str]) -> std::process::Output {
    guacsync_in(server, dir, args, &[]).await
}

/// The grants a principal holds, by kind: (connections, groups).
fn read_grants(state: &State, group: &str) -> (usize, usize) {
    let g = state
        .user_groups
        .iter()
        .find(|g| g.identifier == group)
        .expect("group");
    let count =
        |m: &std::collections::BTreeMap<String, std::collections::BTreeSet<ObjectPermission>>| {
            m.values()
                .filter(|s| s.contains(&ObjectPermission::Read))
                .count()
        };
    (
        count(&g.permissions.connection_permissions),
        count(&g.permissions.connection_group_permissions),
    )
}

/// A plan after the sync shows no changes and sends no write.
async fn converged(server: &RunningServer, dir: &Path) {
    server.clear_requests();
    let out = run(server, dir, &["plan", "manifests", "--detailed-exitcode"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(writes(&server.requests()).is_empty());
}

/// A proxy in front refuses bodies over 16 KiB with nginx's HTML 413, while
/// guacsync plans for Guacamole's 2 MiB: the connection batch, the group batch
/// and one user group's permission PATCH are all too large for it. One sync
/// converges, with every grant in place, and says what size worked and which line
/// to set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxys_413_is_split_and_the_sync_converges() {
    let server = server_with(Config {
        state: principals_only(),
        prefix: "/guacamole".into(),
        proxy_body_limit: Some(16 * 1024),
        ..Config::default()
    })
    .await;
    // 1,500 connections (about 0.2 MB of PATCH), 300 new groups at one depth.
    let dir = workspace(
        "[scope]\ngroups = [\"ROOT/Big\"]\n",
        &big_csv(1500, 300, false),
    );
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("a proxy in front of Guacamole refused a request of"),
        "{err}"
    );
    assert!(err.contains("max_request_bytes = "), "{err}");
    // The suggested size is one the proxy takes.
    let suggested: usize = err
        .split("max_request_bytes = ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("a suggested size");
    assert!(suggested <= 16 * 1024, "{suggested}");
    // Refused bodies never reached Guacamole; every one that did fits.
    let events = server.proxy_events();
    assert!(events.iter().any(|e| e.status == 413), "{events:?}");
    for r in server.requests() {
        assert!(
            r.body.len() <= 16 * 1024,
            "{} {} of {}",
            r.method,
            r.path,
            r.body.len()
        );
    }
    let state = server.state();
    assert_eq!(state.connections.len(), 1500);
    assert_eq!(state.connection_groups.len(), 301);
    assert_eq!(read_grants(&state, "ops"), (1500, 301));
    // Planning with the suggested size sends no request the proxy refuses.
    std::fs::write(
        dir.path().join("guacsync.toml"),
        format!("[scope]\ngroups = [\"ROOT/Big\"]\n[sync]\nmax_request_bytes = {suggested}\n"),
    )
    .expect("config");
    converged(&server, dir.path()).await;
}

/// Every request is planned within `max_request_bytes`: 10,000 connections with
/// one user group on all of them under a 1 MiB limit (Guacamole's own, set
/// lower) converge in one sync, and no request is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_grants_fit_a_one_mebibyte_limit() {
    let server = server_with(Config {
        state: principals_only(),
        prefix: "/guacamole".into(),
        body_limit: 1024 * 1024,
        ..Config::default()
    })
    .await;
    let dir = workspace(
        "[scope]\ngroups = [\"ROOT/Big\"]\n[sync]\nmax_request_bytes = 1048576\n",
        &big_csv(10_000, 50, false),
    );
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("refused"), "{err}");
    let permission_patches = server
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/userGroups/ops/permissions"))
        .inspect(|r| assert!(r.body.len() <= 1024 * 1024))
        .count();
    assert!(
        permission_patches >= 2,
        "10,000 grants take more than one request"
    );
    let state = server.state();
    assert_eq!(state.connections.len(), 10_000);
    assert_eq!(read_grants(&state, "ops"), (10_000, 51));
    converged(&server, dir.path()).await;
}

/// A proxy answers 504 after Guacamole applied the connection batch: the run
/// says the batch may have been applied, reads the server back and says what it
/// holds; the next run creates nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_504_after_the_batch_was_applied_is_read_back_and_nothing_is_created_twice() {
    let server = server(principals_only()).await;
    let dir = workspace("[scope]\ngroups = [\"ROOT/Big\"]\n", &big_csv(40, 4, true));
    server.set_faults(vec![FaultRule::exact(
        "PATCH",
        "/api/session/data/postgresql/connections",
        1,
        Fault::ProxyError {
            code: 504,
            applied: true,
        },
    )]);
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("may have been applied"), "{err}");
    assert!(
        err.contains("Read back from the server: 40 of the 40 change(s) sent are there"),
        "{err}"
    );
    assert!(
        err.contains("Gateway Time-out"),
        "the proxy's page in one line: {err}"
    );
    assert!(!err.contains("<html>"), "{err}");
    // Nothing after it was sent: no permission PATCH.
    assert!(
        !writes(&server.requests())
            .iter()
            .any(|w| w.ends_with("/permissions")),
        "{err}"
    );
    server.set_faults(vec![]);
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let state = server.state();
    assert_eq!(state.connections.len(), 40, "nothing created twice");
    converged(&server, dir.path()).await;
}

/// Twenty principals' permission PATCH requests go eight at a time; when one fails, the
/// run names the principals updated and those not, and the server agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_permission_patch_among_concurrent_ones_names_who_was_updated() {
    let mut state = principals_only();
    let names: Vec<String> = (0..20).map(|i| format!("team-{i:02}")).collect();
    for n in &names {
        let mut g = state.user_groups[0].clone();
        g.identifier = n.clone();
        g.member_users.clear();
        g.member_user_groups.clear();
        g.permissions = guacamole_testserver::state::Permissions::default();
        state.user_groups.push(g);
    }
    let server = server(state).await;
    let mut csv = String::from("name,protocol,hostname,group,groups\n");
    for (i, n) in names.iter().enumerate() {
        let _ = writeln!(csv, "c{i},ssh,h{i},ROOT/Teams,{n}");
    }
    let dir = workspace("[scope]\ngroups = [\"ROOT/Teams\"]\n", &csv);
    server.set_faults(vec![FaultRule::exact(
        "PATCH",
        "/api/session/data/postgresql/userGroups/team-05/permissions",
        1,
        Fault::Status {
            code: 400,
            message: Some("Injected client error.".into()),
        },
    )]);
    let out = run(
        &server,
        dir.path(),
        &["sync", "manifests", "--concurrency", "8"],
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("updating the permissions of user group \"team-05\""),
        "{err}"
    );
    let state = server.state();
    let holds = |n: &str| read_grants(&state, n) == (1, 1);
    let listed = |label: &str| -> Vec<String> {
        err.lines()
            .find_map(|l| l.trim_start().strip_prefix(label))
            .map(|names| {
                names
                    .split(", ")
                    .filter_map(|n| n.split('"').nth(1).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let line = &err;
    let updated = listed("updated: ");
    let not_updated = listed("not started: ");
    assert!(!updated.is_empty(), "{line}");
    for n in &names {
        if n == "team-05" {
            assert!(!holds(n), "the failed principal got nothing");
        } else if updated.contains(n) {
            assert!(holds(n), "{n} is reported updated: {line}");
        } else {
            assert!(not_updated.contains(n), "{n} is named neither way: {line}");
            assert!(!holds(n), "{n} is reported not updated: {line}");
        }
    }
    // The next run converges.
    server.set_faults(vec![]);
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    converged(&server, dir.path()).await;
}

/// The index of the first grant on a connection group in `principal`'s
/// permission requests, as the plan lists them (grants are sent in that order).
fn first_group_grant(plan: &serde_json::Value, kind: &str, name: &str) -> u64 {
    let entry = plan["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .find(|p| p["principal"]["kind"] == kind && p["principal"]["name"] == name)
        .expect("the principal's permissions");
    let grants = entry["grant"].as_array().expect("grants");
    assert!(grants.iter().any(|g| g["kind"] == "connection"), "{entry}");
    let at = grants
        .iter()
        .position(|g| g["kind"] == "connectionGroup")
        .expect("a group grant");
    u64::try_from(at).expect("index")
}

/// Guacamole applies a permission PATCH one kind of permission at a time, so a
/// failure at a later step leaves the earlier steps applied (rest-api.md §6).
/// Two principals' requests fail that way while both are in flight: each is
/// reported, each read back, and the report says exactly which grants are in
/// place; the server agrees, and the next run converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_patch_failing_at_a_later_step_is_read_back() {
    let server = server(principals_only()).await;
    let mut csv = String::from("name,protocol,hostname,group,users,groups\n");
    for i in 0..3 {
        let _ = writeln!(csv, "c{i},ssh,h{i},ROOT/Teams,alice,ops");
    }
    let dir = workspace("[scope]\ngroups = [\"ROOT/Teams\"]\n", &csv);
    let out = run(
        &server,
        dir.path(),
        &["plan", "manifests", "--format", "json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let mut faults = Vec::new();
    for (kind, name, path) in [
        ("user_group", "ops", "userGroups/ops"),
        ("user", "alice", "users/alice"),
    ] {
        faults.push(FaultRule::exact(
            "PATCH",
            &format!("/api/session/data/postgresql/{path}/permissions"),
            1,
            Fault::PatchError {
                index: usize::try_from(first_group_grant(&plan, kind, name)).expect("index"),
                message: Some(format!("Injected failure for {name}.")),
            },
        ));
    }
    server.set_faults(faults);
    let out = run(
        &server,
        dir.path(),
        &["sync", "manifests", "--concurrency", "8"],
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let state = server.state();
    let teams = state
        .connection_groups
        .iter()
        .find(|g| g.name == "Teams")
        .map(|g| g.identifier.clone())
        .expect("ROOT/Teams");
    let alice = state
        .users
        .iter()
        .find(|u| u.username == "alice")
        .expect("alice");
    let ops = state
        .user_groups
        .iter()
        .find(|g| g.identifier == "ops")
        .expect("ops");
    for (who, perms) in [
        ("user \"alice\"", &alice.permissions),
        ("user group \"ops\"", &ops.permissions),
    ] {
        // The server: the connection step applied, the group step not.
        for c in &state.connections {
            assert!(
                perms
                    .connection_permissions
                    .get(&c.identifier)
                    .is_some_and(|s| s.contains(&ObjectPermission::Read)),
                "{who} lacks READ on {}",
                c.name
            );
        }
        assert!(!perms.connection_group_permissions.contains_key(&teams));
        // The report says so, for each principal.
        let line = err
            .lines()
            .find(|l| l.contains(&format!("updating the permissions of {who}")))
            .unwrap_or_else(|| panic!("{who} not reported in\n{err}"));
        assert!(line.contains("Injected failure for"), "{line}");
        assert!(line.contains("may be applied"), "{line}");
        assert!(
            line.contains(&format!(
                "Read back from the server: 3 of the 4 grant(s) and 0 of the 0 revocation(s) of {who} are in place"
            )),
            "{line}"
        );
        assert!(
            line.contains("; granted: READ on connection ROOT/Teams/c0"),
            "{line}"
        );
        assert!(
            line.contains("; not granted: READ on group ROOT/Teams"),
            "{line}"
        );
    }
    assert!(!err.contains("not started"), "{err}");
    server.set_faults(vec![]);
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    converged(&server, dir.path()).await;
}

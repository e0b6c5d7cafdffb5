//! Guacamole 1.5.x, whose directory PATCH only removes (DESIGN.md §9; issue 11
//! item 5): the plan says the server applies changes object by object; `sync`
//! refuses before any write unless `allow_non_atomic`; with it every change is a
//! single-object request, a failure stops at once and names exactly what was
//! applied, and running again converges.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::{
    guacsync_in, is_probe, principals_only, server_with, stderr, stdout, summary, writes,
};
use guacamole_testserver::state::ActiveConnectionState;
use guacamole_testserver::version::GuacamoleVersion;
use guacamole_testserver::{Config, Fault, FaultRule, RunningServer, State};

const OBJECT_BY_OBJECT: &str =
    "warning: this server applies changes object by object (Guacamole 1.5.x";

async fn server_1_5(state: State) -> RunningServer {
    server_with(Config {
        state,
        prefix: "/guacamole".into(),
        guacamole_version: GuacamoleVersion::V1_5_5,
        ..Config::default()
    })
    .await
}

fn workspace(config: &str, n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("guacsync.toml"), config).expect("config");
    std::fs::create_dir(dir.path().join("manifests")).expect("mkdir");
    write_csv(dir.path(), n);
    dir
}

/// `n` connections in two groups below `ROOT/Old`, granted to `alice`.
fn write_csv(dir: &Path, n: usize) {
    let mut csv = String::from("name,protocol,hostname,group,users\n");
    for i in 0..n {
        let _ = writeln!(csv, "c{i:02},ssh,h{i},ROOT/Old/g{},alice", i % 2);
    }
    std::fs::write(dir.join("manifests/old.csv"), csv).expect("csv");
}

async fn run(server: &RunningServer, dir: &Path, args: &[&str]) -> std::process::Output {
    guacsync_in(server, dir, args, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_without_opt_in_and_applied_object_by_object_with_it() {
    let server = server_1_5(principals_only()).await;
    let dir = workspace("[scope]\ngroups = [\"ROOT/Old\"]\n", 6);

    // The plan says how the server applies changes.
    let out = run(&server, dir.path(), &["plan", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with(OBJECT_BY_OBJECT), "{text}");
    let out = run(
        &server,
        dir.path(),
        &["plan", "manifests", "--format", "json"],
    )
    .await;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        doc["non_atomic"]
            .as_str()
            .is_some_and(|n| n.contains("object by object"))
    );

    // sync refuses before any write.
    server.clear_requests();
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("allow_non_atomic = true"), "{err}");
    assert!(err.contains("--allow-non-atomic"), "{err}");
    assert!(
        writes(&server.requests()).is_empty(),
        "{:?}",
        summary(&server.requests())
    );

    // With the flag: single-object requests, no directory PATCH but the probe.
    server.clear_requests();
    let out = run(
        &server,
        dir.path(),
        &["sync", "manifests", "--allow-non-atomic"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = server.requests();
    let w = writes(&log);
    assert!(
        w.iter()
            .all(|r| r.starts_with("POST ds/connection") || r.ends_with("/permissions")),
        "{w:?}"
    );
    assert_eq!(
        w.iter()
            .filter(|r| *r == "POST ds/connectionGroups")
            .count(),
        3
    );
    assert_eq!(w.iter().filter(|r| *r == "POST ds/connections").count(), 6);
    assert!(
        log.iter()
            .filter(|r| r.method == "PATCH" && !r.path.ends_with("/permissions"))
            .all(is_probe)
    );
    let state = server.state();
    assert_eq!(state.connections.len(), 6);
    // Running again changes nothing.
    server.clear_requests();
    let out = run(
        &server,
        dir.path(),
        &["sync", "manifests", "--detailed-exitcode"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(writes(&server.requests()).is_empty());
}

/// A prune-only plan (removals, and sessions to close) is applied and reported
/// as applied: 1.5.x answers a removal with 204 and no body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_only_plan_is_applied_and_reported_as_such() {
    let server = server_1_5(principals_only()).await;
    let config = "[scope]\ngroups = [\"ROOT/Old\"]\n[sync]\nallow_non_atomic = true\n";
    let dir = workspace(config, 6);
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // An open session on one of the connections to remove.
    let mut state = server.state();
    let doomed = state
        .connections
        .iter()
        .find(|c| c.name == "c05")
        .map(|c| c.identifier.clone())
        .expect("c05");
    state.active_connections.push(ActiveConnectionState {
        identifier: "0f8e2c1a-5b7d-4c3e-9a1f-000000000005".into(),
        connection_identifier: doomed,
        sharing_profile_identifier: None,
        start_date: 1,
        remote_host: None,
        username: "alice".into(),
    });
    server.set_state(&state).expect("state");
    write_csv(dir.path(), 4);
    server.clear_requests();
    let out = run(
        &server,
        dir.path(),
        &["sync", "manifests", "--prune", "--terminate-sessions"],
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("Applied:"), "{err}");
    assert!(err.contains("0 added, 0 changed, 2 removed"), "{err}");
    assert!(err.contains("1 session(s) closed"), "{err}");
    let w = writes(&server.requests());
    assert_eq!(
        w.iter()
            .filter(|r| r.starts_with("DELETE ds/connections/"))
            .count(),
        2,
        "{w:?}"
    );
    let state = server.state();
    assert_eq!(state.connections.len(), 4);
    assert!(state.active_connections.is_empty());
}

/// A failure part way through stops at once and names every object applied;
/// the server holds exactly those, and running again converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_part_way_names_exactly_what_was_applied() {
    let server = server_1_5(principals_only()).await;
    let dir = workspace("[scope]\ngroups = [\"ROOT/Old\"]\n", 6);
    server.set_faults(vec![FaultRule::exact(
        "POST",
        "/api/session/data/postgresql/connections",
        4,
        Fault::Status {
            code: 400,
            message: Some("Injected client error.".into()),
        },
    )]);
    let out = run(
        &server,
        dir.path(),
        &[
            "sync",
            "manifests",
            "--allow-non-atomic",
            "--concurrency",
            "1",
        ],
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Injected client error."), "{err}");
    let state = server.state();
    let created: Vec<&str> = state.connections.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(created.len(), 3, "{created:?}");
    // Each object applied is named, and only those.
    for c in &state.connections {
        let i: usize = c.name[1..].parse().expect("cNN");
        let named = format!("add connection ROOT/Old/g{}/{}", i % 2, c.name);
        assert!(err.contains(&named), "{named} not named in\n{err}");
    }
    assert_eq!(err.matches("add connection ").count(), 3, "{err}");
    server.set_faults(vec![]);
    let out = run(
        &server,
        dir.path(),
        &["sync", "manifests", "--allow-non-atomic"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.state().connections.len(), 6, "nothing created twice");
}

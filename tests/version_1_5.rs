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
    // A pull-request comment says it too, above the summary.
    let out = run(
        &server,
        dir.path(),
        &["plan", "manifests", "--format", "markdown"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let md = stdout(&out);
    let note = md
        .find("> **Warning:** this server applies changes object by object (Guacamole 1.5.x")
        .unwrap_or_else(|| panic!("no 1.5.x note in\n{md}"));
    assert!(
        md.find("| change | count |")
            .is_some_and(|table| note < table),
        "{md}"
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

/// A plan that only removes (issue 11: "`sync` refuses before any write (a
/// remove-only plan included)"): refused without `allow_non_atomic`, with no
/// request but the reads and the capability probe, and the server unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_only_plan_is_refused_without_opt_in() {
    let server = server_1_5(principals_only()).await;
    let dir = workspace("[scope]\ngroups = [\"ROOT/Old\"]\n", 6);
    let out = run(
        &server,
        dir.path(),
        &["sync", "manifests", "--allow-non-atomic"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    write_csv(dir.path(), 4);
    // The plan removes two connections and does nothing else.
    let out = run(
        &server,
        dir.path(),
        &["plan", "manifests", "--prune", "--format", "json"],
    )
    .await;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let actions: Vec<&str> = doc["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["action"].as_str())
        .collect();
    assert_eq!(actions, ["remove", "remove"], "{doc}");
    server.clear_requests();
    let out = run(&server, dir.path(), &["sync", "manifests", "--prune"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("object by object"), "{err}");
    assert!(err.contains("allow_non_atomic = true"), "{err}");
    assert!(err.contains("nothing was sent"), "{err}");
    let log = server.requests();
    assert!(writes(&log).is_empty(), "{:?}", summary(&log));
    assert_eq!(
        log.iter()
            .filter(|r| !matches!(r.method.as_str(), "GET") && !r.path.starts_with("/api/tokens"))
            .filter(|r| !is_probe(r))
            .count(),
        0,
        "{:?}",
        summary(&log)
    );
    assert!(
        log.iter().any(is_probe),
        "the capability probe is the one PATCH sent: {:?}",
        summary(&log)
    );
    assert_eq!(server.state().connections.len(), 6);
}

/// A rename and a new connection at the old name in one stage: the PUT that
/// frees the name is answered before the POST that takes it is sent, even when
/// the PUT is slow and several requests may be in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_is_applied_before_an_add_at_its_old_name() {
    let server = server_1_5(principals_only()).await;
    let config = "[scope]\ngroups = [\"ROOT/Old\"]\n[sync]\nallow_non_atomic = true\n";
    let dir = workspace(config, 2);
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = server
        .state()
        .connections
        .iter()
        .find(|c| c.name == "c00")
        .map(|c| c.identifier.clone())
        .expect("c00");
    std::fs::write(
        dir.path().join("guacsync.toml"),
        format!("{config}[[moved]]\nfrom = \"ROOT/Old/g0/c00\"\nto = \"ROOT/Old/g0/c00-old\"\n"),
    )
    .expect("config");
    std::fs::write(
        dir.path().join("manifests/old.csv"),
        "name,protocol,hostname,group,users\nc00-old,ssh,h0,ROOT/Old/g0,alice\nc00,ssh,h-new,ROOT/Old/g0,alice\nc01,ssh,h1,ROOT/Old/g1,alice\n",
    )
    .expect("csv");
    // The rename is slow to answer; before it is, the name c00 is still taken.
    server.set_faults(vec![FaultRule::exact(
        "PUT",
        &format!("/api/session/data/postgresql/connections/{id}"),
        1,
        Fault::Latency { ms: 300 },
    )]);
    server.clear_requests();
    let out = run(
        &server,
        dir.path(),
        &["sync", "manifests", "--concurrency", "4"],
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let w = writes(&server.requests());
    let put = w
        .iter()
        .position(|r| *r == format!("PUT ds/connections/{id}"));
    let post = w.iter().position(|r| r == "POST ds/connections");
    assert!(matches!((put, post), (Some(a), Some(b)) if a < b), "{w:?}");
    let state = server.state();
    let by_name = |n: &str| {
        state
            .connections
            .iter()
            .find(|c| c.name == n)
            .unwrap_or_else(|| panic!("{n}"))
    };
    assert_eq!(
        by_name("c00-old").identifier,
        id,
        "the rename kept the object"
    );
    assert_eq!(
        by_name("c00")
            .parameters
            .get("hostname")
            .map(String::as_str),
        Some("h-new")
    );
    assert_ne!(by_name("c00").identifier, id);
    // Done; the entry goes (with a new c00 at its `from` it would now be an error).
    std::fs::write(dir.path().join("guacsync.toml"), config).expect("config");
    server.set_faults(vec![]);
    server.clear_requests();
    let out = run(
        &server,
        dir.path(),
        &["plan", "manifests", "--detailed-exitcode"],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

/// Two requests in flight fail together, one refused and one whose answer a
/// proxy lost after Guacamole applied it: both are reported, the second read
/// back, and running again creates nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_in_flight_is_reported() {
    let server = server_1_5(principals_only()).await;
    let config = "[scope]\ngroups = [\"ROOT/Old\"]\n[sync]\nallow_non_atomic = true\n";
    let dir = workspace(config, 6);
    let path = "/api/session/data/postgresql/connections";
    server.set_faults(vec![
        FaultRule::exact(
            "POST",
            path,
            2,
            Fault::Status {
                code: 400,
                message: Some("Injected client error.".into()),
            },
        ),
        FaultRule::exact(
            "POST",
            path,
            3,
            Fault::ProxyError {
                code: 504,
                applied: true,
            },
        ),
    ]);
    let out = run(
        &server,
        dir.path(),
        &["sync", "manifests", "--concurrency", "4"],
    )
    .await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Injected client error."), "{err}");
    assert!(err.contains("may have been applied"), "{err}");
    assert!(
        err.contains("Read back from the server: 1 of the 1 change(s) sent are there"),
        "{err}"
    );
    // Every object applied and reported as such is on the server.
    let state = server.state();
    for c in &state.connections {
        let i: usize = c.name[1..].parse().expect("cNN");
        let named = format!("ROOT/Old/g{}/{}", i % 2, c.name);
        assert!(err.contains(&named), "{named} not named in\n{err}");
    }
    let before = state.connections.len();
    assert!(before >= 3, "the first, the one read back and the fourth");
    server.set_faults(vec![]);
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.state().connections.len(), 6, "nothing created twice");
}

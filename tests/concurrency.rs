//! Concurrency (issue 7, part 5): two syncs at once, and a watcher beside a CI
//! sync, against one server, end in the desired state with nothing twice.
//!
//! Guacamole has no lock an API client could take, so guacsync cannot serialise
//! two runs; what it guarantees is that each run's writes are atomic batches
//! computed from what it observed, that a batch the server rejects because the
//! other run got there first changes nothing and says so, and that any run
//! afterwards converges.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{principals_only, repo, server_with, stderr, stdout};
use guacamole_testserver::{Config, RunningServer, State};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

/// A copy of the examples (manifests, secrets, configuration) in a temp dir.
fn examples() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(
        &repo().join("examples/manifests"),
        &dir.path().join("manifests"),
    );
    copy_dir(
        &repo().join("examples/secrets"),
        &dir.path().join("secrets"),
    );
    std::fs::copy(
        repo().join("examples/guacsync.toml"),
        dir.path().join("guacsync.toml"),
    )
    .expect("copy");
    dir
}

const SYNC: &[&str] = &["sync", "manifests", "--config", "guacsync.toml"];
const PLAN: &[&str] = &[
    "plan",
    "manifests",
    "--config",
    "guacsync.toml",
    "--detailed-exitcode",
];

async fn slow_server(state: State) -> RunningServer {
    // 2 ms per request widens the window in which two runs interleave.
    server_with(Config {
        state,
        prefix: "/guacamole".into(),
        latency: Duration::from_millis(2),
        ..Config::default()
    })
    .await
}

/// No object twice: connections and groups unique by (parent, name).
fn assert_no_duplicates(state: &State) {
    let mut seen = BTreeSet::new();
    for c in &state.connections {
        assert!(
            seen.insert(("connection", c.parent_identifier.clone(), c.name.clone())),
            "connection {:?} twice",
            c.name
        );
    }
    for g in &state.connection_groups {
        assert!(
            seen.insert(("group", g.parent_identifier.clone(), g.name.clone())),
            "group {:?} twice",
            g.name
        );
    }
}

fn counts(s: &State) -> (usize, usize) {
    (s.connections.len(), s.connection_groups.len())
}

/// The counts a single run produces from the same start.
async fn solo_counts(start: &State, dir: &Path) -> (usize, usize) {
    let server = slow_server(start.clone()).await;
    let out = common::guacsync_in(&server, dir, SYNC, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    counts(&server.state())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_syncs_at_once_end_in_the_desired_state() {
    let dir = examples();
    let expected = solo_counts(&principals_only(), dir.path()).await;
    assert_eq!(expected.0, 11);
    let mut outcomes = BTreeSet::new();
    for round in 0..4 {
        let server = slow_server(principals_only()).await;
        let (a, b) = tokio::join!(
            common::guacsync_in(&server, dir.path(), SYNC, &[]),
            common::guacsync_in(&server, dir.path(), SYNC, &[]),
        );
        let codes = (a.status.code(), b.status.code());
        outcomes.insert(codes);
        assert!(
            codes.0 == Some(0) || codes.1 == Some(0),
            "round {round}: neither run finished: {codes:?}\n{}\n{}",
            stderr(&a),
            stderr(&b)
        );
        for out in [&a, &b] {
            match out.status.code() {
                Some(0) => {}
                // The loser's batch was refused because the winner created the
                // same objects first: it says which, and that nothing of it stuck.
                Some(1) => {
                    let err = stderr(out);
                    assert!(
                        err.contains("rejected") && err.contains("rolled back"),
                        "round {round}: {err}"
                    );
                    assert!(err.contains("already exists"), "round {round}: {err}");
                }
                other => panic!("round {round}: exit {other:?}\n{}", stderr(out)),
            }
        }
        let state = server.state();
        assert_no_duplicates(&state);
        assert_eq!(counts(&state), expected, "round {round}");
        let plan = common::guacsync_in(&server, dir.path(), PLAN, &[]).await;
        assert_eq!(
            plan.status.code(),
            Some(0),
            "round {round}: changes remain\n{}",
            stdout(&plan)
        );
    }
    eprintln!("exit codes seen (a, b): {outcomes:?}");

    // Two runs that both change existing connections the same way both succeed.
    let server = slow_server(principals_only()).await;
    let first = common::guacsync_in(&server, dir.path(), SYNC, &[]).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let csv = dir.path().join("manifests/prod-linux.csv");
    let text = std::fs::read_to_string(&csv).expect("csv");
    std::fs::write(&csv, text.replace(",22,", ",2022,")).expect("write");
    let (a, b) = tokio::join!(
        common::guacsync_in(&server, dir.path(), SYNC, &[]),
        common::guacsync_in(&server, dir.path(), SYNC, &[]),
    );
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    assert_eq!(b.status.code(), Some(0), "{}", stderr(&b));
    let state = server.state();
    assert_no_duplicates(&state);
    assert_eq!(counts(&state), expected);
    let ports: BTreeSet<&str> = state
        .connections
        .iter()
        .filter(|c| c.name.starts_with("web-") || c.name == "db-primary")
        .filter_map(|c| c.parameters.get("port").map(String::as_str))
        .collect();
    assert_eq!(ports, BTreeSet::from(["2022"]));
}

async fn converged(server: &RunningServer, dir: &Path, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let plan = common::guacsync_in(server, dir, PLAN, &[]).await;
        if plan.status.code() == Some(0) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_and_a_ci_sync_side_by_side() {
    let dir = examples();
    let server = slow_server(principals_only()).await;
    let mut watcher = tokio::process::Command::new(env!("CARGO_BIN_EXE_guacsync"))
        .current_dir(dir.path())
        .args([
            "watch",
            "manifests",
            "--config",
            "guacsync.toml",
            "--apply",
            "--interval",
            "1s",
        ])
        .env_clear()
        .env("GUACAMOLE_URL", server.base_url())
        .env("GUACAMOLE_USERNAME", "guacadmin")
        .env("GUACAMOLE_PASSWORD", "guacadmin")
        .env("DB_SSH_PASSWORD", common::SECRET_ENV)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("watch starts");

    // The CI sync starts while the watcher makes its first round.
    let ci = common::guacsync_in(&server, dir.path(), SYNC, &[]).await;
    assert!(matches!(ci.status.code(), Some(0 | 1)), "{}", stderr(&ci));
    assert!(
        converged(&server, dir.path(), Duration::from_secs(30)).await,
        "the server does not converge"
    );
    assert_no_duplicates(&server.state());

    // A change merged while the watcher runs: CI applies it, the watcher too.
    let csv = dir.path().join("manifests/prod-linux.csv");
    let text = std::fs::read_to_string(&csv).expect("csv");
    std::fs::write(&csv, text.replace("10.0.1.12", "10.0.1.42")).expect("write");
    let ci = common::guacsync_in(&server, dir.path(), SYNC, &[]).await;
    assert!(matches!(ci.status.code(), Some(0 | 1)), "{}", stderr(&ci));
    assert!(
        converged(&server, dir.path(), Duration::from_secs(30)).await,
        "the server does not converge after the change"
    );
    let state = server.state();
    assert_no_duplicates(&state);
    assert_eq!(state.connections.len(), 11);
    assert!(state.connections.iter().any(|c| c.name == "web-2"
        && c.parameters.get("hostname").map(String::as_str) == Some("10.0.1.42")));

    // The watcher is still running, and stops cleanly.
    assert!(
        watcher.try_wait().expect("status").is_none(),
        "the watcher died"
    );
    if let Some(pid) = watcher.id() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    let out = tokio::time::timeout(Duration::from_secs(20), watcher.wait_with_output())
        .await
        .expect("the watcher exits")
        .expect("output");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

//! `plan` and `sync` through the real binary against the test server on loopback
//! (issue "plan and sync", tests 1–8).
//!
//! One binary: the shared helpers and test 7 (whose snapshots keep their
//! `sync__` names in `tests/snapshots/`) are here, the other tests in one module
//! per concern.

mod apply;
#[path = "../common/mod.rs"]
mod common;
mod failures;
mod prune;
mod saved_plans_and_targets;

use common::*;
use guacamole_testserver::state::ObjectPermission;
use guacamole_testserver::{Config, Fault, FaultRule, State};
use serde_json::Value;

const EXAMPLES: &str = "examples/manifests";

fn group_id(state: &State, name: &str, parent: &str) -> String {
    state
        .connection_groups
        .iter()
        .find(|g| g.name == name && g.parent_identifier == parent)
        .map_or_else(
            || panic!("group {name} under {parent}"),
            |g| g.identifier.clone(),
        )
}

fn connection<'a>(
    state: &'a State,
    name: &str,
) -> &'a guacamole_testserver::state::ConnectionState {
    state
        .connections
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("connection {name}"))
}

/// Test 7: exit codes, JSON against its schema, text and markdown snapshots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t7_exit_codes_schema_and_snapshots() {
    // insta looks for snapshots beside the source file (tests/sync/snapshots/);
    // they stay in tests/snapshots/ with the other binaries' ones.
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    let _snapshots = settings.bind_to_scope();
    let server =
        server(State::load(&repo().join("examples/server-state.json")).expect("state")).await;
    let out = guacsync(&server, &["plan", EXAMPLES, "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("plan_text", stdout(&out));
    let md = guacsync(&server, &["plan", EXAMPLES, "--format", "markdown"]).await;
    assert_eq!(md.status.code(), Some(0));
    insta::assert_snapshot!("plan_markdown", stdout(&md));
    let json = guacsync(
        &server,
        &["plan", EXAMPLES, "--format", "json", "--detailed-exitcode"],
    )
    .await;
    assert_eq!(json.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&json.stdout).expect("json");
    let schema: Value =
        serde_json::from_str(include_str!("../../schemas/plan.schema.json")).expect("schema");
    let validator = jsonschema::draft202012::new(&schema).expect("compiles");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    insta::assert_snapshot!("plan_json", stdout(&json));
    // Errors exit 1; after a sync, --detailed-exitcode says 0.
    let bad = guacsync(&server, &["plan", "/nonexistent"]).await;
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        guacsync(&server, &["sync", EXAMPLES, "--detailed-exitcode"])
            .await
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        guacsync(&server, &["sync", EXAMPLES, "--detailed-exitcode"])
            .await
            .status
            .code(),
        Some(0)
    );
    // A manifest error sends nothing at all.
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("bad.csv"), "name,protocol\nx,nope\n").expect("write");
    server.clear_requests();
    assert_eq!(
        guacsync_in(&server, dir.path(), &["sync", "."], &[])
            .await
            .status
            .code(),
        Some(1)
    );
    assert!(server.requests().is_empty());
}

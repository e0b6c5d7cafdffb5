//! Helpers of the plan-semantics tests (issue 12): a state with extra groups and
//! connections, READ grants, a workspace with a `guacsync.toml` and manifests,
//! and the check that a second plan after a sync is empty and writes nothing.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;
use std::process::Output;

use guacamole_testserver::state::{ConnectionState, ObjectPermission};
use guacamole_testserver::{RunningServer, State};
use serde_json::{Value, json};

use crate::common::{guacsync_in, principals_only, stderr, stdout, writes};

/// `principals_only()` with these groups, connections, sharing profiles and
/// history records added (state-document JSON).
pub fn state_with(extra: &Value) -> State {
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
pub fn grant_user(state: &mut State, user: &str, connections: &[&str], groups: &[&str]) {
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

pub fn workspace(config: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("guacsync.toml"), config).expect("write config");
    std::fs::create_dir(dir.path().join("manifests")).expect("mkdir");
    for (name, text) in files {
        std::fs::write(dir.path().join("manifests").join(name), text).expect("write manifest");
    }
    dir
}

pub async fn run(server: &RunningServer, dir: &Path, args: &[&str]) -> Output {
    guacsync_in(server, dir, args, &[]).await
}

pub fn connection<'a>(state: &'a State, name: &str) -> &'a ConnectionState {
    state
        .connections
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("connection {name}"))
}

pub fn group_id(state: &State, name: &str) -> String {
    state
        .connection_groups
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("group {name}"))
        .identifier
        .clone()
}

/// The JSON bodies of the `PATCH ds/connections` requests.
pub fn connection_patches(server: &RunningServer) -> Vec<Value> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/connections"))
        .map(|r| serde_json::from_str(&r.body).expect("json body"))
        .collect()
}

/// A second plan after a sync: nothing to do, and nothing written.
pub async fn second_plan_is_empty(server: &RunningServer, dir: &Path, args: &[&str]) {
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

pub const SCOPED_PRUNE: &str = "[scope]\ngroups = [\"ROOT/Prod\"]\n[sync]\nprune = true\n";

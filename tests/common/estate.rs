//! The estate tests' server and workspace (`tests/estate_sync.rs`,
//! `tests/estate_prune.rs`): a small estate on the test server, a manifest
//! directory with one connection and an estate document, and the checks every
//! scenario ends with.

use std::path::Path;

use guacamole_testserver::state::UserState;
use guacamole_testserver::{RunningServer, State};

use super::{guacsync_in, stderr, stdout, writes};

pub const CAROL_PW: &str = "Carol-Initial-Pw-7e7e";

/// guacadmin; alice (two attributes, disabled) and bob; user group ops (alice);
/// groups ROOT/Prod (1) and ROOT/Prod/Web (2, max-connections 5); connection
/// web-1 (1) with sharing profile "watch" (1, read-only).
pub fn state() -> State {
    serde_json::from_value(serde_json::json!({
        "version": 1,
        "users": [
            {"username": "guacadmin", "password": "guacadmin",
             "attributes": {"guac-full-name": "The Admin"},
             "permissions": {"systemPermissions": ["ADMINISTER", "CREATE_USER", "CREATE_USER_GROUP",
                "CREATE_CONNECTION", "CREATE_CONNECTION_GROUP", "CREATE_SHARING_PROFILE"]}},
            {"username": "alice", "disabled": true,
             "attributes": {"guac-full-name": "Alice Jansen", "guac-organization": "Example"}},
            {"username": "bob"}
        ],
        "userGroups": [{"identifier": "ops", "memberUsers": ["alice"]}],
        "connectionGroups": [
            {"identifier": "1", "name": "Prod"},
            {"identifier": "2", "name": "Web", "parentIdentifier": "1",
             "attributes": {"max-connections": "5"}}
        ],
        "connections": [{"identifier": "1", "name": "web-1", "parentIdentifier": "2",
            "protocol": "ssh", "parameters": {"hostname": "10.0.1.11"}}],
        "sharingProfiles": [{"identifier": "1", "name": "watch",
            "primaryConnectionIdentifier": "1", "parameters": {"read-only": "true"}}]
    }))
    .expect("state")
}

pub struct Dir(pub tempfile::TempDir);

impl Dir {
    pub fn new(config: &str, estate: &str) -> Self {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("guacsync.toml"), config).expect("config");
        std::fs::create_dir(dir.path().join("manifests")).expect("mkdir");
        std::fs::write(
            dir.path().join("manifests/web.csv"),
            "name,protocol,group,hostname\nweb-1,ssh,ROOT/Prod/Web,10.0.1.11\n",
        )
        .expect("csv");
        let d = Self(dir);
        d.estate(estate);
        d
    }

    pub fn estate(&self, text: &str) {
        std::fs::write(self.0.path().join("manifests/estate.yaml"), text).expect("estate");
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

pub async fn run(server: &RunningServer, dir: &Dir, args: &[&str]) -> std::process::Output {
    guacsync_in(server, dir.path(), args, &[("CAROL_PW", CAROL_PW)]).await
}

pub fn user<'a>(s: &'a State, name: &str) -> &'a UserState {
    s.users
        .iter()
        .find(|u| u.username == name)
        .unwrap_or_else(|| panic!("user {name}"))
}

/// The login account as the server holds it (its own permissions aside: the
/// server grants a creator permissions on what it creates).
pub fn login_account(s: &State) -> (Option<String>, bool, Vec<(String, String)>) {
    let u = user(s, "guacadmin");
    (
        u.password.clone(),
        u.disabled,
        u.attributes.clone().into_iter().collect(),
    )
}

/// Syncs, checks success, then checks that a second sync has nothing to do and
/// writes nothing.
pub async fn sync_then_nothing(server: &RunningServer, dir: &Dir) -> String {
    let out = run(server, dir, &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    server.clear_requests();
    let again = run(server, dir, &["sync", "manifests", "--detailed-exitcode"]).await;
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&again),
        stderr(&again)
    );
    assert!(stdout(&again).contains("No changes."), "{}", stdout(&again));
    assert_eq!(writes(&server.requests()), Vec::<String>::new());
    stdout(&out)
}

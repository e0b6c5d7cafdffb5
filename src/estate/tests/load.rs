//! Estate documents loaded from files beside manifests: duplicates across files,
//! connections joining the entries, and references checked against the documents
//! and a server (the bundled example against the bundled server state).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::estate::references::{Existing, Target, entry_connections, unresolved};
use crate::manifest::{Loaded, ParseOptions, load};
use crate::model::{ConnKey, GroupPath};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

fn codes(loaded: &Loaded) -> Vec<(&'static str, String, u32)> {
    loaded
        .diagnostics
        .iter()
        .map(|d| {
            let file = Path::new(&d.file)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            (d.code, file, d.line)
        })
        .collect()
}

#[test]
fn duplicates_across_files_name_both_places() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "a.yaml",
        "users: [{username: alice}]\nuserGroups: [{name: ops}]\nconnectionGroups: [{path: ROOT/Prod}]\nsharingProfiles: [{connection: ROOT/Prod/web, name: w}]\nconnections: [{name: web, protocol: ssh, group: ROOT/Prod}]\n",
    );
    write(
        dir.path(),
        "b.json",
        r#"{"users": [{"username": "alice"}, {"username": "Alice"}],
 "userGroups": [{"name": "ops"}],
 "connectionGroups": [{"path": "/Prod/"}],
 "sharingProfiles": [{"connection": "Prod/web", "name": "w"}, {"connection": "ROOT/Prod/web", "name": "W"}]}"#,
    );
    write(
        dir.path(),
        "c.csv",
        "name,protocol,group\nweb,ssh,ROOT/Prod\n",
    );
    let loaded = load(&[dir.path().to_path_buf()], &ParseOptions::default());
    assert_eq!(
        codes(&loaded),
        [
            ("duplicate-user", "b.json".into(), 1),
            ("duplicate-user-group", "b.json".into(), 2),
            ("duplicate-connection-group", "b.json".into(), 3),
            ("duplicate-sharing-profile", "b.json".into(), 4),
            ("duplicate-connection", "c.csv".into(), 2),
        ]
    );
    let helps: Vec<String> = loaded
        .diagnostics
        .iter()
        .map(|d| d.help.clone().unwrap_or_default())
        .collect();
    let a = dir.path().join("a.yaml").display().to_string();
    assert_eq!(
        helps,
        [
            format!("first declared at {a}:1"),
            format!("first declared at {a}:2"),
            format!("first declared at {a}:3"),
            format!("first declared at {a}:4"),
            format!("first declared at {a}:5"),
        ]
    );
    let messages: Vec<&str> = loaded
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        messages[..4],
        [
            "user \"alice\" is declared twice",
            "user group \"ops\" is declared twice",
            "connection group ROOT/Prod is declared twice",
            "sharing profile ROOT/Prod/web/w is declared twice",
        ]
    );
    // The first declarations stay; names differing in case are different.
    let e = &loaded.estate;
    let users: Vec<&str> = e.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(users, ["alice", "Alice"]);
    assert!(e.users[0].source.file.ends_with("a.yaml"));
    assert_eq!((e.user_groups.len(), e.connection_groups.len()), (1, 1));
    assert_eq!(e.sharing_profiles.len(), 2);
    assert_eq!(
        loaded.entries.len(),
        1,
        "the estate's connection joins the entries"
    );
}

/// What `examples/server-state.json` holds, by path and name.
struct StateFile {
    connections: BTreeSet<ConnKey>,
    groups: BTreeSet<GroupPath>,
    users: BTreeSet<String>,
    user_groups: BTreeSet<String>,
}

impl StateFile {
    fn load(path: &Path) -> Self {
        let state = guacamole_testserver::State::load(path).expect("state file");
        let by_id: HashMap<String, (String, String)> = state
            .connection_groups
            .iter()
            .map(|g| {
                (
                    g.identifier.clone(),
                    (g.name.clone(), g.parent_identifier.clone()),
                )
            })
            .collect();
        let path_of = |id: &str| {
            let mut segments = Vec::new();
            let mut id = id.to_owned();
            while let Some((name, parent)) = by_id.get(&id) {
                segments.push(name.clone());
                id.clone_from(parent);
            }
            segments.reverse();
            GroupPath::from_segments(segments)
        };
        Self {
            connections: state
                .connections
                .iter()
                .map(|c| ConnKey {
                    group: path_of(&c.parent_identifier),
                    name: c.name.clone(),
                })
                .collect(),
            groups: state
                .connection_groups
                .iter()
                .map(|g| path_of(&g.identifier))
                .collect(),
            users: state.users.iter().map(|u| u.username.clone()).collect(),
            user_groups: state
                .user_groups
                .iter()
                .map(|g| g.identifier.clone())
                .collect(),
        }
    }
}

impl Existing for StateFile {
    fn has(&self, target: Target<'_>) -> bool {
        match target {
            Target::Connection(k) => self.connections.contains(k),
            Target::ConnectionGroup(p) => self.groups.contains(p),
            Target::SharingProfile(_) => false,
            Target::User(u) => self.users.contains(u),
            Target::UserGroup(g) => self.user_groups.contains(g),
        }
    }
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The bundled example validates cleanly, and every name it refers to is
/// declared in it, in the example manifests, or held by the example server.
#[test]
fn the_example_estate_is_clean_against_the_example_server() {
    let server = StateFile::load(&repo("examples/server-state.json"));
    let alone = load(
        &[repo("examples/manifests/estate.yaml")],
        &ParseOptions { strict: true },
    );
    assert!(alone.diagnostics.is_empty(), "{:?}", alone.diagnostics);
    let e = &alone.estate;
    assert!(
        e.connection_groups
            .iter()
            .any(|g| g.group_type == Some(crate::estate::GroupType::Balancing)),
        "a balancing group"
    );
    assert!(!e.sharing_profiles.is_empty(), "a sharing profile");
    assert!(
        e.user_groups
            .iter()
            .any(|g| g.member_users.as_ref().is_some_and(|m| !m.is_empty())),
        "user groups with members"
    );
    assert!(e.users.iter().any(|u| {
        u.password
            .as_ref()
            .is_some_and(crate::estate::Password::is_reference)
    }));
    assert!(e.references().len() > 10, "{}", e.references().len());
    assert_eq!(
        unresolved(e, entry_connections(&alone.entries), &server),
        []
    );
    // With the example manifests beside it, too.
    let both = load(
        &[repo("examples/manifests")],
        &ParseOptions { strict: true },
    );
    assert!(both.diagnostics.is_empty(), "{:?}", both.diagnostics);
    assert_eq!(
        unresolved(&both.estate, entry_connections(&both.entries), &server),
        []
    );
}

#[test]
fn references_to_nothing_are_errors_at_the_reference() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "estate.yaml",
        "connectionGroups:\n  - {path: ROOT/Prod/New, users: [alice]}\nsharingProfiles:\n  - {connection: ROOT/Prod/Web/web-9, name: w, groups: [opps]}\n  - {connection: ROOT/Lab/lab-router, name: ro}\nuserGroups:\n  - name: ops\n    members: {users: [bobb, grace], groups: [oncall]}\n    permissions:\n      connections: {ROOT/Prod/Web/web-1: [READ], ROOT/Prod/gone: [READ]}\n      connectionGroups: {ROOT/Prod/New: [READ], ROOT/Nowhere: [READ]}\n      sharingProfiles: {ROOT/Lab/lab-router/ro: [READ], ROOT/Prod/Web/web-1/x: [READ]}\n      userGroups: {dba: [READ]}\nusers:\n  - username: grace\n",
    );
    // The example's import-format files (its estate document declares some of
    // what this one does).
    let loaded = load(
        &[
            repo("examples/manifests/prod-linux.csv"),
            repo("examples/manifests/lab.json"),
            repo("examples/manifests/windows.yaml"),
            dir.path().to_path_buf(),
        ],
        &ParseOptions::default(),
    );
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let server = StateFile::load(&repo("examples/server-state.json"));
    let found: Vec<(u32, u32, String, Option<String>)> =
        unresolved(&loaded.estate, entry_connections(&loaded.entries), &server)
            .into_iter()
            .map(|d| {
                assert_eq!((d.code, d.is_error()), ("unknown-reference", true));
                (d.line, d.column, d.message, d.help)
            })
            .collect();
    let tail = ", which no document declares and the server does not hold";
    assert_eq!(
        found,
        [
            (
                4,
                18,
                format!(
                    "sharing profile ROOT/Prod/Web/web-9/w belongs to connection ROOT/Prod/Web/web-9{tail}"
                ),
                None
            ),
            (
                4,
                57,
                format!(
                    "sharing profile ROOT/Prod/Web/web-9/w gives READ to user group \"opps\"{tail}"
                ),
                Some("did you mean `ops`?".to_owned())
            ),
            (
                8,
                23,
                format!("user group \"ops\" lists as a member user \"bobb\"{tail}"),
                None
            ),
            (
                8,
                46,
                format!("user group \"ops\" lists as a member user group \"oncall\"{tail}"),
                None
            ),
            (
                10,
                50,
                format!("user group \"ops\" has permissions on connection ROOT/Prod/gone{tail}"),
                None
            ),
            (
                11,
                49,
                format!(
                    "user group \"ops\" has permissions on connection group ROOT/Nowhere{tail}"
                ),
                None
            ),
            (
                12,
                57,
                format!(
                    "user group \"ops\" has permissions on sharing profile ROOT/Prod/Web/web-1/x{tail}"
                ),
                None
            ),
        ]
    );
}

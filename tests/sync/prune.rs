//! Test 4: pruning is off by default, limited to the scope, and guarded (a
//! server with connections no manifest names).

use super::*;

fn with_extras() -> State {
    let mut s = principals_only();
    s.connection_groups = vec![
        guacamole_testserver::state::ConnectionGroupState {
            identifier: "1".into(),
            name: "Prod".into(),
            parent_identifier: "ROOT".into(),
            group_type: "ORGANIZATIONAL".into(),
            attributes: std::collections::BTreeMap::default(),
        },
        guacamole_testserver::state::ConnectionGroupState {
            identifier: "2".into(),
            name: "Elsewhere".into(),
            parent_identifier: "ROOT".into(),
            group_type: "ORGANIZATIONAL".into(),
            attributes: std::collections::BTreeMap::default(),
        },
    ];
    let conn = |id: &str, name: &str, parent: &str| guacamole_testserver::state::ConnectionState {
        identifier: id.into(),
        name: name.into(),
        parent_identifier: parent.into(),
        protocol: "ssh".into(),
        parameters: [("hostname".to_owned(), "h".to_owned())].into(),
        attributes: std::collections::BTreeMap::default(),
    };
    s.connections = vec![
        conn("1", "stale-1", "1"),
        conn("2", "stale-2", "1"),
        conn("3", "foreign", "2"),
    ];
    s
}

fn scope_config(dir: &std::path::Path, name: &str, extra: &str) -> String {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "[scope]\ngroups = [\"ROOT/Prod\", \"ROOT/Lab\", \"ROOT/Partners\"]\n[sync]\n{extra}"
        ),
    )
    .expect("write");
    path.to_str().expect("utf-8").to_owned()
}

/// Test 4: pruning, scope and the guards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t4_prune_is_off_by_default_scoped_and_guarded() {
    let server = server(with_extras()).await;
    let dir = tempfile::tempdir().expect("dir");
    let config = scope_config(dir.path(), "scope.toml", "");
    let out = guacsync(&server, &["plan", EXAMPLES, "--config", &config]).await;
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.contains("2 connection(s) in scope are in no manifest and are kept"),
        "{text}"
    );
    assert!(text.contains("0 to remove"), "{text}");

    // Guards: more than max_deletions.
    let strict = scope_config(dir.path(), "strict.toml", "max_deletions = 1\n");
    let out = guacsync(&server, &["sync", EXAMPLES, "--config", &strict, "--prune"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("removes 2 connections, more than max_deletions (1)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        writes(&server.requests()),
        Vec::<String>::new(),
        "refused before any write"
    );

    // An empty manifest directory would remove everything in scope.
    let empty = tempfile::tempdir().expect("dir");
    std::fs::write(empty.path().join("none.yaml"), "[]\n").expect("write");
    let out = guacsync_in(
        &server,
        empty.path(),
        &["sync", ".", "--config", &config, "--prune"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("removes every connection in scope group ROOT/Prod (2 removals in all)"),
        "{}",
        stderr(&out)
    );

    // --prune removes in scope only; the group outside scope is untouched.
    let out = guacsync(&server, &["sync", EXAMPLES, "--config", &config, "--prune"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let state = server.state();
    let names: Vec<&str> = state.connections.iter().map(|c| c.name.as_str()).collect();
    assert!(!names.contains(&"stale-1") && !names.contains(&"stale-2"));
    assert!(names.contains(&"foreign"));
}

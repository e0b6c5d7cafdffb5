//! Tests 1-3: syncing the examples onto an empty server (then nothing to do and
//! nothing written), a changed parameter as one full replace that keeps the
//! connection's identity, and secrets rendered as sensitive and never shown.

use super::*;

/// Test 1: an empty server and the examples.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t1_empty_server_sync_then_no_changes_and_no_writes() {
    let server = server(principals_only()).await;
    let out = guacsync(&server, &["sync", EXAMPLES]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = writes(&server.requests());
    // The import files and the estate document beside them, in dependency order
    // (DESIGN.md §8): two group depths, one connections PATCH, the sharing
    // profile, user groups, users, then members, then one permission PATCH per
    // principal (several at once, in any order).
    assert_eq!(
        log[..8],
        [
            "PATCH ds/connectionGroups",
            "PATCH ds/connectionGroups",
            "PATCH ds/connections",
            "PATCH ds/sharingProfiles",
            "PATCH ds/userGroups",
            "PATCH ds/users",
            "PATCH ds/userGroups/oncall/memberUsers",
            "PATCH ds/userGroups/ops/memberUserGroups",
        ],
        "{log:#?}"
    );
    assert!(
        log[8..].iter().all(|r| r.ends_with("/permissions")),
        "{log:#?}"
    );
    assert_eq!(
        log.len(),
        8 + 13,
        "one permission PATCH per principal: {log:#?}"
    );
    let state = server.state();
    assert_eq!(state.connections.len(), 11);
    assert_eq!(state.sharing_profiles.len(), 1);
    // The login account is untouched by the whole run.
    let before = principals_only();
    let admin = |s: &State| {
        s.users
            .iter()
            .find(|u| u.username == "guacadmin")
            .map(|u| (u.password.clone(), u.disabled, u.attributes.clone()))
    };
    assert_eq!(admin(&state), admin(&before));
    // Parent-group READ: bob reads ROOT/Prod and ROOT/Prod/Web as well as web-1.
    let prod = group_id(&state, "Prod", "ROOT");
    let web = group_id(&state, "Web", &prod);
    let bob = state
        .users
        .iter()
        .find(|u| u.username == "bob")
        .expect("bob");
    assert!(
        bob.permissions
            .connection_group_permissions
            .get(&prod)
            .is_some_and(|p| p.contains(&ObjectPermission::Read))
    );
    assert!(
        bob.permissions
            .connection_group_permissions
            .get(&web)
            .is_some_and(|p| p.contains(&ObjectPermission::Read))
    );
    assert!(
        bob.permissions
            .connection_permissions
            .contains_key(&connection(&state, "web-1").identifier)
    );
    // Group names with a slash arrive as one group.
    let partners = group_id(&state, "Partners", "ROOT");
    group_id(&state, "ACME/EMEA", &partners);

    server.clear_requests();
    let again = guacsync(&server, &["sync", EXAMPLES]).await;
    assert_eq!(again.status.code(), Some(0));
    assert!(stdout(&again).contains("No changes."), "{}", stdout(&again));
    assert_eq!(writes(&server.requests()), Vec::<String>::new());
    // The session is released at exit.
    assert!(
        summary(&server.requests())
            .last()
            .is_some_and(|r| r.starts_with("DELETE /api/tokens/"))
    );
}

/// Test 2: one parameter changed on the server, and one only on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t2_changed_parameter_is_one_full_replace_keeping_identity() {
    let server = server(principals_only()).await;
    assert_eq!(
        guacsync(&server, &["sync", EXAMPLES]).await.status.code(),
        Some(0)
    );
    let mut state = server.state();
    let id = connection(&state, "web-1").identifier.clone();
    {
        let c = state
            .connections
            .iter_mut()
            .find(|c| c.name == "web-1")
            .expect("web-1");
        c.parameters.insert("port".into(), "2222".into());
        c.parameters
            .insert("server-alive-interval".into(), "30".into());
    }
    state
        .history
        .push(guacamole_testserver::state::HistoryState {
            identifier: "1".into(),
            connection_identifier: Some(id.clone()),
            connection_name: "web-1".into(),
            username: "alice".into(),
            start_date: 1_700_000_000_000,
            end_date: Some(1_700_000_100_000),
            remote_host: None,
            uuid: None,
        });
    server.set_state(&state).expect("state");
    let before = server.state();
    server.clear_requests();

    let out = guacsync(&server, &["sync", EXAMPLES]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("~ port = \"2222\" -> \"22\""), "{text}");
    assert!(text.contains("- server-alive-interval = \"30\""), "{text}");
    assert!(
        text.contains("Plan: 0 to add, 1 to change, 0 to remove"),
        "{text}"
    );
    let patches: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && !is_probe(r))
        .collect();
    assert_eq!(patches.len(), 1, "no permission PATCH: nothing to grant");
    let body: Value = serde_json::from_str(&patches[0].body).expect("json");
    assert_eq!(body.as_array().map(Vec::len), Some(1));
    assert_eq!(body[0]["op"], "replace");
    assert_eq!(body[0]["path"], format!("/{id}"));
    let params = body[0]["value"]["parameters"]
        .as_object()
        .expect("parameters");
    assert_eq!(
        params.keys().collect::<Vec<_>>(),
        [
            "color-scheme",
            "font-size",
            "hostname",
            "port",
            "private-key",
            "username"
        ],
        "the full set"
    );
    assert_eq!(
        body[0]["value"]["attributes"]["weight"],
        Value::Null,
        "every attribute, unset ones null"
    );
    let after = server.state();
    assert_eq!(
        connection(&after, "web-1").identifier,
        id,
        "identifier kept"
    );
    assert_eq!(after.history, before.history, "history kept");
    let perms = |s: &State| -> Vec<(String, guacamole_testserver::state::Permissions)> {
        s.users
            .iter()
            .map(|u| (u.username.clone(), u.permissions.clone()))
            .collect()
    };
    assert_eq!(perms(&after), perms(&before), "permissions kept");
    assert!(
        !connection(&after, "web-1")
            .parameters
            .contains_key("server-alive-interval")
    );
}

/// Test 3: secrets never leave the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t3_secrets_render_sensitive_and_never_appear() {
    let server = server(principals_only()).await;
    let dir = tempfile::tempdir().expect("dir");
    let literal = "Literal-Secret-1c9e";
    let manifest = format!(
        "- name: db\n  protocol: ssh\n  group: ROOT/Prod\n  parameters:\n    hostname: db1\n    password: {literal}\n    passphrase: ${{env:DB_SSH_PASSWORD}}\n"
    );
    std::fs::create_dir(dir.path().join("manifests")).expect("mkdir");
    let m = dir.path().join("manifests/m.yaml");
    std::fs::write(&m, &manifest).expect("write");
    let plan_file = dir.path().join("plan.json");
    let plan_arg = plan_file.to_str().expect("utf-8");
    let mut outputs = Vec::new();
    outputs.push(
        guacsync_in(
            &server,
            dir.path(),
            &["plan", "manifests", "--out", plan_arg],
            &[],
        )
        .await,
    );
    outputs.push(
        guacsync_in(
            &server,
            dir.path(),
            &["plan", "manifests", "--format", "json"],
            &[],
        )
        .await,
    );
    outputs.push(
        guacsync_in(
            &server,
            dir.path(),
            &["plan", "manifests", "--format", "markdown"],
            &[],
        )
        .await,
    );
    outputs.push(guacsync_in(&server, dir.path(), &["sync", "manifests"], &[]).await);
    // Change the password in the manifest: the plan shows a sensitive change.
    std::fs::write(&m, manifest.replace(literal, "Other-Secret-55aa")).expect("write");
    let changed = guacsync_in(&server, dir.path(), &["plan", "manifests"], &[]).await;
    assert!(
        stdout(&changed).contains("~ password = (sensitive) -> (sensitive)"),
        "{}\n{}",
        stdout(&changed),
        stderr(&changed)
    );
    outputs.push(changed);
    outputs.push(guacsync_in(&server, dir.path(), &["sync", "manifests", "-vv"], &[]).await);
    let saved = std::fs::read_to_string(&plan_file).expect("saved plan");
    let tokens: Vec<String> = server
        .requests()
        .iter()
        .filter_map(|r| r.headers.get("guacamole-token").cloned())
        .collect();
    assert!(!tokens.is_empty());
    for text in outputs
        .iter()
        .flat_map(|o| [stdout(o), stderr(o)])
        .chain([saved])
    {
        for secret in [
            literal,
            "Other-Secret-55aa",
            SECRET_ENV,
            "guacadmin-password",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .chain(tokens.iter().cloned())
        {
            assert!(
                !text.contains(&secret),
                "secret {secret:?} leaked in:\n{text}"
            );
        }
    }
    // The stored values are the real ones.
    let state = server.state();
    assert_eq!(
        connection(&state, "db").parameters["password"],
        "Other-Secret-55aa"
    );
    assert_eq!(
        connection(&state, "db").parameters["passphrase"],
        SECRET_ENV
    );
}

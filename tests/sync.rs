//! `plan` and `sync` through the real binary against the test server on loopback
//! (issue "plan and sync", tests 1–8).

mod common;

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

/// Test 5: faults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t5_rejected_connection_batch_changes_nothing_and_points_at_lines() {
    let server = server(principals_only()).await;
    server.set_faults(vec![FaultRule::on(
        "PATCH",
        "/connections",
        Fault::PatchError {
            index: 2,
            message: Some("Injected rejection.".into()),
        },
    )]);
    let out = guacsync(&server, &["sync", EXAMPLES]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("the server rejected the connection batch"),
        "{err}"
    );
    assert!(
        err.contains("examples/manifests/") && err.contains("Injected rejection."),
        "{err}"
    );
    assert!(err.contains("done before it: 10 group(s) created"), "{err}");
    let state = server.state();
    assert!(state.connections.is_empty(), "the batch was rolled back");
    assert!(
        !summary(&server.requests())
            .iter()
            .any(|r| r.ends_with("/permissions") && r.starts_with("PATCH")),
        "no permission PATCH after a rejected batch"
    );
    // A re-run converges (the groups created before are reused).
    server.set_faults(vec![]);
    assert_eq!(
        guacsync(&server, &["sync", EXAMPLES]).await.status.code(),
        Some(0)
    );
    assert_eq!(server.state().connections.len(), 11);
    assert_eq!(
        server.state().connection_groups.len(),
        10,
        "no duplicate groups"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t5_expired_token_mid_observe_logs_in_again_once() {
    let server = server(principals_only()).await;
    server.set_faults(vec![FaultRule::on("GET", "/users", Fault::ExpireToken)]);
    let out = guacsync(&server, &["sync", EXAMPLES]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let logins = summary(&server.requests())
        .iter()
        .filter(|r| *r == "POST /api/tokens")
        .count();
    assert_eq!(logins, 2);
    assert_eq!(server.state().connections.len(), 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t5_get_5xx_and_dropped_connection_are_retried() {
    let server = server(principals_only()).await;
    server.set_faults(vec![
        FaultRule::on(
            "GET",
            "/connectionGroups/ROOT/tree",
            Fault::Status {
                code: 500,
                message: None,
            },
        ),
        FaultRule::on("GET", "/userGroups", Fault::Drop),
    ]);
    let out = guacsync(&server, &["plan", EXAMPLES]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let gets = summary(&server.requests());
    assert_eq!(
        gets.iter().filter(|r| r.ends_with("ROOT/tree")).count(),
        2,
        "{gets:#?}"
    );
    assert_eq!(
        gets.iter().filter(|r| *r == "GET ds/userGroups").count(),
        2,
        "{gets:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t5_failed_patch_is_not_retried_and_a_rerun_converges() {
    for fault in [
        Fault::Status {
            code: 500,
            message: None,
        },
        Fault::Drop,
    ] {
        let server = server(principals_only()).await;
        server.set_faults(vec![FaultRule::on("PATCH", "/connections", fault.clone())]);
        let out = guacsync(&server, &["sync", EXAMPLES]).await;
        assert_eq!(out.status.code(), Some(1), "{fault:?}");
        let err = stderr(&out);
        assert!(
            err.contains("the connection batch failed")
                && err.contains("PATCH api/session/data/postgresql/connections"),
            "{err}"
        );
        let patches = summary(&server.requests())
            .iter()
            .filter(|r| *r == "PATCH ds/connections")
            .count();
        assert_eq!(patches, 1, "a write is never retried blindly");
        server.set_faults(vec![]);
        assert_eq!(
            guacsync(&server, &["sync", EXAMPLES]).await.status.code(),
            Some(0)
        );
        let again = guacsync(&server, &["plan", EXAMPLES, "--detailed-exitcode"]).await;
        assert_eq!(
            again.status.code(),
            Some(0),
            "converged: {}",
            stdout(&again)
        );
    }
}

/// Test 6: saved plans.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t6_saved_plan_applies_exactly_or_is_refused_as_stale() {
    let server = server(principals_only()).await;
    let dir = tempfile::tempdir().expect("dir");
    let plan = dir.path().join("plan.json");
    let plan_arg = plan.to_str().expect("utf-8");
    assert_eq!(
        guacsync(&server, &["plan", EXAMPLES, "--out", plan_arg])
            .await
            .status
            .code(),
        Some(0)
    );
    let out = guacsync(&server, &["sync", "--plan", plan_arg]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.state().connections.len(), 11);

    // A plan made, then the server changes: refused.
    let second = dir.path().join("second.json");
    let second_arg = second.to_str().expect("utf-8");
    let mut state = server.state();
    state.connections.retain(|c| c.name != "web-2");
    server.set_state(&state).expect("state");
    assert_eq!(
        guacsync(&server, &["plan", EXAMPLES, "--out", second_arg])
            .await
            .status
            .code(),
        Some(0)
    );
    let mut changed = server.state();
    if let Some(c) = changed.connections.iter_mut().find(|c| c.name == "web-1") {
        c.parameters.insert("port".into(), "2200".into());
    }
    server.set_state(&changed).expect("state");
    server.clear_requests();
    let out = guacsync(&server, &["sync", "--plan", second_arg]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "plan is stale: connection ROOT/Prod/Web/web-1 changed on the server since the plan was made"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(writes(&server.requests()), Vec::<String>::new());
}

/// Test 7: exit codes, JSON against its schema, text and markdown snapshots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t7_exit_codes_schema_and_snapshots() {
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
        serde_json::from_str(include_str!("../schemas/plan.schema.json")).expect("schema");
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

/// Test 8: a path prefix and TLS with a CA file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t8_prefix_and_tls_with_a_ca_file() {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "guacsync test CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    let cert = params.signed_by(&key, &issuer).expect("cert");
    let server = server_with(Config {
        state: principals_only(),
        prefix: "/guac-api".into(),
        tls: Some(guacamole_testserver::TlsConfig {
            cert_chain_pem: cert.pem().into_bytes(),
            key_pem: key.serialize_pem().into_bytes(),
        }),
        ..Config::default()
    })
    .await;
    let url = format!("https://localhost:{}/guac-api/", server.addr().port());
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("write");
    let config = dir.path().join("guacsync.toml");
    std::fs::write(&config, "[server]\nca_cert = \"ca.pem\"\n").expect("write");
    let config_arg = config.to_str().expect("utf-8");
    // Without the CA the certificate is refused.
    let refused = guacsync_in(&server, &repo(), &["plan", EXAMPLES, "--url", &url], &[]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).to_lowercase().contains("certificate"),
        "{}",
        stderr(&refused)
    );
    let out = guacsync_in(
        &server,
        &repo(),
        &["sync", EXAMPLES, "--url", &url, "--config", config_arg],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.state().connections.len(), 11);
    // --insecure works too, with a warning.
    let insecure = guacsync_in(
        &server,
        &repo(),
        &["plan", EXAMPLES, "--url", &url, "--insecure"],
        &[],
    )
    .await;
    assert_eq!(insecure.status.code(), Some(0));
    assert!(
        stderr(&insecure).contains("--insecure"),
        "{}",
        stderr(&insecure)
    );
}

/// `--state FILE`: plan and sync with no server; writes are atomic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_file_plan_and_sync() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state.json");
    std::fs::copy(repo().join("examples/server-state.json"), &state).expect("copy");
    let state_arg = state.to_str().expect("utf-8");
    let run = |args: Vec<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_guacsync"));
        cmd.current_dir(repo())
            .args(args)
            .env_clear()
            .env("DB_SSH_PASSWORD", SECRET_ENV)
            .env("NO_COLOR", "1");
        cmd.output().expect("runs")
    };
    let plan = run(vec![
        "plan",
        EXAMPLES,
        "--state",
        state_arg,
        "--detailed-exitcode",
    ]);
    assert_eq!(
        plan.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let before = std::fs::read_to_string(&state).expect("read");
    assert_eq!(
        before,
        std::fs::read_to_string(repo().join("examples/server-state.json")).expect("read"),
        "plan writes nothing"
    );
    let sync = run(vec!["sync", EXAMPLES, "--state", state_arg]);
    assert_eq!(
        sync.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sync.stderr)
    );
    let after: State = State::load(&state).expect("still a valid state");
    assert_eq!(after.connections.len(), 12);
    assert!(
        std::fs::read_dir(dir.path()).expect("dir").count() == 1,
        "no temporary file left behind"
    );
    let again = run(vec![
        "plan",
        EXAMPLES,
        "--state",
        state_arg,
        "--detailed-exitcode",
    ]);
    assert_eq!(again.status.code(), Some(0));
}

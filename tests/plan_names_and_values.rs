//! The server's schema decides which names exist, and values are kept (issue 12,
//! DESIGN.md §4), through the binary: a typo'd parameter and an unknown attribute
//! are errors (the value never shown), unmanaged parameters are carried over and
//! export says how, `--strict` on plan and sync, and the CSV list detail.

mod common;
mod plan_support;

use common::*;
use plan_support::*;
use serde_json::{Value, json};

/// A typo'd parameter is an error at its place with a "did you mean", and its
/// value appears in no output; allowed, it is sent and shown as (sensitive).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typod_parameter_is_an_error_and_its_value_never_shown() {
    let server = server(principals_only()).await;
    let secret = "hunter2-Typo-9f1e";
    let manifest = format!(
        "- name: db\n  protocol: ssh\n  group: ROOT/Prod\n  parameters:\n    hostname: db1\n    pasword: {secret}\n"
    );
    let dir = workspace("", &[("db.yaml", &manifest)]);
    let mut outputs = Vec::new();
    for args in [
        &["plan", "manifests"][..],
        &["plan", "manifests", "--format", "json"],
        &["plan", "manifests", "--format", "markdown"],
        &["sync", "manifests"],
    ] {
        let out = run(&server, dir.path(), args).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("manifests/db.yaml:6:5: error[unknown-parameter]"),
            "{err}"
        );
        assert!(err.contains("did you mean `password`?"), "{err}");
        outputs.push(out);
    }
    assert_eq!(writes(&server.requests()), Vec::<String>::new());
    // validate (offline, bundled schema): a warning, the value masked too.
    for args in [
        &["validate", "manifests"][..],
        &["validate", "manifests", "--format", "json"],
        &["validate", "manifests", "--strict"],
    ] {
        outputs.push(run(&server, dir.path(), args).await);
    }
    let json: Value = serde_json::from_slice(&outputs[5].stdout).expect("validate json");
    assert_eq!(
        json["connections"][0]["parameters"]["pasword"], "(sensitive)",
        "{json}"
    );
    assert_eq!(outputs[6].status.code(), Some(1), "--strict: an error");
    for out in &outputs {
        for text in [stdout(out), stderr(out)] {
            assert!(!text.contains(secret), "the value leaked:\n{text}");
        }
    }

    // Allowed: sent (the server stores it), shown as (sensitive), then settled.
    std::fs::write(
        dir.path().join("guacsync.toml"),
        "[sync]\nallow_unknown_parameters = true\n",
    )
    .expect("write");
    server.clear_requests();
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("+ pasword = (sensitive)"), "{text}");
    assert!(text.contains("(sent: allow_unknown_parameters)"), "{text}");
    assert!(!text.contains(secret) && !stderr(&out).contains(secret));
    assert_eq!(
        connection(&server.state(), "db")
            .parameters
            .get("pasword")
            .map(String::as_str),
        Some(secret)
    );
    second_plan_is_empty(&server, dir.path(), &[]).await;
}

/// An attribute the server's schema does not have is an error (the server would
/// drop it on create and keep it on replace, so the plan would never settle).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_attribute_is_an_error_before_anything_is_sent() {
    let server = server(principals_only()).await;
    let dir = workspace(
        "",
        &[(
            "a.yaml",
            "- name: web\n  protocol: ssh\n  parameters: {hostname: h}\n  attributes:\n    owner-team: payments\n    max-conections: \"2\"\n",
        )],
    );
    let out = run(&server, dir.path(), &["plan", "manifests"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("manifests/a.yaml:5:5: error[unknown-attribute]"),
        "{err}"
    );
    assert!(
        err.contains("manifests/a.yaml:6:5: error[unknown-attribute]")
            && err.contains("did you mean `max-connections`?"),
        "{err}"
    );
    assert!(
        err.contains("2 parameter or attribute name(s) are unknown to the server"),
        "{err}"
    );
    assert_eq!(writes(&server.requests()), Vec::<String>::new());

    // Fixed, the plan settles in one sync.
    std::fs::write(
        dir.path().join("manifests/a.yaml"),
        "- name: web\n  protocol: ssh\n  parameters: {hostname: h}\n  attributes:\n    max-connections: \"2\"\n",
    )
    .expect("write");
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        connection(&server.state(), "web")
            .attributes
            .get("max-connections")
            .map(String::as_str),
        Some("2")
    );
    second_plan_is_empty(&server, dir.path(), &[]).await;
}

/// A password set by hand on the server and left out of the manifest is kept when
/// `unmanaged_parameters` names it: compared only where a manifest sets it, and
/// carried over in replaces. `export --secrets omit` says which line to add.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmanaged_password_is_kept_and_export_says_how() {
    let secret = "Set-By-Hand-4b2c";
    let state = state_with(&json!({
        "connectionGroups": [{"identifier": "1", "name": "Prod"}],
        "connections": [{"identifier": "10", "name": "web-1", "parentIdentifier": "1", "protocol": "ssh",
                         "parameters": {"hostname": "h", "port": "2222", "password": secret}}]
    }));
    let server = server(state).await;

    // Export first: the natural onboarding path.
    let dir = workspace("", &[]);
    let out = run(
        &server,
        dir.path(),
        &["export", "--out", "manifests/", "--scope", "ROOT/Prod"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = "unmanaged_parameters = [\"password\"]";
    assert!(stderr(&out).contains(line), "{}", stderr(&out));
    let exported = std::fs::read_to_string(dir.path().join("manifests/Prod.yaml")).expect("file");
    assert!(
        exported.contains(&format!("#   {line}")),
        "header comment:\n{exported}"
    );
    assert!(!exported.contains(secret));

    // Without the line, the plan would remove the password.
    let out = run(&server, dir.path(), &["plan", "manifests"]).await;
    assert!(
        stdout(&out).contains("- password = (sensitive)"),
        "{}",
        stdout(&out)
    );

    // With it, a change elsewhere keeps the password.
    std::fs::write(
        dir.path().join("guacsync.toml"),
        format!("[sync]\n{line}\n"),
    )
    .expect("write");
    let out = run(&server, dir.path(), &["plan", "manifests"]).await;
    assert!(stdout(&out).contains("No changes."), "{}", stdout(&out));
    let manifest = exported.replace("2222", "22");
    std::fs::write(dir.path().join("manifests/Prod.yaml"), manifest).expect("write");
    server.clear_requests();
    let out = run(&server, dir.path(), &["sync", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("~ port = \"2222\" -> \"22\""), "{text}");
    assert!(!text.contains("password"), "{text}");
    let patches = connection_patches(&server);
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0][0]["op"], "replace");
    assert_eq!(
        patches[0][0]["value"]["parameters"]["password"], secret,
        "the server's value is carried over in the full replace"
    );
    let after = connection(&server.state(), "web-1").clone();
    assert_eq!(
        after.parameters.get("password").map(String::as_str),
        Some(secret)
    );
    assert_eq!(after.parameters.get("port").map(String::as_str), Some("22"));
    second_plan_is_empty(&server, dir.path(), &[]).await;
}

/// CSV `users`/`groups`: a lone trailing backslash is dropped, as upstream does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_lone_trailing_backslash_is_dropped() {
    let server = server(principals_only()).await;
    let dir = workspace(
        "",
        &[(
            "m.csv",
            "name,protocol,hostname,users,groups\nweb,ssh,h,trailing\\,ops\\;eu;x\\\n",
        )],
    );
    let out = run(
        &server,
        dir.path(),
        &["validate", "manifests", "--format", "json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["connections"][0]["users"], json!(["trailing"]));
    assert_eq!(doc["connections"][0]["groups"], json!(["ops;eu", "x"]));
}

/// `--strict` is accepted by `plan` and `sync`: unknown keys are errors there as
/// in `validate`, before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_plan_and_sync_refuse_unknown_keys() {
    let server = server(principals_only()).await;
    let dir = workspace(
        "",
        &[(
            "m.yaml",
            "- name: web\n  protocol: ssh\n  identifer: 7\n  parameters: {hostname: h}\n",
        )],
    );
    for command in ["plan", "sync"] {
        let out = run(&server, dir.path(), &[command, "manifests", "--strict"]).await;
        assert_eq!(out.status.code(), Some(1), "{command}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("manifests/m.yaml:3:3: error[unknown-key]"),
            "{}",
            stderr(&out)
        );
        assert!(server.requests().is_empty(), "nothing sent");
    }
    let out = run(&server, dir.path(), &["plan", "manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "a warning without --strict");
    assert!(stderr(&out).contains("warning[unknown-key]"));
}

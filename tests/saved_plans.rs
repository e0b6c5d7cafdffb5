//! Saved plans (issue 16 items 10 and 11, issue 12's "saved plans"): what decides
//! the changes is compared (an open session is not a change), a stale plan names
//! the manifest file or server object that changed, manifest paths are recorded
//! relative to the configuration's directory (the current one without one) so any
//! spelling of them is the same plan and `sync --plan` finds them from elsewhere,
//! and a plan file written inside a manifest directory is never read as a manifest.

mod common;

use std::path::Path;

use common::*;
use guacamole_testserver::state::ActiveConnectionState;
use guacamole_testserver::{RunningServer, State};

fn write_manifests(dir: &Path, web_port: &str) {
    let m = dir.join("manifests");
    std::fs::create_dir_all(&m).expect("mkdir");
    std::fs::write(
        m.join("web.yaml"),
        format!(
            "# the web tier\n- name: web\n  protocol: ssh\n  group: ROOT/Prod\n  parameters: {{hostname: web.example.com, port: \"{web_port}\"}}\n  users: [alice]\n"
        ),
    )
    .expect("write");
    std::fs::write(
        m.join("db.csv"),
        "name,protocol,group,hostname,port\ndb,ssh,ROOT/Prod,db.example.com,22\n",
    )
    .expect("write");
}

/// A server holding the manifests with port 22, and the manifests now asking for
/// `web_port`: a plan with one replace.
async fn setup(web_port: &str) -> (RunningServer, tempfile::TempDir, State) {
    let server = server(principals_only()).await;
    let dir = tempfile::tempdir().expect("dir");
    write_manifests(dir.path(), "22");
    let out = guacsync_in(&server, dir.path(), &["sync", "manifests"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    write_manifests(dir.path(), web_port);
    let state = server.state();
    (server, dir, state)
}

fn port_of(server: &RunningServer, name: &str) -> Option<String> {
    server
        .state()
        .connections
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.parameters.get("port").cloned())
}

async fn plan_out(server: &RunningServer, dir: &Path, args: &[&str]) {
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    let out = guacsync_in(server, dir, &all, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// `sync --plan FILE [args]` in `dir`: the exit code and stderr.
async fn sync_plan(
    server: &RunningServer,
    dir: &Path,
    plan: &str,
    args: &[&str],
) -> (Option<i32>, String) {
    let mut all = vec!["sync", "--plan", plan];
    all.extend_from_slice(args);
    let out = guacsync_in(server, dir, &all, &[]).await;
    (out.status.code(), stderr(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_session_between_plan_and_sync_is_not_a_change() {
    let (server, dir, _) = setup("2222").await;
    plan_out(&server, dir.path(), &["manifests", "--out", "plan.json"]).await;
    let mut state = server.state();
    let web = state
        .connections
        .iter()
        .find(|c| c.name == "web")
        .expect("web")
        .identifier
        .clone();
    state.active_connections.push(ActiveConnectionState {
        identifier: "6a1d2c0e-0000-4000-8000-000000000001".into(),
        connection_identifier: web,
        sharing_profile_identifier: None,
        start_date: 1_700_000_000_000,
        remote_host: Some("10.0.0.9".into()),
        username: "alice".into(),
    });
    server.set_state(&state).expect("state");
    let (code, err) = sync_plan(&server, dir.path(), "plan.json", &[]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(port_of(&server, "web").as_deref(), Some("2222"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_plan_names_the_manifest_file_or_the_server_object() {
    let (server, dir, before) = setup("2222").await;
    plan_out(&server, dir.path(), &["manifests", "--out", "plan.json"]).await;
    // Comments and formatting are no change.
    let web = dir.path().join("manifests/web.yaml");
    let text = std::fs::read_to_string(&web).expect("read");
    std::fs::write(
        &web,
        format!("# reviewed\n\n{}", text.replace("# the web tier\n", "")),
    )
    .expect("write");
    // A real change in another file: named.
    std::fs::write(
        dir.path().join("manifests/db.csv"),
        "name,protocol,group,hostname,port\ndb,ssh,ROOT/Prod,db.example.com,2200\n",
    )
    .expect("write");
    server.clear_requests();
    let (code, err) = sync_plan(&server, dir.path(), "plan.json", &[]).await;
    assert_eq!(code, Some(1));
    assert!(
        err.contains("plan is stale: manifest manifests/db.csv changed since the plan was made"),
        "{err}"
    );
    assert_eq!(writes(&server.requests()), Vec::<String>::new());
    // Back as it was: the comment change alone passes... until the server changes.
    std::fs::write(
        dir.path().join("manifests/db.csv"),
        "name,protocol,group,hostname,port\ndb,ssh,ROOT/Prod,db.example.com,22\n",
    )
    .expect("write");
    let mut changed = before.clone();
    if let Some(c) = changed.connections.iter_mut().find(|c| c.name == "db") {
        c.parameters
            .insert("hostname".into(), "db2.example.com".into());
    }
    server.set_state(&changed).expect("state");
    let (code, err) = sync_plan(&server, dir.path(), "plan.json", &[]).await;
    assert_eq!(code, Some(1));
    assert!(
        err.contains(
            "plan is stale: connection ROOT/Prod/db changed on the server since the plan was made"
        ),
        "{err}"
    );
    server.set_state(&before).expect("state");
    let (code, err) = sync_plan(&server, dir.path(), "plan.json", &[]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(port_of(&server, "web").as_deref(), Some("2222"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_spelling_of_the_manifest_path_is_the_same_plan() {
    let (server, dir, before) = setup("2222").await;
    let abs = dir.path().join("manifests");
    let abs = abs.to_str().expect("utf-8");
    let sub = dir.path().join("elsewhere");
    std::fs::create_dir(&sub).expect("mkdir");
    let plan_path = dir.path().join("plan.json");
    let plan_arg = plan_path.to_str().expect("utf-8");
    // Made as `manifests`; applied as `./manifests/`, as an absolute path, and with
    // no path at all from another directory.
    for (made, applied, run_in) in [
        ("manifests", vec!["./manifests/"], dir.path()),
        ("./manifests/", vec![abs], dir.path()),
        (abs, vec!["manifests"], dir.path()),
        ("manifests", vec![], sub.as_path()),
    ] {
        server.set_state(&before).expect("state");
        plan_out(&server, dir.path(), &[made, "--out", "plan.json"]).await;
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&plan_path).expect("read"))
                .expect("json");
        assert_eq!(
            saved["manifests"],
            serde_json::json!(["manifests"]),
            "{made}"
        );
        let (code, err) = sync_plan(&server, run_in, plan_arg, &applied).await;
        assert_eq!(
            code,
            Some(0),
            "made with {made}, applied with {applied:?}: {err}"
        );
        assert_eq!(port_of(&server, "web").as_deref(), Some("2222"));
    }
}

/// One manifest file named (issue 12: "with one file named it says `the server
/// changed` although nothing on the server did"): made and applied with the
/// file spelled as a relative path, with `./`, and as an absolute path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_spelling_of_one_manifest_file_is_the_same_plan() {
    let (server, dir, before) = setup("2222").await;
    let abs = dir.path().join("manifests/web.yaml");
    let abs = abs.to_str().expect("utf-8");
    let plan_path = dir.path().join("plan.json");
    let plan_arg = plan_path.to_str().expect("utf-8");
    for (made, applied) in [
        ("manifests/web.yaml", "manifests/web.yaml"),
        ("manifests/web.yaml", "./manifests/web.yaml"),
        ("./manifests/web.yaml", abs),
        (abs, "manifests/web.yaml"),
    ] {
        server.set_state(&before).expect("state");
        plan_out(&server, dir.path(), &[made, "--out", "plan.json"]).await;
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&plan_path).expect("read"))
                .expect("json");
        assert_eq!(
            saved["manifests"],
            serde_json::json!(["manifests/web.yaml"]),
            "{made}"
        );
        server.clear_requests();
        let (code, err) = sync_plan(&server, dir.path(), plan_arg, &[applied]).await;
        assert_eq!(
            code,
            Some(0),
            "made with {made}, applied with {applied}: {err}"
        );
        assert!(!err.contains("stale"), "{err}");
        assert_eq!(port_of(&server, "web").as_deref(), Some("2222"));
        assert_eq!(
            writes(&server.requests()),
            ["PATCH ds/connections"],
            "the one replace, and nothing of db.csv"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_relative_to_the_configuration_and_found_from_another_directory() {
    let (server, dir, _) = setup("2222").await;
    std::fs::write(
        dir.path().join("guacsync.toml"),
        "[sync]\ncreate_groups = true\n",
    )
    .expect("write");
    let ci = dir.path().join("ci");
    std::fs::create_dir(&ci).expect("mkdir");
    // Made from a subdirectory with the configuration named: recorded relative
    // to the configuration's directory.
    plan_out(
        &server,
        &ci,
        &[
            "../manifests",
            "--config",
            "../guacsync.toml",
            "--out",
            "plan.json",
        ],
    )
    .await;
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ci.join("plan.json")).expect("read"))
            .expect("json");
    assert_eq!(saved["manifests"], serde_json::json!(["manifests"]));
    // Applied from the configuration's directory with no path.
    let (code, err) = sync_plan(
        &server,
        dir.path(),
        "ci/plan.json",
        &["--config", "guacsync.toml"],
    )
    .await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(port_of(&server, "web").as_deref(), Some("2222"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_file_inside_the_manifest_directory_is_not_a_manifest() {
    let (server, dir, _) = setup("2222").await;
    plan_out(
        &server,
        dir.path(),
        &["manifests", "--out", "manifests/plan.json"],
    )
    .await;
    // The saved file, basis included, follows the plan schema.
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schemas/plan.schema.json")).expect("schema");
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("manifests/plan.json")).expect("read"),
    )
    .expect("json");
    assert!(
        saved["basis"]["objects"]["connection ROOT/Prod/web"].is_string(),
        "{saved}"
    );
    let validator = jsonschema::draft202012::new(&schema).expect("compiles");
    let errors: Vec<String> = validator
        .iter_errors(&saved)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    // Reading the directory again skips it: the plan is unchanged, and applies.
    let out = guacsync_in(
        &server,
        dir.path(),
        &["plan", "manifests", "--format", "json"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (code, err) = sync_plan(&server, dir.path(), "manifests/plan.json", &[]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(port_of(&server, "web").as_deref(), Some("2222"));
    // Named as a manifest, it is an error that says what it is.
    let out = guacsync_in(
        &server,
        dir.path(),
        &["validate", "manifests/plan.json"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("error[saved-plan-file]")
            && stderr(&out).contains("guacsync sync --plan manifests/plan.json"),
        "{}",
        stderr(&out)
    );
    // Saved under a YAML name (YAML reads JSON), it is recognised too.
    plan_out(
        &server,
        dir.path(),
        &["manifests", "--out", "manifests/plan.yaml"],
    )
    .await;
    let out = guacsync_in(&server, dir.path(), &["validate", "manifests"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Also with no path, the current directory holding the plan and the manifests.
    plan_out(
        &server,
        &dir.path().join("manifests"),
        &["--out", "plan.json"],
    )
    .await;
    let out = guacsync_in(&server, &dir.path().join("manifests"), &["validate"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

//! Issue 16 items 4–7 and 12–14 through the real binary against the test server:
//! deep group trees, numeric attributes, malformed PATCH answers, oversized
//! responses, names that need `%2F`, TOTP codes used once, and the data source of a
//! pre-issued token.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use guacamole_testserver::answers::PathRules;
use guacamole_testserver::{Config, Fault, FaultRule, RunningServer, State};
use tokio::io::{AsyncBufReadExt, BufReader};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

async fn run(server: &RunningServer, dir: &Path, args: &[&str]) -> std::process::Output {
    guacsync_in(server, dir, args, &[]).await
}

/// A YAML manifest with one connection in a group `depth` levels below ROOT.
fn deep_manifest(depth: usize) -> String {
    let path: Vec<String> = (0..depth).map(|i| format!("g{i}")).collect();
    format!(
        "- name: deep\n  protocol: ssh\n  group: ROOT/{}\n  parameters: {{hostname: h}}\n",
        path.join("/")
    )
}

async fn deep_round_trip(depth: usize) {
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "deep.yaml", &deep_manifest(depth));
    let server = server(principals_only()).await;
    let v = run(&server, dir.path(), &["validate", "deep.yaml"]).await;
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    let s = run(&server, dir.path(), &["sync", "deep.yaml"]).await;
    assert_eq!(s.status.code(), Some(0), "{}", stderr(&s));
    assert_eq!(server.state().connection_groups.len(), depth);
    let p = run(
        &server,
        dir.path(),
        &["plan", "deep.yaml", "--detailed-exitcode"],
    )
    .await;
    assert_eq!(p.status.code(), Some(0), "{}", stderr(&p));
    assert!(stdout(&p).contains("No changes"), "{}", stdout(&p));
    let e = run(&server, dir.path(), &["export", "--format", "json"]).await;
    assert_eq!(e.status.code(), Some(0), "{}", stderr(&e));
    assert!(stdout(&e).contains("\"deep\""), "{}", stdout(&e));
}

/// 16.4: 64 nested groups used to lock every run out (`serde_json`'s recursion limit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_70_deep_group_path_syncs_and_plans_again_empty() {
    deep_round_trip(70).await;
}

/// 16.4: the deepest path validate allows works end to end; one more is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deepest_allowed_group_path_syncs_and_one_more_is_refused() {
    deep_round_trip(256).await;
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "deep.yaml", &deep_manifest(257));
    let server = server(principals_only()).await;
    let v = run(&server, dir.path(), &["validate", "deep.yaml"]).await;
    assert_eq!(v.status.code(), Some(1));
    assert_eq!(diagnostic_codes(&stderr(&v)), ["group-too-deep"]);
    let p = run(&server, dir.path(), &["plan", "deep.yaml"]).await;
    assert_eq!(p.status.code(), Some(1));
    assert!(server.requests().is_empty(), "nothing is sent");
}

/// 16.5: `007` and `+4822` are stored as numbers; the plan converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_attributes_are_sent_as_the_server_stores_them() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "n.csv",
        "name,protocol,hostname,max-connections,weight,guacd-port\n\
         n1,ssh,h,007,+4822,-0\n",
    );
    let server = server(principals_only()).await;
    let v = run(&server, dir.path(), &["validate", "n.csv"]).await;
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    assert_eq!(
        diagnostic_codes(&stderr(&v)),
        ["numeric-attribute-rewritten"]
    );
    assert!(stderr(&v).contains("sends \"7\""), "{}", stderr(&v));
    let s = run(&server, dir.path(), &["sync", "n.csv"]).await;
    assert_eq!(s.status.code(), Some(0), "{}", stderr(&s));
    let state = server.state();
    let c = &state.connections[0];
    assert_eq!(
        c.attributes.get("max-connections").map(String::as_str),
        Some("7")
    );
    assert_eq!(c.attributes.get("weight").map(String::as_str), Some("4822"));
    assert_eq!(
        c.attributes.get("guacd-port").map(String::as_str),
        Some("0")
    );
    let p = run(
        &server,
        dir.path(),
        &["plan", "n.csv", "--detailed-exitcode"],
    )
    .await;
    assert_eq!(p.status.code(), Some(0), "{}{}", stdout(&p), stderr(&p));

    // A value the server cannot parse (it keeps the old one) is an error.
    write(
        dir.path(),
        "n.csv",
        "name,protocol,hostname,max-connections\nn1,ssh,h, 7\n",
    );
    let v = run(&server, dir.path(), &["validate", "n.csv"]).await;
    assert_eq!(v.status.code(), Some(1));
    assert_eq!(diagnostic_codes(&stderr(&v)), ["invalid-attribute-value"]);
}

/// A rejection with one outcome more than the 11 patches the examples send.
fn too_many_outcomes() -> String {
    let ok = r#"{"op":"add","identifier":null,"path":"/"}"#;
    let bad = r#"{"op":"add","identifier":null,"path":"/","error":{"key":"APP.TEXT_UNTRANSLATED","variables":{"MESSAGE":"boom"}}}"#;
    let mut outcomes = vec![ok; 11];
    outcomes.push(bad);
    format!(
        r#"{{"message":"The provided patches failed to apply.","translatableMessage":null,"statusCode":null,"expected":null,"patches":[{}],"type":"BAD_REQUEST"}}"#,
        outcomes.join(",")
    )
}

/// 16.6: a rejected PATCH with more outcomes than patches panicked (exit 101, no
/// logout). Now: an unknown outcome, said so, token released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_patch_answer_is_an_unknown_outcome() {
    let server = server(principals_only()).await;
    let cases = [
        (
            400,
            too_many_outcomes(),
            false,
            "12 outcome(s) for 11 patch(es)",
        ),
        (
            200,
            r#"{"patches":[]}"#.to_owned(),
            true,
            "0 outcome(s) for 11 patch(es)",
        ),
        (
            200,
            format!(
                r#"{{"patches":[{}]}}"#,
                [r#"{"op":"add","identifier":null,"path":"/"}"#; 11].join(",")
            ),
            true,
            "no identifier for the add at position 1",
        ),
    ];
    for (code, body, after_handling, says) in cases {
        server.set_state(&principals_only()).expect("reset");
        server.set_faults(vec![FaultRule::on(
            "PATCH",
            "/connections",
            Fault::Answer {
                code,
                body,
                after_handling,
            },
        )]);
        server.clear_requests();
        let out = guacsync(&server, &["sync", "examples/manifests"]).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(err.contains("may have been applied"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        let log = summary(&server.requests());
        assert!(
            log.last()
                .is_some_and(|r| r.starts_with("DELETE /api/tokens/")),
            "the token is released: {log:#?}"
        );
        assert!(
            !log.iter()
                .any(|r| r.ends_with("/permissions") && r.starts_with("PATCH")),
            "nothing after the batch is sent: {log:#?}"
        );
    }
    // Running again converges, whatever was applied.
    server.set_faults(Vec::new());
    let out = guacsync(&server, &["sync", "examples/manifests"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = guacsync(
        &server,
        &["plan", "examples/manifests", "--detailed-exitcode"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// 16.6: watch survives a malformed answer, logs it, and applies in a later round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_logs_a_malformed_patch_answer_and_goes_on() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir(dir.path().join("manifests")).expect("mkdir");
    write(
        &dir.path().join("manifests"),
        "w.yaml",
        "- {name: w1, protocol: ssh, parameters: {hostname: h}}\n",
    );
    let server = server(principals_only()).await;
    server.set_faults(vec![FaultRule::on(
        "PATCH",
        "/connections",
        Fault::Answer {
            code: 400,
            body: r#"{"message":"x","type":"BAD_REQUEST","patches":[{"op":"add","path":"/"},{"op":"add","path":"/","error":{"key":"APP.TEXT_UNTRANSLATED","variables":{"MESSAGE":"boom"}}}]}"#.to_owned(),
            after_handling: false,
        },
    )]);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_guacsync"))
        .current_dir(dir.path())
        .args([
            "watch",
            "manifests",
            "--apply",
            "--interval",
            "1s",
            "--log-format",
            "json",
        ])
        .env_clear()
        .env("GUACAMOLE_URL", server.base_url())
        .env("GUACAMOLE_USERNAME", "guacadmin")
        .env("GUACAMOLE_PASSWORD", "guacadmin")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("watch starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut outcomes = Vec::new();
    let done = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
            outcomes.push((
                v["outcome"].as_str().unwrap_or_default().to_owned(),
                v["message"].as_str().unwrap_or_default().to_owned(),
            ));
            if v["outcome"] == "applied" {
                break;
            }
        }
    })
    .await;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().expect("pid").to_string()])
        .status();
    let _ = child.wait().await;
    assert!(done.is_ok(), "no applied round: {outcomes:#?}");
    let failed = outcomes
        .iter()
        .find(|(o, _)| o == "apply-failed")
        .unwrap_or_else(|| panic!("{outcomes:#?}"));
    assert!(
        failed.1.contains("2 outcome(s) for 1 patch(es)"),
        "{failed:?}"
    );
    assert!(failed.1.contains("may have been applied"), "{failed:?}");
    assert_eq!(server.state().connections.len(), 1);
}

/// 16.7: an oversized or endless body is refused at the cap, once, clearly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_endless_answers_are_refused_at_the_cap() {
    let server = server(principals_only()).await;
    let filler = r#"{"name":"x","identifier":"1","protocol":"ssh","attributes":{}},"#.to_owned();
    for total in [Some(300 * 1024 * 1024), None] {
        server.set_faults(vec![FaultRule {
            times: 10,
            ..FaultRule::on(
                "GET",
                "/connectionGroups/ROOT/tree",
                Fault::Stream {
                    code: 200,
                    prefix: r#"{"name":"ROOT","identifier":"ROOT","childConnections":["#.to_owned(),
                    repeat: filler.clone(),
                    total_bytes: total,
                },
            )
        }]);
        server.clear_requests();
        let out = guacsync(&server, &["plan", "examples/manifests"]).await;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("connectionGroups/ROOT/tree: the answer is larger than 256 MiB"),
            "{err}"
        );
        let tree_gets = summary(&server.requests())
            .iter()
            .filter(|r| r.ends_with("ROOT/tree"))
            .count();
        assert_eq!(tree_gets, 1, "not retried");
    }
}

/// 16.12: a user whose name holds `/` cannot be addressed behind a stock Tomcat:
/// the plan says so before any write; with passthrough configured it works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_principal_needing_encoded_slash_is_refused_at_plan_time() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "s.yaml",
        "- {name: s1, protocol: ssh, parameters: {hostname: h}, users: [\"ops/eu\", alice], groups: [\"a\\\\b\"]}\n",
    );
    let mut state = principals_only();
    state.users.push(guacamole_testserver::state::UserState {
        username: "ops/eu".into(),
        password: None,
        disabled: false,
        attributes: std::collections::BTreeMap::new(),
        permissions: guacamole_testserver::state::Permissions::default(),
        last_active: None,
        totp_secret: None,
    });
    let server = server(state.clone()).await;
    let out = run(&server, dir.path(), &["sync", "s.yaml"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("user \"ops/eu\": its name holds \"/\""),
        "{err}"
    );
    assert!(err.contains("encodedSolidusHandling"), "{err}");
    assert!(err.contains("user group \"a\\\\b\""), "{err}");
    assert!(
        writes(&server.requests()).is_empty(),
        "{:#?}",
        server.requests()
    );

    let open = server_with(Config {
        state,
        prefix: "/guacamole".into(),
        path_rules: PathRules {
            allow_encoded_slash: true,
            allow_encoded_backslash: true,
        },
        ..Config::default()
    })
    .await;
    let out = guacsync_in(
        &open,
        dir.path(),
        &["sync", "s.yaml"],
        &[("GUACSYNC_X", "")],
    )
    .await;
    // The user group does not exist and create_principals is off: a plan error,
    // but not about the name.
    assert!(
        !stderr(&out).contains("encodedSolidusHandling"),
        "{}",
        stderr(&out)
    );
    write(
        dir.path(),
        "s.yaml",
        "- {name: s1, protocol: ssh, parameters: {hostname: h}, users: [\"ops/eu\"]}\n",
    );
    let out = guacsync_in(&open, dir.path(), &["sync", "s.yaml"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ops = open
        .state()
        .users
        .into_iter()
        .find(|u| u.username == "ops/eu")
        .expect("user");
    assert_eq!(ops.permissions.connection_permissions.len(), 1);
}

/// 16.14: a pre-issued token on a `MySQL` installation: the data source is asked of
/// the server, not assumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_issued_token_uses_the_data_source_of_its_session() {
    let server = server_with(Config {
        state: principals_only(),
        prefix: "/guacamole".into(),
        data_source: "mysql".into(),
        ..Config::default()
    })
    .await;
    let token = server.issue_token("guacadmin");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_guacsync"));
    let out = cmd
        .current_dir(repo())
        .args(["sync", "examples/manifests"])
        .env_clear()
        .env("GUACAMOLE_URL", server.base_url())
        .env("GUACAMOLE_TOKEN", &token)
        .env("DB_SSH_PASSWORD", SECRET_ENV)
        .output()
        .await
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.state().connections.len(), 11);
    let log = server.requests();
    assert!(
        log.iter()
            .any(|r| r.path.starts_with("/api/session/data/mysql/"))
    );
    assert!(!log.iter().any(|r| r.path.contains("/postgresql")));
    assert!(!stderr(&out).contains(&token) && !stdout(&out).contains(&token));
    // A data source the session does not have is refused by name.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_guacsync"))
        .current_dir(repo())
        .args(["plan", "examples/manifests", "--data-source", "postgresql"])
        .env_clear()
        .env("GUACAMOLE_URL", server.base_url())
        .env("GUACAMOLE_TOKEN", &token)
        .env("DB_SSH_PASSWORD", SECRET_ENV)
        .output()
        .await
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("mysql, mysql-shared"),
        "{}",
        stderr(&out)
    );
}

const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn totp_state() -> State {
    let mut s = principals_only();
    for u in &mut s.users {
        if u.username == "guacadmin" {
            u.totp_secret = Some(TOTP_SECRET.into());
        }
    }
    s
}

/// Logins the server answered, in order: 200 or the refusal.
fn logins(server: &RunningServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/api/tokens")
        .map(|r| {
            r.body
                .split('&')
                .find_map(|kv| kv.strip_prefix("guac-totp="))
                .unwrap_or("-")
                .to_owned()
        })
        .collect()
}

/// 16.13: two runs back to back. The second run's code was used by the first
/// (same 30 s window): the server refuses it, guacsync says so, waits for the next
/// window and logs in with a new code. No code is ever accepted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_back_to_back_with_totp() {
    let server = server(totp_state()).await;
    let env = [("GUACAMOLE_TOTP_SECRET", TOTP_SECRET)];
    let first = guacsync_in(&server, &repo(), &["sync", "examples/manifests"], &env).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let second = guacsync_in(
        &server,
        &repo(),
        &["plan", "examples/manifests", "--detailed-exitcode"],
        &env,
    )
    .await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let codes = logins(&server);
    // Either the second run fell into the first one's window (refused, then a new
    // code) or the window had already turned; every accepted code is distinct.
    match codes.as_slice() {
        [a, b, c] => {
            assert_eq!(a, b, "the reused code was sent once: {codes:?}");
            assert_ne!(b, c);
            assert!(
                stderr(&second).contains("most likely used already"),
                "{}",
                stderr(&second)
            );
        }
        [a, b] => assert_ne!(a, b),
        other => panic!("{other:?}"),
    }
}

/// 16.13: a session renewal within a run waits for the next code instead of
/// sending the one it already used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_renewal_within_a_run_waits_for_a_new_code() {
    let server = server(totp_state()).await;
    server.set_faults(vec![FaultRule::on(
        "GET",
        "/connectionGroups/ROOT/tree",
        Fault::ExpireToken,
    )]);
    let env = [("GUACAMOLE_TOTP_SECRET", TOTP_SECRET)];
    let out = guacsync_in(&server, &repo(), &["plan", "examples/manifests"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let codes = logins(&server);
    assert_eq!(
        codes.len(),
        2,
        "one login, one renewal, no refusal: {codes:?}"
    );
    assert_ne!(codes[0], codes[1]);
    assert!(stderr(&out).contains("waiting"), "{}", stderr(&out));
}

//! What guacsync prints, through the binary against the test server: `-v` logs
//! each request (method, path, status, time; never a token or a body), `-q`
//! leaves stderr to errors, the JSON plan marks sensitive values by structure,
//! `sync --format json` prints the sync result document
//! (`schemas/sync-result.schema.json`) for every outcome, and a 2,000-connection
//! markdown plan fits a GitHub comment.

mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use common::*;
use guacamole_testserver::{Fault, FaultRule, State};
use serde_json::Value;

const EXAMPLES: &str = "examples/manifests";

fn schema_errors(doc: &Value) -> Vec<String> {
    let plan: Value =
        serde_json::from_str(include_str!("../schemas/plan.schema.json")).expect("schema");
    let result: Value =
        serde_json::from_str(include_str!("../schemas/sync-result.schema.json")).expect("schema");
    let validator = jsonschema::options()
        .with_resource(
            "json-schema:///plan.schema.json",
            jsonschema::Resource::from_contents(plan).expect("a resource"),
        )
        .build(&result)
        .expect("compiles");
    validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

/// The tokens the server issued (from the `Guacamole-Token` headers it saw).
fn tokens(server: &guacamole_testserver::RunningServer) -> BTreeSet<String> {
    server
        .requests()
        .iter()
        .filter_map(|r| r.headers.get("guacamole-token").cloned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_logs_every_request_without_tokens_or_bodies() {
    let server = server(principals_only()).await;
    server.clear_requests();
    let out = guacsync(&server, &["sync", EXAMPLES, "-v"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    let logged: Vec<&str> = err.lines().filter(|l| l.contains(" INFO ")).collect();
    let requests = server.requests();
    assert!(requests.len() > 20, "{}", requests.len());
    // One line per request (concurrent reads finish in any order), each with its
    // status and time.
    let lines: Vec<&str> = logged
        .iter()
        .filter(|l| l.contains(" -> "))
        .copied()
        .collect();
    let mut seen: Vec<String> = Vec::new();
    for line in &lines {
        let (request, after) = line
            .split_once(" INFO ")
            .and_then(|(_, rest)| rest.split_once(" -> "))
            .expect("METHOD path -> status (time)");
        let (status, time) = after.split_once(' ').expect("status and time");
        assert!(status.len() == 3 && status.parse::<u16>().is_ok(), "{line}");
        assert!(time.starts_with('(') && time.ends_with(" ms)"), "{line}");
        seen.push(request.to_owned());
    }
    let mut expected: Vec<String> = requests
        .iter()
        .map(|r| {
            let path = r.path.trim_start_matches('/');
            let path = if path.starts_with("api/tokens/") {
                "api/tokens/(token)"
            } else {
                path
            };
            format!("{} {path}", r.method)
        })
        .collect();
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected, "{err}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("PATCH api/session/data/postgresql/connections -> 200"))
    );
    assert!(lines[0].contains("POST api/tokens -> 200"), "{}", lines[0]);
    let tokens = tokens(&server);
    assert!(!tokens.is_empty());
    for token in &tokens {
        assert!(!err.contains(token.as_str()), "a token in the log");
    }
    // No request body: the PATCH carried this hostname and the secret.
    assert!(!err.contains("10.0.2.21"), "{err}");
    assert!(!err.contains(SECRET_ENV));
    // Without -v, no request lines.
    let quiet = guacsync(&server, &["plan", EXAMPLES]).await;
    assert!(!stderr(&quiet).contains(" -> "), "{}", stderr(&quiet));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_leaves_stderr_to_errors() {
    let server = server(principals_only()).await;
    for args in [
        &["plan", EXAMPLES, "-q"][..],
        &["sync", EXAMPLES, "-q"],
        &[
            "plan",
            EXAMPLES,
            "-q",
            "--out",
            "/tmp/guacsync-quiet-plan.json",
        ],
        &["export", "-q"],
        &["export", "-q", "--format", "state"],
    ] {
        let out = guacsync(&server, args).await;
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
    let _ = std::fs::remove_file("/tmp/guacsync-quiet-plan.json");
    // Without -q the same commands say what they did.
    let out = guacsync(&server, &["export"]).await;
    assert!(
        stderr(&out).contains("note: no configuration file"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("exported 11 connection(s)"),
        "{}",
        stderr(&out)
    );
    // Errors still show.
    let out = guacsync(&server, &["plan", "/nonexistent", "-q"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("error"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_plan_marks_sensitive_values() {
    let server =
        server(State::load(&repo().join("examples/server-state.json")).expect("state")).await;
    let out = guacsync(&server, &["plan", EXAMPLES, "--format", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let mut marked = 0;
    let changes = doc["changes"].as_array().expect("changes");
    for change in changes.iter().filter(|c| c["kind"] == "connection") {
        // Every value shown redacted or as a reference is marked; nothing else is.
        for c in change["parameters"].as_array().into_iter().flatten() {
            for side in ["before", "after"] {
                if let Some(v) = c[side].as_str() {
                    let mark = c[format!("{side}_sensitive")].as_bool();
                    let looks_sensitive =
                        v == "(sensitive)" || v.starts_with("${env:") || v.starts_with("${file:");
                    assert_eq!(mark, Some(looks_sensitive), "{c}");
                    marked += usize::from(looks_sensitive);
                }
            }
        }
    }
    assert!(marked >= 2, "the examples hold secrets: {marked}");
    assert!(!stdout(&out).contains(SECRET_ENV));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_json_prints_the_result_document_for_every_outcome() {
    let server = server(principals_only()).await;
    let run = |args: Vec<&'static str>| {
        let server = &server;
        async move {
            let out = guacsync(server, &args).await;
            let doc: Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{args:?}: one JSON document: {e}\n{}", stdout(&out)));
            let errors = schema_errors(&doc);
            assert!(errors.is_empty(), "{args:?}: {errors:#?}");
            assert!(!stdout(&out).contains(SECRET_ENV));
            (out.status.code(), doc)
        }
    };
    let (code, doc) = run(vec!["sync", EXAMPLES, "--format", "json", "--dry-run"]).await;
    assert_eq!(code, Some(0));
    assert_eq!(doc["outcome"], "dry-run");
    assert_eq!(doc["applied"]["connections_added"], 0);
    assert!(server.state().connections.is_empty());

    // A rejected batch: what was done before it, and each rejected patch.
    server.set_faults(vec![FaultRule::on(
        "PATCH",
        "/connections",
        Fault::PatchError {
            index: 2,
            message: Some("Injected rejection.".into()),
        },
    )]);
    let (code, doc) = run(vec!["sync", EXAMPLES, "--format", "json"]).await;
    assert_eq!(code, Some(1));
    assert_eq!(doc["outcome"], "failed");
    assert_eq!(doc["applied"]["groups_created"], 10);
    assert_eq!(doc["applied"]["connections_added"], 0);
    let error = &doc["error"];
    assert_eq!(error["outcome_unknown"], false);
    let rejected = error["rejected"].as_array().expect("rejected");
    assert_eq!(rejected.len(), 1, "{error}");
    assert_eq!(rejected[0]["message"], "Injected rejection.");
    assert!(
        rejected[0]["source"]["file"]
            .as_str()
            .is_some_and(|f| f.starts_with("examples/manifests/")),
        "{error}"
    );
    server.set_faults(vec![]);

    let (code, doc) = run(vec!["sync", EXAMPLES, "--format", "json"]).await;
    assert_eq!(code, Some(0));
    assert_eq!(doc["outcome"], "applied");
    assert_eq!(doc["applied"]["connections_added"], 11);
    assert_eq!(doc["plan"]["summary"]["add"], 11);
    assert_eq!(doc["error"], Value::Null);
    assert_eq!(server.state().connections.len(), 11);

    let (code, doc) = run(vec![
        "sync",
        EXAMPLES,
        "--format",
        "json",
        "--detailed-exitcode",
    ])
    .await;
    assert_eq!(code, Some(0));
    assert_eq!(doc["outcome"], "no-changes");
}

/// 2,000 new connections (the case): the markdown plan fits a GitHub
/// comment, leads with its summary and says where the rest is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2000_connection_markdown_plan_fits_a_comment() {
    let server = server(principals_only()).await;
    let dir = tempfile::tempdir().expect("dir");
    let mut csv = String::from("name,protocol,group,hostname,port,username,users\n");
    for i in 0..2000 {
        let _ = writeln!(
            csv,
            "web-{i:04},ssh,ROOT/Prod/Site {},10.20.{}.{},22,deploy,alice",
            i % 20,
            i / 250,
            i % 250
        );
    }
    std::fs::write(dir.path().join("bulk.csv"), csv).expect("write");
    let url = "https://github.com/acme/guacamole/actions/runs/42";
    let out = guacsync_in(
        &server,
        dir.path(),
        &["plan", "bulk.csv", "--format", "markdown"],
        &[("GUACSYNC_FULL_PLAN_URL", url)],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let md = stdout(&out);
    println!(
        "2,000-connection markdown plan: {} characters, {} bytes; first lines:\n{}",
        md.chars().count(),
        md.len(),
        md.lines().take(16).collect::<Vec<_>>().join("\n")
    );
    assert!(
        md.chars().count() < 65_536 && md.len() < 65_536,
        "{}",
        md.len()
    );
    assert!(md.starts_with("<!-- guacsync-plan -->\n### guacsync plan\n\n| change | count |"));
    assert!(md.contains("| connections to add | 2000 |"), "{md}");
    assert!(md.contains("| groups to create | 21 |"), "{md}");
    assert!(
        md.contains("**This plan is too long for one comment: "),
        "{md}"
    );
    assert!(md.contains(&format!("The full plan: <{url}>")), "{md}");
    assert!(md.contains("<details><summary>Groups to create (21)</summary>"));
    // alice's one READ entry (2,021 lines) is too large: its start is shown.
    assert!(
        md.contains("<summary>READ permissions (0 of 1 shown in full, one more in part)</summary>"),
        "{md}"
    );
    // The whole plan, for comparison, is over four comments long.
    let text = guacsync_in(&server, dir.path(), &["plan", "bulk.csv"], &[]).await;
    println!(
        "the text plan: {} characters; sections: {:?}; {}",
        stdout(&text).chars().count(),
        md.lines()
            .filter(|l| l.contains("<summary>"))
            .collect::<Vec<_>>(),
        md.lines()
            .find(|l| l.contains("too long"))
            .unwrap_or_default()
    );
    assert!(stdout(&text).len() > 4 * 65_536, "{}", stdout(&text).len());
}

//! Redaction keeps output valid (issue 16 item 9): secrets are replaced where text
//! from outside is formatted (a server's message, a log field), never in the
//! finished line. Two short secrets make the old line-level redaction visible: a
//! VNC password equal to the current year (every timestamp holds it) and one equal
//! to the word `sync` (the outcome `in-sync` holds it).

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::watcher::Watcher;
use common::*;
use guacamole_testserver::{Fault, FaultRule};

const WORD: &str = "sync";

fn year() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()[..4].to_owned()
}

fn manifest(host: &str) -> String {
    format!(
        "- name: year\n  protocol: vnc\n  group: ROOT/R\n  parameters: {{hostname: {host}, password: \"{}\"}}\n\
         - name: word\n  protocol: vnc\n  group: ROOT/R\n  parameters: {{hostname: word.example.com, password: {WORD}}}\n",
        year()
    )
}

fn write_manifest(dir: &Path, text: &str) {
    let tmp = dir.join("manifests/.v.yaml.tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, dir.join("manifests/v.yaml")).expect("rename");
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join("manifests")).expect("mkdir");
    write_manifest(dir.path(), &manifest("year.example.com"));
    dir
}

/// `YYYY-MM-DDTHH:MM:SS[.frac]Z`.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && s.ends_with('Z')
}

const OUTCOMES: &[&str] = &[
    "in-sync",
    "drift",
    "applied",
    "invalid-manifests",
    "plan-error",
    "server-error",
    "apply-failed",
    "stopped",
    "settling",
    "removal-held",
];

fn check_round(round: &serde_json::Value) {
    let ts = round["timestamp"].as_str().unwrap_or_default();
    assert!(is_timestamp(ts), "timestamp {ts:?} in {round}");
    let outcome = round["outcome"].as_str().unwrap_or_default();
    assert!(
        OUTCOMES.contains(&outcome),
        "outcome {outcome:?} in {round}"
    );
}

/// The message of a round or error that quoted the echoed PATCH body: both
/// passwords replaced, the rest intact.
fn check_echo_redacted(text: &str) {
    assert!(text.contains("Rejected request PATCH"), "{text}");
    assert!(text.contains(r#""password":"(sensitive)""#), "{text}");
    assert!(
        !text.contains(&format!(r#""password":"{}""#, year())),
        "{text}"
    );
    assert!(!text.contains(&format!(r#""password":"{WORD}""#)), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_json_lines_stay_valid_with_short_secrets() {
    let server = server(principals_only()).await;
    let dir = setup();
    let mut w = Watcher::start(
        &server,
        dir.path(),
        &[
            "manifests",
            "--apply",
            "--interval",
            "1h",
            "--log-format",
            "json",
        ],
        &[],
    );
    let first = w.round_with("applied", Duration::from_secs(30)).await;
    check_round(&first);
    assert_eq!(
        first["trigger"], "settle",
        "the start round waited for the files"
    );
    assert_eq!(server.state().connections.len(), 2);

    // A server that echoes the request in its error: the round's message quotes
    // it with the passwords replaced, and the line is still JSON.
    server.set_faults(vec![FaultRule::on(
        "PATCH",
        "/connections",
        Fault::Echo { code: 400 },
    )]);
    write_manifest(dir.path(), &manifest("year2.example.com"));
    let failed = w.round_with("apply-failed", Duration::from_secs(30)).await;
    check_round(&failed);
    check_echo_redacted(failed["message"].as_str().unwrap_or_default());

    server.set_faults(vec![]);
    write_manifest(dir.path(), &manifest("year3.example.com"));
    check_round(&w.round_with("applied", Duration::from_secs(30)).await);
    // The same content again: a round that finds nothing to do says `in-sync`.
    write_manifest(dir.path(), &manifest("year3.example.com"));
    let same = w.round_with("in-sync", Duration::from_secs(30)).await;
    check_round(&same);
    let (code, rest) = w.stop().await;
    assert_eq!(code, Some(0));
    for line in rest {
        check_round(&serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_text_lines_keep_their_timestamps_and_outcomes() {
    let server = server(principals_only()).await;
    let dir = setup();
    let mut w = Watcher::start(
        &server,
        dir.path(),
        &["manifests", "--apply", "--interval", "1h"],
        &[],
    );
    let mut lines = Vec::new();
    loop {
        let line = w.line(Duration::from_secs(30)).await;
        let applied = line.contains(" outcome=applied ");
        lines.push(line);
        if applied {
            break;
        }
    }
    write_manifest(dir.path(), &manifest("year.example.com"));
    loop {
        let line = w.line(Duration::from_secs(30)).await;
        let done = line.contains(" outcome=in-sync ");
        lines.push(line);
        if done {
            break;
        }
    }
    let (code, rest) = w.stop().await;
    assert_eq!(code, Some(0));
    lines.extend(rest);
    for line in &lines {
        let mut words = line.split(' ');
        let ts = words.next().unwrap_or_default();
        assert!(is_timestamp(ts), "{line}");
        assert!(
            words.next().is_some_and(|t| t.starts_with("trigger=")),
            "{line}"
        );
        let outcome = words
            .next()
            .and_then(|o| o.strip_prefix("outcome="))
            .unwrap_or_default();
        assert!(OUTCOMES.contains(&outcome), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_sync_logs_and_errors_keep_their_text() {
    let server = server(principals_only()).await;
    let dir = setup();
    for command in ["plan", "sync"] {
        let out = guacsync_in(&server, dir.path(), &["-vv", command, "manifests"], &[]).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let err = stderr(&out);
        let log_lines: Vec<&str> = err
            .lines()
            .filter(|l| {
                [" DEBUG ", " INFO ", " WARN ", " ERROR "]
                    .iter()
                    .any(|lvl| l.contains(lvl))
            })
            .collect();
        assert!(!log_lines.is_empty(), "-vv logs requests: {err}");
        for line in log_lines {
            let ts = line.split_whitespace().next().unwrap_or_default();
            assert!(is_timestamp(ts), "{line}");
        }
    }
    assert_eq!(server.state().connections.len(), 2);
    // An error quoting the request: passwords replaced, guacsync's words intact.
    server.set_faults(vec![FaultRule::on(
        "PATCH",
        "/connections",
        Fault::Echo { code: 400 },
    )]);
    write_manifest(dir.path(), &manifest("year4.example.com"));
    let out = guacsync_in(&server, dir.path(), &["sync", "manifests"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    check_echo_redacted(&err);
    assert!(err.contains("error: "), "{err}");
}

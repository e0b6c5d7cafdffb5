//! `guacsync watch` for operators (issue 14 item 3), through the binary against
//! the test server: round lines that name what drifted (text and JSON), a
//! git-sync style symlink swapped three times (three rounds), an edited and a
//! broken `guacsync.toml`, logins paced after a wrong password (counted in the
//! test server's request log), and `/healthz` and `/metrics` scraped over HTTP.

mod common;

use std::path::Path;
use std::time::Duration;

use common::watcher::Watcher;
use common::*;
use guacamole_testserver::{Fault, FaultRule, RunningServer};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const SECRET: &str = "Watch-Line-Secret-5e5e";

fn yaml(names: &[String], users: &str) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for n in names {
        let _ = write!(
            s,
            "- name: {n}\n  protocol: ssh\n  group: ROOT/Prod\n  parameters:\n    hostname: {n}.example.com\n    password: {SECRET}\n{users}"
        );
    }
    s
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

fn manifests_dir(names: &[String]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join("manifests")).expect("mkdir");
    std::fs::write(
        dir.path().join("manifests/web.yaml"),
        yaml(names, "  users: [alice]\n"),
    )
    .expect("write");
    dir
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_lines_name_what_drifted_in_json_and_text() {
    let server = server(principals_only()).await;
    let dir = manifests_dir(&names("web", 2));
    let mut w = Watcher::start(
        &server,
        dir.path(),
        &["manifests", "--interval", "1h", "--log-format", "json"],
        &[],
    );
    let round = w.round_with("drift", Duration::from_secs(30)).await;
    let changed = strings(&round["changed"]);
    assert_eq!(
        changed,
        [
            "+ group ROOT/Prod",
            "+ connection ROOT/Prod/web-0 (ssh)    # manifests/web.yaml:1",
            "+ connection ROOT/Prod/web-1 (ssh)    # manifests/web.yaml:8",
            "+ READ for user \"alice\": + group ROOT/Prod, + connection ROOT/Prod/web-0, + connection ROOT/Prod/web-1",
        ],
        "{round}"
    );
    assert_eq!(round["changed_more"], 0, "{round}");
    let (code, _) = w.stop().await;
    assert_eq!(code, Some(0));

    // Text: the same lines after the message, one line per round; capped at 20.
    std::fs::write(
        dir.path().join("manifests/web.yaml"),
        yaml(&names("db", 25), ""),
    )
    .expect("write");
    let mut w = Watcher::start(&server, dir.path(), &["manifests", "--interval", "1h"], &[]);
    let line = loop {
        let line = w.line(Duration::from_secs(30)).await;
        if line.contains("outcome=drift") {
            break line;
        }
    };
    assert!(
        line.contains(
            " | + group ROOT/Prod | + connection ROOT/Prod/db-0 (ssh)    # manifests/web.yaml:1 | "
        ),
        "{line}"
    );
    // 26 changes (a group and 25 connections): 20 named, 6 counted.
    assert_eq!(line.matches(" | ").count(), 21, "{line}");
    assert!(line.ends_with(" | and 6 more"), "{line}");
    assert!(!line.contains(SECRET), "{line}");
    let (code, rest) = w.stop().await;
    assert_eq!(code, Some(0));
    assert!(rest.iter().all(|l| !l.contains(SECRET)));
}

/// Points `root/current` at `root/.worktrees/NAME` the way git-sync does: a new
/// symlink renamed over the old one, then the old checkout deleted.
fn swap(root: &Path, to: &str, old: Option<&str>) {
    let tmp = root.join("tmp-link");
    std::os::unix::fs::symlink(format!(".worktrees/{to}"), &tmp).expect("symlink");
    std::fs::rename(&tmp, root.join("current")).expect("rename");
    if let Some(old) = old {
        std::fs::remove_dir_all(root.join(".worktrees").join(old)).expect("rm old");
    }
}

fn checkout(root: &Path, name: &str, connections: &[String]) {
    let dir = root.join(".worktrees").join(name).join("manifests");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("web.yaml"), yaml(connections, "")).expect("write");
}

fn on_server(server: &RunningServer) -> Vec<String> {
    let mut names: Vec<String> = server
        .state()
        .connections
        .iter()
        .map(|c| c.name.clone())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_symlink_swap_starts_a_round_on_the_new_checkout() {
    let server = server(principals_only()).await;
    let root = tempfile::tempdir().expect("dir");
    let root = root.path();
    checkout(root, "v0", &names("web", 1));
    swap(root, "v0", None);
    let mut w = Watcher::start(
        &server,
        root,
        &[
            "current/manifests",
            "--apply",
            "--interval",
            "1h",
            "--settle",
            "300ms",
            "--log-format",
            "json",
        ],
        &[],
    );
    w.round_with("applied", Duration::from_secs(30)).await;
    assert_eq!(on_server(&server), ["web-0"]);
    for i in 1..=3 {
        checkout(root, &format!("v{i}"), &names("web", i + 1));
        swap(root, &format!("v{i}"), Some(&format!("v{}", i - 1)));
        // The interval is an hour: only the swap can start this round.
        let round = w.round_with("applied", Duration::from_secs(30)).await;
        assert_eq!(
            strings(&round["changed"]),
            [format!(
                "+ connection ROOT/Prod/web-{i} (ssh)    # current/manifests/web.yaml:{}",
                6 * i + 1
            )],
            "swap {i}: {round}"
        );
        assert_eq!(on_server(&server), names("web", i + 1), "swap {i}");
    }
    let (code, _) = w.stop().await;
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_configuration_is_picked_up_and_a_broken_one_kept_out() {
    let server = server(principals_only()).await;
    let dir = manifests_dir(&names("web", 1));
    let config = dir.path().join("guacsync.toml");
    std::fs::write(&config, "[scope]\ngroups = [\"ROOT/Prod\"]\n").expect("write");
    let mut w = Watcher::start(
        &server,
        dir.path(),
        &[
            "manifests",
            "--apply",
            "--interval",
            "1h",
            "--settle",
            "300ms",
            "--log-format",
            "json",
        ],
        &[],
    );
    let first = w.round_with("applied", Duration::from_secs(30)).await;
    assert!(first.get("config").is_none(), "nothing to reload: {first}");
    // Made in the web UI: not in any manifest. Without prune it stays.
    let mut state = server.state();
    let mut extra = state.connections[0].clone();
    extra.identifier = "900".into();
    extra.name = "extra".into();
    state.connections.push(extra.clone());
    server.set_state(&state).expect("state");

    std::fs::write(
        &config,
        "[scope]\ngroups = [\"ROOT/Prod\"]\n[sync]\nprune = true\n",
    )
    .expect("write");
    let held = w.round_with("removal-held", Duration::from_secs(30)).await;
    assert_eq!(held["config"], "reloaded", "{held}");
    assert!(
        held["message"]
            .as_str()
            .is_some_and(|m| m.contains("configuration guacsync.toml reloaded")),
        "{held}"
    );
    w.round_with("applied", Duration::from_secs(30)).await;
    assert_eq!(on_server(&server), ["web-0"]);

    // A broken edit: reported once, and the last good settings (prune in scope)
    // still apply, not the defaults (no scope, nothing removed).
    let mut state = server.state();
    extra.identifier = "901".into();
    extra.name = "extra-2".into();
    state.connections.push(extra);
    server.set_state(&state).expect("state");
    std::fs::write(
        &config,
        "[scope]\ngroups = [\"ROOT/Prod\"\n[sync]\nprune = false\n",
    )
    .expect("write");
    let kept = w.round_with("removal-held", Duration::from_secs(30)).await;
    assert_eq!(kept["config"], "kept-last-good", "{kept}");
    assert!(
        kept["message"]
            .as_str()
            .is_some_and(|m| m.contains("the edited configuration does not load")
                && m.contains("the last good one was used")),
        "{kept}"
    );
    let applied = w.round_with("applied", Duration::from_secs(30)).await;
    assert_eq!(applied["config"], "kept-last-good", "{applied}");
    assert_eq!(on_server(&server), ["web-0"]);
    // stderr is read apart from stdout: wait for the line rather than race it.
    let mut stderr = String::new();
    for _ in 0..100 {
        stderr.push_str(&w.stderr_so_far());
        if stderr.contains("keeping the last good configuration") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        stderr
            .matches("keeping the last good configuration")
            .count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("guacsync.toml"), "{stderr}");
    assert!(
        stderr.contains("line "),
        "the position of the error: {stderr}"
    );
    let (code, _) = w.stop().await;
    assert_eq!(code, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_retried_without_ever_reaching_the_ban() {
    let server = server(principals_only()).await;
    let dir = manifests_dir(&names("web", 1));
    // The ban duration scaled down: 2 s instead of Guacamole's 300 s, so the
    // quick retries come after 100, 200 and 400 ms and the slow ones every 2.2 s.
    let mut w = Watcher::start(
        &server,
        dir.path(),
        &[
            "manifests",
            "--settle",
            "0s",
            "--interval",
            "1h",
            "--ban-address-duration",
            "2s",
            "--log-format",
            "json",
        ],
        &[("GUACAMOLE_PASSWORD", "not-the-password")],
    );
    let logins = |server: &RunningServer| {
        server
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/api/tokens")
            .map(|r| r.received_ms)
            .collect::<Vec<u64>>()
    };
    let mut rounds = Vec::new();
    while logins(&server).len() < 7 {
        rounds.push(w.round(Duration::from_secs(30)).await);
    }
    let (code, rest) = w.stop().await;
    assert_eq!(code, Some(0));
    rounds.extend(rest.iter().filter_map(|l| serde_json::from_str(l).ok()));
    let times = logins(&server);
    // Every request was a login, and every round said it was refused.
    assert_eq!(server.requests().len(), times.len());
    assert_eq!(rounds.len(), times.len(), "{rounds:#?}");
    assert!(
        rounds.iter().all(|r| r["outcome"] == "login-refused"),
        "{rounds:#?}"
    );
    // At most 4 in any 2 s, and never a fifth failure less than 2 s after the
    // one before it (the ban extension's own count, which only a pause longer
    // than its duration resets).
    let window = 2000;
    for (i, w5) in times.windows(5).enumerate() {
        assert!(
            w5[4] - w5[0] > window,
            "5 logins within 2 s from #{i}: {times:?}"
        );
        assert!(
            w5.windows(2).any(|g| g[1] - g[0] > window),
            "a chain of 5 from #{i}: {times:?}"
        );
    }
    let say = |i: usize| rounds[i]["message"].as_str().unwrap_or_default().to_owned();
    assert!(say(0).contains("Invalid login"), "{}", say(0));
    assert!(say(0).contains("next login in 100ms"), "{}", say(0));
    assert!(
        say(3).contains("4 refused logins in a row: one login every 2s 200ms from now on"),
        "{}",
        say(3)
    );
    assert!(say(5).contains("6 refused logins in a row"), "{}", say(5));
}

/// `GET path` over a plain TCP connection: the status code and the body.
async fn get(addr: &str, method: &str, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .expect("write");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_string(&mut answer))
        .await
        .expect("answered in time")
        .expect("read");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The samples of an `OpenMetrics` exposition, checked as a scraper would: every
/// sample's metric family was declared with `# TYPE`, every value is a number,
/// and `# EOF` ends it. Values are kept as written (counts are integers).
fn samples(text: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "{text}");
    let mut families = Vec::new();
    let mut out = Vec::new();
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().expect("name").to_owned();
            let kind = parts.next().expect("type");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            families.push(name);
            continue;
        }
        if line.starts_with('#') {
            assert!(
                line.starts_with("# HELP ") || line.starts_with("# UNIT "),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        assert!(value.parse::<f64>().is_ok(), "a number: {line}");
        let name = series.split('{').next().expect("name");
        assert!(
            families.iter().any(|f| name.starts_with(f.as_str())),
            "{name} has no # TYPE"
        );
        out.push((series.to_owned(), value.to_owned()));
    }
    out
}

/// A sample's value as written.
fn raw<'a>(samples: &'a [(String, String)], series: &str) -> &'a str {
    samples
        .iter()
        .find(|(s, _)| s == series)
        .map_or_else(|| panic!("no {series} in {samples:?}"), |(_, v)| v.as_str())
}

/// A counter's (or a count's) value.
fn count(samples: &[(String, String)], series: &str) -> u64 {
    let v = raw(samples, series);
    v.parse()
        .unwrap_or_else(|_| panic!("{series} = {v} is no count"))
}

fn number(samples: &[(String, String)], series: &str) -> f64 {
    raw(samples, series).parse().expect("a number")
}

/// Starts a watcher with `--health-addr 127.0.0.1:0`; returns it and the address
/// it printed.
async fn watcher_with_health(server: &RunningServer, dir: &Path) -> (Watcher, String) {
    let mut w = Watcher::start(
        server,
        dir,
        &[
            "manifests",
            "--apply",
            "--interval",
            "1h",
            "--settle",
            "300ms",
            "--log-format",
            "json",
            "--health-addr",
            "127.0.0.1:0",
        ],
        &[],
    );
    let mut stderr = String::new();
    loop {
        stderr.push_str(&w.stderr_so_far());
        if let Some(rest) = stderr
            .split("serving /healthz and /metrics on http://")
            .nth(1)
        {
            let addr = rest.lines().next().expect("address").to_owned();
            return (w, addr);
        }
        w.line(Duration::from_secs(30)).await;
    }
}

/// A server failing every tree read: a round's plan fails.
fn failing_tree(server: &RunningServer) {
    server.set_faults(vec![FaultRule {
        times: 1000,
        ..FaultRule::on(
            "GET",
            "/tree",
            Fault::Status {
                code: 500,
                message: None,
            },
        )
    }]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics_follow_the_rounds() {
    let server = server(principals_only()).await;
    let dir = manifests_dir(&names("web", 2));
    let (mut w, addr) = watcher_with_health(&server, dir.path()).await;
    w.round_with("applied", Duration::from_secs(30)).await;
    let (status, body) = get(&addr, "GET", "/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("ok: the last round"), "{body}");
    assert!(body.contains("ended applied"), "{body}");
    let (status, text) = get(&addr, "GET", "/metrics").await;
    assert_eq!(status, 200, "{text}");
    let m = samples(&text);
    // The applied plan: a group, two connections, one READ entry of three grants.
    assert_eq!(raw(&m, "guacsync_watch_drift_changes"), "6", "{text}");
    assert_eq!(
        count(&m, "guacsync_watch_rounds_total{outcome=\"applied\"}"),
        1
    );
    assert_eq!(count(&m, "guacsync_watch_apply_duration_seconds_count"), 1);
    assert!(number(&m, "guacsync_watch_apply_duration_seconds_sum") > 0.0);
    assert_eq!(
        count(
            &m,
            "guacsync_watch_apply_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        1,
        "{text}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let last = raw(&m, "guacsync_watch_last_success_timestamp_seconds").to_owned();
    let seconds: f64 = last.parse().expect("a number");
    assert!(seconds > 0.0 && seconds <= now, "{last}");

    // The server fails: the round an edit starts is an error, and /healthz says so.
    failing_tree(&server);
    std::fs::write(
        dir.path().join("manifests/web.yaml"),
        yaml(&names("web", 3), "  users: [alice]\n"),
    )
    .expect("write");
    w.round_with("server-error", Duration::from_secs(30)).await;
    let (status, body) = get(&addr, "GET", "/healthz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("not ready: the last round"), "{body}");
    assert!(body.contains("ended server-error"), "{body}");
    let (_, text) = get(&addr, "GET", "/metrics").await;
    let m = samples(&text);
    assert!(count(&m, "guacsync_watch_rounds_total{outcome=\"server-error\"}") >= 1);
    assert!(count(&m, "guacsync_watch_rounds_total{outcome=\"settling\"}") >= 1);
    assert_eq!(
        count(&m, "guacsync_watch_rounds_total{outcome=\"login-refused\"}"),
        0
    );
    assert!(count(&m, "guacsync_watch_errors_total{kind=\"server\"}") >= 1);
    assert_eq!(count(&m, "guacsync_watch_errors_total{kind=\"login\"}"), 0);
    assert_eq!(
        raw(&m, "guacsync_watch_last_success_timestamp_seconds"),
        last,
        "a failed round is no success"
    );

    // Back: the retry applies the edit, and all is well again.
    server.set_faults(Vec::new());
    w.round_with("applied", Duration::from_secs(30)).await;
    assert_eq!(get(&addr, "GET", "/healthz").await.0, 200);
    assert_eq!(get(&addr, "GET", "/nope").await.0, 404);
    assert_eq!(get(&addr, "POST", "/healthz").await.0, 405);
    let (code, _) = w.stop().await;
    assert_eq!(code, Some(0));
}

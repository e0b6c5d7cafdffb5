//! `guacsync watch` through the real binary against the test server (issue
//! "export and watch").

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use guacamole_testserver::{Config, Fault, FaultRule, RunningServer};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

struct Watcher {
    child: tokio::process::Child,
    rounds: mpsc::UnboundedReceiver<Value>,
    stderr: mpsc::UnboundedReceiver<String>,
}

impl Watcher {
    fn start(server: &RunningServer, dir: &Path, extra: &[&str]) -> Self {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_guacsync"));
        cmd.current_dir(dir)
            .args(["watch", "manifests", "--log-format", "json"])
            .args(extra)
            // Short, so the tests run quickly; tests/watch_settle.rs covers the rule.
            .args(if extra.contains(&"--settle") {
                &[][..]
            } else {
                &["--settle", "300ms"][..]
            })
            .env_clear()
            .env("GUACAMOLE_URL", server.base_url())
            .env("GUACAMOLE_USERNAME", "guacadmin")
            .env("GUACAMOLE_PASSWORD", "guacadmin")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("watch starts");
        let (tx, rounds) = mpsc::unbounded_channel();
        let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = out.next_line().await {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        let (etx, stderr) = mpsc::unbounded_channel();
        let mut err = BufReader::new(child.stderr.take().expect("stderr")).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = err.next_line().await {
                let _ = etx.send(line);
            }
        });
        Self {
            child,
            rounds,
            stderr,
        }
    }

    /// The next round that used the manifests (rounds waiting for them to settle
    /// are passed over).
    async fn round(&mut self, within: Duration) -> Value {
        loop {
            let round = tokio::time::timeout(within, self.rounds.recv())
                .await
                .expect("a round is logged in time")
                .expect("the watcher is running");
            if round["outcome"] != "settling" {
                return round;
            }
        }
    }

    /// Whether stderr says `needle` within `within` (stderr and stdout are read
    /// apart, so a round's line can arrive before the diagnostics printed first).
    async fn stderr_says(&mut self, needle: &str, within: Duration) -> bool {
        let mut all = String::new();
        let deadline = tokio::time::Instant::now() + within;
        while !all.contains(needle) {
            match tokio::time::timeout_at(deadline, self.stderr.recv()).await {
                Ok(Some(line)) => {
                    all.push_str(&line);
                    all.push('\n');
                }
                _ => return false,
            }
        }
        true
    }

    fn terminate(&self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
}

fn manifest(port: &str) -> String {
    format!(
        "- name: web\n  protocol: ssh\n  group: ROOT/Prod\n  parameters:\n    hostname: web.example.com\n    port: \"{port}\"\n  users: [alice]\n"
    )
}

fn write_manifest(dir: &Path, text: &str) {
    // Write then rename, as editors do.
    let tmp = dir.join("manifests/.web.yaml.tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, dir.join("manifests/web.yaml")).expect("rename");
}

fn port_on_server(server: &RunningServer) -> Option<String> {
    server
        .state()
        .connections
        .iter()
        .find(|c| c.name == "web")
        .and_then(|c| c.parameters.get("port").cloned())
}

async fn setup() -> (RunningServer, tempfile::TempDir) {
    let server = server(principals_only()).await;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join("manifests")).expect("mkdir");
    std::fs::write(dir.path().join("manifests/web.yaml"), manifest("22")).expect("write");
    (server, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_file_is_applied_once_it_has_settled() {
    let (server, dir) = setup().await;
    let mut w = Watcher::start(&server, dir.path(), &["--apply", "--interval", "1h"]);
    // The first round waits for the files to settle; the next applies.
    let first = w.round(Duration::from_secs(20)).await;
    assert_eq!(
        (first["trigger"].as_str(), first["outcome"].as_str()),
        (Some("settle"), Some("applied")),
        "{first}"
    );
    assert_eq!(port_on_server(&server).as_deref(), Some("22"));
    for key in ["timestamp", "trigger", "changes", "duration_ms", "outcome"] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }
    write_manifest(dir.path(), &manifest("2222"));
    let round = w.round(Duration::from_secs(10)).await;
    assert_eq!(
        (round["trigger"].as_str(), round["outcome"].as_str()),
        (Some("settle"), Some("applied")),
        "{round}"
    );
    assert_eq!(port_on_server(&server).as_deref(), Some("2222"));
    w.terminate();
    assert_eq!(w.child.wait().await.expect("exits").code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syntax_error_changes_nothing_and_fixing_it_applies() {
    let (server, dir) = setup().await;
    let mut w = Watcher::start(&server, dir.path(), &["--apply", "--interval", "1h"]);
    assert_eq!(w.round(Duration::from_secs(20)).await["outcome"], "applied");
    server.clear_requests();
    write_manifest(
        dir.path(),
        "- name: web\n  protocol: ssh\n  parameters: {port: \"9\"\n",
    );
    let round = w.round(Duration::from_secs(10)).await;
    assert_eq!(round["outcome"], "invalid-manifests", "{round}");
    assert!(
        server.requests().is_empty(),
        "nothing sent for a half-written file"
    );
    assert!(w.stderr_says("yaml-syntax", Duration::from_secs(5)).await);
    write_manifest(dir.path(), &manifest("2200"));
    let round = w.round(Duration::from_secs(10)).await;
    assert_eq!(round["outcome"], "applied", "{round}");
    assert_eq!(port_on_server(&server).as_deref(), Some("2200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_on_the_server_is_put_back_at_the_next_interval() {
    let (server, dir) = setup().await;
    let mut w = Watcher::start(&server, dir.path(), &["--apply", "--interval", "1s"]);
    assert_eq!(w.round(Duration::from_secs(20)).await["outcome"], "applied");
    let mut state = server.state();
    if let Some(c) = state.connections.iter_mut().find(|c| c.name == "web") {
        c.parameters.insert("port".into(), "7777".into());
    }
    server.set_state(&state).expect("state");
    let mut put_back = false;
    for _ in 0..5 {
        let round = w.round(Duration::from_secs(5)).await;
        if round["outcome"] == "applied" {
            assert_eq!(round["trigger"], "interval");
            put_back = true;
            break;
        }
    }
    assert!(put_back);
    assert_eq!(port_on_server(&server).as_deref(), Some("22"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_apply_drift_is_only_reported() {
    let (server, dir) = setup().await;
    let mut w = Watcher::start(&server, dir.path(), &["--interval", "1h"]);
    let round = w.round(Duration::from_secs(20)).await;
    assert_eq!(round["outcome"], "drift", "{round}");
    assert!(round["changes"].as_u64().is_some_and(|n| n > 0));
    assert!(server.state().connections.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_recovers_when_the_server_comes_back() {
    let (server, dir) = setup().await;
    let addr = server.addr();
    let mut w = Watcher::start(&server, dir.path(), &["--apply", "--interval", "1h"]);
    assert_eq!(w.round(Duration::from_secs(20)).await["outcome"], "applied");
    let state = server.state();
    server.shutdown().await;
    write_manifest(dir.path(), &manifest("2022"));
    let round = w.round(Duration::from_secs(10)).await;
    assert_eq!(round["outcome"], "server-error", "{round}");
    // Back on the same address, sessions gone: the watcher logs in again.
    let back = server_with(Config {
        state,
        prefix: "/guacamole".into(),
        listen: addr,
        ..Config::default()
    })
    .await;
    let mut recovered = false;
    for _ in 0..6 {
        let round = w.round(Duration::from_secs(10)).await;
        if round["outcome"] == "applied" {
            assert_eq!(round["trigger"], "retry");
            recovered = true;
            break;
        }
    }
    assert!(recovered);
    assert_eq!(port_on_server(&back).as_deref(), Some("2022"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_slow_apply_exits_0_with_the_batch_whole_or_unsent() {
    let (server, dir) = setup().await;
    let mut w = Watcher::start(&server, dir.path(), &["--apply", "--interval", "1h"]);
    assert_eq!(w.round(Duration::from_secs(20)).await["outcome"], "applied");
    server.clear_requests();
    server.set_faults(vec![FaultRule::on(
        "PATCH",
        "/connections",
        Fault::Latency { ms: 1500 },
    )]);
    write_manifest(dir.path(), &manifest("3333"));
    // Wait until the PATCH is in flight, then ask the watcher to stop.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.requests().iter().any(|r| r.method == "PATCH") {
        assert!(Instant::now() < deadline, "the PATCH never came");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    w.terminate();
    let status = tokio::time::timeout(Duration::from_secs(10), w.child.wait())
        .await
        .expect("exits in time")
        .expect("exit status");
    assert_eq!(status.code(), Some(0));
    // The batch was applied whole, and the token released.
    assert_eq!(port_on_server(&server).as_deref(), Some("3333"));
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.method == "DELETE" && r.path.starts_with("/api/tokens/"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_watcher_on_the_same_directory_is_refused() {
    let (server, dir) = setup().await;
    let mut first = Watcher::start(&server, dir.path(), &["--interval", "1h"]);
    first.round(Duration::from_secs(20)).await;
    let second = guacsync_in(&server, dir.path(), &["watch", "manifests"], &[]).await;
    assert_eq!(second.status.code(), Some(1));
    assert!(
        stderr(&second).contains("another guacsync watch is running"),
        "{}",
        stderr(&second)
    );
    first.terminate();
    assert_eq!(first.child.wait().await.expect("exits").code(), Some(0));
    assert!(
        !dir.path().join("manifests/.guacsync-watch.lock").exists(),
        "the lock is removed at exit"
    );
}
